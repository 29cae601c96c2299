#!/usr/bin/env bash
# The long-context study (issue 20): batched perplexity at ctx 2048 of the points of
# tests/regress/sweeps/study-long.json (float dense, fixed-point dense, the select policy with
# exact and MSB-plane scoring, ranked by the logit or the probability sum, with the bit planes and
# local V, and the evicting policies streamed for comparison), each writing its per-token NLL,
# then the paired change of every point against float dense with a block-bootstrap interval
# (scripts/paired_ppl.py, pooling the chunk ranges). Writes docs/results-long.md,
# docs/study-long.csv and docs/study-long.png (perplexity change against DRAM reduction), and
# the ctx 8192 check (tests/regress/sweeps/study-8192.json, one chunk) -> docs/study-8192.csv.
#
# usage: scripts/study-long.sh [TEXT]   (default: ../shared/data/wikitext2/wiki.test.part-a.txt)
# environment: LONG_CTX=2048 LONG_RANGES="0:2 2:1" (FIRST:CHUNKS sweeps, pooled: chunks 0-2)
#   LONG_BACKEND=model LONG_JOBS=2 LONG_OUT=docs LONG_RESULTS=BUILD/sweep/study-long (a range
#   other than 0:2 goes to LONG_RESULTS-fFIRSTcCHUNKS; LONG_CHECK_RESULTS=BUILD/sweep/study-8192;
#   a rerun skips the points already done; LONG_HELDOUT_FIRST=40 LONG_HELDOUT_CHUNKS=3: the
#   generalisation check of the rows marked check, LONG_HELDOUT_FIRST= skips it;
#   LONG_THREADS=1: spk-llm -t of each point; LONG_JOBS points at a time already fill the
#   cores, and one thread each spends no time handing work between threads)
# Time (commit af19a07, 2 idle cores, one thread per point): the ctx 2048 table 40 core-minutes
# and its held-out check 8, the ctx 8192 check 30 and its held-out chunk 10, in two lanes: 45
# minutes of wall time (make study, with the ctx 256 part: 47).
set -euo pipefail
cd "$(dirname "$0")/.."
TEXT=${1:-../shared/data/wikitext2/wiki.test.part-a.txt}
CTX=${LONG_CTX:-2048}
RANGES=${LONG_RANGES:-0:2 2:1}
BACKEND=${LONG_BACKEND:-model}
OUT=${LONG_OUT:-docs}
BUILD=${BUILD:-build}
RES=${LONG_RESULTS:-$BUILD/sweep/study-long}
PY=/usr/bin/python3
[[ -r "$TEXT" ]] || { echo "study-long: text '$TEXT' not found" >&2; exit 2; }
[[ -x "$BUILD/bin/spk-llm" ]] || { echo "study-long: $BUILD/bin/spk-llm missing (make all)" >&2; exit 2; }
mkdir -p "$OUT"
JOBS=${LONG_JOBS:-2}
THREADS=${LONG_THREADS:-1}
[[ $JOBS =~ ^[1-9][0-9]*$ && $THREADS =~ ^[1-9][0-9]*$ ]] ||
    { echo "study-long: LONG_JOBS/LONG_THREADS '$JOBS'/'$THREADS' are not counts" >&2; exit 2; }
# Only what differs from the specs' vars is passed: a point's id hashes its vars (as the spec
# types them), so a rerun with the defaults finds the points already done.
COMMON=()
[[ $TEXT != ../shared/data/wikitext2/wiki.test.part-a.txt ]] && COMMON+=(--var "text=$TEXT")
[[ $BUILD != build ]] && COMMON+=(--var "llm=$BUILD/bin/spk-llm")
[[ $BACKEND != model ]] && COMMON+=(--var "backend=$BACKEND")
[[ $THREADS != 1 ]] && COMMON+=(--var "threads=$THREADS")
sweep() { "$PY" scripts/spk-sweep "$1" --build "$BUILD" --no-build "${@:2}"; }

# The ctx 2048 table on its chunk ranges, then the generalisation check of the rows marked check
# on chunks nothing was tuned on (LONG_HELDOUT_FIRST=40, LONG_HELDOUT_CHUNKS=3;
# LONG_HELDOUT_FIRST= skips it). Sets DIRS and TOTAL. Each of its sweeps takes the job slots the
# ctx 8192 lane leaves, or all of them once that lane is done.
DIRS=() TOTAL=0 lane=
table_jobs() {
    if [[ -n $lane ]] && kill -0 "$lane" 2>/dev/null; then echo $((JOBS - JOBS / 2)); else echo "$JOBS"; fi
}
HELD_FIRST=${LONG_HELDOUT_FIRST-40}
HELD_CHUNKS=${LONG_HELDOUT_CHUNKS:-3}
HELD_DIR=$RES-heldout
if [[ -n $HELD_FIRST ]]; then
    [[ $HELD_FIRST =~ ^[0-9]+$ && $HELD_CHUNKS =~ ^[1-9][0-9]*$ ]] ||
        { echo "study-long: LONG_HELDOUT_FIRST/CHUNKS '$HELD_FIRST'/'$HELD_CHUNKS' are not counts" >&2; exit 2; }
fi
run_table() {
    local range FIRST CHUNKS dir VARS
    for range in $RANGES; do
        FIRST=${range%%:*} CHUNKS=${range##*:}
        [[ $FIRST =~ ^[0-9]+$ && $CHUNKS =~ ^[1-9][0-9]*$ ]] ||
            { echo "study-long: LONG_RANGES entry '$range' is not FIRST:CHUNKS" >&2; return 2; }
        TOTAL=$((TOTAL + CHUNKS))
        dir=$RES
        [[ $range != 0:2 ]] && dir=$RES-f${FIRST}c${CHUNKS}
        VARS=("${COMMON[@]}")
        [[ $CTX != 2048 ]] && VARS+=(--var "ctx=$CTX")
        [[ $CHUNKS != 2 ]] && VARS+=(--var "chunks=$CHUNKS")
        [[ $FIRST != 0 ]] && VARS+=(--var "first=$FIRST")
        echo "study-long: chunks $FIRST..$((FIRST + CHUNKS - 1)) of $CTX tokens -> $dir"
        if ! sweep tests/regress/sweeps/study-long.json "${VARS[@]}" -j "$(table_jobs)" \
            --results "$dir"; then
            echo "study-long: FAILED (the failed points and their logs are listed above)" >&2
            return 1
        fi
        DIRS+=("$dir")
    done
    [[ -n $HELD_FIRST ]] || return 0
    VARS=("${COMMON[@]}" --var "first=$HELD_FIRST" --var "chunks=$HELD_CHUNKS")
    [[ $CTX != 2048 ]] && VARS+=(--var "ctx=$CTX")
    echo "study-long: generalisation check, the rows marked check on chunks $HELD_FIRST..$((HELD_FIRST + HELD_CHUNKS - 1)) -> $HELD_DIR"
    if ! sweep tests/regress/sweeps/study-long.json "${VARS[@]}" --match check=check --no-plots \
        -j "$(table_jobs)" --results "$HELD_DIR"; then
        echo "study-long: the generalisation check FAILED (the failed points are listed above)" >&2
        return 1
    fi
}

# The ctx 8192 check (the model's trained context): one chunk of the points of
# tests/regress/sweeps/study-8192.json, then its points around the goal again on a chunk nothing
# was tuned on (tests/regress/sweeps/study-8192-heldout.json: chunk 10). LONG_CHECK=0 skips both.
CHECK_DIR=${LONG_CHECK_RESULTS:-$BUILD/sweep/study-8192}
run_8192() { # JOBS
    echo "study-long: the ctx 8192 check -> $CHECK_DIR"
    if ! sweep tests/regress/sweeps/study-8192.json "${COMMON[@]}" -j "$1" --results "$CHECK_DIR"; then
        echo "study-long: the ctx 8192 check FAILED (the failed points are listed above)" >&2
        return 1
    fi
    echo "study-long: the ctx 8192 check on a held-out chunk -> $CHECK_DIR-heldout"
    if ! sweep tests/regress/sweeps/study-8192-heldout.json "${COMMON[@]}" -j "$1" \
        --results "$CHECK_DIR-heldout"; then
        echo "study-long: the held-out ctx 8192 check FAILED (the failed points are listed above)" >&2
        return 1
    fi
}

# Two lanes when there are two job slots or more: the ctx 8192 points (few and long) run beside
# the ctx 2048 ones (many and short) instead of after them, so that no sweep's last long point
# leaves a core idle; its output lines are prefixed [ctx 8192].
kill_tree() { # PID: the lane and the points it runs
    local child
    for child in $(pgrep -P "$1"); do kill_tree "$child"; done
    kill "$1" 2>/dev/null || true
}
if [[ ${LONG_CHECK:-1} == 1 && $JOBS -ge 2 ]]; then
    run_8192 $((JOBS / 2)) > >(sed -u 's/^/[ctx 8192] /') 2>&1 &
    lane=$!
    if ! run_table; then
        kill_tree "$lane"
        exit 1
    fi
    wait "$lane" || exit 1
else
    run_table || exit 1
    if [[ ${LONG_CHECK:-1} == 1 ]]; then run_8192 "$JOBS" || exit 1; fi
fi
{
    echo "# Accuracy at long context (ctx $CTX)"
    echo
    echo "Generated by \`scripts/study-long.sh\` (\`make study-long\`); do not edit by hand."
    echo
    echo "- command: \`scripts/study-long.sh $TEXT\` (LONG_CTX=$CTX LONG_RANGES=\"$RANGES\" LONG_BACKEND=$BACKEND)"
    echo "- text: \`$(basename "$TEXT")\`, $TOTAL chunks of $CTX tokens (ranges $RANGES, pooled), the second half of each chunk scored; the select points batched (the select policy evicts nothing, so batched equals streamed), the evicting ones streamed"
    echo "- model: \`$(basename "${SPK_MODEL:-SmolLM2-135M-Instruct.Q4_1.gguf}")\`, date $(date -u +%Y-%m-%d), host $(uname -m)"
    echo "- DRAM: every byte the engine read for attention, the select policy's scoring stage included, against the same requests dense with 12-bit K/V (the report's reduction)"
    echo "- what it means, and whether the goals (>= 5x at <= +1% at ctx 2048; >= 10x at ctx 8192) are reached: docs/offload.md, \"Per-step selection at ctx 2048\""
    echo
    "$PY" scripts/paired_ppl.py "${DIRS[@]}" --csv "$OUT/study-long.csv" --plot "$OUT/study-long.png"
    echo
    echo "![perplexity change against DRAM reduction](study-long.png)"
    if [[ -n $HELD_FIRST ]]; then
        echo
        echo "## Generalisation check (chunks $HELD_FIRST..$((HELD_FIRST + HELD_CHUNKS - 1)), nothing tuned on them)"
        echo
        echo "The rows marked \`check\` in \`tests/regress/sweeps/study-long.json\`, on $HELD_CHUNKS chunks of $CTX tokens from chunk $HELD_FIRST (no token shared with the table above; every setting and budget was chosen on chunks 0..$((TOTAL - 1)))."
        echo
        "$PY" scripts/paired_ppl.py "$HELD_DIR" --csv "$OUT/study-long-heldout.csv"
    fi
    if [[ ${LONG_CHECK:-1} == 1 ]]; then
        echo
        echo "## The ctx 8192 check"
        echo
        echo "One chunk of 8192 tokens (chunk 0), the second half scored, batched; the points of \`tests/regress/sweeps/study-8192.json\`. Goal there: >= 10x at <= +1%."
        echo
        "$PY" scripts/paired_ppl.py "$CHECK_DIR" --csv "$OUT/study-8192.csv"
        echo
        echo "### The ctx 8192 check on a held-out chunk"
        echo
        echo "Chunk 10 of 8192 tokens (tokens 81920..90111, nothing tuned on them), the points of \`tests/regress/sweeps/study-8192-heldout.json\` (those around the goal, the same options)."
        echo
        "$PY" scripts/paired_ppl.py "$CHECK_DIR-heldout" --csv "$OUT/study-8192-heldout.csv"
    fi
} >"$OUT/results-long.md.tmp"
mv "$OUT/results-long.md.tmp" "$OUT/results-long.md"
[[ -f "$OUT/results.md" ]] && "$PY" scripts/long_verdict.py "$OUT"
echo "study-long: wrote $OUT/results-long.md, $OUT/study-long.csv and $OUT/study-long.png (sweeps: ${DIRS[*]})"
