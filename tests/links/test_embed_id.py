"""L.EmbedID: row lookup, ignore_label, gradients and initialisation."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.links as L
from dualgrad.gradient_check import check_backward


def test_lookup_matches_numpy_indexing():
    embed = L.EmbedID(5, 3)
    ids = numpy.array([[0, 4], [2, 2]], numpy.int32)
    y = embed(ids)
    assert y.shape == (2, 2, 3) and y.dtype == numpy.float32
    numpy.testing.assert_array_equal(y.array, embed.W.array[ids])


def test_ignore_label_gives_zero_rows_and_no_gradient():
    embed = L.EmbedID(4, 2, ignore_label=-1)
    ids = numpy.array([3, -1, 3], numpy.int32)
    y = embed(ids)
    numpy.testing.assert_array_equal(y.array[1], [0.0, 0.0])
    y.sum().backward()
    numpy.testing.assert_array_equal(embed.W.grad[:, 0], [0.0, 0.0, 0.0, 2.0])


def test_backward_matches_finite_differences():
    embed = L.EmbedID(4, 3, initialW=numpy.random.randn(4, 3))
    embed.W.array = embed.W.array.astype(numpy.float64)
    ids = numpy.array([1, 0, 1, 3], numpy.int32)
    check_backward(embed, ids, numpy.random.randn(4, 3), params=(embed.W,))


def test_default_initializer_is_unit_normal():
    numpy.random.seed(3)
    W = L.EmbedID(1000, 50).W.array
    assert W.shape == (1000, 50) and abs(W.std() - 1.0) < 0.02


def test_float_ids_are_a_dtype_error():
    with pytest.raises(dg.DTypeError, match="embed_id"):
        L.EmbedID(3, 2)(numpy.array([0.0, 1.0]))
