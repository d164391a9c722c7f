"""Hooks that change the gradients before an optimizer's update (Chainer's names).

``optimizer.add_hook(WeightDecay(1e-4))``; ``optimizer.add_hook(GradientClipping(5.0))``.
"""

from .gradient_clipping import GradientClipping, global_norm
from .weight_decay import WeightDecay

__all__ = ["GradientClipping", "WeightDecay", "global_norm"]
