"""Back into PyTorch: load `lbq quantize`'s output (or any moment file) into an optimizer's state.

    import torch, sys; sys.path.insert(0, "<repo>/python")      # or PYTHONPATH=<repo>/python
    from lbq.resume import load_quantized
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    info = load_quantized("q.h5", opt, model)       # exp_avg/exp_avg_sq <- the dequantized states
    # train on: opt.step() continues from the quantized states

load_quantized(path, optimizer, model=None, names=None, mode="dequantized", dtype=None, strict=True)
  names    instead of model: a dict param -> name, or a list of names in the optimizer's parameter
           order (param_groups flattened, as in the optimizer's state-dict indices)
  mode     "dequantized": state["exp_avg"], state["exp_avg_sq"] = the file's dequantized float32
                          states (converted to `dtype`, default the parameter's dtype, as torch's
                          Adam keeps them); state["step"] = the file's root `step`
           "packed":      the same, plus for each quantized state s the packed form:
                          state[s + ".codes"] (uint8), state[s + ".scales"] (float32),
                          state[s + ".params"] (float32, if any) and state[s + ".qattrs"] (dict of the
                          dataset attributes: spec, norm, map, bits, block, signed, code_order);
                          dequantize(...) below rebuilds the states from them
  strict   every parameter with a gradient must have a group in the file (else KeyError); the
           shapes must agree (always checked)
Returns a dict: loaded (names), missing (params without a group), step, config.

dequantize(codes, scales, qattrs, shape, levels, params=None) rebuilds the float32 state from the
packed form, bit for bit with lbq's dequantized output for the table maps (dtree, dtree0, linear,
uniform, linsq, file) under block, tensor, row, col and rank1 normalizations, fp8e4m3/fp8e5m2
without :dre, and log (docs/format.md, "Quantized files").  `levels` is the map's level table:
levels_from_lbq(map, bits, signed) asks `lbq list --json`.
"""

from __future__ import annotations

import functools
import json
import subprocess
from typing import Dict, Optional, Sequence

import h5py
import numpy as np
import torch

__all__ = ["load_quantized", "dequantize", "unpack_codes", "levels_from_lbq"]


def _attrs(ds) -> dict:
    out = {}
    for k, v in ds.attrs.items():
        if isinstance(v, bytes):
            v = v.decode("ascii", "replace")
        elif isinstance(v, np.generic):
            v = v.item()
        out[k] = v
    return out


def unpack_codes(packed: np.ndarray, n: int, bits: int) -> np.ndarray:
    """lbq's lsb-first bit stream -> n codes (element i at bits [i*bits, (i+1)*bits))."""
    bitstream = np.unpackbits(np.asarray(packed, dtype=np.uint8), bitorder="little")[: n * bits]
    w = (1 << np.arange(bits)).astype(np.uint16)
    return (bitstream.reshape(n, bits).astype(np.uint16) * w).sum(axis=1).astype(np.uint16)


@functools.lru_cache(maxsize=None)
def levels_from_lbq(map_name: str, bits: int, signed: bool, lbq: str = "lbq") -> np.ndarray:
    """The map's ascending level table as lbq uses it (float32), from `lbq list --json --bits b`."""
    out = subprocess.run([lbq, "list", "--json", "--bits", str(bits)], check=True, capture_output=True,
                         text=True).stdout
    m = next(m for m in json.loads(out)["maps"] if m["name"] == map_name)
    return np.array(m["levels_signed" if signed else "levels_unsigned"], dtype=np.float32)


def _fp8_value(codes: np.ndarray, e5m2: bool) -> np.ndarray:
    c = codes.astype(np.int64)
    if e5m2:
        s, e, man, mb, bias = c >> 7, (c >> 2) & 31, c & 3, 2, 15
    else:
        s, e, man, mb, bias = c >> 7, (c >> 3) & 15, c & 7, 3, 7
    man_f = man.astype(np.float64) / (1 << mb)
    v = np.where(e == 0, man_f * 2.0 ** (1 - bias), (1.0 + man_f) * np.exp2(e.astype(np.float64) - bias))
    return (np.where(s == 1, -v, v)).astype(np.float32)


def dequantize(codes_packed: np.ndarray, scales: np.ndarray, qattrs: dict, shape: Sequence[int],
               levels: Optional[np.ndarray] = None, params: Optional[np.ndarray] = None) -> np.ndarray:
    """Rebuild a dequantized float32 state from lbq quantize's packed codes and scales."""
    shape = tuple(int(d) for d in shape)
    n = int(np.prod(shape)) if shape else 1
    bits, norm, mp = int(qattrs["bits"]), qattrs["norm"], qattrs["map"]
    if "dre" in str(qattrs.get("spec", "")).split(":"):
        raise ValueError("fp8 :dre states are not rebuilt bit for bit (lbq's own exp2/log2); use the dequantized dataset")
    codes = unpack_codes(codes_packed, n, bits)
    scales = np.asarray(scales, dtype=np.float32)
    # the scale of every element
    if norm == "block":
        B = int(qattrs["block"])
        s = np.repeat(scales, B)[:n]
    elif norm == "tensor":
        s = np.full(n, scales[0], dtype=np.float32)
    elif norm == "row":
        s = np.repeat(scales, n // shape[0])
    elif norm == "col":
        s = np.tile(scales, n // shape[1]) if len(shape) == 2 else \
            np.broadcast_to(scales.reshape((1, shape[1]) + (1,) * (len(shape) - 2)), shape).ravel()
    elif norm == "rank1":
        S, o = None, 0
        for d, size in enumerate(shape):
            m = scales[o:o + size].reshape((1,) * d + (size,) + (1,) * (len(shape) - d - 1))
            S = m if S is None else np.minimum(S, m)
            o += size
        s = np.broadcast_to(S, shape).ravel()
    else:
        raise ValueError(f"unknown normalization {norm!r}")
    if mp in ("fp8e4m3", "fp8e5m2"):
        fmax = np.float32(57344.0 if mp == "fp8e5m2" else 448.0)
        if norm != "block":
            s = s / fmax
        x = _fp8_value(codes, mp == "fp8e5m2") * s
    elif mp == "log":
        if params is None or norm != "block":
            raise ValueError("log map: needs the per-block params (alpha) under block normalization")
        B = int(qattrs["block"])
        alpha = np.asarray(params, dtype=np.float32).reshape(-1)
        nb = len(alpha)
        L = np.empty((nb, 1 << bits), dtype=np.float32)
        L[:, 0] = 1.0
        for k in range(1, 1 << bits):
            L[:, k] = L[:, k - 1] * alpha
        blk = np.minimum(np.arange(n) // B, nb - 1)
        x = L[blk, codes] * s
    else:
        if levels is None:
            raise ValueError(f"map {mp!r}: give the level table (levels_from_lbq)")
        x = np.asarray(levels, dtype=np.float32)[codes] * s
    return np.asarray(x, dtype=np.float32).reshape(shape)


def load_quantized(path, optimizer, model=None, names=None, mode: str = "dequantized",
                   dtype: Optional[torch.dtype] = None, strict: bool = True) -> dict:
    if mode not in ("dequantized", "packed"):
        raise ValueError("mode must be 'dequantized' or 'packed'")
    params = [p for g in optimizer.param_groups for p in g["params"]]
    if model is not None:
        by_param = {}
        for n, p in model.named_parameters():
            by_param.setdefault(p, n)
    elif isinstance(names, dict):
        by_param = dict(names)
    elif names is not None:
        if len(names) != len(params):
            raise ValueError(f"{len(names)} names for {len(params)} optimizer parameters")
        by_param = dict(zip(params, names))
    else:
        raise ValueError("give model= or names=")
    loaded, missing = [], []
    with h5py.File(path, "r") as f:
        step = int(f.attrs["step"]) if "step" in f.attrs else None
        config = f.attrs.get("config", b"")
        config = config.decode() if isinstance(config, bytes) else str(config)
        for p in params:
            name = by_param.get(p)
            if name is None or name not in f or "exp_avg" not in f[name]:
                if p.requires_grad:
                    missing.append(name)
                continue
            g = f[name]
            st = optimizer.state[p]
            for s in ("exp_avg", "exp_avg_sq"):
                ds = g[s]
                if tuple(ds.shape) != tuple(p.shape):
                    raise ValueError(f"{path}: '{name}/{s}' has shape {list(ds.shape)}, the parameter {list(p.shape)}")
                t = torch.from_numpy(np.ascontiguousarray(ds[...], dtype=np.float32))
                st[s] = t.to(device=p.device, dtype=dtype or p.dtype)
                if mode == "packed" and _attrs(ds).get("quantized") == 1:
                    st[s + ".codes"] = torch.from_numpy(g[s + ".codes"][...])
                    st[s + ".scales"] = torch.from_numpy(g[s + ".scales"][...])
                    if s + ".params" in g:
                        st[s + ".params"] = torch.from_numpy(g[s + ".params"][...])
                    st[s + ".qattrs"] = _attrs(ds)
            if step is not None:
                old = st.get("step")
                st["step"] = torch.tensor(float(step)) if old is None or isinstance(old, torch.Tensor) else step
            loaded.append(name)
    if strict and missing:
        raise KeyError(f"{path}: no states for {len(missing)} parameter(s), first '{missing[0]}'")
    return dict(loaded=loaded, missing=missing, step=step, config=config)
