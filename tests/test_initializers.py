import math

import numpy
import pytest

import dualgrad as dg
from dualgrad import initializers


def filled(initializer, shape, dtype=numpy.float32):
    array = numpy.full(shape, numpy.nan, dtype=dtype)
    initializer(array)
    return array


def test_initializers_are_reachable_as_dg_initializers():
    assert dg.initializers is initializers
    for name in ("Zero", "One", "Constant", "Normal", "Uniform", "LeCunUniform", "LeCunNormal",
                 "GlorotUniform", "GlorotNormal", "HeUniform", "HeNormal", "Orthogonal"):
        assert callable(getattr(dg.initializers, name))


def test_fans_follow_chainer_for_linear_and_convolution_weights():
    assert initializers.get_fans((20, 10)) == (10, 20)
    # (out_channels, in_channels, kh, kw): the receptive field multiplies both fans
    assert initializers.get_fans((6, 1, 5, 5)) == (25, 150)
    with pytest.raises(dg.ShapeError, match="rank >= 2"):
        initializers.LeCunUniform()(numpy.empty(5, numpy.float32))


def test_constants_fill_every_element_in_place():
    assert numpy.all(filled(initializers.Zero(), (2, 3)) == 0)
    assert numpy.all(filled(initializers.One(), (2, 3)) == 1)
    assert numpy.all(filled(initializers.Constant(2.5), (4,)) == 2.5)
    row = filled(initializers.Constant(numpy.array([1.0, 2.0, 3.0])), (2, 3))
    numpy.testing.assert_array_equal(row, [[1, 2, 3], [1, 2, 3]])
    assert filled(initializers.Constant(7.0), ()).item() == 7.0


def test_dtype_attribute_is_checked_against_the_array():
    initializer = initializers.Normal(dtype=numpy.float64)
    assert initializer.dtype == numpy.float64
    with pytest.raises(dg.DTypeError, match="float64"):
        initializer(numpy.empty((2, 2), numpy.float32))
    assert initializers.Zero().dtype is None


@pytest.mark.parametrize("initializer, std", [
    (initializers.Normal(), 0.05),
    (initializers.Normal(scale=0.3), 0.3),
    (initializers.Uniform(), 0.05 / math.sqrt(3)),
])  # fmt: skip
def test_plain_random_initializers_have_the_documented_spread(initializer, std):
    w = filled(initializer, (300, 200))
    assert abs(w.mean()) < 0.05 * std
    assert w.std() == pytest.approx(std, rel=0.03)


def test_lecun_uniform_stays_inside_its_bound_and_reaches_it():
    w = filled(initializers.LeCunUniform(scale=2.0), (400, 8, 3, 3))
    bound = 2.0 * math.sqrt(3.0 / (8 * 3 * 3))
    assert numpy.abs(w).max() <= bound
    assert numpy.abs(w).max() > 0.99 * bound
    assert w.std() == pytest.approx(2.0 / math.sqrt(8 * 9), rel=0.03)


@pytest.mark.parametrize("initializer, expected_std", [
    (initializers.LeCunNormal(), math.sqrt(1 / 200)),
    (initializers.GlorotNormal(), math.sqrt(2 / (200 + 300))),
    (initializers.GlorotUniform(), math.sqrt(2 / (200 + 300))),
    (initializers.HeNormal(), math.sqrt(2 / 200)),
    (initializers.HeUniform(), math.sqrt(2 / 200)),
    (initializers.HeNormal(fan_option="fan_out"), math.sqrt(2 / 300)),
    (initializers.HeNormal(scale=0.5), 0.5 * math.sqrt(2 / 200)),
])  # fmt: skip
def test_fan_scaled_initializers_match_their_variance(initializer, expected_std):
    w = filled(initializer, (300, 200))  # fan_in = 200, fan_out = 300
    assert w.std() == pytest.approx(expected_std, rel=0.03)


def test_glorot_uniform_bound():
    w = filled(initializers.GlorotUniform(), (300, 200))
    assert numpy.abs(w).max() <= math.sqrt(6 / 500)


@pytest.mark.parametrize("shape", [(4, 10), (10, 4), (6, 1, 5, 5), (5, 5)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    w = filled(initializers.Orthogonal(scale=1.0), shape, numpy.float64)
    matrix = w.reshape(shape[0], -1)
    rows, cols = matrix.shape
    gram = matrix @ matrix.T if rows <= cols else matrix.T @ matrix
    numpy.testing.assert_allclose(gram, numpy.eye(min(rows, cols)), atol=1e-12)


def test_orthogonal_scale_defaults_to_chainers():
    w = filled(initializers.Orthogonal(), (3, 7), numpy.float64)
    numpy.testing.assert_allclose(w @ w.T, 1.1**2 * numpy.eye(3), atol=1e-12)


def test_numpy_seed_makes_initial_weights_reproducible():
    numpy.random.seed(42)
    first = filled(initializers.GlorotUniform(), (5, 4))
    numpy.random.seed(42)
    second = filled(initializers.GlorotUniform(), (5, 4))
    numpy.testing.assert_array_equal(first, second)


def test_explicit_generator_is_used_and_leaves_the_global_state_alone():
    state = numpy.random.get_state()[1].copy()
    a = filled(initializers.HeNormal(rng=numpy.random.default_rng(3)), (5, 4))
    b = filled(initializers.HeNormal(rng=numpy.random.default_rng(3)), (5, 4))
    numpy.testing.assert_array_equal(a, b)
    numpy.testing.assert_array_equal(numpy.random.get_state()[1], state)
    c = filled(initializers.Orthogonal(rng=numpy.random.default_rng(3)), (3, 4))
    assert numpy.isfinite(c).all()


def test_generate_array_builds_a_fresh_array():
    array = initializers.generate_array(initializers.One(), 3)
    assert array.dtype == numpy.float32 and array.tolist() == [1, 1, 1]
    assert initializers.generate_array(0.5, (2, 2), dtype=numpy.float64).dtype == numpy.float64


# -- Parameter construction ------------------------------------------------------------------


def test_parameter_from_initializer_and_shape():
    W = dg.Parameter(initializers.LeCunUniform(), (6, 1, 5, 5))
    b = dg.Parameter(initializers.Zero(), 6)  # an int shape, as Chainer code passes for biases
    assert W.shape == (6, 1, 5, 5) and W.dtype == numpy.float32
    assert numpy.abs(W.array).max() <= math.sqrt(3 / 25)
    assert b.shape == (6,) and numpy.all(b.array == 0)
    assert W.requires_grad and b.requires_grad


def test_parameter_takes_its_dtype_from_the_initializer():
    p = dg.Parameter(initializers.Normal(dtype=numpy.float64), (2, 3))
    assert p.dtype == numpy.float64


def test_parameter_from_array_and_from_scalar():
    data = numpy.arange(6, dtype=numpy.float32).reshape(2, 3)
    p = dg.Parameter(data)
    assert p.array is data and p.requires_grad
    q = dg.Parameter(0.25, (2,))
    numpy.testing.assert_array_equal(q.array, numpy.full(2, 0.25, numpy.float32))


def test_parameter_without_shape_waits_for_initialize():
    p = dg.Parameter(initializers.One())
    assert not p.is_initialized
    p.initialize((2, 2))
    assert p.is_initialized and numpy.all(p.array == 1)


def test_initialized_parameter_trains_like_a_variable():
    W = dg.Parameter(initializers.GlorotNormal(), (3, 2))
    loss = (W * W).sum()
    loss.backward()
    numpy.testing.assert_allclose(W.grad, 2 * W.array, rtol=1e-6)
