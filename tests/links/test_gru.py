"""L.GRU (stateful) and L.StatelessGRU against the GRU equations in numpy."""

import numpy
import pytest

import dualgrad.links as L
from dualgrad.gradient_check import check_backward


def sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


def affine(layer, x):
    return x @ layer.W.array.T + layer.b.array


def gru_reference(link, h, x):
    r = sigmoid(affine(link.W_r, x) + affine(link.U_r, h))
    z = sigmoid(affine(link.W_z, x) + affine(link.U_z, h))
    h_bar = numpy.tanh(affine(link.W, x) + affine(link.U, r * h))
    return z * h_bar + (1 - z) * h


def as_float64(link):
    for param in link.params():
        param.array = param.array.astype(numpy.float64)
    return link


def test_parameters_follow_chainer():
    gru = L.GRU(3, 2)
    assert sorted(path for path, _ in gru.namedparams()) == sorted(
        f"/{name}/{p}" for name in ("W_r", "U_r", "W_z", "U_z", "W", "U") for p in "Wb")
    assert gru.W_r.W.shape == (2, 3) and gru.U.W.shape == (2, 2)
    assert L.StatefulGRU is L.GRU


def test_stateless_matches_numpy():
    cell = L.StatelessGRU(3, 4, bias_init=0.1)
    h = numpy.random.randn(2, 4).astype(numpy.float32)
    x = numpy.random.randn(2, 3).astype(numpy.float32)
    numpy.testing.assert_allclose(cell(h, x).array, gru_reference(cell, h, x),
                                  rtol=1e-5, atol=1e-6)


def test_stateful_steps_match_numpy_and_reset_forgets():
    gru = L.GRU(3, 4)
    xs = numpy.random.randn(3, 2, 3).astype(numpy.float32)
    h = numpy.zeros((2, 4), numpy.float32)
    for x in xs:
        h = gru_reference(gru, h, x)
        y = gru(x)
        numpy.testing.assert_allclose(y.array, h, rtol=1e-5, atol=1e-6)
    assert gru.h is y
    gru.reset_state()
    assert gru.h is None
    first = gru_reference(gru, numpy.zeros((2, 4)), xs[0])
    numpy.testing.assert_allclose(gru(xs[0]).array, first, rtol=1e-5, atol=1e-6)


def test_set_state_and_two_arguments_error():
    gru = L.GRU(2, 3)
    h0 = numpy.random.randn(1, 3).astype(numpy.float32)
    x = numpy.random.randn(1, 2).astype(numpy.float32)
    gru.set_state(h0)
    numpy.testing.assert_allclose(gru(x).array, gru_reference(gru, h0, x), rtol=1e-5)
    with pytest.raises(ValueError, match="StatelessGRU"):
        gru(h0, x)


def test_backward():
    gru = as_float64(L.GRU(2, 3))

    def two_steps(x0, x1):
        gru.reset_state()
        gru(x0)
        return gru(x1)

    xs = numpy.random.randn(2, 2, 2)
    check_backward(two_steps, (xs[0], xs[1]), numpy.random.randn(2, 3),
                   params=tuple(gru.params()))
    cell = as_float64(L.StatelessGRU(2, 3))
    check_backward(cell, (numpy.random.randn(2, 3), xs[0]), None, params=tuple(cell.params()))


def test_lazy_in_size_and_float64_inputs():
    gru = L.GRU(None, 3)
    y = gru(numpy.ones((2, 5)))
    assert gru.W.W.shape == (3, 5) and y.dtype == numpy.float64
