"""``F`` functions take symbolic variables too (API.md): the same recipe as ``T.*``."""

import numpy as np
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T


def test_f_on_symbolic_variables_builds_the_same_step_as_t():
    x = T.dvector("x")
    assert dj.pp(F.exp(x)) == dj.pp(T.exp(x)) == "exp(x)"


def test_a_network_written_with_f_compiles_and_differentiates():
    x = T.dmatrix("x")
    W = T.dmatrix("W")
    loss = F.sum(F.tanh(F.linear(x, W)))
    f = dj.function([x, W], [loss, dj.grad(loss, W)])
    xv, Wv = np.random.randn(4, 3), np.random.randn(2, 3)
    value, gW = f(xv, Wv)
    x_var, W_var = dg.Variable(xv), dg.Variable(Wv)
    eager = F.sum(F.tanh(F.linear(x_var, W_var)))
    eager.backward()
    np.testing.assert_allclose(value, eager.array)
    np.testing.assert_allclose(gW, W_var.grad)


def test_lists_of_symbolic_variables_dispatch_too():
    a, b = T.dvectors("a", "b")
    f = dj.function([a, b], F.concat([a, b], axis=0))
    np.testing.assert_array_equal(f([1.0], [2.0, 3.0]), [1.0, 2.0, 3.0])


@pytest.mark.parametrize("value", [np.ones(2), dg.Variable(np.ones(2))])
def test_eager_calls_are_unchanged(value):
    assert isinstance(F.exp(value), dg.Variable)
