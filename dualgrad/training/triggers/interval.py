"""``IntervalTrigger``: fire every ``period`` iterations or epochs."""

from ._position import PositionTrigger


class IntervalTrigger(PositionTrigger):
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
        super().__init__(unit)
        if not period > 0:
            raise ValueError(f"IntervalTrigger period must be positive, got {period!r}")
        self.period = period

    def __call__(self, trainer):
        previous, current = self._advance(trainer.updater)
        if previous is None:
            return False
        if self.unit == "iteration" and current <= 0:
            return False
        return previous // self.period != current // self.period

    def get_training_length(self):
        return (self.period, self.unit)

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
