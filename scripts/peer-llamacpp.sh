#!/usr/bin/env bash
# Builds the peer, llama.cpp, from the llama-cpp-python source package on PyPI, and runs it on the
# same model and text as spk-llm. The build is cached; rerunning only runs the tools.
#   scripts/peer-llamacpp.sh build                 download + build into the cache (idempotent)
#   scripts/peer-llamacpp.sh tokenize FILE         token ids of FILE, one per line
#   scripts/peer-llamacpp.sh perplexity FILE [CTX] perplexity of FILE (llama.cpp protocol)
#   scripts/peer-llamacpp.sh bench                 llama-bench prompt/generation tokens/s
#   scripts/peer-llamacpp.sh compare [SPK_LLM]     spk-llm bench and llama-bench side by side
#                                                  (same model, threads, pp128/tg64), peak RSS
# Env: SPK_CACHE (default ~/.cache/spatten-kit), SPK_MODEL (default: the cached default model),
#      LLAMA_CPP_PYTHON_VERSION (default 0.3.36), THREADS (default 2), CHUNKS (perplexity).
set -euo pipefail

cache="${SPK_CACHE:-$HOME/.cache/spatten-kit}"
version="${LLAMA_CPP_PYTHON_VERSION:-0.3.36}"
peer="$cache/llama.cpp-$version"
bin="$peer/build/bin"
model="${SPK_MODEL:-$cache/SmolLM2-135M-Instruct.Q4_1.gguf}"
threads="${THREADS:-2}"
PYTHON="${PYTHON:-/usr/bin/python3}"

build() {
    if [ -x "$bin/llama-perplexity" ] && [ -x "$bin/llama-tokenize" ] && [ -x "$bin/llama-bench" ]; then
        return 0
    fi
    mkdir -p "$peer"
    if [ ! -f "$peer/src/CMakeLists.txt" ]; then
        local tmp
        tmp="$(mktemp -d)"
        echo "peer-llamacpp: downloading llama-cpp-python==$version (source) from PyPI" >&2
        "$PYTHON" -m pip download --quiet --no-deps --no-binary :all: --dest "$tmp" \
            "llama-cpp-python==$version" >&2
        tar -xzf "$tmp"/llama_cpp_python-"$version".tar.gz -C "$tmp"
        rm -rf "$peer/src"
        mv "$tmp/llama_cpp_python-$version/vendor/llama.cpp" "$peer/src"
        rm -rf "$tmp"
    fi
    echo "peer-llamacpp: building llama.cpp (takes a while on 2 cores)" >&2
    cmake -S "$peer/src" -B "$peer/build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_CURL=OFF \
        -DBUILD_SHARED_LIBS=OFF -DGGML_NATIVE=ON >"$peer/cmake.log" 2>&1
    cmake --build "$peer/build" -j "$threads" --target llama-perplexity llama-tokenize llama-bench \
        >"$peer/build.log" 2>&1 || {
        echo "peer-llamacpp: build failed; see $peer/build.log" >&2
        exit 1
    }
}

need_model() {
    [ -f "$model" ] || {
        echo "peer-llamacpp: model $model is missing; run scripts/bootstrap.sh --model" >&2
        exit 1
    }
}

cmd="${1:-build}"
shift || true
case "$cmd" in
build) build ;;
tokenize)
    build && need_model
    "$bin/llama-tokenize" -m "$model" -f "$1" --ids --log-disable --no-bos --no-escape --no-parse-special 2>/dev/null |
        tr -d '[],' | tr ' ' '\n' | sed '/^$/d'
    ;;
perplexity)
    build && need_model
    # CHUNKS limits the number of chunks (all by default), as spk-llm's --chunks does.
    "$bin/llama-perplexity" -m "$model" -f "$1" -c "${2:-512}" -t "$threads" -b 512 \
        ${CHUNKS:+--chunks "$CHUNKS"}
    ;;
bench)
    build && need_model
    "$bin/llama-bench" -m "$model" -t "$threads" -p 128 -n 64 -o md
    ;;
compare)
    build && need_model
    spk="${1:-build/bin/spk-llm}"
    [ -x "$spk" ] || {
        echo "peer-llamacpp: $spk not built (make build/bin/spk-llm)" >&2
        exit 1
    }
    rss() { # peak RSS in MB of a command, its stdout kept
        local f
        f="$(mktemp)"
        # The command's own RSS line (spk-llm prints one) is dropped: both are measured alike.
        /usr/bin/time -f %M -o "$f" "$@" | grep -v '^peak RSS'
        echo "peak RSS $(($(cat "$f") / 1024)) MB"
        rm -f "$f"
    }
    echo "== spk-llm ($threads threads)"
    rss "$spk" bench -m "$model" -t "$threads" --prompt-tokens 128 -n 64 -r 3
    echo "== llama.cpp llama-bench ($threads threads)"
    rss "$bin/llama-bench" -m "$model" -t "$threads" -p 128 -n 64 -r 3 -o md 2>/dev/null |
        grep -E '^\| (model|llama)|^peak'
    ;;
*)
    sed -n '2,12p' "$0" >&2
    exit 2
    ;;
esac
