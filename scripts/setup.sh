#!/usr/bin/env bash
# Install the Debian packages lbq needs, if missing.  Usage: scripts/setup.sh [--with-python | --with-fuzz]
#   build/run: cmake gcc make pkg-config libhdf5-dev libcjson-dev gnuplot-nox
#   MPI build (-DLBQ_MPI=ON, make test-mpi): libopenmpi-dev openmpi-bin
#   for the test suite (lbq import, tests/cli/test-import.sh; Debian's /usr/bin/python3): python3-torch
#                python3-h5py python3-numpy python3-torchvision, installed by default; if they cannot be
#                installed, a note, not a failure (that test then skips itself).  LBQ_NO_PYTHON=1 skips them
#   --with-python: the same, required (a failure is an error): to regenerate data/ or run lbq import
#   --with-fuzz: clang and its libFuzzer runtime (libclang-rt-<version>-dev) for the fuzzers (make
#                test-fuzz, fuzz/README.md); if they cannot be installed, a note, not a failure: the
#                fuzz step of make test then skips itself
# The CUDA toolkit (nvcc) is used when present at /usr/local/cuda; it is not installed here.
set -euo pipefail
pkgs=(cmake gcc make libhdf5-dev libcjson-dev liblapacke-dev libopenblas-dev gnuplot-nox libopenmpi-dev openmpi-bin)
pypkgs=(python3-torch python3-h5py python3-numpy python3-torchvision)
if [ "${1:-}" = "--with-python" ]; then pkgs+=("${pypkgs[@]}"); fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
UPDATED=0
install() {     # install PKG...: apt-get update once, then the packages
    if [ $UPDATED = 0 ]; then $SUDO apt-get update -qq; UPDATED=1; fi
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}" >&2
    install "${missing[@]}"
fi

if [ "${1:-}" != "--with-python" ] && [ "${LBQ_NO_PYTHON:-0}" != 1 ]; then
    pymissing=()
    for p in "${pypkgs[@]}"; do installed "$p" || pymissing+=("$p"); done
    if [ ${#pymissing[@]} -gt 0 ]; then
        echo "setup: installing ${pymissing[*]} (for lbq import and its test; LBQ_NO_PYTHON=1 skips)" >&2
        install "${pymissing[@]}" || echo "setup: note: ${pymissing[*]} could not be installed; tests/cli/test-import.sh skips itself" >&2
    fi
fi

if [ "${1:-}" = "--with-fuzz" ]; then
    # libFuzzer links with clang -fsanitize=fuzzer; Debian ships its runtime in libclang-rt-N-dev
    # (only recommended by clang, so named here), older releases in libclang-common-N-dev
    fuzz_ok() {
        local d; d=$(mktemp -d)
        printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { (void)d; (void)n; return 0; }\n' > "$d/p.c"
        clang -fsanitize=fuzzer,address,undefined "$d/p.c" -o "$d/p" >/dev/null 2>&1
        local rc=$?; rm -rf "$d"; return $rc
    }
    if ! { command -v clang >/dev/null 2>&1 && fuzz_ok; }; then
        echo "setup: installing clang and its libFuzzer runtime (for the fuzzers)" >&2
        if ! { installed clang || install clang; }; then
            echo "setup: note: clang could not be installed; the fuzzers are skipped" >&2; exit 0
        fi
        v=$(clang -dumpversion 2>/dev/null | cut -d. -f1)
        if ! fuzz_ok && [ -n "$v" ] && apt-cache show "libclang-rt-$v-dev" >/dev/null 2>&1; then
            install "libclang-rt-$v-dev" || true
        fi
        fuzz_ok || echo "setup: note: clang cannot link -fsanitize=fuzzer; the fuzzers are skipped" >&2
    fi
fi
exit 0
