"""``ManualScheduleTrigger``: fire at listed iterations or epochs."""

from .._state import serialize_float
from ._position import PositionTrigger


class ManualScheduleTrigger(PositionTrigger):
    """Fires when the training reaches any of ``points`` (in ``unit``\\s).

    ``points`` is one number or a list; epochs may be fractional. ``finished`` becomes
    True once the last point has passed.

    >>> from dualgrad.training.triggers import ManualScheduleTrigger
    >>> ManualScheduleTrigger([10, 20], 'iteration').points
    (10, 20)
    """

    def __init__(self, points, unit):
        super().__init__(unit)
        if not isinstance(points, (list, tuple)):
            points = (points,)
        self.points = tuple(points)
        self.finished = False

    def __call__(self, trainer):
        previous, current = self._advance(trainer.updater)
        if previous is None:
            previous = current
        self.finished = current >= max(self.points)
        return any(previous < point <= current for point in self.points)

    def serialize(self, serializer):
        super().serialize(serializer)
        self.finished = bool(serialize_float(serializer, "finished", self.finished))
