"""Rules 3 and 3b of ``scan_pushout``: per-step results that no step reads are computed
after the loop, from stacks of what they are made of.

- ``push_out_accumulators``: ``a' = a + f_t`` (``a`` read by that sum alone, only its
  final value used) becomes ``a_0 + sum_t f_t`` after the loop:
  ``sum_t x_t^T g_t = X^T G`` with ``X``, ``G`` the stacks as ``(n m, .)`` matrices (one
  product; a stack concatenated along the steps contracts piece by piece),
  ``sum_t sum_axes(g_t) = sum_{(step,) + axes}(G)``,
  ``sum_t reshape(u_t) = reshape(sum_t u_t)``, else the stack of ``f_t`` summed over the
  step axis.  Equal up to the order of the floating-point additions.
- ``push_out_products``: a per-step output ``y_t = a_t @ c`` that no step reads is
  ``Y = A @ c`` over the stacked ``a_t`` (``scan_batch``): the same products.

The loop stacks what the sums and products read (``LoopEdit.source``: a sequence is
read as it is, a value the loop computes becomes a stacked output).  A loop walking
backwards stacks its steps in reverse row order, so a product pairing a sequence with a
stacked output reverses the latter.

Neither rule fires on a loop with ``truncate_gradient``: its backward ignores the
per-step results of the early steps, which a sum or product after the loop would not.
"""

import numpy

from dualgrad.ops.elementwise import Add
from dualgrad.ops.linalg import MatMul
from dualgrad.ops.reduce import Sum
from dualgrad.ops.view import Concat, GetItem, Reshape

from ..ir.graph import Const, Var
from .scan_batch import BATCH_LIMIT, batched


def truncated(loop):
    """Whether the loop's backward runs over only some of its steps."""
    return 0 < loop.scan.truncate_gradient < loop.n


def push_out_accumulators(builder, loop):
    """Rule 3: ``a' = a + f_t -> a_0 + sum_t f_t`` after the loop, the sum taken over
    the stacked ``f_t`` (or what it is made of; see ``_step_sum``): equal up to the order
    of the floating-point additions."""
    if truncated(loop):
        return False
    fired = False
    for state in list(loop.states):
        f = _accumulated(loop, state)
        if f is None:
            continue
        total = _step_sum(builder, loop, f)
        loop.states.remove(state)
        loop.after[state.old] = _plus_initial(builder, state, total)
        fired = True
    return fired


def push_out_products(builder, loop):
    """Rule 3b: a per-step output ``y_t = a_t @ c`` (a product of per-step and invariant
    matrices) that no step reads is ``Y[t] = A[t] @ c``, computed after the loop for all
    steps at once (``scan_batch``) from the stacks of its operands."""
    if not loop.states or truncated(loop):
        return False  # a map stays a loop (as in rule 2)
    fired = False
    uses = _uses(loop)
    for extra in list(loop.extras):
        eq = _producer(loop, extra.out) if isinstance(extra.out, Var) else None
        if eq is None or extra.old is None or not isinstance(eq.op, MatMul) or \
                uses.get(extra.out.id) != 1 or loop.n * eq.out.aval.size > BATCH_LIMIT:
            continue
        per_step = [_per_step(loop, x) for x in eq.inputs]
        if not any(per_step):
            continue
        invariant = {v.id: x for x, v in loop.consts}
        operands = [loop.source(x) if step else invariant.get(x.id, x) if isinstance(x, Var)
                    else x for x, step in zip(eq.inputs, per_step)]
        loop.extras.remove(extra)
        loop.after[extra.old] = _batched_after(builder, loop, eq, operands, per_step,
                                               extra.keep)
        fired = True
    return fired


def _batched_after(builder, loop, eq, operands, per_step, keep):
    """A function of the new loop's outputs giving the stack of ``eq`` over the steps
    (its per-step operands stacked in step order), then what ``keep`` keeps of it."""
    n = loop.n

    def finish(handle):
        values = [_step_ordered(builder, loop, x, handle) if step else x
                  for x, step in zip(operands, per_step)]
        stacked = batched(builder, eq, values, per_step, n)
        if keep == 1:
            return stacked
        key = (n - 1,) if keep == 0 else (slice(keep - 1, (n // keep) * keep, keep),)
        return builder.apply(GetItem(key), (stacked,))

    return finish


def _step_ordered(builder, loop, source, handle):
    """The stack of a source's per-step values in step order."""
    kind, value = source
    if kind == "out":
        return handle(value)
    return reversed_steps(builder, value) if loop.scan.go_backwards else value


def _accumulated(loop, state):
    """``f`` when ``state`` is updated as ``a + f`` with ``a`` read by that sum alone, only
    its final value kept, and ``f`` a per-step value of the same dtype; else None."""
    if state.keep != 0 or not isinstance(state.out, Var):
        return None
    eq = next((e for e in loop.equations if e.out.id == state.out.id), None)
    if eq is None or type(eq.op) is not Add or eq.out.aval != state.var.aval:
        return None
    uses = _uses(loop)
    if uses.get(state.var.id, 0) != 1 or uses.get(state.out.id, 0) != 1:
        return None
    a, b = eq.inputs
    f = b if a == state.var else a if b == state.var else None
    if not isinstance(f, Var) or f.aval.dtype != state.var.aval.dtype \
            or not _per_step(loop, f):
        return None
    return f


def _uses(loop):
    """How many times each body value is read (by equations and as an output)."""
    counts = {}
    reads = [x for eq in loop.equations for x in eq.inputs] + \
        [p.out for p in loop.states + loop.extras]
    for x in reads:
        if isinstance(x, Var):
            counts[x.id] = counts.get(x.id, 0) + 1
    return counts


def _per_step(loop, value):
    """Whether body ``value`` may change from step to step (not an invariant input)."""
    return isinstance(value, Var) and all(v.id != value.id for _, v in loop.consts)


def _producer(loop, value):
    return next((eq for eq in loop.equations if eq.out.id == value.id), None)


def _step_sum(builder, loop, f):
    """A function of the new loop's outputs giving ``sum_t f_t`` (see rule 3)."""
    eq = _producer(loop, f)
    if eq is not None and _is_contraction(loop, eq):
        a, b = (loop.source(x) for x in eq.inputs)
        return lambda handle: _contract(builder, loop, a, b, handle)
    if eq is not None and type(eq.op) is Sum and _per_step(loop, eq.inputs[0]) \
            and eq.inputs[0].aval.ndim > 0:
        source, op = loop.source(eq.inputs[0]), eq.op
        axes = (0,) + tuple(a + 1 for a in op.axes_for(eq.inputs[0].aval.ndim))
        return lambda handle: _reshaped(builder, builder.apply(
            Sum(axes, op.keepdims), (_stack(builder, loop, source, handle, False),)), f)
    if eq is not None and isinstance(eq.op, Reshape) and _per_step(loop, eq.inputs[0]):
        inner = _step_sum(builder, loop, eq.inputs[0])
        return lambda handle: _reshaped(builder, inner(handle), f)
    source = loop.source(f)
    return lambda handle: builder.apply(
        Sum((0,)), (_stack(builder, loop, source, handle, False),))


def _is_contraction(loop, eq):
    """``x_t^T g_t`` of two per-step matrices: its sum over steps is one product."""
    return isinstance(eq.op, MatMul) and eq.op.transa and not eq.op.transb and all(
        _per_step(loop, x) and x.aval.ndim == 2 for x in eq.inputs)


def _contract(builder, loop, a, b, handle):
    """``sum_t a_t^T b_t = A^T B`` with ``A``, ``B`` the stacks as ``(n m, .)`` matrices,
    their rows paired step by step.  A stack made by concatenating pieces along the
    steps contracts piece by piece with the matching rows of the other,
    ``[A1; A2]^T B = A1^T B[:r] + A2^T B[r:]``, so the concatenation is never copied."""
    mixed = a[0] != b[0]
    left, right = (_stack(builder, loop, s, handle, mixed) for s in (a, b))
    pieces = _step_pieces(builder, left)
    if pieces is None:
        return builder.apply(MatMul(True, False), (_rows_as_matrix(builder, left),
                                                   _rows_as_matrix(builder, right)))
    m = left.aval.shape[1]
    other = _rows_as_matrix(builder, right)
    total = None
    for start, stop, piece in pieces:
        rows = builder.apply(GetItem((slice(start * m, stop * m),)), (other,))
        part = builder.apply(MatMul(True, False), (_rows_as_matrix(builder, piece), rows))
        total = part if total is None else builder.apply(Add(), (total, part))
    return total


def _step_pieces(builder, stacked):
    """``[(start, stop, piece)]`` when ``stacked`` is a concatenation along the steps
    (axis 0) of several pieces; else None."""
    eq = builder.producer(stacked)
    if eq is None or not isinstance(eq.op, Concat) or eq.op.axis != 0 or len(eq.inputs) < 2:
        return None
    pieces, start = [], 0
    for piece in eq.inputs:
        stop = start + piece.aval.shape[0]
        pieces.append((start, stop, piece))
        start = stop
    return pieces


def _rows_as_matrix(builder, stacked):
    """A ``(n, m, k)`` stack as the ``(n m, k)`` matrix of all its rows; a range of steps
    of a stack is taken after flattening it (a plain range of rows)."""
    n, m, k = stacked.aval.shape
    eq = builder.producer(stacked)
    if eq is not None and isinstance(eq.op, GetItem) and len(eq.op.key) == 1 and \
            isinstance(eq.op.key[0], slice):
        whole = eq.inputs[0]
        start, stop, step = eq.op.key[0].indices(whole.aval.shape[0])
        if step == 1 and stop - start == n:
            flat = _rows_as_matrix(builder, whole)
            return builder.apply(GetItem((slice(start * m, stop * m),)), (flat,))
    if eq is not None and isinstance(eq.op, Reshape):  # reshape what it reshapes
        stacked = eq.inputs[0]
    return builder.apply(Reshape((n * m, k)), (stacked,))


def _stack(builder, loop, source, handle, by_row):
    """The stack of a source's per-step values: a sequence (row order) or a loop output
    (step order; reversed into row order when ``by_row`` and the loop walks backwards)."""
    kind, value = source
    if kind == "seq":
        return value
    stacked = handle(value)
    if by_row and loop.scan.go_backwards:
        stacked = reversed_steps(builder, stacked)
    return stacked


def reversed_steps(builder, stacked):
    """``stacked[::-1]``: the steps of a loop walking backwards, in row order."""
    return builder.apply(GetItem((slice(None, None, -1),)), (stacked,))


def _reshaped(builder, value, like):
    if value.aval.shape == like.aval.shape:
        return value
    return builder.apply(Reshape(like.aval.shape), (value,))


def _plus_initial(builder, state, total):
    """A function of the new loop's outputs giving ``a_0 + total``."""

    def finish(handle):
        value = total(handle)
        if _is_zero(state.init) and value.aval == state.var.aval:
            return value
        return builder.apply(Add(), (state.init, value))

    return finish


def _is_zero(value):
    return isinstance(value, Const) and not numpy.any(numpy.asarray(value.value))


__all__ = ["push_out_accumulators", "push_out_products", "reversed_steps", "truncated"]
