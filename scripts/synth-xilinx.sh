#!/usr/bin/env bash
# Area of an engine top on a 7-series part (issues 15 and 18, "Beyond the UP5K"): yosys
# synth_xilinx -family xc7 at the given parameters, then the cells counted as the part counts its
# resources, against a Zynq-7020 (xc7z020: 53,200 LUTs, 106,400 flip-flops, 220 DSP48E1,
# 140 RAMB36). Yosys maps and packs but does not place or time: the LUT, FF, DSP and BRAM counts
# are measured, a clock is not (nextpnr-xilinx is not packaged in Debian).
#   synth-xilinx.sh OUT_DIR TOP "NAME=VALUE ..." SOURCE.v...
# Writes OUT_DIR/TOP.stat (yosys stat), OUT_DIR/TOP.log and OUT_DIR/TOP.md (the table row), and
# prints the row. A large engine takes a quarter of an hour on the 2-core build machine.
set -euo pipefail
out=${1:?usage: synth-xilinx.sh OUT_DIR TOP PARAMS SOURCE.v...}
top=${2:?usage: synth-xilinx.sh OUT_DIR TOP PARAMS SOURCE.v...}
params=${3-}
shift 3
[ $# -gt 0 ] || { echo "synth-xilinx.sh: no sources given" >&2; exit 2; }
command -v yosys >/dev/null || { echo "synth-xilinx.sh: yosys not found (apt install yosys)" >&2; exit 2; }
mkdir -p "$out"
chparam=""
for p in $params; do chparam="$chparam -set ${p%%=*} ${p#*=}"; done
[ -n "$chparam" ] && chparam="chparam$chparam $top;"
echo "synth-xilinx: yosys synth_xilinx -family xc7 -top $top ($params)" >&2
t0=$SECONDS
yosys -q -l "$out/$top.log" -p "read_verilog -Irtl/common $*; $chparam synth_xilinx -family xc7 -top $top; tee -o $out/$top.stat stat" >/dev/null
secs=$((SECONDS - t0))
/usr/bin/python3 - "$out/$top.stat" "$top" "$params" "$secs" "$(yosys -V | head -n1)" <<'PY' | tee "$out/$top.md"
import re, sys
path, top, params, secs, ver = sys.argv[1:]
stat = open(path).read().split("=== design hierarchy ===")[-1]
c = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+([A-Z][A-Z0-9_]+)\s+(\d+)\s*$", stat, re.M)}
logic = sum(c.get(f"LUT{i}", 0) for i in range(1, 7))
# LUTs used as memory (distributed RAM, shift registers), as the part's LUT count includes them
lutram = 4 * (c.get("RAM32M", 0) + c.get("RAM64M", 0) + c.get("RAM128X1D", 0)) + \
    2 * (c.get("RAM32X1D", 0) + c.get("RAM64X1D", 0)) + c.get("RAM32X1S", 0) + \
    c.get("RAM64X1S", 0) + c.get("SRL16E", 0) + c.get("SRLC32E", 0)
luts = logic + lutram
ffs = sum(v for k, v in c.items() if re.fullmatch(r"FD[A-Z]*", k))
dsp = c.get("DSP48E1", 0)
bram = c.get("RAMB36E1", 0) + 0.5 * c.get("RAMB18E1", 0)
cap = {"LUT": 53200, "FF": 106400, "DSP": 220, "BRAM36": 140}
pct = lambda v, k: f"{100.0 * v / cap[k]:.0f}%"
fits = luts <= cap["LUT"] and ffs <= cap["FF"] and dsp <= cap["DSP"] and bram <= cap["BRAM36"]
print(f"| `{top}` ({params}) | {luts:,} ({pct(luts, 'LUT')}; {lutram:,} as memory) | "
      f"{ffs:,} ({pct(ffs, 'FF')}) | {dsp} ({pct(dsp, 'DSP')}) | {bram:g} ({pct(bram, 'BRAM36')}) | "
      f"{c.get('CARRY4', 0):,} | {'yes' if fits else 'no'} | {secs} s, {ver} |")
PY
