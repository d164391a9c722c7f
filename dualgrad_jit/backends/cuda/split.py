"""Split reductions: few outputs over a long reduced domain run in two passes.

One block per output point (``"block"``) leaves a GPU idle when there are few outputs: a
full sum of 64M elements would stream through one SM.  A reduction *splits* when it has
at most ``MAX_OUTPUTS`` output points and at least ``MIN_POINTS`` reduced points per
output (below that one block per output takes a few microseconds, the cost of the
second launch), and is not a ``"thread"`` one (``render.strategy``).  It then runs as two
kernels launched one after the other on one stream:

* ``<name>_partials`` (pass 1): the reduced points of each output are cut into
  ``P = parts(kernel)`` consecutive slices of ``ceil(points / P)`` (the last one shorter);
  one block folds one (output, slice) *task*, as ``"block"`` folds a whole output, and
  thread 0 writes the result to ``scratch[output * P + slice]``.  Tasks are spread over
  the grid with a grid-stride loop, so any grid computes the same partials.
* ``<name>`` (pass 2): one block per output folds its ``P`` partials in the same block
  order and runs the kernel's stores with the result as ``acc``.

``P = min(BLOCKS // outputs, points // SLICE)`` (at least 2 by the rule): enough tasks
to fill the largest GPUs (``BLOCKS`` = 1024 blocks of 256 threads, about 8 resident per
SM on 132 SMs) without slices under ``SLICE`` points.  ``P`` depends on the kernel only,
and every fold runs in a fixed order (no atomics), so the results are the same on every
run and every device: float sums differ from a one-block fold only by reassociation.

The scratch holds ``outputs * P`` accumulators (at most ``BLOCKS``, in the accumulator's
register type: float for float16); runtimes allocate it once per loaded program or
module and pass it as the last kernel argument of both passes.  Its index is absolute
(the output's flat index), so a launch over part of the outputs uses its part only.
"""

from . import scalar
from .emit import Values, block_fold, coordinates, fold, size

MAX_OUTPUTS = 256  # outputs from which one block per output keeps a large GPU busy
MIN_POINTS = 1 << 16  # reduced points per output from which a second pass pays off
SLICE = 4096  # reduced points of one task of pass 1, at least
BLOCKS = 1024  # tasks pass 1 aims for


def splits(kernel):
    """Whether a reduction the ``"block"`` rule accepts runs split (module docstring)."""
    return 1 <= kernel.size <= MAX_OUTPUTS and size(kernel.reduce.shape) >= MIN_POINTS


def parts(kernel):
    """``P``: the slices (partial results) of each output point."""
    return max(2, min(BLOCKS // kernel.size, size(kernel.reduce.shape) // SLICE))


def first_pass(kernel):
    """The entry name of pass 1."""
    return f"{kernel.name}_partials"


def scratch(kernel):
    """``(numpy dtype name, elements)`` of the scratch buffer of a split reduction."""
    dtype = kernel.reduce.dtype
    return ("float32" if dtype == "float16" else dtype), kernel.size * parts(kernel)


def entries(kernel, parameters):
    """``[(entry name, parameters, body lines)]`` of both passes, in launch order."""
    T = scalar.register_type(kernel.reduce.dtype)
    return [(first_pass(kernel), f"{parameters}, {T}* __restrict__ scratch",
             _partials(kernel)),
            (kernel.name, f"{parameters}, const {T}* __restrict__ scratch", _final(kernel))]


def _partials(kernel):
    r, P = kernel.reduce, parts(kernel)
    points = size(r.shape)
    chunk = -(-points // P)
    T, identity = scalar.register_type(r.dtype), scalar.literal(r.identity, r.dtype)
    values, folded = Values(kernel), []
    fold(kernel, values, folded, "      ")
    outer = coordinates("flat", kernel.shape, 0, values.used, "    ")
    inner = coordinates("r", r.shape, kernel.ndim, values.used, "      ")
    return [
        f"  __shared__ {T} partial[32];",
        f"  for (long long task = start * {P} + blockIdx.x; task < end * {P}; "
        "task += gridDim.x) {",
        f"    const long long flat = task / {P};",
        f"    const long long first = task % {P} * {chunk};  // its points [first, stop)",
        f"    const long long stop = min(first + {chunk}, {points}LL);",
        *outer,
        f"    {T} acc = {identity};",
        "    for (long long r = first + threadIdx.x; r < stop; r += blockDim.x) {",
        *inner, *folded,
        "    }",
        *block_fold(r, ["        scratch[task] = acc;"]),
        "  }",
    ]


def _final(kernel):
    r, P = kernel.reduce, parts(kernel)
    T, identity = scalar.register_type(r.dtype), scalar.literal(r.identity, r.dtype)
    values, body = Values(kernel), []
    values.stores(body, "        ")
    outer = coordinates("flat", kernel.shape, 0, values.used, "    ")
    combined = scalar.call(r.combine, r.dtype, r.dtype, ["acc", "part"])
    return [
        f"  __shared__ {T} partial[32];",
        "  for (long long flat = start + blockIdx.x; flat < end; flat += gridDim.x) {",
        *outer,
        f"    {T} acc = {identity};",
        f"    for (long long p = threadIdx.x; p < {P}; p += blockDim.x) {{",
        f"      const {T} part = scratch[flat * {P} + p];",
        f"      acc = {combined};",
        "    }",
        *block_fold(r, body),
        "  }",
    ]
