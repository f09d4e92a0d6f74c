#!/usr/bin/env bash
# test-import.sh - `lbq import` (docs/import.md).
#  1. where lbq finds its Python package and interpreter (no torch needed): an installed prefix
#     (<prefix>/bin/lbq + <prefix>/share/lbq/python), $LBQ_PYTHONPATH, a missing interpreter.
#  2. tests/import/test_import.py, run with Debian's /usr/bin/python3 (python3-torch, python3-h5py,
#     python3-torchvision; scripts/setup.sh installs them): real short training runs (the bundled
#     byte-level transformer, torchvision's resnet18) saved as nanoGPT ckpt.pt, a Hugging Face Trainer
#     directory (pytorch_model.bin or model.safetensors) and separate state dicts, imported and
#     compared bit for bit with the live optimizer states (bf16 and fp16 included); the ambiguous and
#     mismatched cases give their exact one-line errors; lbq quantize output loaded back into a torch
#     optimizer.  Skipped (77) only when those packages are missing.
source "$(dirname "$0")/lib.sh"

# ---- 1. package and interpreter lookup (a fake interpreter prints what it was given) ------------
FAKE=$T/fakepy
printf '#!/bin/sh\necho "PYTHONPATH=$PYTHONPATH"\necho "ARGS=$*"\n' >"$FAKE"
chmod +x "$FAKE"
mkdir -p "$T/prefix/bin" "$T/prefix/share/lbq/python"
cp "$LBQ" "$T/prefix/bin/lbq"
cp -r "$LBQ_SRC/python/lbq" "$T/prefix/share/lbq/python/"
LBQ_SAVED=$LBQ
LBQ=$T/prefix/bin/lbq
run_env LBQ_PYTHON="$FAKE" -- import ck.pt -o out.h5 --rule hf
check_rc "installed prefix: exit of the interpreter (0)" 0
check_eq "installed prefix: <prefix>/share/lbq/python first on PYTHONPATH" \
    "PYTHONPATH=$T/prefix/bin/../share/lbq/python" "$(sed -n 1p "$OUT")"
check_eq "installed prefix: python -m lbq.checkpoint with the options, then -- CKPT" \
    "ARGS=-m lbq.checkpoint --output out.h5 --rule hf -- ck.pt" "$(sed -n 2p "$OUT")"
LBQ=$LBQ_SAVED
run_env LBQ_PYTHON="$FAKE" LBQ_PYTHONPATH="$T/prefix/share/lbq/python" PYTHONPATH=/x -- import ck.pt -o out.h5
check_eq "LBQ_PYTHONPATH wins, an existing PYTHONPATH is kept after it" \
    "PYTHONPATH=$T/prefix/share/lbq/python:/x" "$(sed -n 1p "$OUT")"
run_env LBQ_PYTHON="$FAKE" LBQ_PYTHONPATH="$T/nowhere" -- import ck.pt -o out.h5
check_error_contract "LBQ_PYTHONPATH without the package" 1
check_grep "... names LBQ_PYTHONPATH" "set LBQ_PYTHONPATH" "$ERR"
run_env LBQ_PYTHON="$T/no-such-python" -- import ck.pt -o out.h5
check_error_contract "a missing interpreter" 1
check_grep "... names it and the packages" "no-such-python: No such file or directory .*python3-torch" "$ERR"
run import ck.pt
check_error_contract "no -o" 2
run import -o out.h5
check_error_contract "no CKPT" 2

# ---- 2. the real thing ------------------------------------------------------------------------------
PY=${LBQ_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import torch, h5py, torchvision' >/dev/null 2>&1; then
    echo "$N_PASS passed, $N_FAIL failed (lookup checks)"
    [ "$N_FAIL" -eq 0 ] || exit 1
    skip_all "$PY cannot import torch, h5py and torchvision (apt-get install python3-torch python3-h5py python3-torchvision)"
fi
if LBQ="$LBQ" LBQ_SRC="$LBQ_SRC" OMP_NUM_THREADS=2 "$PY" "$LBQ_SRC/tests/import/test_import.py"; then
    pass "tests/import/test_import.py"
else
    fail "tests/import/test_import.py (its FAIL lines above)"
fi
finish
