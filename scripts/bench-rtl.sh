#!/usr/bin/env bash
# Title: RTL: engine cycles against the cycle simulator, the two engines side by side, iCE40 UP5K build (make synth)
# First times 1,000 random head requests per seed on the Verilated engine against the cycle
# simulator (`rtl-engine --memory cycles`: its serial `rtl-engine` preset and the overlapped
# pipeline), then the same 1,000 requests on spk_engine and spk_engine_compact (cycles, all
# checked bit for bit). Then runs the iCE40 flow of the RTL (`make synth`: yosys, nextpnr-ice40,
# icepack, icetime, for the top-k engine, the softmax and the whole engine (compact) with its
# on-chip memory; then `make synth-blocks`: yosys cell counts of each engine block) and prints
# every report (resources, Fmax or why it does not fit, run times, tool versions) for
# docs/benchmarks.md. Takes about 8 minutes on the 2-core build machine.
# Usage: scripts/bench-rtl.sh [IGNORED_DATA_DIR]
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
make --no-print-directory synth synth-blocks >/tmp/spk-bench-rtl.log 2>&1 || {
    tail -n 30 /tmp/spk-bench-rtl.log
    exit 1
}
for top in spk_engine_ice40_top spk_topk_ice40_top spk_softmax_ice40_top blocks; do
    echo
    sed -e 's/^# /### /' "build/synth/$top/report.md"
done
