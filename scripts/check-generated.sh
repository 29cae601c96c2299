#!/usr/bin/env bash
# Regenerates the register-map and firmware-ABI artefacts and the datapath tables into a temporary directory and fails
# on any difference with the committed files (CI calls this). Also lints the generated Verilog when verilator exists.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$root/scripts/gen-regs.py" --out "$tmp"
python3 "$root/scripts/gen-abi.py" --out "$tmp" --lint-wrapper "$tmp/lint/spk_abi_lint.v"
python3 "$root/scripts/gen-luts.py" "$tmp"
python3 "$root/scripts/gen-board.py" --out "$tmp"
status=0
for f in driver/include/spk/regs.h rtl/regs/spk_regs.vh rtl/regs/spk_csr.v docs/registers.md \
    driver/include/spk/fw_abi.h rtl/regs/spk_abi.vh docs/abi.md \
    sim/golden/exp2_lut.inc rtl/common/spk_exp2_lut.vh \
    driver/include/spk/board_map.h rtl/fpga/boards/icebreaker/board_map.vh docs/fpga.md; do
    if ! diff -u "$root/$f" "$tmp/$f"; then
        echo "check-generated: $f is stale; run scripts/gen-regs.py, scripts/gen-abi.py, scripts/gen-luts.py and scripts/gen-board.py" >&2
        status=1
    fi
done
if command -v verilator >/dev/null; then
    verilator --lint-only -Wall "$root/rtl/regs/spk_csr.v"
    # spk_abi.vh holds only defines: lint a wrapper that uses every one of them (the committed header)
    verilator --lint-only -Wall -I"$root/rtl/regs" --top-module spk_abi_lint "$tmp/lint/spk_abi_lint.v"
else
    echo "check-generated: verilator not found, Verilog lint skipped" >&2
fi
[ $status -eq 0 ] && echo "check-generated: up to date"
exit $status
