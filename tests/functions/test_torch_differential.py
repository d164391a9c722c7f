"""Every F function with a PyTorch equivalent, against PyTorch: values and input gradients.

One row per call: ``Row(name, dg_call, torch_call, inputs)``.  Float64 arrays from
``inputs(rng)`` become dualgrad Variables and torch leaf tensors (differentiated unless
listed in ``constant``); integer and boolean arrays are passed as they are (int64 for
torch).  Gradients are those of ``sum_k <y_k, gy_k>`` for random ``gy_k``.
"""

import dataclasses
from collections.abc import Callable

import numpy
import pytest
import torch
import torch.nn.functional as TF

import dualgrad as dg
import dualgrad.functions as F

torch.set_num_threads(1)


@dataclasses.dataclass
class Row:
    name: str
    dg_call: Callable
    torch_call: Callable
    inputs: Callable
    constant: tuple = ()  # positions of float inputs that are not differentiated
    rtol: float = 1e-7
    atol: float = 1e-10

    def __str__(self):
        return self.name


def normal(*shape, low=None, scale=1.0):
    def make(rng):
        x = scale * rng.standard_normal(shape)
        return x if low is None else numpy.abs(x) + low
    return make


def labels(n_classes, *shape, low=-1):
    def make(rng):
        return rng.integers(low, n_classes, shape).astype(numpy.int32)
    return make


def mask(*shape):
    def make(rng):
        return rng.random(shape) > 0.5
    return make


def args(*makers):
    def make(rng):
        return tuple(m(rng) for m in makers)
    return make


def torch_lstm(c_prev, x):
    """Chainer's interleaved (a, i, f, o) layout fed to torch's (i, f, g, o) chunks."""
    batch, hidden = x.shape[0], x.shape[1] // 4
    r = x.reshape(batch, hidden, 4)
    chunks = torch.cat([r[:, :, 1], r[:, :, 2], r[:, :, 0], r[:, :, 3]], dim=1)
    eye = torch.eye(4 * hidden, dtype=x.dtype)
    h, c = torch.lstm_cell(chunks, (torch.zeros_like(c_prev), c_prev), eye,
                           torch.zeros(4 * hidden, hidden, dtype=x.dtype))
    return c, h


def torch_masked_bce(x, t):
    """Chainer's sigmoid_cross_entropy (labels -1 ignored, mean over the others)."""
    keep = (t != -1).to(x.dtype)
    loss = TF.binary_cross_entropy_with_logits(x, t.clamp(min=0).to(x.dtype), weight=keep,
                                               reduction="sum")
    return loss / keep.sum().clamp(min=1)


def dropout_in_test_mode(x):
    with dg.using_config("train", False):
        return F.dropout(x, 0.3)


X34 = args(normal(3, 4))
POSITIVE = args(normal(3, 4, low=0.1))

ROWS = [
    # activations
    Row("relu", F.relu, torch.relu, X34),
    Row("leaky_relu", F.leaky_relu, lambda x: TF.leaky_relu(x, 0.2), X34),
    Row("elu", lambda x: F.elu(x, alpha=0.5), lambda x: TF.elu(x, alpha=0.5), X34),
    Row("selu", F.selu, torch.selu, X34),
    Row("sigmoid", F.sigmoid, torch.sigmoid, args(normal(3, 4, scale=6.0))),
    Row("tanh", F.tanh, torch.tanh, X34),
    Row("softplus", lambda x: F.softplus(x, beta=2.0), lambda x: TF.softplus(x, beta=2.0), X34),
    Row("gelu", F.gelu, TF.gelu, X34),
    Row("softmax", F.softmax, lambda x: torch.softmax(x, 1), args(normal(2, 3, 4))),
    Row("log_softmax", lambda x: F.log_softmax(x, axis=-1), lambda x: torch.log_softmax(x, -1),
        args(normal(2, 3, 4))),
    Row("logsumexp", lambda x: F.logsumexp(x, axis=1), lambda x: torch.logsumexp(x, 1), X34),
    Row("logsumexp-all", F.logsumexp, lambda x: torch.logsumexp(x, (0, 1)), X34),
    # elementwise math
    Row("exp", F.exp, torch.exp, X34),
    Row("log", F.log, torch.log, POSITIVE),
    Row("log1p", F.log1p, torch.log1p, POSITIVE),
    Row("expm1", F.expm1, torch.expm1, X34),
    Row("sqrt", F.sqrt, torch.sqrt, POSITIVE),
    Row("square", F.square, torch.square, X34),
    Row("absolute", F.absolute, torch.abs, X34),
    Row("sin", F.sin, torch.sin, X34),
    Row("cos", F.cos, torch.cos, X34),
    Row("erf", F.erf, torch.erf, X34, rtol=1e-12),
    Row("sign", F.sign, torch.sign, X34),
    Row("floor", F.floor, torch.floor, args(normal(3, 4, scale=3.0))),
    Row("maximum", F.maximum, torch.maximum, args(normal(3, 4), normal(3, 4))),
    Row("minimum", F.minimum, torch.minimum, args(normal(3, 4), normal(3, 4))),
    Row("clip", lambda x: F.clip(x, -0.5, 0.7), lambda x: torch.clamp(x, -0.5, 0.7), X34),
    # reductions and products
    Row("sum", lambda x: F.sum(x, axis=(0, 2), keepdims=True),
        lambda x: torch.sum(x, (0, 2), keepdim=True), args(normal(2, 3, 4))),
    Row("mean", lambda x: F.mean(x, axis=1), lambda x: torch.mean(x, 1), X34),
    Row("mean-all", F.mean, torch.mean, X34),
    Row("max", lambda x: F.max(x, axis=1), lambda x: torch.amax(x, 1), X34),
    Row("min", F.min, torch.amin, X34),
    Row("argmax", lambda x: F.argmax(x, axis=1), lambda x: torch.argmax(x, 1), X34),
    Row("prod", lambda x: F.prod(x, axis=0), lambda x: torch.prod(x, 0), X34),
    Row("matmul", lambda a, b: F.matmul(a, b, transa=True, transb=True),
        lambda a, b: torch.matmul(a.mT, b.mT), args(normal(4, 3), normal(2, 4))),
    Row("matmul-broadcast", F.matmul, torch.matmul, args(normal(2, 3, 4), normal(4, 5))),
    Row("batch_matmul", F.batch_matmul, torch.bmm, args(normal(2, 3, 4), normal(2, 4, 5))),
    # arrays
    Row("reshape", lambda x: F.reshape(x, (4, -1)), lambda x: x.reshape(4, -1),
        args(normal(2, 6))),
    Row("transpose", lambda x: F.transpose(x, (1, 2, 0)), lambda x: x.permute(1, 2, 0),
        args(normal(2, 3, 4))),
    Row("swapaxes", lambda x: F.swapaxes(x, 0, 2), lambda x: torch.swapaxes(x, 0, 2),
        args(normal(2, 3, 4))),
    Row("broadcast_to", lambda x: F.broadcast_to(x, (2, 3, 4)),
        lambda x: torch.broadcast_to(x, (2, 3, 4)), args(normal(3, 1))),
    Row("broadcast", F.broadcast, torch.broadcast_tensors, args(normal(3, 1), normal(4))),
    Row("expand_dims", lambda x: F.expand_dims(x, 1), lambda x: torch.unsqueeze(x, 1), X34),
    Row("squeeze", lambda x: F.squeeze(x, axis=1), lambda x: torch.squeeze(x, 1),
        args(normal(2, 1, 3))),
    Row("flatten", F.flatten, torch.flatten, X34),
    Row("get_item", lambda x: F.get_item(x, ([0, 2, 0], slice(1, 3))),
        lambda x: x[[0, 2, 0], 1:3], X34),
    Row("get_item-reversed", lambda x: F.get_item(x, (slice(None, None, -1), 1)),
        lambda x: x.flip(0)[:, 1], X34),
    Row("concat", lambda a, b: F.concat([a, b]), lambda a, b: torch.cat([a, b], 1),
        args(normal(2, 3), normal(2, 1))),
    Row("stack", lambda a, b: F.stack([a, b], axis=1), lambda a, b: torch.stack([a, b], 1),
        args(normal(2, 3), normal(2, 3))),
    Row("split_axis", lambda x: F.split_axis(x, [1, 3], axis=0),
        lambda x: torch.tensor_split(x, [1, 3], dim=0), args(normal(4, 2))),
    Row("pad", lambda x: F.pad(x, ((1, 0), (2, 1)), constant_values=0.5),
        lambda x: TF.pad(x, (2, 1, 1, 0), value=0.5), X34),
    Row("where", F.where, torch.where, args(mask(3, 4), normal(3, 4), normal(3, 4))),
    Row("cast", lambda x: F.cast(x, "float32"), lambda x: x.to(torch.float32), X34,
        rtol=1e-6),
    Row("tile", lambda x: F.tile(x, (2, 1, 3)), lambda x: torch.tile(x, (2, 1, 3)),
        args(normal(2, 3))),
    Row("repeat", lambda x: F.repeat(x, 2, axis=1),
        lambda x: torch.repeat_interleave(x, 2, dim=1), args(normal(2, 3))),
    # connections and pooling
    Row("linear", F.linear, TF.linear, args(normal(4, 3), normal(2, 3), normal(2))),
    Row("convolution_2d", lambda x, W, b: F.convolution_2d(x, W, b, stride=2, pad=1),
        lambda x, W, b: TF.conv2d(x, W, b, stride=2, padding=1),
        args(normal(2, 3, 5, 5), normal(4, 3, 3, 3), normal(4))),
    Row("convolution_2d-groups", lambda x, W: F.convolution_2d(x, W, dilate=2, groups=2),
        lambda x, W: TF.conv2d(x, W, dilation=2, groups=2),
        args(normal(1, 4, 6, 6), normal(4, 2, 2, 2))),
    Row("deconvolution_2d", lambda x, W, b: F.deconvolution_2d(x, W, b, stride=2, pad=1),
        lambda x, W, b: TF.conv_transpose2d(x, W, b, stride=2, padding=1),
        args(normal(2, 3, 3, 3), normal(3, 2, 3, 3), normal(2))),
    Row("deconvolution_2d-outsize", lambda x, W: F.deconvolution_2d(
        x, W, stride=2, pad=1, outsize=(6, 5), groups=2),
        lambda x, W: TF.conv_transpose2d(x, W, stride=2, padding=1, output_padding=(1, 0),
                                         groups=2),
        args(normal(1, 4, 3, 3), normal(4, 1, 3, 3))),
    Row("embed_id", F.embed_id, TF.embedding, args(labels(5, 2, 3, low=0), normal(5, 4))),
    Row("max_pooling_2d", lambda x: F.max_pooling_2d(x, 2, cover_all=False),
        lambda x: TF.max_pool2d(x, 2), args(normal(2, 3, 4, 5))),
    Row("max_pooling_2d-cover_all", lambda x: F.max_pooling_2d(x, 3, stride=2, pad=1),
        lambda x: TF.max_pool2d(x, 3, 2, 1, ceil_mode=True), args(normal(1, 2, 6, 6))),
    Row("average_pooling_2d", lambda x: F.average_pooling_2d(x, 3, stride=2, pad=1),
        lambda x: TF.avg_pool2d(x, 3, 2, 1, count_include_pad=True), args(normal(2, 2, 5, 5))),
    Row("dropout-test-mode", dropout_in_test_mode,
        lambda x: TF.dropout(x, 0.3, training=False), X34),
    # normalization
    Row("batch_normalization", F.batch_normalization,
        lambda x, g, b: TF.batch_norm(x, None, None, g, b, training=True, eps=2e-5),
        args(normal(4, 3, 2, 2), normal(3), normal(3)), rtol=1e-6, atol=1e-9),
    Row("fixed_batch_normalization", F.fixed_batch_normalization,
        lambda x, g, b, m, v: TF.batch_norm(x, m, v, g, b, training=False, eps=2e-5),
        args(normal(3, 2, 4), normal(2), normal(2), normal(2), normal(2, low=0.1)),
        constant=(3, 4)),
    Row("layer_normalization", F.layer_normalization,
        lambda x, g, b: TF.layer_norm(x, (5,), g, b, eps=1e-5),
        args(normal(3, 5), normal(5), normal(5)), rtol=1e-6, atol=1e-9),
    # losses
    Row("softmax_cross_entropy", F.softmax_cross_entropy,
        lambda x, t: TF.cross_entropy(x, t, ignore_index=-1), args(normal(6, 4), labels(4, 6))),
    Row("softmax_cross_entropy-spatial-no",
        lambda x, t: F.softmax_cross_entropy(x, t, reduce="no"),
        lambda x, t: TF.cross_entropy(x, t, ignore_index=-1, reduction="none"),
        args(normal(2, 3, 4), labels(3, 2, 4))),
    Row("softmax_cross_entropy-class_weight-no",
        lambda x, t, w: F.softmax_cross_entropy(x, t, class_weight=w, reduce="no"),
        lambda x, t, w: TF.cross_entropy(x, t, weight=w, ignore_index=-1, reduction="none"),
        args(normal(6, 4), labels(4, 6), normal(4, low=0.1)), constant=(2,)),
    Row("sigmoid_cross_entropy", F.sigmoid_cross_entropy, torch_masked_bce,
        args(normal(5, 3), labels(2, 5, 3))),
    Row("sigmoid_cross_entropy-no",
        lambda x, t: F.sigmoid_cross_entropy(x, t, reduce="no"),
        lambda x, t: TF.binary_cross_entropy_with_logits(x, t.to(x.dtype), reduction="none"),
        args(normal(5, 3), labels(2, 5, 3, low=0))),
    Row("mean_squared_error", F.mean_squared_error, TF.mse_loss,
        args(normal(3, 4), normal(3, 4))),
    Row("mean_absolute_error", F.mean_absolute_error, TF.l1_loss,
        args(normal(3, 4), normal(3, 4))),
    # recurrent
    Row("lstm", F.lstm, torch_lstm, args(normal(3, 2), normal(3, 8))),
]


def _as_tuple(y):
    return tuple(y) if isinstance(y, (tuple, list)) else (y,)


def _is_float(a):
    return isinstance(a, numpy.ndarray) and a.dtype.kind == "f"


def _run_dualgrad(row, inputs, rng):
    """Outputs, the random output gradients drawn for them, and the input gradients."""
    xs = [dg.Variable(a.copy(), requires_grad=i not in row.constant) if _is_float(a) else a
          for i, a in enumerate(inputs)]
    ys = _as_tuple(row.dg_call(*xs))
    gys = [rng.standard_normal(y.shape).astype(y.dtype) if y.dtype.kind == "f" else None
           for y in ys]
    targets = [x for x in xs if isinstance(x, dg.Variable) and x.requires_grad]
    floats = [(y, gy) for y, gy in zip(ys, gys) if y.dtype.kind == "f"]
    grads = [None] * len(targets)
    if floats and targets:
        grads = dg.grad([y for y, _ in floats], targets, [gy for _, gy in floats])
    return [y.array for y in ys], gys, [None if g is None else g.array for g in grads]


def _run_torch(row, inputs, gys):
    xs = []
    for i, a in enumerate(inputs):
        if _is_float(a):
            xs.append(torch.tensor(a, requires_grad=i not in row.constant))
        elif a.dtype.kind == "b":
            xs.append(torch.from_numpy(a))
        else:
            xs.append(torch.from_numpy(a.astype(numpy.int64)))
    ys = _as_tuple(row.torch_call(*xs))
    targets = [x for x in xs if x.requires_grad]
    floats = [(y, torch.from_numpy(gy)) for y, gy in zip(ys, gys) if y.is_floating_point()]
    grads = [None] * len(targets)
    if floats and targets:
        total = sum((y * gy.to(y.dtype)).sum() for y, gy in floats)
        grads = torch.autograd.grad(total, targets, allow_unused=True)
    return ([y.detach().numpy() for y in ys],
            [None if g is None else g.numpy() for g in grads])


@pytest.mark.parametrize("row", ROWS, ids=str)
def test_matches_torch(row):
    inputs = row.inputs(numpy.random.default_rng(0))
    ys, gys, grads = _run_dualgrad(row, inputs, numpy.random.default_rng(1))
    t_ys, t_grads = _run_torch(row, inputs, gys)
    assert len(ys) == len(t_ys)
    for y, t_y in zip(ys, t_ys):
        assert y.shape == t_y.shape, (y.shape, t_y.shape)
        numpy.testing.assert_allclose(y, t_y, rtol=row.rtol, atol=row.atol)
    assert len(grads) == len(t_grads)
    for g, t_g in zip(grads, t_grads):
        if g is None and t_g is None:
            continue
        # No gradient at all (dualgrad) and an all-zero one (torch) say the same thing.
        g = numpy.zeros_like(t_g) if g is None else g
        t_g = numpy.zeros_like(g) if t_g is None else t_g
        numpy.testing.assert_allclose(g, t_g, rtol=max(row.rtol, 1e-7), atol=max(row.atol, 1e-9))
