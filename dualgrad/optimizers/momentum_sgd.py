"""Stochastic gradient descent with (heavy-ball) momentum."""

from .. import optimizer
from ..ops import elementwise as ew

_default_hyperparam = optimizer.Hyperparameter()
_default_hyperparam.lr = 0.01
_default_hyperparam.momentum = 0.9


class MomentumSGDRule(optimizer.UpdateRule):
    """``v <- momentum * v - lr * grad``;  ``param <- param + v``  (state: ``v``, zeros)."""

    def __init__(self, parent_hyperparam=None, lr=None, momentum=None):
        super().__init__(parent_hyperparam or _default_hyperparam)
        if lr is not None:
            self.hyperparam.lr = lr
        if momentum is not None:
            self.hyperparam.momentum = momentum

    def init_state(self, param):
        self.state["v"] = self.zeros_like(param)

    def update_core(self, param):
        momentum = optimizer.cast_like(self.live("momentum"), param)
        lr = optimizer.cast_like(self.live("lr"), param)
        v = self.state.holder("v")
        new_v = ew.sub(ew.mul(momentum, v), ew.mul(lr, param.grad_var))
        optimizer.assign(v, new_v)
        optimizer.assign(param, ew.add(param, v))


class MomentumSGD(optimizer.GradientMethod):
    """Momentum SGD (Chainer's ``MomentumSGD``): velocity ``v`` accumulates ``-lr * grad``.

    >>> import numpy as np, dualgrad as dg
    >>> link = dg.Link()
    >>> with link.init_scope():
    ...     link.w = dg.Parameter(np.array([0.0]))
    >>> opt = MomentumSGD(lr=1.0, momentum=0.5).setup(link)
    >>> for _ in range(2):
    ...     link.w.grad = np.array([-1.0])
    ...     opt.update()
    >>> link.w.array          # v = 1, then 0.5 * 1 + 1 = 1.5
    array([2.5])
    """

    lr = optimizer.HyperparameterProxy("lr")
    momentum = optimizer.HyperparameterProxy("momentum")

    def __init__(self, lr=_default_hyperparam.lr, momentum=_default_hyperparam.momentum):
        super().__init__()
        self.hyperparam.lr = lr
        self.hyperparam.momentum = momentum

    def create_update_rule(self):
        return MomentumSGDRule(self.hyperparam)
