"""Compatibility shim: the moment-file writer now lives in python/lbq/moments.py.

    import sys; sys.path.insert(0, "experiments/dump")
    from lbq_dump import dump_moments, GradRecorder        # still works

Prefer `from lbq.moments import dump_moments, GradRecorder` with <repo>/python on sys.path or
PYTHONPATH.  As a script it lists and validates moment files, as before:
    /usr/bin/python3 experiments/dump/lbq_dump.py data/sample-late.h5
"""
import os
import sys

_PY = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python")
if os.path.normpath(_PY) not in [os.path.normpath(p) for p in sys.path]:
    sys.path.insert(0, os.path.normpath(_PY))

from lbq.moments import (GradRecorder, LBQ_FORMAT_VERSION, MomentWriter, dump_moments,  # noqa: E402,F401
                         dtype_name, verify, _main)

if __name__ == "__main__":
    _main()
