"""``IntervalTrigger``: fire every ``period`` iterations or epochs."""

from .._state import serialize_float


class IntervalTrigger:
    """Fires when the training crosses a multiple of ``period`` ``unit``\\s.

    ``unit`` is ``'iteration'`` or ``'epoch'``; epochs may be fractional
    (``IntervalTrigger(0.5, 'epoch')`` fires twice an epoch). The trigger remembers where
    it last looked, so it fires correctly even when it is not asked every iteration;
    that memory is saved in snapshots.

    >>> from dualgrad.training.triggers import IntervalTrigger
    >>> IntervalTrigger(2, 'epoch').get_training_length()
    (2, 'epoch')
    """

    def __init__(self, period, unit):
        if unit not in ("epoch", "iteration"):
            raise ValueError(
                f"IntervalTrigger unit must be 'epoch' or 'iteration', got {unit!r}; "
                "write e.g. (10, 'iteration')"
            )
        if not period > 0:
            raise ValueError(f"IntervalTrigger period must be positive, got {period!r}")
        self.period = period
        self.unit = unit
        # -1 means "not looked yet": the updater's previous position is used instead.
        self._previous_iteration = -1
        self._previous_epoch_detail = -1.0

    def __call__(self, trainer):
        updater = trainer.updater
        if self.unit == "epoch":
            current = updater.epoch_detail
            previous = self._previous_epoch_detail
            if previous < 0:
                previous = updater.previous_epoch_detail
            fire = previous is not None and (
                previous // self.period != current // self.period
            )
        else:
            current = updater.iteration
            previous = self._previous_iteration
            if previous < 0:
                previous = current - 1
            fire = current > 0 and previous // self.period != current // self.period
        self._previous_iteration = updater.iteration
        self._previous_epoch_detail = updater.epoch_detail
        return fire

    def get_training_length(self):
        return (self.period, self.unit)

    def serialize(self, serializer):
        self._previous_iteration = int(
            serialize_float(serializer, "previous_iteration", self._previous_iteration)
        )
        self._previous_epoch_detail = serialize_float(
            serializer, "previous_epoch_detail", self._previous_epoch_detail
        )

    def __repr__(self):
        return f"IntervalTrigger({self.period!r}, {self.unit!r})"


def _never_fire(trainer):
    return False


def get_trigger(trigger):
    """A trigger object from what users write.

    ``None`` never fires; a callable is used as is; a tuple such as ``(1, 'epoch')``
    becomes an ``IntervalTrigger``.

    >>> from dualgrad.training.triggers import get_trigger
    >>> get_trigger((100, 'iteration'))
    IntervalTrigger(100, 'iteration')
    """
    if trigger is None:
        return _never_fire
    if callable(trigger):
        return trigger
    try:
        period, unit = trigger
    except (TypeError, ValueError):
        raise TypeError(
            f"a trigger must be callable or a (period, unit) pair such as (1, 'epoch'), "
            f"got {trigger!r}"
        ) from None
    return IntervalTrigger(period, unit)
