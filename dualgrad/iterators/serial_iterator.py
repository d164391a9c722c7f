"""``SerialIterator``: minibatches read one example at a time, in order or shuffled."""

import numpy

from ..dataset.iterator import Iterator
from .order_samplers import ShuffleOrderSampler


class SerialIterator(Iterator):
    """Minibatches of ``batch_size`` examples (lists) from ``dataset``, epoch after epoch.

    - ``repeat=True`` loops forever; the batch that crosses the end of an epoch is
      filled from the start of the next one (the next epoch's order), so every batch
      has ``batch_size`` examples.  ``repeat=False`` stops after one pass (the last
      batch may be short) and then raises ``StopIteration``.
    - ``shuffle=None`` means shuffle unless ``order_sampler`` is given; ``True``
      draws a new permutation each epoch from numpy's global generator; ``False``
      keeps the dataset order.
    - ``epoch`` counts finished passes, ``is_new_epoch`` is true right after the
      batch that finished one, ``epoch_detail = epoch + position / len(dataset)``
      and ``previous_epoch_detail`` is its value before the last batch (``None``
      before the first).  ``serialize`` saves all of this, and the order, for resume.

    >>> it = SerialIterator(list(range(5)), 2, shuffle=False)
    >>> it.next(), it.next(), it.next(), it.epoch, it.is_new_epoch
    ([0, 1], [2, 3], [4, 0], 1, True)
    >>> it.epoch_detail
    1.2
    >>> [batch for batch in SerialIterator(list(range(5)), 2, repeat=False, shuffle=False)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, dataset, batch_size, repeat=True, shuffle=None, order_sampler=None):
        if shuffle is not None and order_sampler is not None:
            raise ValueError(
                "SerialIterator got both shuffle and order_sampler; leave shuffle=None "
                "to use the custom order sampler"
            )
        if int(batch_size) < 1:
            raise ValueError(f"batch_size must be a positive int; got {batch_size!r}")
        if shuffle or (shuffle is None and order_sampler is None):
            order_sampler = ShuffleOrderSampler()
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self._repeat = repeat
        self._shuffle = shuffle
        self.order_sampler = order_sampler
        self.reset()

    # -- iteration ---------------------------------------------------------------------
    def __next__(self):
        self._previous_epoch_detail = self.epoch_detail
        if not self._repeat and self.epoch > 0:
            raise StopIteration
        if self._epoch_size == 0:
            if self._repeat:
                raise ValueError("SerialIterator with repeat=True needs a non-empty dataset")
            self._finish_epoch()  # one pass over nothing: the epoch is over at once
            raise StopIteration
        indices = self._advance()
        return [self.dataset[index] for index in indices]

    next = __next__

    def _advance(self):
        """Move the position by one batch; return the dataset indices it covered."""
        size = self._epoch_size
        position = self.current_position
        wanted = self.batch_size
        pieces = []
        while True:
            stop = min(position + wanted, size)
            pieces.append(self._indices(position, stop))
            wanted -= stop - position
            if stop < size:
                self.current_position = stop
                self.is_new_epoch = len(pieces) > 1
                break
            # The epoch ended inside this batch: draw the next order, then either
            # stop (no repeat) or keep filling the batch from the new epoch's start.
            self._finish_epoch()
            position = 0
            if not self._repeat or wanted == 0:
                break
        return numpy.concatenate(pieces)

    def _indices(self, start, stop):
        if self._order is None:
            return numpy.arange(start, stop, dtype=numpy.intp)
        return self._order[start:stop]

    def _finish_epoch(self):
        if self._order is not None:
            new_order = self.order_sampler(self._order, self.current_position)
            if len(new_order) != len(self._order):
                raise ValueError(
                    f"the order sampler returned an order of length {len(new_order)} "
                    f"for an epoch of length {len(self._order)}; the length must not change"
                )
            self._order = new_order
        self.current_position = 0
        self.epoch += 1
        self.is_new_epoch = True

    # -- progress ----------------------------------------------------------------------
    @property
    def repeat(self):
        return self._repeat

    @property
    def _epoch_size(self):
        return len(self.dataset) if self._order is None else len(self._order)

    @property
    def epoch_detail(self):
        """Epochs done so far, fractional: ``epoch + current_position / epoch size``."""
        size = self._epoch_size
        return self.epoch + (self.current_position / size if size else 0.0)

    @property
    def previous_epoch_detail(self):
        """``epoch_detail`` before the last batch; ``None`` before the first batch."""
        if self._previous_epoch_detail < 0:
            return None
        return self._previous_epoch_detail

    def reset(self):
        """Back to the first batch of epoch 0 (with a fresh order when shuffling)."""
        self.current_position = 0
        self.epoch = 0
        self.is_new_epoch = False
        self._previous_epoch_detail = -1.0  # -1, not None: serializers store numbers
        self._order = None
        if self.order_sampler is not None:
            self._order = self.order_sampler(numpy.arange(len(self.dataset)), 0)

    # -- snapshots ---------------------------------------------------------------------
    def serialize(self, serializer):
        """Save or load ``current_position``, ``epoch``, ``is_new_epoch``, ``order`` and
        ``previous_epoch_detail`` (the keys Chainer's snapshots use)."""
        self.current_position = int(serializer("current_position", self.current_position))
        self.epoch = int(serializer("epoch", self.epoch))
        self.is_new_epoch = bool(serializer("is_new_epoch", self.is_new_epoch))
        if self._order is not None:
            # Loading copies the saved order into this array in place.
            serializer("order", self._order)
        try:
            previous = serializer("previous_epoch_detail", self._previous_epoch_detail)
        except KeyError:  # snapshots written before the key existed: reconstruct it
            previous = self.epoch_detail - self.batch_size / max(self._epoch_size, 1)
            previous = max(previous, 0.0) if self.epoch_detail > 0 else -1.0
        self._previous_epoch_detail = float(previous)
