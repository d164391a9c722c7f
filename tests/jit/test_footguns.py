"""Every intentional error and limitation of tracing with ``dj.jit``, pinned.

Rule of the tracer: a compiled replay never silently differs from eager.  What it
cannot follow either raises ``ConcretizationError`` naming the fix, or is guarded (the
function is traced again when it changes).  Known holes are marked ``xfail(strict=True)``:
they document the wrong behaviour and fail loudly once it is fixed.
"""

import numpy as np
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
import dualgrad_jit as dj
from dualgrad import optimizers

X = np.array([1.0, 2.0, 3.0])


def eager(fn, *arrays):
    return fn(*[dg.Variable(a, requires_grad=False) for a in arrays])


# -- numpy on traced data: refused with the fix ----------------------------------------------
@pytest.mark.parametrize("body, message", [
    (lambda x: np.exp(x.array), "Use dualgrad ops"),
    (lambda x: x.array + 1.0, "numpy.add on a traced array"),
    (lambda x: x * x.array.sum(), "numpy.add on a traced array"),
    (lambda x: x * x.array.max(), "numpy.maximum on a traced array"),
    (lambda x: x * int(x.array.argmax()), r"argmax\(\) on a traced array"),
    (lambda x: x.array == 1.0, "numpy.equal on a traced array"),
    (lambda x: x * x.array.copy(), "computed from a traced value's .array"),
    (lambda x: x * x.array.astype(np.float32), "computed from a traced value's .array"),
    (lambda x: x.array.tolist(), "tolist"),
    (lambda x: [v for v in x.array], "iterating over a traced array"),
], ids=["ufunc", "operator", "method-sum", "method-max", "argmax", "compare", "copy",
        "astype", "tolist", "iterate"])
def test_numpy_on_variable_array_raises_with_the_fix(body, message):
    with pytest.raises(dj.ConcretizationError, match=message) as info:
        dj.jit(body)(X)
    assert "dualgrad ops" in str(info.value)


def test_writing_into_variable_array_raises():
    def write(x):
        x.array[...] = 0.0
        return x

    with pytest.raises(dj.ConcretizationError, match="state.assign"):
        dj.jit(write)(X)
    for method in (lambda a: a.fill(0.0), lambda a: a.sort()):
        with pytest.raises(dj.ConcretizationError, match="on a traced array"):
            dj.jit(lambda x, m=method: m(x.array) or x)(X)


def test_indexing_variable_array_raises_and_indexing_the_variable_works():
    with pytest.raises(dj.ConcretizationError, match="index the Variable instead"):
        dj.jit(lambda x: x * x.array[0])(X)
    compiled = dj.jit(lambda x: x * x[0])
    for values in (X, X + 1.0):
        np.testing.assert_array_equal(compiled(values).array, values * values[0])


def test_numpy_conversion_of_a_variable_raises():
    with pytest.raises(dj.ConcretizationError, match="numpy converted a traced Variable"):
        dj.jit(lambda x: x * np.asarray(x))(X)


def test_numpy_functions_on_a_variable_behave_as_eagerly():
    """numpy ufuncs dispatch to dualgrad ops (recorded); ``np.sum(v)`` calls ``v.sum``
    with numpy's keywords, and fails or works exactly as it does eagerly."""
    compiled = dj.jit(lambda x: np.exp(x))
    for values in (X, -X):
        np.testing.assert_array_equal(compiled(values).array, np.exp(values))
    try:
        expected = ("ok", eager(lambda x: np.sum(x), X).array)
    except Exception as error:  # noqa: BLE001  (whatever eager does, jit must do)
        expected = ("error", type(error))
    try:
        got = ("ok", dj.jit(lambda x: np.sum(x))(X).array)
    except Exception as error:  # noqa: BLE001
        got = ("error", type(error))
    assert got[0] == expected[0]
    if got[0] == "ok":
        np.testing.assert_array_equal(got[1], expected[1])
    else:
        assert got[1] is expected[1]


def test_shape_only_numpy_functions_and_the_data_itself_are_followed():
    """``zeros_like`` reads no data; dualgrad ops on ``x.array`` and ``Variable(x.array)``
    take the traced value itself: all replay correctly."""
    def body(x):
        zeros = np.zeros_like(x.array)
        return F.exp(x.array) + dg.Variable(x.array) * 2.0 + x.array * x + zeros

    compiled = dj.jit(body)
    for values in (X, X * 3.0, -X):
        np.testing.assert_allclose(compiled(values).array,
                                   np.exp(values) + 2.0 * values + values * values)
    assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 2


def test_ops_on_variable_array_compile_and_replay():
    compiled = dj.jit(lambda x: F.exp(x.array))
    for values in (X, X - 1.0, X * 2.0):
        np.testing.assert_allclose(compiled(values).array, np.exp(values))
    assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 2


def test_returning_variable_array_replays_the_new_value_as_a_plain_array():
    compiled = dj.jit(lambda x: (x * 2.0).array)
    first, second = compiled(X), compiled(X + 1.0)
    assert type(first) is np.ndarray and type(second) is np.ndarray
    np.testing.assert_array_equal(first, X * 2.0)
    np.testing.assert_array_equal(second, (X + 1.0) * 2.0)


@pytest.mark.parametrize("convert", [np.array, np.asarray, np.copy,
                                     lambda a: np.asarray(a, dtype=np.float32),
                                     lambda a: np.array(a, copy=True)],
                         ids=["array", "asarray", "copy", "asarray-dtype", "array-copy"])
def test_a_numpy_copy_of_variable_array_raises_with_the_fix(convert):
    """numpy copies an ndarray without asking it, so ``variable.array`` is no ndarray
    while tracing: a copy would be a constant that every replay reused."""
    fix = r"numpy(\.copy on| converted variable\.array)"
    with pytest.raises(dj.ConcretizationError, match=fix) as info:
        dj.jit(lambda x: x * convert(x.array))(X)
    assert "dualgrad ops" in str(info.value)


def test_a_partial_view_of_variable_array_raises():
    for body in (lambda x: F.exp(x.array[:2]), lambda x: F.exp(x.array.reshape(3, 1)),
                 lambda x: F.exp(x.array.T)):
        with pytest.raises(dj.ConcretizationError, match="Variable instead"):
            dj.jit(body)(X)


def test_metadata_of_variable_array_is_plain_python():
    def body(x):
        a = x.array
        assert (a.shape, a.dtype, a.ndim, a.size, len(a)) == ((3,), X.dtype, 1, 3, 3)
        assert (a.itemsize, a.nbytes) == (X.itemsize, X.nbytes)
        return x * float(a.size)

    compiled = dj.jit(body)
    for values in (X, X + 1.0):
        np.testing.assert_array_equal(compiled(values).array, values * 3.0)


def test_boolean_mask_indexing_of_traced_data_raises():
    """The output shape depends on the data; use F.where instead."""
    with pytest.raises(dj.ConcretizationError, match="nonzero"):
        dj.jit(lambda x: x[x > 1.5])(X)
    compiled = dj.jit(lambda x: F.where(x > 1.5, x, 0.0))
    np.testing.assert_array_equal(compiled(X).array, [0.0, 2.0, 3.0])


# -- Python side effects ----------------------------------------------------------------------
def test_python_side_effects_happen_only_on_traced_calls(capsys):
    seen = []

    @dj.jit
    def noisy(x):
        print("tracing")
        seen.append(1)
        return x * 2.0

    for _ in range(3):
        noisy(X)
    assert capsys.readouterr().out == "tracing\n"
    assert seen == [1]
    noisy(np.ones(5))  # a new shape is a new trace, so the effects happen again
    assert seen == [1, 1]


def test_a_variable_leaked_from_a_trace_is_an_ordinary_variable_of_that_call():
    leaked = {}

    @dj.jit
    def leaky(x):
        leaked["h"] = x * 10.0
        leaked["raw"] = leaked["h"].array
        return x + 1.0

    leaky(X)
    h, raw = leaked["h"], leaked["raw"]
    np.testing.assert_array_equal((h + 1.0).array, X * 10.0 + 1.0)  # usable eagerly
    np.testing.assert_array_equal(raw + 1.0, X * 10.0 + 1.0)  # a plain array once traced
    leaky(X + 5.0)  # a replay runs no Python: the leaked value is the traced call's
    assert leaked["h"] is h
    np.testing.assert_array_equal(h.array, X * 10.0)


def test_an_exception_inside_the_trace_propagates_and_caches_nothing():
    calls = []

    @dj.jit
    def fails_once(x):
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom")
        return x * 3.0

    with pytest.raises(RuntimeError, match="boom"):
        fails_once(X)
    np.testing.assert_array_equal(fails_once(X).array, X * 3.0)
    assert fails_once.stats["traces"] == 2 and not fails_once.variants(X)[1:]


# -- the cache key ----------------------------------------------------------------------------
def test_a_python_scalar_argument_is_part_of_the_cache_key():
    compiled = dj.jit(lambda x, k: x * k)
    for k in (2.0, 3.0, 2.0, 3.0):
        np.testing.assert_array_equal(compiled(X, k).array, X * k)
    assert compiled.stats["traces"] == 2 and compiled.stats["replays"] == 2


def test_static_arguments_are_part_of_the_cache_key():
    def pick(x, how):
        return F.exp(x) if how == "exp" else F.tanh(x)

    compiled = dj.jit(pick, static_argnums=1)
    for how in ("exp", "tanh", "exp"):
        want = pick(dg.Variable(X, requires_grad=False), how)
        np.testing.assert_array_equal(compiled(X, how).array, want.array)
    assert compiled.stats["traces"] == 2
    unhashable = dj.jit(lambda x, axes: F.sum(x, axis=tuple(axes)), static_argnums=1)
    assert float(unhashable(X, [0]).array) == X.sum()  # keyed by repr


def test_shapes_dtypes_and_requires_grad_are_part_of_the_cache_key():
    compiled = dj.jit(lambda x: x * 2.0)
    compiled(X)
    compiled(np.ones(4))
    compiled(X.astype(np.float32))
    compiled(dg.Variable(X))
    assert compiled.stats["traces"] == 4


def test_config_train_is_part_of_the_cache_key():
    def drop(x):
        return F.dropout(x, 0.5) if dg.config.train else x * 1.0

    compiled = dj.jit(drop)
    with dg.using_config("train", False):
        np.testing.assert_array_equal(compiled(X).array, X)
    compiled(X)  # training: a new trace
    with dg.using_config("train", False):
        np.testing.assert_array_equal(compiled(X).array, X)
    assert compiled.stats["traces"] == 2 and compiled.stats["replays"] == 1


# -- state read on every call, Python values guarded ------------------------------------------
def test_captured_arrays_are_read_on_every_call_not_baked():
    weights = np.ones(3)
    compiled = dj.jit(lambda x: x * weights)
    compiled(X)
    weights[...] = 5.0  # mutated in place: the replay reads it
    np.testing.assert_array_equal(compiled(X).array, X * 5.0)
    assert compiled.stats["traces"] == 1


def test_rebinding_a_captured_array_retraces():
    weights = np.ones(3)
    compiled = dj.jit(lambda x: x * weights)
    compiled(X)
    weights = np.full(3, 7.0)  # noqa: F841  (a new object in the closure cell)
    np.testing.assert_array_equal(compiled(X).array, X * 7.0)
    assert compiled.stats["traces"] == 2


SCALE = 2.0


def scaled(x):
    return x * SCALE


def test_a_global_python_float_read_inside_is_guarded_not_baked():
    global SCALE
    compiled = dj.jit(scaled)
    try:
        np.testing.assert_array_equal(compiled(X).array, X * 2.0)
        SCALE = 3.0
        np.testing.assert_array_equal(compiled(X).array, X * 3.0)
        SCALE = 2.0
        np.testing.assert_array_equal(compiled(X).array, X * 2.0)  # replays variant 1
    finally:
        SCALE = 2.0
    assert compiled.stats == {"traces": 2, "replays": 1, "guard_failures": 1,
                              "eager_calls": 0}


def test_a_closure_float_and_an_argument_objects_attribute_are_guarded(capsys):
    class Settings:
        gain = 2.0

    settings = Settings()
    bias = 1.0
    compiled = dj.jit(lambda x, s: x * s.gain + bias)
    compiled(X, settings)
    settings.gain = 4.0
    np.testing.assert_array_equal(compiled(X, settings).array, X * 4.0 + 1.0)
    bias = -1.0  # noqa: F841
    with dg.using_config("debug", 1):
        np.testing.assert_array_equal(compiled(X, settings).array, X * 4.0 - 1.0)
    assert "Python value bias is now -1.0 (traced with 1.0)" in capsys.readouterr().err


class Scaled(dg.Chain):
    def __init__(self):
        super().__init__()
        self.scale = 2.0
        with self.init_scope():
            self.body = dg.Sequential(L.Linear(3, 2))

    def forward(self, x):
        return self.body(x) * self.scale


def test_a_links_python_attributes_and_parameter_objects_are_guarded():
    model = Scaled()
    compiled = dj.jit(model)
    x = np.ones((1, 3), np.float32)
    compiled(x)
    model.scale = 3.0  # a Python float the forward reads
    np.testing.assert_allclose(compiled(x).array, model(x).array)
    layer = model.body[0]
    layer.W = dg.Parameter(np.zeros((2, 3), np.float32))  # a new Parameter object
    np.testing.assert_array_equal(compiled(x).array, 3.0 * layer.b.array[None])
    assert compiled.stats["traces"] == 3


def test_state_changes_deep_inside_are_seen_after_many_unchanged_replays():
    """Replays that find the very same Python objects skip walking them (``Memo``); a
    change anywhere a walk would look must still be seen."""

    class Knob:
        level = 1.0  # a class attribute the code reads

    class Holder:
        def __init__(self):
            self.inner = {"gain": 2.0, "knob": Knob()}
            self.offsets = (0.5, [1.0])

    holder = Holder()

    def f(x, h):
        return x * h.inner["gain"] * h.inner["knob"].level + h.offsets[0] + h.offsets[1][0]

    def expected():
        knob = holder.inner["knob"]
        return X * holder.inner["gain"] * knob.level + holder.offsets[0] + holder.offsets[1][0]

    compiled = dj.jit(f)
    for change in [lambda: None, lambda: holder.inner.__setitem__("gain", 3.0),
                   lambda: setattr(Knob, "level", 5.0),
                   lambda: setattr(holder.inner["knob"], "level", 7.0),
                   lambda: setattr(holder, "offsets", (1.5, holder.offsets[1])),
                   lambda: holder.inner.__setitem__("extra", 1)]:
        change()
        for _ in range(3):
            np.testing.assert_allclose(compiled(X, holder).array, expected(), rtol=1e-6)
    assert compiled.stats["traces"] == 6  # once, then once per change but the last
    assert compiled.stats["replays"] == 12


def test_a_python_counter_the_function_advances_runs_eagerly_with_a_warning():
    """A replay does not run Python, so it could not advance the counter: after a second
    trace that changes it again, the function runs eagerly and says why."""

    class Counter:
        calls = 0

    counter = Counter()

    def count(x):
        counter.calls += 1
        return x * counter.calls

    compiled = dj.jit(count)
    np.testing.assert_array_equal(compiled(X).array, X * 1)
    with pytest.warns(dj.JitWarning, match=r"changes Python state on every call \(counter.calls"):
        np.testing.assert_array_equal(compiled(X).array, X * 2)
    np.testing.assert_array_equal(compiled(X).array, X * 3)
    assert counter.calls == 3 and compiled.stats["eager_calls"] == 1


def test_lazy_initialisation_changes_python_state_once_and_still_compiles():
    layer = L.Linear(None, 2)  # records its input size on the first call
    compiled = dj.jit(lambda x: layer(x))
    x = np.ones((1, 3), np.float32)
    for _ in range(3):
        np.testing.assert_array_equal(compiled(x).array, layer(x).array)
    assert compiled.stats["traces"] <= 2 and compiled.stats["replays"] >= 1


def test_optimizer_hyperparameters_are_read_on_every_replay():
    model, twin = L.Linear(3, 2), None
    twin = model.copy(mode="copy")
    opt, opt_twin = optimizers.SGD(lr=0.1).setup(model), optimizers.SGD(lr=0.1).setup(twin)

    def step(m, o, x):
        m.cleargrads()
        loss = F.sum(m(x) * m(x))
        loss.backward()
        o.update()
        return loss

    compiled = dj.jit(step, static_argnums=(0, 1))
    x = np.ones((2, 3), np.float32)
    for lr in (0.1, 0.1, 0.01, 0.5):
        opt.lr = opt_twin.lr = lr
        before = model.W.array.copy()
        step(model, opt, x)
        compiled(twin, opt_twin, x)
        # a stale lr would be off by the whole step; rounding differs by an ulp
        np.testing.assert_allclose(model.W.array, twin.W.array, rtol=1e-5, atol=1e-6)
        assert not np.allclose(model.W.array, before)
    assert compiled.stats["traces"] == 1


# -- conversions to Python: guards ------------------------------------------------------------
def test_a_comparison_only_guard_replays_for_every_value_on_the_same_side():
    compiled = dj.jit(lambda x: x * 2.0 if F.max(x).item() < 2.5 else -x)
    for values in (X - 1.0, X - 2.0, X, X + 1.0, X - 1.5):
        np.testing.assert_array_equal(
            compiled(values).array, eager(lambda x: x * 2.0 if x.array.max() < 2.5 else -x,
                                          values).array)
    assert compiled.stats["traces"] == 2


def test_float_compared_with_a_variable_in_warm_code_is_a_comparison_guard():
    """``float(...) > threshold`` guards the comparison only, also once Python has
    specialised the bytecode (code run many times eagerly before being compiled)."""
    threshold = 0.0

    def sign_step(x):
        return x * 2.0 if float(F.sum(x).array) > threshold else x - 1.0

    for _ in range(50):
        sign_step(dg.Variable(X))
    compiled = dj.jit(sign_step)
    for values in (X, X + 1.0, -X, -X - 1.0, X * 2.0):
        np.testing.assert_array_equal(compiled(values).array, eager(sign_step, values).array)
    assert compiled.stats["traces"] == 2


def test_an_exact_value_use_of_float_is_guarded_exactly():
    compiled = dj.jit(lambda x: x * float(F.sum(x).array))
    for values in (X, X, X + 1.0, X):
        np.testing.assert_array_equal(compiled(values).array, values * values.sum())
    assert compiled.stats["traces"] == 2 and compiled.stats["replays"] == 2


def test_returning_a_python_number_of_the_data_is_an_exact_guard():
    """Each new value is a new variant: return the Variable instead."""
    compiled = dj.jit(lambda x: (x * 2.0, float(F.sum(x).array)))
    for values in (X, X + 1.0, X + 2.0):
        y, total = compiled(values)
        assert total == values.sum()
    assert compiled.stats["traces"] == 3


def test_a_loop_over_a_data_dependent_length_is_guarded_exactly():
    def repeat(x):
        h = x
        for _ in range(int(F.sum(x).item())):
            h = F.tanh(h)
        return h

    compiled = dj.jit(repeat)
    for values in ([1.0, 1.0], [2.0, 1.0], [0.5, 1.5], [1.0, 2.0]):
        values = np.array(values)
        # (machine code rounds tanh within an ulp of numpy's: equal to rounding)
        np.testing.assert_allclose(compiled(values).array, eager(repeat, values).array,
                                   rtol=1e-14)
    assert compiled.stats["traces"] == 2 and compiled.stats["replays"] == 2


def test_recursion_on_data_is_guarded_at_every_level():
    def halve(x):
        return halve(x * 0.5) if F.max(x).item() > 1.0 else x

    compiled = dj.jit(halve)
    for values in (X, X, X * 4.0, X * 0.1):
        np.testing.assert_array_equal(compiled(values).array, eager(halve, values).array)
    assert compiled.stats["traces"] == 3


def test_too_many_variants_warn_once_and_run_eagerly():
    compiled = dj.jit(lambda x: x * float(F.sum(x).array), max_variants=3)
    with pytest.warns(dj.JitWarning, match="more than 3 traced variants") as record:
        results = [compiled(np.array([float(i)])).array for i in range(1, 8)]
    assert len(record) == 1
    np.testing.assert_array_equal(np.concatenate(results), np.arange(1.0, 8.0) ** 2)
    assert compiled.stats["traces"] == 3 and compiled.stats["eager_calls"] == 4


# -- parameters and training steps ------------------------------------------------------------
def test_a_lazily_initialized_link_initializes_on_the_traced_call():
    np.random.seed(0)
    layer = L.Linear(None, 2)
    compiled = dj.jit(lambda x: layer(x))
    x = np.ones((1, 3), np.float32)
    first = compiled(x)
    assert layer.W.shape == (2, 3)
    np.testing.assert_array_equal(compiled(x).array, first.array)
    np.testing.assert_allclose(compiled(x * 2).array, layer(x * 2).array)


def test_an_uninitialized_parameter_used_in_an_op_raises():
    param = dg.Parameter(None if False else dg.initializers.Constant(1.0))
    with pytest.raises(dj.ConcretizationError, match="uninitialized Parameter"):
        dj.jit(lambda x: x * param)(X)


def _loss_branch_step(model, opt, x):
    model.cleargrads()
    loss = F.sum(model(x) ** 2)
    if loss.item() > 1.0:  # big loss: full step; small: only half of it
        loss.backward()
    else:
        (loss * 0.5).backward()
    opt.update()
    return loss


def test_a_failed_guard_writes_nothing_back():
    model = L.Linear(3, 1, initialW=1.0)
    twin = model.copy(mode="copy")
    opt, opt_twin = optimizers.SGD(lr=1e-3).setup(model), optimizers.SGD(lr=1e-3).setup(twin)
    compiled = dj.jit(_loss_branch_step, static_argnums=(0, 1))
    big, small = np.full((1, 3), 3.0, np.float32), np.full((1, 3), 0.01, np.float32)
    assert float(compiled(twin, opt_twin, big).array) > 1.0  # traced on the big-loss branch
    variant = compiled.variants(twin, opt_twin, big)[0]
    before = {name: np.copy(p.array) for name, p in twin.namedparams()}
    grads = {name: np.copy(p.grad) for name, p in twin.namedparams()}
    done, result, why = variant.run((twin, opt_twin, small))
    assert not done and result is None and "item() > 1.0) was True" in why
    for name, p in twin.namedparams():
        np.testing.assert_array_equal(p.array, before[name], err_msg=name)
        np.testing.assert_array_equal(p.grad, grads[name], err_msg=name)
    # Through the compiled function: eager's parameters, step for step, both branches.
    _loss_branch_step(model, opt, big)
    for x in (small, big, small, big):
        _loss_branch_step(model, opt, x)
        compiled(twin, opt_twin, x)
        for (name, p), (_, q) in zip(model.namedparams(), twin.namedparams()):
            np.testing.assert_array_equal(p.array, q.array, err_msg=name)
    assert compiled.stats["traces"] == 2 and compiled.stats["guard_failures"] == 1


def test_backward_inside_writes_the_gradient_of_argument_variables():
    def f(x):
        loss = F.sum(x * x)
        loss.backward()
        return loss

    compiled = dj.jit(f)
    compiled(dg.Variable(X))
    x = dg.Variable(X + 1.0)
    compiled(x)
    np.testing.assert_array_equal(x.grad, 2 * (X + 1.0))
    compiled(x)  # the gradient accumulates into this call's argument, as eagerly
    np.testing.assert_array_equal(x.grad, 4 * (X + 1.0))
    assert compiled.stats["traces"] == 2  # argument without / with a gradient already


def test_a_recurrent_state_kept_in_an_attribute_runs_eagerly_instead_of_going_stale():
    """LSTM keeps h and c as attributes it reads and replaces on every call: a replay
    (which runs no Python) could not advance them, so the step runs eagerly, warned."""
    np.random.seed(0)
    eager_lstm = L.LSTM(3, 4)
    compiled_lstm = eager_lstm.copy(mode="copy")
    step = dj.jit(lambda x: compiled_lstm(x))
    inputs = [np.random.randn(2, 3).astype(np.float32) for _ in range(4)]
    with pytest.warns(dj.JitWarning, match=r"changes Python state on every call \(.*\.h"):
        for x in inputs:
            np.testing.assert_array_equal(step(x).array, eager_lstm(x).array)
    assert step.stats["replays"] == 0


def test_results_a_link_stores_as_new_attributes_do_not_stop_compilation():
    """Classifier's y/loss/accuracy appear on its first call; they are results, not state
    the call reads, so the step compiles from the first call."""
    model = L.Classifier(L.Linear(3, 2))
    x = np.ones((4, 3), np.float32)
    t = np.array([0, 1, 1, 0], np.int32)
    compiled = dj.jit(lambda x, t: model(x, t))
    for _ in range(3):
        compiled(x, t)
    assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 2
