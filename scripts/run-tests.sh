#!/usr/bin/env bash
# Runs each GoogleTest binary given, then prints one closing line summing them all:
#   tests: N passed, N failed, N skipped
# (the plain closing line CI reads; the line before it names the build directory).
# Usage: scripts/run-tests.sh BUILD_DIR TEST_BINARY...
set -uo pipefail
build=$1
shift
passed=0 failed=0 skipped=0 broken=()
mkdir -p "$build/test-logs"
for bin in "$@"; do
    name=$(basename "$bin")
    log="$build/test-logs/$name.log"
    echo "== $name ($build)"
    "$bin" --gtest_brief=1 >"$log" 2>&1
    rc=$?
    grep -vE '^\[ +(OK|RUN) +\]' "$log" | grep -vE '^$' | tail -n 40
    p=$(sed -nE 's/^\[  PASSED  \] ([0-9]+) tests?\..*/\1/p' "$log" | tail -n1)
    f=$(sed -nE 's/^\[  FAILED  \] ([0-9]+) tests?, listed below.*/\1/p' "$log" | tail -n1)
    s=$(sed -nE 's/^\[  SKIPPED \] ([0-9]+) tests?, listed below.*/\1/p' "$log" | tail -n1)
    passed=$((passed + ${p:-0})) failed=$((failed + ${f:-0})) skipped=$((skipped + ${s:-0}))
    if [ $rc -ne 0 ]; then
        broken+=("$name")
        [ -n "$f" ] || failed=$((failed + 1)) # crashed before the summary
    fi
done
echo "all suites in $build:"
echo "tests: $passed passed, $failed failed, $skipped skipped"
if ((${#broken[@]})); then
    echo "failing binaries: ${broken[*]} (logs in $build/test-logs/)" >&2
    exit 1
fi
