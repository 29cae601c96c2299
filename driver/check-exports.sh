#!/usr/bin/env bash
# Checks that a libspk shared library exports exactly the functions declared in the public
# header: every spk_* function of driver/include/spk/spk.h, and nothing else.
# Usage: driver/check-exports.sh LIBSPK.so [HEADER]
set -euo pipefail
lib=$1
header=${2:-$(dirname "$0")/include/spk/spk.h}
want=$(grep -oE '\bspk_[a-z_]+\(' "$header" | tr -d '(' | sort -u)
have=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBRW]$/ {print $3}' | sed 's/@.*//' | sort -u)
if [ "$want" != "$have" ]; then
    echo "check-exports: $lib exports differ from $header:" >&2
    diff <(echo "$want") <(echo "$have") >&2 || true
    exit 1
fi
echo "check-exports: $(echo "$have" | wc -l) symbols, all public API"
