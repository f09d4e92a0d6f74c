"""Dump PyTorch Adam/AdamW optimizer moments to an lbq moment file (HDF5).

lbq moment-file format, version 1 (see docs/format.md for the full spec):

  /                          root attributes:
                               lbq_format    int64   = 1
                               step          int64   optimizer step count at the dump
                               beta1, beta2, eps, lr, weight_decay   float64
                               optimizer     string  e.g. "AdamW"
                               source        string  free-form description of the run
                               torch_version string
  /<param name>/             one group per parameter; the PyTorch dotted name is used
                             as a single group name at the root, e.g.
                             "/blocks.0.attn.qkv.weight"
      exp_avg      float32, shape = param.shape            (Adam m)
      exp_avg_sq   float32, shape = param.shape            (Adam v)
                   attribute orig_dtype (string): the state's dtype in the optimizer
                   ("float32", "bfloat16", "float16", "float64") before conversion
      param        float32, shape = param.shape            (optional)
      grads        float32, shape = [T, *param.shape]      (optional, oldest first)

String attributes are written as scalar fixed-length ASCII strings, null-terminated
(H5T_C_S1, size = len + 1, H5T_STR_NULLTERM), the same type lbq's C writer uses.

Usage as a library:

    import sys; sys.path.insert(0, "python")       # or PYTHONPATH=<repo>/python
    from lbq.moments import dump_moments, GradRecorder
    rec = GradRecorder(["blocks.0.attn.qkv.weight"], T=32)
    for step in ...:
        loss.backward(); rec.record(model); opt.step(); opt.zero_grad()
    dump_moments("moments.h5", model, opt, grads=rec, source="my run")

Usage as a script (list and validate existing moment files):
    /usr/bin/python3 -m lbq.moments data/sample-late.h5      (PYTHONPATH=<repo>/python)
    /usr/bin/python3 experiments/dump/lbq_dump.py data/sample-late.h5   (the same, kept for old scripts)
"""

from __future__ import annotations

import collections
import os
import tempfile
import warnings
from typing import Dict, Iterable, Mapping, Optional, Union

try:
    import h5py
    import numpy as np
    import torch
except ImportError as _e:  # say what to install, and which interpreter has it
    import sys as _sys
    raise ImportError(
        f"lbq.moments needs PyTorch, h5py and NumPy ({_e}). This interpreter is {_sys.executable}. "
        "On Debian/Ubuntu: apt-get install python3-torch python3-h5py python3-numpy, "
        "then run /usr/bin/python3 (another python3 earlier on PATH does not see Debian's packages)."
    ) from _e

LBQ_FORMAT_VERSION = 1

__all__ = ["dump_moments", "GradRecorder", "verify", "MomentWriter", "dtype_name", "LBQ_FORMAT_VERSION"]


def dtype_name(t: torch.Tensor) -> str:
    """'float32', 'bfloat16', 'float16', 'float64' (the orig_dtype attribute's values)."""
    return str(t.dtype).replace("torch.", "")


def _f32(t: torch.Tensor) -> np.ndarray:
    """Tensor (any float dtype, any device) -> contiguous float32 numpy array."""
    return np.ascontiguousarray(t.detach().to(device="cpu", dtype=torch.float32).numpy())


def _write_str_attr(obj, name: str, value: str) -> None:
    """Scalar fixed-length ASCII string attribute, null-terminated (size = len + 1).

    This is the same HDF5 type lbq's C writer uses (H5T_C_S1, H5T_STR_NULLTERM), so a
    C reader can H5Aread it straight into a char buffer. Non-ASCII becomes '?'.
    """
    b = str(value).encode("ascii", errors="replace")
    t = h5py.h5t.C_S1.copy()
    t.set_size(len(b) + 1)
    t.set_strpad(h5py.h5t.STR_NULLTERM)
    t.set_cset(h5py.h5t.CSET_ASCII)
    if h5py.h5a.exists(obj.id, name.encode()):
        h5py.h5a.delete(obj.id, name.encode())
    a = h5py.h5a.create(obj.id, name.encode(), t, h5py.h5s.create(h5py.h5s.SCALAR))
    a.write(np.array(b, dtype=f"S{len(b) + 1}"))


class GradRecorder:
    """Keep the last T gradients of a few chosen parameters (ring buffer, oldest first).

    Call ``record(model)`` after ``loss.backward()`` (before ``optimizer.zero_grad()``)
    each step, then pass the recorder as ``grads=`` to :func:`dump_moments`.
    A parameter whose ``.grad`` is None at a step is recorded as zeros, so all
    chosen parameters always have the same number of entries.
    """

    def __init__(self, names: Iterable[str], T: int = 32):
        self.names = list(names)
        if T < 1:
            raise ValueError("T must be >= 1")
        self.T = int(T)
        self._buf: Dict[str, collections.deque] = {
            n: collections.deque(maxlen=self.T) for n in self.names
        }
        self.steps_recorded = 0

    def record(self, model: torch.nn.Module) -> None:
        params = dict(model.named_parameters())
        missing = [n for n in self.names if n not in params]
        if missing:
            raise KeyError(f"GradRecorder: parameters not in model: {missing}")
        for n in self.names:
            p = params[n]
            g = p.grad
            if g is None:
                a = np.zeros(tuple(p.shape), dtype=np.float32)
            else:
                if g.is_sparse:
                    g = g.to_dense()
                a = _f32(g).copy()
            self._buf[n].append(a)
        self.steps_recorded += 1

    def __len__(self) -> int:
        return min(self.steps_recorded, self.T)

    def grads(self) -> Dict[str, np.ndarray]:
        """name -> float32 array [T_recorded, *param.shape], oldest first."""
        return {n: np.stack(list(d), axis=0) for n, d in self._buf.items() if len(d) > 0}


def _grads_dict(grads) -> Dict[str, np.ndarray]:
    if grads is None:
        return {}
    if isinstance(grads, GradRecorder):
        return grads.grads()
    out = {}
    for n, g in grads.items():
        if isinstance(g, torch.Tensor):
            out[n] = _f32(g)
        elif isinstance(g, (list, tuple)):
            out[n] = np.stack([_f32(x) if isinstance(x, torch.Tensor) else np.asarray(x, np.float32)
                               for x in g], axis=0)
        else:
            out[n] = np.ascontiguousarray(np.asarray(g, dtype=np.float32))
    return out


def _hyper(optimizer) -> dict:
    groups = optimizer.param_groups
    g0 = groups[0]
    keys = ("lr", "betas", "eps", "weight_decay")
    for g in groups[1:]:
        for k in keys:
            if k in g and g.get(k) != g0.get(k):
                warnings.warn(
                    f"lbq_dump: param groups differ in {k!r}; the file records the "
                    f"first group's value ({g0.get(k)!r})")
    beta1, beta2 = g0.get("betas", (float("nan"), float("nan")))
    return dict(
        beta1=float(beta1), beta2=float(beta2),
        eps=float(g0.get("eps", float("nan"))),
        lr=float(g0.get("lr", float("nan"))),
        weight_decay=float(g0.get("weight_decay", 0.0)),
    )


def _state_step(st) -> Optional[int]:
    s = st.get("step")
    if s is None:
        return None
    if isinstance(s, torch.Tensor):
        return int(s.item())
    return int(s)


def dump_moments(path: Union[str, os.PathLike], model: torch.nn.Module, optimizer,
                 step: Optional[int] = None, grads=None, compression=None,
                 *, source: str = "", params: Union[bool, Iterable[str]] = True,
                 grads_compression="same", compression_opts: Optional[int] = None) -> dict:
    """Write the Adam/AdamW state of ``optimizer`` for ``model`` to an lbq moment file.

    path         output file; written to a temp file in the same directory and
                 atomically os.replace()d into place.
    step         optimizer step count stored in the root attr ``step``; default:
                 the max ``state['step']`` over the dumped parameters.
    grads        optional GradRecorder, or mapping name -> [T, *shape] array/tensor
                 (oldest first). Stored as dataset ``grads``.
    compression  h5py compression for all datasets (e.g. "gzip"); None = contiguous.
    grads_compression  compression for the ``grads`` datasets only ("same" = as above).
    compression_opts   gzip level (default 4 when gzip).
    source       free-form string stored in the root attr ``source``.
    params       True: store ``param`` for every dumped parameter; False: none;
                 iterable of names: only those.

    Parameters without optimizer state (or without exp_avg/exp_avg_sq) and 0-d
    parameters are skipped. Returns a summary dict (params, elements, bytes, ...).
    """
    path = os.fspath(path)
    if grads_compression == "same":
        grads_compression = compression
    gdict = _grads_dict(grads)
    if params is True:
        param_sel = None  # all
    elif params is False or params is None:
        param_sel = set()
    else:
        param_sel = set(params)

    hyper = _hyper(optimizer)
    state = optimizer.state

    def ds_kwargs(comp, arr, per_step=False):
        if comp is None or arr.ndim == 0 or arr.size == 0:
            return {}
        chunks = True
        if per_step and arr.ndim >= 2 and arr[0].nbytes <= (1 << 20):
            chunks = (1,) + arr.shape[1:]  # one chunk per time step: cheap to read grads[t]
        kw = dict(compression=comp, chunks=chunks)
        if comp == "gzip":
            kw["compression_opts"] = 4 if compression_opts is None else compression_opts
            kw["shuffle"] = True
        elif compression_opts is not None:
            kw["compression_opts"] = compression_opts
        return kw

    d = os.path.dirname(os.path.abspath(path))
    os.makedirs(d, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=d)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; use normal file permissions
    n_params = 0
    n_elems = 0
    steps = []
    skipped = []
    written_grads = []
    try:
        with h5py.File(tmp, "w") as f:
            for name, p in model.named_parameters():
                st = state.get(p)
                if not st or "exp_avg" not in st or "exp_avg_sq" not in st:
                    skipped.append(name)
                    continue
                if p.dim() == 0:
                    skipped.append(name)
                    continue
                shape = tuple(p.shape)
                m = _f32(st["exp_avg"])
                v = _f32(st["exp_avg_sq"])
                if m.shape != shape or v.shape != shape:
                    raise ValueError(f"{name}: state shape {m.shape}/{v.shape} != param {shape}")
                grp = f.create_group(name)
                grp.create_dataset("exp_avg", data=m, **ds_kwargs(compression, m))
                grp.create_dataset("exp_avg_sq", data=v, **ds_kwargs(compression, v))
                _write_str_attr(grp["exp_avg"], "orig_dtype", dtype_name(st["exp_avg"]))
                _write_str_attr(grp["exp_avg_sq"], "orig_dtype", dtype_name(st["exp_avg_sq"]))
                if param_sel is None or name in param_sel:
                    a = _f32(p)
                    grp.create_dataset("param", data=a, **ds_kwargs(compression, a))
                if name in gdict:
                    g = gdict[name]
                    if tuple(g.shape[1:]) != shape:
                        raise ValueError(f"{name}: grads shape {g.shape} != [T, *{shape}]")
                    grp.create_dataset("grads", data=g, **ds_kwargs(grads_compression, g, True))
                    written_grads.append(name)
                s = _state_step(st)
                if s is not None:
                    steps.append(s)
                n_params += 1
                n_elems += int(np.prod(shape))
            unknown = set(gdict) - set(written_grads)
            if unknown:
                raise KeyError(f"grads given for parameters not dumped: {sorted(unknown)}")
            if step is None:
                step = max(steps) if steps else 0
            f.attrs["lbq_format"] = np.int64(LBQ_FORMAT_VERSION)
            f.attrs["step"] = np.int64(step)
            for k in ("beta1", "beta2", "eps", "lr", "weight_decay"):
                f.attrs[k] = np.float64(hyper[k])
            _write_str_attr(f, "optimizer", type(optimizer).__name__)
            _write_str_attr(f, "source", source or "lbq.moments.dump_moments")
            _write_str_attr(f, "torch_version", torch.__version__)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return dict(path=path, params=n_params, elements=n_elems, bytes=os.path.getsize(path),
                step=int(step), grads=written_grads, skipped=skipped)


class MomentWriter:
    """Write a moment file one parameter at a time (what `lbq import` uses).

        with MomentWriter("moments.h5") as w:
            w.add("blocks.0.attn.qkv.weight", exp_avg, exp_avg_sq, param=None)
            w.finish(step=1000, beta1=0.9, beta2=0.95, eps=1e-8, lr=6e-4, weight_decay=0.1,
                     optimizer="AdamW", source="...")

    Tensors of any float dtype are converted to float32 (bf16 and fp16 exactly; float64 is rounded)
    and each dataset gets the attribute ``orig_dtype`` with the dtype it had.  The file is written
    under a temporary name in the same directory and renamed by ``finish``; leaving the ``with``
    block without ``finish`` (or on an exception) deletes it, so no partial output is left.
    """

    def __init__(self, path: Union[str, os.PathLike], compression=None, compression_opts=None):
        self.path = os.fspath(path)
        self.compression = compression
        self.compression_opts = compression_opts
        d = os.path.dirname(os.path.abspath(self.path))
        fd, self.tmp = tempfile.mkstemp(prefix="." + os.path.basename(self.path) + ".", suffix=".tmp", dir=d)
        os.close(fd)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(self.tmp, 0o666 & ~umask)
        self.f = h5py.File(self.tmp, "w")
        self.names = []
        self.elements = 0
        self.done = False

    def _ds(self, grp, name, t: torch.Tensor):
        a = _f32(t)
        kw = {}
        if self.compression is not None and a.ndim > 0 and a.size > 0:
            kw = dict(compression=self.compression, chunks=True)
            if self.compression == "gzip":
                kw["compression_opts"] = 4 if self.compression_opts is None else self.compression_opts
                kw["shuffle"] = True
        ds = grp.create_dataset(name, data=a, **kw)
        _write_str_attr(ds, "orig_dtype", dtype_name(t))

    def add(self, name: str, exp_avg: torch.Tensor, exp_avg_sq: torch.Tensor,
            param: Optional[torch.Tensor] = None) -> None:
        if name in self.f:
            raise ValueError(f"parameter '{name}' written twice")
        grp = self.f.create_group(name)
        self._ds(grp, "exp_avg", exp_avg)
        self._ds(grp, "exp_avg_sq", exp_avg_sq)
        if param is not None:
            self._ds(grp, "param", param)
        self.names.append(name)
        self.elements += int(exp_avg.numel())

    def finish(self, step: int, beta1: float, beta2: float, eps: float, lr: float, weight_decay: float,
               optimizer: str = "", source: str = "", extra: Optional[Mapping[str, object]] = None) -> dict:
        f = self.f
        f.attrs["lbq_format"] = np.int64(LBQ_FORMAT_VERSION)
        f.attrs["step"] = np.int64(step)
        for k, v in (("beta1", beta1), ("beta2", beta2), ("eps", eps), ("lr", lr), ("weight_decay", weight_decay)):
            f.attrs[k] = np.float64(v)
        _write_str_attr(f, "optimizer", optimizer)
        _write_str_attr(f, "source", source)
        _write_str_attr(f, "torch_version", torch.__version__)
        for k, v in (extra or {}).items():
            if isinstance(v, str):
                _write_str_attr(f, k, v)
            else:
                f.attrs[k] = v
        f.close()
        os.replace(self.tmp, self.path)
        self.done = True
        return dict(path=self.path, params=len(self.names), elements=self.elements,
                    bytes=os.path.getsize(self.path), step=int(step))

    def abort(self) -> None:
        if self.done:
            return
        try:
            self.f.close()
        except Exception:
            pass
        try:
            os.unlink(self.tmp)
        except OSError:
            pass
        self.done = True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.abort()


def verify(path: Union[str, os.PathLike], verbose: bool = True) -> dict:
    """Check that ``path`` follows lbq moment-file format v1; print a listing if verbose.

    Returns dict(params, elements, grads, problems). ``problems`` is a list of strings
    (empty when the file is valid).
    """
    problems = []
    n_params = n_elems = 0
    with_grads = []
    with h5py.File(path, "r") as f:
        a = dict(f.attrs)
        for k, typ in (("lbq_format", np.integer), ("step", np.integer), ("beta1", np.floating),
                       ("beta2", np.floating), ("eps", np.floating), ("lr", np.floating),
                       ("weight_decay", np.floating)):
            if k not in a:
                problems.append(f"missing root attr {k}")
            elif not np.issubdtype(np.asarray(a[k]).dtype, typ):
                problems.append(f"root attr {k} has dtype {np.asarray(a[k]).dtype}")
        for k in ("optimizer", "source", "torch_version"):
            if k not in a:
                problems.append(f"missing root attr {k}")
        if verbose:
            for k in sorted(a):
                v = a[k]
                v = v.decode() if isinstance(v, bytes) else v
                print(f"  @{k} = {v!r}")

        def visit(name, obj):
            nonlocal n_params, n_elems
            if not isinstance(obj, h5py.Group) or "exp_avg" not in obj:
                return
            m, v = obj["exp_avg"], obj["exp_avg_sq"] if "exp_avg_sq" in obj else None
            if v is None:
                problems.append(f"{name}: no exp_avg_sq")
                return
            shape = m.shape
            for dn in ("exp_avg", "exp_avg_sq", "param"):
                if dn in obj:
                    ds = obj[dn]
                    if ds.dtype != np.float32:
                        problems.append(f"{name}/{dn}: dtype {ds.dtype}")
                    if ds.shape != shape:
                        problems.append(f"{name}/{dn}: shape {ds.shape} != {shape}")
                    x = ds[()]
                    if not np.all(np.isfinite(x)):
                        problems.append(f"{name}/{dn}: non-finite values")
            if np.any(obj["exp_avg_sq"][()] < 0):
                problems.append(f"{name}/exp_avg_sq: negative values")
            extra = ""
            if "grads" in obj:
                g = obj["grads"]
                if g.dtype != np.float32 or tuple(g.shape[1:]) != shape:
                    problems.append(f"{name}/grads: {g.dtype} {g.shape} vs [T, *{shape}]")
                extra = f" grads{list(g.shape)}"
                with_grads.append(name)
            n_params += 1
            n_elems += int(np.prod(shape))
            if verbose:
                has_p = " +param" if "param" in obj else ""
                print(f"  {name:40s} {str(list(shape)):14s}{has_p}{extra}")

        f.visititems(visit)
    if verbose:
        print(f"  -- {n_params} params, {n_elems} elements, {os.path.getsize(path)} bytes, "
              f"grads on {len(with_grads)} params")
        for p in problems:
            print("  PROBLEM:", p)
    return dict(params=n_params, elements=n_elems, grads=with_grads, problems=problems)


def _main(argv=None):
    import argparse
    import sys
    ap = argparse.ArgumentParser(
        description="List and validate lbq moment files (format v1). To write one, import "
                    "this module and call dump_moments(path, model, optimizer, ...).")
    ap.add_argument("files", nargs="+")
    ap.add_argument("-q", "--quiet", action="store_true", help="only report problems")
    a = ap.parse_args(argv)
    bad = 0
    for p in a.files:
        print(p)
        r = verify(p, verbose=not a.quiet)
        if a.quiet:
            for q in r["problems"]:
                print("  PROBLEM:", q)
        bad += bool(r["problems"])
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    _main()
