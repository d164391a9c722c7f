"""Clipping the gradients by their global L2 norm."""

import functools

import numpy

from .. import optimizer
from .._config import no_backprop_mode
from ..ops import elementwise as ew
from ..ops import reduce


def global_norm(grads):
    """``sqrt(sum_i ||g_i||^2)`` over the gradient Variables ``grads``, as a 0-d float64
    Variable (``float(...)`` gives the number).  Computed with ops, so that a compiled
    training step computes it on every replay; each ``||g_i||^2`` is summed in the
    gradient's dtype, then accumulated in float64.

    >>> import numpy as np, dualgrad as dg
    >>> float(global_norm([dg.Variable(np.array([3.0])), dg.Variable(np.array([4.0]))]))
    5.0
    """
    with no_backprop_mode():
        squares = [ew.cast(reduce.sum(ew.mul(g, g)), numpy.float64) for g in grads]
        total = functools.reduce(ew.add, squares) if squares else numpy.zeros(())
        return ew.sqrt(total)


class GradientClipping:
    """Scale all gradients by ``threshold / norm`` when their global L2 norm exceeds
    ``threshold`` (their direction is kept).

    The scale is ``threshold / max(norm, threshold)``, which is exactly 1 when the norm
    is within the threshold: no Python branch on the norm, so the hook compiles into a
    training step (where the norm is only known when the step runs).

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
        if not threshold > 0:
            raise ValueError(f"GradientClipping needs a positive threshold, got {threshold}")
        self.threshold = threshold

    def __call__(self, opt):
        grads = [param._grad_var for param in opt.target.params()
                 if param._array is not None and param._grad_var is not None]
        if not grads:
            return
        with no_backprop_mode():
            norm = global_norm(grads)
            threshold = optimizer.cast_like(optimizer.live_value(self, "threshold"), norm)
            rate = ew.div(threshold, ew.maximum(norm, threshold))
            for grad in grads:
                optimizer.assign(grad, ew.mul(grad, optimizer.cast_like(rate, grad)))
