"""Dataset iterators (Chainer's ``chainer.iterators``)."""

from .order_samplers import OrderSampler, ShuffleOrderSampler
from .serial_iterator import SerialIterator

__all__ = ["OrderSampler", "SerialIterator", "ShuffleOrderSampler"]
