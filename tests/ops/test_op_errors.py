"""Intentional errors of the reduction and linalg ops: typed, naming the op and the fix."""

import numpy as np
import pytest

import dualgrad as dg
from dualgrad.ops import linalg, reduce


def test_max_over_an_empty_axis_names_the_op_and_the_fix():
    with pytest.raises(dg.ShapeError, match="Max: cannot reduce over axis 0 of length 0"):
        reduce.max(np.ones((0, 3)), axis=0)


def test_matmul_inner_mismatch_names_both_shapes():
    with pytest.raises(dg.ShapeError, match="inner dimensions differ") as info:
        linalg.matmul(np.ones((2, 3)), np.ones((2, 3)))
    assert "float64[2,3], float64[2,3]" in str(info.value)


def test_matmul_batch_mismatch_is_a_shape_error():
    with pytest.raises(dg.ShapeError, match="batch dimensions"):
        linalg.matmul(np.ones((2, 2, 3)), np.ones((3, 3, 2)))


def test_gradient_dtype_follows_the_input_dtype():
    a = dg.Variable(np.ones((2, 3), np.float32))
    b = dg.Variable(np.ones((3, 2), np.float64))
    linalg.matmul(a, b).sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
