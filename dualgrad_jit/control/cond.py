"""``dj.cond``: a data-dependent branch for traced code (``dj.jit``), with no guard.

``if pred: ... else: ...`` in traced code looks at data, so ``dj.jit`` guards it and
traces again when the predicate flips.  ``dj.cond(pred, true_fn, false_fn, *operands)``
instead traces both functions into sub-graphs and records one lazy ``IfElse`` equation:
the compiled graph takes either path at run time.

    dj.cond(pred, true_fn, false_fn, *operands) = true_fn(*operands) if pred
                                                  else false_fn(*operands)

Outside any trace it simply calls the chosen function.  Both functions must return the
same structure (one value, or a tuple/list) with the same shapes and dtypes; values they
read from outside (parameters, earlier results) become operands of the equation.
"""

from dualgrad.backend import get_array_module
from dualgrad.core import tape
from dualgrad.core.variable import Variable

from ..tensor.variable import TensorVariable
from .ifelse import apply_branches, ifelse, traced_branches


def cond(pred, true_fn, false_fn, *operands):
    """``true_fn(*operands)`` if ``pred`` else ``false_fn(*operands)``, lazily, without
    a guard when traced.

    >>> import numpy as np, dualgrad_jit as dj
    >>> f = dj.jit(lambda x: dj.cond(x.sum() > 0, lambda v: v * 2.0, lambda v: -v, x))
    >>> f(np.ones(2)).array, f(-np.ones(2)).array      # one compiled variant serves both
    (array([2., 2.]), array([1., 1.]))
    >>> len(f.variants(np.ones(2)))
    1
    """
    if isinstance(pred, TensorVariable) or any(isinstance(x, TensorVariable) for x in operands):
        return _symbolic_cond(pred, true_fn, false_fn, operands)
    if tape.TRACER is None or not isinstance(pred, Variable):
        return true_fn(*operands) if bool(pred) else false_fn(*operands)
    values = [x if isinstance(x, Variable)  # arrays stay on their device (numpy or cupy)
              else Variable(get_array_module(x).asarray(x), requires_grad=False)
              for x in operands]
    branches = traced_branches(true_fn, false_fn, values)
    result = apply_branches(pred, values, branches)
    return tuple(result) if branches.several else result


def _symbolic_cond(pred, true_fn, false_fn, operands):
    """On symbolic values: both recipes built now, chosen lazily by ``dj.ifelse``."""
    then = true_fn(*operands)
    other = false_fn(*operands)
    several = isinstance(then, (tuple, list))
    result = ifelse(pred, list(then) if several else then,
                    list(other) if isinstance(other, (tuple, list)) else other)
    return tuple(result) if several else result


__all__ = ["cond"]
