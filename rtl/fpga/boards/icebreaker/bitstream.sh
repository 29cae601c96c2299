#!/usr/bin/env bash
# The iCEBreaker bitstream (docs/fpga.md, "Building the bitstream"): yosys synth_ice40 ->
# nextpnr-ice40 --up5k --package sg48 with the board's PCF (no --pcf-allow-unconstrained), once
# per placement seed, one after the other -> icepack of the seed with the highest Fmax; icetime
# of every seed. Writes OUT_DIR/report.txt (and report.md, the same as a table).
#   bitstream.sh OUT_DIR "SEEDS" SOURCE.v...
# Exit 0 with a bitstream that meets the clock on at least one seed; 1 when the design does not
# fit or misses the clock on every seed (the report says which); 2 when a tool is missing.
set -euo pipefail
out=${1:?usage: bitstream.sh OUT_DIR SEEDS SOURCE.v...}
seeds=${2:?usage: bitstream.sh OUT_DIR SEEDS SOURCE.v...}
shift 2
root=$(cd "$(dirname "$0")/../../../.." && pwd)
board=$root/rtl/fpga/boards/icebreaker
top=spk_icebreaker_top
freq=${BOARD_FREQ_MHZ:-25.125}  # the PLL's output (icepll -i 12 -o 25)
# BOARD_PARAMS="NAME=VALUE ...": override the top's parameters (experiments; the default build
# takes board_map.vh's values)
chparam=""
for p in ${BOARD_PARAMS:-}; do chparam="$chparam -set ${p%%=*} ${p#*=}"; done
[ -n "$chparam" ] && chparam="chparam$chparam $top;"
for tool in yosys nextpnr-ice40 icepack icetime; do
    command -v "$tool" >/dev/null || {
        echo "bitstream.sh: '$tool' not found (apt install yosys nextpnr-ice40 fpga-icestorm)" >&2
        exit 2
    }
done
[ $# -gt 0 ] || { echo "bitstream.sh: no sources given" >&2; exit 2; }
mkdir -p "$out"
rm -f "$out"/seed-*.* "$out"/report.* "$out/$top.bin"
srcs=()
for s in "$@"; do srcs+=("$root/$s"); done

echo "bitstream: yosys synth_ice40 ($top)"
t0=$SECONDS
yosys -q -l "$out/yosys.log" -p "read_verilog -I$root/rtl/common -I$root/rtl/regs -I$board \
    ${srcs[*]}; $chparam synth_ice40 -dsp -spram -top $top -json $out/$top.json; tee -o $out/yosys-stat.txt stat"
echo "yosys $((SECONDS - t0))" >"$out/times.txt"
for seed in $seeds; do
    echo "bitstream: nextpnr-ice40 --up5k --package sg48 --pcf icebreaker.pcf --seed $seed (target $freq MHz)"
    t0=$SECONDS
    ok=1
    nextpnr-ice40 --up5k --package sg48 --pcf "$board/icebreaker.pcf" --json "$out/$top.json" \
        --asc "$out/seed-$seed.asc" --freq "$freq" --seed "$seed" \
        --report "$out/seed-$seed.json" -q -l "$out/seed-$seed.log" || ok=0
    echo "nextpnr-$seed $((SECONDS - t0)) $ok" >>"$out/times.txt"
    if [ $ok = 1 ]; then
        icetime -d up5k -P sg48 -p "$board/icebreaker.pcf" -t -r "$out/seed-$seed.icetime" \
            "$out/seed-$seed.asc" >/dev/null || true
    elif ! grep -qi "unable to place\|failed to\|too many\|not enough\|utilisation\|utilization" "$out/seed-$seed.log"; then
        echo "bitstream.sh: nextpnr-ice40 failed (see $out/seed-$seed.log)" >&2
        tail -n 5 "$out/seed-$seed.log" >&2
        exit 1
    else
        break  # it does not fit: another seed will not change that
    fi
done

/usr/bin/python3 - "$out" "$top" "$freq" "$seeds" <<'PY'
import json, os, re, subprocess, sys
d, top, freq, seeds = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4].split()
times = {}
for line in open(f"{d}/times.txt"):
    k, *v = line.split()
    times[k] = v
def ver(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception as e:
        return f"unknown ({e})"
stat = open(f"{d}/yosys-stat.txt").read().split("=== design hierarchy ===")[-1]
cells = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(SB_\w+)\s+(\d+)", stat, re.M)}
ffs = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
L = [f"# iCEBreaker bitstream of `{top}`", "",
     f"Tools: {ver(['yosys', '-V'])}; {ver(['nextpnr-ice40', '--version'])}; icestorm (icepack, icetime).",
     (f"Parameters: `{os.environ['BOARD_PARAMS']}` (BOARD_PARAMS)." if os.environ.get("BOARD_PARAMS") else "Parameters: board_map.json's."),
     f"Flow: `yosys synth_ice40 -dsp -spram`; `nextpnr-ice40 --up5k --package sg48 --pcf icebreaker.pcf --freq {freq}` per seed; icepack; `icetime -d up5k -P sg48`.",
     f"yosys {times['yosys'][0]} s.", "",
     f"yosys cells: {cells.get('SB_LUT4', 0)} SB_LUT4, {ffs} flip-flops, {cells.get('SB_CARRY', 0)} SB_CARRY, "
     f"{cells.get('SB_RAM40_4K', 0)} SB_RAM40_4K, {cells.get('SB_SPRAM256KA', 0)} SB_SPRAM256KA, "
     f"{cells.get('SB_MAC16', 0)} SB_MAC16, {cells.get('SB_PLL40_PAD', 0)} SB_PLL40_PAD.", ""]
rows, best, fit = [], None, True
for s in seeds:
    t = times.get(f"nextpnr-{s}")
    if not t:
        continue
    if t[1] != "1":
        fit = False
        log = open(f"{d}/seed-{s}.log").read()
        why = [l.strip() for l in log.splitlines() if "ERROR" in l][:2]
        util = re.findall(r"(ICESTORM_LC|ICESTORM_RAM|ICESTORM_SPRAM|ICESTORM_DSP|SB_IO):\s+(\d+)/\s*(\d+)", log)
        L.append(f"**Seed {s}: does not fit the UP5K** (nextpnr: {' / '.join(why)}).")
        for k, u, a in dict((k, (k, u, a)) for k, u, a in util).values():
            L.append(f"- {k}: {u} of {a}")
        continue
    rep = json.load(open(f"{d}/seed-{s}.json"))
    util = rep.get("utilization", {})
    fmax = [v.get("achieved", 0.0) for c, v in rep.get("fmax", {}).items() if not c.startswith("$")]
    fmax = min(fmax) if fmax else 0.0
    it = open(f"{d}/seed-{s}.icetime").read() if os.path.exists(f"{d}/seed-{s}.icetime") else ""
    m = re.search(r"Total path delay: ([0-9.]+) ns \(([0-9.]+) MHz\)", it)
    itf = float(m.group(2)) if m else 0.0
    rows.append((s, util, fmax, itf, t[0]))
    if best is None or fmax > best[2]:
        best = (s, util, fmax, itf)
if rows:
    u = rows[0][1]
    L += ["| resource | used | available |", "|---|---|---|"]
    for kind, name in [("ICESTORM_LC", "logic cells (LC)"), ("ICESTORM_RAM", "EBR (4 kbit)"),
                       ("ICESTORM_SPRAM", "SPRAM (256 kbit)"), ("ICESTORM_DSP", "DSP (MAC16)"),
                       ("ICESTORM_PLL", "PLL"), ("SB_IO", "I/O")]:
        v = u.get(kind, {})
        L.append(f"| {name} | {v.get('used', 0)} | {v.get('available', 0)} |")
    L += ["", f"| seed | nextpnr Fmax (MHz) | icetime (MHz) | meets {freq} MHz | nextpnr s |",
          "|---|---|---|---|---|"]
    for s, util, fmax, itf, secs in rows:
        L.append(f"| {s} | {fmax:.2f} | {itf:.2f} | {'yes' if fmax >= freq and itf >= freq else 'no'} | {secs} |")
    L.append("")
ok = best is not None and best[2] >= freq
if ok:
    os.replace(f"{d}/seed-{best[0]}.asc", f"{d}/{top}.asc")
    L.append(f"Bitstream: `{d}/{top}.bin` (seed {best[0]}, nextpnr Fmax {best[2]:.2f} MHz).")
elif fit:
    L.append(f"**No seed meets {freq} MHz**: no bitstream.")
open(f"{d}/report.txt", "w").write("\n".join(L) + "\n")
open(f"{d}/report.md", "w").write("\n".join(L) + "\n")
print("\n".join(L))
sys.exit(0 if ok else 1)
PY
rc=$?
if [ $rc = 0 ]; then
    icepack "$out/$top.asc" "$out/$top.bin"
    echo "bitstream: $out/$top.bin"
fi
exit $rc
