"""Values that update math reads anew on every use, so compiled steps stay correct.

A hyperparameter read as a Python float would be frozen into a traced graph; read
through a ``LiveValue`` it is state, read again on every replay.  Settings that decide
which ops run are guarded instead (``setting``), and step counters are 0-d arrays
advanced with ops (``_Counter``).
"""

import numpy

from .backend import get_array_module
from .core import tape
from .core.state import assign
from .core.variable import Variable
from .ops import elementwise as ew


class LiveValue(Variable):
    """A 0-d Variable whose array is ``getattr(owner, name)`` at the moment it is read.

    Update math reads hyperparameters (``lr``, a hook's ``rate``) through it.  A tracer
    lifts it as state, so a compiled step reads the value again on every replay: a new
    ``opt.lr`` takes effect without retracing (a Python float would be frozen into the
    graph).  Numbers are float64, as the Python float they stand for; flags are bool.
    """

    __slots__ = ("_owner", "_key", "_value", "_cache")

    def __init__(self, owner, key):  # (Variable.__init__ would bind an array)
        self._owner, self._key = owner, key
        self._value = self._cache = None
        self._grad_var = self.creator = None
        self.requires_grad = self._unchained = False
        self.name = key

    @property
    def _array(self):
        value = getattr(self._owner, self._key)
        if self._cache is None or type(value) is not type(self._value) or value != self._value:
            flag = isinstance(value, (bool, numpy.bool_))
            self._value = value
            # (a copy: the array is replaced when the value changes, never written, so
            # the same array means the same value; compiled guards rely on it)
            self._cache = numpy.array(value, dtype=bool if flag else numpy.float64)
        return self._cache

    def __reduce__(self):  # copies follow the copied owner
        return type(self), (self._owner, self._key)


def live_value(owner, name):
    """The ``LiveValue`` of ``owner.<name>`` (one per owner and name, kept on the owner)."""
    cache = owner.__dict__.setdefault("_live_values", {})
    live = cache.get(name)
    if live is None or live._owner is not owner:  # (a shallow copy shares the dict)
        live = cache[name] = LiveValue(owner, name)
    return live


def cast_like(x, param):
    """The 0-d value ``x`` in ``param``'s dtype and on its device, ready to meet its
    arrays: float64 hyperparameter math rounded once, as a Python float would be."""
    cast = _CASTS.get(param.dtype)
    if cast is None:
        cast = _CASTS[param.dtype] = ew.Cast(param.dtype)
    return tape.apply(cast, (x,), get_array_module(param._array))


_CASTS = {}


def setting(owner, name):
    """``getattr(owner, name)``: a Python setting that decides WHICH ops run (a flag such
    as ``amsgrad``, a configuration id).  While tracing, the value is also guarded:
    a compiled replay reads it again and retraces when it changed, instead of replaying
    the structure of the old setting."""
    value = getattr(owner, name)
    tracer = tape.TRACER
    if tracer is not None and not getattr(tracer, "abstract", False):  # (symbolic: no replays)
        bool(ew.equal(live_value(owner, name), value))
    return value


_CONFIGURATIONS = {}


def _configuration_id(key):
    """A small int naming ``key`` (a tuple saying which hooks and rules run): equal
    configurations get equal ids, so switching back and forth reuses compiled code."""
    return _CONFIGURATIONS.setdefault(key, len(_CONFIGURATIONS))


def _guard_configuration(owner):
    """While tracing, guard ``owner._configuration`` (eager code never needs it)."""
    if tape.TRACER is not None:
        setting(owner, "_configuration")


class _Counter:
    """``obj.t``: a step count kept as a 0-d int64 array in ``obj.<holder>`` (a Variable).

    Reading gives a Python int (a guard when traced code reads it; the library never
    does inside ``update``); setting writes through ``assign``.  ``count`` advances it
    with an op, so a compiled step counts on every replay."""

    def __init__(self, holder):
        self._holder = holder

    def __get__(self, obj, owner=None):
        return self if obj is None else int(obj.__dict__[self._holder])

    def __set__(self, obj, value):
        holder = obj.__dict__.get(self._holder)
        if holder is None:
            holder = Variable(numpy.zeros((), numpy.int64), requires_grad=False)
            obj.__dict__[self._holder] = holder
        assign(holder, value)

    @staticmethod
    def count(holder):
        assign(holder, ew.add(holder, 1))
