"""A small backend-neutral scalar IR: how elementwise ops, reductions and index maps lower.

An ``Expr`` is a frozen tree (a DAG when subexpressions are shared) over
``arg(i)`` (the i-th input's element), ``index(d)`` (the d-th output index, for
index maps), constants, and the primitive scalar operations in ``OPS``.
Backends render these trees; nothing in them is specific to LLVM, CUDA or numpy.
``evaluate`` runs an expression with numpy/cupy: it is the reference every
rendering of the IR is checked against.

>>> x = arg(0)
>>> str(tanh(x) * 0.5 + 0.5)
'add(mul(tanh(x0), 0.5), 0.5)'
"""

from dataclasses import dataclass
from typing import Any

import numpy

# name -> number of operands.  The whole vocabulary backends must render.
OPS = {
    "neg": 1, "abs": 1, "sign": 1, "floor": 1, "exp": 1, "log": 1, "log1p": 1, "expm1": 1,
    "sqrt": 1, "tanh": 1, "sin": 1, "cos": 1, "erf": 1, "not": 1,
    "add": 2, "sub": 2, "mul": 2, "div": 2, "pow": 2, "max": 2, "min": 2,
    "floordiv": 2, "mod": 2, "and": 2, "or": 2, "xor": 2, "shl": 2, "shr": 2, "mulhi": 2,
    "lt": 2, "le": 2, "gt": 2, "ge": 2, "eq": 2, "ne": 2,
    "where": 3,
}  # fmt: skip


@dataclass(frozen=True)
class Expr:
    """One node of a scalar expression: ``op`` over ``args``; leaves carry ``value``."""

    op: str
    args: tuple = ()
    value: Any = None

    def __str__(self):
        if self.op == "arg":
            return f"x{self.value}"
        if self.op == "index":
            return f"i{self.value}"
        if self.op == "const":
            return repr(self.value)
        if self.op == "load":
            return f"load<x{self.value}>({', '.join(str(a) for a in self.args)})"
        if self.op == "cast":
            return f"cast<{self.value}>({self.args[0]})"
        return f"{self.op}({', '.join(str(a) for a in self.args)})"

    def __add__(self, other):
        return call("add", self, other)

    def __radd__(self, other):
        return call("add", other, self)

    def __sub__(self, other):
        return call("sub", self, other)

    def __rsub__(self, other):
        return call("sub", other, self)

    def __mul__(self, other):
        return call("mul", self, other)

    def __rmul__(self, other):
        return call("mul", other, self)

    def __truediv__(self, other):
        return call("div", self, other)

    def __rtruediv__(self, other):
        return call("div", other, self)

    def __neg__(self):
        return call("neg", self)


def arg(i):
    """The element of input ``i``."""
    return Expr("arg", (), i)


def index(d):
    """Output index ``d`` (an int64), for index maps."""
    return Expr("index", (), d)


def const(value):
    """A weakly typed constant (it takes the dtype of what it meets, like a Python scalar)."""
    if isinstance(value, Expr):
        return value
    return Expr("const", (), value)


def cast(x, dtype):
    return Expr("cast", (const(x),), numpy.dtype(dtype).name)


def call(op, *args):
    if op not in OPS:
        raise ValueError(f"unknown scalar op {op!r}")
    if len(args) != OPS[op]:
        raise ValueError(f"scalar op {op!r} takes {OPS[op]} operands, got {len(args)}")
    return Expr(op, tuple(const(a) for a in args))


def _unary(name):
    def build(x):
        return call(name, x)

    build.__name__ = name
    return build


neg, abs_, sign, floor, exp, log, log1p, expm1 = map(
    _unary, ("neg", "abs", "sign", "floor", "exp", "log", "log1p", "expm1")
)
sqrt, tanh, sin, cos, erf = map(_unary, ("sqrt", "tanh", "sin", "cos", "erf"))


def where(cond, a, b):
    return call("where", cond, a, b)


def maximum(a, b):
    return call("max", a, b)


def minimum(a, b):
    return call("min", a, b)


def _numpy_table(xp):
    from .ops.special import erf as erf_impl

    def mulhi(a, b):
        wide = a.astype(xp.uint64) * b.astype(xp.uint64)
        return (wide >> xp.uint64(32)).astype(xp.uint32)

    return {
        "neg": xp.negative, "abs": xp.abs, "sign": xp.sign, "floor": xp.floor,
        "exp": xp.exp, "log": xp.log, "log1p": xp.log1p, "expm1": xp.expm1,
        "sqrt": xp.sqrt, "tanh": xp.tanh, "sin": xp.sin, "cos": xp.cos,
        "erf": lambda x: erf_impl(xp, x), "not": xp.logical_not,
        "add": xp.add, "sub": xp.subtract, "mul": xp.multiply, "div": xp.true_divide,
        "pow": xp.power, "max": xp.maximum, "min": xp.minimum,
        "floordiv": xp.floor_divide, "mod": xp.remainder,
        "and": xp.bitwise_and, "or": xp.bitwise_or, "xor": xp.bitwise_xor,
        "shl": xp.left_shift, "shr": xp.right_shift, "mulhi": mulhi,
        "lt": xp.less, "le": xp.less_equal, "gt": xp.greater, "ge": xp.greater_equal,
        "eq": xp.equal, "ne": xp.not_equal, "where": xp.where,
    }  # fmt: skip


def evaluate(expr, args=(), indices=(), xp=numpy):
    """Evaluate ``expr`` elementwise with ``xp``; shared subexpressions are computed once."""
    table = _numpy_table(xp)
    memo = {}

    def visit(e):
        key = id(e)
        if key in memo:
            return memo[key][1]
        if e.op == "arg":
            result = args[e.value]
        elif e.op == "index":
            result = indices[e.value]
        elif e.op == "const":
            result = e.value
        elif e.op == "cast":
            result = xp.asarray(visit(e.args[0])).astype(e.value)
        else:
            result = table[e.op](*(visit(a) for a in e.args))
        memo[key] = (e, result)  # keep ``e`` alive so its id stays unique
        return result

    return visit(expr)
