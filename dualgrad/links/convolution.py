"""2-D convolution layer."""

from ..functions.connection import convolution_2d
from ._convolution_base import ConvolutionBase, check_groups  # noqa: F401  (re-exported)


class Convolution2D(ConvolutionBase):
    """2-D convolution of ``(N, C, H, W)`` images with ``W`` of shape
    ``(out_channels, in_channels / groups, kh, kw)``, as in Chainer.

    ``Convolution2D(out_channels, ksize)`` (two arguments) or ``in_channels=None`` infer
    the input channels on the first call.

    >>> import numpy as np
    >>> conv = Convolution2D(in_channels=1, out_channels=6, ksize=(5, 5))
    >>> conv(np.zeros((2, 1, 28, 28), np.float32)).shape
    (2, 6, 24, 24)
    """

    def __init__(self, in_channels, out_channels, ksize=None, stride=1, pad=0, nobias=False,
                 initialW=None, initial_bias=None, *, dilate=1, groups=1):
        super().__init__(in_channels, out_channels, ksize, stride, pad, nobias, initialW,
                         initial_bias, dilate, groups)

    def weight_shape(self, in_channels):
        return (self.out_channels, in_channels // self.groups) + self.ksize

    def forward(self, x):
        return convolution_2d(self.checked_input(x), self.W, self.b, self.stride, self.pad,
                              dilate=self.dilate, groups=self.groups)


__all__ = ["Convolution2D"]
