#!/usr/bin/env bash
# iCE40 UP5K build of the RTL: yosys synth_ice40 -> nextpnr-ice40 -> icepack -> icetime, with a
# report of logic cells, DSPs, EBR, SPRAM and Fmax (nextpnr's JSON report and icetime).
#   scripts/synth-ice40.sh OUT_DIR [TOP]
# TOP is one of
#   spk_engine_ice40_top   the whole engine in its compact microarchitecture (spk_engine_compact,
#                          DMAX=64 NMAX=128, 256 token accumulators) with its memory in the
#                          SPRAMs and a serial host port (the default);
#   spk_topk_ice40_top     the top-k engine alone (W=16 NMAX=1024 P=4) behind a shift register;
#   spk_softmax_ice40_top  the softmax alone (NMAX=1024);
#   blocks                 yosys only: each engine block on its own at the engine build's
#                          parameters, one table of cells (OUT_DIR/blocks/report.md).
# Results land in OUT_DIR/<top>/; the summary is OUT_DIR/<top>/report.md. Clock target: 25 MHz
# (SYNTH_FREQ_MHZ overrides). A design that does not fit the UP5K still gets a report (yosys's
# cell counts and nextpnr's reason) and exit status 0; a tool failure exits 1.
set -euo pipefail

out=${1:?usage: synth-ice40.sh OUT_DIR [TOP]}
top=${2:-spk_engine_ice40_top}
freq=${SYNTH_FREQ_MHZ:-25}
root=$(cd "$(dirname "$0")/.." && pwd)

common=(rtl/common/spk_ram_1r1w.v)
compact=(rtl/importance/spk_importance.v rtl/qk/spk_plane_merge.v rtl/engine/spk_axi_word_reader.v
    rtl/engine/spk_mul32.v rtl/engine/spk_desc_check.v rtl/engine/spk_engine_compact.v)
topk=(rtl/topk/spk_topk_append.v rtl/topk/spk_topk.v)
softmax=(rtl/softmax/spk_softmax_exp.v rtl/softmax/spk_requant.v rtl/softmax/spk_softmax.v)
# `blocks`: yosys only, each engine block on its own at the UP5K build's parameters, one table
# (where the engine's logic cells go; the blocks' ports do not fit the package, so no nextpnr).
if [ "$top" = blocks ]; then
    dir="$out/blocks"
    rm -rf "$dir"
    mkdir -p "$dir"
    cd "$root"
    blocks=(
        "spk_topk|-set W 17 -set NMAX 128 -set P 4|${common[*]} ${topk[*]}"
        "spk_softmax|-set NMAX 128|${common[*]} ${softmax[*]}"
        "spk_qk|-set DMAX 64 -set M 2|rtl/qk/spk_plane_merge.v rtl/qk/spk_logit.v rtl/qk/spk_qk.v"
        "spk_logit||rtl/qk/spk_logit.v"
        "spk_pv|-set DMAX 64 -set M 2|${common[*]} rtl/pv/spk_pv.v"
        "spk_kv_fetch|-set DMAX 64 -set M 2|rtl/fetch/spk_kv_fetch.v"
        "spk_importance|-set N 256|${common[*]} rtl/importance/spk_importance.v"
        "spk_axi_spram||rtl/fpga/spk_axi_spram.v"
        "spk_engine_compact|-set DMAX 64 -set NMAX 128 -set QDEPTH 0 -set NTOK 256 -set ABITS 17 -set BUSW 64|${common[*]} ${compact[*]}"
    )
    for b in "${blocks[@]}"; do
        IFS='|' read -r name params files <<<"$b"
        echo "synth: yosys synth_ice40 ($name $params)"
        t0=$SECONDS
        chparam=""
        [ -n "$params" ] && chparam="chparam $params $name;"
        yosys -q -l "$dir/$name.log" -p "read_verilog -I$root/rtl/common $files; $chparam \
            synth_ice40 -dsp -spram -top $name; tee -o $dir/$name.stat stat"
        echo "$name $((SECONDS - t0)) ${params// /_}" >>"$dir/times.txt"
    done
    /usr/bin/python3 - "$dir" <<'PY'
import re, sys
d = sys.argv[1]
rows = ["# iCE40 UP5K: the engine's blocks synthesized on their own (yosys only)", "",
        "Cells after `yosys synth_ice40 -dsp -spram` of each block at the UP5K build's parameters "
        "(a UP5K has 5280 LCs of one LUT4 + one FF each, 30 EBR, 4 SPRAM, 8 DSP).", "",
        "| block | parameters | SB_LUT4 | flip-flops | SB_CARRY | EBR | SPRAM | DSP | yosys s |",
        "|---|---|---|---|---|---|---|---|---|"]
for line in open(f"{d}/times.txt"):
    name, secs, params = (line.split() + [""])[:3]
    stat = open(f"{d}/{name}.stat").read()
    c = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(SB_\w+)\s+(\d+)", stat, re.M)}
    ffs = sum(v for k, v in c.items() if k.startswith("SB_DFF"))
    t = params.split("_")  # -set_NAME_VALUE_-set_...
    p = ", ".join(f"{t[i + 1]}={t[i + 2]}" for i in range(0, len(t) - 2, 3) if t[i] == "-set")
    rows.append(f"| `{name}` | {p or 'defaults'} | {c.get('SB_LUT4', 0)} | {ffs} | "
                f"{c.get('SB_CARRY', 0)} | {c.get('SB_RAM40_4K', 0)} | {c.get('SB_SPRAM256KA', 0)} | "
                f"{c.get('SB_MAC16', 0)} | {secs} |")
open(f"{d}/report.md", "w").write("\n".join(rows) + "\n")
print("\n".join(rows))
PY
    exit 0
fi

case "$top" in
spk_engine_ice40_top)
    srcs=("${common[@]}" "${compact[@]}" rtl/fpga/spk_axi_spram.v rtl/fpga/spk_engine_ice40_top.v)
    ;;
spk_topk_ice40_top)
    srcs=("${common[@]}" "${topk[@]}" rtl/fpga/spk_topk_ice40_top.v)
    ;;
spk_softmax_ice40_top)
    srcs=("${common[@]}" "${softmax[@]}" rtl/fpga/spk_softmax_ice40_top.v)
    ;;
*)
    echo "synth-ice40.sh: unknown top '$top' (known: spk_engine_ice40_top, spk_topk_ice40_top," \
        "spk_softmax_ice40_top)" >&2
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
rm -rf "$dir"
mkdir -p "$dir"
cd "$root"
srcs_abs=()
for s in "${srcs[@]}"; do srcs_abs+=("$root/$s"); done

echo "synth: yosys synth_ice40 ($top)"
t0=$SECONDS
flow="synth_ice40 -dsp -spram -top $top -json $dir/$top.json"
yosys -q -l "$dir/yosys.log" -p "read_verilog -I$root/rtl/common ${srcs_abs[*]}; $flow; \
    tee -o $dir/yosys-stat.txt stat"
echo "yosys $((SECONDS - t0))" >"$dir/times.txt"
echo "synth: nextpnr-ice40 --up5k (target ${freq} MHz)"
t0=$SECONDS
placed=1
nextpnr-ice40 --up5k --package sg48 --json "$dir/$top.json" --asc "$dir/$top.asc" \
    --freq "$freq" --report "$dir/nextpnr-report.json" --pcf-allow-unconstrained \
    --seed 1 -q -l "$dir/nextpnr.log" || placed=0
echo "nextpnr $((SECONDS - t0))" >>"$dir/times.txt"
if [ "$placed" = 1 ]; then
    echo "synth: icepack"
    icepack "$dir/$top.asc" "$dir/$top.bin"
    echo "synth: icetime"
    icetime -d up5k -P sg48 -t -r "$dir/icetime.txt" "$dir/$top.asc" >/dev/null
elif ! grep -q "Unable to place cell\|uses [0-9]* .* but .* only\|Design uses\|too many" \
    "$dir/nextpnr.log"; then
    echo "synth-ice40.sh: nextpnr-ice40 failed (see $dir/nextpnr.log)" >&2
    tail -n 5 "$dir/nextpnr.log" >&2
    exit 1
fi

/usr/bin/python3 - "$dir" "$top" "$freq" "$placed" <<'PY'
import json, os, re, subprocess, sys
d, top, freq, placed = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
times = dict(l.split() for l in open(f"{d}/times.txt"))
def ver(cmd):
    try:
        r = subprocess.run(cmd, capture_output=True, text=True)
        return (r.stdout + r.stderr).strip().splitlines()[0]
    except Exception as e:  # a missing tool is already reported by the shell part
        return f"unknown ({e})"
# yosys's cell counts of the top (the last "Number of cells" block of stat is the design total)
stat = open(f"{d}/yosys-stat.txt").read()
total = stat.split("=== design hierarchy ===")[-1]
cells = {m.group(1): int(m.group(2)) for m in re.finditer(r"^\s+(SB_\w+)\s+(\d+)", total, re.M)}
ffs = sum(v for k, v in cells.items() if k.startswith("SB_DFF"))
lines = [
    f"# iCE40 UP5K build of `{top}`",
    "",
    f"Tools: {ver(['yosys', '-V'])}; {ver(['nextpnr-ice40', '--version'])}; icestorm (icepack, icetime).",
    f"Flow: `yosys synth_ice40 -dsp -spram`, `nextpnr-ice40 --up5k --package sg48 --freq {freq} --seed 1`, icepack, `icetime -d up5k`.",
    f"Run time: yosys {times['yosys']} s, nextpnr {times['nextpnr']} s.",
    "",
]
if placed:
    rep = json.load(open(f"{d}/nextpnr-report.json"))
    util = rep.get("utilization", {})
    lines += ["| resource | used | available |", "|---|---|---|"]
    for kind, name in [("ICESTORM_LC", "logic cells (LC)"), ("ICESTORM_DSP", "DSP (MAC16)"),
                       ("ICESTORM_RAM", "EBR (4 kbit)"), ("ICESTORM_SPRAM", "SPRAM (256 kbit)"),
                       ("SB_IO", "I/O")]:
        u = util.get(kind, {})
        lines.append(f"| {name} | {u.get('used', 0)} | {u.get('available', 0)} |")
    lines.append("")
    # nextpnr also reports its constant-driver pseudo nets ($PACKER_GND_NET ...): not clocks.
    for clk, v in rep.get("fmax", {}).items():
        if not clk.startswith("$"):
            lines.append(f"- nextpnr Fmax ({clk}): {v.get('achieved', 0.0):.2f} MHz (target {freq} MHz)")
    m = re.search(r"Total path delay: ([0-9.]+) ns \(([0-9.]+) MHz\)", open(f"{d}/icetime.txt").read())
    if m:
        lines.append(f"- icetime worst path: {float(m.group(1)):.2f} ns ({float(m.group(2)):.2f} MHz)")
    lines.append(f"- bitstream: `{d}/{top}.bin`")
else:
    log = open(f"{d}/nextpnr.log").read().splitlines()
    why = [l.strip() for l in log if l.startswith("ERROR")][:3]
    lines += ["**Does not fit the UP5K**: nextpnr stopped before placement, so there is no "
              "bitstream and no Fmax. nextpnr says: " + " / ".join(f"`{w}`" for w in why), ""]
    # nextpnr's packer prints the utilisation before it gives up
    util = re.findall(r"(ICESTORM_LC|ICESTORM_DSP|ICESTORM_RAM|ICESTORM_SPRAM|SB_IO):\s+(\d+)/\s*(\d+)",
                      "\n".join(log))
    if util:
        lines += ["| resource (packed) | used | available |", "|---|---|---|"]
        lines += [f"| {k} | {u} | {a} |" for k, u, a in dict((k, (k, u, a)) for k, u, a in util).values()]
lines += ["", "yosys cells (after `synth_ice40`; an LC holds one LUT4 and one FF):", "",
          "| cell | count |", "|---|---|",
          f"| SB_LUT4 | {cells.get('SB_LUT4', 0)} |", f"| flip-flops (SB_DFF*) | {ffs} |",
          f"| SB_CARRY | {cells.get('SB_CARRY', 0)} |",
          f"| SB_RAM40_4K (EBR) | {cells.get('SB_RAM40_4K', 0)} |",
          f"| SB_SPRAM256KA | {cells.get('SB_SPRAM256KA', 0)} |",
          f"| SB_MAC16 (DSP) | {cells.get('SB_MAC16', 0)} |"]
open(f"{d}/report.md", "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
