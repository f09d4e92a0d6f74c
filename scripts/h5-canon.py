#!/usr/bin/python3
"""h5-canon.py FILE: a canonical text dump of an HDF5 file (groups, datasets with dtype, shape and a
SHA-256 of their raw bytes, attributes with their values), for byte comparisons that ignore the
object times HDF5 stores.  Run with /usr/bin/python3 (needs h5py).  Used by compare-outputs.sh."""
import hashlib, sys
import h5py

def attrs(o):
    return "".join("  @%s=%r\n" % (k, o.attrs[k]) for k in sorted(o.attrs))

def main(path):
    out = []
    with h5py.File(path, "r") as f:
        out.append("/\n" + attrs(f))
        def visit(name, o):
            if isinstance(o, h5py.Dataset):
                b = o[()].tobytes() if o.shape != () else o[()].tobytes() if hasattr(o[()], "tobytes") else repr(o[()]).encode()
                out.append("D %s %s %s %s\n%s" % (name, o.dtype.str, o.shape, hashlib.sha256(b).hexdigest(), attrs(o)))
            else:
                out.append("G %s\n%s" % (name, attrs(o)))
        f.visititems(visit)
    sys.stdout.write("".join(out))

main(sys.argv[1])
