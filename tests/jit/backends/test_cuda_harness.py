"""NVRTC compiles every kernel the op harness generates: no GPU needed.

Every case of the op harness (all dtypes), and the gradient function of every
differentiable case, is traced with ``dj.jit`` and fused exactly as the CUDA backend
fuses it (``select.compilable``, random draws as host steps).  The distinct kernels of
all those programs (one per content hash) are rendered into a few large translation
units and compiled to PTX, and every kernel must come out as an ``.entry``.

``harness_programs`` is shared with ``test_cuda_program`` (which runs some of them).
"""

import dataclasses
import functools
import re

import numpy

import dualgrad as dg
import dualgrad_jit as dj
from dualgrad_jit.backends.cuda import nvrtc, render
from dualgrad_jit.backends.select import compilable
from dualgrad_jit.kernel.fusion import fuse

from ...ops.harness import as_inputs
from ..compiled_cases import array_positions, case_params, data_sets
from ..test_ops_traced import DATA_DEPENDENT_SHAPES, _arrays, _bind, _gradient_function
from .test_cuda_render import needs_nvrtc

CHUNK = 300  # kernels per translation unit: few NVRTC calls, each of a few seconds
OPTIONS = ("-ftz=true",)  # what cupy.RawModule adds on the device
SAMPLE = 8  # one kernel in SAMPLE is also compiled fully optimised
_ENTRY = re.compile(r"^\.(?:visible )?\.entry (\w+)\(", re.MULTILINE)


@dataclasses.dataclass(frozen=True)
class HarnessProgram:
    label: str  # case, dtype, forward or gradient
    graph: object  # the traced graph (before ``compilable``)
    host: frozenset  # the ops the backend runs as host steps (stream draws)
    inputs: tuple  # the graph's input arrays when traced


def _traced(label, function, arguments):
    compiled = dj.jit(function, backend="numpy")
    compiled(*arguments)
    (variant, *_) = compiled.variants(*arguments)
    # what a replay hands select.load and then the runner: the host set and the inputs
    # (the arguments and the arrays the function reads, such as captured constants)
    inputs, _ = variant._gather(arguments)
    return HarnessProgram(label, variant.graph, variant._stream_draws(),
                          tuple(numpy.array(a) for a in inputs))


def _forward_programs():
    for param in case_params(lambda c: c.name not in DATA_DEPENDENT_SHAPES):
        case, dtype = param.values
        for index, (sample, _) in enumerate(data_sets(case, dtype)):
            positions = array_positions(sample)
            yield _traced(f"{case.name}-{dtype}-{index} forward",
                          _bind(case, sample, positions), _arrays(sample, positions))


def _gradient_programs():
    for param in case_params(lambda c: c.differentiable and c.name not in DATA_DEPENDENT_SHAPES):
        case, dtype = param.values
        for index, (sample, _) in enumerate(data_sets(case, dtype)):
            positions = array_positions(sample)
            if not any(sample[p].dtype.kind == "f" for p in positions):
                continue
            y = case.fn(*as_inputs(sample, requires_grad=False))
            weights = numpy.random.default_rng(index).standard_normal(y.shape).astype(y.dtype)
            arguments = [dg.Variable(a.copy()) if a.dtype.kind == "f" else a
                         for a in _arrays(sample, positions)]
            yield _traced(f"{case.name}-{dtype}-{index} gradient",
                          _gradient_function(case, sample, positions, weights), arguments)


@functools.lru_cache(maxsize=1)
def harness_programs():
    """Every traced harness graph (forward and gradient), traced once per session."""
    return tuple(_forward_programs()) + tuple(_gradient_programs())


def fused(item):
    """The program the CUDA backend runs for a harness item (``runtime.load_program``)."""
    return fuse(compilable(item.graph), host=item.host)


@functools.lru_cache(maxsize=1)
def harness_kernels():
    """``({content hash: kernel}, failures)``: every kernel the CUDA backend would compile
    for the harness, each renamed after its hash so that one module can hold them all,
    and ``label: error`` for each program that could not be fused."""
    kernels, failures = {}, []
    for item in harness_programs():
        try:
            program = fused(item)
        except Exception as error:  # reported by the test, after compiling the rest
            failures.append(f"{item.label}: {type(error).__name__}: {str(error)[:200]}")
            continue
        for kernel in program.kernels():
            key = kernel.key()
            if key not in kernels:
                kernels[key] = dataclasses.replace(kernel, name=f"k_{key[:20]}")
    return dict(sorted(kernels.items())), tuple(failures)


def _compile_all(kernels, options):
    """NVRTC over ``kernels`` in chunks: (compile errors, names missing from the PTX)."""
    failures, missing = [], []
    for start in range(0, len(kernels), CHUNK):
        chunk = kernels[start:start + CHUNK]
        try:
            ptx = nvrtc.compile_ptx(render.render_module(chunk), options=OPTIONS + options)
        except dj.CompileError as error:
            failures.append(str(error)[:4000])
            continue
        assert nvrtc.ptx_isa(ptx) <= nvrtc.DRIVER_PTX_ISA  # a driver of CUDA 13.0 loads it
        entries = set(_ENTRY.findall(ptx))
        missing += [k.name for k in chunk if k.name not in entries]
    return failures, missing


@needs_nvrtc
def test_nvrtc_compiles_every_kernel_the_op_harness_generates():
    """NVRTC's fast-compile mode: the same front end (every error the source could
    have), a quicker back end, so thousands of kernels take seconds."""
    kernels = list(harness_kernels()[0].values())
    assert {render.strategy(k) for k in kernels} == {"pointwise", "thread", "block"}
    failures, missing = _compile_all(kernels, ("--Ofast-compile=max",))
    assert not failures, "\n\n".join(failures)
    assert not missing, f"{len(missing)} kernels have no .entry in the PTX: {missing[:5]}"


@needs_nvrtc
def test_nvrtc_compiles_a_sample_of_them_fully_optimised():
    """Every SAMPLE-th kernel with the options ``cupy.RawModule`` uses on a device."""
    kernels = list(harness_kernels()[0].values())[::SAMPLE]
    failures, missing = _compile_all(kernels, ())
    assert not failures, "\n\n".join(failures)
    assert not missing, missing[:5]


def test_the_cuda_backend_fuses_every_harness_program():
    unfused = harness_kernels()[1]
    assert not unfused, "harness programs the backend cannot fuse:\n" + "\n".join(unfused)
