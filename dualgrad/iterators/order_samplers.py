"""Order samplers: who decides the order of examples in the next epoch."""

import numpy


class OrderSampler:
    """``sampler(current_order, current_position) -> next_order``.

    Called by ``SerialIterator`` when it is created (with ``arange(len(dataset))``)
    and at the end of each epoch.  The new order must have the same length.
    """

    def __call__(self, current_order, current_position):
        raise NotImplementedError(
            f"{type(self).__name__} must implement __call__(current_order, current_position)"
        )


class ShuffleOrderSampler(OrderSampler):
    """A fresh random permutation each epoch.

    Draws from ``random_state`` (a ``numpy.random.RandomState``); by default the
    global numpy generator, so ``numpy.random.seed(n)`` makes the order repeatable,
    as in Chainer.
    """

    def __init__(self, random_state=None):
        self._random = random_state

    def __call__(self, current_order, current_position):
        random = numpy.random if self._random is None else self._random
        return random.permutation(len(current_order))
