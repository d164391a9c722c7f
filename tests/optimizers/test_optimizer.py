"""The optimizer machinery: assign, hyperparameters, rules, hooks, update paths."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
from dualgrad import optimizer as optimizer_module
from dualgrad.errors import DTypeError, ShapeError
from dualgrad.optimizer import Hyperparameter, UpdateRule, assign
from dualgrad.optimizers import SGD, Adam, MomentumSGD


class Affine(dg.Link):
    def __init__(self, n_in, n_out, dtype=numpy.float64, seed=0):
        super().__init__()
        rng = numpy.random.RandomState(seed)
        with self.init_scope():
            self.W = dg.Parameter((rng.randn(n_out, n_in) * 0.5).astype(dtype))
            self.b = dg.Parameter(numpy.zeros(n_out, dtype))

    def forward(self, x):
        return F.linear(x, self.W, self.b)


class TwoLayer(dg.Chain):
    def __init__(self):
        super().__init__()
        with self.init_scope():
            self.l1 = Affine(3, 4, seed=1)
            self.l2 = Affine(4, 2, seed=2)

    def forward(self, x):
        return self.l2(F.tanh(self.l1(x)))


def squared_loss(model, x, t):
    return F.mean_squared_error(model(x), t)


def data():
    rng = numpy.random.RandomState(3)
    return rng.randn(5, 3), rng.randn(5, 2)


def snapshot(link):
    return {path: param.array.copy() for path, param in link.namedparams()}


# -- assign --------------------------------------------------------------------------------
def test_assign_writes_in_place_and_keeps_dtype():
    param = dg.Parameter(numpy.zeros(3, numpy.float32))
    shared = param.array
    assign(param, dg.Variable(numpy.array([1.0, 2.0, 3.0])))
    assert param.array is shared
    assert param.array.dtype == numpy.float32
    numpy.testing.assert_array_equal(shared, [1, 2, 3])


def test_assign_binds_an_empty_target_and_rejects_a_new_shape():
    holder = dg.Variable(None, requires_grad=False)
    assign(holder, numpy.ones(2))
    numpy.testing.assert_array_equal(holder.array, [1, 1])
    with pytest.raises(ShapeError, match=r"shape \(3,\).*shape \(2,\)"):
        assign(holder, numpy.ones(3))


def test_every_write_of_an_update_goes_through_assign(monkeypatch):
    model = TwoLayer()
    x, t = data()
    opt = Adam(alpha=0.1).setup(model)
    opt.update(squared_loss, model, x, t)  # creates the state
    before = snapshot(model)
    state_before = {p: {k: a.copy() for k, a in param.update_rule.state.items()}
                    for p, param in model.namedparams()}
    written = []
    def record(target, value):
        written.append(target)

    import dualgrad.live as live_module

    for module in (optimizer_module, live_module):  # the counters live in dualgrad.live
        monkeypatch.setattr(module, "assign", record)
    opt.update(squared_loss, model, x, t)
    # With assign disabled, nothing was written: no other write path exists.
    for path, param in model.namedparams():
        numpy.testing.assert_array_equal(param.array, before[path])
        for key, array in param.update_rule.state.items():
            numpy.testing.assert_array_equal(array, state_before[path][key])
    # m, v, the parameter and the rule's step count for each of 4 parameters, and the
    # optimizer's step count: the counters are state written like the rest.
    assert len(written) == 4 * 4 + 1


# -- hyperparameters -----------------------------------------------------------------------
def test_hyperparameter_falls_back_to_its_parent():
    parent = Hyperparameter()
    parent.lr = 0.1
    child = Hyperparameter(parent)
    assert child.lr == 0.1 and child.parent is parent
    child.momentum = 0.5
    assert child.get_dict() == {"lr": 0.1, "momentum": 0.5}
    parent.lr = 0.2
    assert child.lr == 0.2
    assert "lr=0.2" in repr(child)
    with pytest.raises(AttributeError, match="beta"):
        _ = child.beta


def test_optimizer_attributes_proxy_the_hyperparameters():
    model = TwoLayer()
    opt = MomentumSGD().setup(model)
    assert (opt.lr, opt.momentum) == (0.01, 0.9)
    opt.lr = 0.3
    assert opt.hyperparam.lr == 0.3
    assert model.l1.W.update_rule.hyperparam.lr == 0.3  # rules read the optimizer's value


def test_a_rule_can_override_one_parameters_learning_rate():
    model = TwoLayer()
    x, t = data()
    opt = SGD(lr=0.1).setup(model)
    model.l1.W.update_rule.hyperparam.lr = 0.0
    before = snapshot(model)
    opt.update(squared_loss, model, x, t)
    numpy.testing.assert_array_equal(model.l1.W.array, before["/l1/W"])
    assert not numpy.array_equal(model.l2.W.array, before["/l2/W"])


# -- which parameters are updated ----------------------------------------------------------
def test_disabled_rule_freezes_its_parameter():
    model = TwoLayer()
    x, t = data()
    opt = Adam(alpha=0.1).setup(model)
    model.l2.b.update_rule.enabled = False
    before = snapshot(model)
    opt.update(squared_loss, model, x, t)
    numpy.testing.assert_array_equal(model.l2.b.array, before["/l2/b"])
    assert model.l2.b.update_rule.state is None and model.l2.b.update_rule.t == 0
    assert not numpy.array_equal(model.l2.W.array, before["/l2/W"])


def test_parameters_without_gradient_are_skipped():
    model = TwoLayer()
    x, t = data()
    opt = MomentumSGD(lr=0.1).setup(model)
    before = snapshot(model)
    model.cleargrads()
    loss = F.sum(model.l1(x))  # l2 takes no part
    loss.backward()
    opt.update()
    assert opt.t == 1
    numpy.testing.assert_array_equal(model.l2.W.array, before["/l2/W"])
    assert model.l2.W.update_rule.state is None and model.l2.W.update_rule.t == 0
    assert model.l1.W.update_rule.t == 1


def test_uninitialized_parameter_is_skipped_until_it_exists():
    link = dg.Link()
    with link.init_scope():
        link.w = dg.Parameter(dg.initializers.Constant(1.0))
    opt = SGD(lr=0.5).setup(link)
    opt.update()
    assert link.w.array is None

    def loss():
        if link.w.array is None:
            link.w.initialize((2,))
        return F.sum(link.w * link.w)

    opt.update(loss)
    numpy.testing.assert_allclose(link.w.array, [0.0, 0.0])  # 1 - 0.5 * 2 * 1


# -- update paths --------------------------------------------------------------------------
def test_update_with_lossfun_matches_the_manual_steps():
    x, t = data()
    manual, automatic = TwoLayer(), TwoLayer()
    opt_manual = Adam(alpha=0.05).setup(manual)
    opt_auto = Adam(alpha=0.05).setup(automatic)
    for param in automatic.params():
        param.grad = numpy.full_like(param.array, 100.0)  # stale: must be cleared first
    for _ in range(3):
        manual.cleargrads()
        squared_loss(manual, x, t).backward()
        opt_manual.update()
        opt_auto.update(squared_loss, automatic, x, t=t)
    for (path, a), (_, b) in zip(manual.namedparams(), automatic.namedparams()):
        numpy.testing.assert_array_equal(a.array, b.array, err_msg=path)
    assert opt_auto.t == 3


def test_update_needs_setup_and_setup_needs_a_link():
    with pytest.raises(RuntimeError, match="setup"):
        SGD().update()
    with pytest.raises(TypeError, match="Link"):
        SGD().setup(numpy.zeros(3))


def test_setup_returns_the_optimizer_and_resets_counters():
    opt = SGD()
    assert opt.setup(TwoLayer()) is opt
    assert (opt.t, opt.epoch) == (0, 0)


def test_new_epoch_counts_and_refuses_double_counting():
    opt = SGD().setup(TwoLayer())
    opt.new_epoch()
    assert opt.epoch == 1
    opt.use_auto_new_epoch = True
    opt.new_epoch(auto=True)
    assert opt.epoch == 2
    with pytest.raises(RuntimeError, match="twice|already"):
        opt.new_epoch()
    opt.use_cleargrads()  # old Chainer code keeps working


# -- hooks ---------------------------------------------------------------------------------
def test_hooks_run_before_and_after_in_order():
    model = TwoLayer()
    x, t = data()
    opt = SGD(lr=0.1).setup(model)
    calls = []

    def record_pre(o):
        calls.append(("pre", o.t))

    def record_post(o):
        calls.append(("post", o.t))

    opt.add_hook(record_post, timing="post")
    opt.add_hook(record_pre)
    opt.add_hook(lambda o: calls.append(("second", o.t)), name="second")
    opt.update(squared_loss, model, x, t)
    assert calls == [("pre", 0), ("second", 0), ("post", 1)]
    with pytest.raises(KeyError, match="record_pre"):
        opt.add_hook(record_pre)
    opt.remove_hook("record_pre")
    opt.remove_hook("record_post")
    with pytest.raises(KeyError):
        opt.remove_hook("record_pre")
    with pytest.raises(ValueError, match="timing"):
        opt.add_hook(record_pre, timing="later")


def test_rule_hooks_see_each_parameter():
    model = TwoLayer()
    x, t = data()
    opt = SGD(lr=0.1).setup(model)
    seen = []
    model.l1.W.update_rule.add_hook(lambda rule, param: seen.append(param.shape), name="s")
    opt.update(squared_loss, model, x, t)
    assert seen == [(4, 3)]


# -- custom rules --------------------------------------------------------------------------
class SignRule(UpdateRule):
    """A rule written the Chainer way, on raw arrays."""

    def update_core_cpu(self, param):
        param.array -= self.hyperparam.lr * numpy.sign(param.grad)


class SignSGD(optimizer_module.GradientMethod):
    def __init__(self, lr):
        super().__init__()
        self.hyperparam.lr = lr

    def create_update_rule(self):
        return SignRule(self.hyperparam)


def test_chainer_style_rules_with_update_core_cpu_work():
    link = dg.Link()
    with link.init_scope():
        link.w = dg.Parameter(numpy.array([1.0, 1.0]))
    opt = SignSGD(0.25).setup(link)
    link.w.grad = numpy.array([3.0, -0.5])
    opt.update()
    numpy.testing.assert_array_equal(link.w.array, [0.75, 1.25])


def test_eps_that_rounds_to_zero_in_float16_is_refused():
    link = dg.Link()
    with link.init_scope():
        link.w = dg.Parameter(numpy.ones(2, numpy.float16))
    opt = Adam().setup(link)
    link.w.grad = numpy.ones(2, numpy.float16)
    with pytest.raises(DTypeError, match="eps"):
        opt.update()
