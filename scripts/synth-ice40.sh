#!/usr/bin/env bash
# iCE40 UP5K build of the RTL: yosys synth_ice40 -> nextpnr-ice40 -> icepack -> icetime, with a
# report of logic cells, DSPs, EBR, SPRAM and Fmax (nextpnr's JSON report and icetime).
#   scripts/synth-ice40.sh OUT_DIR [TOP]
# TOP defaults to spk_topk_ice40_top (the top-k engine behind a pin-limited shift-register
# wrapper, W=16 NMAX=1024 P=4); spk_softmax_ice40_top is the softmax (NMAX=1024). Results land in OUT_DIR/<top>/; the summary is
# OUT_DIR/<top>/report.md. Clock target: 25 MHz (SYNTH_FREQ_MHZ overrides).
set -euo pipefail

out=${1:?usage: synth-ice40.sh OUT_DIR [TOP]}
top=${2:-spk_topk_ice40_top}
freq=${SYNTH_FREQ_MHZ:-25}
root=$(cd "$(dirname "$0")/.." && pwd)

case "$top" in
spk_topk_ice40_top)
    srcs=(rtl/common/spk_ram_1r1w.v rtl/topk/spk_topk_append.v rtl/topk/spk_topk.v
        rtl/fpga/spk_topk_ice40_top.v)
    ;;
spk_softmax_ice40_top)
    srcs=(rtl/common/spk_ram_1r1w.v rtl/softmax/spk_softmax_exp.v rtl/softmax/spk_requant.v
        rtl/softmax/spk_softmax.v rtl/fpga/spk_softmax_ice40_top.v)
    ;;
*)
    echo "synth-ice40.sh: unknown top '$top' (known: spk_topk_ice40_top, spk_softmax_ice40_top)" >&2
    exit 2
    ;;
esac

for tool in yosys nextpnr-ice40 icepack icetime; do
    command -v "$tool" >/dev/null || {
        echo "synth-ice40.sh: '$tool' not found (apt install yosys nextpnr-ice40 fpga-icestorm)" >&2
        exit 2
    }
done

dir="$out/$top"
mkdir -p "$dir"
cd "$root"
srcs_abs=()
for s in "${srcs[@]}"; do srcs_abs+=("$root/$s"); done

echo "synth: yosys synth_ice40 ($top)"
yosys -q -l "$dir/yosys.log" -p "read_verilog -I$root/rtl/common ${srcs_abs[*]}; \
    synth_ice40 -dsp -spram -top $top -json $dir/$top.json; \
    tee -o $dir/yosys-stat.txt stat"
echo "synth: nextpnr-ice40 --up5k (target ${freq} MHz)"
nextpnr-ice40 --up5k --package sg48 --json "$dir/$top.json" --asc "$dir/$top.asc" \
    --freq "$freq" --report "$dir/nextpnr-report.json" --pcf-allow-unconstrained \
    --seed 1 -q -l "$dir/nextpnr.log"
echo "synth: icepack"
icepack "$dir/$top.asc" "$dir/$top.bin"
echo "synth: icetime"
icetime -d up5k -P sg48 -t -r "$dir/icetime.txt" "$dir/$top.asc" >/dev/null

/usr/bin/python3 - "$dir" "$top" "$freq" <<'PY'
import json, re, subprocess, sys
d, top, freq = sys.argv[1], sys.argv[2], sys.argv[3]
rep = json.load(open(f"{d}/nextpnr-report.json"))
util = rep.get("utilization", {})
def used(kind):
    u = util.get(kind, {})
    return u.get("used", 0), u.get("available", 0)
# nextpnr also reports its constant-driver pseudo nets ($PACKER_GND_NET ...): not clocks.
fmax = {k: v.get("achieved", 0.0) for k, v in rep.get("fmax", {}).items() if not k.startswith("$")}
icetime = open(f"{d}/icetime.txt").read()
m = re.search(r"Total path delay: ([0-9.]+) ns \(([0-9.]+) MHz\)", icetime)
ice_ns, ice_mhz = (float(m.group(1)), float(m.group(2))) if m else (None, None)
def ver(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception as e:  # a missing tool is already reported by the shell part
        return f"unknown ({e})"
lines = [
    f"# iCE40 UP5K build of `{top}`",
    "",
    f"Tools: {ver(['yosys', '-V'])}; {ver(['nextpnr-ice40', '--version'])}; icestorm (icepack, icetime).",
    f"Flow: `yosys synth_ice40 -dsp -spram`, `nextpnr-ice40 --up5k --package sg48 --freq {freq} --seed 1`, icepack, `icetime -d up5k`.",
    "",
    "| resource | used | available |",
    "|---|---|---|",
]
for kind, name in [("ICESTORM_LC", "logic cells (LC)"), ("ICESTORM_DSP", "DSP (MAC16)"),
                   ("ICESTORM_RAM", "EBR (4 kbit)"), ("ICESTORM_SPRAM", "SPRAM (256 kbit)"),
                   ("SB_IO", "I/O")]:
    u, a = used(kind)
    lines.append(f"| {name} | {u} | {a} |")
lines.append("")
for clk, mhz in fmax.items():
    lines.append(f"- nextpnr Fmax ({clk}): {mhz:.2f} MHz (target {freq} MHz)")
if ice_mhz:
    lines.append(f"- icetime worst path: {ice_ns:.2f} ns ({ice_mhz:.2f} MHz)")
lines.append(f"- bitstream: `{d}/{top}.bin`")
open(f"{d}/report.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
