"""dualgrad: define-by-run automatic differentiation on numpy and cupy arrays.

>>> import numpy as np, dualgrad as dg
>>> x = dg.Variable(np.array([1.0, 2.0, 3.0]))
>>> y = (x ** 2).sum()
>>> y.backward()
>>> x.grad
array([2., 4., 6.])
"""

import importlib

from . import (
    cuda,
    functions,
    initializers,
    links,
    ops,  # noqa: F401  (installs Variable's operators)
    optimizer,
    optimizer_hooks,
    optimizers,
    reporter,
    variable,
)
from ._config import config, force_backprop_mode, no_backprop_mode, using_config
from .backend import get_array_module
from .core.backprop import grad
from .core.op import OP_REGISTRY, Op
from .core.tape import apply
from .core.variable import Parameter, Variable, as_array, as_variable
from .errors import (
    BackwardError,
    DeviceError,
    DTypeError,
    DualgradError,
    NonFiniteError,
    OpError,
    ShapeError,
)
from .link import Chain, ChainList, Link, Sequential
from .reporter import report, report_scope

__version__ = "0.1.0"

# Loaded on first use (PEP 562): what a training script may never touch need not slow
# every start-up (``import dualgrad`` is part of a compiled step's start-up latency).
_LAZY_MODULES = ("dataset", "datasets", "iterators", "serializers", "training")


def __getattr__(name):
    if name in _LAZY_MODULES:
        module = importlib.import_module(f".{name}", __name__)
        globals()[name] = module
        return module
    raise AttributeError(f"module 'dualgrad' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY_MODULES))

__all__ = [
    "OP_REGISTRY", "BackwardError", "Chain", "ChainList", "DTypeError", "DeviceError",
    "DualgradError", "Link", "NonFiniteError", "Op", "OpError", "Parameter", "Sequential",
    "ShapeError", "Variable", "apply", "as_array", "as_variable", "config", "cuda", "dataset",
    "datasets", "force_backprop_mode", "functions", "get_array_module", "grad",
    "initializers", "iterators", "links", "no_backprop_mode", "optimizer", "optimizer_hooks",
    "optimizers", "report", "report_scope", "reporter", "serializers", "training",
    "using_config", "variable",
]  # fmt: skip
