#!/usr/bin/env bash
# Title: RTL: engine cycles against the cycle simulator, the engines side by side, iCE40 UP5K build (make synth), the iCEBreaker bitstream, 7-series area
# First times 1,000 random head requests per seed on the Verilated engine against the cycle
# simulator (`rtl-engine --memory cycles`: its serial `rtl-engine` preset and the overlapped
# pipeline), then the same 1,000 requests on spk_engine and spk_engine_compact (cycles, all
# checked bit for bit), then the overlapped engine against its preset on five seeds and in pairs, per8
# through the presets, and the two full engines' area on a 7-series part (make synth-xilinx).
# Then runs the iCE40 flow of the RTL (`make synth`: yosys, nextpnr-ice40, icepack, icetime, for
# the top-k engine, the softmax and the whole engine (compact) with its on-chip memory; then
# `make synth-blocks`: yosys cell counts of each engine block) and prints every report
# (resources, Fmax or why it does not fit, run times, tool versions) for docs/benchmarks.md;
# last the iCEBreaker bitstream (make bitstream BOARD=icebreaker: the engine with the UART
# bridge, 3 placement seeds, about 15 minutes). Takes about 1.5 hours on the 2-core build
# machine (synth_xilinx is most of it: the overlapped engine alone took 43 minutes).
# Usage: scripts/bench-rtl.sh [SHARED_DATA_DIR]   (for the per8 trace)
# SPK_BENCH_RTL_SKIP_SYNTH=1: stop after the per8 replay (the cycle sections, a few minutes).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
make --no-print-directory -j"$(nproc)" build/bin/rtl-engine >/tmp/spk-bench-rtl.log 2>&1 || {
    tail -n 30 /tmp/spk-bench-rtl.log
    exit 1
}
echo "### Engine cycles against the cycle simulator"
echo
echo "Fixed-latency memory (8 cycles), bursts of one request; every output also checked bit for bit."
echo
for seed in 3 11 777; do
    echo '```'
    build/bin/rtl-engine --memory cycles --seed "$seed" --cases 1000 | grep -v '^case '
    echo '```'
done
echo "### spk_engine and spk_engine_compact on the same requests"
echo
echo "Stalling memory (latency 8, random AR/R stalls), bursts of 1..7 requests, seed 1234."
echo
echo '```'
for engine in full compact; do
    build/bin/rtl-engine --engine "$engine" --seed 1234 --cases 1000
done
echo '```'
echo "### The overlapped engine (spk_engine_ovl) against its preset and the cycle simulator"
echo
echo "The same 1,000 requests per seed as above (and two more seeds) on \`spk_engine_ovl\`, against"
echo "the preset file \`sim/configs/rtl-ovl.cfg\` (docs/simulator.md, \"Preset rtl-ovl\") and \`eighth\`"
echo "with the RTL's units; the last line of each run is the Verilated engine's speed."
echo
for seed in 3 11 777 12345 2024; do
    echo '```'
    build/bin/rtl-engine --engine ovl --memory cycles --seed "$seed" --cases 1000 | grep -v '^case '
    echo '```'
done
echo
echo "### Two requests in flight (spk_engine_ovl's tail beside the next request's front)"
echo
echo "\`rtl-engine --engine ovl --memory cycles --pairs\`: 500 pairs a seed, each request alone and"
echo "then the pair back to back, against the preset's pair predictions (its \`tail_overlap\`)."
echo
for seed in 3 777; do
    echo '```'
    build/bin/rtl-engine --engine ovl --memory cycles --pairs --seed "$seed" --cases 1000
    echo '```'
done
trace=${1:-$repo/../shared/data}/spatten-workloads/summary-gpt2-small-wikitext2-per8.csv
echo
echo "### per8 through the presets"
echo
if [ -f "$trace" ]; then
    make --no-print-directory build/bin/spk-sim >/dev/null
    echo "\`spk-sim --trace per8 --config eighth --config full --config sim/configs/rtl-ovl.cfg\`"
    echo "(the last is the overlapped RTL's preset, validated per request and per pair above: 8"
    echo "lanes, the harness's one AXI port, one request in the front and one in its tail as"
    echo "spk_engine_ovl runs them):"
    echo
    echo '```'
    build/bin/spk-sim --trace "$trace" --config eighth --config full --config sim/configs/rtl-ovl.cfg |
        sed "s|$(dirname "$trace")/||"
    echo '```'
else
    echo "(per8 trace not found at $trace: pass the shared data directory)"
fi
if [ -n "${SPK_BENCH_RTL_SKIP_SYNTH:-}" ]; then
    echo
    echo "(synthesis not run: SPK_BENCH_RTL_SKIP_SYNTH is set)"
    exit 0
fi
echo
echo "### Area on a 7-series part (yosys synth_xilinx, Zynq-7020 capacity)"
echo
echo "\`make synth-xilinx\` (scripts/synth-xilinx.sh): yosys maps and packs, it does not place or"
echo "time, so the clock is an assumption (see docs/rtl.md, \"Area on a 7-series part\")."
echo
echo "| top (parameters) | LUTs (of 53,200) | flip-flops (of 106,400) | DSP48E1 (of 220) | BRAM36 (of 140) | CARRY4 | fits | run |"
echo "|---|---|---|---|---|---|---|---|"
make --no-print-directory synth-xilinx 2>/dev/null | grep '^|' || echo "(synth-xilinx failed)"
make --no-print-directory synth synth-blocks >/tmp/spk-bench-rtl.log 2>&1 || {
    tail -n 30 /tmp/spk-bench-rtl.log
    exit 1
}
for top in spk_engine_ice40_top spk_topk_ice40_top spk_softmax_ice40_top blocks; do
    echo
    sed -e 's/^# /### /' "build/synth/$top/report.md"
done
# the iCEBreaker bitstream: the engine with the UART bridge, the board's PCF, 3 placement seeds
# (docs/fpga.md, "Fit"); it reports a design that does not fit or misses the clock, so its
# status is not fatal here
make --no-print-directory bitstream BOARD=icebreaker >/tmp/spk-bench-rtl.log 2>&1 || true
echo
if [ -f build/board/icebreaker/report.md ]; then
    sed -e 's/^# /### /' build/board/icebreaker/report.md
else
    echo "### iCEBreaker bitstream"
    echo
    echo "(make bitstream BOARD=icebreaker wrote no report:)"
    tail -n 5 /tmp/spk-bench-rtl.log
fi
