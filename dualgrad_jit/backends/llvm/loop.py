"""A ``Scan`` inside a compiled CPU program: the loop of ``control.scan_op.run_loop``, with
its body's compiled program called straight from the loop.

A loop body is compiled once (the same cache ``select.run_sub_graph`` fills) and run
once per step.  Going through ``run_body`` costs a few microseconds a step (the runner
hook, the cache lookup, the program's lock, the backend switch, the check of every
input); here they are paid once per loop: the program is locked for the whole loop,
the sequences and invariants are made contiguous once, and every step only binds its
rows and states (``LoadedProgram.run_step``).  A per-step output the body computes in
a kernel is written by that kernel straight into its row of the stacked result.

The values are those of ``run_loop`` (the same body program, the same steps); when
another body runner is installed (``control.body.set_body_runner``) or the loop has no
step, ``run_loop`` itself runs.
"""

import numpy

from ...control import body as control_body
from ...control.scan_op import _remember, loop_results
from ...control.scan_op import run_loop as reference_loop
from .arrays import address


class LoopCall:
    """The host step of a ``Scan`` equation (output 0; the ``ScanOutput`` equations find
    the others where ``Scan.forward`` leaves them)."""

    __slots__ = ("equation", "operands", "out")

    def __init__(self, equation, out, operands):
        self.equation, self.out, self.operands = equation, out, operands

    def __call__(self, env, ops=None, addresses=None):
        eq = self.equation
        scan = ops.get(eq.op, eq.op) if ops else eq.op
        arrays = [x if type(x) is not int else env[x] for x in self.operands]
        outputs = run_loop(scan, arrays)
        first = numpy.asarray(outputs[0])
        if self.out is not None:  # kernels' tables point at the planned buffer
            numpy.copyto(self.out, first)
            first = self.out
        if scan.n_outputs > 1:
            _remember(first, outputs)
        env[eq.out.id] = first


def run_loop(scan, arrays):
    """Every output of the loop ``scan`` on ``arrays`` (as ``scan_op.run_loop``)."""
    default = getattr(control_body, "backend_body", None)
    if scan.n_steps == 0 or control_body._RUNNER[0] is not default:
        return reference_loop(scan, arrays, numpy)
    program = body_program(scan.body)
    with program.lock:
        return _steps(scan, program, arrays)


def body_program(fn):
    """The compiled program of the sub-graph ``fn`` (compiled once, shared with
    ``select.run_sub_graph``)."""
    from .. import select

    key = ("llvm", fn)
    program = select._BODIES.get(key)
    if program is None:
        program = select._BODIES[key] = select.load(fn.graph, "llvm")
    return program


def _steps(scan, program, arrays):

    n, n_seqs, n_states = scan.n_steps, scan.n_seqs, scan.n_states
    avals = scan.body.in_avals
    operands = [_prepared(a, aval) for a, aval in zip(arrays[n_seqs:], avals[n_seqs:])]
    seqs = [_prepared(s, aval) for s, aval in zip(arrays[:n_seqs], avals)]
    states, consts = operands[:n_states], operands[n_states:]
    stored = [numpy.empty(scan.out_aval(i).shape, scan.out_aval(i).dtype) if k else None
              for i, k in enumerate(scan.keep)]
    direct = program.direct_outputs([k == 1 for k in scan.keep])
    copied = [(i, stored[i], k) for i, k in enumerate(scan.keep)
              if k and not (k == 1 and i in direct.values())]
    ids = program.input_ids
    fixed = {var_id: address(c) for var_id, c in zip(ids[n_seqs + n_states:], consts)}
    moving = [(var_id, address(s), s.strides[0] if s.ndim else 0)
              for var_id, s in zip(ids, seqs)]
    written = [(var_id, address(stored[i]), stored[i].strides[0])
               for var_id, i in direct.items()]
    outs, rows, addresses = None, {}, dict(fixed)  # both rebound in place at every step
    for t in range(n):
        row = n - 1 - t if scan.go_backwards else t
        for var_id, i in direct.items():
            rows[var_id] = stored[i][t, ...]
        for var_id, base, stride in moving:
            addresses[var_id] = base + row * stride
        for var_id, base, stride in written:
            addresses[var_id] = base + t * stride
        outs = program.run_step([s[row, ...] for s in seqs] + states + consts, rows,
                                addresses)
        states = [_contiguous(h) for h in outs[:n_states]]
        for i, buffer, stride in copied:
            if stride == 1:
                buffer[t] = outs[i]
            elif (t + 1) % stride == 0:
                buffer[(t + 1) // stride - 1] = outs[i]
    return loop_results(scan, stored, outs, arrays, numpy)


def _prepared(array, aval):
    """``array`` as a C-contiguous numpy array of the body input's dtype (a sequence's
    rows then are too)."""
    return numpy.asarray(array, dtype=aval.dtype, order="C")


def _contiguous(array):
    if type(array) is numpy.ndarray and array.flags.c_contiguous:
        return array
    return numpy.asarray(array, order="C")  # (ascontiguousarray makes 0-d arrays 1-d)


__all__ = ["LoopCall", "body_program", "run_loop"]
