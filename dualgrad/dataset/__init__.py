"""Dataset plumbing (Chainer's ``chainer.dataset``): iterator base class and converters."""

from . import convert
from .convert import concat_examples, to_device
from .dataset_mixin import DatasetMixin
from .iterator import Iterator

__all__ = ["DatasetMixin", "Iterator", "concat_examples", "convert", "to_device"]
