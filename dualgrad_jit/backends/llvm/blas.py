"""The BLAS bundled with numpy, for choosing how many threads a gemm uses.

numpy's OpenBLAS splits every product over all cores, and its threads spin for a while
after each call.  For the small products of a training step (a few MFLOP) that costs
more than it brings, and the spinning threads steal the cores from the kernels that
follow: a 128x784x100 product measured about 2x faster on one thread than on two on a
busy 2-core machine.  So the runtime gives small products one thread and restores
the process's setting after each program run.  Without an OpenBLAS we can reach
(another numpy build), nothing changes.
"""

import ctypes
import glob
import os
import threading

import numpy

#: gemms under this many floating-point operations run on one BLAS thread
SMALL_GEMM_FLOPS = 64e6
#: ... and from this many on, the runtime splits them by rows over its own pool (whose
#: idle threads sleep instead of spinning, and whose unstarted parts the caller takes
#: back), in parts of at least ``MIN_SPLIT_ROWS`` rows
SPLIT_GEMM_FLOPS = 8e6
MIN_SPLIT_ROWS = 16

_LIBRARY = []


def _library():
    if not _LIBRARY:
        found = None
        folder = os.path.join(os.path.dirname(numpy.__file__), os.pardir, "numpy.libs")
        for path in sorted(glob.glob(os.path.join(folder, "*openblas*"))):
            try:
                library = ctypes.CDLL(path)
            except OSError:
                continue
            for suffix in ("scipy_openblas_{}64_", "openblas_{}64_", "openblas_{}"):
                setter = getattr(library, suffix.format("set_num_threads"), None)
                getter = getattr(library, suffix.format("get_num_threads"), None)
                if setter is not None and getter is not None:
                    setter.argtypes, getter.restype = [ctypes.c_int], ctypes.c_int
                    found = (setter, getter)
                    break
            if found:
                break
        _LIBRARY.append(found)
    return _LIBRARY[0]


def get_threads():
    """BLAS threads now (None when numpy's OpenBLAS cannot be reached)."""
    library = _library()
    return None if library is None else library[1]()


def set_threads(n):
    library = _library()
    if library is not None and n is not None:
        library[0](int(n))


_STATE = threading.local()


class session:  # noqa: N801 (a lowercase context manager, like using_config)
    """Around a program run: products then choose their thread count with ``use_for``,
    and the process's setting is restored when the outermost run ends."""

    def __enter__(self):
        depth = getattr(_STATE, "depth", 0)
        if depth == 0:
            _STATE.default = _STATE.current = get_threads()
        _STATE.depth = depth + 1

    def __exit__(self, *exc):
        _STATE.depth -= 1
        if _STATE.depth == 0:
            if _STATE.current != _STATE.default:
                set_threads(_STATE.default)
            _STATE.default = _STATE.current = None


def use_for(small):
    """Before a product: one thread for a small one, the process's setting otherwise
    (each product decides for itself: a big one after a small one gets all threads)."""
    default = getattr(_STATE, "default", None)
    if default is None:
        return
    want = 1 if small else default
    if _STATE.current != want:
        set_threads(want)
        _STATE.current = want
