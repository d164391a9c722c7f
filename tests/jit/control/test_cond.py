"""``dj.cond``: data-dependent branches in traced code without guards."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.errors import ShapeError


def _branchy(x):
    return dj.cond(F.sum(x) > 0, lambda v: v * 2.0, lambda v: F.log(-v), x)


def test_the_predicate_flips_without_a_retrace():
    f = dj.jit(_branchy)
    numpy.testing.assert_array_equal(f(numpy.ones(2)).array, [2.0, 2.0])
    numpy.testing.assert_allclose(f(-numpy.array([1.0, numpy.e])).array, [0.0, 1.0])
    numpy.testing.assert_array_equal(f(numpy.full(2, 3.0)).array, [6.0, 6.0])
    assert f.stats == {"traces": 1, "replays": 2, "guard_failures": 0, "eager_calls": 0}
    (variant,) = f.variants(numpy.ones(2))
    assert not variant.guards
    assert "IfElse" in [eq.op.name for eq in variant.graph.equations]


def test_a_python_if_on_data_is_guarded_where_cond_is_not():
    def python_if(x):
        return x * 2.0 if float(F.sum(x).array) > 0 else F.log(-x)

    f = dj.jit(python_if)
    f(numpy.ones(2))
    f(-numpy.ones(2))
    assert f.stats["guard_failures"] == 1 and f.stats["traces"] == 2


def test_eagerly_only_the_chosen_function_runs():
    calls = []

    def yes(v):
        calls.append("yes")
        return v + 1.0

    def no(v):
        calls.append("no")
        return v - 1.0

    x = dg.Variable(numpy.array([1.0, 2.0]))
    assert dj.cond(F.sum(x) > 0, yes, no, x).array.tolist() == [2.0, 3.0]
    assert dj.cond(False, yes, no, x).array.tolist() == [0.0, 1.0]
    assert calls == ["yes", "no"]


def test_gradients_through_a_traced_cond_follow_the_branch_taken():
    w = dg.Parameter(numpy.array([1.0, -2.0]))

    def loss(x):
        y = dj.cond(F.sum(x) > 0, lambda v: F.sum(v * w * w), lambda v: F.sum(v) * 3.0, x)
        return y

    f = dj.jit(loss)
    for x, expected_w, expected_x in [
        (numpy.array([1.0, 1.0]), [2.0, -4.0], [1.0, 4.0]),
        (numpy.array([-1.0, -1.0]), [0.0, 0.0], [3.0, 3.0]),
    ]:
        for _ in range(2):  # the trace, then a replay
            xv = dg.Variable(x.copy())
            f(xv).backward()
            numpy.testing.assert_array_equal(xv.grad, expected_x)
            got = numpy.zeros(2) if w.grad is None else w.grad
            numpy.testing.assert_array_equal(got, expected_w)
            w.cleargrad()
    assert f.stats["traces"] == 1


def test_several_results_and_captured_parameters():
    scale = dg.Parameter(numpy.array(3.0))

    def f(x):
        return dj.cond(F.max(x) > 1.0, lambda v: (v * scale, F.sum(v)),
                       lambda v: (v - scale, F.sum(v) * 0.0), x)

    jf = dj.jit(f)
    a, s = jf(numpy.array([2.0, 0.0]))
    numpy.testing.assert_array_equal(a.array, [6.0, 0.0])
    assert float(s.array) == 2.0
    a, s = jf(numpy.array([0.5, 0.0]))
    numpy.testing.assert_array_equal(a.array, [-2.5, -3.0])
    scale.array[...] = 10.0  # a parameter is read on every call, never baked in
    a, _ = jf(numpy.array([2.0, 0.0]))
    numpy.testing.assert_array_equal(a.array, [20.0, 0.0])
    assert jf.stats["traces"] == 1


def test_branches_must_agree():
    f = dj.jit(lambda x: dj.cond(F.sum(x) > 0, lambda v: v, lambda v: F.sum(v), x))
    with pytest.raises(ShapeError, match="both must give the same"):
        f(numpy.ones(2))


def test_symbolic_cond_is_ifelse():
    x = T.dvector("x")
    y = dj.cond(T.gt(x.sum(), 0), lambda v: v * 2, lambda v: T.log(-v), x)
    f = dj.function([x], y)
    numpy.testing.assert_array_equal(f([1.0, 2.0]), [2.0, 4.0])
    numpy.testing.assert_allclose(f([-1.0, -1.0]), [0.0, 0.0])
