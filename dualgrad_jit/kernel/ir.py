"""The kernel IR: what the graph becomes after fusion, and what every backend renders.

A ``Kernel`` is a loop over an iteration domain ``shape`` (C order).  For each point of
the domain it evaluates typed scalar expressions (``KExpr``) that read buffers at
computed flat element offsets, optionally folds a ``Reduce`` over an inner domain,
and writes ``Store``s.  Shapes, strides and offsets are specialised constants, so the
canonical ``text`` fully describes the computation; its hash is the cache key.

Nothing here is specific to a backend.  The contract every renderer implements:

* the rendered kernel takes ``(start, end, buffers)`` and computes exactly the domain
  points whose C-order flat index lies in ``[start, end)``, so an executor may split a
  kernel into chunks (threads on a CPU, a grid on a GPU);
* ``index(d)`` is the d-th coordinate (int64) of the current point; in a reducing
  kernel ``index(ndim + r)`` is the r-th coordinate of the reduced domain;
* ``read`` yields element ``offset`` of buffer ``value``; ``acc`` is the finished
  reduction (only inside stores of a reducing kernel);
* operands of every operation already have one dtype (the builder inserted the casts):
  arithmetic and math ops return their operand dtype, comparisons and ``not`` return
  ``bool``, ``where(c, a, b)`` takes a bool ``c``; ``shl``/``shr``/``mulhi`` are on
  unsigned integers; ``cast`` converts C-style (float to int truncates) and
  ``bitcast`` reinterprets the bits of a same-width value (``float32 <-> int32``);
* ``max``/``min`` propagate NaN like numpy (``max(nan, 1) = nan``), ``div`` on
  integers never occurs (integer true division is cast to float first), ``floordiv``
  and ``mod`` follow Python's sign rules like numpy.
"""

import hashlib
import math
from dataclasses import dataclass

from dualgrad.scalar_ir import OPS

LEAVES = ("const", "index", "read", "acc")
COMPARISONS = ("lt", "le", "gt", "ge", "eq", "ne")
COMBINERS = ("add", "mul", "max", "min")


@dataclass(frozen=True)
class KExpr:
    """A typed scalar expression node.  ``dtype`` is a numpy dtype name."""

    op: str
    args: tuple
    dtype: str
    value: object = None

    def __post_init__(self):
        if self.op not in OPS and self.op not in LEAVES and self.op not in ("cast", "bitcast"):
            raise ValueError(f"unknown kernel op {self.op!r}")

    def __str__(self):
        return render_text(self)


@dataclass(frozen=True)
class Buffer:
    """A kernel parameter: ``size`` elements of ``dtype`` (C-contiguous, aligned)."""

    dtype: str
    size: int


@dataclass(frozen=True)
class Store:
    """``buffers[buffer][offset] = value`` at every point of the domain."""

    buffer: int
    offset: KExpr
    value: KExpr


@dataclass(frozen=True)
class Reduce:
    """Fold ``value`` over the inner domain ``shape`` with ``combine`` (one of
    ``COMBINERS``) starting from ``identity``, accumulating in ``dtype``.  Float sums
    may be reassociated (that is what lets them vectorise)."""

    shape: tuple
    value: KExpr
    combine: str
    identity: object
    dtype: str

    @property
    def size(self):
        """Points folded into each output point."""
        return math.prod(self.shape)


@dataclass(frozen=True)
class Kernel:
    name: str
    buffers: tuple
    shape: tuple
    stores: tuple
    reduce: Reduce = None

    @property
    def size(self):
        """Number of domain points (the ``end`` of a whole-kernel call)."""
        return math.prod(self.shape)

    @property
    def work(self):
        """Points computed in all: domain points times the points each one reduces."""
        return self.size * (self.reduce.size if self.reduce is not None else 1)

    @property
    def ndim(self):
        return len(self.shape)

    def outputs(self):
        """Positions of the buffers this kernel writes."""
        return tuple(sorted({store.buffer for store in self.stores}))

    def text(self):
        """The canonical text: equal kernels print equal, whatever their name."""
        lines = [f"kernel[{', '.join(map(str, self.shape))}]("
                 + ", ".join(f"b{i}:{b.dtype}[{b.size}]" for i, b in enumerate(self.buffers))
                 + ")"]
        if self.reduce is not None:
            r = self.reduce
            lines.append(f"  acc:{r.dtype} = reduce[{', '.join(map(str, r.shape))}] "
                         f"{r.combine} from {r.identity!r} of {render_text(r.value)}")
        for store in self.stores:
            lines.append(f"  b{store.buffer}[{render_text(store.offset)}] = "
                         f"{render_text(store.value)}")
        return "\n".join(lines)

    def key(self):
        return hashlib.sha256(self.text().encode()).hexdigest()

    def __str__(self):
        return self.text()


def render_text(expr):
    """Canonical text of an expression (shared subexpressions are printed in full)."""
    if expr.op == "const":
        return f"{expr.value!r}:{expr.dtype}"
    if expr.op == "index":
        return f"i{expr.value}"
    if expr.op == "acc":
        return "acc"
    if expr.op == "read":
        return f"b{expr.value}[{render_text(expr.args[0])}]"
    if expr.op in ("cast", "bitcast"):
        return f"{expr.op}<{expr.dtype}>({render_text(expr.args[0])})"
    return f"{expr.op}({', '.join(render_text(a) for a in expr.args)})"


# -- builders ----------------------------------------------------------------------------
def const(value, dtype):
    return KExpr("const", (), dtype, _python_scalar(value, dtype))


def index(d):
    return KExpr("index", (), "int64", d)


def read(buffer, offset, dtype):
    return KExpr("read", (offset,), dtype, buffer)


def acc(dtype):
    return KExpr("acc", (), dtype, 0)


def cast(x, dtype):
    if x.dtype == dtype:
        return x
    if x.op == "const":
        return const(x.value, dtype)
    return KExpr("cast", (x,), dtype)


def bitcast(x, dtype):
    return KExpr("bitcast", (x,), dtype)


def call(op, *args):
    """``op`` over operands that already share one dtype (see the module contract)."""
    if op in COMPARISONS or op == "not":
        dtype = "bool"
    elif op == "where":
        dtype = args[1].dtype
    else:
        dtype = args[0].dtype
    return KExpr(op, tuple(args), dtype)


def _python_scalar(value, dtype):
    import numpy

    scalar = numpy.asarray(value).astype(dtype)[()]
    return scalar.item()


def walk(expr):
    """Every distinct node of ``expr`` once, operands before users."""
    seen, order = set(), []

    def visit(e):
        if id(e) in seen:
            return
        seen.add(id(e))
        for a in e.args:
            visit(a)
        order.append(e)

    visit(expr)
    return order
