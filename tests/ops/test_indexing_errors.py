"""The typed errors of views and indexing: each names the op, the input shapes and the fix."""

import re

import numpy
import pytest

import dualgrad as dg
from dualgrad.ops import index, view


@pytest.fixture
def x():
    return dg.Variable(numpy.arange(6.0).reshape(2, 3))


def raises(error_type, *fragments):
    """Like ``pytest.raises``, and the message must hold every fragment."""
    return pytest.raises(error_type, match="(?s)" + "".join(
        f"(?=.*{re.escape(f)})" for f in fragments))


def test_int_out_of_range_names_axis_and_size(x):
    with raises(dg.ShapeError, "GetItem", "float64[2,3]", "index 2", "axis 0 with size 2"):
        x[2]
    with raises(dg.ShapeError, "GetItem", "index -4", "axis 1 with size 3"):
        x[:, -4]


def test_index_array_out_of_range_is_a_shape_error_not_index_error(x):
    with raises(dg.ShapeError, "Gather", "float64[2,3]", "int64[2]", "index 7",
                "axis 0 with size 2") as info:
        x[[0, 7]]
    assert not isinstance(info.value, IndexError)
    with raises(dg.ShapeError, "Gather", "index -4", "axis 1 with size 3"):
        x[:, numpy.array([0, -4])]
    with raises(dg.ShapeError, "Gather", "index 5"):
        x[dg.Variable(numpy.array([5]))]


def test_error_points_at_the_users_line(x):
    with raises(dg.ShapeError, "test_indexing_errors.py", "x[[0, 9]]"):
        x[[0, 9]]


def test_float_index_array_is_a_dtype_error(x):
    with raises(dg.DTypeError, "Gather", "float64[2]", "integers"):
        x[numpy.array([0.0, 1.0])]
    with raises(dg.DTypeError, "GetItem", "float"):
        x[1.5]


def test_too_many_indices_and_two_ellipses(x):
    with raises(dg.ShapeError, "GetItem", "too many indices: 3", "rank 2"):
        x[0, 0, 0]
    with raises(dg.ShapeError, "Gather", "too many indices"):
        x[[0], 0, 0]
    with raises(dg.ShapeError, "single Ellipsis"):
        x[..., 0, ...]


def test_zero_step_and_boolean_scalar(x):
    with raises(dg.ShapeError, "GetItem", "step cannot be zero"):
        x[::0]
    with raises(dg.DTypeError, "boolean scalar"):
        x[True]


def test_mask_of_the_wrong_shape(x):
    with raises(dg.ShapeError, "Gather", "boolean index of shape (3,)", "(2, 3)"):
        x[numpy.array([True, False, True])]


def test_index_arrays_that_do_not_broadcast(x):
    with raises(dg.ShapeError, "Gather", "cannot be broadcast"):
        x[[0, 1], [0, 1, 2]]


def test_scatter_add_errors():
    with raises(dg.ShapeError, "ScatterAdd", "index 4", "axis 0 with size 3"):
        index.scatter_add(numpy.ones(2), (3,), ([1, 4],))
    with raises(dg.ShapeError, "ScatterAdd", "float64[3]", "indexed shape (2,)"):
        index.scatter_add(numpy.ones(3), (3,), ([1, 1],))


def test_transpose_errors(x):
    with raises(dg.ShapeError, "Transpose", "float64[2,3]", "(0,)", "rank 2"):
        view.transpose(x, (0,))
    with raises(dg.ShapeError, "Transpose", "repeated axis"):
        view.transpose(x, (1, -1))
    with raises(dg.ShapeError, "Transpose", "axis 2 is out of range"):
        view.swapaxes(x, 0, 2)


def test_pad_errors(x):
    with raises(dg.ShapeError, "Pad", "float64[2,3]", "pad_width"):
        view.pad(x, ((1, 1), (1, 1), (1, 1)))
    with raises(dg.ShapeError, "Pad", "non-negative"):
        view.pad(x, -1)
    with raises(dg.OpError, "Pad", "mode 'reflect'"):
        view.pad(x, 1, mode="reflect")


def test_concat_errors(x):
    with raises(dg.ShapeError, "Concat", "float64[2,3]", "float64[3,3]", "axis 1"):
        view.concat([x, numpy.zeros((3, 3))], axis=1)
    with raises(dg.ShapeError, "Concat", "axis 2 is out of range"):
        view.concat([x, x], axis=2)
    with raises(dg.ShapeError, "Concat", "0-d"):
        view.concat([x[0, 0], x[0, 1]], axis=0)


def test_reshape_and_broadcast_errors(x):
    with raises(dg.ShapeError, "Reshape", "6 elements", "(4,)"):
        view.reshape(x, (4,))
    with raises(dg.ShapeError, "BroadcastTo", "float64[2,3]", "(3, 3)"):
        view.broadcast_to(x, (3, 3))
