"""Vectorised elementwise loops: ``VEC`` points per thread, whole-vector loads and stores.

A pointwise kernel *vectorises* (``plan`` is not None) when its domain has at least
``VEC`` points, every store is at the flat index of the domain (the point's C-order
offset: ``sum_d index(d) * stride_d``, seen through ``+ - *`` of int64 constants), and
every read is either at the flat index too (a *lane read*, of a buffer holding the whole
domain) or at an offset that no varying coordinate reaches (a broadcast scalar, read one
by one).  Gathers, broadcasts along an axis and shifted reads keep the scalar loop.

The rendered loop ::

    aligned = every vector buffer's pointer is a multiple of its vector alignment
    [lo, hi) = the whole vectors of [start, end) (multiples of VEC), empty unless aligned
    for base in lo + VEC * thread, step VEC * threads, while base < hi:
        r<k> = the VEC elements of buffer k at base    (per buffer with lane reads)
        for lane in 0..VEC-1 (unrolled): the scalar body of point base + lane,
                                         reading r<k>.e[lane], writing w<s>.e[lane]
        buffer of store s at base = w<s>                (one dg_vec store per store)
    for the points of [start, lo) and [hi, end), one by one: the scalar body

``dg_vec<T, VEC>`` (``scalar``'s helper) is ``VEC`` elements aligned to
``min(16, VEC * sizeof(T))`` bytes, so a float32, int32 or float64 vector moves as 16-byte
accesses (two for float64), bool and int8 as 4 bytes.  Planned arena buffers are 64-byte
aligned and cupy allocations 256-byte aligned; a view that starts off that alignment
(``x[1:]`` of a float32 array passed as an input) fails the pointer check, and then the
whole range runs in the scalar loop.
A lane runs the same scalar code as the scalar loop (``emit.Values`` in lane mode), so
the results are bit-identical; all loads of a vector precede its stores, which keeps a
buffer written in place over its input at the same flat index correct.
"""

from dataclasses import dataclass

import numpy

from ...kernel import ir as K
from . import scalar
from .emit import Values, coordinates

VEC = 4  # points per thread of a vectorised loop
MAX_ALIGN = 16  # bytes: the widest load or store instruction


@dataclass(frozen=True)
class Plan:
    reads: frozenset  # ids of the lane reads (read nodes at the flat index)
    loads: tuple  # buffers loaded as vectors
    stores: tuple  # buffers stored as vectors


def plan(kernel):
    """The ``Plan`` of a kernel that vectorises (module docstring), else None."""
    if kernel.reduce is not None or kernel.size < VEC:
        return None
    if not all(_is_flat(store.offset, kernel.shape) for store in kernel.stores):
        return None
    written = set(kernel.outputs())
    reads, loads = set(), set()
    for store in kernel.stores:
        for node in K.walk(store.value):
            if node.op != "read":
                continue
            if _is_flat(node.args[0], kernel.shape) and \
                    kernel.buffers[node.value].size >= kernel.size:
                reads.add(id(node))
                loads.add(node.value)
            elif node.value in written or not _invariant(node.args[0], kernel.shape):
                return None
    return Plan(frozenset(reads), tuple(sorted(loads)), tuple(sorted(written)))


def alignment(dtype):
    """Bytes a ``dg_vec`` of ``dtype`` is aligned to (what the pointer check requires)."""
    return min(MAX_ALIGN, VEC * numpy.dtype(dtype).itemsize)


def render(kernel, vector_plan):
    """The body lines of a vectorised pointwise kernel (module docstring)."""
    lanes = Values(kernel, vector_plan.reads)
    lane = []
    lanes.stores(lane, "      ")
    lane_coords = coordinates("flat", kernel.shape, 0, lanes.used, "      ")
    if lane_coords:
        lane_coords.insert(0, "      const long long flat = base + lane;")
    values = Values(kernel)
    body = []
    values.stores(body, "    ")
    coords = coordinates("flat", kernel.shape, 0, values.used, "    ")
    loads = [f"    const {_vec(kernel, k)} r{k} = *(const {_vec(kernel, k)}*)(b{k} + base);"
             for k in vector_plan.loads]
    stores = list(enumerate(kernel.stores))
    mask = VEC - 1
    return [
        "  const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;",
        "  const long long threads = (long long)blockDim.x * gridDim.x;",
        f"  // whole vectors of {VEC} points cover [lo, hi) when every vector buffer is aligned",
        f"  const bool aligned = {_aligned(kernel, vector_plan)};",
        f"  const long long lo = aligned ? min((start + {mask}) & ~{mask}LL, end) : end;",
        f"  const long long hi = aligned ? max(end & ~{mask}LL, lo) : end;",
        f"  for (long long base = lo + {VEC} * thread; base < hi; base += {VEC} * threads) {{",
        *loads,
        *[f"    {_vec(kernel, s.buffer)} w{n};" for n, s in stores],
        "    #pragma unroll",
        f"    for (int lane = 0; lane < {VEC}; ++lane) {{",
        *lane_coords, *lane,
        "    }",
        *[f"    *({_vec(kernel, s.buffer)}*)(b{s.buffer} + base) = w{n};" for n, s in stores],
        "  }",
        "  // the points of [start, lo) and [hi, end) (all of them unaligned), one by one",
        "  const long long head = lo - start;",
        "  for (long long point = thread; point < head + (end - hi); point += threads) {",
        "    const long long flat = point < head ? start + point : hi + (point - head);",
        *coords, *body,
        "  }",
    ]


def _vec(kernel, k):
    return f"dg_vec<{scalar.ctype(kernel.buffers[k].dtype)}, {VEC}>"


def _aligned(kernel, vector_plan):
    """``(pointers & mask) == 0`` per alignment, widest first."""
    groups = {}
    for k in sorted(set(vector_plan.loads) | set(vector_plan.stores)):
        groups.setdefault(alignment(kernel.buffers[k].dtype) - 1, []).append(k)
    terms = []
    for mask, positions in sorted(groups.items(), reverse=True):
        pointers = " | ".join(f"(unsigned long long)b{k}" for k in positions)
        if len(positions) > 1:
            pointers = f"({pointers})"
        terms.append(f"({pointers} & {mask}) == 0")
    return " && ".join(terms)


# -- analysis ----------------------------------------------------------------------------
def _is_flat(offset, shape):
    """Whether ``offset`` is the C-order flat index of the point of ``shape``."""
    terms = _affine(offset)
    if terms is None or terms.pop(None, 0) != 0:
        return False
    strides = [1] * len(shape)
    for d in range(len(shape) - 2, -1, -1):
        strides[d] = strides[d + 1] * shape[d + 1]
    for d in range(len(shape)):
        if shape[d] > 1 and terms.get(d, 0) != strides[d]:
            return False
        terms.pop(d, None)
    return not terms  # no coordinate outside the domain


def _invariant(offset, shape):
    """Whether no coordinate that varies over the domain reaches ``offset``."""
    return not any(node.op == "index" and (node.value >= len(shape) or shape[node.value] > 1)
                   for node in K.walk(offset))


def _affine(expr):
    """``{d: c, None: constant}`` with ``expr = constant + sum c * index(d)`` when
    ``expr`` is int64 ``+ - *`` (by constants) of indices and constants, else None."""
    memo = {}
    for node in K.walk(expr):
        memo[id(node)] = _affine_node(node, [memo[id(a)] for a in node.args])
    terms = memo[id(expr)]
    return None if terms is None else {k: c for k, c in terms.items() if c != 0}


def _affine_node(node, args):
    if node.dtype != "int64" or None in args:
        return None
    if node.op == "const":
        return {None: node.value}
    if node.op == "index":
        return {node.value: 1}
    if node.op in ("add", "sub"):
        sign = 1 if node.op == "add" else -1
        terms = dict(args[0])
        for key, c in args[1].items():
            terms[key] = terms.get(key, 0) + sign * c
        return terms
    if node.op == "neg":
        return {key: -c for key, c in args[0].items()}
    if node.op == "mul":
        a, b = args
        if set(b) <= {None}:
            a, b = b, a
        if set(a) <= {None}:
            factor = a.get(None, 0)
            return {key: factor * c for key, c in b.items()}
    return None
