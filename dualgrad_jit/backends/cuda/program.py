"""Running a fused program on a GPU with cupy.

Everything that can be decided once is decided when the program is loaded: the whole
program's kernels are rendered as one translation unit and compiled into one
``cupy.RawModule``; the intermediates get their places in one device arena (a
``cupy.empty`` of bytes, sub-allocated at ``kernel.memory.plan_memory``'s offsets, 64-byte
aligned, which the vectorised loops need); constants are copied to the device; split
reductions share one scratch buffer (steps run one after the other on one stream, and
pass 2 of a reduction consumes its partials before the next step starts); every kernel
gets its launches (two for a split reduction) and an argument list in which only the
slots bound to graph inputs, fresh graph outputs and host-step results change per call.

A call converts the inputs (``cupy.asarray``, C-contiguous, of the traced dtypes),
allocates the graph outputs (every call returns fresh arrays), and launches the steps
in order on cupy's current stream.  Host steps run ``op.forward(cupy, ...)``; gemm of
two matrices writes straight into its planned buffer with ``cupy.matmul(out=)``
(cuBLAS).  Nothing waits for the device: the outputs are ready when the stream is.

Example (on a machine with a GPU)::

    run = load_program(graph)
    outputs = run([x_gpu, w_gpu])        # a list of cupy arrays
"""

import threading

import numpy

from ...errors import CompileError
from ...ir.graph import Const
from ...kernel.fusion import KernelStep
from ...kernel.memory import arena_views, fresh_outputs, plan_memory
from ..select import running
from .render import launches, scratch


class DeviceProgram:
    """A fused program bound to its compiled kernels on the current device.

    ``module.function(name)`` gives a kernel callable as cupy's ``RawKernel`` is,
    ``(grid, block, args)``; ``xp`` is the array module (cupy)."""

    def __init__(self, program, module, xp):
        self.program, self.module, self.xp = program, module, xp
        self.device = xp.cuda.Device()
        self.memory = plan_memory(program)
        self.arena = xp.empty(self.memory.size, numpy.uint8)
        self.views = arena_views(program, self.memory, self.arena)
        self.scratch = _scratch_views(program, xp)
        graph = program.graph
        self.outputs = [v for v in graph.outputs if not isinstance(v, Const)]
        output_ids = {v.id for v in self.outputs}
        self.fresh = fresh_outputs(program)
        self.constants = {}  # id(Const) -> (device array, Const): one upload per constant
        self.calls = []
        for step in program.steps:
            if isinstance(step, KernelStep):
                if step.kernel.size:
                    self.calls.append(self._launch(step, output_ids))
            else:
                eq = step.equation
                self.calls.append(_HostCall(step, self.views.get(eq.out.id),
                                            [self._host_argument(x) for x in eq.inputs],
                                            self))
        self.lock = threading.Lock()

    def _launch(self, step, output_ids):
        kernel = step.kernel
        passes = [(self.module.function(name), grid, block)
                  for name, grid, block in launches(kernel)]
        launch = _Launch(passes, kernel, self.scratch.get(kernel.name))
        for slot, value in enumerate(step.buffers):
            if isinstance(value, Const):
                launch.args[2 + slot] = self._constant(value)
            elif value.id in self.views and value.id not in output_ids:
                launch.args[2 + slot] = self.views[value.id]
            else:
                launch.dynamic.append((2 + slot, value.id))
        return launch

    def _constant(self, const):
        key = id(const)
        if key not in self.constants:
            host = numpy.array(const.value, dtype=const.aval.dtype, order="C")  # 0-d stays
            self.constants[key] = (self.xp.asarray(host), const)
        return self.constants[key][0]

    def _host_argument(self, value):
        """``(device constant or Python scalar, None)`` for a Const, ``(None, var id)``."""
        if not isinstance(value, Const):
            return None, value.id
        if isinstance(value.value, numpy.ndarray):
            return self._constant(value), None
        return value.value, None

    def inside_arena(self, array):
        return array.size > 0 and bool(self.xp.may_share_memory(array, self.arena))

    def __call__(self, inputs, ops=None):
        cupy = self.xp
        graph = self.program.graph
        # the arena is shared: one call at a time; loop bodies and branches (host steps)
        # learn from ``running`` which backend their program runs on
        with self.lock, self.device, running("cuda"):
            env = dict(self.views)
            for var, array in zip(graph.inputs, inputs):
                env[var.id] = _contiguous(cupy, array, var)
            for var_id, shape, dtype in self.fresh:
                env[var_id] = cupy.empty(shape, dtype)
            for call in self.calls:
                call(env, ops)
            return [_output(cupy, v, env) for v in graph.outputs]

    def describe(self):
        """What was loaded: kernels, host steps and the arena (``DUALGRAD_DEBUG``)."""
        kernels = sum(isinstance(c, _Launch) for c in self.calls)
        hosts = [c.equation.op.name for c in self.calls if isinstance(c, _HostCall)]
        split = f", {len(self.scratch)} split reductions" if self.scratch else ""
        return (f"{kernels} kernel launches in one module{split}, host steps: "
                f"{', '.join(hosts) or 'none'}; {self.memory.describe()}")


class _Launch:
    """One kernel over its whole domain: ``(start, end, *buffers[, scratch])`` as cupy
    wants them, launched as each of ``passes`` ``(function, grid, block)`` in order."""

    __slots__ = ("passes", "args", "dynamic")

    def __init__(self, passes, kernel, scratch=None):
        self.passes = passes
        self.args = [numpy.int64(0), numpy.int64(kernel.size)] + [None] * len(kernel.buffers)
        if scratch is not None:
            self.args.append(scratch)
        self.dynamic = []  # (argument position, var id) bound per call

    def __call__(self, env, ops=None):
        args = self.args
        if self.dynamic:
            # a copy: the program must not keep the previous call's arrays alive
            args = list(args)
            for position, var_id in self.dynamic:
                args[position] = env[var_id]
        args = tuple(args)
        for function, grid, block in self.passes:
            function((grid,), (block,), args)


class _HostCall:
    __slots__ = ("equation", "out", "arguments", "gemm", "params", "program")

    def __init__(self, step, out, arguments, program):
        self.equation, self.out, self.arguments = step.equation, out, arguments
        self.gemm, self.params = step.library == "gemm", dict(step.params)
        self.program = program

    def __call__(self, env, ops=None):
        cupy = self.program.xp
        eq = self.equation
        args = [value if var_id is None else env[var_id] for value, var_id in self.arguments]
        if self.gemm and args[0].ndim == 2 and args[1].ndim == 2:
            a = args[0].T if self.params["transa"] else args[0]
            b = args[1].T if self.params["transb"] else args[1]
            out = self.out if self.out is not None else cupy.empty(eq.out.shape, eq.out.dtype)
            env[eq.out.id] = cupy.matmul(a, b, out=out)
            return
        op = ops.get(eq.op, eq.op) if ops else eq.op
        y = cupy.asarray(op.forward(cupy, *args))
        if y.dtype != eq.out.dtype:
            y = y.astype(eq.out.dtype)
        if self.out is not None:  # kernels' arguments point at the planned buffer
            self.out[...] = y
            y = self.out
        elif self.program.inside_arena(y):
            # a view of an intermediate (forward returned its input reshaped...): that
            # place is reused once the intermediate dies, so keep a copy instead
            y = y.copy()
        env[eq.out.id] = _flat_readable(cupy, y)


def load(program):
    """``DeviceProgram`` of a fused ``program``: its kernels compiled into one module."""
    import cupy

    from .runtime import Module

    module = Module(program.kernels())
    try:
        for kernel in program.kernels():
            for name, _, _ in launches(kernel):
                module.function(name)  # compile now, so errors surface at load
    except Exception as error:  # cupy's CompileException carries NVRTC's log
        if isinstance(error, CompileError):
            raise
        raise CompileError(f"the CUDA kernels of this program did not compile: {error}\n"
                           "  fix: this is a bug of the CUDA renderer; report it with the "
                           "kernel text (DUALGRAD_DEBUG=2 prints it)") from error
    return DeviceProgram(program, module, cupy)


def _scratch_views(program, xp):
    """``{kernel name: scratch array}`` of the split reductions of ``program``: views of
    one device buffer allocated here, once (sized for the largest)."""
    specs = {}
    for kernel in program.kernels():
        spec = scratch(kernel) if kernel.size else None
        if spec is not None:
            specs[kernel.name] = (numpy.dtype(spec[0]), spec[1])
    if not specs:
        return {}
    shared = xp.empty(max(dtype.itemsize * n for dtype, n in specs.values()), numpy.uint8)
    return {name: shared[:dtype.itemsize * n].view(dtype) for name, (dtype, n) in specs.items()}


def _contiguous(cupy, array, var):
    return _flat_readable(cupy, cupy.asarray(array, dtype=var.aval.dtype))


def _flat_readable(cupy, array):
    """``array`` C-contiguous, as kernels read it (a flat buffer); 0-d stays 0-d, where
    ``ascontiguousarray`` would make it 1-d."""
    return array if array.flags.c_contiguous else cupy.ascontiguousarray(array)


def _output(cupy, value, env):
    if isinstance(value, Const):
        return cupy.asarray(value.value)
    return env[value.id]
