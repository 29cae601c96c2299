#!/usr/bin/env bash
# The accuracy-versus-traffic study (issue 7): streaming-protocol perplexity of the reference LLM
# with attention on the accelerator for a ladder of SpAtten settings, each with the exact DRAM
# traffic of its attention against dense 12-bit. Writes docs/results.md, docs/study.csv,
# docs/study-check.csv (the generalisation check) and docs/study.png (perplexity increase versus
# DRAM reduction).
#
# usage: scripts/study.sh [TEXT]        (default: ../shared/data/wikitext2/wiki.test.part-a.txt)
# environment:
#   STUDY_CTX=256 STUDY_CHUNKS=4  streaming chunks of CTX tokens, the second half of each scored
#                                 (defaults: 4 chunks of 256 = 508 scored tokens; 22 runs plus 8
#                                 for the check took 14.5 minutes on 2 busy cores; STUDY_CHUNKS=16
#                                 or more for tighter numbers)
#   STUDY_BACKEND=model           libspk backend (model: exact traffic counts, fastest; sim: the
#                                 same bytes plus cycles and energy, slower)
#   STUDY_OUT=docs                where the table, CSV and plot go
#   STUDY_FIRST_CHUNK=0           score chunks from this one on (spk-llm --first-chunk)
#   STUDY_CHECK_FIRST_CHUNK=400   generalisation check: the rows marked "check" run again on
#                                 the same number of chunks from this chunk on (a disjoint part of
#                                 the text, far from the first chunks); "" skips it, and it is
#                                 skipped with a note when the text is too short
#   SPK_MODEL                     another GGUF model
set -euo pipefail
cd "$(dirname "$0")/.."

TEXT=${1:-../shared/data/wikitext2/wiki.test.part-a.txt}
CTX=${STUDY_CTX:-256}
CHUNKS=${STUDY_CHUNKS:-4}
BACKEND=${STUDY_BACKEND:-model}
FIRST=${STUDY_FIRST_CHUNK:-0}
CHECK_FIRST=${STUDY_CHECK_FIRST_CHUNK-400}
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
# MIT's last-step policy: one budget (a fraction of the context) in every layer, per K/V head
LS="--policy last-step --prune-skip 0 $SP"
# name | group | spk-llm attention options | "check" to rerun it on the second chunk range
CONFIGS=(
    "float dense (cpu)|reference|--backend cpu|check"
    "fixed-point dense 12-bit|reference|--backend $BACKEND --spatten off|check"
    "token keep 0.7|token|--backend $BACKEND --token-keep 0.7 $SP"
    "token keep 0.5|token|--backend $BACKEND --token-keep 0.5 $SP"
    "token keep 0.3|token|--backend $BACKEND --token-keep 0.3 $SP"
    "token 0.5 + head 0.6|+head|--backend $BACKEND --token-keep 0.5 --head-keep 0.6 $SP"
    "token 0.5 + head 0.6 + V 0.5|+local V|--backend $BACKEND --token-keep 0.5 --head-keep 0.6 --v-keep 0.5 $SP"
    "token 0.5 + head 0.6 + V 0.5 + PQ 8+4|+PQ|--backend $BACKEND --token-keep 0.5 --head-keep 0.6 --v-keep 0.5 --kv-bits 8+4 --requant 0.1 $SP"
    "local V 0.5 only|single|--backend $BACKEND --v-keep 0.5"
    "PQ 8+4 T=0.1 only|single|--backend $BACKEND --kv-bits 8+4 --requant 0.1"
    "PQ 6+4 T=0.1 only|single|--backend $BACKEND --kv-bits 6+4 --requant 0.1"
    "PQ 6+4 T=0.1 + V 0.5 (no token pruning)|combined|--backend $BACKEND --kv-bits 6+4 --requant 0.1 --v-keep 0.5"
    "combined medium (token 0.5, V 0.5, PQ 8+4)|combined|--backend $BACKEND --token-keep 0.5 --v-keep 0.5 --kv-bits 8+4 --requant 0.1 $SP"
    "preset paper|combined|--backend $BACKEND --spatten paper|check"
    "last-step keep 0.5|last-step|--backend $BACKEND --token-keep 0.5:0.5 $LS|check"
    "last-step keep 0.3|last-step|--backend $BACKEND --token-keep 0.3:0.3 $LS|check"
    "last-step keep 0.2|last-step|--backend $BACKEND --token-keep 0.2:0.2 $LS"
    "last-step fixed 4+32+16|last-step|--backend $BACKEND --important 32 $LS"
    "last-step 0.3 + PQ 8+4 + V 0.5|last-step|--backend $BACKEND --token-keep 0.3:0.3 $LS --kv-bits 8+4 --requant 0.1 --v-keep 0.5|check"
    "last-step 0.3 + PQ 6+4 + V 0.5|last-step|--backend $BACKEND --token-keep 0.3:0.3 $LS --kv-bits 6+4 --requant 0.1 --v-keep 0.5|check"
    "last-step 0.2 + PQ 6+4 + V 0.5|last-step|--backend $BACKEND --token-keep 0.2:0.2 $LS --kv-bits 6+4 --requant 0.1 --v-keep 0.5"
    "preset mit|last-step|--backend $BACKEND --spatten mit|check"
)

# run_rows CSV FIRST_CHUNK ONLY_CHECK: one spk-llm run per row, a CSV line each. Returns 3 if
# the text holds no chunk from FIRST_CHUNK on (the check range is then skipped).
run_rows() {
    local csv=$1 first=$2 only_check=$3 i=0 n=0 entry name group opts check
    echo "name,group,options,ppl,ppl_err,dram_bytes,dense_bytes,reduction,requant,seconds" >"$csv"
    for entry in "${CONFIGS[@]}"; do
        IFS='|' read -r name group opts check <<<"$entry"
        [[ $only_check == 1 && $check != check ]] || n=$((n + 1))
    done
    for entry in "${CONFIGS[@]}"; do
        IFS='|' read -r name group opts check <<<"$entry"
        [[ $only_check == 1 && $check != check ]] && continue
        i=$((i + 1))
        printf '[%2d/%d] %-48s ' "$i" "$n" "$name"
        t0=$(date +%s.%N)
        # shellcheck disable=SC2086 # opts is a list of options
        if ! "$BIN" perplexity -f "$TEXT" --ctx "$CTX" --chunks "$CHUNKS" --first-chunk "$first" \
            --stream $opts >"$RAW/$i.out" 2>"$RAW/$i.err"; then
            if grep -q "none from chunk" "$RAW/$i.err"; then
                echo "(no such chunk)"
                return 3
            fi
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
        echo "\"$name\",$group,\"$opts\",$ppl,$err,${dram:-},${dense:-},${red:-},${rq:-},$secs" >>"$csv"
    done
}

echo "study: $TEXT, $CHUNKS streaming chunks of $CTX tokens from chunk $FIRST, backend $BACKEND," \
    "${#CONFIGS[@]} runs"
CSV="$RAW/study.csv"
run_rows "$CSV" "$FIRST" 0
cp "$CSV" "$OUT/study.csv"
CHECK_ARGS=()
if [[ -n $CHECK_FIRST ]]; then
    echo "study: generalisation check, the rows marked check on $CHUNKS chunks from chunk $CHECK_FIRST"
    if run_rows "$RAW/check.csv" "$CHECK_FIRST" 1; then
        cp "$RAW/check.csv" "$OUT/study-check.csv"
        CHECK_ARGS=("$RAW/check.csv" "$CHECK_FIRST")
    else
        echo "study: the text has no chunk $CHECK_FIRST; generalisation check skipped"
    fi
fi
CMD="scripts/study.sh $TEXT (STUDY_CTX=$CTX STUDY_CHUNKS=$CHUNKS STUDY_BACKEND=$BACKEND"
CMD+=" STUDY_FIRST_CHUNK=$FIRST STUDY_CHECK_FIRST_CHUNK=$CHECK_FIRST)"
"$PY" scripts/study_report.py "$CSV" "$OUT" "$CMD" "$TEXT" "$CTX" "$CHUNKS" "$FIRST" \
    "${CHECK_ARGS[@]}"
echo "study: wrote $OUT/results.md, $OUT/study.csv, $OUT/study.png"
