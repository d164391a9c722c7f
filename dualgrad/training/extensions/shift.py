"""Schedules that change an optimizer hyperparameter during training (``lr`` decay)."""

from .._state import serialize_int, serialize_optional_float
from ..extension import Extension


class _HyperparameterShift(Extension):
    """Sets ``optimizer.<attr>`` to ``self._value_at(t)`` where ``t`` counts the calls.

    The count and the last value are saved in snapshots, so a resumed training goes on
    with the schedule where it stopped.
    """

    def __init__(self, attr, optimizer=None):
        self._attr = attr
        self._optimizer = optimizer
        self._t = 0
        self._last_value = None

    def initialize(self, trainer):
        value = self._last_value
        if value is None:
            value = self._value_at(self._t, trainer)
        self._set(trainer, value)

    def __call__(self, trainer):
        self._t += 1
        self._set(trainer, self._value_at(self._t, trainer))

    def _value_at(self, t, trainer):
        raise NotImplementedError

    def _get_optimizer(self, trainer):
        if self._optimizer is not None:
            return self._optimizer
        return trainer.updater.get_optimizer("main")

    def _set(self, trainer, value):
        setattr(self._get_optimizer(trainer), self._attr, value)
        self._last_value = value

    def serialize(self, serializer):
        self._t = serialize_int(serializer, "_t", self._t)
        self._last_value = serialize_optional_float(serializer, "_last_value", self._last_value)


class ExponentialShift(_HyperparameterShift):
    """``value = init * rate ** t``, ``t`` counting the calls (give it a trigger, e.g.
    ``trainer.extend(ExponentialShift('lr', 0.5), trigger=(10, 'epoch'))``).

    ``init`` defaults to the optimizer's value when training starts; ``target`` bounds
    the value (a floor when decaying, a ceiling when growing).
    """

    def __init__(self, attr, rate, init=None, target=None, optimizer=None):
        if rate < 0:
            raise ValueError(f"ExponentialShift needs a non-negative rate, got {rate}")
        super().__init__(attr, optimizer)
        self._rate = rate
        self._init = init
        self._target = target

    def initialize(self, trainer):
        if self._init is None:
            self._init = getattr(self._get_optimizer(trainer), self._attr)
        super().initialize(trainer)

    def serialize(self, serializer):
        super().serialize(serializer)
        # The starting value too: a resumed optimizer holds the decayed value, which
        # must not become the new start.
        self._init = serialize_optional_float(serializer, "_init", self._init)

    def _value_at(self, t, trainer):
        value = self._init * self._rate ** t
        if self._target is None:
            return value
        # value / target compares magnitudes, so negative schedules work too.
        passed = value / self._target > 1 if self._rate > 1 else value / self._target < 1
        return self._target if passed else value


class LinearShift(_HyperparameterShift):
    """``value`` moves linearly from ``value_range[0]`` to ``value_range[1]`` while the
    call count goes from ``time_range[0]`` to ``time_range[1]`` (constant outside)."""

    def __init__(self, attr, value_range, time_range, optimizer=None):
        super().__init__(attr, optimizer)
        self._value_range = value_range
        self._time_range = time_range

    def _value_at(self, t, trainer):
        t1, t2 = self._time_range
        v1, v2 = self._value_range
        if t <= t1:
            return v1
        if t >= t2:
            return v2
        return v1 + (t - t1) / (t2 - t1) * (v2 - v1)
