"""Running a fused program with compiled CPU kernels.

Everything that can be decided once is decided when the program is loaded: the arena
(one numpy buffer, see ``kernel.memory``), the address of every intermediate, one
prebuilt ``void*`` argument table per kernel, and which table slots change per call
(graph inputs, fresh graph outputs, host-step results).  A call then patches those
slots and calls each kernel through ctypes, which releases the GIL; kernels with
enough work are split into chunks that threads waiting in compiled code pick up
(``parallel``), and runs of small kernels go through one call (``sequence``).

Matrix products up to ``gemm.LARGEST`` flops run as generated code (``gemm``), called
exactly like kernels; bigger ones, and any other host step, run with numpy: gemm
writes straight into its planned buffer with ``numpy.matmul(out=)`` (numpy's bundled
BLAS, whose thread setting is the process's: the runtime never changes it, since
switching OpenBLAS between one and two threads measured 1.5x to 40x slower products
for the rest of the process)."""

import ctypes
import os
import threading

import numpy

from ...ir.graph import Const
from ...kernel.fusion import KernelStep
from ...kernel.memory import arena_views, donations, fresh_outputs, plan_memory
from ..select import _RUNNING, running
from .arrays import InputRoots, address
from .gemm import TABLE as GEMM_TABLE
from .gemm import gemm_function
from .loop import LoopCall
from .parallel import pool, rest

#: work (domain points times reduced points) below which a kernel runs on the calling
#: thread alone, and the least work per chunk.  Handing out a chunk costs about a
#: microsecond while the workers spin (``parallel``); many small chunks keep a worker
#: that another process's threads slow down (numpy's BLAS threads spin for a while
#: after each product) from holding up the caller for long: it runs the rest.
PARALLEL_MIN = 1 << 16
CHUNK_MIN = 1 << 14
CHUNKS_PER_THREAD = 16
CHUNK_ALIGN = 64


def threads():
    """Worker threads for big kernels (``DUALGRAD_NUM_THREADS``, else every core)."""
    from dualgrad._config import env_int

    return max(1, env_int("DUALGRAD_NUM_THREADS", os.cpu_count() or 1))


class _KernelCall:
    __slots__ = ("function", "table", "address", "size", "dynamic", "chunks", "bounds",
                 "parallel")

    def __init__(self, function, n_buffers, size, chunks=None, work=None):
        self.function = function
        self.table = (ctypes.c_void_p * max(n_buffers, 1))()
        self.address = ctypes.addressof(self.table)
        self.size = size
        self.dynamic = []  # (slot, var id) patched per call
        self.chunks = _chunks(size, threads(), work) if chunks is None else chunks
        self.parallel = None
        if len(self.chunks) > 1:  # (pool run, kernel address, chunk array address)
            self.bounds = (ctypes.c_int64 * (2 * len(self.chunks)))(
                *(bound for chunk in self.chunks for bound in chunk))
            self.parallel = (pool(threads() - 1).run,
                             ctypes.cast(function, ctypes.c_void_p).value,
                             ctypes.addressof(self.bounds))

    def __call__(self, env, ops=None, addresses=None):
        table = self.table
        if addresses is None:
            for slot, var_id in self.dynamic:
                table[slot] = address(env[var_id])
        else:  # a loop knows the addresses of its rows and invariants
            for slot, var_id in self.dynamic:
                known = addresses.get(var_id)
                table[slot] = address(env[var_id]) if known is None else known
        if self.parallel is None:
            self.function(0, self.size, self.address)
            return
        run, kernel, bounds = self.parallel
        run(kernel, self.address, bounds, len(self.chunks))


def _chunks(size, n_threads, work=None):
    """``(start, end)`` ranges splitting ``size`` points (``work`` in all, counting the
    points they reduce; default ``size``) for ``n_threads`` threads: up to
    ``CHUNKS_PER_THREAD`` each of at least ``CHUNK_MIN`` work, starting on multiples of
    ``CHUNK_ALIGN`` points (whole cache lines of the flat buffers)."""
    work = size if work is None else work
    if n_threads < 2 or work < PARALLEL_MIN or size < 2:
        return [(0, size)]
    parts = max(2, min(n_threads * CHUNKS_PER_THREAD, work // CHUNK_MIN, size))
    per = -(-size // parts)
    if per >= CHUNK_ALIGN:
        per += -per % CHUNK_ALIGN
    return [(start, min(start + per, size)) for start in range(0, size, per)]


#: multiply-adds (x2) below which a generated product runs on the calling thread alone
GEMM_PARALLEL_FLOPS = 1 << 22


def _gemm_chunks(spec, n_threads):
    """Row-panel ranges of a generated product: a few per thread when it is big enough
    that another thread's start-up is worth paying (a few microseconds), else one."""
    parts = min(n_threads * 4, spec.units)
    if parts < 2 or spec.flops < GEMM_PARALLEL_FLOPS:
        return [(0, spec.units)]
    per = -(-spec.units // parts)
    return [(start, min(start + per, spec.units)) for start in range(0, spec.units, per)]


class _GemmCall:
    """A 2-d product straight into its planned buffer (or a fresh output), by numpy's
    matmul: its BLAS, with the process's thread setting (left as the user set it)."""

    __slots__ = ("a", "b", "transa", "transb", "out", "out_id", "shape", "dtype")

    def __init__(self, step, out):
        equation, params = step.equation, dict(step.params)
        self.a, self.b = (_operand(x) for x in equation.inputs)
        self.transa, self.transb = params["transa"], params["transb"]
        self.out, self.out_id = out, equation.out.id
        self.shape, self.dtype = equation.out.shape, equation.out.dtype

    def __call__(self, env, ops=None, addresses=None):
        a = self.a if type(self.a) is not int else env[self.a]
        b = self.b if type(self.b) is not int else env[self.b]
        out = self.out if self.out is not None else numpy.empty(self.shape, self.dtype)
        rest()  # BLAS threads want the cores our spinning workers hold
        env[self.out_id] = numpy.matmul(a.T if self.transa else a, b.T if self.transb else b,
                                        out=out)


class _HostCall:
    """Any other host step: the op's numpy ``forward``."""

    __slots__ = ("equation", "operands", "out")

    def __init__(self, equation, out):
        self.equation, self.out = equation, out
        self.operands = [_operand(x) for x in equation.inputs]

    def __call__(self, env, ops=None, addresses=None):
        eq = self.equation
        op = ops.get(eq.op, eq.op) if ops else eq.op
        args = [x if type(x) is not int else env[x] for x in self.operands]
        y = numpy.asarray(op.forward(numpy, *args))
        if self.out is not None:  # kernels' tables point at the planned buffer
            numpy.copyto(self.out, y)
            y = self.out
        env[eq.out.id] = y


def _sequenced(calls):
    """``calls`` with every run of two or more consecutive one-chunk kernel calls made
    one ``SequenceCall`` (one ctypes call for the run; see ``sequence``)."""
    from .sequence import SequenceCall

    out, run = [], []
    for call in calls + [None]:
        if type(call) is _KernelCall and len(call.chunks) == 1:
            run.append(call)
            continue
        out.extend([SequenceCall(run)] if len(run) > 1 else run)
        run = []
        if call is not None:
            out.append(call)
    return out


def _operand(x):
    """A Var's id (looked up per call) or a constant's value."""
    return x.value if isinstance(x, Const) else x.id


def _host_call(step, out):
    """How a host step runs: gemm straight into its buffer, a loop by the loop runner
    (its body is compiled code), anything else by the op's numpy ``forward``."""
    from ...control.scan_op import Scan

    equation = step.equation
    if step.library == "gemm" and all(len(x.shape) == 2 for x in equation.inputs):
        return _GemmCall(step, out)
    if type(equation.op) is Scan:
        return LoopCall(equation, out, [_operand(x) for x in equation.inputs])
    return _HostCall(equation, out)


class LoadedProgram:
    """A fused program bound to compiled kernels, ready to run many times."""

    def __init__(self, program, functions, donate=None, gemms=None):
        self.program = program
        graph = program.graph
        self.memory = plan_memory(program)
        raw = numpy.empty(self.memory.size + 64, numpy.uint8)
        shift = -raw.ctypes.data % 64  # 64-byte aligned buffers: whole-vector loads
        self.arena = raw[shift:shift + self.memory.size]
        self.views = arena_views(program, self.memory, self.arena)
        self.constants = {}
        self.outputs = [v for v in graph.outputs if not isinstance(v, Const)]
        output_ids = {v.id for v in self.outputs}
        gemms = gemms or {}
        self.fresh = fresh_outputs(program) + _fresh_products(program, gemms, output_ids)
        # updated values written straight into the arrays they replace (``donate``:
        # {output position: input position}; see ``kernel.memory.donations``)
        into = dict(donations(program, donate or {}))
        self.into_inputs = [(var_id, into[var_id], shape, dtype)
                            for var_id, shape, dtype in self.fresh if var_id in into]
        self.fresh = [entry for entry in self.fresh if entry[0] not in into]
        positions = {v.id: i for i, v in enumerate(graph.inputs)}
        #: {output position: input position} of the outputs written into their input
        #: (when the input array is writable and shares no memory with another input)
        self.donated = {i: positions[into[v.id]] for i, v in enumerate(graph.outputs)
                        if not isinstance(v, Const) and v.id in into}
        self.calls = []
        for index, step in enumerate(program.steps):
            if isinstance(step, KernelStep):
                call = _KernelCall(functions[step.kernel.name], len(step.buffers),
                                   step.kernel.size, work=step.kernel.work)
                self._bind(call, step.buffers, output_ids)
                if step.kernel.size:
                    self.calls.append(call)
            elif index in gemms:  # generated code, called like a kernel (``gemm``)
                spec, eq = gemms[index], step.equation
                call = _KernelCall(gemm_function(spec), len(GEMM_TABLE), spec.units,
                                   _gemm_chunks(spec, threads()))
                self._bind(call, list(eq.inputs) + [eq.out], output_ids)
                for slot, value in enumerate(spec.arguments(), start=3):
                    call.table[slot] = value
                self.calls.append(call)
            else:
                eq = step.equation
                self.calls.append(_host_call(step, self.views.get(eq.out.id)))
        self.calls = _sequenced(self.calls)
        #: whether a step runs Python that may run sub-graphs (a host op, a loop)
        self.runs_python = any(isinstance(c, (_HostCall, LoopCall)) for c in self.calls)
        self.roots = InputRoots()  # (see ``_run``)
        self.lock = threading.Lock()
        self.input_plan = [(v.id, v.aval.dtype) for v in graph.inputs]
        self.input_ids = [v.id for v in graph.inputs]
        self.results = [(False, v.value) if isinstance(v, Const) else (True, v.id)
                        for v in graph.outputs]
        fresh = {var_id for var_id, _, _ in self.fresh}
        ids = [value if is_var else None for is_var, value in self.results]
        #: positions of the results that are new arrays on every call, each returned
        #: once: the caller owns them without copying
        self.owned = frozenset(i for i, var_id in enumerate(ids)
                               if var_id in fresh and ids.count(var_id) == 1)

    def _bind(self, call, values, output_ids):
        """Fill ``call``'s table: constants and planned intermediates now, the rest
        (inputs, outputs, host results) per call."""
        for slot, value in enumerate(values):
            if isinstance(value, Const):
                call.table[slot] = self._constant(value).ctypes.data
            elif value.id in self.views and value.id not in output_ids:
                call.table[slot] = self.views[value.id].ctypes.data
            else:
                call.dynamic.append((slot, value.id))

    def _constant(self, const):
        key = id(const)
        if key not in self.constants:
            self.constants[key] = (numpy.ascontiguousarray(const.value), const)
        return self.constants[key][0]

    def __call__(self, inputs, ops=None):
        return self._locked(inputs, ops, False)

    def run_checked(self, inputs, ops=None):
        """As a call, for a caller that guarantees C-contiguous numpy arrays of the
        inputs' dtypes (a replay's generated gather checked them)."""
        return self._locked(inputs, ops, True)

    def _locked(self, inputs, ops, checked):
        with self.lock:  # the arena is shared: one call at a time
            if not self.runs_python or getattr(_RUNNING, "backend", None) == "llvm":
                return self._run(inputs, ops, checked)
            with running("llvm"):  # (sub-graphs of host steps run compiled too)
                return self._run(inputs, ops, checked)

    def _run(self, inputs, ops, checked):
        env = dict(self.views)
        if checked:
            env.update(zip(self.input_ids, inputs))
        else:
            inputs = [array if type(array) is numpy.ndarray and array.dtype == dtype
                      and array.flags.c_contiguous else _contiguous(array, dtype)
                      for (var_id, dtype), array in zip(self.input_plan, inputs)]
            env.update(zip(self.input_ids, inputs))
        for var_id, shape, dtype in self.fresh:
            env[var_id] = numpy.empty(shape, dtype)
        if self.into_inputs:
            # an update goes into its input unless that is read-only or overlaps another
            # input (which would then read the new value): then into a fresh array
            shared = self.roots.overlapping(inputs)
            for var_id, source, shape, dtype in self.into_inputs:
                array = env[source]
                keep = array.flags.writeable and id(array) not in shared
                env[var_id] = array if keep else numpy.empty(shape, dtype)
        return self._calls(env, ops)

    def _calls(self, env, ops):
        for call in self.calls:
            call(env, ops)
        return [env[value] if is_var else numpy.array(value) for is_var, value in self.results]

    # -- the loop path (``loop``): the caller holds the lock and has checked the inputs
    def run_step(self, inputs, rows=None, addresses=None):
        """The outputs for ``inputs`` (C-contiguous arrays of the inputs' dtypes), for a
        caller holding ``lock`` (a loop running this body at every step); ``rows``
        gives arrays to write some fresh outputs into (``{var id: array}``) and
        ``addresses`` the data addresses of some inputs and rows (``{var id: int}``)."""
        env = dict(self.views)
        for var_id, array in zip(self.input_ids, inputs):
            env[var_id] = array
        for var_id, shape, dtype in self.fresh:
            found = rows.get(var_id) if rows else None
            env[var_id] = numpy.empty(shape, dtype) if found is None else found
        for call in self.calls:
            call(env, None, addresses)
        return [env[value] if is_var else numpy.array(value) for is_var, value in self.results]

    def direct_outputs(self, wanted):
        """``{var id: output position}`` for the positions flagged in ``wanted`` whose
        value a kernel writes into a fresh array and that no other output shares (so
        ``run_step`` may be told where to write it)."""
        return {self.results[i][1]: i for i, flag in enumerate(wanted)
                if flag and i in self.owned}


def _fresh_products(program, gemms, output_ids):
    """``fresh_outputs`` entries for the results written by generated products."""
    fresh = {}
    for index in sorted(gemms):
        out = program.steps[index].equation.out
        if out.id in output_ids:
            fresh.setdefault(out.id, (out.id, out.shape, out.aval.dtype))
    return list(fresh.values())


def _contiguous(array, dtype):
    array = numpy.asarray(array, dtype=dtype)
    if not array.flags.c_contiguous:
        array = numpy.ascontiguousarray(array)
    return array

