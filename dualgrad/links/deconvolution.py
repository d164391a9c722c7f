"""2-D transposed convolution layer."""

from ..functions.connection import deconvolution_2d
from ._convolution_base import ConvolutionBase
from ._utils import pair


class Deconvolution2D(ConvolutionBase):
    """2-D transposed convolution with ``W`` of shape
    ``(in_channels, out_channels / groups, kh, kw)``, as in Chainer.

    Without ``outsize`` the output is ``stride * (h - 1) + (kh - 1) * dilate + 1 - 2 * pad``
    per spatial axis. ``Deconvolution2D(out_channels, ksize)`` or ``in_channels=None``
    infer the input channels on the first call.

    >>> import numpy as np
    >>> up = Deconvolution2D(3, 2, ksize=4, stride=2, pad=1)
    >>> up(np.zeros((1, 3, 5, 5), np.float32)).shape
    (1, 2, 10, 10)
    """

    weight_channel_axis = 0

    def __init__(self, in_channels, out_channels, ksize=None, stride=1, pad=0, nobias=False,
                 outsize=None, initialW=None, initial_bias=None, *, dilate=1, groups=1):
        # Chainer spells "no outsize" as (None, None); both mean the default size.
        self.outsize = None if outsize is None or None in pair(outsize) else pair(outsize)
        super().__init__(in_channels, out_channels, ksize, stride, pad, nobias, initialW,
                         initial_bias, dilate, groups)

    def weight_shape(self, in_channels):
        return (in_channels, self.out_channels // self.groups) + self.ksize

    def forward(self, x):
        return deconvolution_2d(self.checked_input(x), self.W, self.b, self.stride, self.pad,
                                self.outsize, dilate=self.dilate, groups=self.groups)


__all__ = ["Deconvolution2D"]
