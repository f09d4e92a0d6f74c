#!/usr/bin/python3
"""Generate the tiny HDF5 fixtures used by the CLI tests (tests/cli/test-*.sh).

The fixtures are committed (CI has only the C build dependencies, not h5py); this script
documents exactly how they were made.  Regenerate from the repository root with Debian's
interpreter (python3-h5py, python3-numpy):

    /usr/bin/python3 tests/data/make-fixtures.py            # writes tests/data/fx-*.h5

Every file carries the root attributes of lbq format 1 (lbq_format, step, beta1, beta2,
eps, lr), so lbq prints no 'attribute absent' notices for them.  Values are deterministic
(numpy RandomState(0)) and dataset creation times are not stored, so reruns give the same
contents.  Shapes are kept tiny: all fixtures together are about 100 KB.

  fx-tiny.h5          valid: 'w' [8,16] (m, v, param, grads [4,8,16]) and 'b' [32] (m, v)
  fx-int.h5           'w': exp_avg is int32                  -> error, integer data
  fx-string.h5        'w': exp_avg is a string dataset       -> error, string data
  fx-mismatch.h5      'w': exp_avg [4,8] vs exp_avg_sq [8,4] -> error, shape mismatch
  fx-missing-v.h5     'w': exp_avg only                      -> error, exp_avg_sq missing
  fx-zero-size.h5     'w': exp_avg/exp_avg_sq [0,8]          -> error, empty tensor
  fx-scalar.h5        's': 0-d scalar m and v (skipped with a notice) + 'w' [8,16] with grads [4,8,16]
  fx-scalar-only.h5   's': 0-d scalar m and v only           -> error, no parameters
  fx-nan.h5           'w' [8,16] with m[0,0]=NaN, m[1,3]=-Inf, v[2,5]=+Inf, v[3,7]=NaN
                      (4 distinct elements), grads [4,8,16] finite; 'b' [32] clean
  fx-absurd-dim.h5    'w': [2^41, 1] chunked, never written  -> error, absurd dimension
  fx-absurd-numel.h5  'w': [2^22, 2^22] chunked, unwritten   -> error, absurdly large (2^44 elements)
  fx-absurd-rank.h5   'w': rank 9, all dims 1                -> error, rank > 8
  fx-absurd-sparse.h5 'w': [2, 2^39] chunked (1, 2^20), no chunk written (2.7 KB declaring 4 TiB;
                      fuzz finding 9)                        -> error, 0 of 1048576 chunks written
  fx-unwritten.h5     'w': [2^20, 2^12] contiguous, never written (16 GiB declared)
                                                             -> error, no data written
  fx-partial.h5       'w': [64,16] chunked (8,16), only rows 0-31 written
                                                             -> error, 4 of 8 chunks written
  fx-gzip-zeros.h5    valid: 'w' [256,256] all zeros, gzip-9 chunks (64,256): 256 KiB of data in a
                      few hundred bytes of storage (compressed data may exceed its storage)
"""
import os
import sys

import h5py
import numpy as np

OUT = os.path.dirname(os.path.abspath(__file__))
rng = np.random.RandomState(0)


def root_attrs(f):
    f.attrs["lbq_format"] = np.int64(1)
    f.attrs["step"] = np.int64(10)
    f.attrs["beta1"] = np.float64(0.9)
    f.attrs["beta2"] = np.float64(0.999)
    f.attrs["eps"] = np.float64(1e-8)
    f.attrs["lr"] = np.float64(1e-3)


def moments(shape):
    """A plausible m (signed) and v (>= m^2, positive) of the given shape, float32."""
    m = (rng.standard_normal(shape) * 1e-3).astype(np.float32)
    v = (m.astype(np.float64) ** 2 + rng.uniform(1e-8, 1e-6, size=shape)).astype(np.float32)
    return m, v


def ds(g, name, data=None, **kw):
    return g.create_dataset(name, data=data, track_times=False, **kw)


def new(name):
    path = os.path.join(OUT, name)
    f = h5py.File(path, "w", track_order=False)
    root_attrs(f)
    return f


def main():
    # valid tiny file
    with new("fx-tiny.h5") as f:
        g = f.create_group("w")
        m, v = moments((8, 16))
        ds(g, "exp_avg", m); ds(g, "exp_avg_sq", v); ds(g, "param", (rng.standard_normal((8, 16)) * 0.02).astype(np.float32))
        ds(g, "grads", (rng.standard_normal((4, 8, 16)) * 1e-3).astype(np.float32))
        g = f.create_group("b")
        m, v = moments((32,))
        ds(g, "exp_avg", m); ds(g, "exp_avg_sq", v)

    with new("fx-int.h5") as f:
        g = f.create_group("w")
        ds(g, "exp_avg", np.arange(32, dtype=np.int32).reshape(4, 8))
        ds(g, "exp_avg_sq", np.ones((4, 8), dtype=np.float32))

    with new("fx-string.h5") as f:
        g = f.create_group("w")
        ds(g, "exp_avg", np.array(["a", "bc", "def", "g"], dtype=object), dtype=h5py.string_dtype())
        ds(g, "exp_avg_sq", np.ones((4,), dtype=np.float32))

    with new("fx-mismatch.h5") as f:
        g = f.create_group("w")
        ds(g, "exp_avg", np.zeros((4, 8), dtype=np.float32))
        ds(g, "exp_avg_sq", np.ones((8, 4), dtype=np.float32))

    with new("fx-missing-v.h5") as f:
        g = f.create_group("w")
        ds(g, "exp_avg", np.zeros((4, 8), dtype=np.float32))

    with new("fx-zero-size.h5") as f:
        g = f.create_group("w")
        ds(g, "exp_avg", np.zeros((0, 8), dtype=np.float32))
        ds(g, "exp_avg_sq", np.zeros((0, 8), dtype=np.float32))

    with new("fx-scalar.h5") as f:
        g = f.create_group("s")
        ds(g, "exp_avg", np.float32(1e-3)); ds(g, "exp_avg_sq", np.float32(1e-6))
        g = f.create_group("w")
        m, v = moments((8, 16))
        ds(g, "exp_avg", m); ds(g, "exp_avg_sq", v)
        ds(g, "grads", (rng.standard_normal((4, 8, 16)) * 1e-3).astype(np.float32))

    with new("fx-scalar-only.h5") as f:
        g = f.create_group("s")
        ds(g, "exp_avg", np.float32(1e-3)); ds(g, "exp_avg_sq", np.float32(1e-6))

    with new("fx-nan.h5") as f:
        g = f.create_group("w")
        m, v = moments((8, 16))
        m[0, 0] = np.nan; m[1, 3] = -np.inf; v[2, 5] = np.inf; v[3, 7] = np.nan
        ds(g, "exp_avg", m); ds(g, "exp_avg_sq", v)
        ds(g, "grads", (rng.standard_normal((4, 8, 16)) * 1e-3).astype(np.float32))
        g = f.create_group("b")
        m, v = moments((32,))
        ds(g, "exp_avg", m); ds(g, "exp_avg_sq", v)

    # absurd shapes: chunked datasets whose chunks are never written take no space
    for name, shape, chunks in (("fx-absurd-dim.h5", (2 ** 41, 1), (1024, 1)),
                                ("fx-absurd-numel.h5", (2 ** 22, 2 ** 22), (64, 64)),
                                ("fx-absurd-rank.h5", (1,) * 9, None)):
        with new(name) as f:
            g = f.create_group("w")
            for k in ("exp_avg", "exp_avg_sq"):
                if chunks:
                    ds(g, k, shape=shape, dtype=np.float32, chunks=chunks)
                else:
                    ds(g, k, np.zeros(shape, dtype=np.float32))

    # storage that does not hold the declared elements (docs/format.md, "Storage")
    with new("fx-absurd-sparse.h5") as f:
        g = f.create_group("w")
        for k in ("exp_avg", "exp_avg_sq"):
            ds(g, k, shape=(2, 2 ** 39), dtype=np.float32, chunks=(1, 2 ** 20))
    with new("fx-unwritten.h5") as f:
        g = f.create_group("w")
        for k in ("exp_avg", "exp_avg_sq"):
            ds(g, k, shape=(2 ** 20, 2 ** 12), dtype=np.float32)
    with new("fx-partial.h5") as f:
        g = f.create_group("w")
        m, v = moments((64, 16))
        for k, x in (("exp_avg", m), ("exp_avg_sq", v)):
            d = ds(g, k, shape=(64, 16), dtype=np.float32, chunks=(8, 16))
            d[:32] = x[:32]
    with new("fx-gzip-zeros.h5") as f:
        g = f.create_group("w")
        for k in ("exp_avg", "exp_avg_sq"):
            ds(g, k, np.zeros((256, 256), dtype=np.float32), chunks=(64, 256), compression="gzip", compression_opts=9)

    total = 0
    for n in sorted(os.listdir(OUT)):
        if n.startswith("fx-") and n.endswith(".h5"):
            total += os.path.getsize(os.path.join(OUT, n))
    print(f"wrote fixtures to {OUT}: {total} bytes total", file=sys.stderr)


if __name__ == "__main__":
    main()
