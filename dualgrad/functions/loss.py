"""Loss functions (Chainer's semantics and keyword names)."""

import numpy  # noqa: F401  (the examples use it)

from ..core.aval import aval_of
from ..errors import ShapeError
from ..ops import elementwise as ew
from ..ops import index, stable
from ..ops import reduce as reductions


def softmax_cross_entropy(x, t, normalize=True, cache_score=True, class_weight=None,
                          ignore_label=-1, reduce="mean", enable_double_backprop=False):
    """Cross entropy of ``softmax(x, axis=1)`` against integer labels ``t``.

    Labels equal to ``ignore_label`` contribute 0; ``reduce='mean'`` divides the sum by
    the number of other labels (``normalize=True``) or by the batch size; ``reduce='no'``
    gives the loss per label.  ``class_weight`` (one weight per class) scales each
    label's loss.  Stable for any logits; double backprop always works
    (``cache_score`` and ``enable_double_backprop`` are accepted for compatibility).

    >>> x = numpy.zeros((2, 4)); t = numpy.array([1, 3])
    >>> round(float(softmax_cross_entropy(x, t).array), 4)
    1.3863
    """
    if class_weight is None:
        return stable.softmax_cross_entropy(x, t, normalize, ignore_label, reduce)
    return _weighted_softmax_cross_entropy(x, t, normalize, class_weight, ignore_label, reduce)


def _weighted_softmax_cross_entropy(x, t, normalize, class_weight, ignore_label, reduce_mode):
    per_label = stable.softmax_cross_entropy(x, t, normalize, ignore_label, reduce="no")
    valid = ew.not_equal(t, ignore_label)
    weight = index.get_item(class_weight, ew.where(valid, t, 0))
    loss = ew.mul(per_label, weight)
    if reduce_mode == "no":
        return loss
    count = reductions.sum(ew.cast(valid, loss.dtype)) if normalize else aval_of(x).shape[0]
    return ew.div(reductions.sum(loss), ew.maximum(count, 1))


def sigmoid_cross_entropy(x, t, normalize=True, reduce="mean"):
    """Binary cross entropy of ``sigmoid(x)`` against labels ``t`` in {0, 1} (-1: ignored).

    >>> round(float(sigmoid_cross_entropy(numpy.zeros((2, 1)), numpy.array([[0], [1]])).array), 4)
    0.6931
    """
    return stable.sigmoid_cross_entropy(x, t, normalize, reduce)


def _check_same_shape(op_name, x0, x1):
    a0, a1 = aval_of(x0), aval_of(x1)
    if a0.shape != a1.shape:
        raise ShapeError(
            op_name, f"inputs must have the same shape, got {a0.shape} and {a1.shape}",
            (a0, a1), hint="reshape one input (no broadcasting here: it usually hides a bug, "
            "e.g. a (N,) target against an (N, 1) prediction)",
        )
    return a0


def mean_squared_error(x0, x1):
    """``mean((x0 - x1) ** 2)`` over every element; the shapes must be equal.

    >>> mean_squared_error(numpy.array([1.0, 2.0]), numpy.array([1.0, 4.0])).array
    array(2.)
    """
    aval = _check_same_shape("mean_squared_error", x0, x1)
    diff = ew.sub(x0, x1)
    return ew.div(reductions.sum(ew.mul(diff, diff)), max(aval.size, 1))


def mean_absolute_error(x0, x1):
    """``mean(|x0 - x1|)`` over every element; the shapes must be equal.

    >>> mean_absolute_error(numpy.array([1.0, 2.0]), numpy.array([1.0, 4.0])).array
    array(1.)
    """
    aval = _check_same_shape("mean_absolute_error", x0, x1)
    return ew.div(reductions.sum(ew.absolute(ew.sub(x0, x1))), max(aval.size, 1))


__all__ = [
    "mean_absolute_error", "mean_squared_error", "sigmoid_cross_entropy",
    "softmax_cross_entropy",
]  # fmt: skip
