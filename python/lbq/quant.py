"""lbq.qdq: quantize-dequantize one tensor with an lbq quantizer spec (liblbq.so through ctypes).

    import lbq
    vhat = lbq.qdq(v, "block128-dtree:b4", role="v")                 # a new tensor
    vhat, st = lbq.qdq(v, "rank1-linear:b4", role="v", stats=True)   # plus per-call statistics
    lbq.qdq(v, "block128-log:b2:sr", role="v", seed=1, step=10, inplace=True)

The values are bit for bit those of `lbq quantize` on a moment file holding the same tensor:
    lbq quantize F.h5 --quant-v SPEC --seed lbq.step_seed(seed, step)
(step < 0, the default, uses `seed` itself).  Works on torch tensors (torch 1.13 and >= 2) and on
numpy arrays; float32 C-contiguous CPU tensors are handed over without a copy, other dtypes are
quantized as a float32 copy and converted back.  CUDA tensors are quantized on their GPU by the
library's device entry (lbq_ffi_qdq_device, the same kernels as `lbq --device cuda`, on the current
stream) when liblbq.so was built with CUDA; otherwise through host memory (one warning saying why).
"""
from __future__ import annotations

import warnings

from . import _native

_warned = set()


def _warn_once(key: str, msg: str):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(msg, RuntimeWarning, stacklevel=3)


def _is_torch(x) -> bool:
    return type(x).__module__.startswith("torch")


def qdq(x, spec: str, role="m", seed: int = 0, step: int = -1, inplace: bool = False, stats: bool = False,
        codes: bool = False):
    """Quantize-dequantize x (torch tensor or numpy array) with quantizer `spec` for role 'm' or 'v'.

    Returns the dequantized tensor (x itself with inplace=True), then, if asked, a dict of
    statistics (stats=True: plan, bits, zeroed, lifted, nonfinite, rel_l2, codes_used, code_hist)
    and the codes as uint8, one per element (codes=True).
    """
    if _is_torch(x):
        return _qdq_torch(x, spec, role, seed, step, inplace, stats, codes)
    import numpy as np
    a = np.asarray(x)
    if a.dtype != np.float32 or not a.flags.c_contiguous:
        if inplace:
            raise ValueError("lbq.qdq: inplace=True needs a C-contiguous float32 array")
        a = np.ascontiguousarray(a, dtype=np.float32)
    out = a if inplace else np.empty_like(a)
    cd = np.empty(a.shape, dtype=np.uint8) if codes else None
    st = _native.qdq_ptr(spec, role, a.shape, a.ctypes.data, out.ctypes.data,
                         cd.ctypes.data if codes else 0, seed, step, stats)
    return _result(out, st, cd, stats, codes)


def _result(out, st, cd, stats, codes):
    res = [out]
    if stats:
        res.append(st.as_dict(hist=True))
    if codes:
        res.append(cd)
    return res[0] if len(res) == 1 else tuple(res)


def _qdq_cuda(x, src, spec, role, seed, step, inplace, stats, codes):
    """A CUDA tensor through the device entry: no host copy; the current stream of its device."""
    import torch
    if src.dtype != torch.float32:
        _warn_once("dtype:" + str(src.dtype), f"lbq.qdq: {src.dtype} tensors are quantized as a float32 copy and "
                   "the result is rounded back to that dtype")
    direct = src.dtype == torch.float32 and src.is_contiguous()
    work = src if direct else src.to(dtype=torch.float32).contiguous()
    out = work if (direct and inplace) else torch.empty_like(work)
    cd = torch.empty(work.shape, dtype=torch.uint8, device=work.device) if codes else None
    stream = torch.cuda.current_stream(work.device).cuda_stream
    st = _native.qdq_device_ptr(spec, role, tuple(work.shape), work.data_ptr(), out.data_ptr(),
                                cd.data_ptr() if codes else 0, seed, step, stream, stats)
    if inplace:
        if out is not src:
            src.copy_(out)
        out = x
    elif not direct:
        out = out.to(dtype=src.dtype)
    return _result(out, st, cd, stats, codes)


def _qdq_torch(x, spec, role, seed, step, inplace, stats, codes):
    import torch
    if x.requires_grad and inplace:
        raise ValueError("lbq.qdq: inplace on a tensor that requires grad")
    with torch.no_grad():
        src = x.detach()
        on_host = src.device.type == "cpu"
        if src.device.type == "cuda":
            ok, why = _native.device_available()
            if ok:
                return _qdq_cuda(x, src, spec, role, seed, step, inplace, stats, codes)
            _warn_once("device", f"lbq.qdq: {src.device} tensors are quantized through host memory ({why}); "
                       "copies cost time")
        elif not on_host:
            _warn_once("device", f"lbq.qdq: {src.device} tensors are quantized through host memory "
                       "(the device entry takes CUDA memory only); copies cost time")
        if src.dtype != torch.float32:
            _warn_once("dtype:" + str(src.dtype), f"lbq.qdq: {src.dtype} tensors are quantized as a float32 copy and "
                       "the result is rounded back to that dtype")
        direct = on_host and src.dtype == torch.float32 and src.is_contiguous()
        work = src if direct else src.to(device="cpu", dtype=torch.float32).contiguous()
        if direct and inplace:
            out = work
        else:
            out = torch.empty_like(work)
        cd = torch.empty(work.shape, dtype=torch.uint8) if codes else None
        st = _native.qdq_ptr(spec, role, tuple(work.shape), work.data_ptr(), out.data_ptr(),
                             cd.data_ptr() if codes else 0, seed, step, stats)
        if inplace:
            if out is not src:
                src.copy_(out)          # back to the device / dtype / layout of x
            out = x
        elif not direct:
            out = out.to(device=src.device, dtype=src.dtype)
    return _result(out, st, cd, stats, codes)
