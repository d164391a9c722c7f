"""Execution modes of dj.jit: check, NaN guard, profile."""

import numpy as np
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
import dualgrad_jit as dj
from dualgrad import optimizers
from dualgrad.ops import elementwise as ew
from dualgrad_jit import modes
from dualgrad_jit.ir import Graph

X = np.array([0.5, 1.0, 2.0])


def _swap_ops(compiled, args, old, new):
    """Break the compiled variant on purpose: replace every ``old`` op by ``new``."""
    (variant,) = compiled.variants(*args)
    equations = tuple(type(eq)(new if eq.op == old else eq.op, eq.inputs, eq.out)
                      for eq in variant.graph.equations)
    variant.graph = Graph(variant.graph.inputs, equations, variant.graph.outputs)
    variant._runner = None  # compile the broken graph again


def test_unknown_modes_are_refused():
    with pytest.raises(ValueError, match="check, nan_guard, profile"):
        dj.jit(lambda x: x, mode="fast")


# -- check ------------------------------------------------------------------------------------
def test_check_mode_agrees_with_eager_on_every_replay():
    compiled = dj.jit(lambda x: (F.exp(x) * 2.0, {"sum": F.sum(x)}), mode="check")
    for values in (X, X, X + 1.0):
        y, parts = compiled(values)
        np.testing.assert_array_equal(y.array, np.exp(values) * 2.0)
        assert float(parts["sum"].array) == values.sum()
    assert compiled.stats["replays"] == 2


def test_check_mode_names_the_first_output_that_differs():
    compiled = dj.jit(lambda x: (x * 2.0, F.exp(x)), mode="check")
    compiled(X)
    _swap_ops(compiled, (X,), ew.Exp(), ew.Expm1())  # a wrong "compiled" graph
    with pytest.raises(modes.CheckError, match=r"result\[1\] of .*<lambda> differs") as info:
        compiled(X)
    assert info.value.output == "result[1]"
    assert "3 of 3 elements differ, first at [0]" in str(info.value)


def test_check_mode_reports_a_stabilised_rewrite_where_eager_overflows():
    """log(1 + exp(x)) compiles to softplus: 1000 where eager gives inf."""
    compiled = dj.jit(lambda x: F.log(1.0 + F.exp(x)), mode="check")
    compiled(np.array([1.0]))
    with np.errstate(over="ignore"), pytest.raises(modes.CheckError, match="eager is the"):
        compiled(np.array([1000.0]))


def _step(model, opt, x):
    model.cleargrads()
    loss = F.sum(model(x) ** 2)
    loss.backward()
    opt.update()
    return loss


def test_check_mode_compares_the_state_a_training_step_writes_and_keeps_eagers():
    model = L.Linear(3, 2, initialW=0.5)
    twin = model.copy(mode="copy")
    opt = optimizers.MomentumSGD(lr=0.01).setup(model)
    opt_twin = optimizers.MomentumSGD(lr=0.01).setup(twin)
    compiled = dj.jit(_step, static_argnums=(0, 1), mode="check")
    x = np.ones((2, 3), np.float32)
    for _ in range(3):
        _step(model, opt, x)
        compiled(twin, opt_twin, x)  # each replay also ran eagerly: no double update
        for (name, p), (_, q) in zip(model.namedparams(), twin.namedparams()):
            np.testing.assert_array_equal(p.array, q.array, err_msg=name)
            np.testing.assert_array_equal(p.grad, q.grad, err_msg=name)
    assert compiled.stats["replays"] == 2


def test_check_mode_names_a_state_write_that_differs():
    model = L.Linear(3, 2, initialW=0.5)
    opt = optimizers.SGD(lr=0.1).setup(model)
    compiled = dj.jit(_step, static_argnums=(0, 1), mode=modes.Check(rtol=0.0, atol=0.0))
    x = np.ones((2, 3), np.float32)
    compiled(model, opt, x)
    (variant,) = compiled.variants(model, opt, x)
    sub = [eq.op for eq in variant.graph.equations if isinstance(eq.op, ew.Sub)][-1]
    _swap_ops(compiled, (model, opt, x), sub, ew.Add())  # the update goes the wrong way
    with pytest.raises(modes.CheckError, match="state Parameter") as info:
        compiled(model, opt, x)
    assert info.value.output.startswith("state Parameter")


# -- NaN guard --------------------------------------------------------------------------------
def _log_of(x):
    h = x * 2.0
    return F.log(h - 1.0) + 1.0


def test_nan_guard_names_the_first_node_and_its_source_line():
    compiled = dj.jit(_log_of, mode="nan_guard")
    np.testing.assert_allclose(compiled(X + 1.0).array, np.log(2 * X + 1.0) + 1.0)
    compiled(X + 2.0)  # replays with finite values pass
    with pytest.raises(modes.NonFiniteNodeError) as info:
        compiled(X)  # 2 * 0.5 - 1 = 0: log(0)
    error = info.value
    assert "Log produced NaN or Inf from finite inputs" in str(error)
    assert error.equation.startswith("%") and "= Log %" in error.equation
    assert error.source.endswith("return F.log(h - 1.0) + 1.0")
    assert isinstance(error, dg.NonFiniteError)


def test_nan_guard_ignores_values_that_were_not_finite_already():
    compiled = dj.jit(lambda x: F.exp(x) * 2.0, mode="nan_guard")
    compiled(X)
    np.testing.assert_array_equal(compiled(np.array([np.inf, 1.0, 2.0])).array,
                                  np.exp([np.inf, 1.0, 2.0]) * 2.0)


def test_nan_guard_names_a_node_made_by_a_rewrite():
    compiled = dj.jit(lambda x: F.log(1.0 + x), mode="nan_guard")  # -> Log1p
    compiled(X)
    with pytest.raises(modes.NonFiniteNodeError, match="made by a graph rewrite") as info:
        compiled(np.array([-1.0, 0.0, 1.0]))
    assert "= Log1p %" in info.value.equation


def test_nan_guard_on_the_traced_call_is_eagers_debug_check():
    compiled = dj.jit(_log_of, mode="nan_guard")
    with pytest.raises(dg.NonFiniteError, match="Log produced NaN or Inf") as info:
        compiled(X)
    assert "return F.log(h - 1.0) + 1.0" in str(info.value)


# -- profile ----------------------------------------------------------------------------------
def test_profile_counts_every_node_over_the_replays():
    compiled = dj.jit(lambda x: F.tanh(F.matmul(x, x)) + F.tanh(x), mode="profile")
    x = np.ones((4, 4))
    for _ in range(4):
        compiled(x)
    table = compiled.profile()
    by_op = {row[0]: row for row in table.rows}
    assert by_op["Tanh"][1] == 6 and by_op["MatMul"][1] == 3  # 3 replays, 2 tanh nodes each
    assert sum(row[3] for row in table.rows) == pytest.approx(1.0)
    assert [row[2] for row in table.rows] == sorted((row[2] for row in table.rows),
                                                    reverse=True)
    text = str(table)
    assert text.splitlines()[0].endswith("<lambda> over 3 replays")
    assert text.splitlines()[1].split() == ["op", "count", "total", "ms", "share"]
    nodes = compiled.profile(by="node")
    assert len(nodes.rows) == 4 and all(row[0].startswith("%") for row in nodes.rows)


def test_profile_of_a_function_never_replayed_is_empty():
    compiled = dj.jit(lambda x: x + 1.0, mode="profile")
    compiled(X)
    assert compiled.profile().rows == []
    with pytest.raises(ValueError, match="'op' or 'node'"):
        compiled.profile(by="line")
