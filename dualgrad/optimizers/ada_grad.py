"""AdaGrad: per-coordinate step sizes from the sum of squared gradients."""

from .. import optimizer
from ..ops import elementwise as ew

_default_hyperparam = optimizer.Hyperparameter()
_default_hyperparam.lr = 0.001
_default_hyperparam.eps = 1e-8


class AdaGradRule(optimizer.UpdateRule):
    """``h <- h + grad^2``;  ``param <- param - lr * grad / (sqrt(h) + eps)``  (state: ``h``)."""

    def __init__(self, parent_hyperparam=None, lr=None, eps=None):
        super().__init__(parent_hyperparam or _default_hyperparam)
        if lr is not None:
            self.hyperparam.lr = lr
        if eps is not None:
            self.hyperparam.eps = eps

    def init_state(self, param):
        self.state["h"] = self.zeros_like(param)

    def update_core(self, param):
        optimizer.check_eps("AdaGrad", self.hyperparam.eps, param.dtype)
        lr = optimizer.cast_like(self.live("lr"), param)
        eps = optimizer.cast_like(self.live("eps"), param)
        grad = param.grad_var
        h = self.state.holder("h")
        optimizer.assign(h, ew.add(h, ew.mul(grad, grad)))
        step = ew.div(ew.mul(lr, grad), ew.add(ew.sqrt(h), eps))
        optimizer.assign(param, ew.sub(param, step))


class AdaGrad(optimizer.GradientMethod):
    """AdaGrad (Duchi et al., 2011) with Chainer's defaults ``lr=0.001, eps=1e-8``.

    >>> import numpy as np, dualgrad as dg
    >>> link = dg.Link()
    >>> with link.init_scope():
    ...     link.w = dg.Parameter(np.array([1.0]))
    >>> opt = AdaGrad(lr=0.1).setup(link)
    >>> link.w.grad = np.array([4.0])
    >>> opt.update()
    >>> link.w.array.round(6)     # 1 - 0.1 * 4 / (sqrt(16) + 1e-8)
    array([0.9])
    """

    lr = optimizer.HyperparameterProxy("lr")
    eps = optimizer.HyperparameterProxy("eps")

    def __init__(self, lr=_default_hyperparam.lr, eps=_default_hyperparam.eps):
        super().__init__()
        self.hyperparam.lr = lr
        self.hyperparam.eps = eps

    def create_update_rule(self):
        return AdaGradRule(self.hyperparam)
