"""One loop-body equation computed for every step at once (what ``scan_pushout`` moves out).

A body value ``v_t`` that depends only on sequence rows and loop-invariant values is
computed, outside the loop, as the stack ``V`` with ``V[r] = v`` at row ``r`` (shape
``(n,) + shape``).  ``batched`` emits ``V`` for one equation, given its operands: a
stacked operand (``(n,) + shape``, row ``r`` = the body operand at row ``r``) or an
invariant one (the body operand itself).  The rules, one per op family, each an identity
over the leading axis ``r``:

- elementwise ``f``: ``f(A, c)[r] = f(A[r], c)``; a stacked operand of lower rank than the
  result gets size-1 axes after the step axis, so broadcasting pairs the same axes as in
  the body;
- ``MatMul``: the step axis is one more batch axis (stacked operands padded as above);
  ``A[r] @ W`` with ``A[r]`` a matrix and ``W`` invariant is one product
  ``reshape(A, (n m, k)) @ W`` reshaped back (one big gemm instead of n small ones);
- ``Reshape{s}`` -> ``Reshape{(n,) + s}``; ``Transpose{p}`` -> ``Transpose{(0,) + (p + 1)}``;
  ``BroadcastTo{s}`` -> ``BroadcastTo{(n,) + s}``;
- ``Sum``/``Max``/``Min``/``Prod`` over axes ``a`` -> over ``a + 1``.

Any other op is not batched (None): the equation stays in the loop.  Every result is
checked to be typed ``(n,) + out.shape`` with the body's dtype.
"""

from dualgrad.core.aval import ShapedArray
from dualgrad.core.op import ElementwiseOp
from dualgrad.errors import OpError
from dualgrad.ops.linalg import MatMul
from dualgrad.ops.reduce import Max, Min, Prod, Sum
from dualgrad.ops.view import BroadcastTo, Reshape, Transpose

#: stacked values above this many elements are not made: the equation stays in the loop
BATCH_LIMIT = 1 << 26


def batched(builder, eq, operands, stacked, n):
    """The stack over ``n`` rows of ``eq.out`` (a body equation), emitted in ``builder``;
    ``operands[i]`` is the outer value of input ``i``, stacked where ``stacked[i]``.
    None when the op has no batching rule or the result would be too big."""
    out = eq.out.aval
    if n * out.size > BATCH_LIMIT:
        return None
    want = ShapedArray((n,) + tuple(out.shape), out.dtype)
    try:
        value = _batch(builder, eq, list(operands), list(stacked), n)
    except OpError:
        return None
    if value is None or value.aval != want:
        return None
    return value


def _batch(builder, eq, operands, stacked, n):
    op = eq.op
    if isinstance(op, ElementwiseOp):
        return _apply(builder, op, _aligned(builder, eq, operands, stacked, eq.out.aval.ndim))
    if isinstance(op, MatMul):
        return _batched_matmul(builder, eq, operands, stacked, n)
    if len(operands) != 1:
        return None
    (x,) = operands
    rank = eq.inputs[0].aval.ndim
    if isinstance(op, Reshape):
        return builder.apply(Reshape((n,) + op.shape), (x,))
    if isinstance(op, Transpose):
        return builder.apply(Transpose((0,) + tuple(a % rank + 1 for a in op.axes)), (x,))
    if isinstance(op, BroadcastTo):
        return _apply(builder, BroadcastTo((n,) + op.shape),
                      _aligned(builder, eq, operands, stacked, len(op.shape)))
    if type(op) in (Sum, Max, Min, Prod) and rank > 0:
        axes = tuple(a + 1 for a in op.axes_for(rank))
        return builder.apply(type(op)(axes, op.keepdims), (x,))
    return None


def _apply(builder, op, operands):
    return None if operands is None else builder.apply(op, operands)


def _aligned(builder, eq, operands, stacked, rank):
    """The operands with each stacked one reshaped to ``(n,) + (1,) * k + shape`` of rank
    ``rank + 1``, so that its body axes line up with the invariant operands'; None when
    an invariant operand has rank > ``rank`` (its axes would pair with the step axis)."""
    out = []
    for value, body, is_stacked in zip(operands, eq.inputs, stacked):
        shape = tuple(body.shape)
        if not is_stacked:
            if len(shape) > rank:
                return None
            out.append(value)
            continue
        pad = rank - len(shape)
        if pad:
            n = value.aval.shape[0]
            value = builder.apply(Reshape((n,) + (1,) * pad + shape), (value,))
        out.append(value)
    return out


def _batched_matmul(builder, eq, operands, stacked, n):
    a, b = eq.inputs
    op = eq.op
    if stacked[0] and not stacked[1] and a.aval.ndim == 2 and b.aval.ndim == 2 \
            and not op.transa:
        m, k = a.shape
        flat = builder.apply(Reshape((n * m, k)), (operands[0],))
        product = builder.apply(op, (flat, operands[1]))
        return builder.apply(Reshape((n,) + tuple(eq.out.shape)), (product,))
    rank = max(a.aval.ndim, b.aval.ndim)
    return _apply(builder, op, _aligned(builder, eq, operands, stacked, rank))


__all__ = ["BATCH_LIMIT", "batched"]
