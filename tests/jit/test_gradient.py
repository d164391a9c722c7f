"""dj.grad, dj.jacobian, dj.hessian: the ops' own backward rules, emitted into the graph."""

import numpy as np
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.errors import DTypeError, ShapeError
from dualgrad_jit.gradient import DisconnectedInputError


def test_theano_tutorial_gradient():
    x = T.dscalar("x")
    gy = dj.grad(x ** 2, x)
    f = dj.function([x], gy)
    assert f(4) == 8.0 and f(94.2) == pytest.approx(188.4)


def test_logistic_gradient_matches_eager():
    x = T.dmatrix("x")
    s = T.sum(1 / (1 + T.exp(-x)))
    gs = dj.function([x], dj.grad(s, x))
    data = np.array([[0.0, 1.0], [-1.0, -2.0]])
    X = dg.Variable(data)
    (want,) = dg.grad([F.sum(F.sigmoid(X))], [X])
    np.testing.assert_allclose(gs(data), want.array, rtol=1e-12)


def test_a_list_of_wrt_gives_a_list_and_one_gives_one():
    x, w = T.dvector("x"), T.dvector("w")
    cost = T.sum(T.tanh(x * w))
    gx, gw = dj.grad(cost, [x, w])
    single = dj.grad(cost, w)
    assert not isinstance(single, list)
    a, b = np.array([0.1, 0.2]), np.array([1.0, -3.0])
    out = dj.function([x, w], [gx, gw, single])(a, b)
    X, W = dg.Variable(a), dg.Variable(b)
    want = dg.grad([F.sum(F.tanh(X * W))], [X, W])
    for got, expected in zip(out, [want[0], want[1], want[1]]):
        np.testing.assert_allclose(got, expected.array, rtol=1e-12)


def test_gradients_of_gradients():
    x = T.dscalar("x")
    y = T.sin(x) * x
    d1 = dj.grad(y, x)
    d2 = dj.grad(d1, x)
    d3 = dj.grad(d2, x)
    f = dj.function([x], [d1, d2, d3])
    v = 0.7
    expected = [np.sin(v) + v * np.cos(v), 2 * np.cos(v) - v * np.sin(v),
                -3 * np.sin(v) - v * np.cos(v)]
    np.testing.assert_allclose(f(v), expected, rtol=1e-12)


def test_gradient_with_respect_to_an_intermediate_and_a_shared_variable():
    x = T.dvector("x")
    w = dj.shared(np.array([2.0, 3.0]), name="w")
    h = x * w
    cost = T.sum(h ** 2)
    gh, gw = dj.grad(cost, [h, w])
    out = dj.function([x], [gh, gw])([1.0, 1.0])
    np.testing.assert_allclose(out[0], [4.0, 6.0])
    np.testing.assert_allclose(out[1], [4.0, 6.0])


def test_jacobian_and_hessian():
    v = T.dvector("v")
    J = dj.jacobian(v ** 2, v)
    H = dj.hessian(T.sum(v ** 3), v)
    f = dj.function([v], [J, H])
    j, h = f([1.0, 2.0, 3.0])
    np.testing.assert_allclose(j, np.diag([2.0, 4.0, 6.0]))
    np.testing.assert_allclose(h, np.diag([6.0, 12.0, 18.0]))
    m = T.dmatrix("m")
    jm = dj.function([v, m], dj.jacobian(T.dot(m, v), [v, m]))(np.ones(2), np.eye(3, 2))
    np.testing.assert_allclose(jm[0], np.eye(3, 2))
    assert jm[1].shape == (3, 3, 2)
    assert dj.jacobian(T.sum(v), v).type == T.dvector  # a scalar: its gradient


def test_known_grads_start_from_intermediates():
    x = T.dvector("x")
    h = T.exp(x)
    seed = T.dvector("seed")
    gx = dj.grad(None, x, known_grads={h: seed})
    out = dj.function([x, seed], gx)([0.0, 1.0], [1.0, 2.0])
    np.testing.assert_allclose(out, [1.0, 2.0 * np.e])


def test_errors():
    x, y = T.dvector("x"), T.dvector("y")
    with pytest.raises(ShapeError, match="cost must be a scalar"):
        dj.grad(x * 2, x)
    with pytest.raises(DisconnectedInputError, match=r"does not depend on y"):
        dj.grad(T.sum(x), [x, y])
    gy = dj.grad(T.sum(x), y, disconnected_inputs="ignore")
    f = dj.function([x, y], gy, on_unused_input="ignore")
    np.testing.assert_array_equal(f([1.0], [1.0, 2.0]), [0.0, 0.0])
    i = T.ivector("i")
    with pytest.raises(DTypeError, match="floating-point"):
        dj.grad(T.sum(i * 2.0), i)
