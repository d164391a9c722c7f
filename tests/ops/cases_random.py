"""Harness cases for the counter-based random ops (dualgrad/ops/random.py).

The reference is an independent, deliberately plain Philox4x32-10 (uint64 arithmetic,
Python-int keys), pinned to the Random123 known-answer vectors in test_random.py.
Samples are ``(shape, dtype, key, counter)`` tuples: the ops take no array inputs.
"""

import numpy

from dualgrad.core.tape import apply
from dualgrad.ops import random as R

from .harness import OpCase

MASK = 0xFFFFFFFF


def philox_reference(counter, key, rounds=10):
    """Philox4x32 of four arrays of 32-bit counter words and a ``(k0, k1)`` key.

    Each round: ``(c0, c1, c2, c3) <- (hi(M1*c2) ^ c1 ^ k0, lo(M1*c2), hi(M0*c0) ^ c3 ^ k1,
    lo(M0*c0))``; then the key is bumped by the Weyl constants.
    """
    c = [numpy.asarray(w, dtype=numpy.uint64) & numpy.uint64(MASK) for w in counter]
    k0, k1 = key
    for _ in range(rounds):
        p0 = numpy.uint64(0xD2511F53) * c[0]
        p1 = numpy.uint64(0xCD9E8D57) * c[2]
        c = [
            (p1 >> numpy.uint64(32)) ^ c[1] ^ numpy.uint64(k0),
            p1 & numpy.uint64(MASK),
            (p0 >> numpy.uint64(32)) ^ c[3] ^ numpy.uint64(k1),
            p0 & numpy.uint64(MASK),
        ]
        k0 = (k0 + 0x9E3779B9) & MASK
        k1 = (k1 + 0xBB67AE85) & MASK
    return c


def reference_words(shape, key, counter):
    """The four words of each element: block ``(lo(i), hi(i), lo(counter), hi(counter))``."""
    size = int(numpy.prod(shape, dtype=numpy.int64))
    i = numpy.arange(size, dtype=numpy.uint64)
    ones = numpy.ones(size, dtype=numpy.uint64)
    block = (i & numpy.uint64(MASK), i >> numpy.uint64(32),
             ones * numpy.uint64(counter & MASK), ones * numpy.uint64(counter >> 32))
    return philox_reference(block, (key & MASK, key >> 32))


def reference_uniform(shape, dtype, key, counter):
    w = reference_words(shape, key, counter)
    if dtype == "float32":
        value = (w[0] >> numpy.uint64(8)).astype(numpy.float64) / 2.0**24
    else:
        bits = ((w[0] >> numpy.uint64(5)) << numpy.uint64(26)) | (w[1] >> numpy.uint64(6))
        value = bits.astype(numpy.float64) / 2.0**53
    return value.astype(dtype).reshape(shape)


def reference_normal(shape, dtype, key, counter):
    w = reference_words(shape, key, counter)
    if dtype == "float32":
        u1 = (w[0] >> numpy.uint64(8)).astype(numpy.float64) / 2.0**24
        u2 = (w[1] >> numpy.uint64(8)).astype(numpy.float64) / 2.0**24
    else:
        pairs = [((w[a] >> numpy.uint64(5)) << numpy.uint64(26)) | (w[b] >> numpy.uint64(6))
                 for a, b in ((0, 1), (2, 3))]
        u1, u2 = (p.astype(numpy.float64) / 2.0**53 for p in pairs)
    z = numpy.sqrt(-2.0 * numpy.log(1.0 - u1)) * numpy.cos(2.0 * numpy.pi * u2)
    return z.astype(dtype).reshape(shape)


def reference_bernoulli(shape, p, dtype, key, counter):
    w = reference_words(shape, key, counter)
    u = (w[0] >> numpy.uint64(8)).astype(numpy.float64) / 2.0**24
    return (u < p).astype(dtype).reshape(shape)


KEYS_COUNTERS = [(0, 0), (2**64 - 1, 2**64 - 1), (0x0123456789ABCDEF, 2**32 + 3), (7, 12345)]
SHAPES = [(3, 4), (), (0,), (2, 0, 3), (1000,)]


def draws(rng, dtype):
    return [(shape, dtype.name) + KEYS_COUNTERS[n % len(KEYS_COUNTERS)]
            for n, shape in enumerate(SHAPES)]


def uniform_op(shape, dtype, key, counter):
    return apply(R.RandomUniform(shape, dtype, key, counter), ())


def normal_op(shape, dtype, key, counter):
    return apply(R.RandomNormal(shape, dtype, key, counter), ())


def bernoulli_samples(rng, dtype):
    probabilities = [0.3, 0.0, 1.0, 0.5, 0.9]
    return [(shape, p, dtype_name, key, counter)
            for (shape, dtype_name, key, counter), p in zip(draws(rng, dtype), probabilities)]


def bernoulli_op(shape, p, dtype, key, counter):
    return apply(R.RandomBernoulli(shape, p, dtype, key, counter), ())


CASES = [
    OpCase(R.RandomUniform, uniform_op, reference_uniform, draws, differentiable=False,
           atol=0.0, rtol=0.0),
    OpCase(R.RandomNormal, normal_op, reference_normal, draws, differentiable=False),
    OpCase(R.RandomBernoulli, bernoulli_op, reference_bernoulli, bernoulli_samples,
           differentiable=False, atol=0.0, rtol=0.0),
]
