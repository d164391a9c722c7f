"""Harness cases for the elementwise primitives (dualgrad/ops/elementwise.py)."""

import math

import numpy

from dualgrad.ops import elementwise as ew

from .harness import OpCase

SHAPES_UNARY = [(3, 4), (), (0, 3), (2, 1, 3)]
SHAPES_BINARY = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((), (2, 3)), ((0, 3), (1, 3)), ((4,), (2, 4))]


def unary(low=-2.0, high=2.0, shapes=SHAPES_UNARY):
    def samples(rng, dtype):
        return [(rng.uniform(low, high, s).astype(dtype),) for s in shapes]

    return samples


def binary(low=-2.0, high=2.0, low_b=None, high_b=None, scalar=1.5):
    """Pairs over broadcasting shapes, plus array-with-Python-scalar on both sides."""
    low_b = low if low_b is None else low_b
    high_b = high if high_b is None else high_b

    def samples(rng, dtype):
        out = [
            (rng.uniform(low, high, sa).astype(dtype), rng.uniform(low_b, high_b, sb).astype(dtype))
            for sa, sb in SHAPES_BINARY
        ]
        out.append((rng.uniform(low, high, (2, 3)).astype(dtype), scalar))
        return out

    return samples


def away_from_ties(samples):
    """Nudge the second input so the pair never ties (kinks break finite differences)."""

    def wrapped(rng, dtype):
        out = []
        for a, b in samples(rng, dtype):
            if isinstance(b, numpy.ndarray):
                b = b + numpy.asarray(0.3, dtype) * numpy.sign(b - numpy.mean(b) + 0.01)
            out.append((a, b))
        return out

    return wrapped


def erf_reference(x):
    return numpy.vectorize(math.erf, otypes=[x.dtype])(x)


def no_kink(samples, points=(0.0,), margin=0.05):
    """Shift values away from kinks (abs at 0, floor at integers) for finite differences."""

    def wrapped(rng, dtype):
        out = []
        for (x,) in samples(rng, dtype):
            for p in points:
                x = numpy.where(numpy.abs(x - p) < margin, x + 2 * margin, x).astype(dtype)
            out.append((x,))
        return out

    return wrapped


CASES = [
    OpCase(ew.Neg, ew.neg, numpy.negative, unary()),
    OpCase(ew.Add, ew.add, numpy.add, binary()),
    OpCase(ew.Sub, ew.sub, numpy.subtract, binary()),
    OpCase(ew.Mul, ew.mul, numpy.multiply, binary()),
    OpCase(ew.Div, ew.div, numpy.true_divide, binary(low_b=0.5, high_b=2.0)),
    OpCase(ew.Pow, ew.power, numpy.power, binary(low=0.5, high=2.0)),
    OpCase(ew.Maximum, ew.maximum, numpy.maximum, away_from_ties(binary())),
    OpCase(ew.Minimum, ew.minimum, numpy.minimum, away_from_ties(binary())),
    OpCase(ew.Exp, ew.exp, numpy.exp, unary()),
    OpCase(ew.Log, ew.log, numpy.log, unary(0.2, 3.0)),
    OpCase(ew.Log1p, ew.log1p, numpy.log1p, unary(-0.5, 3.0)),
    OpCase(ew.Expm1, ew.expm1, numpy.expm1, unary()),
    OpCase(ew.Sqrt, ew.sqrt, numpy.sqrt, unary(0.2, 3.0)),
    OpCase(ew.Tanh, ew.tanh, numpy.tanh, unary()),
    OpCase(ew.TanhGrad, lambda y, gy: ew.apply(ew._TANH_GRAD, (y, gy)),
           lambda y, gy: gy * (1 - y * y), binary(-0.9, 0.9)),
    OpCase(ew.Sin, ew.sin, numpy.sin, unary()),
    OpCase(ew.Cos, ew.cos, numpy.cos, unary()),
    OpCase(ew.Abs, ew.absolute, numpy.abs, no_kink(unary())),
    OpCase(ew.Sign, ew.sign, numpy.sign, unary(), differentiable=False),
    OpCase(ew.Floor, ew.floor, numpy.floor, unary(), differentiable=False),
    OpCase(ew.Erf, ew.erf, erf_reference, unary(-3.0, 3.0)),
    OpCase(ew.Cast, lambda x: ew.cast(x, "float32") * 1.0,
           lambda x: x.astype("float32"), unary(), name="Cast-to-float32",
           grad_atol=1e-2, grad_rtol=1e-2, eps=1e-2),
    OpCase(ew.Where, lambda x, y: ew.where(x > 0, x, y),
           lambda x, y: numpy.where(x > 0, x, y), no_kink_pairs := binary(), name="Where"),
    OpCase(ew.Less, ew.less, numpy.less, binary(), differentiable=False),
    OpCase(ew.LessEqual, ew.less_equal, numpy.less_equal, binary(), differentiable=False),
    OpCase(ew.Greater, ew.greater, numpy.greater, binary(), differentiable=False),
    OpCase(ew.GreaterEqual, ew.greater_equal, numpy.greater_equal, binary(),
           differentiable=False),
    OpCase(ew.Equal, ew.equal, numpy.equal, binary(), differentiable=False),
    OpCase(ew.NotEqual, ew.not_equal, numpy.not_equal, binary(), differentiable=False),
]
del no_kink_pairs
