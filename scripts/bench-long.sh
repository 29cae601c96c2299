#!/usr/bin/env bash
# Title: Perplexity speed at ctx 2048 (cpu, model, sim)
# Tokens per second of `spk-llm perplexity` over one chunk of 2048 tokens of the WikiText-2 part
# (batched: every token of the chunk goes through the model, the second half is scored), for the
# float CPU attention and the offload through the `model` and `sim` backends, dense (`--spatten
# off`) and with the select preset, and on `model` again with the K/V heads over 3 devices on
# their own threads (--engine-threads 3: SmolLM2's 3 K/V heads); the backends run one after
# another, in one run, on an otherwise idle machine. Wall time includes loading the model
# (about a second). The model's matrix kernels use -t 2 threads throughout.
# Usage: scripts/bench-long.sh [SHARED_DATA_DIR]     env: CTX (default 2048)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=$(realpath -m "${1:-$repo/../shared/data}")
text=$data/wikitext2/wiki.test.part-a.txt
spk=$repo/build/bin/spk-llm
ctx=${CTX:-2048}
[ -r "$text" ] || { echo "bench-long: missing $text" >&2; exit 2; }
[ -x "$spk" ] || { echo "bench-long: $spk missing (make all)" >&2; exit 2; }
"$repo/scripts/bootstrap.sh" --model
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "| backend | setting | seconds | tokens/s | vs cpu | perplexity | DRAM reduction |"
echo "|---|---|---:|---:|---:|---:|---:|"
cpu_rate=
for run in "cpu|float dense|--backend cpu" "model|dense 12-bit|--backend model --spatten off" \
    "model|select preset|--backend model --spatten select" \
    "model|dense 12-bit, 3 engine threads|--backend model --spatten off --engine-threads 3" \
    "model|select preset, 3 engine threads|--backend model --spatten select --engine-threads 3" \
    "sim|dense 12-bit|--backend sim --spatten off" "sim|select preset|--backend sim --spatten select"; do
    IFS='|' read -r backend setting opts <<<"$run"
    echo "bench-long: $backend, $setting" >&2
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086 # opts is a word list
    if ! "$spk" perplexity -f "$text" --ctx "$ctx" --chunks 1 $opts >"$log" 2>&1; then
        echo "| $backend | $setting | failed: $(tail -n1 "$log") | | | | |"
        continue
    fi
    t1=$(date +%s.%N)
    secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}')
    rate=$(awk -v s="$secs" -v n="$ctx" 'BEGIN {printf "%.1f", n / s}')
    [ -z "$cpu_rate" ] && cpu_rate=$rate
    ratio=$(awk -v r="$rate" -v c="$cpu_rate" 'BEGIN {printf "%.3f", r / c}')
    ppl=$(grep -oE '^PPL = [0-9.]+' "$log" | awk '{print $3}' || true)
    red=$(grep -oE 'reduction = [0-9.]+x' "$log" | awk '{print $3}' || true)
    echo "| $backend | $setting | $secs | $rate | ${ratio}x | $ppl | ${red:--} |"
done
echo
echo "One chunk of $ctx tokens, single runs (each takes minutes; the ratio is the comparable"
echo "figure). Without --engine-threads the engine work of a layer runs on one thread; with it"
echo "the K/V heads run on their own devices and threads, with the same results bit for bit."
