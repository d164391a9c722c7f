"""The scalar IR: printing is canonical, evaluation is numpy's, arity is checked."""

import math

import numpy
import pytest

from dualgrad import scalar_ir as S
from dualgrad.ops.special import erf


def test_printing_is_canonical_and_readable():
    x = S.arg(0)
    assert str(S.tanh(x) * 0.5 + 0.5) == "add(mul(tanh(x0), 0.5), 0.5)"
    assert str(S.cast(S.index(1), "float32")) == "cast<float32>(i1)"


def test_equal_expressions_are_equal_and_hash_equal():
    a = S.exp(S.arg(0)) + 1.0
    b = S.exp(S.arg(0)) + 1.0
    assert a == b and hash(a) == hash(b)


def test_evaluate_matches_numpy_and_shares_subexpressions():
    x = numpy.linspace(-2, 2, 7)
    shared = S.exp(S.arg(0))
    expr = S.where(S.call("gt", S.arg(0), 0.0), shared, shared * 2.0)
    numpy.testing.assert_allclose(
        S.evaluate(expr, (x,)), numpy.where(x > 0, numpy.exp(x), 2 * numpy.exp(x))
    )


def test_unknown_op_and_wrong_arity_are_rejected():
    with pytest.raises(ValueError, match="unknown scalar op"):
        S.call("frobnicate", S.arg(0))
    with pytest.raises(ValueError, match="takes 2 operands"):
        S.call("add", S.arg(0))


def test_mulhi_is_the_high_word_of_the_64_bit_product():
    a = numpy.array([0xFFFFFFFF, 0x12345678], dtype=numpy.uint32)
    b = numpy.array([0xFFFFFFFF, 0x9ABCDEF0], dtype=numpy.uint32)
    expected = [(int(p) * int(q)) >> 32 for p, q in zip(a, b)]
    assert S.evaluate(S.call("mulhi", S.arg(0), S.arg(1)), (a, b)).tolist() == expected


def test_erf_is_accurate_to_float64_round_off():
    x = numpy.concatenate([numpy.linspace(-7, 7, 4001), [0.0, 1e-300, -1e-8, 2.5, -2.5]])
    reference = numpy.array([math.erf(v) for v in x])
    error = numpy.abs(erf(numpy, x) - reference) / numpy.maximum(numpy.abs(reference), 1e-300)
    assert error.max() < 1e-14


def test_erf_handles_infinities_nan_and_keeps_float32():
    x = numpy.array([numpy.inf, -numpy.inf, numpy.nan, 0.5], dtype=numpy.float32)
    y = erf(numpy, x)
    assert y.dtype == numpy.float32
    assert y[0] == 1 and y[1] == -1 and numpy.isnan(y[2])
    assert abs(float(y[3]) - math.erf(0.5)) < 1e-7
