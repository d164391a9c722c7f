"""2-D transposed convolution layer."""

from ..core.aval import aval_of
from ..core.variable import Parameter
from ..functions.connection import deconvolution_2d
from ..link import Link
from ._utils import check_ndim, check_size, get_initializer, initialize_param, pair, shape_of
from .convolution import check_groups


class Deconvolution2D(Link):
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

    def __init__(self, in_channels, out_channels, ksize=None, stride=1, pad=0, nobias=False,
                 outsize=None, initialW=None, initial_bias=None, *, dilate=1, groups=1):
        super().__init__()
        if ksize is None:
            in_channels, out_channels, ksize = None, in_channels, out_channels
        self.ksize = pair(ksize)
        self.stride = pair(stride)
        self.pad = pair(pad)
        self.dilate = pair(dilate)
        # Chainer spells "no outsize" as (None, None); both mean the default size.
        self.outsize = None if outsize is None or None in pair(outsize) else pair(outsize)
        self.groups = int(groups)
        self.out_channels = out_channels
        check_groups("Deconvolution2D", out_channels, self.groups, "output")
        with self.init_scope():
            self.W = Parameter(get_initializer(initialW))
            if in_channels is not None:
                self._initialize_params(in_channels)
            if nobias:
                self.b = None
            else:
                self.b = Parameter(get_initializer(initial_bias, 0), out_channels)

    def _initialize_params(self, in_channels):
        check_groups("Deconvolution2D", in_channels, self.groups, "input")
        shape = (in_channels, self.out_channels // self.groups) + self.ksize
        initialize_param(self, self.W, shape)

    def forward(self, x):
        check_ndim("Deconvolution2D", x, 4, "(batch, channels, height, width)")
        channels = shape_of(x)[1]
        if self.W.array is None:
            self._initialize_params(channels)
        expected = self.W.shape[0]
        check_size(
            "Deconvolution2D", x, "channels (axis 1)", channels, expected,
            hint=f"feed {expected}-channel inputs, or pass in_channels=None to infer it "
            "from the first input", extra_avals=(aval_of(self.W),),
        )
        return deconvolution_2d(x, self.W, self.b, self.stride, self.pad, self.outsize,
                                dilate=self.dilate, groups=self.groups)


__all__ = ["Deconvolution2D"]
