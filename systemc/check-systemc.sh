#!/usr/bin/env bash
# Configure check of SystemC (systemc/systemc.mk runs it before building anything of systemc/):
# compiles and links a one-line sc_main with the project's C++ compiler and flags.
#   systemc/check-systemc.sh STAMP_DIR CXX CXXFLAGS...
# Prints "ok" when it links. Otherwise prints "no: WHY" (WHY names the problem: SystemC not
# installed, headers missing, or a C++ standard that differs from the one libsystemc was built
# with, which shows as an unresolved sc_api_version_* symbol). The result is cached in STAMP_DIR
# for the same compiler, flags and SystemC.
set -uo pipefail
stamp_dir=$1 cxx=$2
shift 2
flags="$*"
if ! pkg-config --exists systemc 2>/dev/null; then
    echo "no: SystemC not installed (pkg-config systemc: not found; Debian: libsystemc-dev)"
    exit 0
fi
sc_cflags=$(pkg-config --cflags systemc) sc_libs=$(pkg-config --libs systemc)
key="$cxx|$flags|$sc_cflags|$sc_libs|$(pkg-config --modversion systemc)"
mkdir -p "$stamp_dir"
if [ -f "$stamp_dir/key" ] && [ "$(cat "$stamp_dir/key")" = "$key" ] && [ -f "$stamp_dir/result" ]; then
    cat "$stamp_dir/result"
    exit 0
fi
src="$stamp_dir/check.cc" bin="$stamp_dir/check" log="$stamp_dir/check.log"
echo '#include <systemc>
int sc_main(int, char **) { return sc_core::sc_time_stamp() == sc_core::SC_ZERO_TIME ? 0 : 1; }' >"$src"
# shellcheck disable=SC2086
if $cxx $flags $sc_cflags -o "$bin" "$src" $sc_libs >"$log" 2>&1; then
    result=ok
elif grep -q 'sc_api_version_' "$log"; then
    libdir=$(pkg-config --variable=libdir systemc)
    lib=${libdir:+$libdir/libsystemc.so}
    [ -n "$lib" ] && [ -e "$lib" ] || lib=$($cxx -print-file-name=libsystemc.so)
    built=$(nm -D "$lib" 2>/dev/null | grep -o 'sc_api_version_[0-9_]*_cxx[0-9]*' | head -n1 |
        sed 's/.*_cxx//')
    case $built in 1997* | 1998*) want=c++98 ;; 2011*) want=c++11 ;; 2014*) want=c++14 ;;
    2017*) want=c++17 ;; 2020*) want=c++20 ;; *) want="?" ;; esac
    wanted=$(grep -o 'sc_api_version_[0-9_]*_cxx[0-9]*' "$log" | head -n1 | sed 's/.*_cxx//')
    std=$(echo "$flags" | grep -o -- '-std=[a-z+0-9]*' | tail -n1)
    result="no: C++ standard mismatch: $lib was built with -std=$want (__cplusplus ${built:-?}),"
    result+=" these flags use ${std:-the compiler default} (__cplusplus $wanted): compile SystemC"
    result+=" units with -std=$want (unresolved sc_api_version_*_cxx$wanted, see $log)"
elif grep -q 'systemc: No such file' "$log"; then
    result="no: SystemC headers not found with '$sc_cflags' (see $log)"
else
    result="no: a one-line sc_main does not build: $(grep -m1 -i error "$log") (see $log)"
fi
echo "$result" >"$stamp_dir/result"
echo "$key" >"$stamp_dir/key"
echo "$result"
