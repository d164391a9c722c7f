"""``TupleDataset``: several equally long datasets zipped into one."""

import numpy

from ..errors import ShapeError


class TupleDataset:
    """The ``i``-th example is ``(a[i], b[i], ...)`` for the given arrays or datasets.

    An integer index gives one tuple; a slice, a list or an integer array gives a
    list of tuples, as in Chainer.

    >>> x = numpy.arange(6, dtype=numpy.float32).reshape(3, 2)
    >>> t = numpy.array([0, 1, 0], dtype=numpy.int32)
    >>> data = TupleDataset(x, t)
    >>> len(data), data[1]
    (3, (array([2., 3.], dtype=float32), np.int32(1)))
    >>> [int(label) for _, label in data[0:2]]
    [0, 1]
    """

    def __init__(self, *datasets):
        if not datasets:
            raise ValueError("TupleDataset needs at least one dataset, e.g. TupleDataset(x, t)")
        lengths = [len(dataset) for dataset in datasets]
        if any(length != lengths[0] for length in lengths):
            raise ShapeError(
                "TupleDataset",
                f"the datasets have different lengths {lengths}; example i takes item i "
                "of every dataset, so all must have the same length",
                hint="check that inputs and labels were cut the same way (x[:n], t[:n])",
            )
        self._datasets = datasets
        self._length = lengths[0]

    def __getitem__(self, index):
        items = [dataset[index] for dataset in self._datasets]
        if isinstance(index, (slice, list, numpy.ndarray)):
            return list(zip(*items))
        return tuple(items)

    def __len__(self):
        return self._length

    def __repr__(self):
        return f"TupleDataset(len={self._length}, items={len(self._datasets)})"
