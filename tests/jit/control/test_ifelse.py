"""``dj.ifelse``: lazy, differentiable; ``T.switch`` stays the elementwise select."""

import numpy
import pytest

import dualgrad as dg
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.errors import DTypeError
from dualgrad.ops import elementwise as ew


@pytest.fixture
def log_calls(monkeypatch):
    """Counts the runs of the Log op's forward (what an untaken branch must not do)."""
    calls = []
    original = ew.Log.forward

    def counting(self, xp, x):
        calls.append(x)
        return original(self, xp, x)

    monkeypatch.setattr(ew.Log, "numpy_ufunc", None)
    monkeypatch.setattr(ew.Log, "forward", counting)
    return calls


def test_only_the_branch_taken_runs_compiled(monkeypatch):
    """On LLVM each branch is its own compiled sub-graph: only the taken one is run."""
    from dualgrad_jit.backends import select

    ran, original = [], select.run_sub_graph

    def counting(fn, arrays, xp):
        ran.append(any(eq.op.name == "Log" for eq in fn.graph.equations))
        return original(fn, arrays, xp)

    monkeypatch.setattr(select, "run_sub_graph", counting)
    a, b = T.dscalars("a", "b")
    f = dj.function([a, b], dj.ifelse(T.lt(a, b), a * 2, T.log(a - b)), backend="llvm")
    assert float(f(1.0, 3.0)) == 2.0
    assert ran == [False]
    assert float(f(5.0, 3.0)) == pytest.approx(numpy.log(2.0))
    assert ran == [False, True]


@pytest.mark.parametrize("backend", ["numpy"])
def test_only_the_branch_taken_runs(log_calls, backend):
    a, b = T.dscalars("a", "b")
    f = dj.function([a, b], dj.ifelse(T.lt(a, b), a * 2, T.log(a - b)), backend=backend)
    f.graph(1.0, 3.0)  # built (typing may run ops on samples)
    log_calls.clear()
    # log(1 - 3) would warn (an error under this suite's filters) if it ran
    assert float(f(1.0, 3.0)) == 2.0
    assert log_calls == []
    assert float(f(5.0, 3.0)) == pytest.approx(numpy.log(2.0))
    assert len(log_calls) == 1


def test_switch_stays_elementwise_and_computes_both_sides(log_calls):
    a, b = T.dscalars("a", "b")
    f = dj.function([a, b], T.switch(T.lt(a, b), a * 2, T.log(T.abs(a - b))), backend="numpy")
    f.graph(1.0, 3.0)
    log_calls.clear()
    assert float(f(1.0, 3.0)) == 2.0
    assert len(log_calls) == 1


def test_gradient_flows_to_the_taken_branch_only():
    a, b = T.dscalars("a", "b")
    z = dj.ifelse(T.lt(a, b), a * a * b, T.exp(b) - a)
    f = dj.function([a, b], [z] + dj.grad(z, [a, b]))
    got = f(2.0, 3.0)
    assert [float(v) for v in got] == [12.0, 12.0, 4.0]
    got = f(4.0, 3.0)
    assert [float(v) for v in got] == pytest.approx([numpy.exp(3.0) - 4.0, -1.0, numpy.exp(3.0)])


def test_gradient_is_zero_for_values_only_the_other_branch_reads():
    a, b = T.dscalars("a", "b")
    z = dj.ifelse(T.gt(a, 0), a * 3.0, b * 5.0)
    f = dj.function([a, b], dj.grad(z, [a, b]))
    assert [float(v) for v in f(1.0, 1.0)] == [3.0, 0.0]
    assert [float(v) for v in f(-1.0, 1.0)] == [0.0, 5.0]


def test_gradient_matches_finite_differences_and_differentiates_again():
    x = T.dvector("x")
    z = dj.ifelse(T.gt(x.sum(), 0), (T.tanh(x) ** 2).sum(), (x ** 3).sum())
    gx = dj.grad(z, x)
    f = dj.function([x], [z, gx, dj.grad((gx * gx).sum(), x)])
    rng = numpy.random.default_rng(0)
    for sign in (1.0, -1.0):
        v = sign * numpy.abs(rng.standard_normal(3))
        value, grad, second = f(v)
        eps = 1e-6
        numeric = [(f(v + eps * e)[0] - f(v - eps * e)[0]) / (2 * eps) for e in numpy.eye(3)]
        numpy.testing.assert_allclose(grad, numeric, rtol=1e-6)
        numeric2 = [((f(v + eps * e)[1] ** 2).sum() - (f(v - eps * e)[1] ** 2).sum()) / (2 * eps)
                    for e in numpy.eye(3)]
        numpy.testing.assert_allclose(second, numeric2, rtol=1e-5)


def test_several_values_per_branch():
    x = T.dvector("x")
    a, s = dj.ifelse(T.gt(x.sum(), 0), [x * 2, x.sum()], [-x, x.sum() * 0])
    f = dj.function([x], [a, s])
    got = f([1.0, 2.0])
    numpy.testing.assert_array_equal(got[0], [2.0, 4.0])
    assert float(got[1]) == 3.0
    numpy.testing.assert_array_equal(f([-1.0, -2.0])[0], [1.0, 2.0])


def test_branches_are_sub_graphs_of_one_equation_per_value():
    a, b = T.dscalars("a", "b")
    f = dj.function([a, b], dj.ifelse(T.lt(a, b), T.exp(a) * b, T.log(a) + b))
    graph = f.graph(1.0, 2.0)
    names = [eq.op.name for eq in graph.equations]
    assert names == ["Less", "IfElse"]
    branch = graph.equations[1].op.then_fn.graph
    assert [eq.op.name for eq in branch.equations] == ["Exp", "Mul"]


def test_branches_must_agree_on_dtype():
    a = T.dscalar("a")
    with pytest.raises(DTypeError, match="the branches have dtypes"):
        dj.ifelse(T.gt(a, 0), a, a.astype("float32"))
    with pytest.raises(ValueError, match="give both the same number"):
        dj.ifelse(T.gt(a, 0), [a, a], [a])


def test_eager_ifelse_picks_a_value():
    a, b = dg.Variable(numpy.array(1.0)), dg.Variable(numpy.array(2.0))
    assert dj.ifelse(a < b, a, b) is a
    assert dj.ifelse(False, [a], [b]) == [b]


def test_ifelse_in_traced_code_needs_no_guard():
    def f(x):
        return dj.ifelse(x.sum() > 0, x * 2.0, x * -3.0)

    jf = dj.jit(f)
    numpy.testing.assert_array_equal(jf(numpy.ones(2)).array, [2.0, 2.0])
    numpy.testing.assert_array_equal(jf(-numpy.ones(2)).array, [3.0, 3.0])
    assert jf.stats["traces"] == 1 and jf.stats["guard_failures"] == 0
