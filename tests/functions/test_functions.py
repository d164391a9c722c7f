"""Every F function against a numpy reference, with float64 gradient checks.

One row per call: ``Row(name, fn, ref, inputs)``; ``inputs(rng)`` returns the
arguments (float64 arrays are differentiated, integer/bool arrays are not).
"""

import dataclasses
import math
from collections.abc import Callable

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
from dualgrad.gradient_check import check_backward, check_double_backward
from tests.ops.cases_stable import (
    log_softmax_reference,
    logsumexp_reference,
    sigmoid_cross_entropy_reference,
    softmax_cross_entropy_reference,
)


@dataclasses.dataclass
class Row:
    name: str
    fn: Callable
    ref: Callable
    inputs: Callable
    grad: bool = True
    double: bool = True
    atol: float = 1e-10
    rtol: float = 1e-7

    def __str__(self):
        return self.name


def normal(*shape, low=None):
    def make(rng):
        x = rng.standard_normal(shape)
        return x if low is None else numpy.abs(x) + low
    return make


def args(*makers):
    def make(rng):
        return tuple(m(rng) if callable(m) else m for m in makers)
    return make


def labels(n_classes, *shape, low=-1):
    def make(rng):
        return rng.integers(low, n_classes, shape).astype(numpy.int32)
    return make


def sigmoid_ref(x):
    return 1.0 / (1.0 + numpy.exp(-x))


def softmax_ref(x, axis=1):
    return numpy.exp(log_softmax_reference(x, axis))


def erf_ref(x):
    return numpy.vectorize(math.erf)(x)


def _pair(v):
    return tuple(v) if isinstance(v, tuple) else (v, v)


def conv2d_ref(x, W, b=None, stride=1, pad=0, dilate=1, groups=1):
    (sy, sx), (ph, pw), (dy, dx) = _pair(stride), _pair(pad), _pair(dilate)
    n, _, h, w = x.shape
    oc, cg, kh, kw = W.shape
    padded = numpy.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    oh = (h + 2 * ph - (kh - 1) * dy - 1) // sy + 1
    ow = (w + 2 * pw - (kw - 1) * dx - 1) // sx + 1
    y = numpy.zeros((n, oc, oh, ow))
    for o in range(oc):
        g = o // (oc // groups)
        for i in range(kh):
            for j in range(kw):
                patch = padded[:, g * cg:(g + 1) * cg, i * dy:i * dy + sy * (oh - 1) + 1:sy,
                               j * dx:j * dx + sx * (ow - 1) + 1:sx]
                y[:, o] += numpy.einsum("nchw,c->nhw", patch, W[o, :, i, j])
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def deconv2d_ref(x, W, b=None, stride=1, pad=0):
    (sy, sx), (ph, pw) = _pair(stride), _pair(pad)
    n, ic, h, w = x.shape
    _, oc, kh, kw = W.shape
    full = numpy.zeros((n, oc, sy * (h - 1) + kh, sx * (w - 1) + kw))
    for i in range(kh):
        for j in range(kw):
            full[:, :, i:i + sy * (h - 1) + 1:sy, j:j + sx * (w - 1) + 1:sx] += numpy.einsum(
                "nchw,co->nohw", x, W[:, :, i, j])
    y = full[:, :, ph:full.shape[2] - ph, pw:full.shape[3] - pw]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def pool_ref(x, k, s, p, reducer, cover_all=False, fill=0.0):
    n, c, h, w = x.shape
    extra = s - 1 if cover_all else 0
    padded = numpy.pad(x, ((0, 0), (0, 0), (p, p + extra), (p, p + extra)),
                       constant_values=fill)
    oh = (h + 2 * p - k + extra) // s + 1
    ow = (w + 2 * p - k + extra) // s + 1
    y = numpy.empty((n, c, oh, ow))
    for a in range(oh):
        for b in range(ow):
            y[:, :, a, b] = reducer(padded[:, :, a * s:a * s + k, b * s:b * s + k], axis=(2, 3))
    return y


def batch_norm_ref(x, gamma, beta, eps=2e-5, axes=(0,)):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    shape = [1 if d in axes else n for d, n in enumerate(x.shape)]
    return gamma.reshape(shape) * (x - mean) / numpy.sqrt(var + eps) + beta.reshape(shape)


def layer_norm_ref(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    return gamma * (x - mean) / numpy.sqrt(x.var(axis=-1, keepdims=True) + eps) + beta


def fixed_batch_norm_ref(x, gamma, beta, mean, var, eps=2e-5):
    def channel(a):
        return a.reshape(1, -1, 1)
    return channel(gamma) * (x - channel(mean)) / numpy.sqrt(channel(var) + eps) + channel(beta)


def lstm_ref(c_prev, x):
    batch, hidden = x.shape[0], x.shape[1] // 4
    r = x.reshape(batch, hidden, 4)
    a, i, f, o = (r[:, :, k] for k in range(4))
    c = numpy.tanh(a) * sigmoid_ref(i) + sigmoid_ref(f) * c_prev[:batch]
    h = sigmoid_ref(o) * numpy.tanh(c)
    return numpy.concatenate([c, c_prev[batch:]], axis=0), h


def accuracy_ref(y, t, ignore_label=None):
    pred = y.argmax(axis=1)
    if ignore_label is None:
        return numpy.mean(pred == t)
    valid = t != ignore_label
    return numpy.sum((pred == t) & valid) / max(valid.sum(), 1)


def weighted_sce_ref(x, t, w, reduce="mean"):
    per = softmax_cross_entropy_reference(x, t, reduce="no") * w[numpy.where(t >= 0, t, 0)]
    return per if reduce == "no" else per.sum() / max((t != -1).sum(), 1)


def positive_kink_free(*shape, low=0.1):
    return normal(*shape, low=low)


ROWS = [
    # activations
    Row("relu", F.relu, lambda x: numpy.maximum(x, 0), args(normal(3, 4))),
    Row("leaky_relu", F.leaky_relu, lambda x: numpy.where(x >= 0, x, 0.2 * x), args(normal(3, 4))),
    Row("leaky_relu-slope", lambda x: F.leaky_relu(x, slope=0.05),
        lambda x: numpy.where(x >= 0, x, 0.05 * x), args(normal(5))),
    Row("elu", F.elu, lambda x: numpy.where(x > 0, x, numpy.expm1(x)), args(normal(3, 4))),
    Row("elu-alpha", lambda x: F.elu(x, alpha=0.5),
        lambda x: numpy.where(x > 0, x, 0.5 * numpy.expm1(x)), args(normal(3, 4))),
    Row("selu", F.selu, lambda x: 1.0507009873554805 * numpy.where(
        x > 0, x, 1.6732632423543772 * numpy.expm1(x)), args(normal(6))),
    Row("sigmoid", F.sigmoid, sigmoid_ref, args(lambda rng: 4 * rng.standard_normal((3, 4)))),
    Row("hard_sigmoid", F.hard_sigmoid, lambda x: numpy.clip(0.2 * x + 0.5, 0, 1),
        args(lambda rng: 4 * rng.standard_normal((3, 4)))),
    Row("tanh", F.tanh, numpy.tanh, args(normal(3, 4))),
    Row("softplus", F.softplus, lambda x: numpy.log1p(numpy.exp(x)), args(normal(3, 4))),
    Row("softplus-beta", lambda x: F.softplus(x, beta=2.0),
        lambda x: numpy.log1p(numpy.exp(2 * x)) / 2, args(normal(3, 4))),
    Row("softmax", F.softmax, softmax_ref, args(normal(3, 4))),
    Row("softmax-axis", lambda x: F.softmax(x, axis=-1), lambda x: softmax_ref(x, -1),
        args(normal(2, 3, 4))),
    Row("log_softmax", F.log_softmax, log_softmax_reference, args(normal(3, 4))),
    Row("gelu", F.gelu, lambda x: 0.5 * x * (1 + erf_ref(x / math.sqrt(2))), args(normal(8))),
    # math
    Row("exp", F.exp, numpy.exp, args(normal(3, 4))),
    Row("log", F.log, numpy.log, args(positive_kink_free(3, 4))),
    Row("log1p", F.log1p, numpy.log1p, args(positive_kink_free(3, 4))),
    Row("expm1", F.expm1, numpy.expm1, args(normal(3, 4))),
    Row("sqrt", F.sqrt, numpy.sqrt, args(positive_kink_free(3, 4))),
    Row("square", F.square, numpy.square, args(normal(3, 4))),
    Row("absolute", F.absolute, numpy.abs, args(normal(3, 4))),
    Row("sin", F.sin, numpy.sin, args(normal(3, 4))),
    Row("cos", F.cos, numpy.cos, args(normal(3, 4))),
    Row("erf", F.erf, erf_ref, args(normal(3, 4)), rtol=1e-12),
    Row("sign", F.sign, numpy.sign, args(normal(3, 4)), grad=False),
    Row("floor", F.floor, numpy.floor, args(normal(3, 4)), grad=False),
    Row("maximum", F.maximum, numpy.maximum, args(normal(3, 4), normal(4))),
    Row("minimum", F.minimum, numpy.minimum, args(normal(3, 4), normal(3, 1))),
    Row("clip", lambda x: F.clip(x, -0.5, 0.7), lambda x: numpy.clip(x, -0.5, 0.7),
        args(normal(4, 5))),
    Row("clip-no-max", lambda x: F.clip(x, -0.5, None), lambda x: numpy.maximum(x, -0.5),
        args(normal(4, 5))),
    Row("identity", F.identity, lambda x: x, args(normal(3))),
    Row("sum", F.sum, numpy.sum, args(normal(3, 4))),
    Row("sum-axis", lambda x: F.sum(x, axis=(0, 2), keepdims=True),
        lambda x: numpy.sum(x, axis=(0, 2), keepdims=True), args(normal(2, 3, 4))),
    Row("mean", F.mean, numpy.mean, args(normal(3, 4))),
    Row("mean-axis", lambda x: F.mean(x, axis=1, keepdims=True),
        lambda x: numpy.mean(x, axis=1, keepdims=True), args(normal(3, 4))),
    Row("mean-weights", lambda x, w: F.mean(x, axis=0, weights=w),
        lambda x, w: numpy.average(x, axis=0, weights=w),
        args(normal(3, 4), positive_kink_free(3, 4))),
    Row("max", lambda x: F.max(x, axis=1), lambda x: numpy.max(x, axis=1), args(normal(3, 4))),
    Row("min", lambda x: F.min(x, keepdims=True), lambda x: numpy.min(x, keepdims=True),
        args(normal(3, 4))),
    Row("argmax", lambda x: F.argmax(x, axis=0), lambda x: numpy.argmax(x, axis=0),
        args(normal(3, 4)), grad=False),
    Row("argmin", F.argmin, numpy.argmin, args(normal(3, 4)), grad=False),
    Row("prod", lambda x: F.prod(x, axis=1), lambda x: numpy.prod(x, axis=1), args(normal(3, 4))),
    Row("logsumexp", F.logsumexp, logsumexp_reference, args(normal(3, 4))),
    Row("logsumexp-axis", lambda x: F.logsumexp(x, axis=1),
        lambda x: logsumexp_reference(x, axis=1), args(normal(3, 4))),
    Row("matmul", F.matmul, numpy.matmul, args(normal(3, 4), normal(4, 2))),
    Row("matmul-trans", lambda a, b: F.matmul(a, b, transa=True, transb=True),
        lambda a, b: a.T @ b.T, args(normal(4, 3), normal(2, 4))),
    Row("matmul-batch", F.matmul, numpy.matmul, args(normal(2, 3, 4), normal(4, 5))),
    Row("batch_matmul", F.batch_matmul, numpy.matmul, args(normal(2, 3, 4), normal(2, 4, 5))),
    Row("batch_matmul-2d", lambda a, b: F.batch_matmul(a, b, transa=True),
        lambda a, b: a[:, None, :] @ b, args(normal(2, 3), normal(2, 3, 5))),
    # arrays
    Row("reshape", lambda x: F.reshape(x, (4, -1)), lambda x: x.reshape(4, -1),
        args(normal(2, 6))),
    Row("transpose", F.transpose, numpy.transpose, args(normal(2, 3, 4))),
    Row("transpose-axes", lambda x: F.transpose(x, (1, 2, 0)),
        lambda x: x.transpose(1, 2, 0), args(normal(2, 3, 4))),
    Row("swapaxes", lambda x: F.swapaxes(x, 0, 2), lambda x: x.swapaxes(0, 2),
        args(normal(2, 3, 4))),
    Row("broadcast_to", lambda x: F.broadcast_to(x, (2, 3, 4)),
        lambda x: numpy.broadcast_to(x, (2, 3, 4)), args(normal(3, 1))),
    Row("broadcast", F.broadcast, numpy.broadcast_arrays, args(normal(3, 1), normal(4))),
    Row("expand_dims", lambda x: F.expand_dims(x, -1), lambda x: x[..., None],
        args(normal(2, 3))),
    Row("squeeze", F.squeeze, numpy.squeeze, args(normal(2, 1, 3, 1))),
    Row("squeeze-axis", lambda x: F.squeeze(x, axis=1), lambda x: x.squeeze(1),
        args(normal(2, 1, 3, 1))),
    Row("flatten", F.flatten, numpy.ravel, args(normal(2, 3))),
    Row("get_item", lambda x: F.get_item(x, (slice(None, None, -1), 1)),
        lambda x: x[::-1, 1], args(normal(3, 4))),
    Row("get_item-advanced", lambda x: F.get_item(x, ([0, 2, 0], slice(1, 3))),
        lambda x: x[[0, 2, 0], 1:3], args(normal(3, 4))),
    Row("concat", lambda a, b: F.concat([a, b]), lambda a, b: numpy.concatenate([a, b], 1),
        args(normal(2, 3), normal(2, 1))),
    Row("concat-axis0", lambda a, b: F.concat((a, b), axis=0),
        lambda a, b: numpy.concatenate([a, b], 0), args(normal(2, 3), normal(1, 3))),
    Row("stack", lambda a, b: F.stack([a, b], axis=1), lambda a, b: numpy.stack([a, b], 1),
        args(normal(2, 3), normal(2, 3))),
    Row("split_axis-sections", lambda x: F.split_axis(x, 3, axis=1),
        lambda x: numpy.split(x, 3, axis=1), args(normal(2, 6))),
    Row("split_axis-indices", lambda x: F.split_axis(x, [1, 3], axis=0),
        lambda x: numpy.split(x, [1, 3], axis=0), args(normal(4, 2))),
    Row("pad", lambda x: F.pad(x, ((1, 0), (2, 1)), constant_values=0.5),
        lambda x: numpy.pad(x, ((1, 0), (2, 1)), constant_values=0.5), args(normal(2, 3))),
    Row("where", F.where, numpy.where,
        args(lambda rng: rng.random((3, 4)) > 0.5, normal(3, 4), normal(4))),
    Row("cast", lambda x: F.cast(x, "float32") * 1.0, lambda x: x.astype("float32"),
        args(normal(3)), grad=False, rtol=1e-6),
    Row("tile", lambda x: F.tile(x, (2, 1, 3)), lambda x: numpy.tile(x, (2, 1, 3)),
        args(normal(2, 3))),
    Row("repeat", lambda x: F.repeat(x, 2, axis=1), lambda x: numpy.repeat(x, 2, axis=1),
        args(normal(2, 3))),
    Row("repeat-list", lambda x: F.repeat(x, [2, 0, 1]), lambda x: numpy.repeat(x, [2, 0, 1]),
        args(normal(3))),
    # connections
    Row("linear", F.linear, lambda x, W, b: x @ W.T + b, args(normal(4, 3), normal(2, 3),
                                                              normal(2))),
    Row("linear-nobias", F.linear, lambda x, W: x @ W.T, args(normal(4, 3), normal(2, 3))),
    Row("linear-flatten", F.linear, lambda x, W: x.reshape(2, -1) @ W.T,
        args(normal(2, 3, 2), normal(5, 6))),
    Row("linear-batch-axes", lambda x, W, b: F.linear(x, W, b, n_batch_axes=2),
        lambda x, W, b: x @ W.T + b, args(normal(2, 3, 4), normal(5, 4), normal(5))),
    Row("convolution_2d", lambda x, W, b: F.convolution_2d(x, W, b, stride=2, pad=1),
        lambda x, W, b: conv2d_ref(x, W, b, stride=2, pad=1),
        args(normal(2, 3, 5, 5), normal(4, 3, 3, 3), normal(4))),
    Row("convolution_2d-groups", lambda x, W: F.convolution_2d(x, W, groups=2, dilate=2),
        lambda x, W: conv2d_ref(x, W, groups=2, dilate=2),
        args(normal(1, 4, 6, 6), normal(4, 2, 2, 2))),
    Row("deconvolution_2d", lambda x, W, b: F.deconvolution_2d(x, W, b, stride=2, pad=1),
        lambda x, W, b: deconv2d_ref(x, W, b, stride=2, pad=1),
        args(normal(2, 3, 3, 3), normal(3, 2, 3, 3), normal(2))),
    Row("embed_id", lambda x, W: F.embed_id(x, W), lambda x, W: W[x],
        args(labels(5, 2, 3, low=0), normal(5, 4))),
    Row("embed_id-ignore", lambda x, W: F.embed_id(x, W, ignore_label=-1),
        lambda x, W: numpy.where((x >= 0)[..., None], W[numpy.maximum(x, 0)], 0.0),
        args(labels(5, 2, 3), normal(5, 4))),
    # pooling
    Row("max_pooling_2d", lambda x: F.max_pooling_2d(x, 2, cover_all=False),
        lambda x: pool_ref(x, 2, 2, 0, numpy.max), args(normal(2, 3, 4, 4))),
    Row("max_pooling_2d-cover_all", lambda x: F.max_pooling_2d(x, 3, stride=2, pad=1),
        lambda x: pool_ref(x, 3, 2, 1, numpy.max, cover_all=True, fill=-numpy.inf),
        args(normal(1, 2, 6, 6))),
    Row("average_pooling_2d", lambda x: F.average_pooling_2d(x, 3, stride=2, pad=1),
        lambda x: pool_ref(x, 3, 2, 1, numpy.mean), args(normal(2, 2, 5, 5))),
    # normalization
    Row("batch_normalization", F.batch_normalization,
        lambda x, g, b: batch_norm_ref(x, g, b, axes=(0, 2, 3)),
        args(normal(4, 3, 2, 2), normal(3), normal(3)), atol=1e-9),
    Row("batch_normalization-2d", lambda x, g, b: F.batch_normalization(x, g, b, eps=1e-3),
        lambda x, g, b: batch_norm_ref(x, g, b, eps=1e-3),
        args(normal(5, 3), normal(3), normal(3)), atol=1e-9),
    Row("fixed_batch_normalization", F.fixed_batch_normalization,
        fixed_batch_norm_ref,
        args(normal(3, 2, 4), normal(2), normal(2), normal(2), positive_kink_free(2))),
    Row("layer_normalization", F.layer_normalization,
        layer_norm_ref,
        args(normal(3, 5), normal(5), normal(5)), atol=1e-9),
    # losses
    Row("softmax_cross_entropy", F.softmax_cross_entropy, softmax_cross_entropy_reference,
        args(normal(6, 4), labels(4, 6))),
    Row("softmax_cross_entropy-no", lambda x, t: F.softmax_cross_entropy(x, t, reduce="no"),
        lambda x, t: softmax_cross_entropy_reference(x, t, reduce="no"),
        args(normal(2, 3, 4), labels(3, 2, 4))),
    Row("softmax_cross_entropy-class_weight",
        lambda x, t, w: F.softmax_cross_entropy(x, t, class_weight=w), weighted_sce_ref,
        args(normal(6, 4), labels(4, 6), positive_kink_free(4))),
    Row("sigmoid_cross_entropy", F.sigmoid_cross_entropy, sigmoid_cross_entropy_reference,
        args(normal(5, 3), labels(2, 5, 3))),
    Row("sigmoid_cross_entropy-no",
        lambda x, t: F.sigmoid_cross_entropy(x, t, normalize=False, reduce="no"),
        lambda x, t: sigmoid_cross_entropy_reference(x, t, False, "no"),
        args(normal(5, 3), labels(2, 5, 3))),
    Row("mean_squared_error", F.mean_squared_error, lambda a, b: numpy.mean((a - b) ** 2),
        args(normal(3, 4), normal(3, 4))),
    Row("mean_absolute_error", F.mean_absolute_error, lambda a, b: numpy.mean(numpy.abs(a - b)),
        args(normal(3, 4), normal(3, 4))),
    Row("accuracy", F.accuracy, accuracy_ref, args(normal(8, 3), labels(3, 8, low=0)),
        grad=False),
    Row("accuracy-ignore", lambda y, t: F.accuracy(y, t, ignore_label=-1),
        lambda y, t: accuracy_ref(y, t, -1), args(normal(8, 3), labels(3, 8)), grad=False),
    # recurrent
    Row("lstm", F.lstm, lstm_ref, args(normal(3, 2), normal(3, 8))),
    Row("lstm-shorter-batch", F.lstm, lstm_ref, args(normal(4, 2), normal(2, 8))),
]


def _as_tuple(y):
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def _is_float(a):
    return isinstance(a, numpy.ndarray) and a.dtype.kind == "f"


def _make(row, seed=0):
    return row.inputs(numpy.random.default_rng(seed))


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_forward_matches_numpy(row):
    inputs = _make(row)
    ys = _as_tuple(row.fn(*inputs))
    expected = _as_tuple(row.ref(*[numpy.array(a) for a in inputs]))
    assert len(ys) == len(expected)
    for y, e in zip(ys, expected):
        assert isinstance(y, dg.Variable), f"{row.name} returned {type(y).__name__}"
        assert y.shape == numpy.shape(e)
        numpy.testing.assert_allclose(y.array, e, atol=row.atol, rtol=row.rtol)


@pytest.mark.parametrize("row", [r for r in ROWS if r.grad], ids=str)
def test_float32_stays_float32(row):
    inputs = [a.astype(numpy.float32) if _is_float(a) else a for a in _make(row)]
    for y in _as_tuple(row.fn(*inputs)):
        assert y.dtype == numpy.float32, f"{row.name} gave {y.dtype} for float32 inputs"


def _split(inputs):
    positions = [i for i, a in enumerate(inputs) if _is_float(a)]

    def call(fn):
        def on_floats(*floats):
            full = list(inputs)
            for p, value in zip(positions, floats):
                full[p] = value
            return fn(*full)
        return on_floats

    return positions, call


@pytest.mark.parametrize("row", [r for r in ROWS if r.grad], ids=str)
def test_backward_matches_finite_differences(row):
    inputs = _make(row)
    positions, call = _split(inputs)
    rng = numpy.random.default_rng(1)
    ys = _as_tuple(row.fn(*inputs))
    gys = tuple(rng.standard_normal(y.shape) for y in ys)
    check_backward(call(row.fn), tuple(inputs[p] for p in positions), gys, eps=1e-4,
                   atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("row", [r for r in ROWS if r.grad and r.double], ids=str)
def test_double_backward_matches_finite_differences(row):
    inputs = _make(row)
    positions, call = _split(inputs)
    rng = numpy.random.default_rng(2)
    ys = _as_tuple(row.fn(*inputs))
    gys = tuple(rng.standard_normal(y.shape) for y in ys)
    ggxs = tuple(rng.standard_normal(inputs[p].shape) for p in positions)
    check_double_backward(call(row.fn), tuple(inputs[p] for p in positions), gys, ggxs,
                          eps=1e-4, atol=1e-5, rtol=1e-4)
