"""Convolution as im2col + gemm: the ``Im2Col`` and ``Col2Im`` primitives and the
composites built from them (``convolution_2d``, ``deconvolution_2d``, pooling).

Layouts and output sizes follow Chainer: images are ``(N, C, H, W)``, columns are
``(N, C, kh, kw, out_h, out_w)`` with

    col[n, c, i, j, y, x] = x_padded[n, c, i*dy + y*sy, j*dx + x*sx],
    out_h = (H + 2*ph - dkh) // sy + 1                    (dkh = (kh - 1)*dy + 1),
    out_h = (H + 2*ph - dkh + sy - 1) // sy + 1           with cover_all,

where ``cover_all`` adds windows so that every input pixel is covered (the extra rows
read ``pad_value`` beyond the bottom/right edge).  ``Col2Im`` is the adjoint: it sums
each window back onto the image, so the two are each other's VJP.

>>> import numpy as np
>>> im2col(np.zeros((1, 3, 5, 5)), 3, stride=2, pad=1).shape
(1, 3, 3, 3, 3, 3)
"""

import numbers

import numpy

from .. import scalar_ir as S  # noqa: N812 - the project-wide alias
from ..core.aval import ShapedArray, aval_of
from ..core.op import Op
from ..core.tape import apply
from ..errors import ShapeError
from ..lowering import IndexMap, LibraryCall, Source
from . import elementwise as ew
from . import linalg, reduce, view


def _pair(value):
    if isinstance(value, (tuple, list)):
        first, second = value
        return int(first), int(second)
    return int(value), int(value)


def _check_geometry(op_name, **pairs):
    """Kernel sizes, strides and dilations must be >= 1 and pads >= 0."""
    for name, (first, second) in pairs.items():
        least = 0 if name == "pad" else 1
        if first < least or second < least:
            raise ShapeError(op_name, f"{name} must be >= {least}, got {(first, second)}",
                             hint=f"pass a positive {name} (an int or an (h, w) pair)")


def conv_outsize(size, k, s, p, cover_all=False, d=1):
    """Number of windows of a ``k``-tap kernel (dilation ``d``) along an axis of ``size``.

    >>> conv_outsize(5, 2, 2, 0), conv_outsize(5, 2, 2, 0, cover_all=True)
    (2, 3)
    """
    dk = (k - 1) * d + 1
    if cover_all:
        return (size + 2 * p - dk + s - 1) // s + 1
    return (size + 2 * p - dk) // s + 1


def deconv_outsize(size, k, s, p, cover_all=False, d=1):
    """The image size whose convolution gives ``size`` windows (Chainer's default).

    >>> deconv_outsize(3, 3, 2, 1)
    5
    """
    dk = (k - 1) * d + 1
    if cover_all:
        return s * (size - 1) + dk - s + 1 - 2 * p
    return s * (size - 1) + dk - 2 * p


class Im2Col(Op):
    """Image to columns: ``(N, C, H, W) -> (N, C, kh, kw, out_h, out_w)`` (module docstring).

    Out-of-image reads give ``pad_value``.  ``cover_all`` is one flag or an (h, w) pair.
    VJP: ``gx = col2im(gcol)`` (padding positions get no gradient).
    """

    __slots__ = ("ksize", "stride", "pad", "dilate", "pad_value", "cover_all")
    save = "none"

    def __init__(self, ksize, stride=1, pad=0, dilate=1, pad_value=0.0, cover_all=False):
        self.ksize, self.stride = _pair(ksize), _pair(stride)
        self.pad, self.dilate = _pair(pad), _pair(dilate)
        _check_geometry("Im2Col", ksize=self.ksize, stride=self.stride, pad=self.pad,
                        dilate=self.dilate)
        if not isinstance(pad_value, numbers.Real):
            raise TypeError(f"Im2Col: pad_value must be a real number, got {pad_value!r}")
        self.pad_value = pad_value
        flags = cover_all if isinstance(cover_all, (tuple, list)) else (cover_all, cover_all)
        self.cover_all = tuple(bool(f) for f in flags)

    def out_hw(self, h, w):
        return tuple(
            conv_outsize(size, k, s, p, c, d)
            for size, k, s, p, c, d in zip((h, w), self.ksize, self.stride, self.pad,
                                           self.cover_all, self.dilate)
        )

    def infer(self, x):
        if x.ndim != 4:
            raise ShapeError(self.name, f"needs an (N, C, H, W) image, got rank {x.ndim}", (x,),
                             hint="add the batch axis, e.g. x[None]")
        n, c, h, w = x.shape
        oh, ow = self.out_hw(h, w)
        if oh <= 0 or ow <= 0:
            raise ShapeError(
                self.name, f"a {self.ksize} kernel (dilation {self.dilate}) does not fit a "
                f"{(h, w)} image padded by {self.pad}", (x,),
                hint="use a smaller kernel or dilation, or more padding",
            )
        return ShapedArray((n, c) + self.ksize + (oh, ow), x.dtype)

    def forward(self, xp, x):
        n, c, h, w = x.shape
        oh, ow = self.out_hw(h, w)
        if oh <= 0 or ow <= 0:
            raise ValueError("the kernel does not fit the padded image")
        (kh, kw), (sy, sx), (ph, pw), (dy, dx) = self.ksize, self.stride, self.pad, self.dilate
        # Pad far enough for the last (cover_all) window; numpy and cupy alike.
        bottom = max(ph, (kh - 1) * dy + sy * (oh - 1) + 1 - h - ph)
        right = max(pw, (kw - 1) * dx + sx * (ow - 1) + 1 - w - pw)
        padded = xp.pad(x, ((0, 0), (0, 0), (ph, bottom), (pw, right)), mode="constant",
                        constant_values=self.pad_value)
        s0, s1, s2, s3 = padded.strides
        windows = xp.lib.stride_tricks.as_strided(
            padded, shape=(n, c, kh, kw, oh, ow),
            strides=(s0, s1, s2 * dy, s3 * dx, s2 * sy, s3 * sx),
        )
        return xp.ascontiguousarray(windows)

    def backward(self, gy, inputs, y, need):
        h, w = inputs[0].shape[2:]
        return (col2im(gy, self.stride, self.pad, (h, w), self.dilate),)

    def lower(self, x):
        (_, _, h_in, w_in), (sy, sx), (ph, pw), (dy, dx) = (
            x.shape, self.stride, self.pad, self.dilate)
        i = [S.index(d) for d in range(6)]
        h = i[2] * dy + i[4] * sy - ph
        w = i[3] * dx + i[5] * sx - pw
        inside = [S.call("ge", h, 0), S.call("lt", h, h_in), S.call("ge", w, 0),
                  S.call("lt", w, w_in)]
        valid = S.call("and", S.call("and", inside[0], inside[1]),
                       S.call("and", inside[2], inside[3]))
        return IndexMap((Source(0, (i[0], i[1], h, w), valid),), fill=self.pad_value)


class Col2Im(Op):
    """Columns to image, summing overlapping windows (the adjoint of ``Im2Col``):

        img[n, c, h, w] = sum over (i, j, y, x) with i*dy + y*sy - ph = h and
                          j*dx + x*sx - pw = w of col[n, c, i, j, y, x].

    ``out_hw`` is the image size; the column's ``out_h`` must be the number of windows
    of that size with or without cover_all.  VJP: ``gcol = im2col(gimg)``.
    """

    __slots__ = ("stride", "pad", "dilate", "out_hw")
    save = "none"

    def __init__(self, stride, pad, dilate, out_hw):
        self.stride, self.pad = _pair(stride), _pair(pad)
        self.dilate, self.out_hw = _pair(dilate), _pair(out_hw)
        _check_geometry("Col2Im", stride=self.stride, pad=self.pad, dilate=self.dilate)

    def cover_all_for(self, col_shape):
        """Per axis: does ``col_shape`` need cover_all (True), not (False), or not fit (None)?"""
        flags = []
        for size, k, windows, s, p, d in zip(self.out_hw, col_shape[2:4], col_shape[4:6],
                                             self.stride, self.pad, self.dilate):
            if windows == conv_outsize(size, k, s, p, False, d):
                flags.append(False)
            elif windows == conv_outsize(size, k, s, p, True, d):
                flags.append(True)
            else:
                flags.append(None)
        return tuple(flags)

    def infer(self, col):
        if col.ndim != 6:
            raise ShapeError(self.name, f"needs (N, C, kh, kw, out_h, out_w) columns, got "
                             f"rank {col.ndim}", (col,))
        if None in self.cover_all_for(col.shape) or min(self.out_hw) < 0:
            raise ShapeError(
                self.name, f"columns with {col.shape[4:]} windows of a {col.shape[2:4]} kernel "
                f"do not tile a {self.out_hw} image (stride {self.stride}, pad {self.pad}, "
                f"dilation {self.dilate})", (col,),
                hint="pass the image size the columns came from, e.g. deconv_outsize(...)",
            )
        return ShapedArray(col.shape[:2] + self.out_hw, col.dtype)

    def forward(self, xp, col):
        if col.ndim != 6 or None in self.cover_all_for(col.shape) or min(self.out_hw) < 0:
            raise ValueError("the columns do not tile the image")
        n, c, kh, kw, oh, ow = col.shape
        (h, w), (sy, sx), (ph, pw), (dy, dx) = self.out_hw, self.stride, self.pad, self.dilate
        height = max(h + 2 * ph, (kh - 1) * dy + sy * (oh - 1) + 1)
        width = max(w + 2 * pw, (kw - 1) * dx + sx * (ow - 1) + 1)
        img = xp.zeros((n, c, height, width), dtype=col.dtype)
        for i in range(kh):
            for j in range(kw):
                img[:, :, i * dy:i * dy + sy * oh:sy, j * dx:j * dx + sx * ow:sx] += col[:, :, i, j]
        return xp.ascontiguousarray(img[:, :, ph:ph + h, pw:pw + w])

    def backward(self, gy, inputs, y, need):
        col_shape = inputs[0].shape
        return (im2col(gy, col_shape[2:4], self.stride, self.pad, self.dilate,
                       cover_all=self.cover_all_for(col_shape)),)

    def lower(self, col):
        params = (("stride", self.stride), ("pad", self.pad), ("dilate", self.dilate),
                  ("out_hw", self.out_hw))
        return LibraryCall("col2im", params)


def im2col(x, ksize, stride=1, pad=0, dilate=1, pad_value=0.0, cover_all=False):
    """Extract the ``ksize`` windows of an ``(N, C, H, W)`` image as
    ``(N, C, kh, kw, out_h, out_w)`` columns (ints or (h, w) pairs for the geometry).

    >>> import numpy as np
    >>> im2col(np.arange(16.0).reshape(1, 1, 4, 4), 2, stride=2)[0, 0, :, :, 0, 0].array
    array([[0., 1.],
           [4., 5.]])
    """
    return apply(Im2Col(ksize, stride, pad, dilate, pad_value, cover_all), (x,))


def col2im(col, stride, pad, out_hw, dilate=1):
    """Sum ``(N, C, kh, kw, out_h, out_w)`` columns back onto an ``out_hw`` image.

    >>> import numpy as np
    >>> col2im(np.ones((1, 1, 2, 2, 2, 2)), 1, 0, (3, 3))[0, 0].array
    array([[1., 2., 1.],
           [2., 4., 2.],
           [1., 2., 1.]])
    """
    return apply(Col2Im(stride, pad, dilate, out_hw), (col,))


# -- composites: convolution and pooling from the primitives ---------------------------------
def _check_rank4(op_name, **arrays):
    for name, a in arrays.items():
        if len(a.shape) != 4:
            raise ShapeError(op_name, f"{name} must have rank 4, got shape {tuple(a.shape)}",
                             [aval_of(v) for v in arrays.values()],
                             hint="images are (N, C, H, W); filters are 4-D too")


def _check_groups(op_name, channels, filters, groups, x, W):
    """x's ``channels`` must equal the ``filters`` W expects, and ``groups`` divide W."""
    avals = (aval_of(x), aval_of(W))
    if channels != filters:
        raise ShapeError(
            op_name, f"x {tuple(x.shape)} has {channels} input channels but W "
            f"{tuple(W.shape)} expects {filters}", avals,
            hint="W's input-channel axis times groups must equal x.shape[1]",
        )
    if groups < 1 or W.shape[0] % groups:
        raise ShapeError(op_name, f"groups={groups} must divide W.shape[0] = {W.shape[0]}",
                         avals, hint="each group needs the same number of filters")


def _add_bias(y, b, op_name):
    if b is None:
        return y
    if tuple(b.shape) != (y.shape[1],):
        raise ShapeError(op_name, f"b must have shape ({y.shape[1]},), got {tuple(b.shape)}",
                         (aval_of(b),), hint="one bias per output channel")
    return ew.add(y, view.reshape(b, (1, y.shape[1], 1, 1)))


def convolution_2d(x, W, b=None, stride=1, pad=0, cover_all=False, *, dilate=1, groups=1):
    """2-D convolution (cross-correlation, as in Chainer and PyTorch).

    ``x``: (N, C, H, W); ``W``: (out_c, C / groups, kh, kw); ``b``: (out_c,).
    ``y[n, o, p, q] = b[o] + sum_{c, i, j} W[o, c, i, j] * col[n, g*C/groups + c, i, j, p, q]``
    with ``g = o // (out_c / groups)``: im2col, then one batched gemm per group.

    >>> import numpy as np
    >>> convolution_2d(np.ones((1, 2, 4, 4)), np.ones((3, 2, 3, 3)), pad=1).shape
    (1, 3, 4, 4)
    """
    _check_rank4("convolution_2d", x=x, W=W)
    out_c, cg, kh, kw = W.shape
    _check_groups("convolution_2d", x.shape[1], cg * groups, groups, x, W)
    col = im2col(x, (kh, kw), stride, pad, dilate, cover_all=cover_all)
    n, oh, ow, og = col.shape[0], col.shape[4], col.shape[5], out_c // groups
    # (N, G, Cg, kh, kw, oh, ow) -> (G, N*oh*ow, Cg*kh*kw): one row per output pixel.
    rows = view.reshape(col, (n, groups, cg, kh, kw, oh, ow))
    rows = view.reshape(view.transpose(rows, (1, 0, 5, 6, 2, 3, 4)),
                        (groups, n * oh * ow, cg * kh * kw))
    filters = view.reshape(W, (groups, og, cg * kh * kw))
    y = linalg.matmul(rows, filters, transb=True)  # (G, N*oh*ow, og)
    y = view.transpose(view.reshape(y, (groups, n, oh, ow, og)), (1, 0, 4, 2, 3))
    return _add_bias(view.reshape(y, (n, out_c, oh, ow)), b, "convolution_2d")


def deconvolution_2d(x, W, b=None, stride=1, pad=0, outsize=None, *, dilate=1, groups=1):
    """2-D transposed convolution (the gradient of ``convolution_2d`` w.r.t. its input).

    ``x``: (N, in_c, h, w); ``W``: (in_c, out_c / groups, kh, kw) as in Chainer and
    PyTorch; ``outsize`` defaults to ``s*(h - 1) + (kh - 1)*d + 1 - 2p`` per axis.
    Computed as one gemm per group, ``col = x^T W``, then ``col2im``.

    >>> import numpy as np
    >>> deconvolution_2d(np.ones((1, 2, 3, 3)), np.ones((2, 4, 3, 3)), stride=2).shape
    (1, 4, 7, 7)
    """
    _check_rank4("deconvolution_2d", x=x, W=W)
    in_c, og, kh, kw = W.shape
    n, _, h, w = x.shape
    _check_groups("deconvolution_2d", x.shape[1], in_c, groups, x, W)
    ig = in_c // groups
    (sy, sx), (ph, pw), (dy, dx) = _pair(stride), _pair(pad), _pair(dilate)
    if outsize is None:
        outsize = (deconv_outsize(h, kh, sy, ph, d=dy), deconv_outsize(w, kw, sx, pw, d=dx))
    outsize = _pair(outsize)
    if None in Col2Im(stride, pad, dilate, outsize).cover_all_for((n, og, kh, kw, h, w)):
        raise ShapeError(
            "deconvolution_2d", f"outsize {outsize} does not fit x {tuple(x.shape)} with a "
            f"{(kh, kw)} kernel, stride {(sy, sx)}, pad {(ph, pw)}", (aval_of(x), aval_of(W)),
            hint="convolving an outsize image must give x's size; omit outsize for the default",
        )
    # (N, G, Ig, h, w) -> (G, N*h*w, Ig) @ (G, Ig, og*kh*kw) -> columns per input pixel.
    rows = view.reshape(x, (n, groups, ig, h, w))
    rows = view.reshape(view.transpose(rows, (1, 0, 3, 4, 2)), (groups, n * h * w, ig))
    col = linalg.matmul(rows, view.reshape(W, (groups, ig, og * kh * kw)))
    col = view.reshape(col, (groups, n, h, w, og, kh, kw))
    col = view.reshape(view.transpose(col, (1, 0, 4, 5, 6, 2, 3)),
                       (n, groups * og, kh, kw, h, w))
    y = col2im(col, stride, pad, outsize, dilate)
    return _add_bias(y, b, "deconvolution_2d")


def _lowest_value(dtype):
    """The smallest finite value of ``dtype``: padding that never wins a max, and that
    keeps debug mode's NaN/Inf check quiet (an -inf pad would trip it)."""
    dtype = numpy.dtype(dtype)
    if dtype.kind == "f":
        return float(numpy.finfo(dtype).min)
    return int(numpy.iinfo(dtype).min)


def max_pooling_2d(x, ksize, stride=None, pad=0, cover_all=True):
    """Max over each ``ksize`` window (stride defaults to ``ksize``); padding never wins.
    The gradient goes to the window's maximum (split evenly between exact ties).

    NOTE: padding reads the dtype's lowest finite value, so a window lying wholly in
    the padding (possible with ``cover_all`` and ``pad > 0``) gives that value where
    Chainer gives -inf.

    >>> import numpy as np
    >>> max_pooling_2d(np.arange(16.0).reshape(1, 1, 4, 4), 2).array[0, 0]
    array([[ 5.,  7.],
           [13., 15.]])
    """
    stride = ksize if stride is None else stride
    col = im2col(x, ksize, stride, pad, pad_value=_lowest_value(x.dtype), cover_all=cover_all)
    return reduce.max(col, axis=(2, 3))


def average_pooling_2d(x, ksize, stride=None, pad=0):
    """Mean over each ``ksize`` window, dividing by the full window size ``kh * kw``
    (padding counts as zeros, as in Chainer and PyTorch's ``count_include_pad``).

    >>> import numpy as np
    >>> average_pooling_2d(np.ones((1, 1, 2, 2)), 2, pad=1).array[0, 0]
    array([[0.25, 0.25],
           [0.25, 0.25]])
    """
    kh, kw = _pair(ksize)
    stride = (kh, kw) if stride is None else stride
    col = im2col(x, (kh, kw), stride, pad)
    return ew.div(reduce.sum(col, axis=(2, 3)), float(kh * kw))
