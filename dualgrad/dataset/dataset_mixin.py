"""``DatasetMixin``: write ``get_example(i)`` and ``__len__``, get indexing for free."""

import numpy


class DatasetMixin:
    """A dataset defined by ``__len__`` and ``get_example(i)``.

    Indexing follows Chainer: an integer gives one example; a slice, a list or an
    integer array gives a list of examples.

    >>> class Squares(DatasetMixin):
    ...     def __len__(self):
    ...         return 5
    ...     def get_example(self, i):
    ...         return i * i
    >>> Squares()[3], Squares()[1:4], Squares()[[0, 4]]
    (9, [1, 4, 9], [0, 16])
    """

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(len(self))
            return [self.get_example(i) for i in range(start, stop, step)]
        if isinstance(index, (list, numpy.ndarray)):
            return [self.get_example(i) for i in index]
        return self.get_example(index)

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def get_example(self, i):
        """The ``i``-th example."""
        raise NotImplementedError(f"{type(self).__name__} must implement get_example(i)")
