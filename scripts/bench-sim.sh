#!/usr/bin/env bash
# Benchmarks of the cycle simulator (issue 3): replays the SpAtten per8 and step1 traces on the
# `full` and `eighth` presets in --compat mode and prints a Markdown table with the commands.
# Usage: scripts/bench-sim.sh [WORKLOAD_DIR] [BUILD_DIR]
#   WORKLOAD_DIR defaults to ../shared/data/spatten-workloads (relative to the repository).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$(realpath -m "${1:-$repo/../shared/data/spatten-workloads}")
build=${2:-$repo/build}
sim=$build/bin/spk-sim
py=${PYTHON:-/usr/bin/python3}
per8=$dir/summary-gpt2-small-wikitext2-per8.csv
step1=$dir/summary-gpt2-small-wikitext2-per8-step1+dedic.csv
for f in "$per8" "$step1"; do
    [ -r "$f" ] || { echo "bench-sim: missing trace $f (pass WORKLOAD_DIR)" >&2; exit 2; }
done
[ -x "$sim" ] || { echo "bench-sim: $sim not built (make $sim)" >&2; exit 2; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cmds=()
for cfg in full eighth; do
    for t in per8 step1; do
        f=$per8
        [ "$t" = step1 ] && f=$step1
        cmd="$sim --config $cfg --trace $f --compat --json $out/$t-$cfg.json --quiet"
        cmds+=("${cmd//$out/OUT}")
        $cmd
    done
    cmd="$sim --config $cfg --trace $per8 --dense --json $out/dense-$cfg.json --quiet"
    cmds+=("${cmd//$out/OUT}")
    $cmd
done
"$py" - "$out" <<'PY'
import json, sys, os
out = sys.argv[1]
r = {(t, c): json.load(open(os.path.join(out, f"{t}-{c}.json")))
     for t in ("per8", "step1", "dense") for c in ("full", "eighth")}
print("| trace | config | cycles | bound | lower bound (max) | cycles / bound | DRAM bytes | "
      "energy (uJ) DRAM / SRAM / compute / total | speedup vs step1 | wall s | sim cycles/s |")
print("|---|---|---:|---|---:|---:|---:|---|---:|---:|---:|")
for c in ("full", "eighth"):
    for t in ("per8", "step1"):
        j = r[(t, c)]
        lb = max(j["lower_bounds"]["dram"], j["lower_bounds"]["qk"])
        e = j["energy_pj"]
        sp = r[("step1", c)]["cycles"] / j["cycles"]
        print(f"| {t} | {c} | {j['cycles']:,} | {j['bound']} | {lb:,.0f} | {j['cycles']/lb:.3f} | "
              f"{j['dram_bytes']:,} | {e['dram']/1e6:,.1f} / {e['sram']/1e6:,.1f} / "
              f"{e['compute']/1e6:,.1f} / {e['total']/1e6:,.1f} | "
              f"{sp:.2f}x | {j['sim_wall_seconds']:.4f} | {j['sim_cycles_per_second']:.3g} |")
p = r[("per8", "full")]["dram_transactions"]
print()
print(f"per8 transactions (compat): key MSB {p['key_msb']:,}, key LSB {p['key_lsb']:,}, "
      f"value {p['value']:,}, total {p['total']:,}; requant requests "
      f"{r[('per8', 'full')]['requant_requests']}")
print()
print("Ratios (per8 --compat vs per8 --dense, i.e. no pruning, 12-bit K/V):")
for c in ("full", "eighth"):
    p8, d = r[("per8", c)], r[("dense", c)]
    print(f"- {c}: speedup {d['cycles']/p8['cycles']:.2f}x, DRAM bytes "
          f"{d['dram_bytes']/p8['dram_bytes']:.2f}x, energy "
          f"{d['energy_pj']['total']/p8['energy_pj']['total']:.2f}x")
p8 = r[("per8", "full")]
base = 3.9  # pJ/bit in sim/configs/energy.cfg; DRAM energy is linear in it
print()
print("Energy sensitivity to the DRAM constant (per8, compat; DRAM share of the total):")
for pj in (3.9, 15.0, 35.0):
    e = p8["energy_pj"]
    dram = e["dram"] * pj / base
    tot = dram + e["sram"] + e["compute"]
    st = r[("step1", "full")]["energy_pj"]
    st_tot = st["dram"] * pj / base + st["sram"] + st["compute"]
    print(f"- {pj:g} pJ/bit: total {tot/1e6:,.1f} uJ, DRAM {100*dram/tot:.1f}%, "
          f"step1/per8 energy {st_tot/tot:.2f}x")
PY
echo
echo "Commands (OUT = a temporary directory):"
for c in "${cmds[@]}"; do
    c=${c//$repo\//}
    echo "    ${c//$(dirname "$repo")\//../}"
done

# Scale (issue 19): per8 concatenated x1, x4, x16, x64 (header once, the config line at the end)
# on `full --compat`: best of 3 CPU times (user + sys from GNU time: the machine is shared, CPU
# time is steadier than wall time), rows/s, simulated cycles/s and peak RSS; then 24
# configurations in one pass against 24 processes on per8 x16. SIM_BASELINE=/path/to/spk-sim
# (an older build) adds its x64 figures for the per-row speed-up.
[ -x /usr/bin/time ] || { echo "bench-sim: /usr/bin/time (GNU time) is needed for peak RSS" >&2; exit 2; }
for n in 1 4 16 64; do
    {
        head -1 "$per8"
        for _ in $(seq "$n"); do sed -n '2,$p' "$per8" | grep -v '^configs'; done
        tail -1 "$per8"
    } >"$out/per8x$n.csv"
done
echo
echo "Scale: per8 concatenated N times, \`--config full --compat\` (best of 3 runs):"
echo
echo "| binary | N | rows | CPU s | us / row | rows / s | simulated cycles / s | peak RSS (KiB) | RSS / RSS(x1) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
scale_row() { # scale_row BINARY LABEL N RSS1 -> prints a row, sets rss
    local bin=$1 label=$2 n=$3 best= w m u s
    rss=
    for _ in 1 2 3; do
        /usr/bin/time -f "%U %S %M" -o "$out/time" "$bin" --config full --compat --quiet \
            --energy "$repo/sim/configs/energy.cfg" --trace "$out/per8x$n.csv" --json "$out/scale.json"
        read -r u s m <"$out/time"
        w=$("$py" -c "import sys; print(float(sys.argv[1]) + float(sys.argv[2]))" "$u" "$s")
        if [ -z "$best" ] || "$py" -c "import sys; sys.exit(0 if float(sys.argv[1]) < float(sys.argv[2]) else 1)" "$w" "$best"; then best=$w; fi
        if [ -z "$rss" ] || [ "$m" -gt "$rss" ]; then rss=$m; fi
    done
    "$py" - "$out/scale.json" "$n" "$best" "$rss" "${4:-$rss}" "$label" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); n = int(sys.argv[2]); w = max(float(sys.argv[3]), 0.005)
rss, rss1 = int(sys.argv[4]), int(sys.argv[5])
rows = j["requests"]
print(f"| {sys.argv[6]} | x{n} | {rows:,} | {float(sys.argv[3]):.2f} | {w / rows * 1e6:.3f} | "
      f"{rows / w:,.0f} | {j['cycles'] / w:.3g} | {rss:,} | {rss / rss1:.2f} |")
PY
}
rss1=
for n in 1 4 16 64; do
    scale_row "$sim" this "$n" "$rss1"
    [ -z "$rss1" ] && rss1=$rss
done
if [ -n "${SIM_BASELINE:-}" ]; then
    scale_row "$SIM_BASELINE" baseline 1 ""
    base_rss1=$rss
    scale_row "$SIM_BASELINE" baseline 64 "$base_rss1"
fi
echo
echo "(GNU time counts CPU time in 10 ms ticks: x1 and x4 are below its resolution and are"
echo "shown with 5 ms as the floor; read the per-row cost from x16 and x64.)"
mkdir -p "$out/cfgs"
cfgs=()
for base in full eighth; do
    for ch in 1 2 3 4 5 6 7 8 9 10 11 12; do
        printf 'base = %s\nname = %s-ch%d\ndram_channels = %d\n' "$base" "$base" "$ch" "$ch" \
            >"$out/cfgs/$base-$ch.cfg"
        cfgs+=(--config "$out/cfgs/$base-$ch.cfg")
    done
done
trace16=$out/per8x16.csv
t0=$("$py" -c 'import time; print(time.monotonic())')
"$sim" "${cfgs[@]}" --compat --quiet --trace "$trace16" --json "$out/multi.json"
t1=$("$py" -c 'import time; print(time.monotonic())')
for c in "$out"/cfgs/*.cfg; do
    "$sim" --config "$c" --compat --quiet --trace "$trace16" --json "$out/single.json"
done
t2=$("$py" -c 'import time; print(time.monotonic())')
"$py" - "$t0" "$t1" "$t2" "$out/multi.json" <<'PY'
import json, sys
t0, t1, t2 = map(float, sys.argv[1:4])
recs = json.load(open(sys.argv[4]))
print()
print(f"24 configurations (full and eighth, dram_channels 1..12) on per8 x16: one pass "
      f"{t1 - t0:.2f} s, 24 processes {t2 - t1:.2f} s, speed-up {(t2 - t1) / (t1 - t0):.2f}x "
      f"({len(recs)} records)")
PY
echo
echo "Scale commands (OUT as above; per8xN.csv = per8's rows N times):"
echo "    /usr/bin/time -f '%U %S %M' build/bin/spk-sim --config full --compat --quiet --trace OUT/per8xN.csv --json OUT/scale.json"
echo "    build/bin/spk-sim --config OUT/cfgs/full-1.cfg ... --config OUT/cfgs/eighth-12.cfg --compat --quiet --trace OUT/per8x16.csv --json OUT/multi.json"
