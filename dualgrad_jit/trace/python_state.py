"""The Python values a traced function may have baked into its graph, and their guard.

A trace turns every Python number the code reads (a global ``SCALE``, a closure's
``lr``, ``optimizer.lr``, a link's ``ratio``) into a graph constant.  The tracer cannot
see those reads, so a replay after such a value changed would silently compute with the
old one.  ``snapshot`` therefore records, after each trace, the Python state reachable
from the function and its arguments: numbers and strings by value, arrays, Parameters,
functions and other objects by identity (rebinding a captured array or replacing a
Parameter is a change).  A replay needs the same snapshot; otherwise the function is
traced again, as for any failed guard.

What is walked: the function's closure cells and the globals its code names (and, for
a bound method, a ``functools.partial`` or a callable object, what they hold), plus every
argument that is not an array.  Objects are walked through their ``__dict__`` (links,
optimizers, user objects) and the scalar settings of user classes; small tuples, dicts
and a link's lists item by item; other lists and sets (mostly accumulators) by
identity; up to ``MAX_DEPTH`` levels and ``MAX_ENTRIES`` values.  Plain Variables held
as attributes (``Classifier.loss``) are results, not state, and are skipped; so are
optimizer hyperparameters and parameters' update rules, which read their values live
(``optimizer.LiveValue``: a replay reads ``opt.lr`` again) or guard their structure
themselves (``optimizer.setting``).

Values the traced call itself changed are left out of the guard: a replay does not run
the Python code, so it cannot advance them, and guarding them would retrace every call.
A value that the function both changes and bakes into the graph (``self.calls += 1;
return x * self.calls``) is therefore not followed by replays; tests pin this limitation
(the library keeps its own counters, such as optimizers' ``t``, in arrays).
"""

import contextlib
import functools
import operator
import types

import numpy

from dualgrad.core.variable import Parameter, Variable
from dualgrad.link import Link
from dualgrad.optimizer import Hyperparameter

MAX_DEPTH = 6
MAX_ENTRIES = 5000
MAX_ITEMS = 64  # containers longer than this are compared by identity only
_SCALARS = (bool, int, float, complex, str, bytes, type(None))
_OPAQUE = (types.ModuleType, types.FunctionType, types.BuiltinFunctionType, type,
           types.MethodType, functools.partial, numpy.ndarray, numpy.dtype)


class _Same:
    """An identity token: equal only to a token of the very same object."""

    __slots__ = ("obj",)

    def __init__(self, obj):
        self.obj = obj

    def __eq__(self, other):
        return isinstance(other, _Same) and other.obj is self.obj

    def __hash__(self):
        return id(self.obj)

    def __repr__(self):
        return f"<{type(self.obj).__name__} at {id(self.obj):#x}>"


def _scalar(value):
    cls = type(value)
    if cls in _EXACT:  # equal tokens exactly when the values are equal
        return (cls.__name__, value)
    # repr keeps 0.0 and -0.0 apart and makes nan equal to itself.
    return (cls.__name__, repr(value))


_EXACT = frozenset((bool, int, str, bytes, type(None)))


# The token of a plain Variable held in an attribute: its presence is structure (code
# branches on ``self.h is None``); its value is data the graph reads.
HELD = ("Variable", "held")


class Snapshot(dict):
    """``{path: token}``, plus ``held``: ``{path: id(Variable)}`` of attribute-held Variables."""

    def __init__(self):
        super().__init__()
        self.held = {}


class _Walker:
    def __init__(self):
        self.values = Snapshot()
        self.seen = set()
        #: ``(container, keys, values)`` per container walked item by item (``keys``
        #: None for sequences): if every one holds the very same keys and objects
        #: again, a new walk would give the same snapshot (``Memo``)
        self.trail = []

    def root(self, path, value):
        """A top-level value: anything non-scalar is also compared by identity."""
        if isinstance(value, (*_SCALARS, numpy.generic)):
            self.values[path] = _scalar(value)
            return
        self.values[path] = _Same(value)
        self.walk(path, value, 0)

    def walk(self, path, value, depth, structural=False):
        if len(self.values) >= MAX_ENTRIES or depth > MAX_DEPTH:
            return
        kind = _KINDS.get(type(value)) or _kind_of(type(value))
        if kind is _SCALAR:
            self.values[path] = _scalar(value)
        elif kind is _IDENTITY:
            self.values[path] = _Same(value)
        elif kind is _HELD:
            self.values[path] = HELD
            self.values.held[path] = id(value)
        elif kind is _WALKED and id(value) not in self.seen:
            self.seen.add(id(value))
            self._children(path, value, depth, structural)

    def _children(self, path, value, depth, structural):
        if isinstance(value, (list, set, bytearray)) and not (
                structural and isinstance(value, list)):
            # Mutable sequences are mostly accumulators (a log the code appends to):
            # their identity is guarded, not their contents.  A link's lists (its
            # children, layers, parameters) are its structure and are walked.
            self.values[path] = _Same(value)
            return
        if isinstance(value, (tuple, list, frozenset, dict)):
            if len(value) > MAX_ITEMS:
                self.values[path] = _Same(value)
                return
            self.values[path + ".__len__"] = _scalar(len(value))
            self.trail.append((value, tuple(value) if isinstance(value, dict) else None,
                               tuple(value.values() if isinstance(value, dict) else value)))
            if isinstance(value, dict):
                for key, item in list(value.items()):
                    if isinstance(key, _SCALARS):
                        self.walk(f"{path}[{key!r}]", item, depth + 1)
            elif isinstance(value, (tuple, list)):
                for index, item in enumerate(value):
                    self.walk(f"{path}[{index}]", item, depth + 1)
            return
        attributes = getattr(value, "__dict__", None)
        if isinstance(attributes, dict):
            self.trail.append((attributes, tuple(attributes), tuple(attributes.values())))
            link = isinstance(value, Link)
            for name, item in list(attributes.items()):
                self.walk(f"{path}.{name}", item, depth + 1, link)
        cls = type(value)
        if not cls.__module__.startswith(("dualgrad", "builtins", "numpy")):
            settings = vars(cls)
            self.trail.append((settings, tuple(settings), tuple(settings.values())))
            for name, item in list(settings.items()):  # a user class's settings
                if isinstance(item, _SCALARS) and not name.startswith("__"):
                    self.values[f"{path}.__class__.{name}"] = _scalar(item)


# How ``walk`` treats a value, by its type (decided once per type: a replay walks the
# same few types every call)
_SCALAR, _IDENTITY, _HELD, _SKIPPED, _WALKED = "scalar", "identity", "held", "skipped", "walked"
_KINDS = {}


def _kind_of(cls):
    if issubclass(cls, (*_SCALARS, numpy.generic)):
        kind = _SCALAR
    elif issubclass(cls, Parameter):  # (its update rule guards itself: see below)
        kind = _IDENTITY
    elif issubclass(cls, Variable) and not issubclass(cls, Hyperparameter):
        kind = _HELD
    elif issubclass(cls, Hyperparameter) or cls.__module__.startswith("cupy"):
        kind = _SKIPPED  # live hyperparameters; device data (the graph reads arrays itself)
    elif issubclass(cls, _OPAQUE):
        kind = _IDENTITY
    else:
        kind = _WALKED
    _KINDS[cls] = kind
    return kind


def _function_roots(fn):
    """``(name, value)`` for what the code of ``fn`` can read besides its arguments."""
    roots = []
    while isinstance(fn, functools.partial):
        roots += [(f"partial.args[{i}]", a) for i, a in enumerate(fn.args)]
        roots += [(f"partial.{k}", v) for k, v in fn.keywords.items()]
        fn = fn.func
    if isinstance(fn, types.MethodType):
        roots.append(("self", fn.__self__))
        fn = fn.__func__
    if not isinstance(fn, types.FunctionType):
        roots.append(("self", fn))  # a callable object (a Link): its state
        return roots
    if fn.__closure__:
        for name, cell in zip(fn.__code__.co_freevars, fn.__closure__):
            with contextlib.suppress(ValueError):  # an empty cell (assigned later)
                roots.append((name, cell.cell_contents))
    namespace = fn.__globals__
    for name in _global_names(fn.__code__):
        if name in namespace:
            roots.append((name, namespace[name]))
    return roots


@functools.lru_cache(maxsize=512)
def _global_names(code):
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):  # lambdas and comprehensions inside
            names.update(_global_names(const))
    return tuple(sorted(names))


_DATA = (*_SCALARS, numpy.ndarray, Variable, list, range)  # arguments in the cache key


def snapshot(fn, args, static=(), memo=None):
    """``{path: token}`` of the Python state ``fn`` called with ``args`` can read.

    Arrays among ``args`` are the graph's inputs and are not part of it; Python scalars
    among them are already in the cache key.  With a ``Memo`` (one per compiled
    function), a state made of the very same objects as at the last walk gives back
    that walk's snapshot without walking again."""
    roots = _function_roots(fn)
    for index, arg in enumerate(args):
        if (index in static or not isinstance(arg, _DATA)) and not _is_cupy(arg):
            roots.append((f"argument {index}", arg))
    if memo is not None and memo.holds(roots):
        return memo.values
    walker = _Walker()
    for name, value in roots:
        walker.root(name, value)
    if memo is not None:
        memo.keep(roots, walker)
    return walker.values


class Memo:
    """The last walk of one function's state, and a cheap test that a new walk would
    give the same snapshot.

    A walk reads nothing but the roots, the keys and values of the containers it walks
    item by item (``__dict__``s, small tuples and dicts, a link's lists, a user class's
    attributes), and, through them, the objects they hold.  When every root and every
    value of every such container is the very same object as at the last walk (``is``:
    numbers and strings are immutable, and an equal number in a new object only costs
    a walk), and the keys are the same in the same order, the new walk would visit the
    same objects in the same order and return equal tokens.  The memo holds references
    to what it compares, so no object can be freed and its id reused in between."""

    __slots__ = ("roots", "trail", "values")

    def __init__(self):
        self.roots, self.trail, self.values = None, (), None

    def keep(self, roots, walker):
        self.roots, self.trail, self.values = roots, walker.trail, walker.values

    def holds(self, roots):
        last = self.roots
        if last is None or len(roots) != len(last):
            return False
        for (name, value), (old_name, old_value) in zip(roots, last):
            if value is not old_value or name != old_name:
                return False
        is_ = operator.is_
        for container, keys, values in self.trail:
            if len(container) != len(values):
                return False
            if keys is None:
                if not all(map(is_, container, values)):
                    return False
            # (keys compared by identity first: attribute names are interned strings)
            elif not (all(map(is_, container, keys)) or tuple(container) == keys) or \
                    not all(map(is_, container.values(), values)):
                return False
        return True


def _is_cupy(value):
    return type(value).__module__.startswith("cupy")


class Expected:
    """What a replay needs: the values the traced call left unchanged, and no value at a
    path that did not exist after the trace (an attribute set later may shadow a class
    attribute the code read)."""

    __slots__ = ("values", "paths", "changed", "agreed")

    def __init__(self, before, after):
        self.agreed = None  # the last snapshot found to agree (see ``mismatch``)
        self.values = {path: token for path, token in after.items()
                       if before.get(path) == token}
        self.paths = frozenset(after)
        # Python numbers and strings the traced call changed on objects that existed
        # before it (a counter it advances, a size it records): a replay cannot change
        # them, since it does not run the Python code.  Objects the call created (a
        # cache, a lazily made parameter) and their contents are not counted.
        self.changed = sorted(
            path for path in after
            if path not in self.values and isinstance(after[path], tuple)
            and not path.endswith(".__len__")
            and not (after[path] == HELD and path not in before)  # appeared: not read
            and _owner_path(path) in before and before[_owner_path(path)] == after.get(
                _owner_path(path))  # the same object as before the call
        )


def _owner_path(path):
    """``'c'`` for ``'c.calls'``; ``'c.items[2]'`` -> ``'c.items'``."""
    return path.rsplit(".", 1)[0] if "." in path else path


def stable_part(before, after, read=()):
    """The part of ``after`` the traced call did not change itself (see the module
    docstring): what a replay needs to hold.  ``read`` holds the ids of Variables the
    trace read as state: one held in an attribute that the call then rebound is a state
    the code replaces on each call (a recurrent state), which a replay cannot advance,
    so it counts as changed."""
    expected = Expected(before, after)
    held_before = getattr(before, "held", {})
    held_after = getattr(after, "held", {})
    replaced = sorted(path for path, ident in held_before.items()
                      if ident in read and held_after.get(path) != ident)
    expected.changed = sorted(set(expected.changed) | set(replaced))
    return expected


def mismatch(expected, now):
    """None when ``now`` agrees with ``expected``; else one line naming the change."""
    if not isinstance(expected, Expected):
        return None
    if now is expected.agreed:  # the same snapshot object (``Memo``) agreed before
        return None
    why = _mismatch(expected, now)
    if why is None:
        expected.agreed = now
    return why


def _mismatch(expected, now):
    for path, token in expected.values.items():
        current = now.get(path)
        if current != token:
            return (f"Python value {path} is now {_show(current)} (traced with "
                    f"{_show(token)}); pass values that change as arguments")
    if len(now) != len(expected.paths) or not expected.paths.issuperset(now):
        path = next(iter(set(now) - expected.paths), "?")
        return f"Python value {path} appeared after the trace; pass values that change as arguments"
    return None


def _show(token):
    if token is None:
        return "gone"
    if isinstance(token, tuple):
        return token[1] if isinstance(token[1], str) and token[0] != "str" else repr(token[1])
    return repr(token)
