"""Each optimizer against a numpy transcription of Chainer's update, and in training."""

import math

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
from dualgrad import optimizers

SHAPES = {"w": (3, 2), "b": (2,)}
STEPS = 5


class Params(dg.Link):
    """Two parameters whose gradients the test sets by hand."""

    def __init__(self, dtype):
        super().__init__()
        rng = numpy.random.RandomState(0)
        with self.init_scope():
            for name, shape in SHAPES.items():
                setattr(self, name, dg.Parameter(rng.randn(*shape).astype(dtype)))


def gradients(step, name):
    rng = numpy.random.RandomState(100 + step + 10 * len(name))
    return rng.randn(*SHAPES[name])


# -- numpy references: Chainer's update_core_cpu, line for line ----------------------------
def sgd_ref(p, g, state, t, lr=0.01):
    p -= lr * g


def momentum_ref(p, g, state, t, lr=0.01, momentum=0.9):
    v = state.setdefault("v", numpy.zeros_like(p))
    v *= momentum
    v -= lr * g
    p += v


def adagrad_ref(p, g, state, t, lr=0.001, eps=1e-8):
    h = state.setdefault("h", numpy.zeros_like(p))
    h += g * g
    p -= lr * g / (numpy.sqrt(h) + eps)


def rmsprop_ref(p, g, state, t, lr=0.01, alpha=0.99, eps=1e-8, eps_inside_sqrt=False):
    ms = state.setdefault("ms", numpy.zeros_like(p))
    ms *= alpha
    ms += (1 - alpha) * g * g
    denominator = numpy.sqrt(ms + eps) if eps_inside_sqrt else numpy.sqrt(ms) + eps
    p -= lr * g / denominator


def adam_ref(p, g, state, t, alpha=0.001, beta1=0.9, beta2=0.999, eps=1e-8, eta=1.0,
             weight_decay_rate=0.0, amsgrad=False):
    m = state.setdefault("m", numpy.zeros_like(p))
    v = state.setdefault("v", numpy.zeros_like(p))
    m += (1 - beta1) * (g - m)
    v += (1 - beta2) * (g * g - v)
    vhat = v
    if amsgrad:
        vhat = state.setdefault("vhat", numpy.zeros_like(p))
        numpy.maximum(vhat, v, out=vhat)
    alpha_t = alpha * math.sqrt(1 - beta2**t) / (1 - beta1**t)
    step = alpha_t / (numpy.sqrt(vhat) + eps)
    p *= 1.0 - eta * weight_decay_rate
    p -= eta * (step * m)


CASES = [
    (optimizers.SGD, {}, sgd_ref),
    (optimizers.SGD, {"lr": 0.3}, sgd_ref),
    (optimizers.MomentumSGD, {}, momentum_ref),
    (optimizers.MomentumSGD, {"lr": 0.2, "momentum": 0.5}, momentum_ref),
    (optimizers.AdaGrad, {}, adagrad_ref),
    (optimizers.AdaGrad, {"lr": 0.1, "eps": 1e-3}, adagrad_ref),
    (optimizers.RMSprop, {}, rmsprop_ref),
    (optimizers.RMSprop, {"lr": 0.05, "alpha": 0.9, "eps": 1e-2, "eps_inside_sqrt": True},
     rmsprop_ref),
    (optimizers.Adam, {}, adam_ref),
    (optimizers.Adam, {"alpha": 0.05, "beta1": 0.8, "beta2": 0.99, "eps": 1e-4}, adam_ref),
    (optimizers.Adam, {"alpha": 0.05, "eta": 0.5, "weight_decay_rate": 0.1}, adam_ref),
    (optimizers.Adam, {"alpha": 0.05, "amsgrad": True}, adam_ref),
    (optimizers.AdamW, {"alpha": 0.05, "weight_decay_rate": 0.01}, adam_ref),
]


def run_optimizer(cls, kwargs, dtype):
    link = Params(dtype)
    opt = cls(**kwargs).setup(link)
    for step in range(STEPS):
        for name, param in link.namedparams():
            param.grad = gradients(step, name.lstrip("/")).astype(dtype)
        opt.update()
    return link, opt


def run_reference(ref, kwargs, dtype):
    params = {"/" + name: p.array.copy() for name, p in zip(SHAPES, Params(dtype).params())}
    states = {path: {} for path in params}
    for step in range(STEPS):
        for path, p in params.items():
            ref(p, gradients(step, path[1:]).astype(dtype), states[path], step + 1, **kwargs)
    return params, states


@pytest.mark.parametrize("cls, kwargs, ref", CASES,
                         ids=[f"{c.__name__}-{i}" for i, (c, _, _) in enumerate(CASES)])
def test_update_matches_chainer_formulas(cls, kwargs, ref):
    link, opt = run_optimizer(cls, kwargs, numpy.float64)
    expected, states = run_reference(ref, kwargs, numpy.float64)
    assert opt.t == STEPS
    for path, param in link.namedparams():
        numpy.testing.assert_allclose(param.array, expected[path], rtol=1e-12, atol=1e-15)
        rule_state = param.update_rule.state or {}
        assert sorted(rule_state) == sorted(states[path])
        for key, array in rule_state.items():
            numpy.testing.assert_allclose(array, states[path][key], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("cls, kwargs, ref", CASES[::3],
                         ids=[c.__name__ for c, _, _ in CASES[::3]])
def test_float32_parameters_stay_float32(cls, kwargs, ref):
    link, _ = run_optimizer(cls, kwargs, numpy.float32)
    expected, _ = run_reference(ref, kwargs, numpy.float32)
    for path, param in link.namedparams():
        assert param.array.dtype == numpy.float32
        for array in (param.update_rule.state or {}).values():
            assert array.dtype == numpy.float32
        numpy.testing.assert_allclose(param.array, expected[path], rtol=1e-5, atol=1e-6)


def test_defaults_are_chainers():
    assert optimizers.SGD().lr == 0.01
    assert (optimizers.MomentumSGD().lr, optimizers.MomentumSGD().momentum) == (0.01, 0.9)
    adam = optimizers.Adam()
    assert (adam.alpha, adam.beta1, adam.beta2, adam.eps, adam.eta) == (
        0.001, 0.9, 0.999, 1e-8, 1.0)
    assert (adam.weight_decay_rate, adam.amsgrad) == (0, False)
    assert (optimizers.AdaGrad().lr, optimizers.AdaGrad().eps) == (0.001, 1e-8)
    rmsprop = optimizers.RMSprop()
    assert (rmsprop.lr, rmsprop.alpha, rmsprop.eps) == (0.01, 0.99, 1e-8)
    assert optimizers.AdamW(weight_decay_rate=0.1).weight_decay_rate == 0.1


def test_adam_lr_is_the_bias_corrected_step():
    link, opt = run_optimizer(optimizers.Adam, {"alpha": 0.01}, numpy.float64)
    expected = 0.01 * math.sqrt(1 - 0.999**STEPS) / (1 - 0.9**STEPS)
    assert opt.lr == pytest.approx(expected) and opt.alpha_t == pytest.approx(expected)
    assert link.w.update_rule.alpha_t == pytest.approx(expected)
    with pytest.raises(RuntimeError, match="first update"):
        _ = optimizers.Adam().setup(Params(numpy.float32)).lr
    with pytest.raises(NotImplementedError, match="adabound"):
        optimizers.Adam(adabound=True)


# -- training a small model ----------------------------------------------------------------
class MLP(dg.Chain):
    def __init__(self):
        super().__init__()
        rng = numpy.random.RandomState(1)
        with self.init_scope():
            self.W1 = dg.Parameter((rng.randn(8, 2) * 0.5).astype(numpy.float32))
            self.b1 = dg.Parameter(numpy.zeros(8, numpy.float32))
            self.W2 = dg.Parameter((rng.randn(1, 8) * 0.5).astype(numpy.float32))
            self.b2 = dg.Parameter(numpy.zeros(1, numpy.float32))

    def forward(self, x):
        return F.linear(F.tanh(F.linear(x, self.W1, self.b1)), self.W2, self.b2)


def regression_data():
    rng = numpy.random.RandomState(2)
    x = rng.uniform(-1, 1, (64, 2)).astype(numpy.float32)
    t = numpy.tanh(x[:, :1] - 0.5 * x[:, 1:]).astype(numpy.float32)
    return x, t


TRAINING = [
    (optimizers.SGD, {"lr": 0.5}),
    (optimizers.MomentumSGD, {"lr": 0.1}),
    (optimizers.AdaGrad, {"lr": 0.2}),
    (optimizers.RMSprop, {"lr": 0.01}),
    (optimizers.Adam, {"alpha": 0.05}),
    (optimizers.AdamW, {"alpha": 0.05, "weight_decay_rate": 1e-4}),
]


@pytest.mark.parametrize("cls, kwargs", TRAINING, ids=[c.__name__ for c, _ in TRAINING])
def test_training_reaches_a_low_loss(cls, kwargs):
    model = MLP()
    x, t = regression_data()
    opt = cls(**kwargs).setup(model)

    def loss_fn():
        return F.mean_squared_error(model(x), t)

    initial = float(loss_fn().array)
    for _ in range(300):
        opt.update(loss_fn)
    final = float(loss_fn().array)
    assert final < 0.02 * initial, (initial, final)
