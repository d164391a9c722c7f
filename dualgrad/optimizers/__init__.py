"""Optimizers with Chainer's names and defaults.

>>> import dualgrad.optimizers as optimizers
>>> optimizers.Adam().alpha, optimizers.MomentumSGD().momentum
(0.001, 0.9)
"""

from .ada_grad import AdaGrad, AdaGradRule
from .adam import Adam, AdamRule, AdamW
from .momentum_sgd import MomentumSGD, MomentumSGDRule
from .rmsprop import RMSprop, RMSpropRule
from .sgd import SGD, SGDRule

__all__ = [
    "SGD", "AdaGrad", "AdaGradRule", "Adam", "AdamRule", "AdamW", "MomentumSGD",
    "MomentumSGDRule", "RMSprop", "RMSpropRule", "SGDRule",
]  # fmt: skip
