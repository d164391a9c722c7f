"""What the convolution links share: Chainer's arguments, lazy input channels, W and b."""

from ..core.aval import aval_of
from ..core.variable import Parameter
from ..link import Link
from ._utils import check_ndim, check_size, get_initializer, initialize_param, pair, shape_of


def check_groups(link_name, channels, groups, which):
    if channels % groups:
        raise ValueError(
            f"{link_name}: the number of {which} channels ({channels}) must be divisible by "
            f"groups ({groups})"
        )


class ConvolutionBase(Link):
    """Holds ``ksize stride pad dilate groups``, ``W`` (shaped by ``weight_shape`` once the
    input channels are known) and ``b``.  ``Link(out_channels, ksize)`` (two arguments)
    or ``in_channels=None`` infer the input channels on the first call."""

    weight_channel_axis = 1  # the axis of W that counts input channels (per group)

    def __init__(self, in_channels, out_channels, ksize, stride, pad, nobias, initialW,
                 initial_bias, dilate, groups):
        super().__init__()
        if ksize is None:
            in_channels, out_channels, ksize = None, in_channels, out_channels
        self.ksize = pair(ksize)
        self.stride = pair(stride)
        self.pad = pair(pad)
        self.dilate = pair(dilate)
        self.groups = int(groups)
        self.out_channels = out_channels
        check_groups(type(self).__name__, out_channels, self.groups, "output")
        with self.init_scope():
            self.W = Parameter(get_initializer(initialW))
            if in_channels is not None:
                self._initialize_params(in_channels)
            if nobias:
                self.b = None
            else:
                self.b = Parameter(get_initializer(initial_bias, 0), out_channels)

    def weight_shape(self, in_channels):
        raise NotImplementedError

    def _initialize_params(self, in_channels):
        check_groups(type(self).__name__, in_channels, self.groups, "input")
        initialize_param(self, self.W, self.weight_shape(in_channels))

    def checked_input(self, x):
        """Check ``x`` is a batch of images with the channels W expects (initialising W
        from the first input when the channels were not given)."""
        name = type(self).__name__
        check_ndim(name, x, 4, "(batch, channels, height, width)")
        channels = shape_of(x)[1]
        if self.W.array is None:
            self._initialize_params(channels)
        expected = self.W.shape[self.weight_channel_axis] * (
            self.groups if self.weight_channel_axis == 1 else 1)
        check_size(
            name, x, "channels (axis 1)", channels, expected,
            hint=f"feed {expected}-channel inputs, or pass in_channels=None to infer it "
            "from the first input", extra_avals=(aval_of(self.W),),
        )
        return x
