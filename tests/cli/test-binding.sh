#!/usr/bin/env bash
# test-binding.sh - the Python binding of liblbq.so (python/lbq: lbq.qdq, lbq.torch.quantize_states;
# docs/binding.md) bit for bit against `lbq quantize` on data/sample-late.h5 for every recipe, and the
# training-loop hook against the same loop with lbq.qdq applied by hand.  The work is in
# tests/binding/test_binding.py, run with Debian's /usr/bin/python3 (python3-torch, python3-h5py:
# scripts/setup.sh installs them); skipped (77) only without them or without liblbq.so.
source "$(dirname "$0")/lib.sh"
if [ -n "${LBQ_SANITIZE_BUILD:-}" ]; then
    skip_all "sanitizer build: python cannot load the ASan-instrumented liblbq.so (this test runs in the main build)"
fi
PY=${LBQ_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import torch, h5py, numpy' >/dev/null 2>&1; then
    skip_all "$PY cannot import torch, h5py and numpy (apt-get install python3-torch python3-h5py)"
fi
BUILD=${LBQ_BUILD:-$(dirname "$LBQ")}
if [ ! -e "$BUILD/liblbq.so.1" ] && [ -z "${LBQ_LIBRARY:-}" ]; then
    skip_all "no $BUILD/liblbq.so.1 (configured with -DLBQ_SHARED=OFF?)"
fi
LBQ="$LBQ" LBQ_SRC="$LBQ_SRC" LBQ_BUILD="$BUILD" OMP_NUM_THREADS=1 "$PY" "$LBQ_SRC/tests/binding/test_binding.py"
