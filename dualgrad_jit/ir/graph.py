"""The graph IR: SSA values, single-output equations and graphs, all immutable.

A ``Graph`` is a function: ``inputs`` (Vars), ``equations`` in topological order, each
applying one dualgrad ``Op`` to Vars and Consts and defining one new Var, and
``outputs`` (Vars or Consts).  The op instance is the equation's label: its attributes
(axes, shapes, flags) live on it, and it is hashable and compared by value, so two
equations with equal ops and equal inputs compute the same thing.

Nothing here mutates: passes build new graphs (see ``GraphBuilder``).
"""

import functools
import hashlib
from dataclasses import dataclass

import numpy

from dualgrad.core.aval import ShapedArray, aval_of

_PYTHON_SCALARS = (bool, int, float, complex)


@dataclass(frozen=True)
class Var:
    """An SSA value: defined once (a graph input or one equation's output)."""

    id: int
    aval: ShapedArray

    @property
    def shape(self):
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    def __repr__(self):
        return f"Var(%{self.id}:{self.aval})"


@dataclass(frozen=True, eq=False)
class Const:
    """A constant operand: a Python scalar (weakly typed, like ``2.0`` in ``x * 2.0``)
    or a read-only numpy array.  Equal and hashed by content (dtype, shape, bytes), so
    common-subexpression elimination sees ``x * 2.0`` twice as the same thing.

    Build one with ``Const.of(value)``.
    """

    value: object
    aval: ShapedArray

    @classmethod
    def of(cls, value):
        """A Const holding ``value`` (Python scalar, numpy scalar or array-like).

        >>> Const.of(2.0).aval.weak, Const.of(numpy.float32(2.0)).aval.weak
        (True, False)
        """
        if isinstance(value, Const):
            return value
        if type(value) in _PYTHON_SCALARS:
            return cls(value, aval_of(value))
        array = numpy.array(value)  # a private copy, so nobody can change it later
        if array.dtype.kind not in "biufc":
            raise TypeError(
                f"cannot make a graph constant of {type(value).__name__} {value!r}: constants "
                "are Python numbers or numeric numpy arrays (pass Variables' .array)"
            )
        array.setflags(write=False)
        return cls(array, ShapedArray(array.shape, array.dtype))

    @property
    def shape(self):
        return self.aval.shape

    @property
    def dtype(self):
        return self.aval.dtype

    @functools.cached_property
    def key(self):
        """What equality and hashing compare: the aval and the exact bits of the value."""
        if isinstance(self.value, numpy.ndarray):
            return (self.aval, self.value.tobytes())
        # repr keeps -0.0 apart from 0.0 and makes nan equal to nan, as bits would.
        return (self.aval, type(self.value).__name__, repr(self.value))

    def digest(self):
        """A short content hash (for printing big arrays)."""
        if isinstance(self.value, numpy.ndarray):
            payload = f"{self.aval.dtype.str}{self.aval.shape}".encode() + self.value.tobytes()
        else:
            payload = repr(self.key).encode()
        return hashlib.sha256(payload).hexdigest()[:8]

    def __eq__(self, other):
        return isinstance(other, Const) and self.key == other.key

    def __hash__(self):
        return hash(self.key)

    def __repr__(self):
        from .printer import format_const

        return f"Const({format_const(self)})"


@dataclass(frozen=True)
class Equation:
    """``out = op(*inputs)``; ``out.aval`` is what ``op.infer`` gives for the inputs."""

    op: object
    inputs: tuple
    out: Var

    def __post_init__(self):
        object.__setattr__(self, "inputs", tuple(self.inputs))

    def __str__(self):
        from .printer import format_equation

        return format_equation(self)


@dataclass(frozen=True)
class Graph:
    """A function in SSA form: ``outputs = f(*inputs)`` through ``equations``.

    Printing a graph (``str(graph)``) gives its canonical text: structurally equal
    graphs print identically, whatever their Var ids.
    """

    inputs: tuple
    equations: tuple
    outputs: tuple

    def __post_init__(self):
        for name in ("inputs", "equations", "outputs"):
            object.__setattr__(self, name, tuple(getattr(self, name)))

    @property
    def in_avals(self):
        return tuple(v.aval for v in self.inputs)

    @property
    def out_avals(self):
        return tuple(v.aval for v in self.outputs)

    def producers(self):
        """``{var id: equation}`` for every equation's output."""
        return {eq.out.id: eq for eq in self.equations}

    def __str__(self):
        from .printer import print_graph

        return print_graph(self)

