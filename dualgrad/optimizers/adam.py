"""Adam, with Chainer's decoupled weight decay (AdamW) and the AMSGrad variant."""

import functools
import math

from .. import optimizer
from ..ops import elementwise as ew

_default_hyperparam = optimizer.Hyperparameter()
_default_hyperparam.alpha = 0.001
_default_hyperparam.beta1 = 0.9
_default_hyperparam.beta2 = 0.999
_default_hyperparam.eps = 1e-8
_default_hyperparam.eta = 1.0
_default_hyperparam.weight_decay_rate = 0.0
_default_hyperparam.amsgrad = False


def _learning_rate(hp, t):
    """``alpha_t = alpha * sqrt(1 - beta2^t) / (1 - beta1^t)``: Adam's bias correction
    folded into the step size (as a Python float, for reading ``opt.lr``)."""
    if t == 0:
        raise RuntimeError(
            "Adam's learning rate alpha_t is defined from the first update on (t >= 1); "
            "read it after optimizer.update()"
        )
    fix1 = 1.0 - math.pow(hp.beta1, t)
    fix2 = 1.0 - math.pow(hp.beta2, t)
    return hp.alpha * math.sqrt(fix2) / fix1


def _traced_learning_rate(alpha, beta1, beta2, t):
    """``alpha_t`` as ``_learning_rate``, computed with ops (float64 0-d Variables) from
    the step counter ``t``: a compiled step recomputes it on every replay."""
    fix1 = ew.sub(1.0, ew.power(beta1, t))
    fix2 = ew.sub(1.0, ew.power(beta2, t))
    return ew.div(ew.mul(alpha, ew.sqrt(fix2)), fix1)


class AdamRule(optimizer.UpdateRule):
    """Adam's update of one parameter (state: ``m``, ``v``, and ``vhat`` with amsgrad)::

        m     <- m + (1 - beta1) * (grad - m)
        v     <- v + (1 - beta2) * (grad^2 - v)
        vhat  <- max(vhat, v)                       (amsgrad; otherwise vhat = v)
        param <- (1 - eta * weight_decay_rate) * param
                 - eta * alpha_t * m / (sqrt(vhat) + eps)

    with ``alpha_t`` the bias-corrected step size at this parameter's step ``t``,
    computed with ops from the counter and the hyperparameters (a compiled step
    recomputes it on every replay).
    """

    def __init__(self, parent_hyperparam=None, alpha=None, beta1=None, beta2=None, eps=None,
                 eta=None, weight_decay_rate=None, amsgrad=None):
        super().__init__(parent_hyperparam or _default_hyperparam)
        for name, value in (("alpha", alpha), ("beta1", beta1), ("beta2", beta2),
                            ("eps", eps), ("eta", eta),
                            ("weight_decay_rate", weight_decay_rate), ("amsgrad", amsgrad)):
            if value is not None:
                setattr(self.hyperparam, name, value)

    def init_state(self, param):
        self.state["m"] = self.zeros_like(param)
        self.state["v"] = self.zeros_like(param)
        if self.hyperparam.amsgrad:
            self.state["vhat"] = self.zeros_like(param)

    @property
    def alpha_t(self):
        return _learning_rate(self.hyperparam, self.t)

    lr = alpha_t

    def update_core(self, param):
        optimizer.check_eps("Adam", self.hyperparam.eps, param.dtype)
        live, like = self.live, functools.partial(optimizer.cast_like, param=param)
        grad = param.grad_var
        m, v = self.state.holder("m"), self.state.holder("v")
        keep1, keep2 = ew.sub(1.0, live("beta1")), ew.sub(1.0, live("beta2"))
        optimizer.assign(m, ew.add(m, ew.mul(like(keep1), ew.sub(grad, m))))
        optimizer.assign(v, ew.add(v, ew.mul(like(keep2), ew.sub(ew.mul(grad, grad), v))))
        vhat = v
        if self.flag("amsgrad"):
            vhat = self._amsgrad_state(param)
            optimizer.assign(vhat, ew.maximum(vhat, v))
        alpha_t = _traced_learning_rate(live("alpha"), live("beta1"), live("beta2"), self._t)
        step = ew.div(like(alpha_t), ew.add(ew.sqrt(vhat), like(live("eps"))))
        eta = live("eta")
        decayed = ew.mul(like(ew.sub(1.0, ew.mul(eta, live("weight_decay_rate")))), param)
        optimizer.assign(param, ew.sub(decayed, ew.mul(like(eta), ew.mul(step, m))))

    def _amsgrad_state(self, param):
        if "vhat" not in self.state:  # amsgrad switched on after the first update
            self.state["vhat"] = self.zeros_like(param)
        return self.state.holder("vhat")


class Adam(optimizer.GradientMethod):
    """Adam (Kingma and Ba, 2015) with Chainer's hyperparameters.

    ``eta`` scales the whole step (a schedule multiplier); ``weight_decay_rate`` decays
    the weights directly, decoupled from the gradient (Loshchilov and Hutter's fix);
    ``amsgrad=True`` divides by the running maximum of ``v``.  ``alpha_t`` (also
    ``lr``) is the bias-corrected step size at the current ``t``.

    >>> import numpy as np, dualgrad as dg
    >>> link = dg.Link()
    >>> with link.init_scope():
    ...     link.w = dg.Parameter(np.array([1.0]))
    >>> opt = Adam(alpha=0.1).setup(link)
    >>> link.w.grad = np.array([3.0])
    >>> opt.update()
    >>> link.w.array.round(6)     # the first Adam step moves by alpha against the sign
    array([0.9])
    >>> round(opt.lr, 6)          # 0.1 * sqrt(1 - 0.999) / (1 - 0.9)
    0.031623
    """

    alpha = optimizer.HyperparameterProxy("alpha")
    beta1 = optimizer.HyperparameterProxy("beta1")
    beta2 = optimizer.HyperparameterProxy("beta2")
    eps = optimizer.HyperparameterProxy("eps")
    eta = optimizer.HyperparameterProxy("eta")
    weight_decay_rate = optimizer.HyperparameterProxy("weight_decay_rate")
    amsgrad = optimizer.HyperparameterProxy("amsgrad")

    def __init__(self, alpha=_default_hyperparam.alpha, beta1=_default_hyperparam.beta1,
                 beta2=_default_hyperparam.beta2, eps=_default_hyperparam.eps,
                 eta=_default_hyperparam.eta,
                 weight_decay_rate=_default_hyperparam.weight_decay_rate,
                 amsgrad=_default_hyperparam.amsgrad, adabound=False):
        if adabound:
            raise NotImplementedError(
                "Adam(adabound=True) is not available; use amsgrad=True, or clip the "
                "gradients with dualgrad.optimizer_hooks.GradientClipping"
            )
        super().__init__()
        self.hyperparam.alpha = alpha
        self.hyperparam.beta1 = beta1
        self.hyperparam.beta2 = beta2
        self.hyperparam.eps = eps
        self.hyperparam.eta = eta
        self.hyperparam.weight_decay_rate = weight_decay_rate
        self.hyperparam.amsgrad = amsgrad

    def create_update_rule(self):
        return AdamRule(self.hyperparam)

    @property
    def alpha_t(self):
        return _learning_rate(self.hyperparam, self.t)

    lr = alpha_t


class AdamW(Adam):
    """Adam with decoupled weight decay: ``Adam`` where ``weight_decay_rate`` is the
    point (Chainer's ``AdamW``; the weights shrink by ``eta * weight_decay_rate`` per
    step, independently of the gradient's scale).

    >>> AdamW(weight_decay_rate=0.01).weight_decay_rate
    0.01
    """

    def __init__(self, alpha=_default_hyperparam.alpha, beta1=_default_hyperparam.beta1,
                 beta2=_default_hyperparam.beta2, eps=_default_hyperparam.eps,
                 eta=_default_hyperparam.eta,
                 weight_decay_rate=_default_hyperparam.weight_decay_rate):
        super().__init__(alpha=alpha, beta1=beta1, beta2=beta2, eps=eps, eta=eta,
                         weight_decay_rate=weight_decay_rate)
