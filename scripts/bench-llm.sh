#!/usr/bin/env bash
# Title: Reference LLM against llama.cpp (SmolLM2-135M Q4_1, 2 threads)
# Side by side in one run: tokenization parity and perplexity (ctx 512, first CHUNKS chunks)
# on the WikiText-2 part, then prompt/generation speed and peak RSS (scripts/peer-llamacpp.sh).
# Usage: scripts/bench-llm.sh [SHARED_DATA_DIR]     env: CHUNKS (default 16)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
data=$(realpath -m "${1:-$repo/../shared/data}")
text=$data/wikitext2/wiki.test.part-a.txt
spk=$repo/build/bin/spk-llm
peer=$repo/scripts/peer-llamacpp.sh
chunks=${CHUNKS:-16}
[ -r "$text" ] || { echo "bench-llm: missing $text" >&2; exit 2; }
"$repo/scripts/bootstrap.sh" --model
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$spk" tokenize -f "$text" >"$tmp/spk.ids"
"$peer" tokenize "$text" >"$tmp/peer.ids"
n=$(wc -l <"$tmp/spk.ids")
if cmp -s "$tmp/spk.ids" "$tmp/peer.ids"; then
    echo "- Tokenization of \`wiki.test.part-a.txt\`: $n tokens, identical to llama-tokenize."
else
    echo "- Tokenization of \`wiki.test.part-a.txt\`: DIFFERS from llama-tokenize" \
        "($n vs $(wc -l <"$tmp/peer.ids") tokens)."
fi

"$spk" perplexity -f "$text" --ctx 512 --chunks "$chunks" >"$tmp/spk.ppl" 2>/dev/null
CHUNKS=$chunks "$peer" perplexity "$text" 512 >"$tmp/peer.ppl" 2>&1
ours=$(grep -oE 'PPL = [0-9.]+' "$tmp/spk.ppl" | tail -n1 | awk '{print $3}')
theirs=$(grep -oE 'PPL = [0-9.]+' "$tmp/peer.ppl" | tail -n1 | awk '{print $3}')
echo "- Perplexity, ctx 512, first $chunks chunks: spk-llm $ours, llama.cpp $theirs" \
    "(ratio $(awk -v a="$ours" -v b="$theirs" 'BEGIN {printf "%.4f", a / b}'))."
echo
echo "Speed (pp128 = 128-token prompt, tg64 = 64 generated tokens, tokens/s):"
echo
echo '```'
"$peer" compare "$spk"
echo '```'
