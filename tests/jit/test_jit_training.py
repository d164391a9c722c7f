"""Compiled Chainer-style training steps equal eager ones, parameter for parameter.

Each test trains a model eagerly and its twin through ``dj.jit`` and compares every
parameter, gradient, optimizer state and counter after every step, BITWISE: the
compiled step replays the very ops eager code runs (the optimizers' hyperparameters
and step counters are op inputs, not Python numbers), and the reference interpreter
computes each op with the same numpy call, so there is no rounding to forgive.
"""

import numpy as np
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
import dualgrad_jit as dj
from dualgrad import optimizer_hooks, optimizers
from dualgrad.ops import random

from .compiled_cases import BACKENDS

STEPS = 5


class MLP(dg.Chain):
    def __init__(self, n_in=4, n_hidden=6, n_out=3):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(n_in, n_hidden)
            self.l2 = L.Linear(n_hidden, n_out)

    def forward(self, x):
        return self.l2(F.tanh(self.l1(x)))


class NormalizedDropoutNet(dg.Chain):
    """Linear -> BatchNormalization -> relu -> dropout -> Linear."""

    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(4, 6)
            self.bn = L.BatchNormalization(6)
            self.l2 = L.Linear(6, 3)

    def forward(self, x):
        return self.l2(F.dropout(F.relu(self.bn(self.l1(x))), 0.3))


def batches(n=STEPS, size=8, seed=0):
    rng = np.random.RandomState(seed)
    return [(rng.randn(size, 4).astype(np.float32), rng.randint(0, 3, size).astype(np.int32))
            for _ in range(n)]


def step(model, opt, x, t):
    model.cleargrads()
    loss = model(x, t)
    loss.backward()
    opt.update()
    return loss


def step_with_lossfun(model, opt, x, t):
    opt.update(model, x, t)
    return model.predictor.l1.W.grad_var  # something computed inside the step


def snapshot(model, opt):
    """Every array a training step changes: parameters, gradients, persistent values,
    optimizer states and counters."""
    out = {"opt.t": opt.t}
    for path, p in model.namedparams():
        out[path] = p.array.copy()
        out[path + "/grad"] = None if p.grad is None else p.grad.copy()
        rule = p.update_rule
        out[path + "/t"] = rule.t
        for key, array in (rule.state or {}).items():
            out[f"{path}/{key}"] = array.copy()
    for link_path, link in model.namedlinks():
        for name, value in link.namedpersistents():
            out[link_path + name] = np.array(value, copy=True)
    return out


# Every test runs on each backend: the reference interpreter must agree bit for bit
# (it replays eager's numpy calls); LLVM's machine code rounds differently in the last
# bits (fused multiply-adds, vectorised sums, its own exp/tanh), so it must agree to
# rounding (float32: a few ulp accumulated over the steps).
BACKEND = ["numpy"]


@pytest.fixture(params=BACKENDS, autouse=True)
def backend(request):
    BACKEND[0] = request.param
    yield request.param
    BACKEND[0] = "numpy"


def jit(fn=None, **options):
    return dj.jit(fn, backend=BACKEND[0], **options)


def assert_equal(got, want, err_msg="", strict=True):
    got, want = np.asarray(got), np.asarray(want)
    if BACKEND[0] == "numpy" or got.dtype.kind not in "fc":
        np.testing.assert_array_equal(got, want, err_msg=err_msg, strict=strict)
        return
    assert got.shape == want.shape and got.dtype == want.dtype, err_msg
    tolerance = 1e-4 if got.dtype == np.float32 else 1e-10
    np.testing.assert_allclose(got, want, rtol=tolerance, atol=tolerance, err_msg=err_msg)


def assert_same(expected, got):
    assert expected.keys() == got.keys()
    for key, value in expected.items():
        if value is None:
            assert got[key] is None, key
        else:
            assert_equal(got[key], value, err_msg=key, strict=True)


def train_both(model, make_optimizer, data, fn=step, seed=None):
    """Train ``model`` eagerly, then a copy of it compiled, from the same random state;
    compare the results and every array after every step, and where the random stream
    ended."""
    twin = model.copy(mode="copy")
    runs = [(model, make_optimizer().setup(model), fn),
            (twin, make_optimizer().setup(twin), jit(fn, static_argnums=(0, 1)))]
    traces, streams = [], []
    for m, o, f in runs:
        random.seed(0 if seed is None else seed)
        traces.append([(np.array(f(m, o, x, t).array, copy=True), snapshot(m, o))
                       for x, t in data])
        streams.append(random.get_state())
    for (expected_result, expected), (result, got) in zip(*traces):
        assert_equal(result, expected_result, strict=True)
        assert_same(expected, got)
    assert streams[0] == streams[1]
    return runs[1][2], traces[0]


def replayed_after_one_trace(compiled, calls=STEPS):
    return compiled.stats == {"traces": 1, "replays": calls - 1, "guard_failures": 0,
                              "eager_calls": 0}


OPTIMIZERS = {
    "SGD": lambda: optimizers.SGD(lr=0.1),
    "MomentumSGD": lambda: optimizers.MomentumSGD(lr=0.05, momentum=0.8),
    "Adam": lambda: optimizers.Adam(alpha=0.01),
    "Adam-amsgrad": lambda: optimizers.Adam(alpha=0.01, amsgrad=True),
    "AdamW": lambda: optimizers.AdamW(alpha=0.01, weight_decay_rate=0.1),
    "AdaGrad": lambda: optimizers.AdaGrad(lr=0.1),
    "RMSprop": lambda: optimizers.RMSprop(lr=0.01),
    "RMSprop-eps-inside": lambda: optimizers.RMSprop(lr=0.01, eps_inside_sqrt=True),
}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_every_optimizer_compiles_into_the_step_and_equals_eager(name):
    np.random.seed(0)
    one_batch = batches(n=1)[0]
    compiled, trace = train_both(L.Classifier(MLP()), OPTIMIZERS[name], [one_batch] * STEPS)
    assert replayed_after_one_trace(compiled)
    losses = [float(result) for result, _ in trace]
    assert losses[-1] < losses[0]  # it trains


def with_hooks(make_optimizer, *hooks):
    def make():
        opt = make_optimizer()
        for hook in hooks:
            opt.add_hook(hook)
        return opt

    return make


THRESHOLD = 0.5


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_weight_decay_and_gradient_clipping_hooks_compile(name):
    np.random.seed(1)
    hooks = with_hooks(OPTIMIZERS[name], optimizer_hooks.WeightDecay(0.01),
                       optimizer_hooks.GradientClipping(THRESHOLD))
    compiled, trace = train_both(L.Classifier(MLP()), hooks, batches(n=6, seed=3))
    assert replayed_after_one_trace(compiled, 6)
    # The threshold clipped some steps and not others: the compiled step decides per
    # replay, with ops, where eager Python used to branch on the norm.
    norms = [np.sqrt(sum(float(np.sum(a.astype(np.float64) ** 2))
                         for key, a in arrays.items() if key.endswith("/grad")))
             for _, arrays in trace]
    clipped = [bool(np.isclose(n, THRESHOLD, rtol=1e-5)) for n in norms]
    assert any(clipped) and not all(clipped), norms


def test_gradient_clipping_both_clips_and_passes_through_in_one_compiled_step():
    model = dg.Link()
    with model.init_scope():
        model.w = dg.Parameter(np.zeros(2))
    opt = optimizers.SGD(lr=1.0).setup(model)
    opt.add_hook(optimizer_hooks.GradientClipping(2.0))

    @jit
    def update(g):
        model.cleargrads()
        loss = F.sum(model.w * g)  # d loss / d w = g
        loss.backward()
        opt.update()
        return model.w

    for g, step_taken in (([3.0, 4.0], [-1.2, -1.6]), ([0.3, 0.4], [-0.3, -0.4]),
                          ([0.0, 0.0], [0.0, 0.0])):
        before = model.w.array.copy()
        update(np.array(g))
        np.testing.assert_allclose(model.w.array - before, step_taken, rtol=1e-12)
    assert update.stats["traces"] == 1 and update.stats["replays"] == 2


def test_the_update_with_lossfun_form_compiles():
    np.random.seed(2)
    compiled, _ = train_both(L.Classifier(MLP()), OPTIMIZERS["Adam"], batches(),
                             fn=step_with_lossfun)
    assert replayed_after_one_trace(compiled)


def test_batch_normalization_and_dropout_train_bit_for_bit_with_the_same_seed():
    np.random.seed(3)
    model = L.Classifier(NormalizedDropoutNet())
    compiled, trace = train_both(model, OPTIMIZERS["MomentumSGD"], batches(seed=5), seed=42)
    assert replayed_after_one_trace(compiled)
    # The running statistics moved; dropout drew 8 x 6 numbers per step, in the compiled
    # steps too (each replay re-numbers its draws from where the stream is).
    assert not np.array_equal(trace[0][1]["/predictor/bn/avg_mean"],
                              trace[-1][1]["/predictor/bn/avg_mean"])
    assert random.get_state() == (42, STEPS * 8 * 6)


def test_batch_normalization_finetune_counter_is_state():
    bn, twin = L.BatchNormalization(3), L.BatchNormalization(3)
    compiled = jit(lambda x: bn(x, finetune=True))
    rng = np.random.RandomState(0)
    for _ in range(4):
        x = rng.randn(5, 3).astype(np.float32)
        twin(x, finetune=True)
        compiled(x)
        assert_equal(bn.avg_mean, twin.avg_mean)
        assert_equal(bn.avg_var, twin.avg_var)
    assert int(bn.N) == int(twin.N) == 4
    assert compiled.stats["traces"] == 1


def test_lazily_initialized_layers_initialize_on_the_first_eager_call():
    class LazyMLP(dg.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.l1 = L.Linear(None, 5)
                self.l2 = L.Linear(None, 3)

        def forward(self, x):
            return self.l2(F.relu(self.l1(x)))

    model, twin = L.Classifier(LazyMLP()), L.Classifier(LazyMLP())
    opt, opt_twin = optimizers.Adam(alpha=0.01).setup(model), optimizers.Adam(
        alpha=0.01).setup(twin)
    compiled = jit(step, static_argnums=(0, 1))
    for i, (x, t) in enumerate(batches()):
        if i == 0:  # both draw their initial weights from the same numpy stream
            np.random.seed(11)
        step(model, opt, x, t)
        if i == 0:
            np.random.seed(11)
        compiled(twin, opt_twin, x, t)
        assert_same(snapshot(model, opt), snapshot(twin, opt_twin))
    assert twin.predictor.l1.W.shape == (5, 4)
    assert replayed_after_one_trace(compiled)


@pytest.mark.parametrize("name", ["SGD", "Adam"])
def test_changing_the_learning_rate_between_compiled_calls_is_seen(name):
    np.random.seed(4)
    model = L.Classifier(MLP())
    twin = model.copy(mode="copy")
    opt, opt_twin = OPTIMIZERS[name]().setup(model), OPTIMIZERS[name]().setup(twin)
    attr = "alpha" if name == "Adam" else "lr"
    compiled = jit(step, static_argnums=(0, 1))
    for i, (x, t) in enumerate(batches(n=6)):
        value = 0.1 * 0.5 ** i  # what ExponentialShift does
        setattr(opt, attr, value)
        setattr(opt_twin, attr, value)
        step(model, opt, x, t)
        compiled(twin, opt_twin, x, t)
        assert_same(snapshot(model, opt), snapshot(twin, opt_twin))
    assert replayed_after_one_trace(compiled, 6)  # a new lr needs no new trace


def test_structural_settings_changed_between_calls_retrace():
    np.random.seed(5)
    model = L.Classifier(MLP())
    twin = model.copy(mode="copy")
    opt, opt_twin = optimizers.Adam().setup(model), optimizers.Adam().setup(twin)
    compiled = jit(step, static_argnums=(0, 1))
    changes = [
        lambda o, m: None,
        lambda o, m: setattr(o, "amsgrad", True),
        lambda o, m: o.add_hook(optimizer_hooks.WeightDecay(0.1)),
        lambda o, m: setattr(m.predictor.l1.W.update_rule, "enabled", False),
        lambda o, m: o.remove_hook("WeightDecay"),
        # back to the configuration of the second call: its variant is replayed
        lambda o, m: setattr(m.predictor.l1.W.update_rule, "enabled", True),
    ]
    for change, (x, t) in zip(changes, batches(n=len(changes))):
        change(opt, model)
        change(opt_twin, twin)
        step(model, opt, x, t)
        compiled(twin, opt_twin, x, t)
        assert_same(snapshot(model, opt), snapshot(twin, opt_twin))
    assert compiled.stats == {"traces": 5, "replays": 1, "guard_failures": 4,
                              "eager_calls": 0}


def test_evaluation_mode_is_compiled_separately():
    np.random.seed(6)
    model = L.Classifier(NormalizedDropoutNet())
    opt = optimizers.SGD(lr=0.1).setup(model)
    compiled_step = jit(step, static_argnums=(0, 1))
    evaluate = jit(lambda x, t: model(x, t))
    (x, t), (x_test, t_test) = batches(n=2, seed=9)
    for _ in range(3):
        compiled_step(model, opt, x, t)
        with dg.using_config("train", False):
            got = evaluate(x_test, t_test)
            expected = model(x_test, t_test)  # eager, the running statistics, no dropout
        assert_equal(got.array, expected.array, strict=True)
        evaluate(x_test, t_test)  # train mode: another compiled variant
    assert evaluate.stats["traces"] == 2 and evaluate.stats["replays"] == 4
    assert compiled_step.stats["traces"] == 1


def test_reading_the_step_count_in_a_compiled_step_is_guarded_not_frozen():
    def scaled_step(m, o, x, t):
        return step(m, o, x, t) * o.t  # the exact value is used: it changes every call

    np.random.seed(7)
    model = L.Classifier(MLP())
    twin = model.copy(mode="copy")
    opt, opt_twin = optimizers.SGD().setup(model), optimizers.SGD().setup(twin)
    compiled = jit(scaled_step, static_argnums=(0, 1), max_variants=2)
    with pytest.warns(dj.JitWarning, match="more than 2 traced variants"):
        for x, t in batches(n=4):
            expected = scaled_step(model, opt, x, t)
            got = compiled(twin, opt_twin, x, t)
            assert_equal(got.array, expected.array, strict=True)
            assert_same(snapshot(model, opt), snapshot(twin, opt_twin))
    assert compiled.stats["traces"] == 2 and compiled.stats["replays"] == 0


def test_a_new_epoch_between_compiled_steps_needs_no_new_trace():
    model = L.Classifier(MLP())
    opt = optimizers.MomentumSGD().setup(model)
    compiled = jit(step, static_argnums=(0, 1))
    for x, t in batches(n=4):
        compiled(model, opt, x, t)
        opt.new_epoch()
    assert (opt.t, opt.epoch) == (4, 4)
    assert replayed_after_one_trace(compiled, 4)


def test_counters_stay_python_ints_and_serialize_as_before(tmp_path):
    from dualgrad import serializers

    model = L.Classifier(MLP())
    opt = optimizers.Adam().setup(model)
    compiled = jit(step, static_argnums=(0, 1))
    for x, t in batches(n=3):
        compiled(model, opt, x, t)
    opt.new_epoch()
    assert type(opt.t) is int and opt.t == 3 and type(opt.epoch) is int
    assert type(model.predictor.l1.W.update_rule.t) is int
    assert opt.lr == pytest.approx(0.001 * np.sqrt(1 - 0.999 ** 3) / (1 - 0.9 ** 3))
    serializers.save_npz(tmp_path / "opt.npz", opt)
    with np.load(tmp_path / "opt.npz") as f:
        assert f["t"].dtype.kind == "i" and int(f["t"]) == 3 and int(f["epoch"]) == 1
    other = optimizers.Adam().setup(L.Classifier(MLP()))
    serializers.load_npz(tmp_path / "opt.npz", other)
    assert (other.t, other.epoch, other.target.predictor.l1.W.update_rule.t) == (3, 1, 3)


def test_a_guarded_step_checks_its_guards_first_and_updates_in_place():
    """The optimizer's configuration guard depends on inputs only: it is checked before
    the run, so the compiled step may write parameters straight into their arrays, and a
    changed configuration retraces with every parameter as eager has it."""
    np.random.seed(8)
    model = L.Classifier(MLP())
    twin = model.copy(mode="copy")
    opt, opt_twin = optimizers.MomentumSGD().setup(model), optimizers.MomentumSGD().setup(twin)
    compiled = jit(step, static_argnums=(0, 1))
    for x, t in batches(n=3):
        step(model, opt, x, t)
        compiled(twin, opt_twin, x, t)
    (variant,) = compiled.variants(twin, opt_twin, x, t)
    assert variant.guards and variant._early_guards() is not None
    if variant.backend == "llvm":
        assert variant.runner().donated  # parameters and momenta written in place
    assert_same(snapshot(model, opt), snapshot(twin, opt_twin))
    opt.add_hook(optimizer_hooks.WeightDecay(0.1))
    opt_twin.add_hook(optimizer_hooks.WeightDecay(0.1))
    for x, t in batches(n=2, seed=3):
        step(model, opt, x, t)
        compiled(twin, opt_twin, x, t)
        assert_same(snapshot(model, opt), snapshot(twin, opt_twin))
    assert compiled.stats["guard_failures"] == 1
