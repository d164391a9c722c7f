"""Logits of magnitude 1e4: values, gradients and second derivatives stay finite and right.

Everything runs in debug mode, which raises on the first op (forward or backward) that
makes a NaN or Inf from finite inputs, so no intermediate overflows either.
"""

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F

BIG = 1e4
LOGITS = numpy.array([[BIG, -BIG, 0.0, BIG / 2], [-BIG, -BIG, BIG, 3.0], [BIG, BIG, -BIG, -BIG]])
LABELS = numpy.array([1, 0, 3], dtype=numpy.int32)
BINARY = numpy.array([[0, 1, 1, -1], [1, 0, 1, 0], [0, 0, 1, 1]], dtype=numpy.int32)

CALLS = {
    "logsumexp": lambda x: F.logsumexp(x, axis=1),
    "logsumexp-all": F.logsumexp,
    "log_softmax": F.log_softmax,
    "softmax": F.softmax,
    "softmax_cross_entropy": lambda x: F.softmax_cross_entropy(x, LABELS),
    "softmax_cross_entropy-no": lambda x: F.softmax_cross_entropy(x, LABELS, reduce="no"),
    "softmax_cross_entropy-batch": lambda x: F.softmax_cross_entropy(x, LABELS, normalize=False),
    "sigmoid_cross_entropy": lambda x: F.sigmoid_cross_entropy(x, BINARY),
    "sigmoid_cross_entropy-no": lambda x: F.sigmoid_cross_entropy(x, BINARY, reduce="no"),
    "sigmoid": F.sigmoid,
    "softplus": F.softplus,
    "softplus-beta": lambda x: F.softplus(x, beta=3.0),
    "elu": F.elu,
    "log-sigmoid-as-softplus": lambda x: -F.softplus(-x),
}


def _finite(v, what):
    assert v is not None
    assert numpy.isfinite(v.array).all(), f"{what} has NaN or Inf: {v.array}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", sorted(CALLS))
def test_large_logits_stay_finite_to_second_order(name, dtype):
    rng = numpy.random.default_rng(0)
    x = dg.Variable(LOGITS.astype(dtype))
    with dg.using_config("debug", 1):
        y = CALLS[name](x)
        _finite(y, "forward")
        gy = rng.standard_normal(y.shape).astype(dtype)
        (gx,) = dg.grad([y], [x], [gy], enable_double_backprop=True)
        _finite(gx, "gradient")
        ggx = rng.standard_normal(x.shape).astype(dtype)
        (g2,) = dg.grad([F.sum(gx * ggx)], [x])
        if g2 is not None:  # piecewise-linear functions have no second derivative
            _finite(g2, "second derivative")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_large_logits_give_the_exact_limits(dtype):
    x = dg.Variable(numpy.array([[BIG, -BIG]], dtype=dtype))
    loss = F.softmax_cross_entropy(x, numpy.array([1]))
    loss.backward()
    assert float(loss.array) == pytest.approx(2 * BIG)
    numpy.testing.assert_allclose(x.grad, [[1.0, -1.0]])

    numpy.testing.assert_allclose(F.logsumexp(numpy.array([BIG, BIG], dtype)).array,
                                  BIG + numpy.log(2.0), rtol=1e-6)
    numpy.testing.assert_allclose(F.log_softmax(x).array, [[0.0, -2 * BIG]])
    numpy.testing.assert_allclose(F.softplus(numpy.array([BIG, -BIG], dtype)).array, [BIG, 0.0])
    numpy.testing.assert_allclose(F.sigmoid(numpy.array([BIG, -BIG], dtype)).array, [1.0, 0.0])

    z = dg.Variable(numpy.array([BIG, -BIG], dtype=dtype))
    bce = F.sigmoid_cross_entropy(z, numpy.array([0, 0]), reduce="no")
    bce.grad = numpy.ones(2, dtype)
    bce.backward()
    numpy.testing.assert_allclose(bce.array, [BIG, 0.0])
    numpy.testing.assert_allclose(z.grad, [1.0, 0.0])


def test_sigmoid_is_accurate_where_it_is_not_saturated():
    x = numpy.linspace(-30.0, 30.0, 61)
    expected = numpy.exp(-numpy.logaddexp(0.0, -x))
    numpy.testing.assert_allclose(F.sigmoid(x).array, expected, rtol=1e-12, atol=1e-16)
    numpy.testing.assert_allclose(F.sigmoid(x.astype(numpy.float32)).array, expected,
                                  rtol=1e-6, atol=1e-7)


def test_softmax_rows_sum_to_one_for_huge_logits():
    p = F.softmax(LOGITS.astype(numpy.float32)).array
    numpy.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-6)
    numpy.testing.assert_allclose(p[2], [0.5, 0.5, 0.0, 0.0])
