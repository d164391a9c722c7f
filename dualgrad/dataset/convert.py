"""Turning a list of examples into batched arrays (Chainer's ``concat_examples``).

A minibatch from an iterator is a list of examples; each example is a tuple of
arrays (``(x, t)``), a dict of arrays, or one array.  ``concat_examples`` stacks
the i-th items of every example along a new leading axis, so a batch of ``B``
examples ``(x_b, t_b)`` with ``x_b.shape == (D,)`` becomes ``(X, T)`` with
``X.shape == (B, D)`` and ``T.shape == (B,)``.
"""

import numpy

from ..backend import get_array_module, is_cupy_array
from ..backend import to_device as _move


def to_device(device, x):
    """Send the array ``x`` to ``device`` (Chainer's argument order: device first).

    ``device`` is ``None`` (leave ``x`` where it is), an int (negative: CPU,
    ``n >= 0``: GPU ``n``, as in Chainer) or a string such as ``'cpu'``, ``'gpu'``,
    ``'gpu:1'``, ``'@numpy'`` or ``'@cupy:0'``.

    >>> to_device(-1, numpy.arange(3))
    array([0, 1, 2])
    """
    if device is None or x is None:
        return x
    if isinstance(device, (int, numpy.integer)):
        device = "cpu" if device < 0 else f"gpu:{int(device)}"
    return _move(x, device)


def concat_examples(batch, device=None, padding=None):
    """Stack a list of examples into arrays with a leading batch axis.

    - tuples of arrays give a tuple of stacked arrays,
    - dicts give a dict of stacked arrays (same keys as the first example),
    - plain arrays (or numbers) give one stacked array.

    With ``padding`` (a scalar, or a tuple / dict of scalars per item) examples of
    different shapes are placed at the start of an array of the largest shape that
    is filled with the padding value.

    >>> x = [numpy.array([1., 2.]), numpy.array([3., 4.])]
    >>> t = [numpy.int32(0), numpy.int32(1)]
    >>> xs, ts = concat_examples(list(zip(x, t)))
    >>> xs.shape, ts
    ((2, 2), array([0, 1], dtype=int32))
    >>> concat_examples([numpy.array([1, 2, 3]), numpy.array([4])], padding=-1)
    array([[ 1,  2,  3],
           [ 4, -1, -1]])
    """
    if len(batch) == 0:
        raise ValueError(
            "concat_examples got an empty batch; an iterator must yield at least one example"
        )
    first = batch[0]
    if isinstance(first, tuple):
        paddings = padding if isinstance(padding, tuple) else (padding,) * len(first)
        return tuple(
            to_device(device, _concat_arrays([example[i] for example in batch], paddings[i]))
            for i in range(len(first))
        )
    if isinstance(first, dict):
        paddings = padding if isinstance(padding, dict) else dict.fromkeys(first, padding)
        return {
            key: to_device(device, _concat_arrays([example[key] for example in batch],
                                                  paddings[key]))
            for key in first
        }
    return to_device(device, _concat_arrays(batch, padding))


def _is_array(value):
    return isinstance(value, numpy.ndarray) or is_cupy_array(value)


def _concat_arrays(arrays, padding):
    # Numbers, numpy scalars and lists become numpy arrays (one each when padded,
    # since padded examples may be ragged lists).
    if not _is_array(arrays[0]):
        if padding is None:
            return numpy.asarray(arrays)
        arrays = [numpy.asarray(array) for array in arrays]
    if padding is not None:
        return _concat_with_padding(arrays, padding)
    xp = get_array_module(arrays[0])
    return xp.stack(arrays)


def _concat_with_padding(arrays, padding):
    shape = numpy.array(arrays[0].shape, dtype=numpy.int64)
    for array in arrays[1:]:
        if array.ndim != len(shape):
            raise ValueError(
                f"concat_examples with padding needs examples of equal rank; got ranks "
                f"{len(shape)} and {array.ndim}"
            )
        numpy.maximum(shape, array.shape, out=shape)
    xp = get_array_module(arrays[0])
    result = xp.full((len(arrays), *shape.tolist()), padding, dtype=arrays[0].dtype)
    for i, array in enumerate(arrays):
        result[(i, *(slice(size) for size in array.shape))] = array
    return result
