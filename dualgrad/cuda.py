"""Chainer's ``chainer.cuda`` names, so ``from chainer import cuda`` code ports by renaming.

Nothing here imports cupy when ``dualgrad`` is imported.  ``available``, ``cupy``,
``ndarray`` and ``cudnn_enabled`` are computed on first access (module-level
``__getattr__``): reading ``cuda.available`` tries to import cupy and to count
devices, and is ``True`` only when both work.  Without cupy, ``cuda.cupy`` is a
placeholder object, so ``xp is cuda.cupy`` is simply ``False`` (as in Chainer) and
any use of it raises a ``DeviceError`` that says how to install cupy.

>>> import numpy as np
>>> from dualgrad import cuda
>>> cuda.get_array_module(np.zeros(2)) is np
True
>>> cuda.to_cpu(np.arange(3))
array([0, 1, 2])
"""

import functools

import numpy

from .backend import get_array_module, import_cupy, is_cupy_array
from .errors import DeviceError

__all__ = [
    "DummyDevice", "check_cuda_available", "elementwise", "get_array_module",
    "get_device_from_array", "get_device_from_id", "is_available", "reduce", "to_cpu",
    "to_gpu",
]  # fmt: skip

_INSTALL_HINT = "install the 'cuda' extra (pip install 'dualgrad[cuda]') on a machine with a GPU"


def _try_import_cupy():
    """The cupy module, or ``None`` when it is missing or cannot load its CUDA libraries."""
    try:
        import cupy
    except Exception:  # ImportError, or a CUDA library that fails to load
        return None
    return cupy


@functools.lru_cache(maxsize=1)
def is_available():
    """``True`` when cupy imports and at least one CUDA device is present."""
    cupy = _try_import_cupy()
    if cupy is None:
        return False
    try:
        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:  # cupy raises its own CUDARuntimeError when no driver exists
        return False


class _MissingCupy:
    """Stands in for ``cupy`` when it is not installed; every use explains the fix."""

    def __getattr__(self, name):
        if name.startswith("__"):  # protocol probes (copy, pickle, numpy) see a plain object
            raise AttributeError(name)
        raise DeviceError(f"cuda.cupy.{name} needs cupy, which is not installed; {_INSTALL_HINT}")

    def __repr__(self):
        return "<cupy: not installed>"


class _MissingNdarray:
    """``cuda.ndarray`` without cupy: a class nothing is an instance of."""


_MISSING_CUPY = _MissingCupy()


def _cudnn_enabled():
    if not is_available():
        return False
    try:
        import cupy.cuda.cudnn  # noqa: F401
    except Exception:
        return False
    return True


def __getattr__(name):
    if name == "available":
        return is_available()
    if name == "cudnn_enabled":
        return _cudnn_enabled()
    if name == "cupy":
        cupy = _try_import_cupy()
        return _MISSING_CUPY if cupy is None else cupy
    if name == "ndarray":
        cupy = _try_import_cupy()
        return _MissingNdarray if cupy is None else cupy.ndarray
    raise AttributeError(f"module 'dualgrad.cuda' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), "available", "cudnn_enabled", "cupy", "ndarray"])


def check_cuda_available():
    """Raise ``DeviceError`` unless cupy and a CUDA device are usable."""
    if not is_available():
        raise DeviceError(f"CUDA is not available (no cupy or no GPU); {_INSTALL_HINT}")


class DummyDeviceType:
    """The CPU "device": a do-nothing context manager with id ``-1`` (as in Chainer)."""

    id = -1

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        return None

    def use(self):
        return None

    def synchronize(self):
        return None

    def __int__(self):
        return -1

    def __bool__(self):
        return False

    def __repr__(self):
        return "DummyDevice"


DummyDevice = DummyDeviceType()


def get_device_from_id(device_id):
    """``cupy.cuda.Device(device_id)``, or ``DummyDevice`` for ``None`` / negative ids."""
    if device_id is None or int(device_id) < 0:
        return DummyDevice
    check_cuda_available()
    return import_cupy().cuda.Device(int(device_id))


def get_device_from_array(*arrays):
    """The device of the first cupy array among ``arrays``, else ``DummyDevice``."""
    for array in arrays:
        array = getattr(array, "array", array)  # Variables hold their array in .array
        if is_cupy_array(array):
            return array.device
    return DummyDevice


def to_cpu(array, stream=None):
    """A numpy copy of a cupy array; numpy arrays and ``None`` pass through.

    Lists and tuples are converted item by item.
    """
    if array is None:
        return None
    if isinstance(array, (list, tuple)):
        return type(array)(to_cpu(item, stream) for item in array)
    if is_cupy_array(array):
        return array.get(stream)
    if isinstance(array, numpy.ndarray):
        return array
    if numpy.isscalar(array):
        return numpy.asarray(array)
    raise TypeError(
        f"to_cpu takes numpy or cupy arrays, got {type(array).__name__}; "
        "for a Variable use variable.to_cpu() or pass variable.array"
    )


def to_gpu(array, device=None, stream=None):
    """A cupy copy of ``array`` on GPU ``device`` (the current one when ``None``).

    Lists and tuples are converted item by item.
    """
    if array is None:
        return None
    if isinstance(array, (list, tuple)):
        return type(array)(to_gpu(item, device, stream) for item in array)
    check_cuda_available()
    cupy = import_cupy()
    if device is None:
        return cupy.asarray(array)
    with cupy.cuda.Device(int(getattr(device, "id", device))):
        return cupy.asarray(array)


@functools.cache
def elementwise(in_params, out_params, operation, name, **kwargs):
    """A cached ``cupy.ElementwiseKernel`` (Chainer's ``cuda.elementwise``)."""
    check_cuda_available()
    return import_cupy().ElementwiseKernel(in_params, out_params, operation, name, **kwargs)


@functools.cache
def reduce(in_params, out_params, map_expr, reduce_expr, post_map_expr, identity, name,
           **kwargs):
    """A cached ``cupy.ReductionKernel`` (Chainer's ``cuda.reduce``)."""
    check_cuda_available()
    return import_cupy().ReductionKernel(in_params, out_params, map_expr, reduce_expr,
                                         post_map_expr, identity, name, **kwargs)
