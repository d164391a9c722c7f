"""A ``dj.function`` called with Variables that want gradients is one differentiable node
on the tape per result (double backprop included); called with arrays it returns arrays,
as Theano does; updates are still written after the outputs."""

import numpy as np
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.ops import random as R
from dualgrad_jit.layer import CompiledCall


def _loss(x, w):
    """The same math, eager (Variables) or symbolic (T variables)."""
    h = x @ w
    return (F.tanh(h) if isinstance(h, dg.Variable) else T.tanh(h)).sum() + (x * x).sum()


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    return rng.standard_normal((4, 3)), rng.standard_normal((3, 2))


def test_called_with_variables_it_is_one_node_with_eager_gradients(data):
    x, w = T.dmatrix("x"), T.dmatrix("w")
    f = dj.function([x, w], _loss(x, w))
    xs = [dg.Variable(a.copy()) for a in data]
    y = f(*xs)
    assert isinstance(y, dg.Variable) and isinstance(y.creator.op, CompiledCall)
    assert all(v.creator is None for v in y.creator.inputs)  # nothing else was recorded
    y.backward()
    eager = [dg.Variable(a.copy()) for a in data]
    want = _loss(*eager)
    want.backward()
    np.testing.assert_allclose(y.array, want.array, rtol=1e-14)
    for got, expected in zip(xs, eager):
        np.testing.assert_allclose(got.grad, expected.grad, rtol=1e-13)


def test_called_with_arrays_it_returns_arrays(data):
    x, w = T.dmatrix("x"), T.dmatrix("w")
    f = dj.function([x, w], _loss(x, w))
    assert type(f(*data)) is np.ndarray
    frozen = [dg.Variable(a, requires_grad=False) for a in data]
    assert type(f(*frozen)) is np.ndarray  # no Variable wants a gradient
    with dg.no_backprop_mode():
        assert type(f(*[dg.Variable(a) for a in data])) is np.ndarray


def test_double_backprop_through_the_compiled_node():
    x = T.dvector("x")
    f = dj.function([x], (T.sin(x) * x ** 3).sum())
    a = np.array([0.3, -1.2, 2.0])
    xv, ev = dg.Variable(a.copy()), dg.Variable(a.copy())
    gx, = dg.grad([f(xv)], [xv], enable_double_backprop=True)
    ge, = dg.grad([F.sum(F.sin(ev) * ev ** 3)], [ev], enable_double_backprop=True)
    np.testing.assert_allclose(gx.array, ge.array, rtol=1e-13)
    assert gx.creator is not None  # the backward is on the tape too
    F.sum(gx * gx).backward()
    F.sum(ge * ge).backward()
    np.testing.assert_allclose(xv.grad, ev.grad, rtol=1e-12)


def test_several_results_mixed_with_eager_ops_and_arguments(data):
    x, w = T.dmatrix("x"), T.dmatrix("w")
    f = dj.function([x, dj.In(w, name="weights")], [x @ w, (x @ w).argmax(axis=1), x])
    xv = dg.Variable(data[0].copy())
    h, best, same = f(xv, weights=data[1])  # one Variable, one array
    assert best.creator is None and not best.requires_grad  # integers get no gradient
    np.testing.assert_array_equal(best.array, (data[0] @ data[1]).argmax(axis=1))
    assert not np.shares_memory(same.array, xv.array)  # results are fresh arrays
    (F.sum(F.exp(h)) + F.sum(same * 2.0)).backward()
    want = np.exp(data[0] @ data[1]) @ data[1].T + 2.0
    np.testing.assert_allclose(xv.grad, want, rtol=1e-13)


def test_gradients_accumulate_over_calls_as_in_eager():
    x = T.dvector("x")
    f = dj.function([x], (x * x).sum())
    xv = dg.Variable(np.array([1.0, 2.0]))
    f(xv).backward()
    f(xv).backward()
    np.testing.assert_array_equal(xv.grad, [4.0, 8.0])


def test_updates_apply_after_outputs_and_backward_sees_the_old_value():
    x = T.dvector("x")
    s = dj.shared(np.array([1.0, 2.0, 3.0]), name="s")
    f = dj.function([x], (x * s).sum(), updates=[(s, s * 10.0)])
    xv = dg.Variable(np.array([0.5, -1.0, 2.0]))
    y = f(xv)
    np.testing.assert_array_equal(s.get_value(), [10.0, 20.0, 30.0])  # written
    assert float(y.array) == 0.5 - 2.0 + 6.0  # computed from the value before it
    y.backward()
    np.testing.assert_array_equal(xv.grad, [1.0, 2.0, 3.0])  # d/dx with the old s
    assert s.container.grad is None  # shared values stay off the tape


def test_an_update_that_swaps_values_is_exact():
    x = T.dvector("x")
    a, b = dj.shared(np.array([1.0, 2.0]), "a"), dj.shared(np.array([3.0, 4.0]), "b")
    f = dj.function([x], (x * a).sum() + (x * b).sum(), updates={a: b, b: a})
    xv = dg.Variable(np.ones(2))
    f(xv).backward()
    np.testing.assert_array_equal(a.get_value(), [3.0, 4.0])
    np.testing.assert_array_equal(b.get_value(), [1.0, 2.0])
    np.testing.assert_array_equal(xv.grad, [4.0, 6.0])


def test_a_captured_parameter_gets_its_gradient_like_eager():
    x = T.dvector("x")
    p = dg.Parameter(np.array([1.0, 2.0, 3.0]))
    f = dj.function([x], (x * p).sum())
    xv = dg.Variable(np.array([0.5, -1.0, 2.0]))
    f(xv).backward()
    np.testing.assert_array_equal(xv.grad, p.array)
    np.testing.assert_array_equal(p.grad, xv.array)


def test_a_downcast_input_casts_on_the_tape():
    x = T.fvector("x")
    f = dj.function([x], (x * x).sum(), allow_input_downcast=True)
    xv = dg.Variable(np.array([1.5, -2.0]))  # float64 into a float32 input
    y = f(xv)
    assert y.dtype == np.float32
    y.backward()
    assert xv.grad.dtype == np.float64
    np.testing.assert_array_equal(xv.grad, [3.0, -4.0])


def test_random_draws_on_the_tape_match_eager():
    uniform = T.basic.symbolic(R.uniform)
    x = T.dvector("x")
    f = dj.function([x], x * uniform((3,), "float64"))
    a = np.array([1.0, 2.0, 3.0])
    R.seed(7)
    eager = []
    for _ in range(2):
        ev = dg.Variable(a.copy())
        F.sum(ev * R.uniform((3,), "float64")).backward()
        eager.append(ev.grad)
    R.seed(7)
    for want in eager:
        xv = dg.Variable(a.copy())
        F.sum(f(xv)).backward()
        np.testing.assert_array_equal(xv.grad, want)  # the gradient is the draw itself
    assert not np.array_equal(eager[0], eager[1])


def test_inside_dj_jit_the_call_is_traced_not_baked():
    x = T.dvector("x")
    s = dj.shared(np.zeros(2), name="s")
    f = dj.function([x], T.tanh(x).sum(), updates=[(s, s + x)])
    step = dj.jit(lambda v: f(v) * 2.0)
    for a in (np.ones(2), np.zeros(2), np.array([0.5, -1.0])):
        assert float(step(a).array) == pytest.approx(2 * np.tanh(a).sum(), rel=1e-14)
    np.testing.assert_array_equal(s.get_value(), [1.5, 0.0])  # every call wrote its update
    assert step.stats["traces"] == 1 and step.stats["replays"] == 2
    xv = dg.Variable(np.array([0.5, 1.0]))
    step(xv).backward()
    np.testing.assert_allclose(xv.grad, 2 * (1 - np.tanh(xv.array) ** 2), rtol=1e-14)
