#!/usr/bin/env bash
# A real single-node Slurm cluster on this machine, and the slurm launcher tested on it
# (docs/regressions.md, "Slurm on one machine"):
#   1. installs slurmctld slurmd slurm-client munge (Debian 12; quiet when present);
#   2. starts munged, slurmctld and slurmd with a minimal slurm.conf in a temporary directory
#      (NodeAddr=127.0.0.1, ProctrackType=proctrack/linuxproc, TaskPlugin=task/none, its own
#      ports, munge socket and state), nothing under /etc touched;
#   3. runs the sim-grid sweep (48 points: 24 simulator configurations x the 2 SpAtten-format
#      traces of tests/regress/traces) and a small regression through the slurm launcher (the
#      sweep with MaxArraySize 10, so several points per array task), and through the local one,
#      and checks the rows are equal, row for row;
#   4. checks that a job Slurm cancels is a failure carrying Slurm's state;
#   5. stops the daemons it started, by their pids.
# Needs root (daemons, packages); otherwise it skips with the reason. usage:
#   scripts/test-slurm.sh [BUILD_DIR]     (default build; spk-sim and rtl-datapath must be built)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
PY=/usr/bin/python3
say() { echo "test-slurm: $*"; }

if [ "$(id -u)" -ne 0 ]; then
    say "SKIPPED: needs root to install Slurm and start munged/slurmctld/slurmd (run as root, e.g. from .ci/run)"
    exit 0
fi
for b in spk-sim rtl-datapath; do
    if [ ! -x "$BUILD/bin/$b" ]; then
        say "$BUILD/bin/$b missing: make BUILD=$BUILD $BUILD/bin/$b first (make test-slurm does)"
        exit 2
    fi
done

pkgs=(slurmctld slurmd slurm-client munge)
missing=()
for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get install -y -qq "${missing[@]}" >/tmp/spk-test-slurm-apt.log 2>&1; then
        apt-get update -qq >>/tmp/spk-test-slurm-apt.log 2>&1
        apt-get install -y -qq "${missing[@]}" >>/tmp/spk-test-slurm-apt.log 2>&1 || {
            say "FAILED: apt-get install ${missing[*]} (log /tmp/spk-test-slurm-apt.log)"
            exit 1
        }
    fi
fi

T=$(mktemp -d /tmp/spk-slurm.XXXXXX)
chmod 755 "$T"
pids=()
cleanup() {
    local p
    for p in "${pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null
    done
    [ -n "${KEEP_SLURM_DIR:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
fail() {
    say "FAILED: $*"
    for f in "$T"/log/*.log; do
        echo "--- $f"
        tail -n 15 "$f"
    done
    exit 1
}

mkdir -p "$T/log" "$T/state" "$T/spool" "$T/munge"
# munge: its own key, socket and pid file (the system's munged, if any, is left alone)
dd if=/dev/urandom of="$T/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$T/munge/munge.key"
chmod 700 "$T/munge"
munged --force --foreground --key-file="$T/munge/munge.key" --socket="$T/munge/munge.sock" \
    --pid-file="$T/munge/munged.pid" --log-file="$T/log/munged.log" \
    --seed-file="$T/munge/seed" >"$T/log/munged.out.log" 2>&1 &
pids+=($!)

# free ports for slurmctld and slurmd
read -r cport dport < <($PY -c '
import socket
s=[socket.socket() for _ in range(2)]
[x.bind(("127.0.0.1",0)) for x in s]
print(*[x.getsockname()[1] for x in s])')
host=$(hostname -s)
cpus=$(nproc)
cat >"$T/slurm.conf" <<EOF
ClusterName=spk-test
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$cport
SlurmdPort=$dport
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$T/munge/munge.sock
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
SlurmctldLogFile=$T/log/slurmctld.log
SlurmdLogFile=$T/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
MinJobAge=3600
MaxArraySize=1001
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName=spk-node NodeAddr=127.0.0.1 NodeHostname=$host CPUs=$cpus State=UNKNOWN
PartitionName=spk Nodes=spk-node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$T/slurm.conf
for _ in $(seq 50); do [ -S "$T/munge/munge.sock" ] && break; sleep 0.1; done
[ -S "$T/munge/munge.sock" ] || fail "munged did not start"
slurmctld -D -i -f "$SLURM_CONF" >"$T/log/slurmctld.out.log" 2>&1 &
pids+=($!)
slurmd -D -N spk-node -f "$SLURM_CONF" >"$T/log/slurmd.out.log" 2>&1 &
pids+=($!)
up=0
for _ in $(seq 100); do
    if sinfo -h -N -o '%T' 2>/dev/null | grep -qE '^idle'; then
        up=1
        break
    fi
    sleep 0.3
done
((up)) || fail "the node did not become idle: $(sinfo -N 2>&1 | tail -n 2)"
say "cluster up: slurmctld pid ${pids[1]}, slurmd pid ${pids[2]}, munged pid ${pids[0]} ($T)"

ok=1
# --- the sweep: local and slurm, row for row
SW=tests/regress/sweeps/sim-grid.json
$PY scripts/spk-sweep $SW --build "$BUILD" --no-build --no-plots -j 2 --results "$T/sw-local" \
    >"$T/log/sweep-local.log" 2>&1 || fail "local sweep failed (log $T/log/sweep-local.log)"
$PY scripts/spk-sweep $SW --build "$BUILD" --no-build --no-plots --launcher slurm -j 2 \
    --max-array 10 --results "$T/sw-slurm" >"$T/log/sweep-slurm.log" 2>&1 ||
    { tail -n 20 "$T/log/sweep-slurm.log"; fail "slurm sweep failed"; }
grep -E '^\[sim-grid\] slurm array job' "$T/log/sweep-slurm.log"
n=$(wc -l <"$T/sw-local/rows.jsonl")
if cmp -s "$T/sw-local/rows.jsonl" "$T/sw-slurm/rows.jsonl" && [ "$n" -ge 48 ]; then
    say "sweep: $n rows, identical through local and slurm"
else
    diff "$T/sw-local/rows.jsonl" "$T/sw-slurm/rows.jsonl" | head -n 10
    say "FAILED: sweep rows differ between local and slurm ($n local rows)"
    ok=0
fi

# --- a small regression: the replays and two RTL harnesses, fixed seeds, both launchers
REG=(--test replay-synth-gpt2-per8-full --test replay-synth-gpt2-step1-eighth
    --test rtl-datapath-qk --test rtl-datapath-softmax --fixed-seed --build "$BUILD" --no-build)
$PY scripts/spk-regress "${REG[@]}" -j 2 --results "$T/reg-local" >"$T/log/reg-local.log" 2>&1 ||
    fail "local regression failed (log $T/log/reg-local.log)"
$PY scripts/spk-regress "${REG[@]}" --launcher slurm --results "$T/reg-slurm" \
    >"$T/log/reg-slurm.log" 2>&1 || { tail -n 20 "$T/log/reg-slurm.log"; fail "slurm regression failed"; }
rows() { $PY -c '
import json,sys
for l in open(sys.argv[1]):
    r=json.loads(l); print(r["index"], r["name"], r["seed"], r["status"], r["exit_code"])' "$1"; }
if [ "$(rows "$T/reg-local/results.jsonl")" = "$(rows "$T/reg-slurm/results.jsonl")" ]; then
    say "regression: $(wc -l <"$T/reg-slurm/results.jsonl") jobs, same names, seeds, statuses and exit codes; $(tail -n1 "$T/log/reg-slurm.log")"
else
    diff <(rows "$T/reg-local/results.jsonl") <(rows "$T/reg-slurm/results.jsonl")
    say "FAILED: regression results differ between local and slurm"
    ok=0
fi
$PY scripts/regress/junit.py "$T/reg-slurm/junit.xml" || { say "FAILED: slurm JUnit invalid"; ok=0; }

# --- a job that Slurm kills: a sleeper cancelled while it runs is 'killed' with Slurm's state
cat >"$T/kill-tests.json" <<'EOF'
{"tests": [{"name": "sleeper", "command": ["sleep", "60"], "timeout": 120}]}
EOF
echo '{"regressions": {}}' >"$T/kill-regs.json"
$PY scripts/spk-regress --tests "$T/kill-tests.json" --regressions "$T/kill-regs.json" \
    --test sleeper --no-build --launcher slurm --results "$T/kill" >"$T/log/kill.log" 2>&1 &
spk_pid=$!
cancelled=0
for _ in $(seq 100); do
    id=$(squeue -h -t RUNNING -n spk-tests -o '%i' 2>/dev/null | head -n1)
    if [ -n "$id" ]; then
        scancel "$id" && cancelled=1
        break
    fi
    sleep 0.2
done
wait $spk_pid
rc=$?
if ((cancelled)) && [ $rc -ne 0 ] && grep -q '"status": "killed"' "$T/kill/results.jsonl" &&
    grep -q 'CANCELLED' "$T/kill/results.jsonl"; then
    say "killed job: exit $rc, $(grep -o 'slurm: array task [^"]*' "$T/kill/results.jsonl")"
else
    cat "$T/log/kill.log"
    say "FAILED: the cancelled job is not a failure with Slurm's reason (cancelled=$cancelled rc=$rc)"
    ok=0
fi

((ok)) || fail "see above"
say "passed"
