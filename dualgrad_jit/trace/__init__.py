"""Turning eager dualgrad code into graphs: the tracer and its guards."""

from .traced_array import TracedArray
from .tracer import Guard, StateRead, Tracer

__all__ = ["Guard", "StateRead", "TracedArray", "Tracer"]
