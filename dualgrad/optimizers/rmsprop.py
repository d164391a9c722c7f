"""RMSprop: steps scaled by a running average of squared gradients."""

import functools

from .. import optimizer
from ..ops import elementwise as ew

_default_hyperparam = optimizer.Hyperparameter()
_default_hyperparam.lr = 0.01
_default_hyperparam.alpha = 0.99
_default_hyperparam.eps = 1e-8
_default_hyperparam.eps_inside_sqrt = False


class RMSpropRule(optimizer.UpdateRule):
    """RMSprop update (state: ``ms``, zeros)::

        ms    <- alpha * ms + (1 - alpha) * grad^2
        param <- param - lr * grad / (sqrt(ms) + eps)       (sqrt(ms + eps) when
                                                             eps_inside_sqrt)
    """

    def __init__(self, parent_hyperparam=None, lr=None, alpha=None, eps=None,
                 eps_inside_sqrt=None):
        super().__init__(parent_hyperparam or _default_hyperparam)
        for name, value in (("lr", lr), ("alpha", alpha), ("eps", eps),
                            ("eps_inside_sqrt", eps_inside_sqrt)):
            if value is not None:
                setattr(self.hyperparam, name, value)

    def init_state(self, param):
        self.state["ms"] = self.zeros_like(param)

    def update_core(self, param):
        optimizer.check_eps("RMSprop", self.hyperparam.eps, param.dtype)
        like = functools.partial(optimizer.cast_like, param=param)
        alpha = self.live("alpha")
        lr, eps = like(self.live("lr")), like(self.live("eps"))
        grad = param.grad_var
        ms = self.state.holder("ms")
        optimizer.assign(ms, ew.add(ew.mul(like(alpha), ms),
                                    ew.mul(like(ew.sub(1.0, alpha)), ew.mul(grad, grad))))
        if self.flag("eps_inside_sqrt"):
            denominator = ew.sqrt(ew.add(ms, eps))
        else:
            denominator = ew.add(ew.sqrt(ms), eps)
        step = ew.div(ew.mul(lr, grad), denominator)
        optimizer.assign(param, ew.sub(param, step))


class RMSprop(optimizer.GradientMethod):
    """RMSprop (Tieleman and Hinton, 2012) with Chainer's defaults
    ``lr=0.01, alpha=0.99, eps=1e-8``.

    >>> import numpy as np, dualgrad as dg
    >>> link = dg.Link()
    >>> with link.init_scope():
    ...     link.w = dg.Parameter(np.array([1.0]))
    >>> opt = RMSprop(lr=0.1, alpha=0.75).setup(link)
    >>> link.w.grad = np.array([2.0])
    >>> opt.update()
    >>> link.w.array.round(6)     # ms = 0.25 * 4 = 1;  1 - 0.1 * 2 / 1
    array([0.8])
    """

    lr = optimizer.HyperparameterProxy("lr")
    alpha = optimizer.HyperparameterProxy("alpha")
    eps = optimizer.HyperparameterProxy("eps")
    eps_inside_sqrt = optimizer.HyperparameterProxy("eps_inside_sqrt")

    def __init__(self, lr=_default_hyperparam.lr, alpha=_default_hyperparam.alpha,
                 eps=_default_hyperparam.eps, eps_inside_sqrt=False):
        super().__init__()
        self.hyperparam.lr = lr
        self.hyperparam.alpha = alpha
        self.hyperparam.eps = eps
        self.hyperparam.eps_inside_sqrt = eps_inside_sqrt

    def create_update_rule(self):
        return RMSpropRule(self.hyperparam)
