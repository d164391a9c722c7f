"""Triggers decide when an extension runs and when training stops.

A trigger is a callable ``trigger(trainer) -> bool``; ``(period, unit)`` pairs are turned
into ``IntervalTrigger`` by ``get_trigger``.
"""

from .interval import IntervalTrigger, get_trigger
from .manual_schedule import ManualScheduleTrigger
from .minmax_value import BestValueTrigger, MaxValueTrigger, MinValueTrigger

__all__ = [
    "BestValueTrigger", "IntervalTrigger", "ManualScheduleTrigger", "MaxValueTrigger",
    "MinValueTrigger", "get_trigger",
]  # fmt: skip
