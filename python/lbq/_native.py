"""ctypes binding of liblbq.so, the C ABI of include/lbq-ffi.h (nothing is compiled at install).

The library is looked for, in this order:
  1. $LBQ_LIBRARY (a path to liblbq.so.1 or liblbq.so);
  2. $LBQ_BUILD/liblbq.so.1 (a build directory);
  3. the build trees next to this package's sources: <repo>/build/liblbq.so.1 (and build-*/);
  4. an installed prefix: <prefix>/lib/liblbq.so.1 for this package at <prefix>/share/lbq/python/lbq;
  5. the dynamic loader's search path (ldconfig, LD_LIBRARY_PATH): liblbq.so.1.
The first that loads is used; its ABI version must equal ABI_VERSION.  ABI 1.1 libraries (minor >= 1)
also have the device entry (lbq_ffi_qdq_device: CUDA device pointers); 1.0 libraries still load, and
CUDA tensors then go through host memory.
"""
from __future__ import annotations

import ctypes
import glob
import os
import threading

ABI_VERSION = 1          # LBQ_FFI_ABI_VERSION of include/lbq-ffi.h this module was written for
ABI_MINOR = 1            # LBQ_FFI_ABI_MINOR it knows (1: the device entry); older minors work without it
ROLE_M, ROLE_V = 0, 1
SONAME = "liblbq.so.1"


class LbqError(RuntimeError):
    """A failure reported by liblbq (status number and its one-line message)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


class Stats(ctypes.Structure):
    """struct lbq_ffi_stats (include/lbq-ffi.h)."""
    _fields_ = [
        ("numel", ctypes.c_int64),
        ("nonfinite", ctypes.c_int64),
        ("zeroed", ctypes.c_int64),
        ("lifted", ctypes.c_int64),
        ("zeros_in", ctypes.c_int64),
        ("sum_sq_err", ctypes.c_double),
        ("sum_sq", ctypes.c_double),
        ("bits_per_elem", ctypes.c_double),
        ("bits", ctypes.c_int32),
        ("codes_used", ctypes.c_int32),
        ("code_hist", ctypes.c_int64 * 256),
        ("plan", ctypes.c_char * 128),
    ]

    def as_dict(self, hist: bool = False) -> dict:
        d = {
            "plan": self.plan.decode(), "bits": self.bits, "bits_per_elem": self.bits_per_elem,
            "numel": self.numel, "nonfinite": self.nonfinite, "zeroed": self.zeroed,
            "lifted": self.lifted, "zeros_in": self.zeros_in, "codes_used": self.codes_used,
            "sum_sq_err": self.sum_sq_err, "sum_sq": self.sum_sq,
            "rel_l2": (self.sum_sq_err / self.sum_sq) ** 0.5 if self.sum_sq > 0 else 0.0,
        }
        if hist:
            d["code_hist"] = list(self.code_hist)
        return d


_lib = None
_lib_path = None
_lock = threading.Lock()


def _candidates() -> list:
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    if os.environ.get("LBQ_LIBRARY"):
        return [os.environ["LBQ_LIBRARY"]]          # an explicit choice is the only one tried
    if os.environ.get("LBQ_BUILD"):
        out.append(os.path.join(os.environ["LBQ_BUILD"], SONAME))
    repo = os.path.dirname(os.path.dirname(here))   # <repo>/python/lbq -> <repo>
    out.append(os.path.join(repo, "build", SONAME))
    out += sorted(glob.glob(os.path.join(repo, "build*", SONAME)))
    prefix = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(here))))
    out.append(os.path.join(prefix, "lib", SONAME))  # <prefix>/share/lbq/python/lbq -> <prefix>
    out.append(SONAME)                                # the loader's own search path
    seen, uniq = set(), []
    for p in out:
        if p not in seen:
            seen.add(p)
            uniq.append(p)
    return uniq


def _declare(lib):
    c = ctypes
    lib.lbq_ffi_abi_version.restype = c.c_int
    lib.lbq_ffi_version.restype = c.c_char_p
    lib.lbq_ffi_errmsg.restype = c.c_char_p
    lib.lbq_ffi_status_str.restype = c.c_char_p
    lib.lbq_ffi_status_str.argtypes = [c.c_int]
    lib.lbq_ffi_step_seed.restype = c.c_uint64
    lib.lbq_ffi_step_seed.argtypes = [c.c_uint64, c.c_int64]
    lib.lbq_ffi_qdq.restype = c.c_int
    lib.lbq_ffi_qdq.argtypes = [c.c_char_p, c.c_int, c.c_int, c.POINTER(c.c_int64), c.c_uint64, c.c_int64,
                                c.c_void_p, c.c_void_p, c.c_void_p, c.POINTER(Stats)]
    lib.lbq_ffi_check.restype = c.c_int
    lib.lbq_ffi_check.argtypes = [c.c_char_p, c.c_int, c.c_int, c.POINTER(c.c_int64), c.c_char_p, c.c_size_t,
                                  c.POINTER(c.c_double)]
    lib.lbq_ffi_recipe_count.restype = c.c_int
    lib.lbq_ffi_recipe_name.restype = c.c_char_p
    lib.lbq_ffi_recipe_name.argtypes = [c.c_int]
    lib.lbq_ffi_recipe.restype = c.c_int
    lib.lbq_ffi_recipe.argtypes = [c.c_char_p, c.POINTER(c.c_char_p), c.POINTER(c.c_char_p),
                                   c.POINTER(c.c_int64), c.POINTER(c.c_int64), c.POINTER(c.c_int64)]
    lib.lbq_ffi_recipe_keeps_fp32.restype = c.c_int
    lib.lbq_ffi_recipe_keeps_fp32.argtypes = [c.c_char_p, c.c_int64]


def _declare_device(lib) -> bool:
    """The ABI 1.1 functions (device entry); False for a 1.0 library."""
    c = ctypes
    try:
        lib.lbq_ffi_abi_minor.restype = c.c_int
        if lib.lbq_ffi_abi_minor() < 1:
            return False
        lib.lbq_ffi_device_available.restype = c.c_int
        for f in (lib.lbq_ffi_qdq_device, lib.lbq_ffi_qdq_device_twin):
            f.restype = c.c_int
            f.argtypes = [c.c_char_p, c.c_int, c.c_int, c.POINTER(c.c_int64), c.c_uint64, c.c_int64,
                          c.c_void_p, c.c_void_p, c.c_void_p, c.c_void_p, c.POINTER(Stats)]
        lib.lbq_ffi_device_selfcheck.restype = c.c_int
        lib.lbq_ffi_device_selfcheck.argtypes = [c.c_int, c.POINTER(c.c_int64), c.POINTER(c.c_int64), c.c_char_p,
                                                 c.c_size_t]
    except AttributeError:
        return False
    return True


_has_device_abi = False
_device = None           # cached (available, reason)


def load():
    """The loaded library (cached).  Raises OSError naming every place that was tried."""
    global _lib, _lib_path
    with _lock:
        if _lib is not None:
            return _lib
        tried = []
        for p in _candidates():
            if os.sep in p and not os.path.exists(p):
                tried.append(f"{p} (missing)")
                continue
            try:
                lib = ctypes.CDLL(p)
            except OSError as e:
                tried.append(f"{p} ({e})")
                continue
            try:
                _declare(lib)
            except AttributeError as e:
                tried.append(f"{p} (not lbq's C ABI: {e})")
                continue
            v = lib.lbq_ffi_abi_version()
            if v != ABI_VERSION:
                tried.append(f"{p} (ABI version {v}, this package needs {ABI_VERSION})")
                continue
            global _has_device_abi
            _has_device_abi = _declare_device(lib)
            _lib, _lib_path = lib, p
            return lib
        raise OSError("lbq: cannot load liblbq.so (build lbq with CMake, which makes build/liblbq.so.1, or set "
                      "LBQ_LIBRARY=/path/to/liblbq.so.1); tried: " + "; ".join(tried))


def library_path() -> str:
    load()
    return _lib_path


def version() -> str:
    return load().lbq_ffi_version().decode()


def _fail(rc: int):
    lib = load()
    raise LbqError(rc, lib.lbq_ffi_errmsg().decode() or lib.lbq_ffi_status_str(rc).decode())


def role_of(role) -> int:
    if role in (0, "m", "M", "exp_avg"):
        return ROLE_M
    if role in (1, "v", "V", "exp_avg_sq"):
        return ROLE_V
    raise ValueError(f"lbq: role {role!r} is not 'm' (exp_avg) or 'v' (exp_avg_sq)")


def step_seed(seed: int, step: int) -> int:
    """The seed stochastic rounding uses at `step` (lbq_ffi_step_seed): step < 0 gives seed itself;
    pass the result to `lbq quantize --seed` to reproduce a step's bits."""
    return int(load().lbq_ffi_step_seed(seed & (2 ** 64 - 1), step))


def _shape(shape):
    shape = tuple(int(s) for s in shape)
    if len(shape) > 8:
        raise ValueError(f"lbq: tensors of rank {len(shape)} are not supported (at most 8)")
    return len(shape), (ctypes.c_int64 * max(1, len(shape)))(*shape)


def qdq_ptr(spec: str, role, shape, x_ptr: int, out_ptr: int, codes_ptr: int = 0, seed: int = 0,
            step: int = -1, stats: bool = True):
    """Quantize-dequantize the contiguous float32 buffer at address x_ptr into out_ptr (may be equal).
    Returns a Stats (or None with stats=False).  Raises LbqError on a bad spec or shape."""
    lib = load()
    rank, dims = _shape(shape)
    st = Stats() if stats else None
    rc = lib.lbq_ffi_qdq(spec.encode(), role_of(role), rank, dims, seed & (2 ** 64 - 1), int(step),
                         ctypes.c_void_p(x_ptr), ctypes.c_void_p(out_ptr),
                         ctypes.c_void_p(codes_ptr) if codes_ptr else None,
                         ctypes.byref(st) if st is not None else None)
    if rc:
        _fail(rc)
    return st


def check(spec: str, role, shape):
    """(effective plan text, bits per element) of spec for a tensor of this shape and role."""
    lib = load()
    rank, dims = _shape(shape)
    buf = ctypes.create_string_buffer(128)
    bpe = ctypes.c_double()
    rc = lib.lbq_ffi_check(spec.encode(), role_of(role), rank, dims, buf, 128, ctypes.byref(bpe))
    if rc:
        _fail(rc)
    return buf.value.decode(), bpe.value


def recipes() -> list:
    lib = load()
    return [lib.lbq_ffi_recipe_name(i).decode() for i in range(lib.lbq_ffi_recipe_count())]


def recipe(name: str) -> dict:
    """{'name', 'm', 'v', 'fp32_max_numel', 'fp32_min_numel', 'fp32_indivisible'} of a published recipe."""
    lib = load()
    m, v = ctypes.c_char_p(), ctypes.c_char_p()
    a, b, c = ctypes.c_int64(), ctypes.c_int64(), ctypes.c_int64()
    rc = lib.lbq_ffi_recipe(name.encode(), ctypes.byref(m), ctypes.byref(v), ctypes.byref(a), ctypes.byref(b),
                            ctypes.byref(c))
    if rc:
        _fail(rc)
    return {"name": name, "m": m.value.decode(), "v": v.value.decode(), "fp32_max_numel": a.value,
            "fp32_min_numel": b.value, "fp32_indivisible": c.value}


def keeps_fp32(name: str, numel: int) -> bool:
    r = load().lbq_ffi_recipe_keeps_fp32(name.encode(), int(numel))
    if r < 0:
        _fail(-r)
    return bool(r)


# ---- tensors in CUDA device memory (ABI 1.1; include/lbq-ffi.h lbq_ffi_qdq_device) ---------------------
def device_available():
    """(True, "") when the loaded library has the device entry and a usable CUDA device; else (False, why)."""
    global _device
    if _device is None:
        lib = load()
        if not _has_device_abi:
            _device = (False, f"{_lib_path} is ABI 1.0 (no device entry point)")
        elif lib.lbq_ffi_device_available():
            _device = (True, "")
        else:
            _device = (False, lib.lbq_ffi_errmsg().decode() or "no device entry point")
    return _device


def qdq_device_ptr(spec: str, role, shape, x_ptr: int, out_ptr: int, codes_ptr: int = 0, seed: int = 0,
                   step: int = -1, stream: int = 0, stats: bool = True, twin: bool = False):
    """lbq_ffi_qdq_device: the contiguous float32 buffer at device address x_ptr into out_ptr (may be
    equal), queued on CUDA stream `stream` (0: the legacy default stream) and synchronized.  twin=True
    runs lbq_ffi_qdq_device_twin on host addresses instead (the same sequence on the CPU).  Returns a
    Stats (None with stats=False); raises LbqError (status 5: no device entry or no device)."""
    lib = load()
    if not _has_device_abi:
        raise LbqError(5, f"lbq: {_lib_path} has no device entry point (ABI 1.0)")
    rank, dims = _shape(shape)
    st = Stats() if stats else None
    f = lib.lbq_ffi_qdq_device_twin if twin else lib.lbq_ffi_qdq_device
    rc = f(spec.encode(), role_of(role), rank, dims, seed & (2 ** 64 - 1), int(step), ctypes.c_void_p(x_ptr),
           ctypes.c_void_p(out_ptr), ctypes.c_void_p(codes_ptr) if codes_ptr else None,
           ctypes.c_void_p(stream) if stream else None, ctypes.byref(st) if st is not None else None)
    if rc:
        _fail(rc)
    return st


def device_selfcheck(twin: bool = False):
    """lbq_ffi_device_selfcheck: (cases, mismatches, first mismatch) of the device entry (twin=True: of
    its CPU twin) against the host entry.  Raises LbqError (status 5) without a device."""
    lib = load()
    if not _has_device_abi:
        raise LbqError(5, f"lbq: {_lib_path} has no device entry point (ABI 1.0)")
    cases, bad = ctypes.c_int64(), ctypes.c_int64()
    first = ctypes.create_string_buffer(256)
    rc = lib.lbq_ffi_device_selfcheck(1 if twin else 0, ctypes.byref(cases), ctypes.byref(bad), first, 256)
    if rc:
        _fail(rc)
    return cases.value, bad.value, first.value.decode()
