"""Fusion: a graph becomes a program of kernels and host steps.

Every equation's op declares one lowering (``dualgrad.lowering``).  Pointwise lowerings
(elementwise, index maps, generators) are *inlined* into the kernels that read them, so
a chain of elementwise ops, views and broadcasts costs one loop and no temporaries;
reductions absorb their pointwise producers (the pre-map), and a reduction read only by
an elementwise chain of its own shape is computed by the kernel at the end of that
chain (the epilogue: ``log(sum(exp(z - m))) + m`` is one kernel).  Library calls (gemm...),
composites and everything else run as host steps that end fusion.

A value gets a buffer (is *materialised*) when it is a graph output, a host step reads
it, more than one consumer reads it (recomputing it would cost more than a load), or a
consumer reads it broadcast over a bigger domain.  Each materialised value is the root
of one kernel.  ``Program.report`` says, for every materialised value, why it was not
fused into its consumers.
"""

import math
from dataclasses import dataclass, field

from dualgrad import lowering as lw
from dualgrad import scalar_ir as S
from dualgrad.ops.view import Reshape

from ..ir.graph import Const
from . import ir as K
from .scalar import Weak, to_kernel, typed_call

_SUPPORTED = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
              "float32", "float64")
_COMBINERS = {"add", "mul", "max", "min"}


@dataclass(frozen=True)
class KernelStep:
    """Run ``kernel``; ``buffers[i]`` is the graph value bound to the kernel's buffer i."""

    kernel: K.Kernel
    buffers: tuple  # Var or Const per kernel buffer
    outputs: tuple  # the Vars it defines (its store buffers)


@dataclass(frozen=True)
class HostStep:
    """Run the equation's op outside the generated code.  ``library`` names the library
    call its lowering declares (``'gemm'``...), so runtimes can bind it to a library
    without knowing ops; None for anything else (composites run whole, random draws
    renumbered per call, unsupported dtypes)."""

    equation: object
    library: str = None
    params: tuple = ()  # the library call's static parameters, ((name, value), ...)


@dataclass(frozen=True)
class Program:
    graph: object
    steps: tuple
    report: tuple = field(default=())  # (value text, reason) per materialised value

    def kernels(self):
        return [step.kernel for step in self.steps if isinstance(step, KernelStep)]

    def fusion_report(self):
        return "\n".join(f"{value}: {reason}" for value, reason in self.report)


def fuse(graph, host=frozenset()):
    """The ``Program`` computing ``graph``; equations whose op is in ``host`` run as host
    steps whatever their lowering."""
    planner = _Planner(graph, host)
    steps = []
    for index, eq in enumerate(graph.equations):
        kind = planner.kinds[eq.out.id]
        if kind == "host":
            low = planner.lowerings[eq.out.id]
            if isinstance(low, lw.LibraryCall):
                steps.append(HostStep(eq, low.name, low.params))
            else:
                steps.append(HostStep(eq))
        elif eq.out.id in planner.materialised:
            steps.append(_KernelBuilder(planner, eq, f"k{index}").build())
    return Program(graph, tuple(steps), tuple(planner.report))


# -- planning ---------------------------------------------------------------------------------
class _Planner:
    def __init__(self, graph, host=frozenset()):
        self.graph, self.host = graph, host
        self.producers = graph.producers()
        self.lowerings, self.kinds = {}, {}
        for eq in graph.equations:
            low, kind = (None, "host") if eq.op in host else _classify(eq)
            self.lowerings[eq.out.id], self.kinds[eq.out.id] = low, kind
        self.materialised, self.report = set(), []
        self.absorbed = {}  # root Var id -> the reduction equation its kernel performs
        self._decide()

    def _decide(self):
        consumers = {}
        for eq in self.graph.equations:
            for x in eq.inputs:
                if not isinstance(x, Const):
                    consumers.setdefault(x.id, []).append(eq)
        outputs = {v.id for v in self.graph.outputs if not isinstance(v, Const)}
        for eq in self.graph.equations:
            var = eq.out
            kind = self.kinds[var.id]
            if kind == "host":
                self.report.append((f"%{var.id} = {eq.op.name}", self._why_host(eq)))
                continue
            reason = self._why_materialise(var, kind, consumers.get(var.id, []), outputs)
            if reason:
                self.materialised.add(var.id)
            self.report.append((f"%{var.id} = {eq.op.name}",
                                reason or "fused into the kernels reading it (no buffer)"))
        self._absorb_epilogues(consumers, outputs)

    def _absorb_epilogues(self, consumers, outputs):
        """A reduction whose only reader is an elementwise chain of its own shape, ending
        at a materialised pointwise value, is computed by that value's kernel: the
        chain becomes the reduction's epilogue (``log(sum(exp(z))) + m`` is one
        kernel), and the reduction result gets no buffer."""
        report = dict(self.report)
        for eq in self.graph.equations:
            if self.kinds[eq.out.id] != "reduce" or eq.out.id in outputs:
                continue
            root = self._epilogue_root(eq.out, consumers)
            if root is None or root.id in self.absorbed:
                continue
            self.absorbed[root.id] = eq
            self.materialised.discard(eq.out.id)
            report[f"%{eq.out.id} = {eq.op.name}"] = (
                f"reduction computed by the kernel of %{root.id} (its epilogue)")
        self.report = list(report.items())

    def _epilogue_root(self, var, consumers):
        """The materialised pointwise value that reads ``var`` through single-reader
        elementwise ops of ``var``'s shape only, or None."""
        while True:
            users = consumers.get(var.id, [])
            if len(users) != 1 or users[0].out.shape != var.shape:
                return None
            user = users[0]
            if not isinstance(self.lowerings[user.out.id], lw.Elementwise) or \
                    self.kinds[user.out.id] != "pointwise":
                return None
            if any(not isinstance(x, Const) and x.id == var.id and x.shape != var.shape
                   for x in user.inputs):
                return None
            if user.out.id in self.materialised:
                return user.out
            var = user.out

    def _why_host(self, eq):
        low = self.lowerings[eq.out.id]
        if eq.op in self.host:
            return "host step: a random draw renumbered on every call"
        if isinstance(low, lw.LibraryCall):
            return f"host step: library call {low.name} (ends fusion)"
        if isinstance(low, lw.Reduction):
            return "host step: arg-reduction or combiner kernels do not express"
        if low is None:
            return "host step: a dtype kernels do not support"
        return f"host step: {type(low).__name__} lowering runs whole"

    def _why_materialise(self, var, kind, users, outputs):
        if var.id in outputs:
            return "graph output"
        if kind == "reduce":
            return "reduction result (consumers read it once computed)"
        hosts = [u.op.name for u in users if self.kinds[u.out.id] == "host"]
        if hosts:
            return f"read by host step {hosts[0]}"
        if len(users) > 1 and not _cheap(self.lowerings[var.id]):
            return f"read by {len(users)} kernels (a load is cheaper than recomputing)"
        if any(_size(u.out.shape) > _size(var.shape) for u in users) and not _cheap(
                self.lowerings[var.id]):
            return "read broadcast over a bigger domain (would be recomputed per element)"
        if not users:
            return "unused but kept by the graph"
        return None


def _classify(eq):
    """``(lowering, kind)`` with kind 'pointwise', 'reduce' or 'host'."""
    avals = [x.aval for x in eq.inputs]
    if any(a.dtype.name not in _SUPPORTED for a in avals + [eq.out.aval]):
        return None, "host"
    low = eq.op.lower(*avals)
    if isinstance(low, (lw.Elementwise, lw.Generator)):
        return low, "pointwise"
    if isinstance(low, lw.IndexMap):
        return low, "pointwise"
    if isinstance(low, lw.Reduction) and not low.arg and _combiner(low.combine):
        return low, "reduce"
    return low, "host"


def _combiner(expr):
    """The named combiner when ``expr`` is ``op(x0, x1)`` for a supported op."""
    if expr.op in _COMBINERS and expr.args == (S.arg(0), S.arg(1)):
        return expr.op
    return None


def _cheap(low):
    """Recomputing it costs about what a load does (a view, a cast)."""
    if isinstance(low, lw.IndexMap):
        return all(not _has_load(e) for src in low.sources for e in src.exprs)
    return isinstance(low, lw.Elementwise) and low.expr.op == "cast"


def _has_load(expr):
    return expr.op == "load" or any(_has_load(a) for a in expr.args)


def _size(shape):
    return math.prod(shape)


# -- building one kernel ----------------------------------------------------------------------
class _Point:
    """Where a value is read: coordinates and/or the C-order flat index in ``shape``.
    Each is derived from the other on demand (``unravelled`` counts the div/mod cost)."""

    def __init__(self, shape, coords=None, flat=None, builder=None):
        self.shape, self._coords, self._flat, self.builder = shape, coords, flat, builder

    @property
    def coords(self):
        if self._coords is None:
            self.builder.unravelled = True
            self._coords = _unravel(self._flat, self.shape)
        return self._coords

    @property
    def flat(self):
        if self._flat is None:
            self._flat = _ravel(self._coords, self.shape)
        return self._flat


class _KernelBuilder:
    def __init__(self, planner, eq, name):
        self.planner, self.eq, self.name = planner, eq, name

    def build(self):
        shape = self.eq.out.shape
        absorbed = self.planner.absorbed.get(self.eq.out.id)
        if absorbed is not None:
            return self._build_reduction(absorbed)
        if self.planner.kinds[self.eq.out.id] == "pointwise" and len(shape) != 1:
            # First try a flat 1-d loop (best for vectorising); fall back to the n-d
            # domain when some read needs coordinates (broadcasts, transposes...).
            step = self._build_pointwise(flat_domain=True)
            if not self.unravelled:
                return step
        if self.planner.kinds[self.eq.out.id] == "reduce":
            return self._build_reduction()
        return self._build_pointwise(flat_domain=len(shape) == 1)

    def _reset(self):
        self.buffers, self.positions, self.unravelled, self.memo = [], {}, False, {}
        self.epilogue = None  # (reduction Var id, flat text of its point, its value)

    def _buffer(self, value):
        key = ("c", id(value)) if isinstance(value, Const) else value.id
        if key not in self.positions:
            self.positions[key] = len(self.buffers)
            self.buffers.append(value)
        return self.positions[key]

    def _finish(self, domain, stores, reduce=None):
        kernel_buffers = tuple(K.Buffer(v.aval.dtype.name, _size(v.shape)) for v in self.buffers)
        kernel = K.Kernel(self.name, kernel_buffers, domain, tuple(stores), reduce)
        return KernelStep(kernel, tuple(self.buffers), (self.eq.out,))

    def _build_pointwise(self, flat_domain):
        self._reset()
        shape = self.eq.out.shape
        if flat_domain:
            domain = (_size(shape),)
            point = _Point(shape, flat=K.index(0), builder=self)
        else:
            domain = shape
            point = _Point(shape, coords=tuple(K.index(d) for d in range(len(shape))),
                           builder=self)
        value = self._compute(self.eq, point)
        out = self._buffer(self.eq.out)
        return self._finish(domain, [K.Store(out, point.flat, value)])

    def _build_reduction(self, eq=None):
        """The kernel of reduction ``eq`` (this kernel's own equation by default); for an
        absorbed reduction, the stores are the root's value computed from it."""
        self._reset()
        eq = eq or self.eq
        low = self.planner.lowerings[eq.out.id]
        x = eq.inputs[0]
        axes = low.axes
        kept = [d for d in range(len(x.shape)) if d not in axes]
        domain = tuple(x.shape[d] for d in kept)
        inner = tuple(x.shape[d] for d in axes)
        coords = [None] * len(x.shape)
        for position, d in enumerate(kept):
            coords[d] = K.index(position)
        for r, d in enumerate(axes):
            coords[d] = K.index(len(kept) + r)
        acc_dtype = eq.out.aval.dtype.name
        element = self._value(x, _Point(x.shape, coords=tuple(coords), builder=self))
        pre = to_kernel(low.pre, [element], acc_dtype)
        combine = _combiner(low.combine)
        reduce = K.Reduce(inner, pre, combine, K._python_scalar(low.identity, acc_dtype),
                          acc_dtype)
        count = K.const(_size(inner), acc_dtype)
        value = to_kernel(low.post, [K.acc(acc_dtype), count], acc_dtype)
        out_point = _Point(eq.out.shape, coords=self._out_coords(eq.out.shape, kept, low),
                           builder=self)
        if eq is not self.eq:  # the root reads the reduction at its own point only
            self.epilogue = (eq.out.id, K.render_text(out_point.flat), value)
            value = self._compute(self.eq, out_point)
        out = self._buffer(self.eq.out)
        return self._finish(domain, [K.Store(out, out_point.flat, value)], reduce)

    @staticmethod
    def _out_coords(out_shape, kept, low):
        if not low.keepdims:
            return tuple(K.index(d) for d in range(len(out_shape)))
        coords, position = [], 0
        for d in range(len(out_shape)):
            if d in kept:
                coords.append(K.index(position))
                position += 1
            else:
                coords.append(K.const(0, "int64"))
        return tuple(coords)

    # -- values ------------------------------------------------------------------------
    def _value(self, value, point):
        """The element of graph value ``value`` at ``point`` (a KExpr)."""
        if self.epilogue is not None and not isinstance(value, Const) and \
                value.id == self.epilogue[0]:
            assert K.render_text(point.flat) == self.epilogue[1], "epilogue read elsewhere"
            return self.epilogue[2]
        if isinstance(value, Const):
            if not value.shape and not hasattr(value.value, "shape"):
                return Weak(value.value)
            if not value.shape:
                return K.const(value.value[()], value.dtype.name)
            return K.read(self._buffer(value), point.flat, value.dtype.name)
        if value.id in self.planner.materialised and value.id != self.eq.out.id or \
                value.id not in self.planner.kinds or self.planner.kinds[value.id] == "host":
            return K.read(self._buffer(value), point.flat, value.dtype.name)
        key = (value.id, _expr_key(point))
        if key not in self.memo:
            self.memo[key] = self._compute(self.planner.producers[value.id], point)
        return self.memo[key]

    def _compute(self, eq, point):
        low = self.planner.lowerings[eq.out.id]
        out = eq.out
        if isinstance(eq.op, Reshape):
            x = eq.inputs[0]
            return self._value(x, _reshaped_point(point, out.shape, x.shape, self))
        if isinstance(low, lw.Elementwise):
            args = [self._value(x, self._broadcast(point, out.shape, x.shape))
                    for x in eq.inputs]
            return to_kernel(low.expr, args, out.dtype.name)
        if isinstance(low, lw.Generator):
            return to_kernel(low.expr, [], out.dtype.name, (point.flat,))
        if isinstance(low, lw.IndexMap):
            return self._index_map(eq, low, point)
        raise AssertionError(f"{eq.op.name} is not pointwise")

    def _broadcast(self, point, out_shape, in_shape):
        if tuple(in_shape) == tuple(out_shape):
            return point
        lead = len(out_shape) - len(in_shape)
        coords = tuple(K.const(0, "int64") if n == 1 else point.coords[lead + d]
                       for d, n in enumerate(in_shape))
        return _Point(in_shape, coords=coords, builder=self)

    def _index_map(self, eq, low, point):
        out = eq.out
        dtype = out.dtype.name
        result = K.const(low.fill, dtype)
        for source in reversed(low.sources):
            x = eq.inputs[source.input]
            coords = [self._index_expr(e, eq, point) for e in source.exprs]
            conditional = source.valid != S.const(True)
            if conditional:
                # both branches of a select are evaluated: keep the read in bounds
                coords = [_clamp(c, n) for c, n in zip(coords, x.shape)]
            value = K.cast(self._typed_value(self._value(x, _Point(x.shape, coords=tuple(
                coords), builder=self)), dtype), dtype)
            if not conditional:
                result = value
                continue
            valid = to_kernel(source.valid, [], "bool", self._index_list(point, out))
            result = K.call("where", valid, value, result)
        return result

    def _typed_value(self, value, dtype):
        return K.const(value.value, dtype) if isinstance(value, Weak) else value

    def _index_list(self, point, out):
        return point.coords if out.shape else ()

    def _index_expr(self, expr, eq, point):
        """An index-map coordinate (int64), with ``load`` nodes reading inputs (gather)."""
        indices = self._index_list(point, eq.out)

        def visit(e):
            if e.op == "load":
                x = eq.inputs[e.value]
                coords = [_clamp(K.cast(visit(a), "int64"), n) for a, n in zip(e.args, x.shape)]
                return self._typed_value(self._value(x, _Point(
                    x.shape, coords=tuple(coords), builder=self)), "int64")
            if e.op == "index":
                return indices[e.value]
            if e.op == "const":
                return K.const(e.value, "int64") if not isinstance(e.value, float) else \
                    K.const(e.value, "float64")
            if e.op == "cast":
                return K.cast(visit(e.args[0]), e.value)
            return typed_call(e.op, [visit(a) for a in e.args])

        return K.cast(visit(expr), "int64")


def _reshaped_point(point, out_shape, in_shape, builder):
    """Where a reshape's input is read for its output at ``point``: from the flat index
    when that is at hand, else from the coordinates group by group (the runs of axes
    whose sizes multiply to the same, e.g. ``(1600, 100) -> (50, 32, 100)``), so that
    only the axes a group splits or merges pay a div/mod."""
    if point._coords is None or 0 in out_shape:
        return _Point(in_shape, flat=point.flat, builder=builder)
    out_axes = [d for d, n in enumerate(out_shape) if n != 1]
    in_axes = [d for d, n in enumerate(in_shape) if n != 1]
    coords = [K.const(0, "int64")] * len(in_shape)
    i = j = 0
    while i < len(out_axes) and j < len(in_axes):
        a, b = i + 1, j + 1
        size_out, size_in = out_shape[out_axes[i]], in_shape[in_axes[j]]
        while size_out != size_in:
            if size_out < size_in and a < len(out_axes):
                size_out *= out_shape[out_axes[a]]
                a += 1
            elif size_in < size_out and b < len(in_axes):
                size_in *= in_shape[in_axes[b]]
                b += 1
            else:
                return _Point(in_shape, flat=point.flat, builder=builder)
        group_out, group_in = out_axes[i:a], in_axes[j:b]
        if len(group_out) == 1 and len(group_in) == 1:
            coords[group_in[0]] = point._coords[group_out[0]]
        else:
            flat = _ravel([point._coords[d] for d in group_out], [out_shape[d] for d in group_out])
            for d, c in zip(group_in, _unravel(flat, [in_shape[d] for d in group_in])):
                coords[d] = c
            builder.unravelled = True
        i, j = a, b
    if i < len(out_axes) or j < len(in_axes):
        return _Point(in_shape, flat=point.flat, builder=builder)
    return _Point(in_shape, coords=tuple(coords), builder=builder)


def _expr_key(point):
    return K.render_text(point.flat) if point._flat is not None or point._coords is not None \
        else ""


def _clamp(c, n):
    low = K.const(0, "int64")
    high = K.const(max(n - 1, 0), "int64")
    return K.call("min", K.call("max", c, low), high)


def _ravel(coords, shape):
    """``sum(c_d * stride_d)`` for C order, skipping size-1 dims and multiplications by 1."""
    flat, stride = None, 1
    for c, n in zip(reversed(coords), reversed(shape)):
        if n != 1:
            term = c if stride == 1 else K.call("mul", c, K.const(stride, "int64"))
            flat = term if flat is None else K.call("add", term, flat)
        stride *= n
    return flat if flat is not None else K.const(0, "int64")


def _unravel(flat, shape):
    coords, stride = [], 1
    strides = []
    for n in reversed(shape):
        strides.append(stride)
        stride *= n
    strides.reverse()
    for d, n in enumerate(shape):
        if n == 1:
            coords.append(K.const(0, "int64"))
            continue
        c = flat if strides[d] == 1 else K.call("floordiv", flat, K.const(strides[d], "int64"))
        if d > 0:
            c = K.call("mod", c, K.const(n, "int64"))
        coords.append(c)
    return tuple(coords)
