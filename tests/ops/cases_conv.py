"""Harness cases for the convolution primitives Im2Col and Col2Im (dualgrad/ops/conv.py).

References are direct loops over every kernel tap and window position, with the window
count written out as in Chainer (``floor`` without cover_all, ``ceil`` with it).
"""

import math

import numpy

from dualgrad.ops import conv

from .harness import OpCase


def windows(size, k, s, p, d, cover_all):
    """How many windows a dilated ``k``-tap kernel takes along an axis of ``size``."""
    span = size + 2 * p - ((k - 1) * d + 1)
    return (math.ceil(span / s) if cover_all else span // s) + 1


def im2col_reference(x, ksize, stride, pad, dilate, pad_value=0.0, cover_all=False):
    n, c, h, w = x.shape
    (kh, kw), (sy, sx), (ph, pw), (dy, dx) = ksize, stride, pad, dilate
    oh, ow = windows(h, kh, sy, ph, dy, cover_all), windows(w, kw, sx, pw, dx, cover_all)
    col = numpy.full((n, c, kh, kw, oh, ow), pad_value, dtype=x.dtype)
    for i in range(kh):
        for j in range(kw):
            for y in range(oh):
                for z in range(ow):
                    row, column = i * dy + y * sy - ph, j * dx + z * sx - pw
                    if 0 <= row < h and 0 <= column < w:
                        col[:, :, i, j, y, z] = x[:, :, row, column]
    return col


def col2im_reference(col, stride, pad, out_hw, dilate):
    n, c, kh, kw, oh, ow = col.shape
    (sy, sx), (ph, pw), (h, w), (dy, dx) = stride, pad, out_hw, dilate
    img = numpy.zeros((n, c, h, w), dtype=col.dtype)
    for i in range(kh):
        for j in range(kw):
            for y in range(oh):
                for z in range(ow):
                    row, column = i * dy + y * sy - ph, j * dx + z * sx - pw
                    if 0 <= row < h and 0 <= column < w:
                        img[:, :, row, column] += col[:, :, i, j, y, z]
    return img


def im2col_case(name, image_shapes, ksize, stride, pad, dilate, pad_value=0.0, cover_all=False):
    def fn(x):
        return conv.im2col(x, ksize, stride, pad, dilate, pad_value, cover_all)

    def ref(x):
        return im2col_reference(x, ksize, stride, pad, dilate, pad_value, cover_all)

    def samples(rng, dtype):
        return [(rng.standard_normal(s).astype(dtype),) for s in image_shapes]

    return OpCase(conv.Im2Col, fn, ref, samples, name=name)


def col2im_case(name, batches, out_hw, ksize, stride, pad, dilate, cover_all=False):
    """Columns shaped as Im2Col with these settings makes them from ``out_hw`` images,
    for each ``(N, C)`` in ``batches``."""

    def fn(col):
        return conv.col2im(col, stride, pad, out_hw, dilate)

    def ref(col):
        return col2im_reference(col, stride, pad, out_hw, dilate)

    def samples(rng, dtype):
        oh = windows(out_hw[0], ksize[0], stride[0], pad[0], dilate[0], cover_all)
        ow = windows(out_hw[1], ksize[1], stride[1], pad[1], dilate[1], cover_all)
        return [(rng.standard_normal(batch + ksize + (oh, ow)).astype(dtype),)
                for batch in batches]

    return OpCase(conv.Col2Im, fn, ref, samples, name=name)


CASES = [
    im2col_case("Im2Col-plain", [(2, 3, 4, 5), (0, 2, 3, 3), (1, 1, 2, 2)],
                (2, 2), (1, 1), (0, 0), (1, 1)),
    im2col_case("Im2Col-pad-stride", [(2, 2, 5, 6), (1, 3, 4, 3)],
                (3, 2), (2, 1), (1, 2), (1, 1)),
    im2col_case("Im2Col-dilate", [(1, 2, 6, 5)], (2, 3), (1, 2), (1, 0), (2, 2)),
    im2col_case("Im2Col-cover_all", [(2, 2, 6, 7), (1, 1, 5, 5)],
                (3, 3), (2, 3), (1, 0), (1, 1), pad_value=-1.5, cover_all=True),
    col2im_case("Col2Im-plain", [(2, 3), (0, 2)], (4, 5), (2, 2), (1, 1), (0, 0), (1, 1)),
    col2im_case("Col2Im-pad-stride-dilate", [(2, 2), (1, 1)], (7, 6),
                (3, 2), (2, 1), (1, 2), (2, 1)),
    col2im_case("Col2Im-cover_all", [(2, 2)], (6, 7), (3, 3), (2, 3), (1, 0), (1, 1),
                cover_all=True),
]
