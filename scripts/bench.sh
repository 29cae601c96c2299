#!/usr/bin/env bash
# `make bench`: runs every benchmark of the kit side by side in one run and writes
# docs/benchmarks.md with the numbers and the commands that produced them.
# Usage: scripts/bench.sh [SHARED_DATA_DIR]   (default ../shared/data next to the repository)
# Sections whose inputs are missing say so in the document instead of being left out.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=$(realpath -m "${1:-$repo/../shared/data}")
doc=$repo/docs/benchmarks.md
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

section() { # title, command...
    local title=$1
    shift
    echo "bench: $title" >&2
    {
        echo
        echo "## $title"
        echo
        echo "Command: \`${*//$repo\//}\`" | sed "s|$(dirname "$repo")/|../|g"
        echo
        if ! "$@"; then
            echo
            echo "(this benchmark failed; see the command's output above)"
        fi
    } >>"$tmp" 2>&1
}

{
    echo "# Benchmarks"
    echo
    rev=$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo unknown)
    cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)
    mem=$(free -g | awk '/^Mem:/ {print $2}')
    echo "Produced by \`make bench\` (scripts/bench.sh) on $(date -u +%Y-%m-%d) at commit $rev,"
    echo "on $(nproc) cores of \"$cpu\" with $mem GiB of memory. Every figure below is measured by"
    echo "the command shown; nothing is typed in. Machines here are noisy: compare ratios taken"
    echo "in the same run."
} >"$tmp"

section "Cycle simulator: SpAtten GPT-2 traces" "$repo/scripts/bench-sim.sh" \
    "$data/spatten-workloads"
for extra in bench-llm.sh bench-long.sh bench-rtl.sh bench-backends.sh; do
    if [ -x "$repo/scripts/$extra" ]; then
        section "$(sed -n 's/^# Title: //p' "$repo/scripts/$extra")" "$repo/scripts/$extra" "$data"
    fi
done

mv "$tmp" "$doc"
trap - EXIT
echo "bench: wrote ${doc#$repo/}" >&2
