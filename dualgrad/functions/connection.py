"""Connections with parameters: linear, 2-D (de)convolution, embedding lookup."""

import numpy

from ..core.aval import aval_of
from ..errors import DTypeError, ShapeError
from ..ops import conv, index, linalg, view
from ..ops import elementwise as ew
from ._utils import shape_of


def linear(x, W, b=None, n_batch_axes=1):
    """``y = x W^T + b`` with ``W`` of shape (out, in), as in Chainer.

    The first ``n_batch_axes`` axes of ``x`` are batch axes; the rest are flattened
    into the ``in`` features.

    >>> linear(numpy.ones((4, 3)), numpy.ones((2, 3)), numpy.zeros(2)).array[0]
    array([3., 3.])
    """
    x_shape, w_shape = shape_of(x), shape_of(W)
    if n_batch_axes < 1:
        raise ValueError(f"n_batch_axes must be >= 1, got {n_batch_axes}")
    batch_shape = tuple(x_shape[:n_batch_axes])
    features = int(numpy.prod(x_shape[n_batch_axes:], dtype=numpy.int64))
    if len(w_shape) != 2 or len(x_shape) <= n_batch_axes or features != w_shape[1]:
        raise ShapeError(
            "linear", f"x {tuple(x_shape)} has {features} features per row "
            f"(after {n_batch_axes} batch axes) but W {tuple(w_shape)} expects (out, in)",
            (aval_of(x), aval_of(W)),
            hint="W must be (out_size, in_size) with in_size = the product of x's non-batch "
            "axes (L.Linear(None, out_size) infers it)",
        )
    if len(x_shape) != n_batch_axes + 1 or n_batch_axes != 1:
        x = view.reshape(x, (int(numpy.prod(batch_shape, dtype=numpy.int64)), features))
    y = linalg.matmul(x, W, transb=True)
    if b is not None:
        y = ew.add(y, b)
    if n_batch_axes != 1:
        y = view.reshape(y, batch_shape + (w_shape[0],))
    return y


def convolution_2d(x, W, b=None, stride=1, pad=0, cover_all=False, *, dilate=1, groups=1):
    """2-D convolution of (N, C, H, W) images with (out_c, C / groups, kh, kw) filters.

    >>> convolution_2d(numpy.ones((1, 2, 4, 4)), numpy.ones((3, 2, 3, 3)), pad=1).shape
    (1, 3, 4, 4)
    """
    return conv.convolution_2d(x, W, b, stride, pad, cover_all, dilate=dilate, groups=groups)


def deconvolution_2d(x, W, b=None, stride=1, pad=0, outsize=None, *, dilate=1, groups=1):
    """2-D transposed convolution; ``W`` is (in_c, out_c / groups, kh, kw).

    >>> deconvolution_2d(numpy.ones((1, 2, 3, 3)), numpy.ones((2, 4, 3, 3)), stride=2).shape
    (1, 4, 7, 7)
    """
    return conv.deconvolution_2d(x, W, b, stride, pad, outsize, dilate=dilate, groups=groups)


def embed_id(x, W, ignore_label=None):
    """Rows of ``W`` picked by the integer ids ``x``; ids equal to ``ignore_label`` give 0.

    >>> embed_id(numpy.array([2, 0]), numpy.arange(6.0).reshape(3, 2)).array
    array([[4., 5.],
           [0., 1.]])
    """
    x_aval = aval_of(x)
    if x_aval.dtype.kind not in "iu":
        raise DTypeError(
            "embed_id", f"ids must be integers, got {x_aval.dtype}", (x_aval, aval_of(W)),
            hint="pass integer ids, e.g. x.astype('int32')",
        )
    if ignore_label is None:
        return index.get_item(W, x)
    valid = ew.not_equal(x, ignore_label)
    rows = index.get_item(W, ew.where(valid, x, 0))
    keep = view.reshape(ew.cast(valid, W.dtype), tuple(x_aval.shape) + (1,))
    return ew.mul(rows, keep)
