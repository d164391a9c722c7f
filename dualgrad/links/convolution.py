"""2-D convolution layer."""

from ..core.aval import aval_of
from ..core.variable import Parameter
from ..functions.connection import convolution_2d
from ..link import Link
from ._utils import check_ndim, check_size, get_initializer, initialize_param, pair, shape_of


def check_groups(link_name, channels, groups, which):
    if channels % groups:
        raise ValueError(
            f"{link_name}: the number of {which} channels ({channels}) must be divisible by "
            f"groups ({groups})"
        )


class Convolution2D(Link):
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
        super().__init__()
        if ksize is None:
            in_channels, out_channels, ksize = None, in_channels, out_channels
        self.ksize = pair(ksize)
        self.stride = pair(stride)
        self.pad = pair(pad)
        self.dilate = pair(dilate)
        self.groups = int(groups)
        self.out_channels = out_channels
        check_groups("Convolution2D", out_channels, self.groups, "output")
        with self.init_scope():
            self.W = Parameter(get_initializer(initialW))
            if in_channels is not None:
                self._initialize_params(in_channels)
            if nobias:
                self.b = None
            else:
                self.b = Parameter(get_initializer(initial_bias, 0), out_channels)

    def _initialize_params(self, in_channels):
        check_groups("Convolution2D", in_channels, self.groups, "input")
        shape = (self.out_channels, in_channels // self.groups) + self.ksize
        initialize_param(self, self.W, shape)

    def forward(self, x):
        check_ndim("Convolution2D", x, 4, "(batch, channels, height, width)")
        channels = shape_of(x)[1]
        if self.W.array is None:
            self._initialize_params(channels)
        expected = self.W.shape[1] * self.groups
        check_size(
            "Convolution2D", x, "channels (axis 1)", channels, expected,
            hint=f"feed {expected}-channel images, or pass in_channels=None to "
            "infer it from the first input", extra_avals=(aval_of(self.W),),
        )
        return convolution_2d(x, self.W, self.b, self.stride, self.pad,
                              dilate=self.dilate, groups=self.groups)


__all__ = ["Convolution2D"]
