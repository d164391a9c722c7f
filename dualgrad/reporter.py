"""Collecting named values during training (Chainer's ``chainer.reporter``).

A ``Reporter`` owns an ``observation`` dict.  Code anywhere inside
``with reporter.scope(observation):`` calls ``dg.report({'loss': loss}, model)``;
when ``model`` was registered as ``'main'`` the value lands under ``'main/loss'``.
The trainer opens one scope per iteration and extensions (``LogReport``,
``PrintReport``) average what was reported with ``DictSummary``.

>>> import dualgrad as dg, numpy as np
>>> reporter = Reporter()
>>> model = object()
>>> reporter.add_observer('main', model)
>>> observation = {}
>>> with reporter.scope(observation):
...     report({'loss': dg.Variable(np.float32(0.5))}, model)
>>> observation
{'main/loss': 0.5}
"""

import contextlib
import json

import numpy

from .backend import get_array_module, is_cupy_array
from .core.variable import Variable

_reporters = []  # the stack of active reporters; report() writes to the top one


class Reporter:
    """Routes reported values into the current observation dict, named by observer."""

    def __init__(self):
        self._observer_names = {}
        self.observation = {}

    def __enter__(self):
        _reporters.append(self)
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        _reporters.pop()

    @contextlib.contextmanager
    def scope(self, observation):
        """Make this the current reporter, writing into ``observation``, for the block."""
        old = self.observation
        self.observation = observation
        self.__enter__()
        try:
            yield
        finally:
            self.__exit__(None, None, None)
            self.observation = old

    def add_observer(self, name, observer):
        """Values reported with ``observer`` get keys ``'<name>/<key>'``."""
        self._observer_names[id(observer)] = name

    def add_observers(self, prefix, observers):
        """Register ``(name, observer)`` pairs as ``prefix + name``.

        Used as ``reporter.add_observers('main', model.namedlinks(skipself=True))``,
        which names the sub-link at ``/l1`` ``'main/l1'``.
        """
        for name, observer in observers:
            self._observer_names[id(observer)] = prefix + name

    def report(self, values, observer=None):
        """Store ``values`` (a dict) in the observation, prefixed by the observer's name.

        Variables are stored detached from the graph: 0-d CPU values as Python
        floats, others as their arrays, so an observation never keeps a graph alive.
        """
        values = {key: _detach(value) for key, value in values.items()}
        if observer is None:
            self.observation.update(values)
            return
        name = self._observer_names.get(id(observer))
        if name is None:
            raise KeyError(
                f"the observer {type(observer).__name__} is not registered with this reporter; "
                "call reporter.add_observer(name, observer) first (the Trainer registers "
                "the optimizer's target as 'main')"
            )
        for key, value in values.items():
            self.observation[f"{name}/{key}"] = value


def _detach(value):
    if not isinstance(value, Variable):
        return value
    array = value.array
    if array.ndim == 0 and not is_cupy_array(array):
        return float(array)  # NOTE: a cupy 0-d array stays on the device (no sync here)
    return array


def get_current_reporter():
    """The reporter of the innermost active ``scope``."""
    if not _reporters:
        raise RuntimeError(
            "no reporter is active; report inside `with reporter.scope(observation):`"
        )
    return _reporters[-1]


def report(values, observer=None):
    """Report ``values`` to the current reporter; does nothing when none is active.

    Doing nothing outside a scope lets models call ``report`` unconditionally and
    still run outside a trainer.
    """
    if _reporters:
        _reporters[-1].report(values, observer)


@contextlib.contextmanager
def report_scope(observation):
    """Redirect the current reporter's output into ``observation`` for the block."""
    with get_current_reporter().scope(observation):
        yield


class Summary:
    """Running (weighted) mean and standard deviation of scalar values.

    >>> s = Summary()
    >>> for v in (1.0, 2.0, 3.0):
    ...     s.add(v)
    >>> float(s.compute_mean()), [round(float(v), 4) for v in s.make_statistics()]
    (2.0, [2.0, 0.8165])
    """

    def __init__(self):
        self._x = 0.0
        self._x2 = 0.0
        self._n = 0

    def add(self, value, weight=1):
        if isinstance(value, Variable):
            value = value.array
        if isinstance(weight, Variable):
            weight = weight.array
        self._x += weight * value
        self._x2 += weight * value * value
        self._n += weight

    def compute_mean(self):
        """``sum(w * x) / sum(w)``."""
        return self._x / self._n

    def make_statistics(self):
        """``(mean, std)`` with ``std = sqrt(E[x^2] - E[x]^2)`` (population std)."""
        mean = self._x / self._n
        xp = get_array_module(mean)
        # Rounding can make the variance slightly negative when all values are equal.
        var = xp.maximum(self._x2 / self._n - mean * mean, 0.0)
        return mean, xp.sqrt(var)

    def serialize(self, serializer):
        self._x = serializer("_x", self._x)
        self._x2 = serializer("_x2", self._x2)
        self._n = serializer("_n", self._n)


def _is_scalar(value):
    return numpy.isscalar(value) or getattr(value, "ndim", -1) == 0


class DictSummary:
    """A ``Summary`` per key of the dicts added (non-scalar values are skipped).

    A value may be a pair ``(value, weight)``.  ``make_statistics`` gives the mean
    under each key and the standard deviation under ``key + '.std'``.

    >>> d = DictSummary()
    >>> d.add({'loss': 1.0, 'image': numpy.zeros(3)})
    >>> d.add({'loss': 3.0})
    >>> d.compute_mean()
    {'loss': 2.0}
    """

    def __init__(self):
        self._summaries = {}

    def add(self, d):
        for key, value in d.items():
            weight = 1
            if isinstance(value, tuple):
                value, weight = value
                if isinstance(weight, Variable):
                    weight = weight.array
                if not _is_scalar(weight):
                    raise ValueError(f"the weight given for {key!r} is not a scalar")
            if isinstance(value, Variable):
                value = value.array
            if _is_scalar(value):
                self._summaries.setdefault(key, Summary()).add(value, weight=weight)

    def compute_mean(self):
        return {name: summary.compute_mean() for name, summary in self._summaries.items()}

    def make_statistics(self):
        stats = {}
        for name, summary in self._summaries.items():
            mean, std = summary.make_statistics()
            stats[name] = mean
            stats[name + ".std"] = std
        return stats

    def serialize(self, serializer):
        """Save or load every summary; loading replaces the current keys.

        The key list is stored as JSON under ``'_names'``: saving returns the value
        given, loading returns the stored one, so one call serves both directions.
        """
        names = json.loads(str(serializer("_names", json.dumps(list(self._summaries)))))
        summaries = {}
        for index, name in enumerate(names):
            summary = self._summaries.get(name) or Summary()
            summary.serialize(serializer["_summaries"][str(index)])
            summaries[name] = summary
        self._summaries = summaries
