"""lbq's Python side (run with Debian's /usr/bin/python3; needs python3-torch, python3-h5py).

Modules (import them directly; this file stays minimal):
  lbq.checkpoint   `lbq import`: checkpoint (nanoGPT ckpt.pt, HF Trainer directory, separate
                   state dict files) -> lbq moment file; `/usr/bin/python3 -m lbq.checkpoint --help`
  lbq.moments      the moment-file writer (dump_moments, GradRecorder, verify)
  lbq.safetensors  a reader/writer of the safetensors format without the safetensors package
  lbq.resume       load `lbq quantize` output back into a torch optimizer's state
See docs/import.md.
"""

# ---- in the training loop (issue 19; docs/binding.md): liblbq.so through ctypes -----------------
# lbq.qdq(tensor, spec, role="m"|"v")        one tensor, bit for bit `lbq quantize`
# lbq.torch.quantize_states(optimizer, ...)  Adam's states quantized after every step
# lbq.step_seed, lbq.recipes, lbq.recipe, lbq.keeps_fp32, lbq.check_spec, lbq.LbqError
# Nothing here imports torch or loads the library until it is used.
import sys as _sys

from . import torch_hook as torch  # noqa: E402  (lbq.torch; torch itself is imported on first use)
from ._native import LbqError, keeps_fp32, recipe, recipes, step_seed  # noqa: E402
from ._native import check as check_spec  # noqa: E402
from .quant import qdq  # noqa: E402

_sys.modules[__name__ + ".torch"] = torch       # `import lbq.torch` / `from lbq.torch import ...`
del _sys
