"""Memory planning: the intermediates of a program share one arena.

Liveness runs over the linear schedule of steps: a value is live from the step that
defines it to the last step that reads it.  Buffers are placed first-fit in the arena
(64-byte aligned) in the holes left by dead values, and a pointwise kernel may write
its output *in place* over an input that dies at that kernel when both are read and
written at the same flat index (so no element is read after it was overwritten).

Graph inputs are never written; graph outputs are never placed in the arena (every
call returns fresh arrays), nor are host-step results other than gemm's (numpy
allocates those itself).
"""

from dataclasses import dataclass

from ..ir.graph import Const
from . import ir as K

ALIGN = 64


@dataclass(frozen=True)
class MemoryPlan:
    offsets: dict  # Var id -> byte offset in the arena
    size: int  # arena bytes
    naive: int  # bytes without reuse (every intermediate its own buffer)
    in_place: tuple  # Var ids written over a dying input

    def describe(self):
        return (f"arena {self.size} bytes for {len(self.offsets)} intermediates "
                f"({self.naive} without reuse), {len(self.in_place)} written in place")


def plan_memory(program, arena_kinds=("kernel", "gemm")):
    """Place every intermediate the arena holds; see the module docstring."""
    graph = program.graph
    outputs = {v.id for v in graph.outputs if not isinstance(v, Const)}
    defined, last_use = {}, {}
    for index, step in enumerate(program.steps):
        for var in _defines(step, arena_kinds):
            if var.id not in outputs:
                defined[var.id] = (index, var)
        for value in _reads(step):
            last_use[value.id] = index
    free = []  # (offset, size) holes, sorted by offset
    top, offsets, naive, in_place = 0, {}, 0, []
    live = {}  # var id -> (offset, size)
    for index, step in enumerate(program.steps):
        for var_id in [v for v, (o, s) in list(live.items()) if last_use.get(v, -1) < index]:
            free = _release(free, live.pop(var_id))
        for var in _defines(step, arena_kinds):
            if var.id not in defined:
                continue
            size = _aligned(var.aval.dtype.itemsize * _size(var.shape))
            naive += size
            donor = _in_place_donor(step, var, live, last_use, index)
            if donor is not None:
                offsets[var.id] = live[donor][0]
                live[var.id] = live.pop(donor)
                in_place.append(var.id)
                continue
            offset, free, top = _take(free, size, top)
            offsets[var.id] = offset
            live[var.id] = (offset, size)
        for var_id in [v for v in list(live) if last_use.get(v, -1) <= index and
                       v not in _ids(_defines(step, arena_kinds))]:
            free = _release(free, live.pop(var_id))
    return MemoryPlan(offsets, top, naive, tuple(in_place))


def arena_views(program, plan, arena):
    """``{var id: array}``: each planned intermediate as a typed view of ``arena`` (a 1-d
    uint8 numpy or cupy array of ``plan.size`` bytes)."""
    views = {}
    for step in program.steps:
        for var in _defines(step, ("kernel", "gemm", "host")):
            if var.id in plan.offsets:
                offset = plan.offsets[var.id]
                nbytes = var.aval.dtype.itemsize * _size(var.shape)
                views[var.id] = arena[offset:offset + nbytes].view(var.aval.dtype).reshape(
                    var.shape)
    return views


def fresh_outputs(program):
    """``(var id, shape, dtype)`` of the graph outputs kernels write: allocated anew for
    every call, since returned arrays are always fresh (each listed once)."""
    graph = program.graph
    inputs = {v.id for v in graph.inputs}
    written = {v.id for step in program.steps if hasattr(step, "kernel") for v in step.outputs}
    seen, fresh = set(), []
    for v in graph.outputs:
        if isinstance(v, Const) or v.id in seen or v.id in inputs or v.id not in written:
            continue
        seen.add(v.id)
        fresh.append((v.id, v.shape, v.aval.dtype))
    return fresh


def donations(program, pairs):
    """``[(output var id, input var id)]``: the pairs of ``pairs`` (``{output position:
    input position}``, an updated value and the input holding the value it replaces)
    whose output a kernel can write straight into the input's array.

    That holds when the output is written by a pointwise kernel that is the last step
    reading the input and reads it only at the store's own flat index (as in-place
    arena writes), when they are typed alike, and when the input is not itself a
    result (its old value would be overwritten before the caller sees it)."""
    graph = program.graph
    results = [v.id for v in graph.outputs if not isinstance(v, Const)]
    last_read = {}
    for index, step in enumerate(program.steps):
        for value in _reads(step):
            last_read[value.id] = index
    found, taken = [], set()
    for out_position, in_position in sorted(pairs.items()):
        out, source = graph.outputs[out_position], graph.inputs[in_position]
        if isinstance(out, Const) or out.aval != source.aval or source.id in results or \
                results.count(out.id) != 1 or source.id in taken:
            continue
        writer = _kernel_writing(program, out)
        if writer is None or last_read.get(source.id, -1) > writer:
            continue
        step = program.steps[writer]
        (store,) = [s for s in step.kernel.stores if _is(step.buffers[s.buffer], out)]
        if all(_reads_only_at(step.kernel, position, store.offset)
               for position, value in enumerate(step.buffers) if _is(value, source)):
            found.append((out.id, source.id))
            taken.add(source.id)
    return found


def _kernel_writing(program, var):
    """The index of the pointwise kernel step storing ``var``, or None."""
    for index, step in enumerate(program.steps):
        if hasattr(step, "kernel") and any(_is(v, var) for v in step.outputs):
            return index if step.kernel.reduce is None else None
    return None


def _is(value, var):
    return not isinstance(value, Const) and value.id == var.id


def _ids(vars_):
    return {v.id for v in vars_}


def _defines(step, arena_kinds):
    if hasattr(step, "kernel"):
        return step.outputs if "kernel" in arena_kinds else ()
    eq = step.equation
    if "host" in arena_kinds or (
            "gemm" in arena_kinds and step.library == "gemm"):
        return (eq.out,)
    return ()


def _reads(step):
    if hasattr(step, "kernel"):
        values = [v for v in step.buffers if v not in step.outputs]
    else:
        values = list(step.equation.inputs)
    return [v for v in values if not isinstance(v, Const)]


def _in_place_donor(step, var, live, last_use, index):
    """An input dying here whose every read is at the store's own flat index."""
    if not hasattr(step, "kernel") or step.kernel.reduce is not None:
        return None
    kernel = step.kernel
    (store,) = [s for s in kernel.stores if step.buffers[s.buffer] is var] or [None]
    if store is None:
        return None
    for position, value in enumerate(step.buffers):
        if isinstance(value, Const) or value.id not in live or value is var:
            continue
        if last_use.get(value.id) != index or value.aval.dtype != var.aval.dtype or \
                _size(value.shape) != _size(var.shape):
            continue
        if _reads_only_at(kernel, position, store.offset):
            return value.id
    return None


def _reads_only_at(kernel, position, offset):
    exprs = [s.value for s in kernel.stores] + [s.offset for s in kernel.stores]
    for expr in exprs:
        for node in K.walk(expr):
            if node.op == "read" and node.value == position and \
                    K.render_text(node.args[0]) != K.render_text(offset):
                return False
    return True


def _take(free, size, top):
    for i, (offset, hole) in enumerate(free):
        if hole >= size:
            rest = [(offset + size, hole - size)] if hole > size else []
            return offset, free[:i] + rest + free[i + 1:], top
    return top, free, top + size


def _release(free, region):
    merged = sorted(free + [region])
    out = []
    for offset, size in merged:
        if out and out[-1][0] + out[-1][1] == offset:
            out[-1] = (out[-1][0], out[-1][1] + size)
        else:
            out.append((offset, size))
    return out


def _aligned(n):
    return max(ALIGN, (n + ALIGN - 1) // ALIGN * ALIGN)


def _size(shape):
    n = 1
    for d in shape:
        n *= d
    return n
