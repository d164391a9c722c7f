"""L.Linear: values, gradients, lazy input size, initializers, dtypes and errors."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.links as L
from dualgrad import initializers
from dualgrad.gradient_check import check_backward


def as_float64(link):
    for param in link.params():
        param.array = param.array.astype(numpy.float64)
    return link


def test_forward_matches_numpy():
    layer = L.Linear(3, 4)
    x = numpy.random.randn(5, 3).astype(numpy.float32)
    y = layer(x)
    assert isinstance(y, dg.Variable)
    numpy.testing.assert_allclose(y.array, x @ layer.W.array.T + layer.b.array, rtol=1e-6)
    assert layer.W.shape == (4, 3) and layer.b.shape == (4,)


def test_backward_matches_finite_differences():
    layer = as_float64(L.Linear(3, 2, initial_bias=0.3))
    x = numpy.random.randn(4, 3)
    check_backward(layer, x, numpy.random.randn(4, 2), params=(layer.W, layer.b))


def test_gradients_land_in_parameters():
    layer = L.Linear(3, 2)
    x = numpy.random.randn(4, 3).astype(numpy.float32)
    layer(x).sum().backward()
    numpy.testing.assert_allclose(layer.W.grad, numpy.tile(x.sum(0), (2, 1)), rtol=1e-5)
    numpy.testing.assert_allclose(layer.b.grad, [4.0, 4.0])


@pytest.mark.parametrize("args", [(None, 2), (2,)])
def test_lazy_in_size_is_inferred_from_the_flattened_input(args):
    layer = L.Linear(*args)
    assert layer.W.array is None and layer.b.shape == (2,)
    x = numpy.random.randn(3, 2, 5).astype(numpy.float32)
    y = layer(x)
    assert layer.W.shape == (2, 10)
    numpy.testing.assert_allclose(y.array, x.reshape(3, 10) @ layer.W.array.T + layer.b.array,
                                  rtol=1e-5)


def test_n_batch_axes_keeps_leading_axes():
    layer = L.Linear(None, 2)
    y = layer(numpy.ones((3, 4, 5), numpy.float32), n_batch_axes=2)
    assert y.shape == (3, 4, 2) and layer.W.shape == (2, 5)


def test_default_initializers_are_lecun_normal_and_zero_bias():
    numpy.random.seed(1)
    W = L.Linear(400, 300).W.array
    assert abs(W.std() - numpy.sqrt(1 / 400)) < 0.002
    assert not L.Linear(4, 3).b.array.any()


def test_initializers_may_be_arrays_scalars_or_callables():
    W0 = numpy.arange(6, dtype=numpy.float32).reshape(2, 3)
    layer = L.Linear(3, 2, initialW=W0, initial_bias=numpy.array([1.0, 2.0]))
    numpy.testing.assert_array_equal(layer.W.array, W0)
    numpy.testing.assert_array_equal(layer.b.array, [1.0, 2.0])
    assert L.Linear(3, 2, initialW=0.5).W.array.tolist() == [[0.5] * 3] * 2
    assert L.Linear(3, 2, initialW=initializers.One()).W.array.sum() == 6


def test_nobias_registers_no_bias():
    layer = L.Linear(3, 2, nobias=True)
    assert layer.b is None
    assert [path for path, _ in layer.namedparams()] == ["/W"]
    x = numpy.ones((1, 3), numpy.float32)
    numpy.testing.assert_allclose(layer(x).array, x @ layer.W.array.T)


def test_parameters_are_float32_and_float64_inputs_work():
    layer = L.Linear(3, 2)
    assert layer.W.dtype == numpy.float32 and layer.b.dtype == numpy.float32
    assert layer(numpy.ones((1, 3), numpy.float32)).dtype == numpy.float32
    y = layer(numpy.ones((1, 3), numpy.float64))
    assert y.dtype == numpy.float64
    y.sum().backward()
    assert layer.W.grad.dtype == numpy.float32


def test_float64_initializers_give_float64_parameters():
    layer = L.Linear(3, 2, initialW=initializers.LeCunNormal(dtype=numpy.float64),
                     initial_bias=initializers.Zero(dtype=numpy.float64))
    assert layer.W.dtype == numpy.float64 and layer.b.dtype == numpy.float64


def test_wrong_input_size_is_a_shape_error_naming_the_link():
    layer = L.Linear(3, 2)
    with pytest.raises(dg.ShapeError, match="Linear") as info:
        layer(numpy.ones((4, 5), numpy.float32))
    assert "(4, 5)" in str(info.value) and "3" in str(info.value)


def test_lazy_link_checks_later_inputs_against_the_inferred_size():
    layer = L.Linear(None, 2)
    layer(numpy.ones((1, 4), numpy.float32))
    with pytest.raises(dg.ShapeError, match="Linear"):
        layer(numpy.ones((1, 5), numpy.float32))


def test_bad_initializer_is_a_type_error():
    with pytest.raises(TypeError, match="initializer"):
        L.Linear(3, 2, initialW="zeros")
