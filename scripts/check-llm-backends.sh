#!/usr/bin/env bash
# The real model on every backend: greedy text of several prompts, with the `paper` preset and
# with pruning off, must be token for token the text of `--backend model` (issue: one device
# contract). Needs the default model (scripts/bootstrap.sh --model); not part of `make test`.
# Usage: scripts/check-llm-backends.sh   env: BACKENDS (default: sim rtl rtl-compact), N (16)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
spk=$repo/build/bin/spk-llm
backends=${BACKENDS:-sim rtl rtl-compact}
n=${N:-16}
"$repo/scripts/bootstrap.sh" --model
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prompts=("The history of the city began in the Middle Ages, when"
    "In 1912 the expedition reached the"
    "The main difference between a cat and a dog is"
    "Once upon a time, in a small village,")
pass=0 fail=0
for preset in paper off; do
    for i in "${!prompts[@]}"; do
        "$spk" generate --backend model --spatten "$preset" -n "$n" --seed 1 -p "${prompts[$i]}" \
            >"$tmp/model.out" 2>&1
        head -n1 "$tmp/model.out" >"$tmp/model"
        for b in $backends; do
            if "$spk" generate --backend "$b" --spatten "$preset" -n "$n" --seed 1 \
                -p "${prompts[$i]}" >"$tmp/$b.out" 2>&1 &&
                head -n1 "$tmp/$b.out" | cmp -s - "$tmp/model"; then
                pass=$((pass + 1))
            else
                fail=$((fail + 1))
                echo "check-llm-backends: $b, --spatten $preset, prompt $i differs from model:" >&2
                head -n1 "$tmp/$b.out" >&2
                cat "$tmp/model" >&2
            fi
            echo -ne "\r$preset prompt $((i + 1))/${#prompts[@]} $b: $pass passed, $fail failed " >&2
        done
    done
done
echo >&2
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
