"""Canonical text of a graph, jaxpr-like::

    { lambda %0:f32[32,784], %1:f32[100,784] ;
      %2:f32[32,100] = MatMul{transa=False, transb=True} %0 %1
      %3:f32[32,100] = Tanh %2
     } -> (%3)

Vars are renumbered in order of first appearance, so structurally equal graphs print
the same text whatever their Var ids; op attributes print in slot order.  Constants
print inline: Python scalars by value (``0.5``), small arrays by value with their type
(``[1,2,3]:i64[3]``), bigger ones by type and content hash (``const#1a2b3c4d:f32[784]``).
The text is what golden tests compare and what debug output shows.
"""

import numpy

from .graph import Const, Var

SMALL_ARRAY = 8  # arrays up to this many elements print by value


def format_dtype(dtype):
    """``f32``, ``i64``, ``u8``, ``bool``, ``c64``...

    >>> format_dtype(numpy.dtype('float32'))
    'f32'
    """
    dtype = numpy.dtype(dtype)
    if dtype.kind == "b":
        return "bool"
    return f"{dtype.kind}{dtype.itemsize * 8}"


def format_aval(aval):
    """``f32[32,100]``; a weakly typed (Python scalar) value gets ``{weak}``."""
    text = f"{format_dtype(aval.dtype)}[{','.join(str(d) for d in aval.shape)}]"
    return text + "{weak}" if aval.weak else text


def _nested(array):
    if array.ndim == 0:
        return str(array[()])
    return "[" + ",".join(_nested(part) for part in array) + "]"


def format_const(const):
    """A constant operand, inline.

    >>> format_const(Const.of(0.5)), format_const(Const.of(numpy.arange(3)))
    ('0.5', '[0,1,2]:i64[3]')
    """
    value = const.value
    if not isinstance(value, numpy.ndarray):
        return repr(value)
    if value.size <= SMALL_ARRAY:
        return f"{_nested(value)}:{format_aval(const.aval)}"
    return f"const#{const.digest()}:{format_aval(const.aval)}"


def _format_attr(value):
    if isinstance(value, numpy.ndarray):
        return format_const(Const.of(value))
    if isinstance(value, tuple):
        inner = ", ".join(_format_attr(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def format_op(op):
    """``Sum{axis=1, keepdims=True}``; an op without attributes is just its name."""
    attrs = op.attrs
    if not attrs:
        return op.name
    return op.name + "{" + ", ".join(f"{k}={_format_attr(v)}" for k, v in attrs) + "}"


class Names:
    """Canonical names ``%0, %1, ...`` given to Vars in order of first appearance."""

    def __init__(self):
        self._numbers = {}

    def __call__(self, value):
        if isinstance(value, Const):
            return format_const(value)
        if not isinstance(value, Var):  # only in malformed graphs, which verify reports
            return f"<{value!r}>"
        if value.id not in self._numbers:
            self._numbers[value.id] = len(self._numbers)
        return f"%{self._numbers[value.id]}"

    def typed(self, var):
        return f"{self(var)}:{format_aval(var.aval)}"


def format_equation(eq, names=None):
    """One equation, ``%3:f32[2] = Exp %2``; ``names`` keeps numbering across lines."""
    names = Names() if names is None else names
    operands = "".join(" " + names(x) for x in eq.inputs)
    return f"{names.typed(eq.out)} = {format_op(eq.op)}{operands}"


def print_graph(graph):
    """The canonical text of ``graph`` (also ``str(graph)``).

    >>> from dualgrad.core.aval import ShapedArray
    >>> from dualgrad.ops.elementwise import Exp
    >>> from dualgrad_jit.ir.builder import GraphBuilder
    >>> b = GraphBuilder()
    >>> x = b.add_input(ShapedArray((2,), numpy.dtype('float32')))
    >>> print(print_graph(b.build([b.apply(Exp(), (x,))])))
    { lambda %0:f32[2] ;
      %1:f32[2] = Exp %0
     } -> (%1)
    """
    names = Names()
    header = ", ".join(names.typed(v) for v in graph.inputs)
    lines = ["{ lambda " + (header + " ;" if header else ";")]
    lines.extend("  " + format_equation(eq, names) for eq in graph.equations)
    outputs = ", ".join(names(v) for v in graph.outputs)
    lines.append(f" }} -> ({outputs})")
    return "\n".join(lines)

