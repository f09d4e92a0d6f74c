#!/usr/bin/env bash
# test-import.sh - `lbq import` (docs/import.md): real short training runs (the bundled byte-level
# transformer, torchvision's resnet18) saved as nanoGPT ckpt.pt, a Hugging Face Trainer directory
# (pytorch_model.bin or model.safetensors) and separate state dicts, imported and compared bit for bit
# with the live optimizer states (bf16 and fp16 included); the ambiguous and mismatched cases give
# their exact one-line errors; lbq quantize output loaded back into a torch optimizer.
# The work is in tests/import/test_import.py, run with Debian's /usr/bin/python3 (python3-torch,
# python3-h5py, python3-torchvision: scripts/setup.sh installs them); skipped (77) only without them.
source "$(dirname "$0")/lib.sh"
PY=${LBQ_PYTHON:-/usr/bin/python3}
if ! "$PY" -c 'import torch, h5py, torchvision' >/dev/null 2>&1; then
    skip_all "$PY cannot import torch, h5py and torchvision (apt-get install python3-torch python3-h5py python3-torchvision)"
fi
LBQ="$LBQ" LBQ_SRC="$LBQ_SRC" OMP_NUM_THREADS=2 "$PY" "$LBQ_SRC/tests/import/test_import.py"
