"""Run rendered kernels on a GPU with cupy: one ``cupy.RawModule`` per list of kernels.

cupy compiles the module with NVRTC for the current device (a CUBIN) the first time a
kernel is fetched, caching it on disk by source text.  cupy adds ``-ftz=true``: float32
denormals flush to zero, so results are compared with tolerances that allow it.
Launches use cupy's current stream; the scalars go as ``numpy.int64``.

``load_program(graph)`` fuses a whole graph and returns its runner (``program``).

Example (on a machine with a GPU)::

    module = Module(kernels)
    module.launch(kernels[0], [out, x])   # 1-d cupy arrays, one per kernel buffer
    run = load_program(graph)
    outputs = run([x])                    # graph outputs, fresh cupy arrays
"""

import numpy

from ...errors import CompileError
from .render import launches, render_module, scratch

NO_DEVICE = ("backend 'cuda' needs cupy and a CUDA GPU, and this machine has none; "
             "use backend='llvm' (CPU) or 'numpy', or install the 'cuda' extra "
             "(pip install 'dualgrad[cuda]') on a machine with a GPU")


def load_program(graph, host=frozenset()):
    """A runner ``run(inputs, ops=None) -> list of cupy arrays`` of ``graph`` on the
    current GPU, with the contract of the LLVM backend's ``LoadedProgram``: the graph is
    taken as ``select.compilable`` gives it, ``host`` names the ops that run as host
    steps whatever their lowering (random draws renumbered on every call) and ``ops``
    maps such an op to its replacement for one call.  Raises ``CompileError`` where no
    GPU is usable."""
    import sys

    from dualgrad import config, cuda

    if not cuda.is_available():
        raise CompileError(NO_DEVICE)
    from ...kernel.fusion import fuse
    from ..select import _show, compilable
    from .program import load

    program = fuse(compilable(graph), host=host)
    _show(program)
    run = load(program)
    if config.debug:
        print(f"[dualgrad_jit] cuda program: {run.describe()}", file=sys.stderr)
    return run


class Module:
    """The kernels of one translation unit, loaded on the current device.  A split
    reduction gets its scratch buffer at its first launch and keeps it."""

    def __init__(self, kernels, options=()):
        import cupy

        self.kernels = {kernel.name: kernel for kernel in kernels}
        self.source = render_module(self.kernels.values())
        self._raw = cupy.RawModule(code=self.source, options=tuple(options))
        self._functions = {}
        self._configs = {}  # (name, start, end) -> launches
        self._scratch = {}  # kernel name -> device array

    def function(self, name):
        """The compiled entry ``name`` (a ``cupy.RawKernel``): a kernel's name, or the
        first pass of a split reduction (``render.launches`` names them)."""
        if name not in self._functions:
            self._functions[name] = self._raw.get_function(name)
        return self._functions[name]

    def launch(self, kernel, buffers, start=0, end=None):
        """Run ``kernel`` (a Kernel or its name) over the flat range ``[start, end)`` of
        its domain (all of it by default) on ``buffers``."""
        if isinstance(kernel, str):
            kernel = self.kernels[kernel]
        end = kernel.size if end is None else end
        key = (kernel.name, start, end)
        if key not in self._configs:
            self._configs[key] = launches(kernel, start, end)
        passes = self._configs[key]
        if passes[0][1] == 0:
            return
        check_buffers(kernel, buffers)
        args = (numpy.int64(start), numpy.int64(end), *buffers, *self._scratch_of(kernel))
        for name, grid, block in passes:
            self.function(name)((grid,), (block,), args)

    def _scratch_of(self, kernel):
        spec = scratch(kernel)
        if spec is None:
            return ()
        if kernel.name not in self._scratch:
            import cupy

            self._scratch[kernel.name] = cupy.empty(spec[1], spec[0])
        return (self._scratch[kernel.name],)


def check_buffers(kernel, buffers):
    """Raise unless ``buffers`` are contiguous arrays of the kernel's dtypes and sizes."""
    if len(buffers) != len(kernel.buffers):
        raise ValueError(f"kernel {kernel.name} takes {len(kernel.buffers)} buffers, "
                           f"got {len(buffers)}")
    for i, (spec, array) in enumerate(zip(kernel.buffers, buffers)):
        if array.dtype != numpy.dtype(spec.dtype) or array.size < spec.size or \
                not array.flags.c_contiguous:
            raise ValueError(
                f"kernel {kernel.name} buffer {i} must be a contiguous {spec.dtype} array of "
                f"at least {spec.size} elements, got {array.dtype} of {array.size}")


def run(kernel, buffers):
    """Compile one kernel and run it over its whole domain (tests, debugging)."""
    Module([kernel]).launch(kernel, buffers)
