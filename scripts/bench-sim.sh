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
