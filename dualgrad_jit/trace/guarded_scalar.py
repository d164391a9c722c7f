"""Python numbers that remember how traced code used them.

``float(traced)``, ``int(traced)`` and ``.item()`` return a ``GuardedFloat`` /
``GuardedInt``: a real Python number, so user code runs unchanged, that tells its guard
how it was used.  If it is only compared (``if loss.item() > 0:``), the guard is the
comparison's outcome, so any value on the same side of 0 replays the same variant.  Any
other use (arithmetic, formatting, indexing) makes the exact value part of the guard.
"""

import operator

_COMPARISONS = {
    "__lt__": operator.lt, "__le__": operator.le, "__gt__": operator.gt,
    "__ge__": operator.ge, "__eq__": operator.eq, "__ne__": operator.ne,
}  # fmt: skip

_VALUE_USES = (
    "__add__", "__radd__", "__sub__", "__rsub__", "__mul__", "__rmul__", "__truediv__",
    "__rtruediv__", "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__",
    "__rpow__", "__neg__", "__pos__", "__abs__", "__round__", "__trunc__", "__floor__",
    "__ceil__", "__int__", "__float__", "__index__", "__divmod__", "__rdivmod__",
    "__format__", "__str__", "__repr__", "__hash__", "__and__", "__or__", "__xor__",
    "__lshift__", "__rshift__", "__invert__", "__rand__", "__ror__", "__rxor__",
)


class GuardUse:
    """How one converted value was used: exact value needed, or comparisons only."""

    __slots__ = ("value_used", "comparisons")

    def __init__(self):
        self.value_used = False
        self.comparisons = []  # (comparison name, other operand, outcome)


def _make(base):
    namespace = {}  # (int subclasses cannot have __slots__)
    zero = base()

    def raw(self):
        # ``base(self)`` would call the overridden __float__/__int__: add zero instead.
        return base.__add__(self, zero)

    def compare(name, function):
        def method(self, other):
            result = function(raw(self), other)
            if isinstance(other, (int, float)) and not isinstance(other, bool):
                self._use.comparisons.append((name, other, result))
            else:
                self._use.value_used = True
            return result

        return method

    def value_use(name):
        inherited = getattr(base, name)

        def method(self, *args):
            self._use.value_used = True
            return inherited(raw(self), *args)

        return method

    for name, function in _COMPARISONS.items():
        namespace[name] = compare(name, function)
    for name in _VALUE_USES:
        if hasattr(base, name):
            namespace[name] = value_use(name)

    def truthiness(self):
        truth = raw(self) != 0
        self._use.comparisons.append(("__bool__", None, truth))
        return truth

    namespace["__bool__"] = truthiness
    return type(f"Guarded{base.__name__.capitalize()}", (base,), namespace)


GuardedFloat = _make(float)
GuardedInt = _make(int)


def guarded(value, use):
    """``value`` (a Python float/int/bool) wrapped so that ``use`` records its uses."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        use.value_used = True
        return value
    wrapped = (GuardedFloat if isinstance(value, float) else GuardedInt)(value)
    wrapped._use = use
    return wrapped
