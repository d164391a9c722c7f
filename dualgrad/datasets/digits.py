"""Handwritten digits that need no download: scikit-learn's bundled 8x8 images.

``sklearn.datasets.load_digits`` ships with scikit-learn as a small data file: 1797
real images of handwritten digits 0..9 (the UCI "Optical Recognition of Handwritten
Digits" test set), each 8x8 pixels holding counts 0..16.  It plays the role MNIST
played in Chainer's examples, at a size that trains in seconds on a CPU.
"""

import numpy

from ..errors import DualgradError
from .tuple_dataset import TupleDataset

N_DIGIT_CLASSES = 10
_MAX_PIXEL = 16.0


class MissingDependencyError(DualgradError, ImportError):
    """A dataset needs an optional package that is not installed."""


def _load_digits():
    try:
        from sklearn.datasets import load_digits
    except ImportError as error:
        raise MissingDependencyError(
            "get_digits reads the digits bundled with scikit-learn, which is not installed; "
            "install the 'datasets' extra: pip install 'dualgrad[datasets]' "
            "(or pip install scikit-learn)"
        ) from error
    bunch = load_digits()
    return bunch.data, bunch.target


def get_digits(withlabel=True, ndim=1, scale=1.0, dtype=numpy.float32,
               label_dtype=numpy.int32, test_ratio=0.2, seed=0):
    """``(train, test)`` splits of the 1797 handwritten 8x8 digits.

    Pixels are scaled from ``0..16`` to ``[0, scale]``.  ``ndim`` picks the image
    layout: 1 gives vectors ``(64,)``, 2 gives ``(8, 8)``, 3 gives ``(1, 8, 8)``
    (channel first, for convolutions).  With ``withlabel`` each split is a
    ``TupleDataset`` of ``(image, label)``; without, it is the image array alone.
    The split is a fixed permutation from ``numpy.random.RandomState(seed)``:
    ``round(1797 * test_ratio)`` images go to ``test``, the rest to ``train``.

    >>> train, test = get_digits()
    >>> len(train), len(test)
    (1438, 359)
    >>> x, t = train[0]
    >>> x.shape, x.dtype, t.dtype
    ((64,), dtype('float32'), dtype('int32'))
    """
    if ndim not in (1, 2, 3):
        raise ValueError(f"ndim must be 1 (64,), 2 (8, 8) or 3 (1, 8, 8); got {ndim!r}")
    if not 0.0 <= test_ratio < 1.0:
        raise ValueError(f"test_ratio must be in [0, 1); got {test_ratio!r}")
    pixels, labels = _load_digits()
    images = (pixels * (scale / _MAX_PIXEL)).astype(dtype)
    images = images.reshape({1: (-1, 64), 2: (-1, 8, 8), 3: (-1, 1, 8, 8)}[ndim])
    labels = labels.astype(label_dtype)
    order = numpy.random.RandomState(seed).permutation(len(images))
    n_test = int(round(len(images) * test_ratio))
    test_index, train_index = order[:n_test], order[n_test:]
    if not withlabel:
        return images[train_index], images[test_index]
    return (TupleDataset(images[train_index], labels[train_index]),
            TupleDataset(images[test_index], labels[test_index]))
