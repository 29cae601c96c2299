#!/usr/bin/env bash
# Installs what spatten-kit needs on Debian 12, idempotently. Quiet when everything is present;
# otherwise says what it installs. Fails naming what is missing or too old.
#   scripts/bootstrap.sh            tools and libraries for build, test and lint
#   scripts/bootstrap.sh --model    also fetch the default GGUF model into the cache
#   scripts/bootstrap.sh --fuzz     also clang with libFuzzer (make fuzz)
set -euo pipefail

want_model=0
want_fuzz=0
for arg in "$@"; do
    case "$arg" in
    --model) want_model=1 ;;
    --fuzz) want_fuzz=1 ;;
    -h | --help)
        sed -n '2,6p' "$0"
        exit 0
        ;;
    *)
        echo "bootstrap: unknown option '$arg'" >&2
        exit 2
        ;;
    esac
done

# Debian packages the kit builds, tests and lints with.
packages=(
    build-essential pkg-config make git unzip time python3 python3-pip python3-numpy python3-matplotlib
    lcov libxml2-utils
    clang-format cppcheck clang-tidy
    verilator iverilog yosys nextpnr-ice40 fpga-icestorm
    libsystemc-dev libelf-dev libgtest-dev zlib1g-dev
    gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf
)
# libFuzzer comes with clang's runtime package.
((want_fuzz)) && packages+=(clang libclang-rt-14-dev)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if ((${#missing[@]})); then
    echo "bootstrap: installing ${missing[*]}"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    if ! $sudo apt-get install -y -qq "${missing[@]}" >/tmp/spk-bootstrap-apt.log 2>&1; then
        $sudo apt-get update -qq >>/tmp/spk-bootstrap-apt.log 2>&1
        $sudo apt-get install -y -qq "${missing[@]}" >>/tmp/spk-bootstrap-apt.log 2>&1 || {
            echo "bootstrap: apt-get failed; see /tmp/spk-bootstrap-apt.log" >&2
            exit 1
        }
    fi
fi

# Minimum versions the kit is written against (Debian 12's).
version_at_least() { [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n1)" = "$2" ]; }
check_version() { # name have want
    if ! version_at_least "$2" "$3"; then
        echo "bootstrap: $1 $2 is older than the required $3" >&2
        exit 1
    fi
}
check_version verilator "$(verilator --version | awk '{print $2}')" 5.006
check_version gcc "$(gcc -dumpfullversion)" 12
check_version gtest "$(pkg-config --modversion gtest)" 1.12
for tool in riscv64-unknown-elf-gcc iverilog yosys nextpnr-ice40 icepack clang-format cppcheck; do
    command -v "$tool" >/dev/null || {
        echo "bootstrap: '$tool' is missing after installation" >&2
        exit 1
    }
done

if ((want_model)); then
    exec "$(dirname "$0")/fetch-model.sh"
fi
