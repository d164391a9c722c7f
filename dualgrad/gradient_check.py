"""Checking gradients against finite differences (Chainer's ``gradient_check``).

>>> import numpy as np, dualgrad as dg
>>> from dualgrad.gradient_check import check_backward
>>> check_backward(lambda x: x * x, np.array([1.0, 2.0]), np.array([1.0, 1.0]))
"""

import numpy

from .core.backprop import grad as _grad
from .core.variable import Variable


def numerical_grad(f, inputs, grad_outputs, eps=1e-3):
    """Central differences of ``sum(f(inputs) * grad_outputs)`` w.r.t. each input array.

    ``f`` takes no arguments and returns a tuple of arrays computed from ``inputs``,
    which are perturbed in place (and restored).
    """
    grads = []
    for x in inputs:
        g = numpy.zeros(x.shape, dtype=numpy.float64)
        for i in numpy.ndindex(x.shape):
            old = x[i].copy()
            x[i] = old + eps
            plus = _weighted(f(), grad_outputs)
            x[i] = old - eps
            minus = _weighted(f(), grad_outputs)
            x[i] = old
            g[i] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def _weighted(outputs, grad_outputs):
    total = 0.0
    for y, gy in zip(outputs, grad_outputs):
        if gy is not None:
            total += float(numpy.sum(numpy.asarray(y, numpy.float64) * gy))
    return total


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _evaluate(func, arrays):
    # Inputs require gradients so that functions which differentiate inside (the
    # double-backward check) see a graph; the cost is irrelevant here.
    ys = _as_tuple(func(*[Variable(a) for a in arrays]))
    return tuple(numpy.asarray(y.array if isinstance(y, Variable) else y) for y in ys)


def check_backward(func, x_data, y_grad, params=(), eps=1e-3, atol=1e-5, rtol=1e-4,
                   no_grads=None, dtype=None, seed=0):
    """Check ``func``'s backward against central differences along a random direction.

    ``x_data`` is an array or tuple of arrays; ``y_grad`` the output gradient(s) (None for
    a scalar output).  ``params`` are Variables used inside ``func`` that are checked too.
    ``dtype`` (e.g. numpy.float64) casts the inputs first, for accurate differences.
    Raises AssertionError with both directional derivatives when they disagree.
    """
    xs = [numpy.array(x, dtype=dtype or numpy.asarray(x).dtype) for x in _as_tuple(x_data)]
    if no_grads is None:
        no_grads = [x.dtype.kind not in "fc" for x in xs]
    variables = [Variable(x, requires_grad=not ng) for x, ng in zip(xs, no_grads)]
    ys = _as_tuple(func(*variables))
    # y_grad=None: every output is weighted by ones (not only the first)
    gys = _as_tuple(y_grad) if y_grad is not None else (None,) * len(ys)
    gys = [
        numpy.ones(y.shape, y.dtype) if gy is None else numpy.asarray(gy, y.dtype)
        for y, gy in zip(ys, gys)
    ]
    targets = [v for v, ng in zip(variables, no_grads) if not ng] + list(params)
    analytic = _grad(list(ys), targets, [Variable(g, requires_grad=False) for g in gys])

    rng = numpy.random.default_rng(seed)
    directions = [rng.standard_normal(t.shape) for t in targets]
    directions = [d / max(numpy.sqrt(sum(float((e * e).sum()) for e in directions)), 1e-300)
                  for d in directions]
    lhs = sum(
        float(numpy.sum(numpy.asarray(g.array, numpy.float64) * d))
        for g, d in zip(analytic, directions) if g is not None
    )

    base = {id(t): t.array.copy() for t in targets}

    def along(t):
        for target, d in zip(targets, directions):
            target.array[...] = base[id(target)] + t * d
        return _weighted(_evaluate(func, [v.array for v in variables]), gys)

    try:
        rhs = (along(eps) - along(-eps)) / (2 * eps)
    finally:
        for target in targets:
            target.array[...] = base[id(target)]
    if not numpy.isclose(lhs, rhs, atol=atol, rtol=rtol):
        raise AssertionError(
            f"backward disagrees with finite differences: analytic {lhs!r}, numeric {rhs!r} "
            f"(atol={atol}, rtol={rtol}, eps={eps})"
        )


def check_double_backward(func, x_data, y_grad, x_grad_grad, params=(), eps=1e-3,
                          atol=1e-4, rtol=1e-3, dtype=None, seed=0):
    """Check the gradient of ``func``'s backward pass (the second derivative).

    Differentiates ``g(x, gy) = <backward of func at x applied to gy, x_grad_grad>``
    against finite differences, in both ``x`` and ``gy``.
    """
    xs = _as_tuple(x_data)
    gys = _as_tuple(y_grad)
    ggxs = _as_tuple(x_grad_grad)
    n_x, n_y = len(xs), len(gys)

    def first_order(*args):
        inputs, grads = args[:n_x], args[n_x:]
        ys = _as_tuple(func(*inputs))
        gxs = _grad(list(ys), list(inputs) + list(params), list(grads),
                    enable_double_backprop=True)
        total = None
        for gx, ggx in zip(gxs, ggxs):
            if gx is None or ggx is None:
                continue
            term = (gx * ggx.astype(gx.dtype)).sum()
            total = term if total is None else total + term
        return total

    check_backward(
        first_order, tuple(xs) + tuple(gys), None, params=params, eps=eps, atol=atol,
        rtol=rtol, dtype=dtype, seed=seed, no_grads=[False] * (n_x + n_y),
    )
