"""Elementwise primitives: one class each, with forward, backward-in-ops and scalar IR.

Broadcasting in backward is handled by the engine (it sums each gradient back to its
input's shape), so rules here return gradients in the output's shape.
"""

import math

import numpy

from .. import scalar_ir as S
from ..core.op import ElementwiseOp
from ..core.tape import apply
from ..lowering import Elementwise
from .special import erf as _erf

x0, x1, x2 = S.arg(0), S.arg(1), S.arg(2)


class Neg(ElementwiseOp):
    numpy_ufunc = numpy.negative
    save = "none"

    def forward(self, xp, x):
        return xp.negative(x)

    def backward(self, gy, inputs, y, need):
        return (neg(gy),)

    def lower(self, *avals):
        return Elementwise(S.neg(x0))


class Add(ElementwiseOp):
    numpy_ufunc = numpy.add
    save = "none"

    def forward(self, xp, a, b):
        return xp.add(a, b)

    def backward(self, gy, inputs, y, need):
        return gy, gy

    def lower(self, *avals):
        return Elementwise(x0 + x1)


class Sub(ElementwiseOp):
    numpy_ufunc = numpy.subtract
    save = "none"

    def forward(self, xp, a, b):
        return xp.subtract(a, b)

    def backward(self, gy, inputs, y, need):
        return gy, (neg(gy) if need[1] else None)

    def lower(self, *avals):
        return Elementwise(x0 - x1)


class Mul(ElementwiseOp):
    numpy_ufunc = numpy.multiply
    def forward(self, xp, a, b):
        return xp.multiply(a, b)

    def backward(self, gy, inputs, y, need):
        a, b = inputs
        return (mul(gy, b) if need[0] else None), (mul(gy, a) if need[1] else None)

    def lower(self, *avals):
        return Elementwise(x0 * x1)


class Div(ElementwiseOp):
    numpy_ufunc = numpy.true_divide
    def forward(self, xp, a, b):
        return xp.true_divide(a, b)

    def backward(self, gy, inputs, y, need):
        a, b = inputs
        ga = div(gy, b) if need[0] else None
        # NOTE: d(a/b)/db = -a/b^2, written as -(gy/b)*(a/b) so it does not overflow first.
        gb = neg(mul(div(gy, b), div(a, b))) if need[1] else None
        return ga, gb

    def lower(self, *avals):
        return Elementwise(x0 / x1)


class Pow(ElementwiseOp):
    save = "both"

    def forward(self, xp, a, b):
        return xp.power(a, b)

    def backward(self, gy, inputs, y, need):
        a, b = inputs
        # NOTE: Python-scalar operands stay Python scalars (weakly typed), so that
        # x_f32 ** 2 computes its gradient in float32.
        b_minus_1 = b - 1 if isinstance(b, (int, float)) else sub(b, 1)
        ga = mul(gy, mul(b, power(a, b_minus_1))) if need[0] else None
        gb = None
        if need[1]:
            # NOTE: log(a) is NaN for a < 0, where only integer exponents are defined;
            # the gradient for b is undefined there too, so NaN is the honest answer.
            log_a = math.log(a) if isinstance(a, (int, float)) and a > 0 else log(a)
            gb = mul(gy, mul(y, log_a))
        return ga, gb

    def lower(self, *avals):
        return Elementwise(S.call("pow", x0, x1))


class Maximum(ElementwiseOp):
    def forward(self, xp, a, b):
        return xp.maximum(a, b)

    def backward(self, gy, inputs, y, need):
        # NOTE: at ties the gradient is split evenly, as in PyTorch.
        a, b = inputs
        share = where(equal(a, b), mul(gy, 0.5), gy)
        return (
            where(greater_equal(a, b), share, 0.0) if need[0] else None,
            where(greater_equal(b, a), share, 0.0) if need[1] else None,
        )

    def lower(self, *avals):
        return Elementwise(S.maximum(x0, x1))


class Minimum(ElementwiseOp):
    def forward(self, xp, a, b):
        return xp.minimum(a, b)

    def backward(self, gy, inputs, y, need):
        a, b = inputs
        share = where(equal(a, b), mul(gy, 0.5), gy)
        return (
            where(less_equal(a, b), share, 0.0) if need[0] else None,
            where(less_equal(b, a), share, 0.0) if need[1] else None,
        )

    def lower(self, *avals):
        return Elementwise(S.minimum(x0, x1))


class Exp(ElementwiseOp):
    numpy_ufunc = numpy.exp
    save = "output"

    def forward(self, xp, x):
        return xp.exp(x)

    def backward(self, gy, inputs, y, need):
        return (mul(gy, y),)

    def lower(self, *avals):
        return Elementwise(S.exp(x0))


class Log(ElementwiseOp):
    numpy_ufunc = numpy.log
    def forward(self, xp, x):
        return xp.log(x)

    def backward(self, gy, inputs, y, need):
        return (div(gy, inputs[0]),)

    def lower(self, *avals):
        return Elementwise(S.log(x0))


class Log1p(ElementwiseOp):
    def forward(self, xp, x):
        return xp.log1p(x)

    def backward(self, gy, inputs, y, need):
        return (div(gy, add(inputs[0], 1.0)),)

    def lower(self, *avals):
        return Elementwise(S.log1p(x0))


class Expm1(ElementwiseOp):
    save = "output"

    def forward(self, xp, x):
        return xp.expm1(x)

    def backward(self, gy, inputs, y, need):
        return (mul(gy, add(y, 1.0)),)

    def lower(self, *avals):
        return Elementwise(S.expm1(x0))


class Sqrt(ElementwiseOp):
    numpy_ufunc = numpy.sqrt
    save = "output"

    def forward(self, xp, x):
        return xp.sqrt(x)

    def backward(self, gy, inputs, y, need):
        return (div(mul(gy, 0.5), y),)

    def lower(self, *avals):
        return Elementwise(S.sqrt(x0))


class Tanh(ElementwiseOp):
    numpy_ufunc = numpy.tanh
    save = "output"

    def forward(self, xp, x):
        return xp.tanh(x)

    def backward(self, gy, inputs, y, need):
        return (apply(_TANH_GRAD, (y, gy)),)

    def lower(self, *avals):
        return Elementwise(S.tanh(x0))


class TanhGrad(ElementwiseOp):
    """``gy * (1 - y^2)``: tanh's VJP as one op, so backward costs one kernel."""

    def forward(self, xp, y, gy):
        return gy * (1 - y * y)

    def backward(self, ggx, inputs, out, need):
        y, gy = inputs
        g_y = mul(mul(ggx, gy), mul(y, -2.0)) if need[0] else None
        g_gy = mul(ggx, sub(1.0, mul(y, y))) if need[1] else None
        return g_y, g_gy

    def lower(self, *avals):
        return Elementwise(x1 * (1.0 - x0 * x0))


class Sin(ElementwiseOp):
    def forward(self, xp, x):
        return xp.sin(x)

    def backward(self, gy, inputs, y, need):
        return (mul(gy, cos(inputs[0])),)

    def lower(self, *avals):
        return Elementwise(S.sin(x0))


class Cos(ElementwiseOp):
    def forward(self, xp, x):
        return xp.cos(x)

    def backward(self, gy, inputs, y, need):
        return (neg(mul(gy, sin(inputs[0]))),)

    def lower(self, *avals):
        return Elementwise(S.cos(x0))


class Abs(ElementwiseOp):
    def forward(self, xp, x):
        return xp.abs(x)

    def backward(self, gy, inputs, y, need):
        return (mul(gy, sign(inputs[0])),)

    def lower(self, *avals):
        return Elementwise(S.abs_(x0))


class Sign(ElementwiseOp):
    """sign(x); its derivative is zero wherever it exists, so no gradient flows."""

    save = "none"

    def forward(self, xp, x):
        return xp.sign(x)

    def backward(self, gy, inputs, y, need):
        return (None,)

    def lower(self, *avals):
        return Elementwise(S.sign(x0))


class Floor(ElementwiseOp):
    """floor(x); piecewise constant, so no gradient flows."""

    save = "none"

    def forward(self, xp, x):
        return xp.floor(x)

    def backward(self, gy, inputs, y, need):
        return (None,)

    def lower(self, *avals):
        return Elementwise(S.floor(x0))


class Erf(ElementwiseOp):
    float_only = False

    def forward(self, xp, x):
        return _erf(xp, x)

    def backward(self, gy, inputs, y, need):
        x = inputs[0]
        return (mul(gy, mul(2.0 / math.sqrt(math.pi), exp(neg(mul(x, x))))),)

    def lower(self, *avals):
        return Elementwise(S.erf(x0))


class Cast(ElementwiseOp):
    __slots__ = ("dtype",)
    save = "inputs"

    def __init__(self, dtype):
        import numpy

        self.dtype = numpy.dtype(dtype).name

    def forward(self, xp, x):
        return xp.asarray(x).astype(self.dtype, copy=False)

    def backward(self, gy, inputs, y, need):
        return (cast(gy, inputs[0].dtype),)

    def lower(self, *avals):
        return Elementwise(S.cast(x0, self.dtype))


class Where(ElementwiseOp):
    """``where(condition, a, b)``; the condition gets no gradient."""

    def forward(self, xp, condition, a, b):
        return xp.where(condition, a, b)

    def backward(self, gy, inputs, y, need):
        condition = inputs[0]
        return (
            None,
            where(condition, gy, 0.0) if need[1] else None,
            where(condition, 0.0, gy) if need[2] else None,
        )

    def lower(self, *avals):
        return Elementwise(S.where(x0, x1, x2))


class _Comparison(ElementwiseOp):
    """A comparison: a boolean result, never differentiated."""

    __slots__ = ()
    abstract = True
    save = "none"
    scalar_op = None
    ufunc = None

    def forward(self, xp, a, b):
        return getattr(xp, self.ufunc)(a, b)

    def backward(self, gy, inputs, y, need):
        return None, None

    def lower(self, *avals):
        return Elementwise(S.call(self.scalar_op, x0, x1))


class Less(_Comparison):
    scalar_op, ufunc = "lt", "less"


class LessEqual(_Comparison):
    scalar_op, ufunc = "le", "less_equal"


class Greater(_Comparison):
    scalar_op, ufunc = "gt", "greater"


class GreaterEqual(_Comparison):
    scalar_op, ufunc = "ge", "greater_equal"


class Equal(_Comparison):
    scalar_op, ufunc = "eq", "equal"


class NotEqual(_Comparison):
    scalar_op, ufunc = "ne", "not_equal"


# -- functional forms (singleton ops: these have no attributes) --------------------------
_NEG, _ADD, _SUB, _MUL, _DIV, _POW = Neg(), Add(), Sub(), Mul(), Div(), Pow()
_MAXIMUM, _MINIMUM, _EXP, _LOG, _LOG1P, _EXPM1 = (
    Maximum(), Minimum(), Exp(), Log(), Log1p(), Expm1()
)
_TANH_GRAD = TanhGrad()
_SQRT, _TANH, _SIN, _COS, _ABS, _SIGN, _FLOOR, _ERF, _WHERE = (
    Sqrt(), Tanh(), Sin(), Cos(), Abs(), Sign(), Floor(), Erf(), Where()
)
_LESS, _LESS_EQUAL, _GREATER, _GREATER_EQUAL, _EQUAL, _NOT_EQUAL = (
    Less(), LessEqual(), Greater(), GreaterEqual(), Equal(), NotEqual()
)


def neg(x):
    return apply(_NEG, (x,))


def add(a, b):
    return apply(_ADD, (a, b))


def sub(a, b):
    return apply(_SUB, (a, b))


def mul(a, b):
    return apply(_MUL, (a, b))


def div(a, b):
    return apply(_DIV, (a, b))


def power(a, b):
    return apply(_POW, (a, b))


def maximum(a, b):
    return apply(_MAXIMUM, (a, b))


def minimum(a, b):
    return apply(_MINIMUM, (a, b))


def exp(x):
    return apply(_EXP, (x,))


def log(x):
    return apply(_LOG, (x,))


def log1p(x):
    return apply(_LOG1P, (x,))


def expm1(x):
    return apply(_EXPM1, (x,))


def sqrt(x):
    return apply(_SQRT, (x,))


def tanh(x):
    return apply(_TANH, (x,))


def sin(x):
    return apply(_SIN, (x,))


def cos(x):
    return apply(_COS, (x,))


def absolute(x):
    return apply(_ABS, (x,))


def sign(x):
    return apply(_SIGN, (x,))


def floor(x):
    return apply(_FLOOR, (x,))


def erf(x):
    return apply(_ERF, (x,))


def cast(x, dtype):
    """``x`` converted to ``dtype``; gradients are cast back to the input's dtype."""
    return apply(Cast(dtype), (x,))


def where(condition, a, b):
    return apply(_WHERE, (condition, a, b))


def less(a, b):
    return apply(_LESS, (a, b))


def less_equal(a, b):
    return apply(_LESS_EQUAL, (a, b))


def greater(a, b):
    return apply(_GREATER, (a, b))


def greater_equal(a, b):
    return apply(_GREATER_EQUAL, (a, b))


def equal(a, b):
    return apply(_EQUAL, (a, b))


def not_equal(a, b):
    return apply(_NOT_EQUAL, (a, b))
