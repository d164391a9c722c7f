"""Theano's module path of ``RandomStreams``, so that
``from theano.tensor.shared_randomstreams import RandomStreams`` ports by renaming only."""

from ..random_streams import RandomStreams

__all__ = ["RandomStreams"]
