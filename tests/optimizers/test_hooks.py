"""Optimizer hooks: WeightDecay and GradientClipping."""

import numpy
import pytest

import dualgrad as dg
from dualgrad.optimizer_hooks import GradientClipping, WeightDecay
from dualgrad.optimizers import SGD, Adam


def make_link():
    link = dg.Link()
    with link.init_scope():
        link.a = dg.Parameter(numpy.array([1.0, -2.0]))
        link.b = dg.Parameter(numpy.array([[0.5, 3.0]]))
    return link


def set_grads(link, grads):
    for param, grad in zip(link.params(), grads):
        param.grad = None if grad is None else numpy.array(grad, dtype=numpy.float64)


def test_weight_decay_adds_rate_times_param_to_the_gradient():
    link = make_link()
    opt = SGD(lr=0.1).setup(link)
    opt.add_hook(WeightDecay(0.2))
    set_grads(link, [[1.0, 1.0], [[0.0, -1.0]]])
    opt.update()
    numpy.testing.assert_allclose(link.a.array, [1.0 - 0.1 * (1.0 + 0.2), -2.0 - 0.1 * (1.0 - 0.4)])
    numpy.testing.assert_allclose(link.b.array, [[0.5 - 0.1 * 0.1, 3.0 - 0.1 * (-1.0 + 0.6)]])


def test_weight_decay_leaves_parameters_without_gradient_alone():
    link = make_link()
    opt = SGD(lr=0.1).setup(link)
    opt.add_hook(WeightDecay(0.2))
    set_grads(link, [[0.0, 0.0], None])
    opt.update()
    numpy.testing.assert_array_equal(link.b.array, [[0.5, 3.0]])
    assert link.b.grad is None


def test_weight_decay_is_the_gradient_of_an_l2_penalty():
    penalised, hooked = make_link(), make_link()
    opt_penalty = Adam(alpha=0.1).setup(penalised)
    opt_hook = Adam(alpha=0.1).setup(hooked)
    opt_hook.add_hook(WeightDecay(0.3))
    for _ in range(3):
        opt_penalty.update(
            lambda: (penalised.a * penalised.a).sum() * 0.15 + (penalised.b * penalised.b).sum()
            * 0.15 + penalised.a.sum())
        opt_hook.update(lambda: hooked.a.sum() + hooked.b.sum() * 0.0)
    for p, q in zip(penalised.params(), hooked.params()):
        numpy.testing.assert_allclose(p.array, q.array, rtol=1e-12)


def test_gradient_clipping_scales_to_the_threshold():
    link = make_link()
    opt = SGD(lr=1.0).setup(link)
    opt.add_hook(GradientClipping(2.5))
    set_grads(link, [[3.0, 0.0], [[0.0, 4.0]]])  # global norm 5
    captured = []
    opt.add_hook(lambda o: captured.append([p.grad.copy() for p in link.params()]),
                 name="capture")
    opt.update()
    a_grad, b_grad = captured[0]
    numpy.testing.assert_allclose(a_grad, [1.5, 0.0])
    numpy.testing.assert_allclose(b_grad, [[0.0, 2.0]])
    numpy.testing.assert_allclose(link.a.array, [1.0 - 1.5, -2.0])


def test_gradient_clipping_keeps_small_gradients_and_skips_missing_ones():
    link = make_link()
    opt = SGD(lr=1.0).setup(link)
    opt.add_hook(GradientClipping(10.0))
    set_grads(link, [[3.0, 4.0], None])
    opt.update()
    numpy.testing.assert_allclose(link.a.array, [-2.0, -6.0])
    numpy.testing.assert_array_equal(link.b.array, [[0.5, 3.0]])


def test_hook_order_matters_and_names_are_unique():
    link = make_link()
    opt = SGD(lr=1.0).setup(link)
    opt.add_hook(GradientClipping(1.0))
    opt.add_hook(WeightDecay(1.0))  # after clipping: the decay term is not clipped
    set_grads(link, [[0.0, 0.0], [[0.0, 0.0]]])
    opt.update()
    numpy.testing.assert_allclose(link.a.array, [0.0, 0.0])
    with pytest.raises(KeyError, match="WeightDecay"):
        opt.add_hook(WeightDecay(0.1))
    opt.add_hook(WeightDecay(0.1), name="decay2")


def test_old_chainer_spelling_of_the_hooks():
    from dualgrad import optimizer

    assert optimizer.WeightDecay is WeightDecay
    assert optimizer.GradientClipping is GradientClipping


def test_global_norm_is_a_zero_dim_variable_and_clipping_needs_a_positive_threshold():
    from dualgrad.optimizer_hooks import global_norm

    norm = global_norm([dg.Variable(numpy.array([3.0], numpy.float32)),
                        dg.Variable(numpy.array([[4.0]], numpy.float32))])
    assert norm.shape == () and norm.dtype == numpy.float64 and float(norm) == 5.0
    with pytest.raises(ValueError, match="positive threshold"):
        GradientClipping(0.0)


def test_a_hook_setting_changed_between_updates_takes_effect():
    link = make_link()
    opt = SGD(lr=1.0).setup(link)
    decay = WeightDecay(0.5)
    opt.add_hook(decay)
    for rate in (0.5, 0.25):
        decay.rate = rate
        before = link.a.array.copy()
        set_grads(link, [[0.0, 0.0], [[0.0, 0.0]]])
        opt.update()
        numpy.testing.assert_allclose(link.a.array, before * (1.0 - rate))
