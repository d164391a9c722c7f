"""L.LSTM and L.StatelessLSTM: Chainer's parameter layout, state handling, gradients."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.links as L
from dualgrad import initializers
from dualgrad.gradient_check import check_backward
from dualgrad.link import Chain


def sigmoid(x):
    return 1 / (1 + numpy.exp(-x))


def lstm_reference(link, c, h, x):
    """One step with Chainer's gate layout: unit j's gates a, i, f, o are rows 4j..4j+3."""
    z = x.reshape(len(x), -1) @ link.upward.W.array.T + link.upward.b.array
    if h is not None:
        z = z + h @ link.lateral.W.array.T
    gates = z.reshape(len(x), -1, 4)
    a, i, f, o = (gates[:, :, k] for k in range(4))
    c_prev = numpy.zeros_like(a) if c is None else c
    c_new = numpy.tanh(a) * sigmoid(i) + sigmoid(f) * c_prev
    return c_new, sigmoid(o) * numpy.tanh(c_new)


def as_float64(link):
    for param in link.params():
        param.array = param.array.astype(numpy.float64)
    return link


def test_parameters_follow_chainer():
    lstm = L.LSTM(3, 2)
    assert [(path, p.shape) for path, p in lstm.namedparams()] == [
        ("/upward/W", (8, 3)), ("/upward/b", (8,)), ("/lateral/W", (8, 2))]
    gate_bias = lstm.upward.b.array.reshape(2, 4)
    numpy.testing.assert_array_equal(gate_bias, [[0, 0, 1, 0], [0, 0, 1, 0]])  # forget = 1


def test_initializers_fill_each_gate_block_separately():
    shapes = []

    def record(array):
        shapes.append(array.shape)
        array[...] = len(shapes)

    lstm = L.LSTM(3, 2, upward_init=record, lateral_init=0.5, bias_init=-1.0,
                  forget_bias_init=2.0)
    assert shapes == [(2, 3)] * 4
    numpy.testing.assert_array_equal(lstm.upward.W.array[:, 0], [1, 1, 2, 2, 3, 3, 4, 4])
    assert (lstm.lateral.W.array == 0.5).all()
    numpy.testing.assert_array_equal(lstm.upward.b.array[:4], [-1, -1, 2, -1])


def test_stateful_steps_match_numpy_and_reset_forgets():
    lstm = L.LSTM(3, 4, bias_init=0.1)
    xs = numpy.random.randn(3, 2, 3).astype(numpy.float32)
    c = h = None
    for x in xs:
        c, h = lstm_reference(lstm, c, h, x)
        y = lstm(x)
        numpy.testing.assert_allclose(y.array, h, rtol=1e-5, atol=1e-6)
        numpy.testing.assert_allclose(lstm.c.array, c, rtol=1e-5, atol=1e-6)
    assert lstm.h is y
    lstm.reset_state()
    assert lstm.c is None and lstm.h is None
    _, h0 = lstm_reference(lstm, None, None, xs[0])
    numpy.testing.assert_allclose(lstm(xs[0]).array, h0, rtol=1e-5, atol=1e-6)


def test_shrinking_batch_updates_only_the_first_rows():
    lstm = L.LSTM(2, 3)
    lstm(numpy.random.randn(3, 2).astype(numpy.float32))
    c_prev, h_prev = lstm.c.array.copy(), lstm.h.array.copy()
    x = numpy.random.randn(2, 2).astype(numpy.float32)
    y = lstm(x)
    c_head, h_head = lstm_reference(lstm, c_prev[:2], h_prev[:2], x)
    assert y.shape == (2, 3) and lstm.h.shape == (3, 3) and lstm.c.shape == (3, 3)
    numpy.testing.assert_allclose(y.array, h_head, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_array_equal(lstm.h.array[2], h_prev[2])
    numpy.testing.assert_array_equal(lstm.c.array[2], c_prev[2])
    numpy.testing.assert_allclose(lstm.c.array[:2], c_head, rtol=1e-5, atol=1e-6)


def test_growing_batch_is_a_shape_error():
    lstm = L.LSTM(2, 3)
    lstm(numpy.ones((1, 2), numpy.float32))
    with pytest.raises(dg.ShapeError, match="(?s)LSTM.*reset_state"):
        lstm(numpy.ones((2, 2), numpy.float32))


def test_set_state_is_used_by_the_next_step():
    lstm = L.LSTM(2, 3)
    c0 = numpy.random.randn(2, 3).astype(numpy.float32)
    h0 = numpy.random.randn(2, 3).astype(numpy.float32)
    lstm.set_state(dg.Variable(c0), h0)
    x = numpy.random.randn(2, 2).astype(numpy.float32)
    _, h1 = lstm_reference(lstm, c0, h0, x)
    numpy.testing.assert_allclose(lstm(x).array, h1, rtol=1e-5, atol=1e-6)


def test_lazy_in_size():
    lstm = L.LSTM(None, 3)
    assert lstm.upward.W.array is None
    assert lstm(numpy.ones((2, 5), numpy.float32)).shape == (2, 3)
    assert lstm.upward.W.shape == (12, 5)
    assert L.LSTM(4).upward.W.array is None  # LSTM(out_size): lazy too


def test_backward_through_two_steps():
    lstm = as_float64(L.LSTM(2, 3))
    params = tuple(lstm.params())

    def two_steps(x0, x1):
        lstm.reset_state()
        lstm(x0)
        return lstm(x1)

    xs = numpy.random.randn(2, 2, 2)
    check_backward(two_steps, (xs[0], xs[1]), numpy.random.randn(2, 3), params=params)


def test_stateless_matches_numpy_and_backward():
    cell = L.StatelessLSTM(3, 2)
    x = numpy.random.randn(4, 3).astype(numpy.float32)
    c, h = cell(None, None, x)
    c_ref, h_ref = lstm_reference(cell, None, None, x)
    numpy.testing.assert_allclose(h.array, h_ref, rtol=1e-5, atol=1e-6)
    c2, h2 = cell(c, h, x)
    c2_ref, h2_ref = lstm_reference(cell, c_ref, h_ref, x)
    numpy.testing.assert_allclose(c2.array, c2_ref, rtol=1e-5, atol=1e-6)
    numpy.testing.assert_allclose(h2.array, h2_ref, rtol=1e-5, atol=1e-6)

    as_float64(cell)
    check_backward(lambda c0, h0, x0: cell(c0, h0, x0),
                   (numpy.random.randn(4, 2), numpy.random.randn(4, 2), x.astype(numpy.float64)),
                   None, params=tuple(cell.params()))


def test_float64_inputs_give_float64_state():
    lstm = L.LSTM(2, 3)
    y = lstm(numpy.ones((1, 2)))
    assert y.dtype == numpy.float64 and lstm.c.dtype == numpy.float64
    assert lstm.upward.W.dtype == numpy.float32


def test_float64_initializers_give_float64_parameters():
    lstm = L.LSTM(2, 3, upward_init=initializers.LeCunNormal(dtype=numpy.float64),
                  lateral_init=initializers.Orthogonal(dtype=numpy.float64),
                  bias_init=initializers.Zero(dtype=numpy.float64),
                  forget_bias_init=initializers.One(dtype=numpy.float64))
    assert {p.dtype for p in lstm.params()} == {numpy.dtype(numpy.float64)}


def test_state_survives_to_device_and_copy_init_keeps_the_layout():
    model = Chain(rnn=L.LSTM(2, 3))
    model.rnn(numpy.ones((1, 2), numpy.float32))
    assert model.to_device("cpu") is model
    assert isinstance(model.rnn.h.array, numpy.ndarray)
    fresh = model.copy(mode="init")
    numpy.testing.assert_array_equal(fresh.rnn.upward.b.array.reshape(3, 4)[:, 2], 1.0)
    assert not numpy.array_equal(fresh.rnn.upward.W.array, model.rnn.upward.W.array)
