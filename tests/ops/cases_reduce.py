"""Harness cases for the reductions (dualgrad/ops/reduce.py)."""

import numpy

from dualgrad.ops import reduce as rd
from dualgrad.ops import view

from .harness import OpCase

# (name, keyword arguments, input shapes): axis None / int / negative / tuple, keepdims,
# 0-d inputs and size-0 inputs whose reduced axes are non-empty.
CONFIGS = [
    ("all", {}, [(3, 4), (), (5,)]),
    ("all-keepdims", {"keepdims": True}, [(2, 3, 4), ()]),
    ("axis1", {"axis": 1}, [(3, 4), (2, 5, 3), (0, 3)]),
    ("axis-neg-keepdims", {"axis": -1, "keepdims": True}, [(3, 4), (2, 1, 3)]),
    ("axes-tuple", {"axis": (0, 2)}, [(2, 3, 4), (2, 0, 4)]),
    ("axes-tuple-neg-keepdims", {"axis": (-1, 0), "keepdims": True}, [(3, 2, 4)]),
    ("0d-axis0", {"axis": 0}, [()]),
]

# Reducing an empty axis: defined for sum (0) and prod (1), an error for max/min.
EMPTY_CONFIGS = [
    ("empty-axis", {"axis": 0}, [(0, 3)]),
    ("empty-all", {}, [(2, 0)]),
]

ARG_CONFIGS = [
    ("all", {}, [(3, 4), (), (5,)]),
    ("axis0", {"axis": 0}, [(3, 4), (4, 0)]),
    ("axis-neg-keepdims", {"axis": -1, "keepdims": True}, [(2, 3, 4), (0, 3)]),
    ("all-keepdims", {"keepdims": True}, [(2, 3)]),
    ("0d-axis0", {"axis": 0}, [()]),
]


def uniform(low, high, shapes):
    def samples(rng, dtype):
        return [(rng.uniform(low, high, s).astype(dtype),) for s in shapes]

    return samples


def centered(shapes):
    return uniform(-2.0, 2.0, shapes)


def signed(shapes):
    """Magnitudes in [0.5, 1.5] with random signs: products stay moderate."""

    def samples(rng, dtype):
        out = []
        for s in shapes:
            x = rng.uniform(0.5, 1.5, s) * rng.choice([-1.0, 1.0], s)
            out.append((x.astype(dtype),))
        return out

    return samples


def distinct(shapes):
    """Values 0.37 apart in random order: no ties, so max/min are differentiable."""

    def samples(rng, dtype):
        out = []
        for s in shapes:
            n = int(numpy.prod(s))
            x = (rng.permutation(n) - n / 2) * 0.37
            out.append((x.reshape(s).astype(dtype),))
        return out

    return samples


def integers(shapes, low=-5, high=5):
    """Small integers (ties included), whatever dtype the harness asks for."""

    def samples(rng, dtype):
        return [(rng.integers(low, high, s).astype(dtype),) for s in shapes]

    return samples


def prod_with_zeros(rng, dtype):
    """Rows with 0, 1, 2 and 3 zeros, and whole-array products with one and two zeros."""
    rows = signed([(4, 5)])(rng, dtype)[0][0]
    rows[1, 2] = 0
    rows[2, [0, 3]] = 0
    rows[3, [1, 2, 4]] = 0
    one = signed([(2, 3)])(rng, dtype)[0][0]
    one[1, 0] = 0
    two = signed([(3,)])(rng, dtype)[0][0]
    two[[0, 2]] = 0
    return [(rows,), (one,), (two,)]


def with_axis(function, kwargs):
    """``function`` (ours or numpy's) with fixed ``axis``/``keepdims``/``initial``."""

    def call(x):
        return function(x, **kwargs)

    return call


def family(op, function, reference, configs, samples, **options):
    """One case per configuration of ``axis``/``keepdims``."""
    return [
        OpCase(op, with_axis(function, kwargs), with_axis(reference, kwargs),
               samples(shapes), name=f"{op.__name__}-{name}", **options)
        for name, kwargs, shapes in configs
    ]


def tied_copies(function, copies, axis):
    """``function`` over ``copies`` broadcast copies of x: every winner ties ``copies``
    times, so the split gradient must add up to exactly 1 per element."""

    def call(x):
        stacked = view.broadcast_to(x, (copies,) + tuple(x.shape))
        return function(stacked, axis=axis)

    return call


def tied_reference(function, copies, axis):
    def call(x):
        return function(numpy.broadcast_to(x, (copies,) + x.shape), axis=axis)

    return call


INT_DTYPES = ("int32", "int64")

CASES = [
    *family(rd.Sum, rd.sum, numpy.sum, CONFIGS + EMPTY_CONFIGS, centered),
    OpCase(rd.Sum, rd.sum, numpy.sum, integers([(3, 4), ()]), name="Sum-int",
           dtypes=INT_DTYPES + ("bool",), differentiable=False),
    *family(rd.Max, rd.max, numpy.max, CONFIGS, distinct),
    *family(rd.Min, rd.min, numpy.min, CONFIGS, distinct),
    OpCase(rd.Max, tied_copies(rd.max, 2, 0), tied_reference(numpy.max, 2, 0),
           uniform(-2.0, 2.0, [(3, 4), ()]), name="Max-ties"),
    OpCase(rd.Min, tied_copies(rd.min, 3, (0, -1)), tied_reference(numpy.min, 3, (0, -1)),
           distinct([(2, 4)]), name="Min-ties"),
    OpCase(rd.Max, with_axis(rd.max, {"axis": 0, "initial": 0.5}),
           with_axis(numpy.max, {"axis": 0, "initial": 0.5}),
           distinct([(3, 4), (0, 2)]), name="Max-initial"),
    OpCase(rd.Min, with_axis(rd.min, {"axis": -1, "initial": 0.1}),
           with_axis(numpy.min, {"axis": -1, "initial": 0.1}),
           distinct([(3, 4), (2, 0)]), name="Min-initial"),
    OpCase(rd.Max, with_axis(rd.max, {"axis": 1}), with_axis(numpy.max, {"axis": 1}),
           integers([(3, 4), (2, 3, 2)]), name="Max-int", dtypes=INT_DTYPES + ("bool",),
           differentiable=False),
    OpCase(rd.Min, rd.min, numpy.min, integers([(3, 4), ()]), name="Min-int",
           dtypes=INT_DTYPES, differentiable=False),
    *family(rd.Prod, rd.prod, numpy.prod, CONFIGS + EMPTY_CONFIGS, signed),
    OpCase(rd.Prod, with_axis(rd.prod, {"axis": -1}), with_axis(numpy.prod, {"axis": -1}),
           prod_with_zeros, name="Prod-zeros"),
    OpCase(rd.Prod, with_axis(rd.prod, {"axis": 0, "keepdims": True}),
           with_axis(numpy.prod, {"axis": 0, "keepdims": True}),
           prod_with_zeros, name="Prod-zeros-axis0"),
    OpCase(rd.Prod, rd.prod, numpy.prod, prod_with_zeros, name="Prod-zeros-all"),
    OpCase(rd.Prod, with_axis(rd.prod, {"axis": 1}), with_axis(numpy.prod, {"axis": 1}),
           integers([(3, 4), (2, 0)]), name="Prod-int", dtypes=INT_DTYPES + ("bool",),
           differentiable=False),
    *family(rd.ArgMax, rd.argmax, numpy.argmax, ARG_CONFIGS,
            centered, differentiable=False),
    *family(rd.ArgMin, rd.argmin, numpy.argmin, ARG_CONFIGS,
            centered, differentiable=False),
    OpCase(rd.ArgMax, with_axis(rd.argmax, {"axis": 1}), with_axis(numpy.argmax, {"axis": 1}),
           integers([(4, 6), (3, 5)], low=0, high=3), name="ArgMax-ties-int",
           dtypes=INT_DTYPES + ("bool",), differentiable=False),
    OpCase(rd.ArgMin, rd.argmin, numpy.argmin, integers([(4, 6)], low=0, high=3),
           name="ArgMin-ties-int", dtypes=INT_DTYPES, differentiable=False),
]
