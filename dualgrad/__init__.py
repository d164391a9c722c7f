"""dualgrad: define-by-run automatic differentiation on numpy and cupy arrays.

>>> import numpy as np, dualgrad as dg
>>> x = dg.Variable(np.array([1.0, 2.0, 3.0]))
>>> y = (x ** 2).sum()
>>> y.backward()
>>> x.grad
array([2., 4., 6.])
"""

from . import (
    cuda,
    dataset,
    datasets,
    functions,
    initializers,
    iterators,
    links,
    ops,  # noqa: F401  (installs Variable's operators)
    optimizer,
    optimizer_hooks,
    optimizers,
    reporter,
    serializers,
    training,
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

__all__ = [
    "OP_REGISTRY", "BackwardError", "Chain", "ChainList", "DTypeError", "DeviceError",
    "DualgradError", "Link", "NonFiniteError", "Op", "OpError", "Parameter", "Sequential",
    "ShapeError", "Variable", "apply", "as_array", "as_variable", "config", "cuda", "dataset",
    "datasets", "force_backprop_mode", "functions", "get_array_module", "grad",
    "initializers", "iterators", "links", "no_backprop_mode", "optimizer", "optimizer_hooks",
    "optimizers", "report", "report_scope", "reporter", "serializers", "training",
    "using_config", "variable",
]  # fmt: skip
