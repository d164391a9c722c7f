"""Clipping the gradients by their global L2 norm."""

import math

from .. import optimizer
from .._config import no_backprop_mode
from ..ops import elementwise as ew
from ..ops import reduce


def global_norm(grads):
    """``sqrt(sum_i ||g_i||^2)`` over the gradient Variables ``grads``, as a float."""
    with no_backprop_mode():
        return math.sqrt(sum(float(reduce.sum(ew.mul(g, g)).array) for g in grads))


class GradientClipping:
    """Scale all gradients by ``threshold / norm`` when their global L2 norm exceeds
    ``threshold`` (their direction is kept).

    >>> import numpy as np, dualgrad as dg
    >>> from dualgrad.optimizers import SGD
    >>> link = dg.Link()
    >>> with link.init_scope():
    ...     link.w = dg.Parameter(np.array([0.0, 0.0]))
    >>> opt = SGD(lr=1.0).setup(link)
    >>> opt.add_hook(GradientClipping(1.0))
    >>> link.w.grad = np.array([3.0, 4.0])    # norm 5 -> scaled to norm 1
    >>> opt.update()
    >>> link.w.array
    array([-0.6, -0.8])
    """

    name = "GradientClipping"
    timing = "pre"

    def __init__(self, threshold):
        self.threshold = threshold

    def __call__(self, opt):
        grads = [param.grad_var for param in opt.target.params(include_uninit=False)
                 if param.grad_var is not None]
        norm = global_norm(grads)
        if norm == 0 or norm <= self.threshold:
            return
        rate = self.threshold / norm
        with no_backprop_mode():
            for grad in grads:
                optimizer.assign(grad, ew.mul(grad, rate))
