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
#                                 for the check took 2.3 minutes, 4.4 core-minutes, at commit
#                                 ec1b936; STUDY_CHUNKS=16 or more for tighter numbers)
#   STUDY_BACKEND=model           libspk backend (model: exact traffic counts, fastest; sim: the
#                                 same bytes plus cycles and energy, slower)
#   STUDY_OUT=docs                where the table, CSV and plot go
#   STUDY_FIRST_CHUNK=0           score chunks from this one on (spk-llm --first-chunk)
#   STUDY_CHECK_FIRST_CHUNK=400   generalisation check: the rows marked "check" run again on
#                                 the same number of chunks from this chunk on (a disjoint part of
#                                 the text, far from the first chunks); "" skips it, and it is
#                                 skipped with a note when the text is too short
#   SPK_MODEL                     another GGUF model
#   STUDY_JOBS=2                  points run at a time (spk-sweep -j)
#   STUDY_THREADS=1               spk-llm -t of each point (STUDY_JOBS points already fill
#                                 the cores; one thread each spends no time handing work over)
#   STUDY_LAUNCHER=local          local or slurm (spk-sweep --launcher; STUDY_SWEEP_ARGS adds
#                                 e.g. "--partition p --time 2:00:00")
#   STUDY_RESULTS=BUILD/sweep     where the sweep keeps its points: a rerun with the same
#                                 settings skips the points already done
# The runs are the points of the sweep tests/regress/sweeps/study.json (spk-sweep,
# docs/regressions.md); the check is the same sweep on its check=check points.
set -euo pipefail
cd "$(dirname "$0")/.."

TEXT=${1:-../shared/data/wikitext2/wiki.test.part-a.txt}
CTX=${STUDY_CTX:-256}
CHUNKS=${STUDY_CHUNKS:-4}
BACKEND=${STUDY_BACKEND:-model}
FIRST=${STUDY_FIRST_CHUNK:-0}
CHECK_FIRST=${STUDY_CHECK_FIRST_CHUNK-400}
OUT=${STUDY_OUT:-docs}
BUILD=${BUILD:-build}
BIN=${SPK_LLM:-$BUILD/bin/spk-llm}
RES=${STUDY_RESULTS:-$BUILD/sweep}
PY=/usr/bin/python3
SPEC=tests/regress/sweeps/study.json

if [[ ! -r "$TEXT" ]]; then
    echo "study: text '$TEXT' not found; pass a text file: scripts/study.sh TEXT" >&2
    exit 2
fi
if [[ ! -x "$BIN" ]]; then
    echo "study: $BIN missing; run make $BIN first (make study does)" >&2
    exit 2
fi
mkdir -p "$OUT"
# shellcheck disable=SC2206 # STUDY_SWEEP_ARGS is a list of options
SWEEP=("$PY" scripts/spk-sweep "$SPEC" --build "$BUILD" --no-build --var "llm=$BIN"
    --var "text=$TEXT" --var "ctx=$CTX" --var "chunks=$CHUNKS" --var "backend=$BACKEND"
    --var "threads=${STUDY_THREADS:-1}" -j "${STUDY_JOBS:-2}" --launcher "${STUDY_LAUNCHER:-local}"
    ${STUDY_SWEEP_ARGS:-})

echo "study: $TEXT, $CHUNKS streaming chunks of $CTX tokens from chunk $FIRST, backend $BACKEND," \
    "$("$PY" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["list"]))' "$SPEC") runs"
if ! "${SWEEP[@]}" --var "first=$FIRST" --results "$RES/study"; then
    echo "study: FAILED (the failed points and their logs are listed above)" >&2
    exit 1
fi
CSV="$RES/study/sweep.csv"
cp "$CSV" "$OUT/study.csv"
CHECK_ARGS=()
if [[ -n $CHECK_FIRST ]]; then
    echo "study: generalisation check, the rows marked check on $CHUNKS chunks from chunk $CHECK_FIRST"
    if "${SWEEP[@]}" --var "first=$CHECK_FIRST" --match check=check --no-plots \
        --results "$RES/study-check"; then
        cp "$RES/study-check/sweep.csv" "$OUT/study-check.csv"
        CHECK_ARGS=("$RES/study-check/sweep.csv" "$CHECK_FIRST")
    elif grep -qs "none from chunk" "$RES"/study-check/jobs/*/log; then
        echo "study: the text has no chunk $CHECK_FIRST; generalisation check skipped"
    else
        echo "study: the check FAILED (the failed points and their logs are listed above)" >&2
        exit 1
    fi
fi
CMD="scripts/study.sh $TEXT (STUDY_CTX=$CTX STUDY_CHUNKS=$CHUNKS STUDY_BACKEND=$BACKEND"
CMD+=" STUDY_FIRST_CHUNK=$FIRST STUDY_CHECK_FIRST_CHUNK=$CHECK_FIRST)"
"$PY" scripts/study_report.py "$CSV" "$OUT" "$CMD" "$TEXT" "$CTX" "$CHUNKS" "$FIRST" \
    "${CHECK_ARGS[@]}"
echo "study: wrote $OUT/results.md, $OUT/study.csv, $OUT/study.png (sweep: $RES/study)"
