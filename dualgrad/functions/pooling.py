"""2-D pooling over (N, C, H, W) images."""

import numpy  # noqa: F401  (the examples use it)

from ..ops import conv


def max_pooling_2d(x, ksize, stride=None, pad=0, cover_all=True):
    """Max over each ``ksize`` window (stride defaults to ``ksize``).

    >>> max_pooling_2d(numpy.arange(16.0).reshape(1, 1, 4, 4), 2).array[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    return conv.max_pooling_2d(x, ksize, stride=stride, pad=pad, cover_all=cover_all)


def average_pooling_2d(x, ksize, stride=None, pad=0):
    """Mean over each ``ksize`` window (padding counts as zeros).

    >>> average_pooling_2d(numpy.ones((1, 1, 4, 4)), 2).shape
    (1, 1, 2, 2)
    """
    return conv.average_pooling_2d(x, ksize, stride=stride, pad=pad)


__all__ = ["average_pooling_2d", "max_pooling_2d"]
