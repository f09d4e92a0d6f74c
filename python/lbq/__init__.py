"""lbq's Python side (run with Debian's /usr/bin/python3; needs python3-torch, python3-h5py).

Modules (import them directly; this file stays minimal):
  lbq.checkpoint   `lbq import`: checkpoint (nanoGPT ckpt.pt, HF Trainer directory, separate
                   state dict files) -> lbq moment file; `/usr/bin/python3 -m lbq.checkpoint --help`
  lbq.moments      the moment-file writer (dump_moments, GradRecorder, verify)
  lbq.safetensors  a reader/writer of the safetensors format without the safetensors package
  lbq.resume       load `lbq quantize` output back into a torch optimizer's state
See docs/import.md.
"""
