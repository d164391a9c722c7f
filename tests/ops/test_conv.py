"""Convolution and pooling composites against direct loops (and PyTorch where installed)."""

import numpy
import pytest

import dualgrad as dg
from dualgrad.gradient_check import check_backward, check_double_backward
from dualgrad.ops import conv

from .cases_conv import windows


def _pairs(*values):
    return [v if isinstance(v, tuple) else (v, v) for v in values]


def conv_reference(x, W, b, stride, pad, dilate=1, groups=1, cover_all=False):
    """y[n, o, p, q] = b[o] + sum W[o, c, i, j] * x[n, g*cg + c, p*sy + i*dy - ph, ...]."""
    (sy, sx), (ph, pw), (dy, dx) = _pairs(stride, pad, dilate)
    n, _, h, w = x.shape
    out_c, cg, kh, kw = W.shape
    oh, ow = windows(h, kh, sy, ph, dy, cover_all), windows(w, kw, sx, pw, dx, cover_all)
    y = numpy.zeros((n, out_c, oh, ow), dtype=numpy.float64)
    for o in range(out_c):
        first = (o // (out_c // groups)) * cg
        for p in range(oh):
            for q in range(ow):
                for c in range(cg):
                    for i in range(kh):
                        for j in range(kw):
                            row, col = p * sy + i * dy - ph, q * sx + j * dx - pw
                            if 0 <= row < h and 0 <= col < w:
                                y[:, o, p, q] += W[o, c, i, j] * x[:, first + c, row, col]
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def deconv_reference(x, W, b, stride, pad, outsize, dilate=1, groups=1):
    """Scatter each input pixel times the kernel: the transpose of ``conv_reference``."""
    (sy, sx), (ph, pw), (dy, dx) = _pairs(stride, pad, dilate)
    n, in_c, h, w = x.shape
    _, og, kh, kw = W.shape
    out_h, out_w = outsize
    y = numpy.zeros((n, og * groups, out_h, out_w), dtype=numpy.float64)
    for c in range(in_c):
        first = (c // (in_c // groups)) * og
        for o in range(og):
            for a in range(h):
                for e in range(w):
                    for i in range(kh):
                        for j in range(kw):
                            row, col = a * sy + i * dy - ph, e * sx + j * dx - pw
                            if 0 <= row < out_h and 0 <= col < out_w:
                                y[:, first + o, row, col] += x[:, c, a, e] * W[c, o, i, j]
    if b is not None:
        y += b.reshape(1, -1, 1, 1)
    return y


def pool_reference(x, ksize, stride, pad, cover_all, kind):
    """Max over the in-image part of each window, or its sum over kh*kw (zero padding)."""
    (kh, kw), (sy, sx), (ph, pw) = _pairs(ksize, stride, pad)
    n, c, h, w = x.shape
    oh, ow = windows(h, kh, sy, ph, 1, cover_all), windows(w, kw, sx, pw, 1, cover_all)
    y = numpy.zeros((n, c, oh, ow), dtype=numpy.float64)
    for p in range(oh):
        for q in range(ow):
            rows = slice(max(p * sy - ph, 0), min(p * sy - ph + kh, h))
            cols = slice(max(q * sx - pw, 0), min(q * sx - pw + kw, w))
            window = x[:, :, rows, cols]
            if kind == "max":
                y[:, :, p, q] = window.max(axis=(2, 3))
            else:
                y[:, :, p, q] = window.sum(axis=(2, 3)) / (kh * kw)
    return y


CONV_SETTINGS = [
    dict(stride=1, pad=0),
    dict(stride=2, pad=1),
    dict(stride=(2, 1), pad=(0, 2), dilate=(1, 2)),
    dict(stride=2, pad=1, groups=2),
    dict(stride=3, pad=1, cover_all=True),
    dict(stride=1, pad=2, dilate=2, groups=4),
]


def _conv_inputs(rng, settings, dtype="float64"):
    groups = settings.get("groups", 1)
    x = rng.standard_normal((2, 4, 7, 6)).astype(dtype)
    W = rng.standard_normal((4 * (2 if groups < 4 else 1), 4 // groups, 3, 2)).astype(dtype)
    b = rng.standard_normal(W.shape[0]).astype(dtype)
    return x, W, b


@pytest.mark.parametrize("settings", CONV_SETTINGS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_convolution_2d_matches_loops(settings, dtype):
    x, W, b = _conv_inputs(numpy.random.default_rng(0), settings, dtype)
    y = conv.convolution_2d(x, W, b, **settings)
    expected = conv_reference(x.astype("float64"), W.astype("float64"), b.astype("float64"),
                              **settings)
    assert y.dtype == dtype and y.shape == expected.shape
    tolerance = 1e-4 if dtype == "float32" else 1e-12
    numpy.testing.assert_allclose(y.array, expected, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("settings", CONV_SETTINGS, ids=str)
def test_convolution_2d_gradients(settings):
    x, W, b = _conv_inputs(numpy.random.default_rng(1), settings)
    y = conv.convolution_2d(x, W, b, **settings)
    gy = numpy.random.default_rng(2).standard_normal(y.shape)
    check_backward(lambda x, W, b: conv.convolution_2d(x, W, b, **settings), (x, W, b), gy,
                   dtype=numpy.float64, eps=1e-4, atol=1e-6, rtol=1e-5)


def test_convolution_2d_double_backward():
    rng = numpy.random.default_rng(3)
    x, W = rng.standard_normal((1, 2, 4, 4)), rng.standard_normal((3, 2, 2, 2))
    gy = rng.standard_normal((1, 3, 3, 3))
    check_double_backward(lambda x, W: conv.convolution_2d(x, W, stride=2, pad=1), (x, W), gy,
                          (rng.standard_normal(x.shape), rng.standard_normal(W.shape)),
                          dtype=numpy.float64, eps=1e-4)


DECONV_SETTINGS = [
    dict(stride=1, pad=0),
    dict(stride=2, pad=1),
    dict(stride=(2, 3), pad=(1, 0), dilate=(2, 1)),
    dict(stride=2, pad=0, groups=2),
    dict(stride=3, pad=1, outsize=(9, 8)),  # one more than the default: cover_all's size
]


def _default_outsize(x, W, settings):
    (sy, sx), (ph, pw), (dy, dx) = _pairs(settings["stride"], settings["pad"],
                                          settings.get("dilate", 1))
    return (sy * (x.shape[2] - 1) + (W.shape[2] - 1) * dy + 1 - 2 * ph,
            sx * (x.shape[3] - 1) + (W.shape[3] - 1) * dx + 1 - 2 * pw)


def _deconv_inputs(rng, settings):
    x = rng.standard_normal((2, 4, 3, 3))
    W = rng.standard_normal((4, 3, 3, 2))
    return x, W, rng.standard_normal(3 * settings.get("groups", 1))


@pytest.mark.parametrize("settings", DECONV_SETTINGS, ids=str)
def test_deconvolution_2d_matches_loops_and_gradients(settings):
    rng = numpy.random.default_rng(4)
    x, W, b = _deconv_inputs(rng, settings)
    y = conv.deconvolution_2d(x, W, b, **settings)
    outsize = settings.get("outsize") or _default_outsize(x, W, settings)
    options = {k: v for k, v in settings.items() if k != "outsize"}
    expected = deconv_reference(x, W, b, outsize=outsize, **options)
    assert y.shape == expected.shape
    numpy.testing.assert_allclose(y.array, expected, rtol=1e-12, atol=1e-12)
    gy = rng.standard_normal(y.shape)
    check_backward(lambda x, W, b: conv.deconvolution_2d(x, W, b, **settings), (x, W, b), gy,
                   dtype=numpy.float64, eps=1e-4, atol=1e-6, rtol=1e-5)


def test_deconvolution_is_the_gradient_of_convolution():
    rng = numpy.random.default_rng(5)
    x = dg.Variable(rng.standard_normal((2, 3, 7, 7)))
    W = rng.standard_normal((4, 3, 3, 3))
    y = conv.convolution_2d(x, W, stride=2, pad=1)
    gy = rng.standard_normal(y.shape)
    y.grad = gy
    y.backward()
    back = conv.deconvolution_2d(gy, W, stride=2, pad=1, outsize=(7, 7))
    numpy.testing.assert_allclose(x.grad, back.array, rtol=1e-12, atol=1e-12)


POOL_SETTINGS = [
    dict(ksize=2, stride=None, pad=0),
    dict(ksize=3, stride=2, pad=1),
    dict(ksize=(3, 2), stride=(2, 3), pad=(1, 0)),
    dict(ksize=2, stride=1, pad=1),
]


def _distinct_values(rng, shape):
    """No ties within a window, so max pooling's gradient is unambiguous."""
    return (rng.permutation(int(numpy.prod(shape))).reshape(shape) - 30.0) * 0.1


@pytest.mark.parametrize("settings", POOL_SETTINGS, ids=str)
@pytest.mark.parametrize("cover_all", [True, False])
def test_max_pooling_2d_matches_loops_and_gradient(settings, cover_all):
    rng = numpy.random.default_rng(6)
    x = _distinct_values(rng, (2, 3, 5, 7))
    stride = settings["stride"] or settings["ksize"]
    y = conv.max_pooling_2d(x, settings["ksize"], settings["stride"], settings["pad"],
                            cover_all=cover_all)
    expected = pool_reference(x, settings["ksize"], stride, settings["pad"], cover_all, "max")
    numpy.testing.assert_array_equal(y.array, expected)
    check_backward(
        lambda x: conv.max_pooling_2d(x, settings["ksize"], settings["stride"],
                                      settings["pad"], cover_all=cover_all),
        x, rng.standard_normal(y.shape), dtype=numpy.float64, eps=1e-4, atol=1e-6, rtol=1e-5,
    )


@pytest.mark.parametrize("settings", POOL_SETTINGS, ids=str)
def test_average_pooling_2d_matches_loops_and_gradient(settings):
    rng = numpy.random.default_rng(7)
    x = rng.standard_normal((2, 3, 5, 7))
    stride = settings["stride"] or settings["ksize"]
    y = conv.average_pooling_2d(x, settings["ksize"], settings["stride"], settings["pad"])
    expected = pool_reference(x, settings["ksize"], stride, settings["pad"], False, "mean")
    numpy.testing.assert_allclose(y.array, expected, rtol=1e-12, atol=1e-12)
    check_backward(
        lambda x: conv.average_pooling_2d(x, settings["ksize"], settings["stride"],
                                          settings["pad"]),
        x, rng.standard_normal(y.shape), dtype=numpy.float64, eps=1e-4, atol=1e-6, rtol=1e-5,
    )


def test_max_pooling_padding_never_wins_and_stays_finite_in_debug_mode():
    x = -numpy.ones((1, 1, 3, 3), dtype=numpy.float32)
    with dg.using_config("debug", 1):
        y = conv.max_pooling_2d(x, 2, 2, pad=1, cover_all=False)
    numpy.testing.assert_array_equal(y.array, -numpy.ones((1, 1, 2, 2), numpy.float32))
    assert y.dtype == numpy.float32


def test_max_pooling_default_covers_every_pixel_as_chainer():
    x = numpy.arange(25.0).reshape(1, 1, 5, 5)
    assert conv.max_pooling_2d(x, 2).shape == (1, 1, 3, 3)
    assert conv.max_pooling_2d(x, 2, cover_all=False).shape == (1, 1, 2, 2)
    assert conv.max_pooling_2d(x, 2).array[0, 0, 2, 2] == 24.0


def test_channel_mismatch_names_both_shapes():
    x, W = numpy.zeros((1, 3, 5, 5)), numpy.zeros((2, 4, 3, 3))
    with pytest.raises(dg.ShapeError, match=r"3 input channels.*expects 4") as info:
        conv.convolution_2d(x, W)
    assert "float64[1,3,5,5]" in str(info.value) and "float64[2,4,3,3]" in str(info.value)
    with pytest.raises(dg.ShapeError, match="expects 2"):
        conv.deconvolution_2d(x, numpy.zeros((2, 4, 3, 3)))
    with pytest.raises(dg.ShapeError, match="groups"):
        conv.convolution_2d(numpy.zeros((1, 4, 5, 5)), numpy.zeros((3, 2, 3, 3)), groups=2)
    with pytest.raises(dg.ShapeError, match="bias|b must"):
        conv.convolution_2d(x, numpy.zeros((2, 3, 3, 3)), numpy.zeros(3))


def test_geometry_errors_are_typed():
    with pytest.raises(dg.ShapeError, match="does not fit"):
        conv.im2col(numpy.zeros((1, 1, 2, 2)), 3)
    with pytest.raises(dg.ShapeError, match="rank"):
        conv.im2col(numpy.zeros((2, 2, 2)), 1)
    with pytest.raises(dg.ShapeError, match="stride"):
        conv.im2col(numpy.zeros((1, 1, 4, 4)), 2, stride=0)
    with pytest.raises(dg.ShapeError, match="do not tile"):
        conv.col2im(numpy.zeros((1, 1, 2, 2, 3, 3)), 1, 0, (6, 6))
    with pytest.raises(dg.ShapeError, match="outsize"):
        conv.deconvolution_2d(numpy.zeros((1, 2, 3, 3)), numpy.zeros((2, 1, 3, 3)),
                              stride=2, outsize=(12, 12))


def test_matches_pytorch():
    torch = pytest.importorskip("torch")
    functional = torch.nn.functional
    rng = numpy.random.default_rng(8)
    x = rng.standard_normal((2, 4, 9, 8))
    W, b = rng.standard_normal((6, 2, 3, 3)), rng.standard_normal(6)
    options = dict(stride=(2, 1), padding=(1, 2), dilation=(2, 1), groups=2)
    expected = functional.conv2d(*map(torch.tensor, (x, W, b)), **options).numpy()
    got = conv.convolution_2d(x, W, b, stride=(2, 1), pad=(1, 2), dilate=(2, 1), groups=2)
    numpy.testing.assert_allclose(got.array, expected, rtol=1e-10, atol=1e-10)
    Wt = rng.standard_normal((4, 3, 3, 2))
    expected = functional.conv_transpose2d(torch.tensor(x), torch.tensor(Wt), stride=2,
                                           padding=1, groups=2, dilation=(1, 2)).numpy()
    got = conv.deconvolution_2d(x, Wt, stride=2, pad=1, groups=2, dilate=(1, 2))
    numpy.testing.assert_allclose(got.array, expected, rtol=1e-10, atol=1e-10)
    expected = functional.max_pool2d(torch.tensor(x), 3, 2, 1).numpy()
    got = conv.max_pooling_2d(x, 3, 2, 1, cover_all=False)
    numpy.testing.assert_array_equal(got.array, expected)
    expected = functional.avg_pool2d(torch.tensor(x), 3, 2, 1, count_include_pad=True).numpy()
    numpy.testing.assert_allclose(conv.average_pooling_2d(x, 3, 2, 1).array, expected,
                                  rtol=1e-12, atol=1e-12)
