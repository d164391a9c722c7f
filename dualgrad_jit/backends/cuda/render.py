"""Render kernels (``dualgrad_jit.kernel.ir``) as one CUDA C translation unit.

Every kernel becomes ::

    extern "C" __global__ void <name>(long long start, long long end,
                                      float* __restrict__ b0, const float* __restrict__ b1)

(buffers the kernel stores to are ``T*``, the others ``const T*``; float16 buffers hold
raw bits as ``unsigned short``) and computes exactly the domain points whose C-order flat
index lies in ``[start, end)``.  Coordinates come from the flat index by div/mod with the
constant extents (in 32 bits when the domain fits).  Four loop shapes (``strategy``),
launched as ``launches`` says:

* ``"pointwise"`` (no reduction) and ``"thread"`` (one thread folds the whole reduce
  domain of an output point): a grid-stride loop over the flat range.  A pointwise
  kernel whose reads and stores are at the flat index runs ``vector.VEC`` points per
  thread with whole-vector loads and stores (``vector``: the rule, the alignment check,
  the scalar head and tail);
* ``"block"``: one block per output point; each thread folds a strided slice of the
  reduce domain, warps combine with ``__shfl_down_sync`` and warp 0 folds the per-warp
  results from shared memory.  The block size must be a multiple of 32 (``BLOCK``);
* ``"split"``: few outputs over a long reduce domain, in two kernels (``split``: pass 1
  ``<name>_partials`` folds slices into a scratch buffer, pass 2 ``<name>`` folds them);
  both take the scratch (``scratch``) as an extra last argument.

The rule: a reduction over fewer than ``BLOCK_REDUCE_MIN`` points runs ``"thread"``; so
does a strided one (a column sum: its reads step over memory along the fastest reduce
coordinate, so neighbouring *outputs* are the contiguous ones) with at least
``THREAD_REDUCE_MIN_OUTPUTS`` outputs to keep the device busy; of the others, those with
few outputs and many reduced points (``split.splits``) run ``"split"``, the rest
``"block"``.

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
>>> k = K.Kernel("k_double", (K.Buffer("float32", 3), K.Buffer("float32", 3)), (3,),
...              (K.Store(0, K.index(0), K.call("add", x, x)),))
>>> print(render_kernel(k))  # 3 points: too few for a vector
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
from . import scalar, split, vector
from .emit import GRID_STRIDE, Values, block_fold, coordinates, fold, size

BLOCK = 256  # threads per block, every loop shape (a multiple of the warp size)
MAX_GRID = 1 << 16  # blocks per launch; the grid-stride loops cover the rest
BLOCK_REDUCE_MIN = 256  # reduce points from which one block folds each output point
THREAD_REDUCE_MIN_OUTPUTS = 4096  # outputs that keep the device busy one thread each

HEADER = "// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)"


def render_module(kernels):
    """One translation unit defining every kernel of ``kernels`` (a kernel that appears
    twice under one name is defined once)."""
    unique = {}
    for kernel in kernels:
        scalar.check_name(kernel.name)
        seen = unique.setdefault(kernel.name, kernel)
        if seen is not kernel and seen.text() != kernel.text():
            raise CompileError(f"two different kernels are both named {kernel.name!r}")
    entries = [name for kernel in unique.values() for name, _, _ in launches(kernel)]
    for name in entries:
        if entries.count(name) > 1:
            raise CompileError(f"two kernels both define the entry {name!r} (a split "
                               f"reduction adds <name>_partials); rename one of them")
    bodies = [render_kernel(kernel) for kernel in unique.values()]
    parts = [HEADER, *scalar.helpers_used("\n".join(bodies)), *bodies]
    return "\n\n".join(parts) + "\n"


def render_kernel(kernel):
    """The ``extern "C" __global__`` definitions of one kernel (helpers not included):
    one entry, or both passes of a split reduction."""
    scalar.check_name(kernel.name)
    return "\n\n".join(f'extern "C" __global__ void {name}({parameters}) {{\n'
                        + "\n".join(lines) + "\n}"
                        for name, parameters, lines in _entries(kernel))


def _entries(kernel):
    kind, parameters = strategy(kernel), _parameters(kernel)
    if kind == "split":
        return split.entries(kernel, parameters)
    plan = vector.plan(kernel) if kind == "pointwise" else None
    if plan is not None:
        return [(kernel.name, parameters, vector.render(kernel, plan))]
    shape = {"pointwise": _pointwise, "thread": _thread_reduce, "block": _block_reduce}
    return [(kernel.name, parameters, shape[kind](kernel, Values(kernel)))]


def strategy(kernel):
    """``"pointwise"``, ``"thread"``, ``"block"`` or ``"split"`` (the rule is in the
    module docstring)."""
    r = kernel.reduce
    if r is None:
        return "pointwise"
    if size(r.shape) < BLOCK_REDUCE_MIN:
        return "thread"
    if kernel.size >= THREAD_REDUCE_MIN_OUTPUTS and _strided(kernel):
        return "thread"
    return "split" if split.splits(kernel) else "block"


def launches(kernel, start=0, end=None):
    """``((entry name, grid, block), ...)`` to launch in order over the flat range
    ``[start, end)``; grid 0: nothing to run.  It analyses the kernel: compute it once
    per kernel and range, not per launch."""
    end = kernel.size if end is None else end
    n = max(end - start, 0)
    kind = strategy(kernel)
    if kind == "split":
        return ((split.first_pass(kernel), min(n * split.parts(kernel), MAX_GRID), BLOCK),
                (kernel.name, min(n, MAX_GRID), BLOCK))
    if kind == "block":
        return ((kernel.name, min(n, MAX_GRID), BLOCK),)
    points = vector.VEC * BLOCK if kind == "pointwise" and vector.plan(kernel) else BLOCK
    return ((kernel.name, min(-(-n // points), MAX_GRID), BLOCK),)


def launch_config(kernel, start=0, end=None):
    """``(grid, block)`` of the launch of ``kernel``'s own entry over ``[start, end)``
    (for a split reduction, pass 2 only: ``launches`` lists both)."""
    return launches(kernel, start, end)[-1][1:]


def scratch(kernel):
    """``(numpy dtype name, elements)`` of the scratch buffer the kernel takes as its last
    argument (a split reduction), or None."""
    return split.scratch(kernel) if strategy(kernel) == "split" else None


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


def _pointwise(kernel, values):
    body = []
    values.stores(body, "    ")
    coords = coordinates("flat", kernel.shape, 0, values.used, "    ")
    return [GRID_STRIDE, *coords, *body, "  }"]


def _thread_reduce(kernel, values):
    r, n = kernel.reduce, kernel.ndim
    loops = [f"{'  ' * (2 + d)}for (long long i{n + d} = 0; i{n + d} < {extent}; "
             f"++i{n + d}) {{" for d, extent in enumerate(r.shape)]
    folded, body = [], []
    fold(kernel, values, folded, "  " * (2 + len(loops)))
    values.stores(body, "    ")
    coords = coordinates("flat", kernel.shape, 0, values.used, "    ")
    acc = f"    {scalar.register_type(r.dtype)} acc = {scalar.literal(r.identity, r.dtype)};"
    closing = [f"{'  ' * (1 + d)}}}" for d in range(len(loops), 0, -1)]
    return [GRID_STRIDE, *coords, acc, *loops, *folded, *closing, *body, "  }"]


def _block_reduce(kernel, values):
    r = kernel.reduce
    T, identity = scalar.register_type(r.dtype), scalar.literal(r.identity, r.dtype)
    folded, body = [], []
    fold(kernel, values, folded, "      ")
    values.stores(body, "        ")
    outer = coordinates("flat", kernel.shape, 0, values.used, "    ")
    inner = coordinates("r", r.shape, kernel.ndim, values.used, "      ")
    return [
        f"  __shared__ {T} partial[32];",
        "  for (long long flat = start + blockIdx.x; flat < end; flat += gridDim.x) {",
        *outer,
        f"    {T} acc = {identity};",
        f"    for (long long r = threadIdx.x; r < {size(r.shape)}; r += blockDim.x) {{",
        *inner, *folded,
        "    }",
        *block_fold(r, body),
        "  }",
    ]
