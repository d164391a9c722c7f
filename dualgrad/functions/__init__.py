"""Differentiable functions with Chainer's names and keywords, imported as ``F``.

Every function takes Variables, numpy/cupy arrays and (where it makes sense) Python
scalars, and returns Variables.  They are composites of the primitive ops in
``dualgrad.ops``; the unstable ones (log_softmax, logsumexp, the cross entropies)
use the stable ops of ``dualgrad.ops.stable``.

>>> import numpy as np, dualgrad as dg, dualgrad.functions as F
>>> x = dg.Variable(np.array([[1.0, -2.0]]))
>>> F.sum(F.relu(x)).array
array(1.)
"""

from .activation import (
    elu,
    gelu,
    hard_sigmoid,
    leaky_relu,
    log_softmax,
    relu,
    selu,
    sigmoid,
    softmax,
    softplus,
    tanh,
)
from .array import (
    broadcast,
    broadcast_to,
    cast,
    concat,
    expand_dims,
    flatten,
    get_item,
    pad,
    repeat,
    reshape,
    split_axis,
    squeeze,
    stack,
    swapaxes,
    tile,
    transpose,
    where,
)
from .connection import convolution_2d, deconvolution_2d, embed_id, linear
from .evaluation import accuracy
from .loss import (
    mean_absolute_error,
    mean_squared_error,
    sigmoid_cross_entropy,
    softmax_cross_entropy,
)
from .math import (
    absolute,
    argmax,
    argmin,
    batch_matmul,
    clip,
    cos,
    erf,
    exp,
    expm1,
    floor,
    identity,
    log,
    log1p,
    logsumexp,
    matmul,
    max,
    maximum,
    mean,
    min,
    minimum,
    prod,
    sign,
    sin,
    sqrt,
    square,
    sum,
)
from .noise import dropout
from .normalization import batch_normalization, fixed_batch_normalization, layer_normalization
from .pooling import average_pooling_2d, max_pooling_2d
from .rnn import lstm

__all__ = [
    "absolute", "accuracy", "argmax", "argmin", "average_pooling_2d", "batch_matmul",
    "batch_normalization", "broadcast", "broadcast_to", "cast", "clip", "concat",
    "convolution_2d", "cos", "deconvolution_2d", "dropout", "elu", "embed_id", "erf", "exp",
    "expand_dims", "expm1", "fixed_batch_normalization", "flatten", "floor", "gelu",
    "get_item", "hard_sigmoid", "identity", "layer_normalization", "leaky_relu", "linear",
    "log", "log1p", "log_softmax", "logsumexp", "lstm", "matmul", "max", "max_pooling_2d",
    "maximum", "mean", "mean_absolute_error", "mean_squared_error", "min", "minimum", "pad",
    "prod", "relu", "repeat", "reshape", "selu", "sigmoid", "sigmoid_cross_entropy", "sign",
    "sin", "softmax", "softmax_cross_entropy", "softplus", "split_axis", "sqrt", "square",
    "squeeze", "stack", "sum", "swapaxes", "tanh", "tile", "transpose", "where",
]  # fmt: skip


def _accept_symbolic_arguments():
    from ._dispatch import accepting_symbolic

    namespace = globals()
    for name in __all__:
        namespace[name] = accepting_symbolic(namespace[name])


_accept_symbolic_arguments()
