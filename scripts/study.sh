#!/usr/bin/env bash
# The accuracy-versus-traffic study (issue 7): streaming-protocol perplexity of the reference LLM
# with attention on the accelerator for a ladder of SpAtten settings, each with the exact DRAM
# traffic of its attention against dense 12-bit. Writes docs/results.md, docs/study.csv and
# docs/study.png (perplexity increase versus DRAM reduction).
#
# usage: scripts/study.sh [TEXT]        (default: ../shared/data/wikitext2/wiki.test.part-a.txt)
# environment:
#   STUDY_CTX=256 STUDY_CHUNKS=4  streaming chunks of CTX tokens, the second half of each scored
#                                 (defaults: 4 chunks of 256 = 508 scored tokens, about 6 minutes
#                                 on 2 cores; STUDY_CHUNKS=16 or more for tighter numbers)
#   STUDY_BACKEND=model           libspk backend (model: exact traffic counts, fastest; sim: the
#                                 same bytes plus cycles and energy, slower)
#   STUDY_OUT=docs                where the table, CSV and plot go
#   SPK_MODEL                     another GGUF model
set -euo pipefail
cd "$(dirname "$0")/.."

TEXT=${1:-../shared/data/wikitext2/wiki.test.part-a.txt}
CTX=${STUDY_CTX:-256}
CHUNKS=${STUDY_CHUNKS:-4}
BACKEND=${STUDY_BACKEND:-model}
OUT=${STUDY_OUT:-docs}
BIN=${SPK_LLM:-${BUILD:-build}/bin/spk-llm}
PY=/usr/bin/python3

if [[ ! -r "$TEXT" ]]; then
    echo "study: text '$TEXT' not found; pass a text file: scripts/study.sh TEXT" >&2
    exit 2
fi
if [[ ! -x "$BIN" ]]; then
    echo "study: $BIN missing; run make $BIN first (make study does)" >&2
    exit 2
fi
mkdir -p "$OUT"
RAW=$(mktemp -d)
trap 'rm -rf "$RAW"' EXIT

SP="--sinks 4 --recent 16" # decoding needs the recent window (docs/offload.md)
# name | group | spk-llm attention options
CONFIGS=(
    "float dense (cpu)|reference|--backend cpu"
    "fixed-point dense 12-bit|reference|--backend $BACKEND --spatten off"
    "token keep 0.7|token|--backend $BACKEND --token-keep 0.7 $SP"
    "token keep 0.5|token|--backend $BACKEND --token-keep 0.5 $SP"
    "token keep 0.3|token|--backend $BACKEND --token-keep 0.3 $SP"
    "token keep 0.2|token|--backend $BACKEND --token-keep 0.2 $SP"
    "token 0.5 + head 0.6|+head|--backend $BACKEND --token-keep 0.5 --head-keep 0.6 $SP"
    "token 0.5 + head 0.6 + V 0.5|+local V|--backend $BACKEND --token-keep 0.5 --head-keep 0.6 --v-keep 0.5 $SP"
    "token 0.5 + head 0.6 + V 0.5 + PQ 8+4|+PQ|--backend $BACKEND --token-keep 0.5 --head-keep 0.6 --v-keep 0.5 --kv-bits 8+4 --requant 0.1 $SP"
    "local V 0.5 only|single|--backend $BACKEND --v-keep 0.5"
    "local V 0.3 only|single|--backend $BACKEND --v-keep 0.3"
    "PQ 8+4 T=0.1 only|single|--backend $BACKEND --kv-bits 8+4 --requant 0.1"
    "PQ 6+4 T=0.1 only|single|--backend $BACKEND --kv-bits 6+4 --requant 0.1"
    "token keep 0.5, recent 64|token|--backend $BACKEND --token-keep 0.5 --sinks 4 --recent 64"
    "PQ 6+4 T=0.1 + V 0.5 (no token pruning)|combined|--backend $BACKEND --kv-bits 6+4 --requant 0.1 --v-keep 0.5"
    "combined mild (token 0.7, V 0.5, PQ 8+4)|combined|--backend $BACKEND --token-keep 0.7 --v-keep 0.5 --kv-bits 8+4 --requant 0.1 $SP"
    "combined medium (token 0.5, V 0.5, PQ 8+4)|combined|--backend $BACKEND --token-keep 0.5 --v-keep 0.5 --kv-bits 8+4 --requant 0.1 $SP"
    "preset paper|combined|--backend $BACKEND --spatten paper"
    "preset aggressive|combined|--backend $BACKEND --spatten aggressive"
)

echo "study: $TEXT, $CHUNKS streaming chunks of $CTX tokens, backend $BACKEND, ${#CONFIGS[@]} runs"
CSV="$RAW/study.csv"
echo "name,group,options,ppl,ppl_err,dram_bytes,dense_bytes,reduction,requant,seconds" >"$CSV"
i=0
for entry in "${CONFIGS[@]}"; do
    i=$((i + 1))
    IFS='|' read -r name group opts <<<"$entry"
    printf '[%2d/%d] %-48s ' "$i" "${#CONFIGS[@]}" "$name"
    t0=$(date +%s.%N)
    # shellcheck disable=SC2086 # opts is a list of options
    if ! "$BIN" perplexity -f "$TEXT" --ctx "$CTX" --chunks "$CHUNKS" --stream $opts \
        >"$RAW/$i.out" 2>"$RAW/$i.err"; then
        echo "FAILED"
        tail -n 5 "$RAW/$i.err" >&2
        exit 1
    fi
    secs=$(echo "$(date +%s.%N) - $t0" | bc)
    ppl=$(sed -n 's/^PPL = \([0-9.]*\) +\/- \([0-9.]*\).*/\1/p' "$RAW/$i.out")
    err=$(sed -n 's/^PPL = \([0-9.]*\) +\/- \([0-9.]*\).*/\2/p' "$RAW/$i.out")
    dram=$(sed -n 's/^DRAM bytes = \([0-9]*\),.*/\1/p' "$RAW/$i.out")
    dense=$(sed -n 's/.*dense 12-bit bytes = \([0-9]*\),.*/\1/p' "$RAW/$i.out")
    red=$(sed -n 's/.*reduction = \([0-9.]*\)x.*/\1/p' "$RAW/$i.out")
    rq=$(sed -n 's/.*requant = \([0-9.]*\).*/\1/p' "$RAW/$i.out")
    printf 'PPL %-9s DRAM /%-7s %5.0f s\n' "$ppl" "${red:--}" "$secs"
    echo "\"$name\",$group,\"$opts\",$ppl,$err,${dram:-},${dense:-},${red:-},${rq:-},$secs" >>"$CSV"
done

cp "$CSV" "$OUT/study.csv"
CMD="scripts/study.sh $TEXT (STUDY_CTX=$CTX STUDY_CHUNKS=$CHUNKS STUDY_BACKEND=$BACKEND)"
"$PY" scripts/study_report.py "$CSV" "$OUT" "$CMD" "$TEXT" "$CTX" "$CHUNKS"
echo "study: wrote $OUT/results.md, $OUT/study.csv, $OUT/study.png"
