"""Stabilisation: replace formulas that overflow or cancel by their stable forms.

Each rule is an identity of real arithmetic whose left side loses accuracy (or turns
into inf/NaN) in floating point while the right side does not; where the left side is
accurate the two agree to a few ulps.  Rules match the formulas as ``dualgrad.F``
and users write them (``F.sigmoid`` is ``0.5 * tanh(0.5 * x) + 0.5``, ``F.softmax``
is ``exp(x - max) / sum(exp(x - max))``) and only fire when the replacement has the
same shape and dtype as what it replaces.
"""

import numpy

from dualgrad.core.aval import normalize_axes
from dualgrad.ops.elementwise import (
    Abs,
    Add,
    Div,
    Exp,
    Expm1,
    Log,
    Log1p,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Sub,
    Tanh,
)
from dualgrad.ops.index import Gather, IndexInput
from dualgrad.ops.reduce import Max, Sum
from dualgrad.ops.stable import LogSoftmax, LogSumExp, SoftmaxCrossEntropy

from ..ir.graph import Const
from .rules import apply_rules, defining, fits, is_float, is_number, other_operand


# -- stable building blocks, emitted by the rules ---------------------------------------
def _log1p_exp_of_minus_abs(builder, x):
    """``log1p(exp(-|x|))``: exp's argument is <= 0, so it never overflows."""
    minus_abs = builder.apply(Neg(), (builder.apply(Abs(), (x,)),))
    return builder.apply(Log1p(), (builder.apply(Exp(), (minus_abs,)),))


def _is_minus_abs(builder, value):
    """True when ``value`` is ``-|y|`` for some ``y`` (so ``exp(value) <= 1``)."""
    neg = defining(builder, value, Neg)
    return neg is not None and defining(builder, neg.inputs[0], Abs) is not None


def _single_axis(op, ndim):
    """The one axis a reduction reduces over, or None when it reduces several."""
    axes = normalize_axes(op.name, op.axis, ndim, ())
    return axes[0] if len(axes) == 1 else None


# -- log1p / expm1 ----------------------------------------------------------------------
def log_of_one_plus(eq, builder):
    """``log(1 + x) -> log1p(x)``: equal in exact arithmetic; for ``|x| << 1`` the sum
    ``1 + x`` rounds away x's low digits (to exactly 1 below 1e-16 in float64, making
    the log 0) while ``log1p`` keeps full relative accuracy."""
    if not isinstance(eq.op, Log):
        return None
    x = other_operand(defining(builder, eq.inputs[0], Add), 1)
    if x is None or x.aval != eq.inputs[0].aval or not fits(Log1p(), (x,), eq):
        return None
    return builder.apply(Log1p(), (x,))


def exp_minus_one(eq, builder):
    """``exp(x) - 1 -> expm1(x)`` (also ``exp(x) + (-1)``): equal in exact arithmetic;
    for ``|x| << 1`` the subtraction cancels all of ``exp(x)``'s leading digits, while
    ``expm1`` is accurate to the last ulp."""
    if isinstance(eq.op, Sub) and is_number(eq.inputs[1], 1):
        e = eq.inputs[0]
    elif isinstance(eq.op, Add):
        e = other_operand(eq, -1)
    else:
        return None
    exp = defining(builder, e, Exp)
    if exp is None or e.aval != eq.out.aval:
        return None
    return builder.apply(Expm1(), (exp.inputs[0],))


# -- softplus / log-sigmoid -------------------------------------------------------------
def _exp_argument_of_one_plus_exp(builder, eq):
    """x when ``eq`` is ``log(1 + exp(x))`` or ``log1p(exp(x))``, else None."""
    if isinstance(eq.op, Log):
        inner = other_operand(defining(builder, eq.inputs[0], Add), 1)
    elif isinstance(eq.op, Log1p):
        inner = eq.inputs[0]
    else:
        return None
    exp = defining(builder, inner, Exp)
    return exp.inputs[0] if exp is not None else None


def log_of_one_plus_exp(eq, builder):
    """``log(1 + exp(x)) -> max(x, 0) + log1p(exp(-|x|))`` (softplus; also from
    ``log1p(exp(x))``).  Exact identity: ``1 + e^x = e^max(x,0) (1 + e^-|x|)``.  The
    left side overflows to inf for ``x > 88`` in float32 and rounds ``1 + e^x`` to 1
    for ``x < -17``; the right side's exp never exceeds 1.

    Not applied to ``log1p(exp(-|y|))``, which is already the stable form."""
    x = _exp_argument_of_one_plus_exp(builder, eq)
    if x is None or _is_minus_abs(builder, x) or not is_float(x) or x.aval != eq.out.aval:
        return None
    positive_part = builder.apply(Maximum(), (x, 0.0))
    return builder.apply(Add(), (positive_part, _log1p_exp_of_minus_abs(builder, x)))


def _sigmoid_argument(builder, value):
    """x when ``value`` is ``sigmoid(x)``, written as ``F.sigmoid`` emits it
    (``0.5 * tanh(0.5 * x) + 0.5``) or as ``1 / (1 + exp(-x))``; else None."""
    add = defining(builder, value, Add)
    if add is not None:
        scaled = defining(builder, other_operand(add, 0.5), Mul)
        tanh = defining(builder, other_operand(scaled, 0.5), Tanh)
        half_x = defining(builder, tanh.inputs[0], Mul) if tanh is not None else None
        return other_operand(half_x, 0.5)
    div = defining(builder, value, Div)
    if div is None or not is_number(div.inputs[0], 1):
        return None
    exp = defining(builder, other_operand(defining(builder, div.inputs[1], Add), 1), Exp)
    neg = defining(builder, exp.inputs[0], Neg) if exp is not None else None
    return neg.inputs[0] if neg is not None else None


def log_of_sigmoid(eq, builder):
    """``log(sigmoid(x)) -> min(x, 0) - log1p(exp(-|x|))``, which is ``-softplus(-x)``.
    Exact identity: ``sigmoid(x) = e^min(x,0) / (1 + e^-|x|)``.  The left side rounds
    ``sigmoid(x)`` to 0 for ``x < -17`` (float32; -37 in float64), giving ``-inf``;
    the right side is accurate for every x (``log(sigmoid(-1000)) = -1000``)."""
    if not isinstance(eq.op, Log):
        return None
    x = _sigmoid_argument(builder, eq.inputs[0])
    if x is None or not is_float(x) or x.aval != eq.out.aval:
        return None
    negative_part = builder.apply(Minimum(), (x, 0.0))
    return builder.apply(Sub(), (negative_part, _log1p_exp_of_minus_abs(builder, x)))


# -- reductions: logsumexp, log_softmax -------------------------------------------------
def log_of_sum_of_exp(eq, builder):
    """``log(sum(exp(x), axis)) -> logsumexp(x, axis)``, computed as
    ``m + log(sum(exp(x - m)))`` with ``m = max(x, axis)``.  Exact identity (shift by
    ``e^m``); the left side overflows once any ``x > 88`` (float32) and underflows to
    ``log(0) = -inf`` when every ``x < -103``."""
    if not isinstance(eq.op, Log):
        return None
    total = defining(builder, eq.inputs[0], Sum)
    exp = defining(builder, total.inputs[0], Exp) if total is not None else None
    if exp is None:
        return None
    op = LogSumExp(total.op.axis, total.op.keepdims)
    x = exp.inputs[0]
    if not fits(op, (x,), eq):
        return None
    return builder.apply(op, (x,))


def _softmax_argument(builder, value):
    """``(x, axis)`` when ``value`` is ``softmax(x, axis)``, written as ``F.softmax``
    emits it (``e / sum(e, axis, keepdims)`` with ``e = exp(x - max(x, axis, keepdims))``)
    or unshifted (``e = exp(x)``); else None."""
    div = defining(builder, value, Div)
    if div is None:
        return None
    numerator, denominator = div.inputs
    exp = defining(builder, numerator, Exp)
    total = defining(builder, denominator, Sum)
    if exp is None or total is None or total.inputs[0] != numerator or not total.op.keepdims:
        return None
    u = exp.inputs[0]
    axis = _single_axis(total.op, u.aval.ndim)
    if axis is None:
        return None
    shift = defining(builder, u, Sub)
    peak = defining(builder, shift.inputs[1], Max) if shift is not None else None
    if (peak is not None and peak.inputs[0] == shift.inputs[0] and peak.op.keepdims
            and peak.op.initial is None and _single_axis(peak.op, u.aval.ndim) == axis):
        return shift.inputs[0], axis
    return u, axis


def log_of_softmax(eq, builder):
    """``log(softmax(x, axis)) -> log_softmax(x, axis)`` = ``x - logsumexp(x, axis)``.
    Exact identity; the left side rounds small probabilities to 0 (``log(0) = -inf``,
    whose gradient is NaN) once a logit trails the largest by more than about 103
    (float32), while the right side stays finite and accurate."""
    if not isinstance(eq.op, Log):
        return None
    match = _softmax_argument(builder, eq.inputs[0])
    if match is None:
        return None
    x, axis = match
    op = LogSoftmax(axis)
    if not fits(op, (x,), eq):
        return None
    return builder.apply(op, (x,))


# -- cross entropy ----------------------------------------------------------------------
_ROW_AND_LABEL = (IndexInput(0), IndexInput(1))


def _is_row_range(value, n):
    """True when ``value`` is the constant ``arange(n)`` (integers)."""
    if not isinstance(value, Const) or not isinstance(value.value, numpy.ndarray):
        return False
    rows = value.value
    return rows.dtype.kind in "iu" and rows.shape == (n,) and bool(
        numpy.array_equal(rows, numpy.arange(n))
    )


def _picked_log_softmax(builder, value):
    """``(x, t)`` when ``value`` is ``log_softmax(x, axis=1)[arange(N), t]`` for an
    ``(N, C)`` array ``x`` and ``N`` integer labels ``t``; else None."""
    gather = defining(builder, value, Gather)
    if gather is None or gather.op.key_template != _ROW_AND_LABEL:
        return None
    source, rows, t = gather.inputs
    log_softmax = defining(builder, source, LogSoftmax)
    if log_softmax is None:
        return None
    x = log_softmax.inputs[0]
    n = x.aval.shape[0] if x.aval.ndim == 2 else -1
    if n < 0 or log_softmax.op.axis % 2 != 1 or not _is_row_range(rows, n):
        return None
    if t.aval.shape != (n,) or t.aval.dtype.kind not in "iu":
        return None
    return x, t


def _cross_entropy(x, reduce):
    """The SoftmaxCrossEntropy op equal to the hand-written pattern: labels are class
    indices in ``[0, C)``; ``ignore_label = -(C + 1)`` lies outside every index the
    pattern's gather accepts, so no label the pattern could use is ignored."""
    n_classes = x.aval.shape[1]
    return SoftmaxCrossEntropy(normalize=False, ignore_label=-(n_classes + 1), reduce=reduce)


def negated_picked_log_softmax(eq, builder):
    """``-log_softmax(x)[arange(N), t] -> softmax_cross_entropy(x, t, reduce='no')``:
    the same numbers (both compute ``logsumexp(x[n]) - x[n, t[n]]``) from one op whose
    backward is ``softmax(x) - onehot(t)`` instead of a scatter through log_softmax.
    Labels must be class indices in ``[0, C)``: a negative label, which numpy indexing
    would wrap around, is an error for SoftmaxCrossEntropy (checked on the CPU and in
    debug mode)."""
    if not isinstance(eq.op, Neg):
        return None
    match = _picked_log_softmax(builder, eq.inputs[0])
    if match is None:
        return None
    op = _cross_entropy(match[0], "no")
    if not fits(op, match, eq):
        return None
    return builder.apply(op, match)


def negated_sum_of_picked_log_softmax(eq, builder):
    """``-sum(log_softmax(x)[arange(N), t]) -> sum(softmax_cross_entropy(x, t, 'no'))``:
    exact (a sum of negated terms is the negated sum: rounding is symmetric in sign)."""
    if not isinstance(eq.op, Neg):
        return None
    total = defining(builder, eq.inputs[0], Sum)
    match = _picked_log_softmax(builder, total.inputs[0]) if total is not None else None
    if match is None:
        return None
    op = _cross_entropy(match[0], "no")
    if not fits(op, match, builder.producer(total.inputs[0])):
        return None  # the per-row losses must be typed like the picked values they replace
    return builder.apply(total.op, (builder.apply(op, match),))


def mean_of_cross_entropy(eq, builder):
    """``sum(softmax_cross_entropy(x, t, 'no')) / N -> softmax_cross_entropy(x, t)``
    with ``N = len(x)`` the batch size and the sum over every axis: the op's
    ``reduce='mean', normalize=False`` computes the same sum (ignored labels add 0 to
    both) and divides it by the same N."""
    if not isinstance(eq.op, Div):
        return None
    total = defining(builder, eq.inputs[0], Sum)
    if total is None or total.op.keepdims:
        return None
    per_row = defining(builder, total.inputs[0], SoftmaxCrossEntropy)
    if per_row is None or per_row.op.reduce != "no":
        return None  # ``normalize`` only matters for reduce='mean'; any value matches
    ndim = total.inputs[0].aval.ndim
    if normalize_axes(total.op.name, total.op.axis, ndim, ()) != tuple(range(ndim)):
        return None  # a partial sum is not the mean loss
    x = per_row.inputs[0]
    if x.aval.shape[0] == 0 or not is_number(eq.inputs[1], x.aval.shape[0]):
        return None
    op = SoftmaxCrossEntropy(False, per_row.op.ignore_label, "mean")
    if not fits(op, per_row.inputs, eq):
        return None
    return builder.apply(op, per_row.inputs)


STABILIZE_RULES = (
    log_of_one_plus_exp, log_of_sigmoid, log_of_sum_of_exp, log_of_softmax, log_of_one_plus,
    exp_minus_one, negated_picked_log_softmax, negated_sum_of_picked_log_softmax,
    mean_of_cross_entropy,
)  # fmt: skip


def stabilize(graph, on_fire=None):
    """The graph with unstable formulas replaced by stable ones (``STABILIZE_RULES``).

    >>> import numpy
    >>> from dualgrad.ops.elementwise import Add, Log
    >>> from dualgrad_jit.ir import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.add_input(numpy.zeros(3))
    >>> print(stabilize(b.build([b.apply(Log(), (b.apply(Add(), (x, 1.0)),))])))
    { lambda %0:f64[3] ;
      %1:f64[3] = Add %0 1.0
      %2:f64[3] = Log1p %0
     } -> (%2)
    """
    return apply_rules(graph, STABILIZE_RULES, on_fire)
