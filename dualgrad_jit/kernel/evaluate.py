"""Run a ``Kernel`` with numpy: the reference every renderer is checked against.

It evaluates the whole domain at once (coordinates as int64 arrays), so it is slow for
big reductions but exact about the contract in ``ir``: dtypes, NaN-propagating
``max``/``min``, Python-style ``floordiv``/``mod``, C-style casts.
"""

import numpy

from dualgrad.scalar_ir import _numpy_table

_TABLE = _numpy_table(numpy)


def evaluate(kernel, buffers):
    """Execute ``kernel`` over its whole domain, writing into ``buffers`` (1-d arrays)."""
    with numpy.errstate(all="ignore"):
        coords = _coordinates(kernel.shape)
        acc = None
        if kernel.reduce is not None:
            acc = _reduce(kernel, coords, buffers)
        for store in kernel.stores:
            values = _eval(store.value, coords, buffers, acc)
            offsets = _eval(store.offset, coords, buffers, acc)
            target = buffers[store.buffer]
            size = max(kernel.size, 0)
            target[numpy.broadcast_to(offsets, (size,))] = numpy.broadcast_to(
                numpy.asarray(values).astype(target.dtype), (size,))


def _coordinates(shape):
    """Flattened C-order coordinates of ``shape``, one int64 array per dimension."""
    if not shape:
        return []
    grids = numpy.indices(shape, dtype=numpy.int64)
    return [g.reshape(-1) for g in grids]


def _reduce(kernel, coords, buffers):
    r = kernel.reduce
    outer = kernel.size
    inner_coords = _coordinates(r.shape)
    n_inner = 1
    for extent in r.shape:
        n_inner *= extent
    acc = numpy.full(outer, r.identity, dtype=r.dtype)
    if n_inner == 0 or outer == 0:
        return acc
    # every (outer point, inner point) pair, outer-major
    full = [numpy.repeat(c, n_inner) for c in coords] + [
        numpy.tile(c, outer) for c in inner_coords]
    values = numpy.asarray(_eval(r.value, full, buffers, None)).astype(r.dtype)
    values = numpy.broadcast_to(values, (outer * n_inner,)).reshape(outer, n_inner)
    reducer = {"add": numpy.sum, "mul": numpy.prod, "max": numpy.max, "min": numpy.min}
    folded = reducer[r.combine](values, axis=1).astype(r.dtype)
    return _TABLE[r.combine](acc, folded).astype(r.dtype)


def _eval(expr, coords, buffers, acc):
    memo = {}

    def visit(e):
        key = id(e)
        if key in memo:
            return memo[key]
        if e.op == "const":
            result = numpy.asarray(e.value, dtype=e.dtype)
        elif e.op == "index":
            result = coords[e.value]
        elif e.op == "acc":
            result = acc
        elif e.op == "read":
            data = buffers[e.value]
            offset = numpy.asarray(visit(e.args[0]))
            result = data[numpy.clip(offset, 0, max(data.size - 1, 0))] if data.size else \
                numpy.zeros(offset.shape, data.dtype)
        elif e.op == "cast":
            result = numpy.asarray(visit(e.args[0])).astype(e.dtype)
        elif e.op == "bitcast":
            source = numpy.asarray(visit(e.args[0]))
            result = source.view(e.dtype)
        elif e.op == "div" and numpy.dtype(e.dtype).kind in "iub":
            raise AssertionError("integer div in a kernel (the builder casts to float)")
        else:
            operands = [visit(a) for a in e.args]
            result = numpy.asarray(_TABLE[e.op](*operands))
            result = result.astype(e.dtype, copy=False)
        memo[key] = result
        return result

    return visit(expr)


def run_program(program, inputs):
    """Run a fused ``Program`` with numpy: host steps by ``op.forward``, kernels by
    ``evaluate``.  The reference for the compiled executors (same steps, same buffers)."""
    from ..ir.graph import Const

    graph = program.graph
    env = {v.id: numpy.asarray(a) for v, a in zip(graph.inputs, inputs)}

    def operand(value):
        return value.value if isinstance(value, Const) else env[value.id]

    for step in program.steps:
        if not hasattr(step, "kernel"):
            eq = step.equation
            env[eq.out.id] = numpy.asarray(eq.op.forward(numpy, *map(operand, eq.inputs)))
            continue
        buffers = []
        for value in step.buffers:
            if not isinstance(value, Const) and value.id not in env:
                env[value.id] = numpy.zeros(value.shape, value.dtype)
            buffers.append(numpy.ascontiguousarray(operand(value)).reshape(-1))
        evaluate(step.kernel, buffers)
    return [operand(v) for v in graph.outputs]
