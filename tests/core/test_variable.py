"""``Variable`` and ``Parameter`` as a user sees them: data access, operators, dtypes."""

import numpy
import pytest

import dualgrad as dg
from dualgrad.ops import elementwise as ew


def f32(*values):
    return dg.Variable(numpy.array(values, dtype=numpy.float32))


# -- data access ------------------------------------------------------------------------
def test_array_and_data_are_the_same_array():
    a = numpy.arange(6.0).reshape(2, 3)
    x = dg.Variable(a)
    assert x.array is a
    assert x.data is a
    b = numpy.zeros((2, 3))
    x.data = b
    assert x.array is b


def test_shape_dtype_ndim_size_len():
    x = dg.Variable(numpy.zeros((4, 3), dtype=numpy.float32))
    assert x.shape == (4, 3)
    assert x.dtype == numpy.float32
    assert x.ndim == 2
    assert x.size == 12
    assert len(x) == 4


def test_item_returns_a_python_number():
    x = dg.Variable(numpy.array(2.5))
    assert x.item() == 2.5
    assert type(x.item()) is float
    assert float(x) == 2.5


def test_python_values_are_wrapped_as_arrays():
    x = dg.Variable([1.0, 2.0])
    assert isinstance(x.array, numpy.ndarray)
    assert x.dtype == numpy.float64


def test_variable_of_variable_is_refused():
    with pytest.raises(TypeError, match=r"\.array"):
        dg.Variable(dg.Variable(numpy.ones(2)))


def test_grad_and_grad_var():
    x = dg.Variable(numpy.array([1.0, 2.0]))
    assert x.grad is None and x.grad_var is None
    (x * x).sum().backward()
    assert isinstance(x.grad, numpy.ndarray)
    assert isinstance(x.grad_var, dg.Variable)
    assert x.grad_var.array is x.grad
    numpy.testing.assert_array_equal(x.grad, [2.0, 4.0])
    x.grad = numpy.array([7.0, 8.0])
    numpy.testing.assert_array_equal(x.grad_var.array, [7.0, 8.0])
    x.grad = None
    assert x.grad_var is None


def test_repr_and_name():
    x = dg.Variable(numpy.array([1.0]), name="w")
    assert "w" in repr(x)
    assert "1." in str(x)


# -- operators ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "expression, expected",
    [
        (lambda x, a: x + a, [4.0, 6.0]),
        (lambda x, a: a + x, [4.0, 6.0]),
        (lambda x, a: x - a, [-2.0, -2.0]),
        (lambda x, a: a - x, [2.0, 2.0]),
        (lambda x, a: x * a, [3.0, 8.0]),
        (lambda x, a: a * x, [3.0, 8.0]),
        (lambda x, a: x / a, [1 / 3, 0.5]),
        (lambda x, a: a / x, [3.0, 2.0]),
        (lambda x, a: x**a, [1.0, 16.0]),
        (lambda x, a: a**x, [3.0, 16.0]),
    ],
)
def test_operators_with_numpy_arrays_on_both_sides(expression, expected):
    x = dg.Variable(numpy.array([1.0, 2.0]))
    a = numpy.array([3.0, 4.0])
    y = expression(x, a)
    assert isinstance(y, dg.Variable)  # numpy must defer to Variable, not loop over it
    numpy.testing.assert_allclose(y.array, expected)


@pytest.mark.parametrize(
    "expression, expected",
    [
        (lambda x: x + 2, [3.0, 4.0]),
        (lambda x: 2 + x, [3.0, 4.0]),
        (lambda x: x - 2.0, [-1.0, 0.0]),
        (lambda x: 2.0 - x, [1.0, 0.0]),
        (lambda x: x * 3, [3.0, 6.0]),
        (lambda x: 3 * x, [3.0, 6.0]),
        (lambda x: x / 2, [0.5, 1.0]),
        (lambda x: 2 / x, [2.0, 1.0]),
        (lambda x: x**2, [1.0, 4.0]),
        (lambda x: 2**x, [2.0, 4.0]),
        (lambda x: -x, [-1.0, -2.0]),
        (lambda x: +x, [1.0, 2.0]),
        (lambda x: abs(-x), [1.0, 2.0]),
    ],
)
def test_operators_with_python_scalars(expression, expected):
    y = expression(dg.Variable(numpy.array([1.0, 2.0])))
    assert isinstance(y, dg.Variable)
    numpy.testing.assert_allclose(y.array, expected)


def test_numpy_scalars_on_the_left_give_variables():
    x = f32(1.0, 2.0)
    y = numpy.float32(2.0) * x
    assert isinstance(y, dg.Variable)
    numpy.testing.assert_array_equal(y.array, [2.0, 4.0])


def test_comparisons_are_elementwise_and_variables_stay_hashable():
    x = dg.Variable(numpy.array([1.0, 2.0, 3.0]))
    numpy.testing.assert_array_equal((x < 2.0).array, [True, False, False])
    numpy.testing.assert_array_equal((x >= numpy.array([1.0, 3.0, 3.0])).array, [1, 0, 1])
    numpy.testing.assert_array_equal((x == 2.0).array, [False, True, False])
    assert len({x, dg.Variable(numpy.ones(1))}) == 2


def test_comparison_results_carry_no_gradient():
    x = dg.Variable(numpy.array([1.0, 2.0]))
    mask = x > 1.0
    assert mask.dtype == numpy.bool_
    assert mask.creator is None and not mask.requires_grad


# -- dtypes ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "expression",
    [
        lambda x: x * 2.0, lambda x: 2.0 * x, lambda x: x + 1, lambda x: x / 3,
        lambda x: x**2, lambda x: 2**x, lambda x: 1.0 - x,
    ],
)  # fmt: skip
def test_python_scalars_are_weakly_typed(expression):
    """``x_f32 * 2.0`` stays float32, as in numpy 2 (NEP 50) and every framework."""
    assert expression(f32(1.0, 2.0)).dtype == numpy.float32


def test_numpy_arrays_follow_numpy_promotion():
    x = f32(1.0, 2.0)
    assert (x + numpy.ones(2, dtype=numpy.float64)).dtype == numpy.float64
    assert (numpy.ones(2, dtype=numpy.float64) * x).dtype == numpy.float64
    assert (x + numpy.ones(2, dtype=numpy.float32)).dtype == numpy.float32
    assert (x * numpy.ones(2, dtype=numpy.float16)).dtype == numpy.float32


@pytest.mark.parametrize(
    "expression",
    [
        lambda x: x + numpy.ones(2),  # promoted to float64 forward
        lambda x: x * numpy.float64(3.0),
        lambda x: x**2,
        lambda x: 2.0**x,
        lambda x: x * dg.Variable(numpy.array([1, 2])),  # int64 promotes to float64
    ],
)
def test_gradient_has_the_dtype_of_its_variable(expression):
    """A float32 parameter gets a float32 gradient even where forward promoted."""
    x = f32(1.0, 2.0)
    expression(x).sum().backward()
    assert x.grad.dtype == numpy.float32
    (gx,) = dg.grad([expression(x).sum()], [x])
    assert gx.dtype == numpy.float32


def test_integer_variables_get_no_gradient():
    i = dg.Variable(numpy.array([1, 2, 3]))
    assert not i.requires_grad
    y = i * 2
    assert y.dtype == numpy.int64 and y.creator is None


def test_backward_through_a_graph_mixing_int_inputs():
    x = dg.Variable(numpy.array([1.0, 2.0, 3.0]))
    i = dg.Variable(numpy.array([3, 2, 1]))
    k = i * 2 + 1  # an integer intermediate
    y = (x * i + x * k + i).sum()
    y.backward()
    numpy.testing.assert_array_equal(x.grad, [10.0, 7.0, 4.0])
    assert i.grad is None and k.grad is None


def test_requires_grad_false_inputs_get_no_grad():
    x = dg.Variable(numpy.array([1.0, 2.0]))
    c = dg.Variable(numpy.array([3.0, 4.0]), requires_grad=False)
    (x * c).sum().backward()
    numpy.testing.assert_array_equal(x.grad, [3.0, 4.0])
    assert c.grad is None


def test_ops_on_inputs_that_need_no_gradient_record_nothing():
    c = dg.Variable(numpy.array([3.0, 4.0]), requires_grad=False)
    y = ew.exp(c) * numpy.ones(2)
    assert y.creator is None and not y.requires_grad


# -- Parameter ----------------------------------------------------------------------------
def test_parameter_from_array_is_a_trainable_leaf():
    a = numpy.ones((2, 3), dtype=numpy.float32)
    p = dg.Parameter(a)
    assert isinstance(p, dg.Variable)
    assert p.array is a and p.requires_grad and p.creator is None
    (p * 2.0).sum().backward()
    numpy.testing.assert_array_equal(p.grad, numpy.full((2, 3), 2.0))


def test_parameter_from_initializer_and_shape():
    p = dg.Parameter(lambda a: a.fill(1), (2, 3))
    assert p.shape == (2, 3)
    assert p.dtype == numpy.float32
    numpy.testing.assert_array_equal(p.array, numpy.ones((2, 3)))


def test_uninitialized_parameter():
    p = dg.Parameter(lambda a: a.fill(1))
    assert not p.is_initialized
    assert p.array is None
    assert "uninitialized" in repr(p) and "uninitialized" in str(p)
    with pytest.raises(dg.OpError, match="uninitialized Parameter") as info:
        p * 2.0
    assert "initialize" in str(info.value)
    p.initialize(4)
    assert p.is_initialized and p.shape == (4,)
    numpy.testing.assert_array_equal((p * 2.0).array, [2.0] * 4)


class _IntegerInitializer:
    dtype = numpy.int32

    def __call__(self, array):
        array.fill(1)


def test_parameter_must_be_floating_point():
    with pytest.raises(dg.DTypeError, match="floating point"):
        dg.Parameter(_IntegerInitializer(), (2,))
