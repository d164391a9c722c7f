"""dj.jit: traced functions replay their graph, guarded, and equal eager."""

import numpy as np
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
import dualgrad_jit as dj
from dualgrad import optimizers


def branchy_item(x):
    if F.sum(x).item() > 0:
        return x * 2.0
    return x - 1.0


def branchy_float(x):
    if float(F.sum(x).array) > 0:
        return x * 2.0
    return x - 1.0


@pytest.mark.parametrize("fn", [branchy_item, branchy_float])
def test_data_dependent_branches_give_eager_answers_and_stop_running_python(fn):
    compiled = dj.jit(fn)
    calls = [[1.0, 2.0], [-1.0, -2.0], [3.0, 1.0], [-5.0, 1.0], [0.5, 0.5], [-0.5, -0.1]]
    for values in calls:
        x = np.array(values)
        np.testing.assert_array_equal(compiled(x).array, fn(dg.Variable(x)).array)
    assert compiled.stats["traces"] == 2  # one per branch; later calls replay
    assert compiled.stats["replays"] == len(calls) - 2


def test_an_exact_value_use_is_guarded_exactly():
    @dj.jit
    def scale_by_total(x):
        total = float(F.sum(x).array)  # used as a number, not only compared
        return x * total

    for values in ([1.0, 2.0], [2.0, 2.0], [1.0, 2.0]):
        x = np.array(values)
        np.testing.assert_allclose(scale_by_total(x).array, x * x.sum())
    assert scale_by_total.stats["traces"] == 2


def test_training_step_matches_eager_parameter_for_parameter():
    np.random.seed(0)
    model = L.Classifier(L.Linear(4, 3))
    twin = model.copy(mode="copy")
    opt = optimizers.SGD(lr=0.1).setup(model)
    opt_twin = optimizers.SGD(lr=0.1).setup(twin)
    x = np.random.randn(8, 4).astype(np.float32)
    t = np.random.randint(0, 3, 8).astype(np.int32)

    def step(m, o, x, t):
        m.cleargrads()
        loss = m(x, t)
        loss.backward()
        o.update()
        return loss

    compiled = dj.jit(step, static_argnums=(0, 1))
    for _ in range(4):
        expected = step(model, opt, x, t)
        got = compiled(twin, opt_twin, x, t)
        # machine code (fused multiply-adds, vectorised sums) agrees to float32 rounding
        assert float(got.array) == pytest.approx(float(expected.array), rel=1e-6)
        for (path, p), (_, q) in zip(model.namedparams(), twin.namedparams()):
            np.testing.assert_allclose(p.array, q.array, rtol=1e-5, atol=1e-6, err_msg=path)
            np.testing.assert_allclose(p.grad, q.grad, rtol=1e-5, atol=1e-6, err_msg=path)
    assert compiled.stats == {"traces": 1, "replays": 3, "guard_failures": 0,
                              "eager_calls": 0}


def test_parameters_are_read_on_every_call_not_baked():
    layer = L.Linear(3, 2)
    compiled = dj.jit(lambda x: layer(x))
    x = np.ones((1, 3), np.float32)
    compiled(x)
    layer.W.array[...] = 0.0
    layer.b.array[...] = 1.0
    np.testing.assert_array_equal(compiled(x).array, [[1.0, 1.0]])


def test_too_many_variants_warn_once_and_run_eagerly():
    @dj.jit
    def exact(x):
        return x * float(F.sum(x).array)  # a new exact value on every call

    with pytest.warns(dj.JitWarning, match="more than 2 traced variants"):
        compiled = dj.jit(exact.fn, max_variants=2)
        results = [compiled(np.array([float(i)])).array for i in range(1, 5)]
    np.testing.assert_allclose(np.concatenate(results), [1.0, 4.0, 9.0, 16.0])
    assert compiled.stats["eager_calls"] == 2


def test_debug_mode_explains_a_retrace_in_one_line(capsys):
    compiled = dj.jit(branchy_item)
    compiled(np.array([1.0]))
    with dg.using_config("debug", 1):
        compiled(np.array([-1.0]))
    lines = [line for line in capsys.readouterr().err.splitlines() if "retrace" in line]
    assert len(lines) == 1
    assert "item() > 0) was True" in lines[0] and "branchy_item" in lines[0]


def test_numpy_on_a_traced_array_is_refused_with_the_fix():
    @dj.jit
    def sneaky(x):
        return np.exp(x.array)

    with pytest.raises(dj.ConcretizationError, match="Use dualgrad ops"):
        sneaky(np.ones(2))


def test_the_variant_limit_counts_every_signature_of_the_function():
    compiled = dj.jit(lambda x: x * 2.0, max_variants=3)
    with pytest.warns(dj.JitWarning, match="more than 3 traced variants") as record:
        for n in range(1, 7):  # six shapes: three compiled, then eager
            np.testing.assert_array_equal(compiled(np.ones(n)).array, np.full(n, 2.0))
    assert len(record) == 1  # warned once for the function
    assert compiled.stats["traces"] == 3 and compiled.stats["eager_calls"] == 3
    np.testing.assert_array_equal(compiled(np.ones(2)).array, [2.0, 2.0])  # still compiled
    assert compiled.stats["replays"] == 1
