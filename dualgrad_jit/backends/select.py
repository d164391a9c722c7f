"""Choosing and loading a backend for a graph.

``'numpy'`` is the reference interpreter (``op.forward`` equation by equation);
``'llvm'`` fuses the graph into kernels compiled to machine code; ``'cuda'`` renders
the same kernels as CUDA C.  ``'auto'`` picks by where the inputs live: CUDA for cupy
arrays, LLVM for numpy arrays when llvmlite is installed, else the interpreter.
"""

import importlib.util
import threading

import numpy

from ..errors import CompileError
from ..ir import interpret

BACKENDS = ("auto", "numpy", "llvm", "cuda")


def check(backend):
    if backend not in BACKENDS:
        raise CompileError(f"unknown backend {backend!r}; choose one of {', '.join(BACKENDS)}")
    if backend == "llvm" and not llvm_available():
        raise CompileError("backend 'llvm' needs llvmlite, which is not installed; "
                           "`pip install dualgrad[llvm]` or use backend='numpy'")
    if backend == "cuda":
        from dualgrad import cuda

        if not cuda.available:
            raise CompileError("backend 'cuda' needs cupy and a CUDA GPU, and this machine has "
                               "none; on a GPU machine `pip install dualgrad[cuda]`, else use "
                               "backend='llvm' (CPU) or 'numpy'")


def llvm_available():
    return importlib.util.find_spec("llvmlite") is not None


def resolve(backend, arrays=()):
    """The concrete backend for ``backend`` and these input arrays."""
    check(backend)
    if backend != "auto":
        return backend
    if any(type(a).__module__.startswith("cupy") for a in arrays):
        return "cuda"
    return "llvm" if llvm_available() else "numpy"


def load(graph, backend, host=frozenset(), donate=None):
    """A runner ``run(inputs, ops=None) -> outputs`` of ``graph`` on ``backend``.
    ``ops`` maps ops of the graph to replacements for one call (random draws that are
    renumbered on every call run as host steps, so a replacement costs nothing;
    ``host`` names them).  ``donate`` (``{output position: input position}``) names
    updated values that may be written straight into the input array they replace;
    a runner that does so lists them in its ``donated``.

    Compiled backends see the graph with composite ops expanded into their primitive
    decompositions (``passes.composites``), so those fuse with their neighbours."""
    if backend == "numpy":
        return _Interpreted(graph)
    if backend == "llvm":
        from ..kernel.fusion import fuse
        from ..kernel.mathlib import expand
        from .llvm.compiler import compile_kernels, host_target
        from .llvm.gemm import program_gemms
        from .llvm.runtime import LoadedProgram

        program = fuse(compilable(graph), host=host)
        _show(program)
        gemms = program_gemms(program, host_target().features)
        functions = compile_kernels(program.kernels(), expand_math=expand)
        return LoadedProgram(program, functions, donate, gemms)
    if backend == "cuda":
        from .cuda.runtime import load_program

        return load_program(graph, host=host)
    raise CompileError(f"no runner for backend {backend!r}")


class _Interpreted:
    def __init__(self, graph):
        self.graph = graph

    def __call__(self, inputs, ops=None):
        graph = self.graph
        if ops:
            graph = with_ops(graph, ops)
        return interpret(graph, inputs)


def compilable(graph):
    """``graph`` as machine-code backends take it: composites expanded, then CSE (a
    logsumexp shared by a loss and its gradient is computed once)."""
    from ..passes.composites import expand_composites
    from ..passes.cse import eliminate_common_subexpressions

    return eliminate_common_subexpressions(expand_composites(graph))


def with_ops(graph, ops):
    """``graph`` with some ops replaced (``{op: replacement}``)."""
    from ..ir import Graph

    if not ops:
        return graph
    equations = tuple(type(eq)(ops[eq.op], eq.inputs, eq.out) if eq.op in ops else eq
                      for eq in graph.equations)
    return Graph(graph.inputs, equations, graph.outputs)


def _show(program):
    """With ``DUALGRAD_DEBUG`` set: the fusion report (why values got buffers) and, from
    level 2, every kernel's canonical text, on stderr."""
    import sys

    from dualgrad import config

    if not config.debug:
        return
    print(f"[dualgrad_jit] fusion report:\n{program.fusion_report()}", file=sys.stderr)
    if config.debug >= 2:
        for kernel in program.kernels():
            print(f"[dualgrad_jit] {kernel.name}:\n{kernel.text()}", file=sys.stderr)


# -- loop bodies and branches -------------------------------------------------------------------
# A Scan or IfElse runs as a host step of the program around it; its sub-graph runs on
# the backend that program runs on.  ``running`` marks that backend for the thread
# while a compiled program runs, and the body runner compiles each sub-graph once.
_RUNNING = threading.local()
_BODIES = {}


class running:  # noqa: N801 (used as a lowercase context manager, like using_config)
    """``with running('llvm'):`` sub-graphs run by this thread use that backend."""

    def __init__(self, backend):
        self.backend = backend

    def __enter__(self):
        self.previous = getattr(_RUNNING, "backend", "numpy")
        _RUNNING.backend = self.backend

    def __exit__(self, *exc):
        _RUNNING.backend = self.previous


def run_sub_graph(fn, arrays, xp):
    """The default body runner of ``control.body``: compiled code for the backend running
    now, the reference interpreter otherwise."""
    backend = getattr(_RUNNING, "backend", "numpy")
    if backend == "llvm" and xp is numpy:
        key = (backend, fn)
        runner = _BODIES.get(key)
        if runner is None:
            runner = _BODIES[key] = load(fn.graph, backend)
        return runner(arrays)
    return interpret(fn.graph, arrays, xp)
