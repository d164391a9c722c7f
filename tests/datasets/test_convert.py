"""concat_examples and to_device: turning a list of examples into batch arrays."""

import numpy
import pytest

import dualgrad as dg
from dualgrad.dataset import concat_examples, convert, to_device
from dualgrad.datasets import TupleDataset
from dualgrad.errors import DeviceError
from dualgrad.iterators import SerialIterator


def test_tuples_become_a_tuple_of_stacked_arrays():
    x = numpy.arange(12, dtype=numpy.float32).reshape(4, 3)
    t = numpy.array([1, 0, 1, 2], dtype=numpy.int32)
    batch = TupleDataset(x, t)[1:4]
    xs, ts = concat_examples(batch)
    numpy.testing.assert_array_equal(xs, x[1:4])
    numpy.testing.assert_array_equal(ts, t[1:4])
    assert xs.dtype == numpy.float32 and ts.dtype == numpy.int32


def test_is_the_same_function_under_both_names():
    assert convert.concat_examples is concat_examples is dg.dataset.concat_examples


def test_dicts_and_plain_arrays_and_numbers():
    batch = [{"x": numpy.ones(2), "t": 0}, {"x": numpy.zeros(2), "t": 1}]
    result = concat_examples(batch)
    assert set(result) == {"x", "t"}
    assert result["x"].shape == (2, 2)
    numpy.testing.assert_array_equal(result["t"], [0, 1])
    stacked = concat_examples([numpy.ones((2, 3)), numpy.zeros((2, 3))])
    assert stacked.shape == (2, 2, 3)
    numpy.testing.assert_array_equal(concat_examples([1.5, 2.5]), [1.5, 2.5])


def test_padding_fills_to_the_largest_shape():
    batch = [(numpy.array([1, 2, 3]), numpy.array([[1]])),
             (numpy.array([4]), numpy.array([[2, 3], [4, 5]]))]
    xs, ts = concat_examples(batch, padding=0)
    numpy.testing.assert_array_equal(xs, [[1, 2, 3], [4, 0, 0]])
    numpy.testing.assert_array_equal(ts, [[[1, 0], [0, 0]], [[2, 3], [4, 5]]])
    xs, ts = concat_examples(batch, padding=(-1, 9))
    numpy.testing.assert_array_equal(xs, [[1, 2, 3], [4, -1, -1]])
    assert ts[0, 1, 1] == 9
    ragged = concat_examples([{"w": [1, 2]}, {"w": [3]}], padding={"w": -1})
    numpy.testing.assert_array_equal(ragged["w"], [[1, 2], [3, -1]])


def test_padding_needs_equal_ranks_and_batches_must_not_be_empty():
    with pytest.raises(ValueError, match="equal rank"):
        concat_examples([numpy.zeros(2), numpy.zeros((2, 2))], padding=0)
    with pytest.raises(ValueError, match="empty batch"):
        concat_examples([])


def test_to_device_cpu_forms_and_none():
    x = numpy.arange(3)
    assert to_device(None, x) is x
    assert to_device(-1, None) is None
    for device in (-1, "cpu", "@numpy"):
        numpy.testing.assert_array_equal(to_device(device, x), x)
    xs, ts = concat_examples([(x, 1), (x, 2)], device=-1)
    assert isinstance(xs, numpy.ndarray)
    with pytest.raises(DeviceError, match="unknown device"):
        to_device("tpu", x)


def test_iterator_batches_feed_concat_examples():
    x = numpy.random.rand(10, 4).astype(numpy.float32)
    t = numpy.arange(10, dtype=numpy.int32)
    it = SerialIterator(TupleDataset(x, t), 4, shuffle=False)
    for _ in range(3):
        xs, ts = concat_examples(it.next())
        assert xs.shape == (4, 4) and ts.shape == (4,)
        numpy.testing.assert_array_equal(xs, x[ts])
