"""Noise injected during training: dropout."""

import numpy

from .._config import config
from ..backend import get_array_module
from ..ops import elementwise as ew
from ..ops import random
from ._utils import as_output, dtype_of, shape_of


def dropout(x, ratio=0.5, *, mask=None, return_mask=False):
    """Zero each element with probability ``ratio`` and scale the rest by ``1 / (1 - ratio)``
    while ``dg.config.train`` is on; the identity otherwise.

    The mask comes from the counter-based stream of ``dualgrad.ops.random`` (replayable
    with ``random.set_state``); pass ``mask=`` to reuse one (``return_mask=True`` gives it).

    >>> dropout(numpy.ones(3), 0.0).array
    array([1., 1., 1.])
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"dropout ratio must be in [0, 1), got {ratio}")
    if not config.train:
        y = as_output(x)
        return (y, None) if return_mask else y
    if mask is None:
        xp = get_array_module(x)
        keep = random.bernoulli(shape_of(x), 1.0 - ratio, dtype_of(x).name,
                                xp=None if xp is numpy else xp)
        mask = keep if ratio == 0.0 else ew.mul(keep, 1.0 / (1.0 - ratio))
    y = ew.mul(x, mask)
    return (y, mask) if return_mask else y


__all__ = ["dropout"]
