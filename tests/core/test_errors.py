"""Typed errors: what they say, where they point, what they subclass."""

import inspect

import numpy
import pytest

import dualgrad as dg
from dualgrad.core.op import OP_REGISTRY, ElementwiseOp
from dualgrad.ops import elementwise as ew


def next_line():
    """The source line after the caller's (the line that will raise)."""
    caller = inspect.currentframe().f_back
    return f"{caller.f_code.co_filename}:{caller.f_lineno + 1}"


def test_shape_error_names_op_shapes_dtypes_and_the_users_line():
    a = dg.Variable(numpy.ones((2, 3), dtype=numpy.float32))
    b = dg.Variable(numpy.ones(4, dtype=numpy.float64))
    with pytest.raises(dg.ShapeError) as info:
        where = next_line()
        a + b
    message = str(info.value)
    assert message.startswith("Add:")
    assert "float32[2,3]" in message and "float64[4]" in message
    assert where in message  # this test file, not a dualgrad frame
    assert "dualgrad/" not in info.value.source
    assert "fix:" in message  # and it says what to do
    assert info.value.op_name == "Add"
    assert [str(a) for a in info.value.avals] == ["float32[2,3]", "float64[4]"]


def test_dtype_error_names_op_dtypes_and_the_users_line():
    x = dg.Variable(numpy.array(["a", "b"]))
    with pytest.raises(dg.DTypeError) as info:
        where = next_line()
        ew.exp(x)
    message = str(info.value)
    assert message.startswith("Exp:")
    assert "<U1[2]" in message
    assert where in message
    assert "astype" in message


def test_dtype_error_for_an_unsupported_dtype_combination():
    x = dg.Variable(numpy.array([True, False]))
    with pytest.raises(dg.DTypeError) as info:
        where = next_line()
        x - numpy.array([True, True])
    assert str(info.value).startswith("Sub:")
    assert "bool[2], bool[2]" in str(info.value)
    assert where in str(info.value)


def test_error_classes_are_also_the_builtin_ones():
    """Code written against numpy (``except ValueError``) keeps working."""
    assert issubclass(dg.ShapeError, ValueError)
    assert issubclass(dg.DTypeError, TypeError)
    assert issubclass(dg.BackwardError, RuntimeError)
    assert issubclass(dg.NonFiniteError, FloatingPointError)
    assert issubclass(dg.DeviceError, RuntimeError)
    typed = (dg.ShapeError, dg.DTypeError, dg.BackwardError, dg.NonFiniteError, dg.DeviceError)
    for error in (*typed, dg.OpError):
        assert issubclass(error, dg.DualgradError)
    with pytest.raises(ValueError):
        dg.Variable(numpy.ones(2)) * numpy.ones(3)


def test_scalars_are_described_as_python_values():
    with pytest.raises(dg.ShapeError) as info:
        ew.where(numpy.ones(2, dtype=bool), numpy.ones(3), 2.5)
    assert "inputs: bool[2], float64[3], python float" in str(info.value)


def test_a_non_numeric_input_is_a_dtype_error():
    with pytest.raises(dg.DTypeError) as info:
        dg.Variable(numpy.ones(2)) + "a"
    assert str(info.value).startswith("Add:") and "float64[2], <U1[]" in str(info.value)


def test_lists_mix_like_arrays():
    numpy.testing.assert_array_equal((dg.Variable(numpy.ones(2)) + [1.0, 2.0]).array, [2, 3])
    with pytest.raises(dg.ShapeError, match="float64\\[3\\]"):
        dg.Variable(numpy.ones(2)) + [1.0, 2.0, 3.0]


def test_error_inside_backward_points_to_the_backward_call():
    class WrongShapeGradient(ElementwiseOp):
        def forward(self, xp, x):
            return x * 2

        def backward(self, gy, inputs, y, need):
            return (gy[:2],)

    OP_REGISTRY.remove(WrongShapeGradient)  # test-only op: keep it out of the op tables
    y = dg.apply(WrongShapeGradient(), (dg.Variable(numpy.ones(3)),)).sum()
    with pytest.raises(dg.BackwardError, match="WrongShapeGradient.backward") as info:
        y.backward()
    assert "shape (2,)" in str(info.value) and "shape (3,)" in str(info.value)


def test_backward_returning_a_variable_instead_of_a_tuple():
    class NotATuple(ElementwiseOp):
        def forward(self, xp, x):
            return x * 2

        def backward(self, gy, inputs, y, need):
            return gy

    OP_REGISTRY.remove(NotATuple)
    y = dg.apply(NotATuple(), (dg.Variable(numpy.ones(3)),)).sum()
    with pytest.raises(dg.BackwardError, match="tuple with one gradient per input"):
        y.backward()
