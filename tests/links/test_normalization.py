"""L.BatchNormalization (train vs test, running statistics, fine-tuning) and
L.LayerNormalization."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.links as L
from dualgrad.gradient_check import check_backward


def as_float64(link):
    for param in link.params():
        param.array = param.array.astype(numpy.float64)
    return link


def normalize(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    return (x - mean) / numpy.sqrt(x.var(axis=axes, keepdims=True) + eps)


# -- BatchNormalization ------------------------------------------------------------------


def test_train_mode_uses_batch_statistics_and_updates_running_ones():
    bn = L.BatchNormalization(3, initial_gamma=2.0, initial_beta=0.5)
    x = numpy.random.randn(8, 3, 2, 2).astype(numpy.float32) * 3 + 1
    y = bn(x)
    expected = 2.0 * normalize(x.astype(numpy.float64), (0, 2, 3), 2e-5) + 0.5
    numpy.testing.assert_allclose(y.array, expected, rtol=1e-4, atol=1e-4)
    n = 8 * 2 * 2
    numpy.testing.assert_allclose(bn.avg_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-5)
    unbiased = x.var(axis=(0, 2, 3)) * n / (n - 1)
    numpy.testing.assert_allclose(bn.avg_var, 0.9 + 0.1 * unbiased, rtol=1e-5)


def test_test_mode_uses_running_statistics_and_leaves_them_alone():
    bn = L.BatchNormalization(2, initial_avg_mean=numpy.array([1.0, -1.0]),
                              initial_avg_var=numpy.array([4.0, 0.25]), eps=0.0)
    x = numpy.array([[3.0, 0.0], [1.0, -1.0]], numpy.float32)
    with dg.using_config("train", False):
        y = bn(x)
    numpy.testing.assert_allclose(y.array, [[1.0, 2.0], [0.0, 0.0]], rtol=1e-6)
    numpy.testing.assert_array_equal(bn.avg_mean, [1.0, -1.0])
    numpy.testing.assert_array_equal(bn.avg_var, [4.0, 0.25])


def test_running_statistics_converge_to_the_data_statistics():
    bn = L.BatchNormalization(2, decay=0.5)
    data = numpy.random.randn(20, 64, 2) * numpy.array([1.0, 3.0]) + numpy.array([5.0, -2.0])
    for x in data:
        bn(x.astype(numpy.float32))
    numpy.testing.assert_allclose(bn.avg_mean, [5.0, -2.0], atol=0.5)
    numpy.testing.assert_allclose(bn.avg_var, [1.0, 9.0], rtol=0.35)


def test_finetune_averages_every_batch_since_start():
    bn = L.BatchNormalization(1)
    batches = [numpy.full((4, 1), v, numpy.float32) + numpy.array([[0], [1], [2], [3]])
               for v in (0.0, 10.0, 20.0)]
    bn.start_finetuning()
    for x in batches:
        bn(x, finetune=True)
    assert bn.N == 3
    numpy.testing.assert_allclose(bn.avg_mean, [11.5], rtol=1e-6)
    assert [name for name, _ in bn.namedpersistents()] == ["/N", "/avg_mean", "/avg_var"]


def test_parameters_dtypes_and_use_gamma_beta():
    bn = L.BatchNormalization(4)
    assert [path for path, _ in bn.namedparams()] == ["/gamma", "/beta"]
    assert bn.gamma.dtype == bn.avg_mean.dtype == numpy.float32
    assert bn(numpy.random.randn(3, 4)).dtype == numpy.float64
    assert L.BatchNormalization(4, dtype=numpy.float64).avg_var.dtype == numpy.float64
    plain = L.BatchNormalization(2, use_gamma=False, use_beta=False)
    assert list(plain.params()) == []
    x = numpy.array([[1.0, 2.0], [3.0, 6.0]])
    numpy.testing.assert_allclose(plain(x).array, normalize(x, (0,), 2e-5), rtol=1e-6)


def test_lazy_size_from_axis():
    bn = L.BatchNormalization(axis=(0, 2))
    assert bn.avg_mean is None and bn.gamma.array is None
    y = bn(numpy.random.randn(5, 3, 4).astype(numpy.float32))
    assert bn.gamma.shape == (3,) and bn.avg_var.shape == (3,) and y.shape == (5, 3, 4)
    with pytest.raises(ValueError, match="needs size"):
        L.BatchNormalization()


def test_batch_normalization_backward_in_train_and_test_modes():
    bn = as_float64(L.BatchNormalization(3, initial_gamma=1.5, initial_beta=0.2))
    bn.avg_mean = bn.avg_mean.astype(numpy.float64)
    bn.avg_var = bn.avg_var.astype(numpy.float64)
    x = numpy.random.randn(4, 3, 2)
    gy = numpy.random.randn(4, 3, 2)
    check_backward(bn, x, gy, params=(bn.gamma, bn.beta))
    with dg.using_config("train", False):
        check_backward(bn, x, gy, params=(bn.gamma, bn.beta))


def test_batch_normalization_wrong_size_is_a_shape_error():
    with pytest.raises(dg.ShapeError, match="BatchNormalization") as info:
        L.BatchNormalization(3)(numpy.ones((2, 4), numpy.float32))
    assert "(2, 4)" in str(info.value)


# -- LayerNormalization ------------------------------------------------------------------


def test_layer_normalization_matches_numpy_and_backward():
    ln = L.LayerNormalization(4, initial_gamma=numpy.array([1.0, 2.0, 3.0, 4.0]),
                              initial_beta=0.5)
    x = numpy.random.randn(3, 4).astype(numpy.float32)
    expected = normalize(x.astype(numpy.float64), (1,), 1e-6) * [1, 2, 3, 4] + 0.5
    numpy.testing.assert_allclose(ln(x).array, expected, rtol=1e-4, atol=1e-5)
    as_float64(ln)
    check_backward(ln, x.astype(numpy.float64), numpy.random.randn(3, 4),
                   params=(ln.gamma, ln.beta))


def test_layer_normalization_lazy_size_and_leading_axes():
    ln = L.LayerNormalization()
    assert ln.gamma.array is None
    ln(numpy.ones((2, 5), numpy.float32))
    assert ln.gamma.shape == (5,) and ln.beta.shape == (5,)
    assert ln(numpy.random.randn(2, 7, 5)).shape == (2, 7, 5)
    with pytest.raises(dg.ShapeError, match="LayerNormalization"):
        ln(numpy.ones((2, 4), numpy.float32))
