"""Typing scalar-IR expressions into kernel-IR expressions.

An op's lowering is written in the weakly typed scalar IR (``dualgrad.scalar_ir``): a
constant takes the dtype of what it meets, as a Python scalar does in numpy.  The
kernel IR wants every operation's operands in one dtype, so ``to_kernel`` applies
numpy's promotion rules node by node and inserts the casts:

* a weak constant adopts its partner's dtype (``int + 2.5`` is float64, as in numpy);
* mixed typed operands promote with ``numpy.result_type``;
* integer true division and transcendental functions of integers compute in float64;
* the result is finally cast to the equation's output dtype.
"""

import numpy

from . import ir as K

_FLOAT_ONLY = ("exp", "log", "log1p", "expm1", "sqrt", "tanh", "sin", "cos", "erf", "div",
               "pow_float")
_BOOL_ONLY = ("not",)


def to_kernel(expr, args, out_dtype, indices=()):
    """``expr`` (scalar IR) with ``arg(i) -> args[i]`` and ``index(d) -> indices[d]``
    (both KExprs), typed, and cast to ``out_dtype``."""
    memo = {}

    def visit(e):
        key = id(e)
        if key in memo:
            return memo[key][1]
        result = _convert(e, visit, args, indices)
        memo[key] = (e, result)
        return result

    result = visit(expr)
    if isinstance(result, Weak):
        return K.const(result.value, out_dtype)
    return K.cast(result, out_dtype)


class Weak:
    """A constant whose dtype is not decided yet (a Python scalar in the scalar IR)."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    @property
    def dtype(self):
        if isinstance(self.value, bool):
            return "bool"
        return "int64" if isinstance(self.value, int) else "float64"


def _convert(e, visit, args, indices):
    if e.op == "arg":
        return args[e.value]
    if e.op == "index":
        return indices[e.value]
    if e.op == "const":
        value = e.value
        if isinstance(value, (bool, int, float)):
            return Weak(value)
        return K.const(value, numpy.asarray(value).dtype.name)
    operands = [visit(a) for a in e.args]
    if e.op == "cast":
        return K.cast(_fix(operands[0], None), e.value)
    if e.op == "load":
        raise NotImplementedError("load is resolved by the fusion pass")
    return typed_call(e.op, operands)


def _fix(x, dtype):
    if isinstance(x, Weak):
        return K.const(x.value, dtype or x.dtype)
    return x


def _promote(operands):
    typed = [x.dtype for x in operands if not isinstance(x, Weak)]
    weak = [x for x in operands if isinstance(x, Weak)]
    if not typed:
        return numpy.result_type(*[x.value for x in weak]).name
    dtype = numpy.result_type(*typed)
    for w in weak:
        kind = numpy.dtype(dtype).kind
        if isinstance(w.value, float) and kind in "biu":
            dtype = numpy.dtype("float64")
        elif isinstance(w.value, int) and not isinstance(w.value, bool) and kind == "b":
            dtype = numpy.dtype("int64")
    return numpy.dtype(dtype).name


def typed_call(op, operands):
    """``op`` over (possibly weak) operands, promoted to one dtype with casts."""
    if op == "where":
        cond = K.cast(_fix(operands[0], "bool"), "bool")
        dtype = _promote(operands[1:])
        return K.call("where", cond, *(K.cast(_fix(x, dtype), dtype) for x in operands[1:]))
    if op in ("and", "or", "xor", "not") and all(
            isinstance(x, Weak) or x.dtype == "bool" for x in operands):
        return K.call(op, *(K.cast(_fix(x, "bool"), "bool") for x in operands))
    dtype = _promote(operands)
    if op in _FLOAT_ONLY and numpy.dtype(dtype).kind in "biu":
        dtype = "float64"
    return K.call(op, *(K.cast(_fix(x, dtype), dtype) for x in operands))
