"""Evaluation metrics: values to report, never differentiated."""

import numpy  # noqa: F401  (the examples use it)

from .._config import no_backprop_mode
from ..core.aval import aval_of
from ..errors import ShapeError
from ..ops import elementwise as ew
from ..ops import reduce, view


def accuracy(y, t, ignore_label=None):
    """Fraction of rows whose arg-max over axis 1 of ``y`` equals the label ``t``
    (labels equal to ``ignore_label`` are left out; 0 when nothing is left).

    >>> accuracy(numpy.array([[0.1, 0.9], [0.8, 0.2]]), numpy.array([1, 1])).array
    array(0.5)
    """
    y_aval, t_aval = aval_of(y), aval_of(t)
    if y_aval.ndim < 2 or y_aval.shape[:1] + y_aval.shape[2:] != t_aval.shape:
        raise ShapeError(
            "accuracy", "needs scores y of shape (N, C, ...) and labels t of shape (N, ...)",
            (y_aval, t_aval), hint="y holds one score per class along axis 1",
        )
    with no_backprop_mode():
        pred = view.reshape(reduce.argmax(y, axis=1), t_aval.shape)
        hit = ew.equal(pred, t)
        if ignore_label is None:
            return ew.div(reduce.sum(ew.cast(hit, y_aval.dtype)), max(t_aval.size, 1))
        valid = ew.not_equal(t, ignore_label)
        correct = reduce.sum(ew.cast(ew.where(valid, hit, False), y_aval.dtype))
        total = reduce.sum(ew.cast(valid, y_aval.dtype))
        # 0 / max(0, 1) = 0 when every label is ignored, as in Chainer.
        return ew.div(correct, ew.maximum(total, 1.0))


__all__ = ["accuracy"]
