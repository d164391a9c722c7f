"""Choosing the array module (numpy or cupy) from the arrays themselves.

cupy is never imported here unless the caller already holds cupy arrays or asks
for the GPU explicitly, so ``import dualgrad`` needs numpy only.
"""

import sys

import numpy

from .errors import DeviceError


def is_cupy_array(array):
    kind = type(array)
    # numpy arrays, the usual case, settle it without a string test (it runs per array
    # on hot paths: argument checks, state writes, array-module lookups)
    return kind is not numpy.ndarray and kind.__module__.startswith("cupy")


def get_array_module(*arrays):
    """``numpy`` or ``cupy``, whichever the arrays (or Variables) belong to."""
    if "cupy" not in sys.modules:
        return numpy
    for a in arrays:
        a = getattr(a, "_array", a)
        if is_cupy_array(a):
            return sys.modules["cupy"]
    return numpy


def import_cupy():
    try:
        import cupy
    except ImportError as error:
        raise DeviceError(
            "the GPU needs cupy, which is not installed; install the 'cuda' extra "
            "(pip install 'dualgrad[cuda]')"
        ) from error
    return cupy


def to_device(array, device):
    """Move ``array`` to ``'cpu'``, ``'gpu'`` / ``'cuda'`` or ``'gpu:N'``."""
    kind, _, index = str(device).partition(":")
    if kind in ("cpu", "@numpy", "numpy"):
        return array.get() if is_cupy_array(array) else numpy.asarray(array)
    if kind in ("gpu", "cuda", "@cupy"):
        cupy = import_cupy()
        with cupy.cuda.Device(int(index) if index else 0):
            return cupy.asarray(array)
    raise DeviceError(f"unknown device {device!r}; use 'cpu', 'gpu' or 'gpu:N'")
