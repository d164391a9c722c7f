"""``ManualScheduleTrigger``: fire at listed iterations or epochs."""

from .._state import serialize_float


class ManualScheduleTrigger:
    """Fires when the training reaches any of ``points`` (in ``unit``\\s).

    ``points`` is one number or a list; epochs may be fractional. ``finished`` becomes
    True once the last point has passed.

    >>> from dualgrad.training.triggers import ManualScheduleTrigger
    >>> ManualScheduleTrigger([10, 20], 'iteration').points
    (10, 20)
    """

    def __init__(self, points, unit):
        if unit not in ("epoch", "iteration"):
            raise ValueError(
                f"ManualScheduleTrigger unit must be 'epoch' or 'iteration', got {unit!r}"
            )
        if not isinstance(points, (list, tuple)):
            points = (points,)
        self.points = tuple(points)
        self.unit = unit
        self.finished = False
        self._previous_iteration = -1
        self._previous_epoch_detail = -1.0

    def __call__(self, trainer):
        updater = trainer.updater
        if self.unit == "epoch":
            current = updater.epoch_detail
            previous = self._previous_epoch_detail
            if previous < 0:
                previous = updater.previous_epoch_detail
            if previous is None:
                previous = current
        else:
            current = updater.iteration
            previous = self._previous_iteration
            if previous < 0:
                previous = current - 1
        fire = any(previous < point <= current for point in self.points)
        self.finished = current >= max(self.points)
        self._previous_iteration = updater.iteration
        self._previous_epoch_detail = updater.epoch_detail
        return fire

    def serialize(self, serializer):
        self._previous_iteration = int(
            serialize_float(serializer, "previous_iteration", self._previous_iteration)
        )
        self._previous_epoch_detail = serialize_float(
            serializer, "previous_epoch_detail", self._previous_epoch_detail
        )
        self.finished = bool(serialize_float(serializer, "finished", self.finished))
