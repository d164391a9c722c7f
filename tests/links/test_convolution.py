"""L.Convolution2D and L.Deconvolution2D against direct numpy loops."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.links as L
from dualgrad.gradient_check import check_backward


def as_float64(link):
    for param in link.params():
        param.array = param.array.astype(numpy.float64)
    return link


def conv2d_reference(x, W, b, stride=(1, 1), pad=(0, 0), dilate=(1, 1), groups=1):
    """Sum over the kernel taps of strided slices of the padded input."""
    n, _, h, w = x.shape
    out_c, c_per_group, kh, kw = W.shape
    (sy, sx), (ph, pw), (dy, dx) = stride, pad, dilate
    padded = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - (kh - 1) * dy - 1) // sy + 1
    ow = (w + 2 * pw - (kw - 1) * dx - 1) // sx + 1
    y = numpy.zeros((n, out_c, oh, ow))
    o_per_group = out_c // groups
    for g in range(groups):
        xs = padded[:, g * c_per_group:(g + 1) * c_per_group]
        ws = W[g * o_per_group:(g + 1) * o_per_group]
        for i in range(kh):
            for j in range(kw):
                patch = xs[:, :, i * dy:i * dy + sy * (oh - 1) + 1:sy,
                           j * dx:j * dx + sx * (ow - 1) + 1:sx]
                y[:, g * o_per_group:(g + 1) * o_per_group] += numpy.einsum(
                    "nchw,oc->nohw", patch, ws[:, :, i, j])
    return y if b is None else y + b[None, :, None, None]


def deconv2d_reference(x, W, b, stride=(1, 1), pad=(0, 0), outsize=None):
    """Scatter every input pixel times the kernel into the (uncropped) output."""
    n, _, h, w = x.shape
    _, out_c, kh, kw = W.shape
    (sy, sx), (ph, pw) = stride, pad
    oh, ow = outsize or (sy * (h - 1) + kh - 2 * ph, sx * (w - 1) + kw - 2 * pw)
    full = numpy.zeros((n, out_c, max(sy * (h - 1) + kh, oh + ph), max(sx * (w - 1) + kw, ow + pw)))
    for i in range(kh):
        for j in range(kw):
            full[:, :, i:i + sy * (h - 1) + 1:sy, j:j + sx * (w - 1) + 1:sx] += numpy.einsum(
                "nchw,co->nohw", x, W[:, :, i, j])
    y = full[:, :, ph:ph + oh, pw:pw + ow]
    return y if b is None else y + b[None, :, None, None]


def test_seed_usage_gives_the_documented_shape():
    conv = L.Convolution2D(in_channels=1, out_channels=6, ksize=(5, 5))
    y = conv(numpy.random.rand(32, 1, 28, 28).astype(numpy.float32))
    assert y.shape == (32, 6, 24, 24) and isinstance(y.array, numpy.ndarray)
    assert conv.W.shape == (6, 1, 5, 5) and conv.b.shape == (6,)


@pytest.mark.parametrize("kwargs", [
    {},
    {"stride": 2, "pad": 1},
    {"stride": (1, 2), "pad": (2, 0), "dilate": 2},
    {"groups": 2},
])
def test_convolution_matches_numpy(kwargs):
    conv = L.Convolution2D(4, 6, 3, initial_bias=0.1, **kwargs)
    x = numpy.random.randn(2, 4, 7, 6).astype(numpy.float32)
    expected = conv2d_reference(
        x, conv.W.array, conv.b.array, conv.stride, conv.pad, conv.dilate, conv.groups)
    numpy.testing.assert_allclose(conv(x).array, expected, rtol=1e-4, atol=1e-5)


def test_convolution_backward():
    conv = as_float64(L.Convolution2D(2, 3, 2, stride=2, pad=1, initial_bias=0.2))
    x = numpy.random.randn(2, 2, 4, 3)
    check_backward(conv, x, numpy.random.randn(2, 3, 3, 2), params=(conv.W, conv.b))


@pytest.mark.parametrize("args", [(3, 2), (None, 3, 2)])
def test_convolution_lazy_in_channels(args):
    conv = L.Convolution2D(*args)
    assert conv.W.array is None
    y = conv(numpy.ones((1, 5, 4, 4), numpy.float32))
    assert conv.W.shape == (3, 5, 2, 2) and y.shape == (1, 3, 3, 3)


def test_convolution_groups_divide_channels():
    with pytest.raises(ValueError, match="divisible"):
        L.Convolution2D(4, 6, 3, groups=4)
    assert L.Convolution2D(4, 6, 3, groups=2).W.shape == (6, 2, 3, 3)


def test_convolution_nobias_and_dtypes():
    conv = L.Convolution2D(2, 3, 1, nobias=True)
    assert conv.b is None and conv.W.dtype == numpy.float32
    assert conv(numpy.ones((1, 2, 2, 2))).dtype == numpy.float64


def test_convolution_wrong_channels_or_rank_are_shape_errors():
    conv = L.Convolution2D(3, 4, 3)
    with pytest.raises(dg.ShapeError, match="Convolution2D.*3") as info:
        conv(numpy.ones((2, 5, 6, 6), numpy.float32))
    assert "(2, 5, 6, 6)" in str(info.value)
    with pytest.raises(dg.ShapeError, match="Convolution2D.*4 axes"):
        conv(numpy.ones((3, 6, 6), numpy.float32))


@pytest.mark.parametrize("kwargs", [
    {},
    {"stride": 2, "pad": 1},
    {"stride": 2, "outsize": (8, 10)},
])
def test_deconvolution_matches_numpy(kwargs):
    deconv = L.Deconvolution2D(3, 2, 3, initial_bias=0.5, **kwargs)
    x = numpy.random.randn(2, 3, 4, 5).astype(numpy.float32)
    y = deconv(x)
    expected = deconv2d_reference(x, deconv.W.array, deconv.b.array, deconv.stride,
                                  deconv.pad, kwargs.get("outsize"))
    assert y.shape == expected.shape
    numpy.testing.assert_allclose(y.array, expected, rtol=1e-4, atol=1e-5)


def test_deconvolution_backward():
    deconv = as_float64(L.Deconvolution2D(2, 3, 2, stride=2, initial_bias=0.2))
    x = numpy.random.randn(1, 2, 3, 2)
    check_backward(deconv, x, numpy.random.randn(1, 3, 6, 4), params=(deconv.W, deconv.b))


def test_deconvolution_shapes_lazy_and_chainer_outsize_spelling():
    deconv = L.Deconvolution2D(4, 3, outsize=(None, None))
    assert deconv.W.array is None
    y = deconv(numpy.ones((1, 2, 5, 5), numpy.float32))
    assert deconv.W.shape == (2, 4, 3, 3) and y.shape == (1, 4, 7, 7)
    assert L.Deconvolution2D(4, 6, 3, groups=2).W.shape == (4, 3, 3, 3)


def test_deconvolution_wrong_channels_is_a_shape_error():
    deconv = L.Deconvolution2D(3, 2, 3)
    with pytest.raises(dg.ShapeError, match="Deconvolution2D"):
        deconv(numpy.ones((1, 2, 4, 4), numpy.float32))
