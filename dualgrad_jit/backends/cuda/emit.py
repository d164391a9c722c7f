"""Pieces of CUDA C every loop shape uses: the SSA lines of a kernel's expressions,
coordinates from a flat index, the fold of one reduce point and the block-wide fold.

``Values`` renders scalar code (``const T v<n> = ...;`` per expression node).  In *lane*
mode it renders one lane of a vectorised loop (``vector``): reads at the flat index come
from vectors already loaded into registers (``r<buffer>.e[lane]``) and stores go to the
lane of the vector ``w<store>`` written after the lanes, so a lane computes exactly what
the scalar loop computes for that point, with the same operations in the same order.
"""

from . import scalar

GRID_STRIDE = (
    "  for (long long flat = start + (long long)blockIdx.x * blockDim.x + threadIdx.x; "
    "flat < end;\n       flat += (long long)blockDim.x * gridDim.x) {")
# warp shuffles move 32- or 64-bit values: narrower accumulators travel as int
_SHUFFLE = {"bool": "int", "int8": "int", "int16": "int", "uint8": "unsigned int",
            "uint16": "unsigned int"}


def size(shape):
    n = 1
    for extent in shape:
        n *= extent
    return n


def coordinates(flat, shape, first, used, indent):
    """``const long long i<d> = ...;`` for the used coordinates of the C-order flat index
    ``flat`` over ``shape`` (dimension ``d`` of the kernel is ``first + d`` of shape)."""
    narrow = size(shape) < 2**32  # unsigned 32-bit div/mod by constants are cheap
    source, suffix = (f"{flat}32", "u") if narrow else (flat, "")
    lines = []
    for d in [d for d in range(len(shape)) if first + d in used]:
        stride, outer = size(shape[d + 1:]), size(shape[:d])
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


class Values:
    """The SSA lines of one kernel's expressions: ``const T v<n> = ...;`` per node.

    ``lanes``: None for scalar code; in lane mode, the ids of the read nodes served from
    vector registers (reads at the flat index; their offsets are not rendered)."""

    def __init__(self, kernel, lanes=None):
        self.kernel = kernel
        self.lanes = lanes
        self.extents = kernel.shape + (kernel.reduce.shape if kernel.reduce else ())
        self.count = 0
        self.used = set()  # index(d) leaves met
        self.bounds = {}  # id(node) -> value range of integer nodes, when known

    def emit(self, exprs, lines, indent, memo):
        """Append the lines computing ``exprs``; their C operands (names or literals)."""
        for expr in exprs:
            for node in self._walk(expr):
                if id(node) not in memo:
                    memo[id(node)] = self._node(node, memo, lines, indent)
        return [memo[id(expr)] for expr in exprs]

    def _walk(self, expr):
        """``K.walk`` that does not enter the offsets of lane reads."""
        seen, order, lanes = set(), [], self.lanes or ()

        def visit(e):
            if id(e) in seen:
                return
            seen.add(id(e))
            if id(e) not in lanes:
                for a in e.args:
                    visit(a)
            order.append(e)

        visit(expr)
        return order

    def stores(self, lines, indent):
        """Every store's offset and value first (all loads), then the writes in order (in
        lane mode: the values, written to the lanes of ``w<store>``)."""
        stores = self.kernel.stores
        if self.lanes is None:
            operands = self.emit([s.offset for s in stores] + [s.value for s in stores],
                                 lines, indent, {})
            targets = [f"b{s.buffer}[{offset}]" for s, offset in zip(stores, operands)]
            operands = operands[len(stores):]
        else:
            operands = self.emit([s.value for s in stores], lines, indent, {})
            targets = [f"w{n}.e[lane]" for n in range(len(stores))]
        for store, target, value in zip(stores, targets, operands):
            dtype = self.kernel.buffers[store.buffer].dtype
            value = scalar.cast(value, store.value.dtype, dtype)
            if dtype == "float16":
                value = f"dg_f2h({value})"
            lines.append(f"{indent}{target} = {value};")

    def _node(self, node, memo, lines, indent):
        if self.lanes is not None and id(node) in self.lanes:
            text = self._lane_read(node)
        else:
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
        return self._loaded(node, f"b{node.value}[{offset}]")

    def _lane_read(self, node):
        return self._loaded(node, f"r{node.value}.e[lane]")

    def _loaded(self, node, text):
        dtype = self.kernel.buffers[node.value].dtype
        if dtype == "float16":
            text = f"dg_h2f({text})"
        return scalar.cast(text, dtype, node.dtype)


def fold(kernel, values, lines, indent):
    """Lines folding the reduce value of the current point into ``acc``."""
    r = kernel.reduce
    (value,) = values.emit([r.value], lines, indent, {})
    value = scalar.cast(value, r.value.dtype, r.dtype)
    lines.append(f"{indent}acc = {scalar.call(r.combine, r.dtype, r.dtype, ['acc', value])};")


def block_fold(r, body):
    """Lines (inside a loop over block tasks) folding every thread's ``acc`` into thread
    0, which runs ``body``: warps fold with shuffles, then warp 0 folds the per-warp
    results from the block's ``partial[32]`` (declared by the caller)."""
    identity = scalar.literal(r.identity, r.dtype)
    return [
        *warp_fold(r, "    "),
        "    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = acc;",
        "    __syncthreads();",
        "    if (threadIdx.x < 32) {",
        f"      acc = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : {identity};",
        *warp_fold(r, "      "),
        "      if (threadIdx.x == 0) {",
        *body,
        "      }",
        "    }",
        "    __syncthreads();  // partial[] is reused by the next output point",
    ]


def warp_fold(r, indent):
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
