"""Recurrent cells: Chainer's ``lstm``."""

import numpy  # noqa: F401  (the examples use it)

from ..core.aval import aval_of
from ..errors import ShapeError
from ..ops import elementwise as ew
from ..ops import index, view
from .activation import sigmoid


def _check_lstm(c_prev, x):
    c_shape, x_shape = aval_of(c_prev).shape, aval_of(x).shape
    if (len(x_shape) < 2 or x_shape[1] % 4 or len(c_shape) != len(x_shape)
            or c_shape[1] != x_shape[1] // 4 or c_shape[2:] != x_shape[2:]
            or x_shape[0] > c_shape[0]):
        raise ShapeError(
            "lstm", "needs x of shape (B, 4H, ...) and c_prev of shape (B', H, ...) with B <= B'",
            (aval_of(c_prev), aval_of(x)),
            hint="x holds the four gate pre-activations per unit: 4 times c_prev's axis 1",
        )
    return c_shape, x_shape


def lstm(c_prev, x):
    """One LSTM step; returns ``(c, h)``.

    ``x`` (B, 4H) holds the pre-activations of the gates ``a, i, f, o`` interleaved per
    unit, as in Chainer (``x.reshape(B, H, 4)[:, :, k]`` is gate ``k``):
    ``c = tanh(a) * sigmoid(i) + sigmoid(f) * c_prev``, ``h = sigmoid(o) * tanh(c)``.
    When x has fewer rows than ``c_prev``, the remaining rows of ``c_prev`` pass through
    to ``c`` unchanged (and ``h`` has x's rows only).

    >>> c, h = lstm(numpy.zeros((1, 2)), numpy.zeros((1, 8)))
    >>> c.shape, h.shape
    ((1, 2), (1, 2))
    """
    c_shape, x_shape = _check_lstm(c_prev, x)
    batch = x_shape[0]
    gates = view.reshape(x, (batch, x_shape[1] // 4, 4) + tuple(x_shape[2:]))
    a, i, f, o = (index.get_item(gates, (slice(None), slice(None), k)) for k in range(4))
    c_head = c_prev
    if batch < c_shape[0]:
        c_head = index.get_item(c_prev, slice(0, batch))
    c = ew.add(ew.mul(ew.tanh(a), sigmoid(i)), ew.mul(sigmoid(f), c_head))
    h = ew.mul(sigmoid(o), ew.tanh(c))
    if batch < c_shape[0]:
        c = view.concat([c, index.get_item(c_prev, slice(batch, None))], axis=0)
    return c, h


__all__ = ["lstm"]
