"""Render kernels (``dualgrad_jit.kernel.ir``) as one CUDA C translation unit.

Every kernel becomes ::

    extern "C" __global__ void <name>(long long start, long long end,
                                      float* __restrict__ b0, const float* __restrict__ b1)

(buffers the kernel stores to are ``T*``, the others ``const T*``; float16 buffers hold
raw bits as ``unsigned short``) and computes exactly the domain points whose C-order flat
index lies in ``[start, end)``.  Coordinates come from the flat index by div/mod with the
constant extents (in 32 bits when the domain fits).  Three loop shapes (``strategy``),
launched as ``launch_config`` says:

* ``"pointwise"`` (no reduction) and ``"thread"`` (one thread folds the whole reduce
  domain of an output point): a grid-stride loop over the flat range;
* ``"block"``: one block per output point; each thread folds a strided slice of the
  reduce domain, warps combine with ``__shfl_down_sync`` and warp 0 folds the per-warp
  results from shared memory.  The block size must be a multiple of 32 (``BLOCK``).

The rule: a reduction over fewer than ``BLOCK_REDUCE_MIN`` points runs ``"thread"``; so
does a strided one (a column sum: its reads step over memory along the fastest reduce
coordinate, so neighbouring *outputs* are the contiguous ones) with at least
``THREAD_REDUCE_MIN_OUTPUTS`` outputs to keep the device busy; every other runs ``"block"``.

Arguments: ``start`` and ``end`` must be passed as ``numpy.int64`` (a Python int has no
fixed C width), buffers as device arrays of the buffer dtype.  Scalar semantics (numpy's)
are in ``scalar``.

A read whose offset range analysis cannot prove inside its buffer (gathers; the masked
side of a ``where``, which is evaluated too) is clamped to the buffer, as the reference
evaluator does.  Aliasing: ``__restrict__`` promises that a buffer the kernel writes
overlaps no other buffer of the call, except an input written in place at exactly the
flat index it is read at (memory planning allows that); every load of a point is issued
before the point's stores.

>>> from dualgrad_jit.kernel import ir as K
>>> x = K.read(1, K.index(0), "float32")
>>> k = K.Kernel("k_double", (K.Buffer("float32", 8), K.Buffer("float32", 8)), (8,),
...              (K.Store(0, K.index(0), K.call("add", x, x)),))
>>> print(render_kernel(k))
extern "C" __global__ void k_double(long long start, long long end, float* __restrict__ b0, const float* __restrict__ b1) {
  for (long long flat = start + (long long)blockIdx.x * blockDim.x + threadIdx.x; flat < end;
       flat += (long long)blockDim.x * gridDim.x) {
    const long long i0 = flat;
    const float v0 = b1[i0];
    const float v1 = v0 + v0;
    b0[i0] = v1;
  }
}
"""  # noqa: E501

from ...errors import CompileError
from ...kernel import ir as K
from . import scalar

BLOCK = 256  # threads per block, every loop shape (a multiple of the warp size)
MAX_GRID = 1 << 16  # blocks per launch; the grid-stride loops cover the rest
BLOCK_REDUCE_MIN = 256  # reduce points from which one block folds each output point
THREAD_REDUCE_MIN_OUTPUTS = 4096  # outputs that keep the device busy one thread each

HEADER = "// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)"
_GRID_STRIDE = (
    "  for (long long flat = start + (long long)blockIdx.x * blockDim.x + threadIdx.x; "
    "flat < end;\n       flat += (long long)blockDim.x * gridDim.x) {")
# warp shuffles move 32- or 64-bit values: narrower accumulators travel as int
_SHUFFLE = {"bool": "int", "int8": "int", "int16": "int", "uint8": "unsigned int",
            "uint16": "unsigned int"}


def render_module(kernels):
    """One translation unit defining every kernel of ``kernels`` (a kernel that appears
    twice under one name is defined once)."""
    unique = {}
    for kernel in kernels:
        scalar.check_name(kernel.name)
        seen = unique.setdefault(kernel.name, kernel)
        if seen is not kernel and seen.text() != kernel.text():
            raise CompileError(f"two different kernels are both named {kernel.name!r}")
    bodies = [render_kernel(kernel) for kernel in unique.values()]
    parts = [HEADER, *scalar.helpers_used("\n".join(bodies)), *bodies]
    return "\n\n".join(parts) + "\n"


def render_kernel(kernel):
    """The ``extern "C" __global__`` definition of one kernel (helpers not included)."""
    scalar.check_name(kernel.name)
    shape = {"pointwise": _pointwise, "thread": _thread_reduce, "block": _block_reduce}
    lines = shape[strategy(kernel)](kernel, _Values(kernel))
    return (f'extern "C" __global__ void {kernel.name}({_parameters(kernel)}) {{\n'
            + "\n".join(lines) + "\n}")


def strategy(kernel):
    """``"pointwise"``, ``"thread"`` or ``"block"`` (the rule is in the module docstring)."""
    r = kernel.reduce
    if r is None:
        return "pointwise"
    if _size(r.shape) < BLOCK_REDUCE_MIN:
        return "thread"
    if kernel.size >= THREAD_REDUCE_MIN_OUTPUTS and _strided(kernel):
        return "thread"
    return "block"


def launch_config(kernel, start=0, end=None):
    """``(grid, block)`` covering the flat range ``[start, end)``; grid 0: nothing to run.
    It analyses the kernel: compute it once per kernel and range, not per launch."""
    end = kernel.size if end is None else end
    n = max(end - start, 0)
    if strategy(kernel) == "block":
        return min(n, MAX_GRID), BLOCK
    return min(-(-n // BLOCK), MAX_GRID), BLOCK


def _size(shape):
    n = 1
    for extent in shape:
        n *= extent
    return n


def _strided(kernel):
    """Whether a read of the reduce body steps over memory along the fastest-varying
    reduce coordinate."""
    r = kernel.reduce
    varying = [d for d, extent in enumerate(r.shape) if extent > 1]
    d = kernel.ndim + varying[-1]
    for node in K.walk(r.value):
        if node.op == "read":
            c = scalar.coefficient(node.args[0], d)
            if c is not None and abs(c) > 1:
                return True
    return False


def _parameters(kernel):
    written = set(kernel.outputs())
    params = ["long long start", "long long end"]
    for i, buffer in enumerate(kernel.buffers):
        const = "" if i in written else "const "
        params.append(f"{const}{scalar.ctype(buffer.dtype)}* __restrict__ b{i}")
    return ", ".join(params)


def _coordinates(flat, shape, first, used, indent):
    """``const long long i<d> = ...;`` for the used coordinates of the C-order flat index
    ``flat`` over ``shape`` (dimension ``d`` of the kernel is ``first + d`` of shape)."""
    narrow = _size(shape) < 2**32  # unsigned 32-bit div/mod by constants are cheap
    source, suffix = (f"{flat}32", "u") if narrow else (flat, "")
    lines = []
    for d in [d for d in range(len(shape)) if first + d in used]:
        stride, outer = _size(shape[d + 1:]), _size(shape[:d])
        if shape[d] == 1:
            text = "0"
        elif stride == 1 and outer == 1:
            text = flat
        else:
            text = source + (f" / {stride}{suffix}" if stride > 1 else "") + \
                (f" % {shape[d]}{suffix}" if outer > 1 else "")
        lines.append(f"{indent}const long long i{first + d} = {text};")
    if narrow and any(source in line for line in lines):
        lines.insert(0, f"{indent}const unsigned int {source} = (unsigned int){flat};")
    return lines


class _Values:
    """The SSA lines of one kernel's expressions: ``const T v<n> = ...;`` per node."""

    def __init__(self, kernel):
        self.kernel = kernel
        self.extents = kernel.shape + (kernel.reduce.shape if kernel.reduce else ())
        self.count = 0
        self.used = set()  # index(d) leaves met
        self.bounds = {}  # id(node) -> value range of integer nodes, when known

    def emit(self, exprs, lines, indent, memo):
        """Append the lines computing ``exprs``; their C operands (names or literals)."""
        for expr in exprs:
            for node in K.walk(expr):
                if id(node) not in memo:
                    memo[id(node)] = self._node(node, memo, lines, indent)
        return [memo[id(expr)] for expr in exprs]

    def stores(self, lines, indent):
        """Every store's offset and value first (all loads), then the writes in order."""
        stores = self.kernel.stores
        operands = self.emit([s.offset for s in stores] + [s.value for s in stores],
                             lines, indent, {})
        for store, offset, value in zip(stores, operands, operands[len(stores):]):
            dtype = self.kernel.buffers[store.buffer].dtype
            value = scalar.cast(value, store.value.dtype, dtype)
            if dtype == "float16":
                value = f"dg_f2h({value})"
            lines.append(f"{indent}b{store.buffer}[{offset}] = {value};")

    def _node(self, node, memo, lines, indent):
        fits = self.bounds.setdefault(id(node), scalar.bounds(
            node, self.extents, [self.bounds.get(id(a)) for a in node.args]))
        if node.op == "const":
            return scalar.literal(node.value, node.dtype)
        if node.op == "index":
            self.used.add(node.value)
            return f"i{node.value}"
        if node.op == "acc":
            return scalar.cast("acc", self.kernel.reduce.dtype, node.dtype)
        args = [memo[id(a)] for a in node.args]
        if node.op == "read":
            text = self._read(node, args[0])
        elif node.op == "cast":
            text = scalar.cast(args[0], node.args[0].dtype, node.dtype)
        elif node.op == "bitcast":
            text = scalar.bitcast(args[0], node.args[0].dtype, node.dtype)
        else:
            operand = node.args[1 if node.op == "where" else 0].dtype
            text = scalar.call(node.op, operand, node.dtype, args, fits is not None)
        name = f"v{self.count}"
        self.count += 1
        lines.append(f"{indent}const {scalar.register_type(node.dtype)} {name} = {text};")
        return name

    def _read(self, node, offset):
        buffer = self.kernel.buffers[node.value]
        if buffer.size == 0:  # nothing to read: the reference yields zeros
            return scalar.literal(0, node.dtype)
        bounds = self.bounds.get(id(node.args[0]))
        if bounds is None or bounds[0] < 0 or bounds[1] >= buffer.size:
            offset = f"min(max((long long)({offset}), 0LL), {buffer.size - 1}LL)"
        text = f"b{node.value}[{offset}]"
        if buffer.dtype == "float16":
            text = f"dg_h2f({text})"
        return scalar.cast(text, buffer.dtype, node.dtype)


def _pointwise(kernel, values):
    body = []
    values.stores(body, "    ")
    coords = _coordinates("flat", kernel.shape, 0, values.used, "    ")
    return [_GRID_STRIDE, *coords, *body, "  }"]


def _fold(kernel, values, lines, indent):
    """Lines folding the reduce value of the current point into ``acc``."""
    r = kernel.reduce
    (value,) = values.emit([r.value], lines, indent, {})
    value = scalar.cast(value, r.value.dtype, r.dtype)
    lines.append(f"{indent}acc = {scalar.call(r.combine, r.dtype, r.dtype, ['acc', value])};")


def _thread_reduce(kernel, values):
    r, n = kernel.reduce, kernel.ndim
    loops = [f"{'  ' * (2 + d)}for (long long i{n + d} = 0; i{n + d} < {extent}; "
             f"++i{n + d}) {{" for d, extent in enumerate(r.shape)]
    fold, body = [], []
    _fold(kernel, values, fold, "  " * (2 + len(loops)))
    values.stores(body, "    ")
    coords = _coordinates("flat", kernel.shape, 0, values.used, "    ")
    acc = f"    {scalar.register_type(r.dtype)} acc = {scalar.literal(r.identity, r.dtype)};"
    closing = [f"{'  ' * (1 + d)}}}" for d in range(len(loops), 0, -1)]
    return [_GRID_STRIDE, *coords, acc, *loops, *fold, *closing, *body, "  }"]


def _block_reduce(kernel, values):
    r = kernel.reduce
    T, identity = scalar.register_type(r.dtype), scalar.literal(r.identity, r.dtype)
    fold, body = [], []
    _fold(kernel, values, fold, "      ")
    values.stores(body, "        ")
    outer = _coordinates("flat", kernel.shape, 0, values.used, "    ")
    inner = _coordinates("r", r.shape, kernel.ndim, values.used, "      ")
    return [
        f"  __shared__ {T} partial[32];",
        "  for (long long flat = start + blockIdx.x; flat < end; flat += gridDim.x) {",
        *outer,
        f"    {T} acc = {identity};",
        f"    for (long long r = threadIdx.x; r < {_size(r.shape)}; r += blockDim.x) {{",
        *inner, *fold,
        "    }",
        *_warp_fold(r, "    "),
        "    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = acc;",
        "    __syncthreads();",
        "    if (threadIdx.x < 32) {",
        f"      acc = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : {identity};",
        *_warp_fold(r, "      "),
        "      if (threadIdx.x == 0) {",
        *body,
        "      }",
        "    }",
        "    __syncthreads();  // partial[] is reused by the next output point",
        "  }",
    ]


def _warp_fold(r, indent):
    """Lines folding ``acc`` across the 32 lanes of a warp (lane 0 gets the result)."""
    T = scalar.register_type(r.dtype)
    moved = _SHUFFLE.get(r.dtype, T)
    shuffle = "__shfl_down_sync(0xffffffffu, acc, lane)"
    if moved != T:
        shuffle = f"({T})__shfl_down_sync(0xffffffffu, ({moved})acc, lane)"
    combined = scalar.call(r.combine, r.dtype, r.dtype, ["acc", "other"])
    return [f"{indent}for (int lane = 16; lane > 0; lane >>= 1) {{",
            f"{indent}  const {T} other = {shuffle};",
            f"{indent}  acc = {combined};",
            f"{indent}}}"]
