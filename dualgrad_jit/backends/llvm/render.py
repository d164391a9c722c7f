"""Render kernels as LLVM IR: one ``llvmlite.ir.Module`` per list of kernels (one per graph).

Every kernel becomes two functions:

* ``<name>.body(i64 start, i64 end, T0* noalias b0, T1* noalias b1, ...)`` (internal):
  the loops.  ``noalias`` tells LLVM the buffers do not overlap, which is what lets
  loops vectorise without runtime overlap checks;
* ``<name>(i64 start, i64 end, i8** buffers)`` (exported): loads the buffer pointers
  from the table once and calls the body (LLVM inlines it; ``noalias`` survives as
  scoped alias metadata).  This is the only entry point, so a call costs nothing but the
  call itself.

Contract on the caller: a buffer the kernel writes must not overlap any other buffer
of the same call (read-only buffers may).

Loop structure.  The flat range ``[start, end)`` of the C-order domain is walked row by
row over the LAST dimension: the coordinates of the outer dimensions are computed once
per row with div/mod by constants, and the innermost loop's induction variable is the
last coordinate, so reads whose offsets are affine in it become contiguous or strided
vector loads.  A reducing kernel runs, for each output point, a loop nest over the
reduce domain (innermost = last reduce dimension) folding into an accumulator; float
``add``/``mul`` accumulators carry ``reassoc`` so that they vectorise.  A reduction over
an outer axis (consecutive points read consecutive elements: ``_column_reduction``)
instead keeps the accumulators of up to ``COLUMN_RUN`` points of a row in a stack
array and runs the reduce nest outside, the points inside (that loop vectorises).

Addressing is GEP only.  A read whose offset cannot be proven inside its buffer (range
analysis over constants, indices, + - *, //, %, min/max, where) is clamped to it, as
the numpy reference does: both sides of a ``where`` are evaluated, so a masked-off read
must stay in bounds.
"""

from dataclasses import dataclass

from llvmlite import ir

from ...errors import CompileError
from ...kernel import ir as K
from . import scalar
from .scalar import MEMORY_TYPES, ScalarLowering

I64 = ir.IntType(64)
_TABLE = ir.IntType(8).as_pointer().as_pointer()


@dataclass(frozen=True)
class FastMath:
    """Fast-math flags on float instructions.

    The default allows only ``contract`` (``a * b + c`` may become one fused multiply-add,
    which is at least as accurate); ``FastMath.fast()`` allows every flag (NaN and Inf
    are then assumed absent).  Reduction accumulators always get ``reassoc``.
    """

    flags: tuple = ("contract",)

    @classmethod
    def fast(cls):
        return cls(("fast",))

    def reduction_flags(self):
        if "fast" in self.flags:
            return self.flags
        return tuple(sorted(set(self.flags) | {"contract", "reassoc"}))

    def text(self):
        return ",".join(sorted(self.flags))


DEFAULT_FASTMATH = FastMath()


def render_module(kernels, fastmath=DEFAULT_FASTMATH, expand_math=None, name="dualgrad"):
    """One LLVM module holding every kernel of ``kernels``.

    ``expand_math``, when given, rewrites every expression first (``KExpr -> KExpr``),
    e.g. to replace float32 math functions with polynomial expansions.
    """
    module = ir.Module(name=name)
    names = [kernel.name for kernel in kernels]
    if len(set(names)) != len(names):
        raise CompileError(f"kernel names must be distinct within a module, got {names}")
    for kernel in kernels:
        _KernelRenderer(module, kernel, fastmath, expand_math).render()
    return module


#: kernels doing less work than this (domain points x reduced points) are compiled for size
SMALL_KERNEL = 512


class _KernelRenderer:
    def __init__(self, module, kernel, fastmath, expand_math):
        self.module = module
        self.kernel = kernel
        self.fastmath = fastmath
        self.expand = expand_math if expand_math is not None else _identity
        self.extents = tuple(kernel.shape) + (
            tuple(kernel.reduce.shape) if kernel.reduce is not None else ())
        self.bounds = _Bounds(self.extents)
        self.columns = _column_reduction(kernel, self.expand)

    def render(self):
        kernel = self.kernel
        for b in kernel.buffers:
            scalar.kind(b.dtype)  # rejects unsupported dtypes early, with a clear error
        pointer_types = [MEMORY_TYPES[b.dtype].as_pointer() for b in kernel.buffers]
        body = ir.Function(self.module, ir.FunctionType(
            ir.VoidType(), [I64, I64, *pointer_types]), f"{kernel.name}.body")
        body.linkage = "internal"
        if kernel.work < SMALL_KERNEL:
            # a few hundred points: vector loops, unrolled copies and runtime checks
            # would cost compile time (and code size) for nothing measurable
            body.attributes.add("optsize")
        for arg in body.args[2:]:
            arg.add_attribute("noalias")
        self.function = body
        self.builder = ir.IRBuilder(body.append_basic_block("entry"))
        self.lower = ScalarLowering(self.builder, self.fastmath.flags)
        self.pointers = body.args[2:]
        if kernel.size > 0:
            self._walk_rows(body.args[0], body.args[1])
        self.builder.ret_void()
        self._render_entry(body, pointer_types)

    def _render_entry(self, body, pointer_types):
        entry = ir.Function(self.module, ir.FunctionType(ir.VoidType(), [I64, I64, _TABLE]),
                            self.kernel.name)
        entry.attributes.add("nounwind")
        if self.kernel.work < SMALL_KERNEL:
            entry.attributes.add("optsize")
        b = ir.IRBuilder(entry.append_basic_block("entry"))
        table = entry.args[2]
        pointers = [b.bitcast(b.load(b.gep(table, [ir.Constant(I64, k)], inbounds=True)), ty)
                    for k, ty in enumerate(pointer_types)]
        b.call(body, [entry.args[0], entry.args[1], *pointers])
        b.ret_void()

    # -- loops -------------------------------------------------------------------------
    def _alloca(self, ty):
        """A stack slot in the entry block (promoted to a register by SROA)."""
        b = self.builder
        block = b.block
        b.position_at_start(self.function.entry_basic_block)
        slot = b.alloca(ty)
        b.position_at_end(block)
        return slot

    def _loop(self, low, high, body):
        """``for i in range(low, high): body(i)`` at the builder's position."""
        b = self.builder
        counter = self._alloca(I64)
        b.store(low, counter)
        header, inside, after = (self.function.append_basic_block(n)
                                 for n in ("loop", "body", "next"))
        b.branch(header)
        b.position_at_end(header)
        i = b.load(counter)
        b.cbranch(b.icmp_signed("<", i, high), inside, after)
        b.position_at_end(inside)
        body(i)
        b.store(b.add(i, ir.Constant(I64, 1), flags=("nsw",)), counter)
        b.branch(header)
        b.position_at_end(after)

    def _walk_rows(self, start, end):
        """Visit flat points ``[start, end)`` row by row over the last dimension."""
        b = self.builder
        shape = self.kernel.shape
        last = shape[-1] if shape else 1
        # a range outside [0, size) is cut to it: a bad call must not write out of bounds
        start = self.lower.intrinsic("llvm.smax", "int64", start, ir.Constant(I64, 0))
        end = self.lower.intrinsic("llvm.smin", "int64", end, ir.Constant(I64, self.kernel.size))
        flat = self._alloca(I64)
        b.store(start, flat)
        header, row, after = (self.function.append_basic_block(n)
                              for n in ("rows", "row", "done"))
        b.branch(header)
        b.position_at_end(header)
        f = b.load(flat)
        b.cbranch(b.icmp_signed("<", f, end), row, after)
        b.position_at_end(row)
        extent = ir.Constant(I64, last)
        row_index, first = b.udiv(f, extent), b.urem(f, extent)
        count = b.sub(extent, first)
        remaining = b.sub(end, f)
        count = b.select(b.icmp_signed("<", remaining, count), remaining, count)
        coords = []
        for size in reversed(shape[:-1]):
            size = ir.Constant(I64, size)
            coords.append(b.urem(row_index, size))
            row_index = b.udiv(row_index, size)
        coords.reverse()
        if self.columns:
            self._column_run(coords, first, count)
        else:
            self._loop(first, b.add(first, count), lambda j: self._point(coords + [j]))
        b.store(b.add(f, count), flat)
        b.branch(header)
        b.position_at_end(after)

    # -- one domain point ----------------------------------------------------------------
    def _point(self, coords):
        if not self.kernel.shape:
            coords = []
        acc = self._reduce(coords) if self.kernel.reduce is not None else None
        scope = _Scope(self, coords, acc)
        for store in self.kernel.stores:
            self._store(scope, store)

    def _reduce(self, coords):
        r = self.kernel.reduce
        b = self.builder
        slot = self._alloca(scalar.TYPES[r.dtype])
        b.store(self.lower.const(r.identity, r.dtype), slot)
        value_expr = self.expand(r.value)

        def nest(indices, depth):
            if depth == len(r.shape):
                value = _Scope(self, coords + indices, None).value(value_expr)
                value = scalar.cast(self.lower, value, value_expr.dtype, r.dtype)
                combined = self.lower.apply(r.combine, r.dtype, (b.load(slot), value),
                                            flags=self.fastmath.reduction_flags())
                b.store(combined, slot)
                return
            self._loop(ir.Constant(I64, 0), ir.Constant(I64, r.shape[depth]),
                       lambda k: nest(indices + [k], depth + 1))

        nest([], 0)
        return b.load(slot)

    # -- column reductions: accumulators of a run of points, reduce loop outside -------------
    def _column_run(self, coords, first, count):
        """Points ``first .. first + count`` of one row, ``COLUMN_RUN`` at a time: the
        accumulators of the run live in a stack array, the reduce loop nest runs outside
        and the run inside (consecutive points read consecutive elements, so the inner
        loop vectorises), then each point's stores are computed from its accumulator.
        Each accumulator still folds the reduce domain in order, as ``_reduce`` does."""
        b, r = self.builder, self.kernel.reduce
        run = min(COLUMN_RUN, self.kernel.shape[-1])
        accs = self._alloca(ir.ArrayType(scalar.TYPES[r.dtype], run))
        accs.name = "columns"
        step = ir.Constant(I64, run)
        stop = b.add(first, count)
        runs = b.udiv(b.add(count, ir.Constant(I64, run - 1)), step)

        def one_run(t):
            low = b.add(first, b.mul(t, step))
            n = b.sub(stop, low)
            n = b.select(b.icmp_signed("<", step, n), step, n)
            zero = ir.Constant(I64, 0)

            def slot(jj):
                return b.gep(accs, [zero, jj], inbounds=True)

            identity = self.lower.const(r.identity, r.dtype)
            self._loop(zero, n, lambda jj: b.store(identity, slot(jj)))
            value_expr = self.expand(r.value)

            def fold(indices, jj):
                point = coords + [b.add(low, jj)] + indices
                value = _Scope(self, point, None).value(value_expr)
                value = scalar.cast(self.lower, value, value_expr.dtype, r.dtype)
                combined = self.lower.apply(r.combine, r.dtype, (b.load(slot(jj)), value),
                                            flags=self.fastmath.reduction_flags())
                b.store(combined, slot(jj))

            def nest(indices, depth):
                if depth == len(r.shape):
                    self._loop(zero, n, lambda jj: fold(indices, jj))
                    return
                self._loop(zero, ir.Constant(I64, r.shape[depth]),
                           lambda k: nest(indices + [k], depth + 1))

            nest([], 0)

            def finish(jj):
                scope = _Scope(self, coords + [b.add(low, jj)], b.load(slot(jj)))
                for store in self.kernel.stores:
                    self._store(scope, store)

            self._loop(zero, n, finish)

        self._loop(ir.Constant(I64, 0), runs, one_run)

    def _store(self, scope, store):
        buffer = self.kernel.buffers[store.buffer]
        value_expr = self.expand(store.value)
        offset = scope.offset(self.expand(store.offset))
        value = scalar.cast(self.lower, scope.value(value_expr), value_expr.dtype, buffer.dtype)
        if buffer.dtype == "bool":
            value = self.builder.zext(value, MEMORY_TYPES["bool"])
        pointer = self.builder.gep(self.pointers[store.buffer], [offset], inbounds=True)
        self.builder.store(value, pointer)
        scope.forget_reads_of(store.buffer)


class _Scope:
    """Values of expression nodes at one point, each rendered once (memoised by node)."""

    def __init__(self, renderer, coords, acc):
        self.r = renderer
        self.coords = coords
        self.acc = acc
        self.memo = {}  # id(node) -> (node, value, buffers it reads)

    def value(self, expr):
        for node in K.walk(expr):
            if id(node) not in self.memo:
                reads = frozenset().union(*(self.memo[id(a)][2] for a in node.args))
                if node.op == "read":
                    reads = reads | {node.value}
                self.memo[id(node)] = (node, self._node(node), reads)
        return self.memo[id(expr)][1]

    def offset(self, expr):
        """An offset as an i64 value."""
        value = self.value(expr)
        if expr.dtype != "int64":
            value = scalar.cast(self.r.lower, value, expr.dtype, "int64")
        return value

    def forget_reads_of(self, buffer):
        """After a store to ``buffer`` its earlier reads are stale."""
        self.memo = {key: entry for key, entry in self.memo.items() if buffer not in entry[2]}

    def _node(self, node):
        lower = self.r.lower
        if node.op == "const":
            return lower.const(node.value, node.dtype)
        if node.op == "index":
            if node.value >= len(self.coords):
                raise CompileError(f"kernel {self.r.kernel.name}: index({node.value}) outside "
                                   f"the domain {self.r.extents}")
            return self.coords[node.value]
        if node.op == "acc":
            if self.acc is None:
                raise CompileError(f"kernel {self.r.kernel.name}: 'acc' used outside the "
                                   "stores of a reducing kernel")
            return self.acc
        if node.op == "read":
            return self._read(node)
        operands = [self.memo[id(a)][1] for a in node.args]
        if node.op == "cast":
            return scalar.cast(lower, operands[0], node.args[0].dtype, node.dtype)
        if node.op == "bitcast":
            return scalar.bitcast(lower, operands[0], node.args[0].dtype, node.dtype)
        operand_dtype = node.args[-1].dtype if node.op == "where" else node.args[0].dtype
        return lower.apply(node.op, operand_dtype, operands)

    def _read(self, node):
        r, b = self.r, self.r.builder
        buffer = r.kernel.buffers[node.value]
        if buffer.size == 0:  # nothing to read; the reference yields zeros
            return r.lower.const(0, buffer.dtype)
        offset = self.offset(node.args[0])
        low, high = r.bounds.of(node.args[0])
        if low is None or low < 0 or high > buffer.size - 1:
            offset = r.lower.intrinsic("llvm.smax", "int64", offset, ir.Constant(I64, 0))
            offset = r.lower.intrinsic("llvm.smin", "int64", offset,
                                       ir.Constant(I64, buffer.size - 1))
        value = b.load(b.gep(r.pointers[node.value], [offset], inbounds=True))
        if buffer.dtype == "bool":
            value = b.icmp_unsigned("!=", value, ir.Constant(value.type, 0))
        if buffer.dtype != node.dtype:
            value = scalar.cast(r.lower, value, buffer.dtype, node.dtype)
        return value


def _identity(expr):
    return expr


#: the most points a column reduction keeps accumulators for (a stack array)
COLUMN_RUN = 1024


def _column_reduction(kernel, expand):
    """Whether ``kernel`` reduces over an outer axis: every read of the reduce value has an
    offset affine in the indices with coefficient 0 or 1 on the last domain index, at
    least one of them 1, and no store writes a buffer the value reads (the stores of a
    run are written after its whole reduction)."""
    r = kernel.reduce
    if r is None or not kernel.shape or kernel.shape[-1] < 2 or kernel.work < SMALL_KERNEL:
        return False
    last = kernel.ndim - 1
    coefficients = set()
    for node in K.walk(expand(r.value)):
        if node.op == "read":
            affine = _affine(node.args[0])
            if affine is None:
                return False
            coefficients.add(affine.get(last, 0))
    written = {store.buffer for store in kernel.stores}
    reads = {node.value for node in K.walk(r.value) if node.op == "read"}
    if written & reads:
        return False
    if 1 in coefficients and coefficients <= {0, 1}:
        return True
    # a short reduction of math functions (the logsumexp of a 10-class softmax) also
    # runs points inside: its own loop is too short to vectorise the polynomial, the
    # points' loop is not (strided loads).  Cheap short reductions (a row max) gain
    # nothing from it and cost 3-5x the compile time, so they keep their own loop.
    return r.size <= SHORT_REDUCTION and any(
        node.op in EXPENSIVE for node in K.walk(r.value))


#: reduce extents up to which a reduction of math functions runs its points inside
SHORT_REDUCTION = 16
EXPENSIVE = frozenset(("exp", "expm1", "log", "log1p", "tanh", "erf", "sin", "cos", "pow"))


def _affine(e):
    """``{index: coefficient, None: constant}`` of an integer offset, or ``None``."""
    if e.op == "const":
        return {None: e.value} if isinstance(e.value, int) else None
    if e.op == "index":
        return {e.value: 1}
    if e.op == "cast" and e.dtype == "int64" and e.args[0].dtype in _SAFE_WIDENING:
        return _affine(e.args[0])
    if e.dtype not in ("int64", "int32") or e.op not in ("add", "sub", "mul", "neg"):
        return None
    parts = [_affine(a) for a in e.args]
    if any(p is None for p in parts):
        return None
    if e.op == "neg":
        return {k: -v for k, v in parts[0].items()}
    if e.op == "mul":
        constant = [p for p in parts if set(p) <= {None}]
        if not constant:
            return None
        scale = constant[0].get(None, 0)
        other = parts[1] if constant[0] is parts[0] else parts[0]
        return {k: v * scale for k, v in other.items()}
    sign = -1 if e.op == "sub" else 1
    out = dict(parts[0])
    for k, v in parts[1].items():
        out[k] = out.get(k, 0) + sign * v
    return out


class _Bounds:
    """Integer interval ``(low, high)`` of an offset expression; ``(None, None)`` if unknown."""

    def __init__(self, extents):
        self.extents = extents
        self.memo = {}

    def of(self, expr):
        key = id(expr)
        if key not in self.memo:
            self.memo[key] = (expr, self._compute(expr))
        return self.memo[key][1]

    def _compute(self, e):
        unknown = (None, None)
        if e.op == "const":
            return (int(e.value), int(e.value)) if isinstance(e.value, int) else unknown
        if e.op == "index":
            if e.value >= len(self.extents):
                return unknown
            return 0, max(self.extents[e.value] - 1, 0)
        if e.op == "cast" and e.dtype == "int64" and e.args[0].dtype in _SAFE_WIDENING:
            return self.of(e.args[0])
        if e.dtype not in ("int64", "int32"):
            return unknown
        args = e.args[1:] if e.op == "where" else e.args  # the condition does not matter
        parts = [self.of(a) for a in args]
        if any(p[0] is None for p in parts):
            return unknown
        low, high = _INTERVAL_RULES.get(e.op, _unknown_rule)(e, parts)
        limit = 2 ** (63 if e.dtype == "int64" else 31)
        if low is None or low < -limit or high >= limit:  # it might wrap around
            return unknown
        return low, high


def _unknown_rule(e, parts):
    return None, None


def _corners(function, parts):
    (a0, a1), (b0, b1) = parts
    values = [function(x, y) for x in (a0, a1) for y in (b0, b1)]
    return min(values), max(values)


def _interval_floordiv(e, parts):
    (a0, a1), (b0, b1) = parts
    if b0 != b1 or b0 <= 0:
        return None, None
    return a0 // b0, a1 // b0


def _interval_mod(e, parts):
    (a0, a1), (b0, b1) = parts
    if b0 != b1 or b0 <= 0:
        return None, None
    if a0 >= 0 and a1 < b0:
        return a0, a1
    return 0, b0 - 1


_SAFE_WIDENING = ("bool", "int8", "int16", "int32", "uint8", "uint16", "uint32", "int64")
_INTERVAL_RULES = {
    "add": lambda e, p: (p[0][0] + p[1][0], p[0][1] + p[1][1]),
    "sub": lambda e, p: (p[0][0] - p[1][1], p[0][1] - p[1][0]),
    "mul": lambda e, p: _corners(lambda x, y: x * y, p),
    "neg": lambda e, p: (-p[0][1], -p[0][0]),
    "max": lambda e, p: (max(p[0][0], p[1][0]), max(p[0][1], p[1][1])),
    "min": lambda e, p: (min(p[0][0], p[1][0]), min(p[0][1], p[1][1])),
    "floordiv": _interval_floordiv,
    "mod": _interval_mod,
    "where": lambda e, p: (min(p[0][0], p[1][0]), max(p[0][1], p[1][1])),
}  # fmt: skip
