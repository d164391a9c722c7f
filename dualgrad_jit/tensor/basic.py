"""The math of ``T``: the very functions of ``dualgrad.functions`` (and a few of
``dualgrad_jit.tensor.functions`` where Theano has a name ``F`` lacks), applied
symbolically.  ``T.exp(x)`` is a recipe step whose function *is* ``F.exp``.

>>> import dualgrad.functions as F, dualgrad_jit.tensor as T
>>> T.exp(T.dvector('x')).owner.fn is F.exp
True
"""

import numpy

from dualgrad import functions as F
from dualgrad.ops import elementwise as ew

from . import functions as TF
from .type import config
from .variable import apply_function, as_operand, as_tensor_variable, reduction


def symbolic(fn, name=None):
    """``fn`` as a function of symbolic arguments: each call makes a recipe step storing
    ``fn`` itself.  Arrays among the arguments become constants."""

    def step(*args, **kwargs):
        data = tuple(as_operand(a) if isinstance(a, numpy.ndarray) else a for a in args)
        return apply_function(fn, data, kwargs)

    step.__name__ = step.__qualname__ = name or fn.__name__
    step.__doc__ = (f"Symbolic ``{fn.__module__}.{fn.__name__}``: a recipe step computed "
                    "when the compiled function runs.")
    step.function = fn
    return step


# -- elementwise ---------------------------------------------------------------------------
exp = symbolic(F.exp)
log = symbolic(F.log)
log1p = symbolic(F.log1p)
expm1 = symbolic(F.expm1)
sqrt = symbolic(F.sqrt)
sqr = symbolic(F.square, "sqr")
tanh = symbolic(F.tanh)
sin = symbolic(F.sin)
cos = symbolic(F.cos)
erf = symbolic(F.erf)
floor = symbolic(F.floor)
sgn = symbolic(F.sign, "sgn")
abs_ = symbolic(F.absolute, "abs")
neg = symbolic(ew.neg)
maximum = symbolic(F.maximum)
minimum = symbolic(F.minimum)
clip = symbolic(F.clip)
switch = symbolic(F.where, "switch")
add = symbolic(ew.add)
sub = symbolic(ew.sub)
mul = symbolic(ew.mul)
true_div = symbolic(ew.div, "true_div")
pow = symbolic(ew.power, "pow")  # noqa: A001 - Theano's name
eq = symbolic(ew.equal, "eq")
neq = symbolic(ew.not_equal, "neq")
lt = symbolic(ew.less, "lt")
le = symbolic(ew.less_equal, "le")
gt = symbolic(ew.greater, "gt")
ge = symbolic(ew.greater_equal, "ge")
dot = symbolic(TF.dot)
ones_like = symbolic(TF.ones_like)
zeros_like = symbolic(TF.zeros_like)
arange = symbolic(TF.arange)
logsumexp = symbolic(F.logsumexp)


def cast(x, dtype):
    """``x`` converted to ``dtype`` ('float32', 'int64'... or 'floatX')."""
    dtype = config.floatX if dtype == "floatX" else numpy.dtype(dtype).name
    return apply_function(F.cast, (as_tensor_variable(x), dtype))


def zeros(shape, dtype=None):
    """Zeros of ``shape`` (sizes may be symbolic: ``T.zeros((x.shape[0], 3))``)."""
    return apply_function(TF.full, (shape, 0, dtype or config.floatX), label="zeros")


def ones(shape, dtype=None):
    """Ones of ``shape`` (sizes may be symbolic)."""
    return apply_function(TF.full, (shape, 1, dtype or config.floatX), label="ones")


# -- reductions ------------------------------------------------------------------------------
def sum(x, axis=None, keepdims=False):  # noqa: A001 - Theano's name
    return reduction(F.sum, x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    return reduction(F.mean, x, axis, keepdims)


def max(x, axis=None, keepdims=False):  # noqa: A001 - Theano's name
    return reduction(F.max, x, axis, keepdims)


def min(x, axis=None, keepdims=False):  # noqa: A001 - Theano's name
    return reduction(F.min, x, axis, keepdims)


def prod(x, axis=None, keepdims=False):
    return reduction(F.prod, x, axis, keepdims)


def argmax(x, axis=None):
    return reduction(F.argmax, x, axis)


def argmin(x, axis=None):
    return reduction(F.argmin, x, axis)


# -- shapes ----------------------------------------------------------------------------------
def reshape(x, newshape, ndim=None):
    return as_tensor_variable(x).reshape(newshape, ndim=ndim)


def flatten(x, ndim=1):
    return as_tensor_variable(x).flatten(ndim)


def transpose(x, axes=None):
    return as_tensor_variable(x).transpose(*(axes or ()))


def shape(x):
    return as_tensor_variable(x).shape


def concatenate(tensor_list, axis=0):
    """Join along an existing axis (Theano's default axis is 0)."""
    parts = [as_operand(t) for t in tensor_list]
    return apply_function(F.concat, (parts,), {"axis": axis})


def stack(*tensors, axis=0):
    """Join along a new axis: ``T.stack([a, b], axis=0)`` (or the older ``T.stack(a, b)``)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tensors[0]
    elif len(tensors) == 2 and isinstance(tensors[0], (list, tuple)):
        tensors, axis = tensors
    parts = [as_operand(t) for t in tensors]
    return apply_function(F.stack, (parts,), {"axis": axis})
