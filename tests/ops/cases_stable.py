"""Harness cases for the stable composites (dualgrad/ops/stable.py)."""

import numpy

from dualgrad.ops import stable

from .harness import OpCase


def logsumexp_reference(x, axis=None, keepdims=False):
    x64 = x.astype(numpy.float64)
    m = numpy.max(x64, axis=axis, keepdims=True)
    y = numpy.log(numpy.sum(numpy.exp(x64 - m), axis=axis, keepdims=True)) + m
    if not keepdims:
        y = numpy.squeeze(y, axis=axis) if axis is not None else y.reshape(())
    return y.astype(x.dtype)


def log_softmax_reference(x, axis=1):
    return (x - logsumexp_reference(x, axis=axis, keepdims=True)).astype(x.dtype)


def softmax_cross_entropy_reference(x, t, normalize=True, ignore_label=-1, reduce="mean"):
    log_p = log_softmax_reference(x.astype(numpy.float64), axis=1)
    valid = t != ignore_label
    index = numpy.where(valid, t, 0)[:, None]
    picked = numpy.take_along_axis(log_p, index, axis=1)[:, 0]
    loss = numpy.where(valid, -picked, 0.0)
    if reduce == "no":
        return loss.astype(x.dtype)
    count = valid.sum() if normalize else len(x)
    return numpy.asarray(loss.sum() / max(count, 1), dtype=x.dtype)


def sigmoid_cross_entropy_reference(x, t, normalize=True, reduce="mean"):
    x64 = x.astype(numpy.float64)
    p = 1.0 / (1.0 + numpy.exp(-x64))
    valid = t != -1
    loss = numpy.where(valid, -(t * numpy.log(p) + (1 - t) * numpy.log1p(-p)), 0.0)
    if reduce == "no":
        return loss.astype(x.dtype)
    count = valid.sum() if normalize else len(x)
    return numpy.asarray(loss.sum() / max(count, 1), dtype=x.dtype)


def floats(shapes, low=-3.0, high=3.0):
    def samples(rng, dtype):
        return [(rng.uniform(low, high, s).astype(dtype),) for s in shapes]

    return samples


def with_labels(cases, low=-1):
    """``cases``: (x shape, t shape, number of classes, label dtype); labels are drawn
    from ``[low, classes)``, so by default some are -1 (ignored)."""

    def samples(rng, dtype):
        out = []
        for x_shape, t_shape, n_classes, label_dtype in cases:
            x = rng.uniform(-3.0, 3.0, x_shape).astype(dtype)
            t = rng.integers(low, max(n_classes, low + 1), t_shape).astype(label_dtype)
            out.append((x, t))
        return out

    return samples


SCE_SAMPLES = with_labels([
    ((5, 4), (5,), 4, "int32"),
    ((2, 3, 5), (2, 5), 3, "int64"),
    ((0, 3), (0,), 3, "int32"),
    ((1, 2), (1,), 0, "int32"),  # every label ignored: the loss is 0, not 0/0
])
SCE_SAMPLES_NO_NEGATIVE = with_labels([
    ((5, 4), (5,), 4, "int32"),
    ((2, 3, 5), (2, 5), 3, "int64"),
], low=0)
BINARY_SAMPLES = with_labels([
    ((5, 4), (5, 4), 2, "int32"),
    ((6,), (6,), 2, "int64"),
    ((0, 2), (0, 2), 2, "int32"),
    ((2, 2), (2, 2), 0, "int32"),
])


def _sce(normalize=True, reduce="mean", ignore_label=-1):
    def fn(x, t):
        return stable.softmax_cross_entropy(x, t, normalize=normalize,
                                            ignore_label=ignore_label, reduce=reduce)

    def ref(x, t):
        return softmax_cross_entropy_reference(x, t, normalize, ignore_label, reduce)

    name = f"SoftmaxCrossEntropy-normalize{normalize}-{reduce}-ignore{ignore_label}"
    samples = SCE_SAMPLES if ignore_label == -1 else SCE_SAMPLES_NO_NEGATIVE
    return OpCase(stable.SoftmaxCrossEntropy, fn, ref, samples, name=name)


def _bce(normalize=True, reduce="mean"):
    def fn(x, t):
        return stable.sigmoid_cross_entropy(x, t, normalize=normalize, reduce=reduce)

    def ref(x, t):
        return sigmoid_cross_entropy_reference(x, t, normalize, reduce)

    name = f"SigmoidCrossEntropy-normalize{normalize}-{reduce}"
    return OpCase(stable.SigmoidCrossEntropy, fn, ref, BINARY_SAMPLES, name=name)


def _logsumexp(axis, keepdims, shapes):
    return OpCase(
        stable.LogSumExp,
        lambda x: stable.logsumexp(x, axis=axis, keepdims=keepdims),
        lambda x: logsumexp_reference(x, axis=axis, keepdims=keepdims),
        floats(shapes), name=f"LogSumExp-axis{axis}-keepdims{keepdims}",
    )


def _log_softmax(axis, shapes):
    return OpCase(
        stable.LogSoftmax,
        lambda x: stable.log_softmax(x, axis=axis),
        lambda x: log_softmax_reference(x, axis=axis),
        floats(shapes), name=f"LogSoftmax-axis{axis}",
    )


CASES = [
    _logsumexp(None, False, [(3, 4), (), (2, 1, 3)]),
    _logsumexp(1, False, [(3, 4), (0, 3), (2, 5, 3)]),
    _logsumexp((0, 2), True, [(2, 3, 4), (2, 0, 1)]),
    _logsumexp(-1, True, [(4,), (3, 1)]),
    _log_softmax(1, [(3, 4), (0, 3), (2, 3, 2)]),
    _log_softmax(-1, [(5,), (2, 1), (2, 3, 4)]),
    _sce(),
    _sce(normalize=False),
    _sce(reduce="no"),
    _sce(ignore_label=0),
    _bce(),
    _bce(normalize=False),
    _bce(reduce="no"),
]
