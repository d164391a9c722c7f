"""Stochastic gradient descent."""

from .. import optimizer
from ..ops import elementwise as ew

_default_hyperparam = optimizer.Hyperparameter()
_default_hyperparam.lr = 0.01


class SGDRule(optimizer.UpdateRule):
    """``param <- param - lr * grad``."""

    def __init__(self, parent_hyperparam=None, lr=None):
        super().__init__(parent_hyperparam or _default_hyperparam)
        if lr is not None:
            self.hyperparam.lr = lr

    def update_core(self, param):
        lr = optimizer.cast_like(self.live("lr"), param)
        optimizer.assign(param, ew.sub(param, ew.mul(lr, param.grad_var)))


class SGD(optimizer.GradientMethod):
    """Vanilla stochastic gradient descent, ``param <- param - lr * grad``.

    >>> import numpy as np, dualgrad as dg
    >>> link = dg.Link()
    >>> with link.init_scope():
    ...     link.w = dg.Parameter(np.array([1.0]))
    >>> opt = SGD(lr=0.5).setup(link)
    >>> link.w.grad = np.array([1.0])
    >>> opt.update()
    >>> link.w.array
    array([0.5])
    """

    lr = optimizer.HyperparameterProxy("lr")

    def __init__(self, lr=_default_hyperparam.lr):
        super().__init__()
        self.hyperparam.lr = lr

    def create_update_rule(self):
        return SGDRule(self.hyperparam)
