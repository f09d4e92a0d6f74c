"""Read and write the safetensors format without the safetensors package.

Format (https://huggingface.co/docs/safetensors, and docs/import.md):

  bytes 0..8      N, unsigned 64-bit little-endian: the length of the header
  bytes 8..8+N    UTF-8 JSON object: tensor name -> {"dtype": "F32"|"F16"|"BF16"|..., "shape": [...],
                  "data_offsets": [begin, end]}, plus an optional "__metadata__" object of
                  string -> string; offsets are relative to byte 8+N
  bytes 8+N..     the raw tensor data, little-endian, C (row-major) order

The JSON key order is not the model's parameter order (the writer sorts its tensors), which is why
`lbq import` needs another source for the order (docs/import.md, "Parameter order").

Reading maps the file (mmap) and copies one tensor at a time, so memory stays bounded by the largest
tensor.  Every offset is checked against the file size and the dtype x shape before anything is read.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from typing import Dict, Iterator, List, Mapping, Optional, Tuple

import numpy as np

__all__ = ["SafetensorsError", "read_header", "SafetensorsFile", "load_file", "save_file", "DTYPES"]

# safetensors dtype -> (numpy storage dtype, bytes per element, torch dtype name)
DTYPES = {
    "F64": ("<f8", 8, "float64"),
    "F32": ("<f4", 4, "float32"),
    "F16": ("<f2", 2, "float16"),
    "BF16": ("<u2", 2, "bfloat16"),     # raw bits; viewed as torch.bfloat16
    "I64": ("<i8", 8, "int64"),
    "I32": ("<i4", 4, "int32"),
    "I16": ("<i2", 2, "int16"),
    "I8": ("i1", 1, "int8"),
    "U8": ("u1", 1, "uint8"),
    "BOOL": ("u1", 1, "bool"),
}
_TORCH_TO_ST = {"float64": "F64", "float32": "F32", "float16": "F16", "bfloat16": "BF16", "int64": "I64",
                "int32": "I32", "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL"}

MAX_HEADER = 100 * 1024 * 1024      # the reference implementation's limit


class SafetensorsError(ValueError):
    """A malformed safetensors file (the message names the file and, where known, the tensor)."""


def read_header(path: str) -> Tuple[dict, int]:
    """(header dict, data start offset).  Validates every entry against the file size."""
    size = os.path.getsize(path)
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise SafetensorsError(f"{path}: too short for a safetensors file ({size} bytes)")
        (n,) = struct.unpack("<Q", head)
        if n == 0 or n > MAX_HEADER or 8 + n > size:
            raise SafetensorsError(f"{path}: header length {n} does not fit the file ({size} bytes); not safetensors?")
        raw = f.read(n)
    try:
        hdr = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise SafetensorsError(f"{path}: header is not JSON ({e})") from None
    if not isinstance(hdr, dict):
        raise SafetensorsError(f"{path}: header is not a JSON object")
    start = 8 + n
    for name, info in hdr.items():
        if name == "__metadata__":
            continue
        if not isinstance(info, dict) or info.get("dtype") not in DTYPES:
            dt = info.get("dtype") if isinstance(info, dict) else None
            raise SafetensorsError(f"{path}: tensor '{name}': unsupported or missing dtype {dt!r}")
        shape = info.get("shape")
        offs = info.get("data_offsets")
        if (not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape)
                or not isinstance(offs, list) or len(offs) != 2 or not all(isinstance(o, int) for o in offs)):
            raise SafetensorsError(f"{path}: tensor '{name}': bad shape or data_offsets")
        nbytes = int(np.prod(shape, dtype=np.int64)) * DTYPES[info["dtype"]][1] if shape else DTYPES[info["dtype"]][1]
        b, e = offs
        if b < 0 or e < b or e - b != nbytes or start + e > size:
            raise SafetensorsError(f"{path}: tensor '{name}': data_offsets {offs} do not hold {info['dtype']} "
                                   f"{shape} inside the file ({size} bytes; truncated?)")
    return hdr, start


class SafetensorsFile:
    """A safetensors file opened for reading, one tensor at a time (memory-mapped)."""

    def __init__(self, path: str):
        self.path = os.fspath(path)
        self.header, self._start = read_header(self.path)
        self.metadata = self.header.get("__metadata__", {}) or {}
        self._f = open(self.path, "rb")
        size = os.path.getsize(self.path)
        self._mm = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ) if size else None

    def keys(self) -> List[str]:
        """Tensor names in the header's (JSON) order; not the model's order."""
        return [k for k in self.header if k != "__metadata__"]

    def info(self, name: str) -> dict:
        return self.header[name]

    def shape(self, name: str) -> Tuple[int, ...]:
        return tuple(self.header[name]["shape"])

    def get_numpy(self, name: str) -> np.ndarray:
        """The tensor as a numpy array (BF16 as its raw uint16 bits), copied out of the map."""
        info = self.header[name]
        npd, _, _ = DTYPES[info["dtype"]]
        b, e = info["data_offsets"]
        a = np.frombuffer(self._mm, dtype=np.dtype(npd), count=(e - b) // np.dtype(npd).itemsize,
                          offset=self._start + b).copy()
        if info["dtype"] == "BOOL":
            a = a.astype(bool)
        return a.reshape(info["shape"])

    def get_tensor(self, name: str):
        """The tensor as a torch.Tensor of its own dtype (BF16 -> torch.bfloat16, bit for bit)."""
        import torch
        info = self.header[name]
        a = self.get_numpy(name)
        if info["dtype"] == "BF16":
            return torch.from_numpy(a.view(np.int16)).view(torch.bfloat16)
        return torch.from_numpy(np.ascontiguousarray(a.astype(a.dtype.newbyteorder("="), copy=False)))

    def items(self) -> Iterator[Tuple[str, "object"]]:
        for k in self.keys():
            yield k, self.get_tensor(k)

    def close(self):
        if self._mm is not None:
            self._mm.close()
            self._mm = None
        self._f.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def load_file(path: str) -> Dict[str, "object"]:
    """All tensors of a safetensors file as a dict name -> torch.Tensor (header order)."""
    with SafetensorsFile(path) as f:
        return {k: f.get_tensor(k) for k in f.keys()}


def save_file(tensors: Mapping[str, "object"], path: str, metadata: Optional[Mapping[str, str]] = None) -> None:
    """Write torch tensors as safetensors, ordered like the reference writer (dtype size descending,
    then name), so the key order is *not* the insertion order, as in real files.  Tensors that share
    storage must be deduplicated by the caller (the format has no aliasing)."""
    import torch
    items = []
    for name, t in tensors.items():
        t = t.detach().to("cpu").contiguous()
        dt = _TORCH_TO_ST.get(str(t.dtype).replace("torch.", ""))
        if dt is None:
            raise ValueError(f"tensor '{name}': dtype {t.dtype} not supported")
        if t.dtype == torch.bfloat16:
            raw = t.view(torch.int16).numpy().astype("<i2").tobytes()
        else:
            raw = t.numpy().astype(np.dtype(DTYPES[dt][0]) if dt != "BOOL" else "u1").tobytes()
        items.append((name, dt, list(t.shape), raw))
    items.sort(key=lambda x: (-DTYPES[x[1]][1], x[0]))
    hdr: Dict[str, object] = {}
    if metadata:
        hdr["__metadata__"] = {str(k): str(v) for k, v in metadata.items()}
    off = 0
    for name, dt, shape, raw in items:
        hdr[name] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + len(raw)]}
        off += len(raw)
    h = json.dumps(hdr, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)     # the reference writer pads the header to 8 bytes
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, _, _, raw in items:
            f.write(raw)
    os.replace(tmp, path)
