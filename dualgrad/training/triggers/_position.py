"""What position-based triggers share: a unit, and memory of where they last looked."""

from .._state import serialize_float


class PositionTrigger:
    """Base of triggers that compare the training position with the previous look.

    Remembering the last look (and saving it in snapshots) makes a trigger fire correctly
    even when it is not asked every iteration, and after a resume.
    """

    def __init__(self, unit):
        if unit not in ("epoch", "iteration"):
            raise ValueError(
                f"{type(self).__name__} unit must be 'epoch' or 'iteration', got {unit!r}; "
                "write e.g. (10, 'iteration')"
            )
        self.unit = unit
        # -1 means "not looked yet": the updater's previous position is used instead.
        self._previous_iteration = -1
        self._previous_epoch_detail = -1.0

    def _advance(self, updater):
        """``(previous, current)`` positions in ``unit``s; ``previous`` is None for epochs
        before the first update.  Remembers ``current`` for the next look."""
        if self.unit == "epoch":
            current = updater.epoch_detail
            previous = self._previous_epoch_detail
            if previous < 0:
                previous = updater.previous_epoch_detail
        else:
            current = updater.iteration
            previous = self._previous_iteration
            if previous < 0:
                previous = current - 1
        self._previous_iteration = updater.iteration
        self._previous_epoch_detail = updater.epoch_detail
        return previous, current

    def serialize(self, serializer):
        self._previous_iteration = int(
            serialize_float(serializer, "previous_iteration", self._previous_iteration)
        )
        self._previous_epoch_detail = serialize_float(
            serializer, "previous_epoch_detail", self._previous_epoch_detail
        )
