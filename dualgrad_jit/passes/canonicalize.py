"""Canonicalisation: remove identities and merge chained views.

Every rule here is exact (the result is bitwise the same, up to the sign of a zero
where noted) and only fires when the replacement has the same shape and dtype as what
it replaces: ``x * 1.0`` with an integer ``x`` is a float array, not ``x``, and stays.
"""

from dualgrad.ops.elementwise import Add, Div, Mul, Neg, Sub
from dualgrad.ops.linalg import MatMul
from dualgrad.ops.view import BroadcastTo, Reshape, Transpose

from ..ir.graph import Const
from .rules import apply_rules, defining, is_number, other_operand, same_type


def multiply_by_one(eq, builder):
    """``x * 1 -> x`` and ``1 * x -> x``: exact (IEEE multiplication by 1 is the
    identity, NaN and signed zeros included)."""
    if not isinstance(eq.op, Mul):
        return None
    return same_type(other_operand(eq, 1), eq)


def add_zero(eq, builder):
    """``x + 0 -> x`` and ``0 + x -> x``: exact except for ``x = -0.0``, where IEEE
    addition gives ``+0.0``; the two zeros compare equal and only a later division by
    that zero could tell them apart."""
    if not isinstance(eq.op, Add):
        return None
    return same_type(other_operand(eq, 0), eq)


def subtract_zero(eq, builder):
    """``x - 0 -> x``: exact (``-0.0 - 0.0`` is ``-0.0``)."""
    if not isinstance(eq.op, Sub) or not is_number(eq.inputs[1], 0):
        return None
    return same_type(eq.inputs[0], eq)


def divide_by_one(eq, builder):
    """``x / 1 -> x``: exact."""
    if not isinstance(eq.op, Div) or not is_number(eq.inputs[1], 1):
        return None
    return same_type(eq.inputs[0], eq)


def double_negation(eq, builder):
    """``-(-x) -> x``: exact (negation only flips the sign bit)."""
    if not isinstance(eq.op, Neg):
        return None
    inner = defining(builder, eq.inputs[0], Neg)
    return same_type(inner.inputs[0], eq) if inner is not None else None


def negation_of_quotient(eq, builder):
    """``-(a / c) -> (-a) / c`` for a constant ``c``: exact (IEEE division is symmetric
    in sign).  Moves negations towards the leaves, where stabilisation looks for them
    (``-mean(picked log-probabilities)`` is a cross entropy)."""
    if not isinstance(eq.op, Neg):
        return None
    quotient = defining(builder, eq.inputs[0], Div)
    if quotient is None or not isinstance(quotient.inputs[1], Const):
        return None
    numerator, denominator = quotient.inputs
    if numerator.aval != eq.out.aval:  # only where neither side broadcasts
        return None
    return builder.apply(quotient.op, (builder.apply(eq.op, (numerator,)), denominator))


def reshape_to_same_shape(eq, builder):
    """``reshape(x, x.shape) -> x``: the identity."""
    if not isinstance(eq.op, Reshape):
        return None
    return same_type(eq.inputs[0], eq)


def reshape_of_reshape(eq, builder):
    """``reshape(reshape(x, s1), s2) -> reshape(x, s2)``: exact, both read ``x`` in
    row-major order."""
    if not isinstance(eq.op, Reshape):
        return None
    inner = defining(builder, eq.inputs[0], Reshape)
    if inner is None:
        return None
    return builder.apply(eq.op, (inner.inputs[0],))


def identity_transpose(eq, builder):
    """``transpose(x, (0, 1, ..., n-1)) -> x``: the identity permutation."""
    if not isinstance(eq.op, Transpose):
        return None
    ndim = eq.out.aval.ndim
    if tuple(a % ndim for a in eq.op.axes) != tuple(range(ndim)):
        return None
    return same_type(eq.inputs[0], eq)


def transpose_of_transpose(eq, builder):
    """``transpose(transpose(x, p), q) -> transpose(x, r)`` with ``r[k] = p[q[k]]``:
    output axis ``k`` is axis ``q[k]`` of the inner result, which is axis ``p[q[k]]``
    of ``x``.  Exact: a permutation of a permutation."""
    if not isinstance(eq.op, Transpose):
        return None
    inner = defining(builder, eq.inputs[0], Transpose)
    if inner is None:
        return None
    ndim = eq.out.aval.ndim
    p = tuple(a % ndim for a in inner.op.axes)
    q = tuple(a % ndim for a in eq.op.axes)
    return builder.apply(Transpose(tuple(p[k] for k in q)), (inner.inputs[0],))


def broadcast_to_same_shape(eq, builder):
    """``broadcast_to(x, x.shape) -> x``: the identity (only when nothing broadcasts)."""
    if not isinstance(eq.op, BroadcastTo):
        return None
    return same_type(eq.inputs[0], eq)


def broadcast_of_broadcast(eq, builder):
    """``broadcast_to(broadcast_to(x, s1), s2) -> broadcast_to(x, s2)``: broadcasting
    only repeats elements, and every element of ``s2`` still reads the same one of
    ``x``."""
    if not isinstance(eq.op, BroadcastTo):
        return None
    inner = defining(builder, eq.inputs[0], BroadcastTo)
    if inner is None:
        return None
    return builder.apply(eq.op, (inner.inputs[0],))


def _swaps_last_two(eq):
    """Whether ``eq`` transposes only the last two axes of its input."""
    ndim = eq.out.aval.ndim
    axes = tuple(a % ndim for a in eq.op.axes)
    return ndim >= 2 and axes == tuple(range(ndim - 2)) + (ndim - 1, ndim - 2)


def transpose_into_matmul(eq, builder):
    """``matmul(swapaxes(a, -1, -2), b, transa=t) -> matmul(a, b, transa=not t)``, and
    the same for ``b``: ``op(Aᵀ)`` with the flag set is ``A`` itself, so the product
    reads the untransposed operand and BLAS applies the transpose while it multiplies
    (no transposed copy is materialised).  The products and sums are the same ones
    numpy's ``matmul`` computes on the transposed view."""
    if not isinstance(eq.op, MatMul):
        return None
    flags, operands, changed = [eq.op.transa, eq.op.transb], list(eq.inputs), False
    for k in (0, 1):
        inner = defining(builder, operands[k], Transpose)
        if inner is not None and _swaps_last_two(inner):
            flags[k], operands[k], changed = not flags[k], inner.inputs[0], True
    return builder.apply(MatMul(*flags), tuple(operands)) if changed else None


CANONICALIZE_RULES = (
    multiply_by_one, add_zero, subtract_zero, divide_by_one, double_negation,
    negation_of_quotient, reshape_to_same_shape, reshape_of_reshape, identity_transpose,
    transpose_of_transpose, broadcast_to_same_shape, broadcast_of_broadcast,
    transpose_into_matmul,
)  # fmt: skip


def _single_use_products_transposed(graph):
    """ids of the Transposes (last two axes) of MatMul results read nowhere else."""
    uses = {}
    for x in [x for eq in graph.equations for x in eq.inputs] + list(graph.outputs):
        if not isinstance(x, Const):
            uses[x.id] = uses.get(x.id, 0) + 1
    producers = graph.producers()
    found = set()
    for eq in graph.equations:
        if not isinstance(eq.op, Transpose) or isinstance(eq.inputs[0], Const) or \
                not _swaps_last_two(eq):
            continue
        inner = producers.get(eq.inputs[0].id)
        if inner is not None and isinstance(inner.op, MatMul) and uses[inner.out.id] == 1:
            found.add(eq.out.id)
    return found


def _transposed_product(eligible):
    def transposed_product(eq, builder):
        """``swapaxes(op(A) @ op(B), -1, -2) -> op(B)ᵀ @ op(A)ᵀ``, i.e.
        ``matmul(b, a, transa=not transb, transb=not transa)``, for a product read only
        by the transpose: the product comes out in the layout its reader wants, and no
        transposed copy (or strided read) follows.  Every element is the same sum of the
        same products; BLAS may add them in another order (rounding only)."""
        if eq.out.id not in eligible:
            return None
        inner = defining(builder, eq.inputs[0], MatMul)
        if inner is None:
            return None
        a, b = inner.inputs
        return builder.apply(MatMul(not inner.op.transb, not inner.op.transa), (b, a))

    return transposed_product


def canonicalize(graph, on_fire=None):
    """The graph with identities removed and chained views merged (``CANONICALIZE_RULES``).

    >>> import numpy
    >>> from dualgrad.ops.elementwise import Mul
    >>> from dualgrad_jit.ir import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.add_input(numpy.zeros(3))
    >>> print(canonicalize(b.build([b.apply(Mul(), (x, 1.0))])))
    { lambda %0:f64[3] ;
     } -> (%0)
    """
    graph = apply_rules(graph, CANONICALIZE_RULES, on_fire)
    eligible = _single_use_products_transposed(graph)
    if not eligible:
        return graph
    return apply_rules(graph, (_transposed_product(eligible),), on_fire)
