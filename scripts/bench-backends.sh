#!/usr/bin/env bash
# Title: libspk backends: the reference LLM's attention on model, sim, systemc, rtl, rtl-compact, rtl-ovl and systemc-rtl
# Side by side in one run: `spk-llm generate` (SmolLM2-135M, --spatten paper, 16 tokens, seed 1)
# with attention on each backend, REPEATS times; the median generation speed, the head requests
# per second of wall time, the engine cycles the report gives, and whether the text is the same
# token for token as on `model`.
# Usage: scripts/bench-backends.sh [SHARED_DATA_DIR]   env: REPEATS (default 3), BACKENDS
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
spk=$repo/build/bin/spk-llm
repeats=${REPEATS:-3}
backends=${BACKENDS:-model sim systemc rtl rtl-compact rtl-ovl systemc-rtl}
prompt="The history of the city began in the Middle Ages, when"
"$repo/scripts/bootstrap.sh" --model
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

median() { sort -g | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }

echo "| backend | generation tokens/s (median of $repeats) | head requests | head requests/s | engine cycles | text as on model |"
echo "|---|---:|---:|---:|---:|---|"
for b in $backends; do
    : >"$tmp/$b.tps"
    : >"$tmp/$b.rps"
    for r in $(seq "$repeats"); do
        t0=$(date +%s.%N)
        # the text and the report on stdout; the speeds and the progress lines on stderr (kept
        # apart: a progress line would land inside the text)
        if ! "$spk" generate --backend "$b" --spatten paper -n 16 --seed 1 -p "$prompt" \
            >"$tmp/$b.txt" 2>"$tmp/$b.err"; then
            echo "| $b | failed: $(tail -n1 "$tmp/$b.err") | | | | |"
            continue 2
        fi
        cat "$tmp/$b.txt" "$tmp/$b.err" >"$tmp/$b.out"
        t1=$(date +%s.%N)
        reqs=$(sed -n 's/.* in [0-9]* steps, \([0-9]*\) head requests.*/\1/p' "$tmp/$b.out")
        sed -n 's/.*generation: [0-9]* tokens, \([0-9.]*\) tokens\/s.*/\1/p' "$tmp/$b.out" \
            >>"$tmp/$b.tps"
        awk -v n="$reqs" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.0f\n", n / (z - a)}' >>"$tmp/$b.rps"
    done
    head -n1 "$tmp/$b.txt" >"$tmp/$b.text"
    cycles=$(sed -n 's/^modeled attention: \([0-9]*\) engine cycles.*/\1/p' "$tmp/$b.out")
    same=no
    cmp -s "$tmp/$b.text" "$tmp/model.text" && same=yes
    echo "| \`$b\` | $(median <"$tmp/$b.tps") | $reqs | $(median <"$tmp/$b.rps") | ${cycles:-0} | $same |"
done
echo
echo "Head requests per second count the whole run's wall time (model load, the CPU layers and the"
echo "control core included), so they bound the backend's own rate from below. Engine cycles are"
echo "the report's: the cycle model's on \`sim\` (eighth preset), the Verilated engine's on \`rtl\`"
echo "and \`rtl-compact\`, none on \`model\`."
