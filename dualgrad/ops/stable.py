"""Composites whose naive gradient is unstable, kept whole with a custom backward.

Each op lowers to a ``Composite`` (a decomposition into primitive ops, which a compiler
may inline), runs a fast array ``forward`` and differentiates with a rule that never
forms ``exp`` of a large number: every gradient is written through ``exp(x - max)``
terms that lie in ``[0, 1]``.  Logits of magnitude 1e4 give finite values, gradients
and second derivatives.
"""

import numpy

from .._config import config
from ..backend import get_array_module
from ..core.aval import ShapedArray, aval_of, normalize_axes, require_float
from ..core.op import Op
from ..core.tape import apply
from ..errors import DTypeError, OpError, ShapeError
from ..lowering import Composite
from . import elementwise as ew
from . import reduce, view


def _kept_shape(shape, axes):
    return tuple(1 if d in axes else n for d, n in enumerate(shape))


def _reduced_shape(shape, axes, keepdims):
    if keepdims:
        return _kept_shape(shape, axes)
    return tuple(n for d, n in enumerate(shape) if d not in axes)


def _require_float_array(x):
    """Cheap check so bad input fails in forward (``apply`` then asks ``infer`` why)."""
    if x.dtype.kind != "f":
        raise TypeError("floating-point input required")


def _array_logsumexp(xp, x, axes):
    """``log(sum(exp(x), axes))`` with the reduced axes kept, shifted by the maximum."""
    if any(x.shape[a] == 0 for a in axes):
        return xp.full(_kept_shape(x.shape, axes), -numpy.inf, dtype=x.dtype)
    m = xp.max(x, axis=axes, keepdims=True)
    # An infinite maximum would turn x - m into NaN; shifting by 0 there is exact.
    m = xp.where(xp.isfinite(m), m, xp.zeros_like(m))
    with numpy.errstate(divide="ignore"):
        s = xp.log(xp.sum(xp.exp(x - m), axis=axes, keepdims=True))
    return (s + m).astype(x.dtype, copy=False)


def _decomposed_logsumexp(x, axes):
    """The same with primitive ops (kept axes), for the ``Composite`` lowerings."""
    m = reduce.max(x, axis=axes, keepdims=True)
    return ew.add(ew.log(reduce.sum(ew.exp(ew.sub(x, m)), axis=axes, keepdims=True)), m)


class LogSumExp(Op):
    """``y = log(sum(exp(x), axis))``, computed as ``m + log(sum(exp(x - m)))``.

    Backward: ``gx = gy * exp(x - y)`` (the softmax, never overflowing since x <= y).
    """

    __slots__ = ("axis", "keepdims")
    save = "both"

    def __init__(self, axis=None, keepdims=False):
        self.axis = axis if axis is None or isinstance(axis, int) else tuple(axis)
        self.keepdims = bool(keepdims)

    def infer(self, x):
        require_float(self.name, (x,))
        axes = normalize_axes(self.name, self.axis, x.ndim, (x,))
        return ShapedArray(_reduced_shape(x.shape, axes, self.keepdims), x.dtype)

    def _axes(self, ndim):
        return normalize_axes(self.name, self.axis, ndim, ())

    def forward(self, xp, x):
        _require_float_array(x)
        axes = self._axes(x.ndim)
        y = _array_logsumexp(xp, x, axes)
        return y if self.keepdims else y.reshape(_reduced_shape(x.shape, axes, False))

    def backward(self, gy, inputs, y, need):
        x = inputs[0]
        kept = _kept_shape(x.shape, self._axes(len(x.shape)))
        return (ew.mul(view.reshape(gy, kept), ew.exp(ew.sub(x, view.reshape(y, kept)))),)

    def lower(self, x):
        axes = self._axes(x.ndim)
        shape = _reduced_shape(x.shape, axes, self.keepdims)

        def decompose(x):
            return view.reshape(_decomposed_logsumexp(x, axes), shape)

        return Composite(decompose)


def _check_axis(op, x):
    if not -x.ndim <= op.axis < x.ndim:
        raise ShapeError(
            op.name, f"axis {op.axis} is out of range for an array of rank {x.ndim}", (x,),
            hint="pass axis= naming an existing axis (the class axis, usually 1)",
        )


class LogSoftmax(Op):
    """``y = x - logsumexp(x, axis)``.

    Backward: ``gx = gy - exp(y) * sum(gy, axis)``; ``exp(y)`` is the softmax, in [0, 1].
    """

    __slots__ = ("axis",)
    save = "output"

    def __init__(self, axis=1):
        self.axis = int(axis)

    def infer(self, x):
        require_float(self.name, (x,))
        _check_axis(self, x)
        return ShapedArray(x.shape, x.dtype)

    def forward(self, xp, x):
        _require_float_array(x)
        if not -x.ndim <= self.axis < x.ndim:
            raise ValueError("axis out of range")
        return x - _array_logsumexp(xp, x, (self.axis % x.ndim,))

    def backward(self, gy, inputs, y, need):
        total = reduce.sum(gy, axis=self.axis, keepdims=True)
        return (ew.sub(gy, ew.mul(ew.exp(y), total)),)

    def lower(self, x):
        axes = (self.axis % x.ndim,)

        def decompose(x):
            return ew.sub(x, _decomposed_logsumexp(x, axes))

        return Composite(decompose)


def _check_reduce(reduce_mode):
    if reduce_mode not in ("mean", "no"):
        raise ValueError(f"reduce must be 'mean' or 'no', got {reduce_mode!r}")
    return reduce_mode


def _check_labels(op, avals):
    t = avals[1]
    if t.dtype.kind not in "iu":
        raise DTypeError(
            op.name, f"labels must be integers, got {t.dtype}", avals,
            hint="pass class indices, e.g. t.astype('int32')",
        )


def _coefficient(mask, normalize, batch):
    """``1 / max(count, 1)``: count is the non-ignored labels, or the batch size."""
    if normalize:
        return ew.div(1.0, ew.maximum(reduce.sum(mask), 1.0))
    return 1.0 / max(batch, 1)


def _label_mask(t, ignore_label, dtype):
    return ew.cast(ew.not_equal(t, ignore_label), dtype)


def _one_hot(t, n_classes, dtype):
    """``onehot[n, c, ...] = (t[n, ...] == c)`` with the class axis at position 1."""
    xp = get_array_module(t)
    shape = tuple(t.shape)
    classes = xp.arange(n_classes).reshape((1, n_classes) + (1,) * (len(shape) - 1))
    return ew.cast(ew.equal(view.reshape(t, shape[:1] + (1,) + shape[1:]), classes), dtype)


class SoftmaxCrossEntropy(Op):
    """Cross entropy of ``softmax(x, axis=1)`` against integer labels ``t`` (Chainer's).

    ``loss[n, ...] = -(log_softmax(x)[n, t[n, ...], ...])`` where ``t != ignore_label``,
    0 elsewhere; ``reduce='mean'`` sums and divides by the count of non-ignored labels
    (``normalize=True``) or by the batch size.  Backward:
    ``gx = (softmax(x) - onehot(t)) * mask * gy / count``.
    """

    __slots__ = ("normalize", "ignore_label", "reduce")

    def __init__(self, normalize=True, ignore_label=-1, reduce="mean"):
        self.normalize = bool(normalize)
        self.ignore_label = int(ignore_label)
        self.reduce = _check_reduce(reduce)

    def infer(self, x, t):
        require_float(self.name, (x, t), which=(0,))
        _check_labels(self, (x, t))
        expected = x.shape[:1] + x.shape[2:]
        if x.ndim < 2 or t.shape != expected:
            raise ShapeError(
                self.name, "needs x of shape (N, C, ...) and t of shape (N, ...)", (x, t),
                hint="x holds one score per class along axis 1; t one class index per row",
            )
        return ShapedArray(() if self.reduce == "mean" else t.shape, x.dtype)

    def forward(self, xp, x, t):
        if x.ndim < 2 or t.shape != x.shape[:1] + x.shape[2:] or t.dtype.kind not in "iu":
            raise ValueError("bad input shapes or dtypes")
        valid = t != self.ignore_label
        index = xp.where(valid, t, 0)
        if xp is numpy or config.debug:  # a range check on the GPU would cost a sync
            self._check_label_range(x, t, index)
        index = index.reshape(t.shape[:1] + (1,) + t.shape[1:])
        picked = xp.take_along_axis(x, index.astype(numpy.intp), axis=1)
        log_p = picked - _array_logsumexp(xp, x, (1,))
        loss = xp.where(valid, -log_p.reshape(t.shape), 0).astype(x.dtype, copy=False)
        if self.reduce == "no":
            return loss
        count = int(valid.sum()) if self.normalize else len(x)
        return xp.asarray(loss.sum() / max(count, 1), dtype=x.dtype)

    def _check_label_range(self, x, t, index):
        n_classes = x.shape[1]
        if index.size and (int(index.min()) < 0 or int(index.max()) >= n_classes):
            raise OpError(
                self.name, f"labels must lie in [0, {n_classes}) or equal ignore_label="
                f"{self.ignore_label}; got values in [{int(t.min())}, {int(t.max())}]",
                (aval_of(x), aval_of(t)),
                hint="check the number of classes of the model's last layer and the labels",
            )

    def backward(self, gy, inputs, y, need):
        x, t = inputs
        dtype = x.dtype
        kept = t.shape[:1] + (1,) + t.shape[1:]
        mask = _label_mask(t, self.ignore_label, dtype)
        if self.reduce == "mean":
            scale = ew.mul(gy, _coefficient(mask, self.normalize, x.shape[0]))
        else:
            scale = gy
        scale = view.reshape(ew.mul(scale, mask), kept)
        p = ew.exp(log_softmax(x, axis=1))
        return ew.mul(ew.sub(p, _one_hot(t, x.shape[1], dtype)), scale), None

    def lower(self, x, t):
        def decompose(x, t):
            mask = _label_mask(t, self.ignore_label, x.dtype)
            log_p = ew.sub(x, _decomposed_logsumexp(x, (1,)))
            picked = reduce.sum(ew.mul(log_p, _one_hot(t, x.shape[1], x.dtype)), axis=1)
            loss = ew.mul(ew.neg(picked), mask)
            if self.reduce == "no":
                return loss
            coefficient = _coefficient(mask, self.normalize, x.shape[0])
            return ew.mul(reduce.sum(loss), coefficient)

        return Composite(decompose)


def sigmoid(x):
    """``1 / (1 + exp(-x)) = 0.5 * tanh(0.5 * x) + 0.5`` from primitives (as Chainer).

    Never overflows, and its gradient ``0.25 * (1 - tanh^2)`` is bounded by 1/4.  Far in
    the lower tail (x < -17 in float32) it rounds to 0: use ``-softplus(-x)`` for
    log-sigmoid.  Four cheap ops, where an exp-based form needs two selects."""
    return ew.add(ew.mul(ew.tanh(ew.mul(x, 0.5)), 0.5), 0.5)


class SigmoidCrossEntropy(Op):
    """Binary cross entropy of ``sigmoid(x)`` against labels ``t`` in {0, 1} (-1: ignored).

    ``loss = relu(x) - x * t + log1p(exp(-|x|))`` (no overflow for any x), masked where
    ``t == -1``; ``reduce='mean'`` divides the sum by the count of non-ignored labels
    (``normalize=True``) or by the batch size.  Backward:
    ``gx = (sigmoid(x) - t) * mask * gy / count``.
    """

    __slots__ = ("normalize", "reduce")

    ignore_label = -1

    def __init__(self, normalize=True, reduce="mean"):
        self.normalize = bool(normalize)
        self.reduce = _check_reduce(reduce)

    def infer(self, x, t):
        require_float(self.name, (x, t), which=(0,))
        _check_labels(self, (x, t))
        if x.shape != t.shape or x.ndim < 1:
            raise ShapeError(
                self.name, "needs x and t of the same shape (N, ...)", (x, t),
                hint="t holds one 0/1 label (or -1 to ignore) per logit",
            )
        return ShapedArray(() if self.reduce == "mean" else t.shape, x.dtype)

    def forward(self, xp, x, t):
        if x.shape != t.shape or x.ndim < 1 or t.dtype.kind not in "iu":
            raise ValueError("bad input shapes or dtypes")
        valid = t != self.ignore_label
        loss = xp.maximum(x, 0) - x * t.astype(x.dtype) + xp.log1p(xp.exp(-xp.abs(x)))
        loss = xp.where(valid, loss, 0).astype(x.dtype, copy=False)
        if self.reduce == "no":
            return loss
        count = int(valid.sum()) if self.normalize else len(x)
        return xp.asarray(loss.sum() / max(count, 1), dtype=x.dtype)

    def backward(self, gy, inputs, y, need):
        x, t = inputs
        mask = _label_mask(t, self.ignore_label, x.dtype)
        if self.reduce == "mean":
            gy = ew.mul(gy, _coefficient(mask, self.normalize, x.shape[0]))
        diff = ew.sub(sigmoid(x), ew.cast(t, x.dtype))
        return ew.mul(diff, ew.mul(mask, gy)), None

    def lower(self, x, t):
        def decompose(x, t):
            mask = _label_mask(t, self.ignore_label, x.dtype)
            softplus_abs = ew.log1p(ew.exp(ew.neg(ew.absolute(x))))
            loss = ew.add(ew.sub(ew.maximum(x, 0.0), ew.mul(x, ew.cast(t, x.dtype))),
                          softplus_abs)
            loss = ew.mul(loss, mask)
            if self.reduce == "no":
                return loss
            coefficient = _coefficient(mask, self.normalize, x.shape[0])
            return ew.mul(reduce.sum(loss), coefficient)

        return Composite(decompose)


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x), axis))`` without overflow."""
    return apply(LogSumExp(axis, keepdims), (x,))


def log_softmax(x, axis=1):
    """``x - logsumexp(x, axis)`` without overflow."""
    return apply(LogSoftmax(axis), (x,))


def softmax_cross_entropy(x, t, normalize=True, ignore_label=-1, reduce="mean"):
    """Cross entropy of ``softmax(x, axis=1)`` and integer labels ``t``."""
    return apply(SoftmaxCrossEntropy(normalize, ignore_label, reduce), (x, t))


def sigmoid_cross_entropy(x, t, normalize=True, reduce="mean"):
    """Binary cross entropy of ``sigmoid(x)`` and 0/1 labels ``t`` (-1 ignored)."""
    return apply(SigmoidCrossEntropy(normalize, reduce), (x, t))
