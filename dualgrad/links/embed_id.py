"""Word embedding lookup."""

from ..core.variable import Parameter
from ..functions.connection import embed_id
from ..initializers import Normal
from ..link import Link
from ._utils import get_initializer


class EmbedID(Link):
    """Rows of ``W`` (``in_size`` ids by ``out_size`` features) picked by integer ids.

    ``W`` defaults to ``Normal(1.0)`` as in Chainer; ids equal to ``ignore_label`` give
    zero vectors (and no gradient).

    >>> import numpy as np
    >>> embed = EmbedID(10, 3, ignore_label=-1)
    >>> y = embed(np.array([[1, 4], [-1, 2]], np.int32))
    >>> y.shape, float(abs(y.array[1, 0]).sum())
    ((2, 2, 3), 0.0)
    """

    ignore_label = None

    def __init__(self, in_size, out_size, initialW=None, ignore_label=None):
        super().__init__()
        self.ignore_label = ignore_label
        with self.init_scope():
            self.W = Parameter(get_initializer(initialW, Normal(1.0)), (in_size, out_size))

    def forward(self, x):
        return embed_id(x, self.W, ignore_label=self.ignore_label)


__all__ = ["EmbedID"]
