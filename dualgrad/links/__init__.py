"""Layers with parameters (Chainer's ``chainer.links``), imported as ``L``.

Every link registers its parameters in ``init_scope`` (so ``namedparams()`` finds them),
keeps them float32 unless its initializers say otherwise, and accepts float32 or
float64 inputs.  Links built with an input size of None infer it on the first call.

>>> import numpy as np
>>> import dualgrad.links as L
>>> layer = L.Linear(None, 3)
>>> layer(np.ones((2, 5), np.float32)).shape, layer.W.shape
((2, 3), (3, 5))
"""

from .batch_normalization import BatchNormalization
from .classifier import Classifier
from .convolution import Convolution2D
from .deconvolution import Deconvolution2D
from .embed_id import EmbedID
from .gru import GRU, StatelessGRU
from .layer_normalization import LayerNormalization
from .linear import Linear
from .lstm import LSTM, StatelessLSTM

StatefulGRU = GRU  # Chainer's name for the stateful GRU

__all__ = [
    "GRU", "LSTM", "BatchNormalization", "Classifier", "Convolution2D", "Deconvolution2D",
    "EmbedID", "LayerNormalization", "Linear", "StatefulGRU", "StatelessGRU", "StatelessLSTM",
]  # fmt: skip
