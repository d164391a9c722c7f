"""``dg.gradient_check``: it must catch wrong gradients, not only pass right ones."""

import numpy
import pytest

import dualgrad as dg
from dualgrad.core.op import OP_REGISTRY, ElementwiseOp
from dualgrad.gradient_check import check_backward, check_double_backward, numerical_grad
from dualgrad.ops import elementwise as ew


class _WrongCube(ElementwiseOp):
    """x^3 with the derivative 2 x^2 instead of 3 x^2."""

    def forward(self, xp, x):
        return x * x * x

    def backward(self, gy, inputs, y, need):
        x = inputs[0]
        return (ew.mul(gy, ew.mul(2.0, ew.mul(x, x))),)


class _SquareWithConstantSlope(ElementwiseOp):
    """x^2 whose first derivative 2x is right but is computed from the raw array, so
    its own derivative (the second derivative, 2) comes out as 0."""

    def forward(self, xp, x):
        return x * x

    def backward(self, gy, inputs, y, need):
        return (ew.mul(gy, 2.0 * inputs[0].array),)


for _op in (_WrongCube, _SquareWithConstantSlope):  # test-only ops: not in the op tables
    OP_REGISTRY.remove(_op)


def wrong_cube(x):
    return dg.apply(_WrongCube(), (x,))


def square_constant_slope(x):
    return dg.apply(_SquareWithConstantSlope(), (x,))


X = numpy.array([0.5, -1.5, 2.0])


def test_check_backward_passes_a_right_gradient():
    check_backward(lambda x: x * x * x, X, numpy.ones(3))
    check_backward(ew.tanh, X, numpy.array([1.0, -2.0, 0.5]))


def test_check_backward_catches_a_wrong_gradient():
    with pytest.raises(AssertionError, match="analytic .* numeric"):
        check_backward(wrong_cube, X, numpy.ones(3))


def test_check_backward_with_several_inputs_and_a_scalar_output():
    check_backward(lambda a, b: (a * ew.exp(b)).sum(), (X, X[::-1].copy()), None)
    with pytest.raises(AssertionError):
        check_backward(lambda a, b: (a * wrong_cube(b)).sum(), (X, X[::-1].copy()), None)


def test_check_backward_checks_every_output_when_y_grad_is_none():
    def two_outputs(x):
        return (x * 2.0).sum(), wrong_cube(x).sum()

    with pytest.raises(AssertionError):
        check_backward(two_outputs, X, None)


def test_check_backward_checks_params():
    w = dg.Variable(numpy.array([1.0, 2.0, 3.0]))
    check_backward(lambda x: x * ew.exp(w), X, numpy.ones(3), params=(w,))
    with pytest.raises(AssertionError):
        check_backward(lambda x: x + wrong_cube(w), X, numpy.ones(3), params=(w,))


def test_check_backward_leaves_the_inputs_unchanged():
    x, w = X.copy(), dg.Variable(numpy.array([1.0, 2.0, 3.0]))
    check_backward(lambda v: v * w, x, numpy.ones(3), params=(w,))
    numpy.testing.assert_array_equal(x, X)
    numpy.testing.assert_array_equal(w.array, [1.0, 2.0, 3.0])


def test_check_backward_in_float32_with_a_float64_cast():
    check_backward(ew.tanh, X.astype(numpy.float32), numpy.ones(3), dtype=numpy.float64)


def test_check_backward_skips_integer_inputs():
    index = numpy.array([2, 0, 1])
    check_backward(lambda x, i: x * i, (X, index), numpy.ones(3))


def test_numerical_grad_matches_the_analytic_gradient():
    x = X.copy()
    gy = numpy.array([1.0, 2.0, 3.0])
    (gx,) = numerical_grad(lambda: (numpy.sin(x) * x,), (x,), (gy,), eps=1e-5)
    expected = gy * (numpy.cos(X) * X + numpy.sin(X))
    numpy.testing.assert_allclose(gx, expected, rtol=1e-8)
    numpy.testing.assert_array_equal(x, X)  # restored after perturbing

    v = dg.Variable(X.copy())
    (ew.sin(v) * v * gy).sum().backward()
    numpy.testing.assert_allclose(v.grad, gx, rtol=1e-8)


def test_numerical_grad_of_several_inputs():
    a, b = numpy.array([1.0, 2.0]), numpy.array([3.0, 5.0])
    ga, gb = numerical_grad(lambda: (a * b,), (a, b), (numpy.ones(2),))
    numpy.testing.assert_allclose(ga, b)
    numpy.testing.assert_allclose(gb, a)


def test_check_double_backward_passes_tanh():
    check_double_backward(ew.tanh, X, numpy.array([1.0, -0.5, 2.0]), numpy.array([0.3, 1.0, -1.0]))


def test_check_double_backward_catches_a_wrong_second_derivative():
    gy, ggx = numpy.ones(3), numpy.array([0.3, 1.0, -1.0])
    check_backward(square_constant_slope, X, gy)  # the first derivative is right
    with pytest.raises(AssertionError):
        check_double_backward(square_constant_slope, X, gy, ggx)
    check_double_backward(lambda x: x * x, X, gy, ggx)  # the same function, done right
