"""``T.nnet``: Theano's neural-network functions, as the same ops as ``F``.

Theano's softmax works along the last axis; its ``conv2d`` is a true convolution
(filters flipped), which ``dualgrad_jit.tensor.functions.conv2d`` reproduces on top of
``F.convolution_2d`` (a cross-correlation).

>>> import dualgrad.functions as F, dualgrad_jit.tensor as T
>>> T.nnet.sigmoid(T.dmatrix('x')).owner.fn is F.sigmoid
True
"""

from dualgrad import functions as F

from . import functions as TF
from .basic import symbolic
from .variable import apply_function, as_tensor_variable

sigmoid = symbolic(F.sigmoid)
ultra_fast_sigmoid = symbolic(F.sigmoid, "ultra_fast_sigmoid")
hard_sigmoid = symbolic(F.hard_sigmoid)
softplus = symbolic(F.softplus)
elu = symbolic(F.elu)
selu = symbolic(F.selu)
categorical_crossentropy = symbolic(TF.categorical_crossentropy)
binary_crossentropy = symbolic(TF.binary_crossentropy)
conv2d = symbolic(TF.conv2d)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along the last axis (Theano's rows), overflow-free."""
    return apply_function(F.softmax, (as_tensor_variable(x),), {"axis": axis})


def logsoftmax(x, axis=-1):
    """``log(softmax(x))`` computed stably, along the last axis."""
    return apply_function(F.log_softmax, (as_tensor_variable(x),), {"axis": axis})


def relu(x, alpha=0):
    """``max(x, 0)``; with ``alpha``, ``alpha * x`` for negative ``x`` (leaky)."""
    if alpha == 0:
        return apply_function(F.relu, (as_tensor_variable(x),))
    return apply_function(F.leaky_relu, (as_tensor_variable(x),), {"slope": alpha})
