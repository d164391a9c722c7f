"""Views of a part of a dataset, and splits into two parts (train / validation)."""

import numbers

import numpy

from ..dataset.dataset_mixin import DatasetMixin


class SubDataset(DatasetMixin):
    """Examples ``start .. finish-1`` of ``dataset``, optionally through a permutation.

    With ``order`` (a permutation of ``range(len(dataset))``), example ``i`` of the
    subset is ``dataset[order[start + i]]``; without it, ``dataset[start + i]``.
    Nothing is copied.

    >>> sub = SubDataset(list('abcdef'), 1, 4)
    >>> len(sub), sub[0], sub[-1], sub[:]
    (3, 'b', 'd', ['b', 'c', 'd'])
    """

    def __init__(self, dataset, start, finish, order=None):
        if not 0 <= start <= finish <= len(dataset):
            raise ValueError(
                f"SubDataset({start}, {finish}) does not fit a dataset of length "
                f"{len(dataset)}; need 0 <= start <= finish <= len(dataset)"
            )
        if order is not None and len(order) != len(dataset):
            raise ValueError(
                f"order must be a permutation of the whole dataset: len(order) = "
                f"{len(order)} while len(dataset) = {len(dataset)}"
            )
        self._dataset = dataset
        self._start = start
        self._finish = finish
        self._size = finish - start
        self._order = order

    def __len__(self):
        return self._size

    def get_example(self, i):
        if not -self._size <= i < self._size:
            raise IndexError(f"index {i} is out of range for a SubDataset of length {self._size}")
        index = self._start + i if i >= 0 else self._finish + i
        if self._order is not None:
            index = self._order[index]
        return self._dataset[index]


def split_dataset(dataset, split_at, order=None):
    """``(dataset[:split_at], dataset[split_at:])`` as two ``SubDataset`` views.

    >>> first, second = split_dataset(list(range(10)), 7)
    >>> len(first), len(second), second[0]
    (7, 3, 7)
    """
    if not isinstance(split_at, numbers.Integral) or isinstance(split_at, bool):
        raise TypeError(f"split_at must be an int, got {type(split_at).__name__}")
    if not 0 <= split_at <= len(dataset):
        raise ValueError(
            f"split_at={split_at} is outside 0..{len(dataset)} (the dataset's length)"
        )
    return (SubDataset(dataset, 0, split_at, order),
            SubDataset(dataset, split_at, len(dataset), order))


def split_dataset_random(dataset, first_size, seed=None):
    """Split into a random subset of ``first_size`` examples and the rest.

    The permutation comes from ``numpy.random.RandomState(seed)``, so a fixed
    ``seed`` gives the same split every time (and the same split Chainer gave).

    >>> train, valid = split_dataset_random(list(range(10)), 8, seed=0)
    >>> len(train), len(valid), sorted(list(train) + list(valid)) == list(range(10))
    (8, 2, True)
    """
    order = numpy.random.RandomState(seed).permutation(len(dataset))
    return split_dataset(dataset, first_size, order)
