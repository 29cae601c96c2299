#!/usr/bin/env bash
# Title: RTL on an iCE40 UP5K (make synth)
# Runs the iCE40 flow of the RTL (`make synth`: yosys, nextpnr-ice40, icepack, icetime) and
# prints each top's report (resources, Fmax, tool versions) for docs/benchmarks.md.
# Usage: scripts/bench-rtl.sh [IGNORED_DATA_DIR]
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
make --no-print-directory synth >/tmp/spk-bench-rtl.log 2>&1 || {
    tail -n 30 /tmp/spk-bench-rtl.log
    exit 1
}
for report in build/synth/*/report.md; do
    echo
    sed -e 's/^# /### /' "$report"
done
