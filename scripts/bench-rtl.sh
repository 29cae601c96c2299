#!/usr/bin/env bash
# Title: RTL on an iCE40 UP5K (make synth)
# Runs the iCE40 flow of the RTL (`make synth`: yosys, nextpnr-ice40, icepack, icetime, for the
# top-k engine, the softmax and the whole engine with its on-chip memory; then `make
# synth-blocks`: yosys cell counts of each engine block) and prints every report (resources,
# Fmax or why it does not fit, run times, tool versions) for docs/benchmarks.md. Takes about
# 8 minutes on the 2-core build machine (yosys on the whole engine: about 5).
# Usage: scripts/bench-rtl.sh [IGNORED_DATA_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
make --no-print-directory synth synth-blocks >/tmp/spk-bench-rtl.log 2>&1 || {
    tail -n 30 /tmp/spk-bench-rtl.log
    exit 1
}
for top in spk_engine_ice40_top spk_topk_ice40_top spk_softmax_ice40_top blocks; do
    echo
    sed -e 's/^# /### /' "build/synth/$top/report.md"
done
