"""Harness cases for the matrix product (dualgrad/ops/linalg.py)."""

import numpy

from dualgrad.ops import linalg

from .harness import OpCase

# (a shape, b shape) pairs as numpy.matmul takes them.
PLAIN = [
    ((3, 4), (4, 2)),  # 2-D
    ((2, 3, 4), (2, 4, 5)),  # batched
    ((2, 1, 3, 4), (5, 4, 2)),  # batch axes broadcast both ways
    ((2, 3, 4), (4, 5)),  # a matrix against a stack
    ((0, 3, 4), (4, 2)),  # size-0 batch
    ((3, 0), (0, 2)),  # empty inner dimension: a zero matrix
    ((4,), (4, 3)),  # 1-D a: a row vector
    ((2, 4, 3), (3,)),  # 1-D b: a column vector
    ((4,), (4,)),  # two vectors: a dot product
]

# (a shape, b shape, transa, transb): shapes as stored, before the flags transpose them.
TRANSPOSED = [
    ((4, 3), (4, 2), True, False),
    ((3, 4), (2, 4), False, True),
    ((2, 4, 3), (1, 2, 4), True, True),
    ((1, 4, 3), (3, 4, 2), True, False),
    ((4,), (2, 4), True, True),  # the flags leave 1-D inputs alone, as in Chainer
]


def plain_samples(rng, dtype):
    return [
        (rng.uniform(-1, 1, sa).astype(dtype), rng.uniform(-1, 1, sb).astype(dtype))
        for sa, sb in PLAIN
    ]


def int_samples(rng, dtype):
    return [
        (rng.integers(-4, 4, sa).astype(dtype), rng.integers(-4, 4, sb).astype(dtype))
        for sa, sb in PLAIN
    ]


def _numpy_transposed(x, flag):
    return numpy.swapaxes(x, -1, -2) if flag and x.ndim >= 2 else x


def transposed_case(shape_a, shape_b, transa, transb):
    def samples(rng, dtype):
        return [(rng.uniform(-1, 1, shape_a).astype(dtype),
                 rng.uniform(-1, 1, shape_b).astype(dtype))]

    def call(a, b):
        return linalg.matmul(a, b, transa=transa, transb=transb)

    def reference(a, b):
        return numpy.matmul(_numpy_transposed(a, transa), _numpy_transposed(b, transb))

    flags = f"{'T' if transa else 'N'}{'T' if transb else 'N'}"
    return OpCase(linalg.MatMul, call, reference, samples,
                  name=f"MatMul-{flags}-{'x'.join(map(str, shape_a))}")


CASES = [
    OpCase(linalg.MatMul, linalg.matmul, numpy.matmul, plain_samples),
    OpCase(linalg.MatMul, linalg.matmul, numpy.matmul, int_samples, name="MatMul-int",
           dtypes=("int32", "int64"), differentiable=False),
    *(transposed_case(*config) for config in TRANSPOSED),
]
