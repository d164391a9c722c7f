"""``dualgrad_jit.tensor`` (imported as ``T``): Theano's typed symbolic constructors and
the math users reach for, computed by the same ops as ``dualgrad.functions``.

Constructors: a dtype prefix ``b w i l f d`` (int8, int16, int32, int64, float32,
float64) and a rank ``scalar vector row col matrix tensor3 tensor4 tensor5``
(``T.dmatrix('x')``, ``T.ivector()``); plurals make several at once
(``T.dscalars('x', 'y')``, ``T.fmatrices(3)``); the unprefixed forms (``T.matrix``...)
use ``dj.config.floatX``; ``T.tensor(dtype, shape=(None, 3))`` fixes some sizes.

>>> import dualgrad_jit.tensor as T
>>> T.dscalar
TensorType(float64, scalar)
>>> x = T.dmatrix('x'); x.type
TensorType(float64, matrix)
>>> T.tensor('float32', shape=(None, 3)).type
TensorType(float32, shape=(?, 3))
"""

from . import nnet
from .basic import (
    abs_,
    add,
    arange,
    argmax,
    argmin,
    cast,
    clip,
    concatenate,
    cos,
    dot,
    eq,
    erf,
    exp,
    expm1,
    flatten,
    floor,
    ge,
    gt,
    le,
    log,
    log1p,
    logsumexp,
    lt,
    max,
    maximum,
    mean,
    min,
    minimum,
    mul,
    neg,
    neq,
    ones,
    ones_like,
    pow,
    prod,
    reshape,
    sgn,
    shape,
    sin,
    sqr,
    sqrt,
    stack,
    sub,
    sum,
    switch,
    tanh,
    transpose,
    true_div,
    zeros,
    zeros_like,
)
from .type import TensorType, config
from .variable import TensorVariable, as_tensor_variable, constant

abs = abs_  # noqa: A001 - Theano's name
where = switch

PREFIXES = {"b": "int8", "w": "int16", "i": "int32", "l": "int64", "f": "float32",
            "d": "float64"}
RANKS = {"scalar": (), "vector": (None,), "row": (1, None), "col": (None, 1),
         "matrix": (None, None), "tensor3": (None,) * 3, "tensor4": (None,) * 4,
         "tensor5": (None,) * 5}
PLURALS = {"scalar": "scalars", "vector": "vectors", "row": "rows", "col": "cols",
           "matrix": "matrices", "tensor3": "tensor3s", "tensor4": "tensor4s",
           "tensor5": "tensor5s"}


def tensor(dtype, shape=None, name=None, broadcastable=None):
    """A placeholder of ``dtype`` with ``shape`` (an int fixes a size, None leaves it
    free; checked at call time).  Theano's form ``T.tensor(dtype, (False, True))``
    (broadcastable flags: True means size 1) works too."""
    if broadcastable is None and shape is not None and all(isinstance(b, bool) for b in shape):
        shape, broadcastable = None, shape
    if shape is None and broadcastable is None:
        raise TypeError("T.tensor needs shape=(...) (None for a free size)")
    dtype = config.floatX if dtype == "floatX" else dtype
    return TensorType(dtype, broadcastable=broadcastable, shape=shape)(name)


def _several(make, names):
    """Theano's plural constructors: ``(3)`` makes three, ``('x', 'y')`` two named."""
    if len(names) == 1 and isinstance(names[0], int):
        return [make(None) for _ in range(names[0])]
    if len(names) == 1:
        return make(names[0])
    return [make(name) for name in names]


def _plural(ttype, plural):
    def make(*names):
        return _several(ttype, names)

    make.__name__ = make.__qualname__ = plural
    make.__doc__ = f"Several placeholders of {ttype}."
    return make


def _floatx(rank, rank_shape):
    def make(name=None, dtype=None):
        return TensorType(dtype or config.floatX, shape=rank_shape)(name)

    def make_several(*names, dtype=None):
        return _several(lambda n: make(n, dtype), names)

    make.__name__ = make.__qualname__ = rank
    make.__doc__ = f"A {rank} placeholder of dtype ``dtype`` (default ``dj.config.floatX``)."
    make_several.__name__ = make_several.__qualname__ = PLURALS[rank]
    make_several.__doc__ = f"Several {rank} placeholders (dtype ``dj.config.floatX``)."
    return make, make_several


def _constructors():
    made = {}
    for rank, rank_shape in RANKS.items():
        made[rank], made[PLURALS[rank]] = _floatx(rank, rank_shape)
        for prefix, dtype in PREFIXES.items():
            ttype = TensorType(dtype, shape=rank_shape)
            made[prefix + rank] = ttype
            made[prefix + PLURALS[rank]] = _plural(ttype, prefix + PLURALS[rank])
    return made


CONSTRUCTORS = _constructors()
globals().update(CONSTRUCTORS)


def __getattr__(name):
    """``T.grad``, ``T.jacobian``, ``T.hessian``: Theano's spellings of ``dj.grad``..."""
    if name in ("grad", "jacobian", "hessian"):
        from .. import gradient

        return getattr(gradient, name)
    raise AttributeError(f"module 'dualgrad_jit.tensor' has no attribute {name!r}")

__all__ = [
    "TensorType", "TensorVariable", "abs", "abs_", "add", "arange", "argmax", "argmin",
    "as_tensor_variable", "cast", "clip", "concatenate", "config", "constant", "cos", "dot",
    "eq", "erf", "exp", "expm1", "flatten", "floor", "ge", "gt", "le", "log", "log1p",
    "logsumexp", "lt", "max", "maximum", "mean", "min", "minimum", "mul", "neg", "neq",
    "nnet", "ones", "ones_like", "pow", "prod", "reshape", "sgn", "shape", "sin", "sqr",
    "sqrt", "stack", "sub", "sum", "switch", "tanh", "tensor", "transpose", "true_div",
    "where", "zeros", "zeros_like",
] + sorted(CONSTRUCTORS)  # fmt: skip


def _route_functions_here():
    """``F.exp(T.dvector())`` builds the same recipe step as ``T.exp(...)``."""
    from dualgrad.functions._dispatch import register_symbolic

    from .basic import symbolic as _symbolic

    register_symbolic((TensorVariable,), lambda fn, args, kwargs: _symbolic(fn)(*args, **kwargs))


_route_functions_here()
