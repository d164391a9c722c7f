"""L2 regularisation as an optimizer hook."""

from .. import optimizer
from .._config import no_backprop_mode
from ..ops import elementwise as ew


class WeightDecay:
    """Add ``rate * param`` to every gradient before the update (L2 regularisation:
    the gradient of ``rate / 2 * ||param||^2``).  ``rate`` is read on every update
    (a compiled step too), so it may change during training.

    >>> import numpy as np, dualgrad as dg
    >>> from dualgrad.optimizers import SGD
    >>> link = dg.Link()
    >>> with link.init_scope():
    ...     link.w = dg.Parameter(np.array([2.0]))
    >>> opt = SGD(lr=0.1).setup(link)
    >>> opt.add_hook(WeightDecay(0.5))
    >>> link.w.grad = np.array([0.0])
    >>> opt.update()
    >>> link.w.array          # 2 - 0.1 * (0 + 0.5 * 2)
    array([1.9])
    """

    name = "WeightDecay"
    call_for_each_param = True
    timing = "pre"

    def __init__(self, rate):
        self.rate = rate

    def __call__(self, rule, param):
        if param._array is None or param._grad_var is None:
            return
        with no_backprop_mode():
            grad = param.grad_var
            rate = optimizer.cast_like(optimizer.live_value(self, "rate"), param)
            optimizer.assign(grad, ew.add(grad, ew.mul(rate, param)))
