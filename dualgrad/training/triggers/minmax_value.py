"""Triggers that fire when a reported value reaches a new best (for "keep the best model")."""

import operator

from ... import reporter as reporter_module
from .._state import serialize_optional_float
from .interval import get_trigger


class BestValueTrigger:
    """Fires when the mean of ``key`` over the last interval beats every earlier one.

    ``compare(best, new)`` says whether ``new`` is better. Values of ``key`` are averaged
    over the iterations between firings of ``trigger``; only then is a decision made.
    """

    def __init__(self, key, compare, trigger=(1, "epoch")):
        self._key = key
        self._compare = compare
        self._best_value = None
        self._interval_trigger = get_trigger(trigger)
        self._summary = reporter_module.DictSummary()

    def __call__(self, trainer):
        observation = trainer.observation
        key = self._key
        if key in observation:
            self._summary.add({key: observation[key]})
        if not self._interval_trigger(trainer):
            return False
        stats = self._summary.compute_mean()
        self._summary = reporter_module.DictSummary()
        if key not in stats:
            raise KeyError(
                f"{type(self).__name__}: {key!r} was not reported since the last check "
                f"(reported: {sorted(trainer.observation)}); check the key's spelling and that "
                "the extension reporting it (e.g. Evaluator) runs at this trigger's interval"
            )
        value = float(stats[key])
        if self._best_value is None or self._compare(self._best_value, value):
            self._best_value = value
            return True
        return False

    @property
    def best_value(self):
        return self._best_value

    def serialize(self, serializer):
        if hasattr(self._interval_trigger, "serialize"):
            self._interval_trigger.serialize(serializer["interval_trigger"])
        if hasattr(self._summary, "serialize"):
            self._summary.serialize(serializer["summary"])
        self._best_value = serialize_optional_float(serializer, "best_value", self._best_value)


class MaxValueTrigger(BestValueTrigger):
    """Fires when ``key`` (e.g. ``'validation/main/accuracy'``) reaches a new maximum."""

    def __init__(self, key, trigger=(1, "epoch")):
        super().__init__(key, operator.lt, trigger)


class MinValueTrigger(BestValueTrigger):
    """Fires when ``key`` (e.g. ``'validation/main/loss'``) reaches a new minimum."""

    def __init__(self, key, trigger=(1, "epoch")):
        super().__init__(key, operator.gt, trigger)
