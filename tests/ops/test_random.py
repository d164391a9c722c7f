"""Counter-based random numbers: known answers, statistics, replay and the stream state."""

import math

import numpy
import pytest

import dualgrad as dg
from dualgrad import scalar_ir as S
from dualgrad.core.tape import apply
from dualgrad.ops import random as R

from .cases_random import philox_reference, reference_bernoulli, reference_uniform

MAX = 0xFFFFFFFF
# Random123's published known answers for philox4x32_10 (kat_vectors).
KNOWN_ANSWERS = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((MAX, MAX, MAX, MAX), (MAX, MAX), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344), (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]
N = 100_000


@pytest.fixture(autouse=True)
def _restore_stream():
    state = R.get_state()
    yield
    R.set_state(state)


@pytest.mark.parametrize("counter,key,expected", KNOWN_ANSWERS)
def test_philox_matches_random123_known_answers(counter, key, expected):
    reference = philox_reference([numpy.array([c]) for c in counter], key)
    assert [int(w[0]) for w in reference] == list(expected)
    words = R.philox4x32(numpy, [numpy.array([c]) for c in counter], key)
    assert [int(w[0]) for w in words] == list(expected)


@pytest.mark.parametrize("counter,key,expected", KNOWN_ANSWERS)
def test_philox_expression_matches_known_answers(counter, key, expected):
    words = R.philox4x32_expr([S.cast(numpy.array([c]), "uint32") for c in counter], key)
    assert [int(S.evaluate(w)[0]) for w in words] == list(expected)


def test_high_word_of_the_element_index_reaches_the_lowering():
    """Element 2**32 + 5 uses counter block (5, 1, lo(counter), hi(counter))."""
    key, counter = 0xDEADBEEF12345678, 2**40 + 9
    expr = R.RandomUniform((1,), "float64", key, counter).lower().expr
    got = S.evaluate(expr, (), (numpy.array([2**32 + 5], dtype=numpy.int64),))
    w = philox_reference([[5], [1], [counter & MAX], [counter >> 32]], (key & MAX, key >> 32))
    bits = (int(w[0][0]) >> 5) * 2**26 + (int(w[1][0]) >> 6)
    assert got[0] == bits / 2.0**53


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_is_bit_exact_and_in_unit_interval(dtype):
    op = R.RandomUniform((N,), dtype, 123, 456)
    u = apply(op, ()).array
    numpy.testing.assert_array_equal(u, reference_uniform((N,), dtype, 123, 456))
    assert u.dtype == dtype and u.min() >= 0.0 and u.max() < 1.0


def test_float64_uniform_uses_more_than_24_bits():
    u = R.uniform((1000,), "float64").array
    assert numpy.any(u * 2.0**24 != numpy.floor(u * 2.0**24))


def test_bernoulli_is_bit_exact():
    y = apply(R.RandomBernoulli((N,), 0.37, "float32", 5, 6), ()).array
    numpy.testing.assert_array_equal(y, reference_bernoulli((N,), 0.37, "float32", 5, 6))


def _within_standard_errors(values, mean, variance, k=5.0):
    values = numpy.asarray(values, numpy.float64)
    assert abs(values.mean() - mean) < k * math.sqrt(variance / values.size)
    # Var of the sample variance ~ (mu4 - sigma^4) / n; mu4 <= 3 sigma^4 for these laws.
    assert abs(values.var() - variance) < k * math.sqrt(2.0 * variance**2 / values.size)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_uniform_statistics(dtype):
    R.seed(1)
    _within_standard_errors(R.uniform((N,), dtype).array, 0.5, 1.0 / 12.0)
    scaled = R.uniform((N,), dtype, low=-2.0, high=4.0).array
    assert scaled.dtype == dtype and scaled.min() >= -2.0 and scaled.max() <= 4.0
    _within_standard_errors(scaled, 1.0, 36.0 / 12.0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_normal_statistics(dtype):
    R.seed(2)
    z = R.normal((N,), dtype).array
    assert z.dtype == dtype and numpy.isfinite(z).all()
    _within_standard_errors(z, 0.0, 1.0)
    assert abs(numpy.mean(numpy.abs(z) < 1.0) - 0.682689) < 5 * math.sqrt(0.25 / N)
    _within_standard_errors(R.normal((N,), dtype, mean=3.0, std=0.5).array, 3.0, 0.25)


@pytest.mark.parametrize("p", [0.0, 0.1, 0.5, 0.97, 1.0])
def test_bernoulli_rate(p):
    R.seed(3)
    y = R.bernoulli((N,), p).array
    assert set(numpy.unique(y)) <= {0.0, 1.0}
    assert abs(y.mean() - p) <= 5 * math.sqrt(p * (1 - p) / N) + 1e-12


def test_same_key_and_counter_replay_the_same_numbers():
    for op_class, extra in [(R.RandomUniform, ()), (R.RandomNormal, ()),
                            (R.RandomBernoulli, (0.5,))]:
        first = apply(op_class((50,), *extra, "float32", 9, 77), ()).array
        again = apply(op_class((50,), *extra, "float32", 9, 77), ()).array
        other = apply(op_class((50,), *extra, "float32", 9, 78), ()).array
        numpy.testing.assert_array_equal(first, again)
        assert not numpy.array_equal(first, other)


def test_element_depends_only_on_its_index_not_on_the_shape():
    small = apply(R.RandomNormal((10,), "float64", 1, 2), ()).array
    large = apply(R.RandomNormal((4, 25), "float64", 1, 2), ()).array
    numpy.testing.assert_array_equal(small, large.reshape(-1)[:10])


def test_successive_calls_draw_fresh_numbers_and_advance_the_counter():
    R.seed(11)
    a = R.uniform((100,)).array
    assert R.get_state() == (11, 100)
    b = R.uniform((100,)).array
    assert R.get_state() == (11, 200)
    assert not numpy.array_equal(a, b)
    assert R.next_key_counter(5) == (11, 200) and R.get_state() == (11, 205)


def test_seed_reproduces_the_stream():
    R.seed(42)
    first = [R.uniform((3, 4)).array, R.normal(7).array, R.bernoulli(9, 0.5).array]
    R.seed(42)
    again = [R.uniform((3, 4)).array, R.normal(7).array, R.bernoulli(9, 0.5).array]
    for x, y in zip(first, again):
        numpy.testing.assert_array_equal(x, y)
    R.seed(43)
    assert not numpy.array_equal(R.uniform((3, 4)).array, first[0])


def test_draws_need_no_gradient():
    y = R.normal((3,))
    assert y.creator is None and not y.requires_grad
    assert R.RandomNormal((3,), "float32", 0, 0).backward(None, (), None, ()) == ()


def test_invalid_arguments_are_typed_errors_and_draw_nothing():
    R.seed(0)
    with pytest.raises(dg.DTypeError, match="RandomUniform"):
        R.uniform((3,), "int32")
    with pytest.raises(dg.ShapeError, match="non-negative"):
        R.normal((2, -1))
    with pytest.raises(ValueError, match="probability"):
        R.bernoulli((3,), 1.5)
    with pytest.raises(ValueError, match="seed"):
        R.seed(-1)
    assert R.get_state() == (0, 0)


def test_bernoulli_other_dtypes():
    y = R.bernoulli((20,), 0.5, dtype="bool").array
    assert y.dtype == numpy.bool_
    assert R.bernoulli((20,), 0.5, dtype="int32").array.dtype == numpy.int32


@pytest.mark.gpu
def test_cupy_draws_the_same_numbers():
    cupy = pytest.importorskip("cupy")
    for draw in (lambda xp: R.uniform((1000,), "float32", xp=xp),
                 lambda xp: R.uniform((1000,), "float64", xp=xp),
                 lambda xp: R.bernoulli((1000,), 0.3, xp=xp)):
        R.seed(5)
        on_cpu = draw(numpy).array
        R.seed(5)
        on_gpu = draw(cupy).array
        assert isinstance(on_gpu, cupy.ndarray)
        numpy.testing.assert_array_equal(on_cpu, cupy.asnumpy(on_gpu))
    R.seed(5)
    z_cpu = R.normal((1000,), "float64").array
    R.seed(5)
    z_gpu = cupy.asnumpy(R.normal((1000,), "float64", xp=cupy).array)
    numpy.testing.assert_allclose(z_cpu, z_gpu, rtol=1e-12, atol=1e-12)
