"""Evaluate an op's lowering with numpy, to check it computes what ``forward`` computes."""


import numpy

from . import lowering as lw
from . import scalar_ir as S
from .core.aval import aval_of


def evaluate_lowering(op, arrays):
    """The output ``op.lower(*avals)`` describes, computed with numpy (None: not evaluable)."""
    avals = [aval_of(a) for a in arrays]
    low = op.lower(*avals)
    out = op.infer(*avals)
    with numpy.errstate(all="ignore"):
        if isinstance(low, lw.Elementwise):
            args = [numpy.broadcast_to(numpy.asarray(a), out.shape) for a in arrays]
            return numpy.asarray(S.evaluate(low.expr, args)).astype(out.dtype)
        if isinstance(low, lw.Reduction):
            return _reduce(low, numpy.asarray(arrays[0]), out)
        if isinstance(low, lw.IndexMap):
            return _index_map(low, [numpy.asarray(a) for a in arrays], out)
        if isinstance(low, lw.Generator):
            flat = numpy.arange(max(out.size, 0), dtype=numpy.int64)
            values = S.evaluate(low.expr, (), (flat,))
            return numpy.asarray(values).astype(out.dtype).reshape(out.shape)
        if isinstance(low, lw.Composite):
            from .core.variable import Variable

            y = low.decompose(*[Variable(numpy.asarray(a), requires_grad=False) for a in arrays])
            return y.array
        if isinstance(low, lw.LibraryCall):
            if low.name not in lw.LIBRARY_CALLS:
                raise AssertionError(f"{op.name} lowers to unknown library call {low.name!r}")
            return None
    raise AssertionError(f"{op.name}.lower() returned {low!r}, which is no lowering kind")


def _reduce(low, x, out):
    axes = tuple(range(x.ndim)) if low.axes is None else low.axes
    axes = (axes,) if isinstance(axes, int) else tuple(a % max(x.ndim, 1) for a in axes)
    moved = numpy.moveaxis(x, axes, tuple(range(len(axes))))
    lead = int(numpy.prod([x.shape[a] for a in axes]))
    rows = moved.reshape((lead,) + moved.shape[len(axes):])
    keep_shape = rows.shape[1:]
    acc = numpy.full(keep_shape, low.identity, dtype=out.dtype if not low.arg else x.dtype)
    best = numpy.zeros(keep_shape, dtype=numpy.int64)
    for i in range(lead):
        value = S.evaluate(low.pre, (rows[i],))
        if low.arg:
            combined = S.evaluate(low.combine, (acc, value))
            # NaN == NaN here: once the running best is NaN (numpy's argmax picks the
            # first NaN) a later NaN must not count as a win.
            wins = (combined != acc) & ~((combined != combined) & (acc != acc))
            best = numpy.where(wins & (i > 0) | (i == 0), i, best)
            acc = numpy.where(wins | (i == 0), value, acc)
        else:
            acc = numpy.asarray(S.evaluate(low.combine, (acc, value)))
    result = best if low.arg else S.evaluate(low.post, (acc, lead))
    return numpy.asarray(result).astype(out.dtype).reshape(out.shape)


def _index_map(low, arrays, out):
    indices = [i.astype(numpy.int64) for i in numpy.indices(out.shape)] if out.shape else []
    result = numpy.full(out.shape, low.fill, dtype=out.dtype)
    filled = numpy.zeros(out.shape, dtype=bool)
    for source in low.sources:
        valid = numpy.broadcast_to(S.evaluate(source.valid, (), indices), out.shape)
        take = valid & ~filled
        coords = [
            numpy.broadcast_to(_evaluate_index(e, arrays, indices), out.shape) for e in source.exprs
        ]
        data = arrays[source.input]
        safe = tuple(
            numpy.clip(numpy.where(take, c, 0), 0, max(n - 1, 0))
            for c, n in zip(coords, data.shape)
        )
        if data.size:
            result = numpy.where(take, data[safe] if safe else data[()], result)
        filled |= take
    return result


def _evaluate_index(expr, arrays, indices):
    """Like ``S.evaluate`` but ``load`` nodes read an input at computed coordinates."""
    if expr.op == "load":
        coords = tuple(_evaluate_index(e, arrays, indices) for e in expr.args)
        data = arrays[expr.value]
        return data[tuple(numpy.broadcast_arrays(*coords))] if coords else data[()]
    if expr.op in ("arg", "index", "const") or not expr.args:
        return S.evaluate(expr, (), indices)
    parts = [_evaluate_index(a, arrays, indices) for a in expr.args]
    rebuilt = S.Expr(expr.op, tuple(S.Expr("arg", (), i) for i in range(len(parts))), expr.value)
    return S.evaluate(rebuilt, parts, indices)


__all__ = ["evaluate_lowering"]
