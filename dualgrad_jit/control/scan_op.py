"""``Scan``: a loop in the graph, its body a sub-graph run once per step.

With a body ``f`` (a ``CompiledGraph``) taking one step's sequence slices ``x_t``, the
recurrent states ``h_t`` and the constants ``c``, and returning the next states and
the per-step extra outputs,

    (h_{t+1}, y_t) = f(x_t, h_t, c)        t = 0 .. n-1,   h_0 = the initial states,

where ``x_t = seq[t]`` (``seq[n-1-t]`` with ``go_backwards``), the loop's outputs are,
for each body output ``i`` (the next states first, then the extras), chosen by
``keep[i]``:

- ``1``: every step, stacked: ``(n,) + shape`` (what ``dj.scan`` returns);
- ``k > 1``: every k-th step (steps ``k-1, 2k-1, ...``): ``(n // k,) + shape`` (the
  checkpoints of a long loop's backward);
- ``0``: the last step only: ``shape`` (a state after 0 steps is its initial value).

The graph IR has single-output equations, so output 0 is the ``Scan`` equation itself and
output ``i > 0`` is a ``ScanOutput(scan, i)`` equation reading output 0 as a *handle*
besides the loop's operands.  The loop runs once per run: the ``Scan`` equation keeps
the other outputs with its fresh output array, and each ``ScanOutput`` takes its own
from there (an executor handing it a copy of output 0 makes the first ``ScanOutput``
run the loop again, for all of them).

Every step runs the body through ``body.run_body`` (the interpreter by default; a
compiled backend swaps in compiled bodies); compiled backends run the loop itself as a
host step (``host_step``), never its unrolled lowering.  The gradient is another ``Scan`` running
backwards (``scan_grad``), so it is differentiable again.
"""

import functools
import weakref

import numpy

from dualgrad.core import tape
from dualgrad.core.aval import ShapedArray
from dualgrad.core.op import Op
from dualgrad.core.variable import Variable
from dualgrad.errors import ShapeError
from dualgrad.lowering import Composite
from dualgrad.ops import view

from ..vjp import replay
from .body import check_avals, run_body


class Scan(Op):
    """Output 0 of the loop described in the module docstring.

    ``n_seqs`` sequences (each of ``n_steps`` rows), ``n_states`` initial states, then
    the constants: the body's inputs in that order.  ``truncate_gradient`` (> 0: the
    gradient runs back that many steps only) and ``checkpoint`` (k: the backward stores
    every k-th state and recomputes the rest) change only the backward.
    """

    __slots__ = ("body", "n_seqs", "n_states", "n_steps", "go_backwards", "keep",
                 "truncate_gradient", "checkpoint")
    save = "inputs"
    host_step = True  # compiled backends run the loop, not its unrolled lowering

    def __init__(self, body, n_seqs, n_states, n_steps, go_backwards=False, keep=None,
                 truncate_gradient=-1, checkpoint=None):
        n_out = len(body.graph.outputs)
        self.body = body
        self.n_seqs = int(n_seqs)
        self.n_states = int(n_states)
        self.n_steps = int(n_steps)
        self.go_backwards = bool(go_backwards)
        self.keep = (1,) * n_out if keep is None else tuple(int(k) for k in keep)
        self.truncate_gradient = int(truncate_gradient)
        self.checkpoint = None if checkpoint is None else int(checkpoint)
        if len(self.keep) != n_out or any(k < 0 for k in self.keep):
            raise ValueError(f"keep needs one stride >= 0 per body output ({n_out}), got "
                             f"{self.keep}")
        if self.n_steps < 0:
            raise ValueError(f"n_steps must be >= 0, got {self.n_steps}")

    # -- shapes ---------------------------------------------------------------------------
    @property
    def n_outputs(self):
        return len(self.body.graph.outputs)

    @property
    def n_consts(self):
        return len(self.body.graph.inputs) - self.n_seqs - self.n_states

    def out_aval(self, index):
        """The aval of loop output ``index`` (see ``keep``)."""
        step = self.body.out_avals[index]
        stride = self.keep[index]
        if stride == 0:
            return ShapedArray(step.shape, step.dtype)
        return ShapedArray((self.n_steps // stride,) + tuple(step.shape), step.dtype)

    def in_avals(self):
        """What the loop takes: whole sequences, then states and constants as the body."""
        body = self.body.in_avals
        seqs = tuple(ShapedArray((self.n_steps,) + tuple(a.shape), a.dtype)
                     for a in body[:self.n_seqs])
        return seqs + tuple(body[self.n_seqs:])

    def check(self, avals):
        names = ["sequence"] * self.n_seqs + ["initial state"] * self.n_states + \
            ["non-sequence"] * self.n_consts
        check_avals(self.name, avals, self.in_avals(),
                    lambda p: f"{names[p] if p < len(names) else 'operand'} {p}")

    def infer(self, *avals):
        self.check(avals)
        return self.out_aval(0)

    def with_keep(self, keep):
        """This loop storing its outputs with the strides ``keep``."""
        return self.replace(keep=tuple(int(k) for k in keep))

    # -- running --------------------------------------------------------------------------
    def forward(self, xp, *arrays):
        outputs = run_loop(self, arrays, xp)
        if self.n_outputs > 1:
            _remember(outputs[0], outputs)
        return outputs[0]

    def backward(self, gy, inputs, y, need):
        from .scan_grad import scan_vjp

        return scan_vjp(self, 0, gy, inputs, need)

    def lower(self, *avals):
        return Composite(functools.partial(unrolled, self, 0))


class ScanOutput(Op):
    """Output ``index`` (> 0) of the loop ``scan``; its first operand is the loop's
    output 0 (the ``Scan`` equation), the others are the loop's operands."""

    __slots__ = ("scan", "index")
    save = "inputs"
    host_step = True

    def __init__(self, scan, index):
        if not 0 < int(index) < scan.n_outputs:
            raise IndexError(f"the loop has {scan.n_outputs} outputs; ScanOutput takes "
                             f"1..{scan.n_outputs - 1}, not {index}")
        self.scan = scan
        self.index = int(index)

    def infer(self, first, *avals):
        want = self.scan.out_aval(0)
        if tuple(first.shape) != want.shape or first.dtype != want.dtype:
            raise ShapeError(self.name, f"operand 0 must be the loop's output 0 ({want}), "
                             f"got {first}", (first,) + avals)
        self.scan.check(avals)
        return self.scan.out_aval(self.index)

    def with_keep(self, keep):
        return self.replace(scan=self.scan.with_keep(keep))

    def forward(self, xp, first, *arrays):
        found = _recall(first, self.index)
        if found is not None:
            return found
        # handed a copy of output 0 (an executor that moves results into its own
        # buffers): run the loop again, once, for every output reading this copy
        outputs = run_loop(self.scan, arrays, xp)
        _remember(first, outputs, skip=self.index)
        return outputs[self.index]

    def backward(self, gy, inputs, y, need):
        from .scan_grad import scan_vjp

        grads = scan_vjp(self.scan, self.index, gy, inputs[1:], need[1:])
        return (None,) + tuple(grads)

    def lower(self, first, *avals):
        return Composite(functools.partial(_unrolled_output, self.scan, self.index))


def apply_scan(scan, operands, count=None):
    """The first ``count`` outputs (default all) of the loop ``scan`` on ``operands``
    (Variables, arrays), through ``tape.apply``: recorded by an active tracer, on the
    tape under backprop."""
    operands = tuple(operands)
    first = tape.apply(scan, operands)
    count = scan.n_outputs if count is None else count
    rest = [tape.apply(ScanOutput(scan, i), (first,) + operands) for i in range(1, count)]
    return [first] + rest


# -- the loop ---------------------------------------------------------------------------------
def run_loop(scan, arrays, xp):
    """Every output of ``scan`` on ``arrays`` (see the module docstring)."""
    n, n_seqs, n_states = scan.n_steps, scan.n_seqs, scan.n_states
    seqs = arrays[:n_seqs]
    states = list(arrays[n_seqs:n_seqs + n_states])
    consts = list(arrays[n_seqs + n_states:])
    stored = [xp.empty(scan.out_aval(i).shape, scan.out_aval(i).dtype) if k else None
              for i, k in enumerate(scan.keep)]
    last = None
    for t in range(n):
        row = n - 1 - t if scan.go_backwards else t
        outs = run_body(scan.body, [s[row] for s in seqs] + states + consts, xp)
        states = list(outs[:n_states])
        for buffer, stride, value in zip(stored, scan.keep, outs):
            if stride == 1:
                buffer[t] = value
            elif stride and (t + 1) % stride == 0:
                buffer[(t + 1) // stride - 1] = value
        last = outs
    return loop_results(scan, stored, last, arrays, xp)


def loop_results(scan, stored, last, arrays, xp):
    """A loop's outputs: the stored rows of the outputs kept per step, and for the others
    the last step's value (``last``; None when no step ran) as an array the caller owns."""
    results = []
    for i, (buffer, stride) in enumerate(zip(stored, scan.keep)):
        if stride:
            results.append(buffer)
            continue
        value = _empty_loop_value(scan, i, arrays, xp) if last is None else last[i]
        results.append(_owned(value, arrays, xp, scan.body.out_avals[i]))
    return results


def _empty_loop_value(scan, index, arrays, xp):
    """The last value of a loop of 0 steps: a state's initial value, else zeros."""
    if index < scan.n_states:
        return arrays[scan.n_seqs + index]
    aval = scan.body.out_avals[index]
    return xp.zeros(aval.shape, aval.dtype)


def _owned(value, arrays, xp, aval):
    """``value`` as an array the loop owns (never one of its operands, which a caller
    may change in place), typed as the body says."""
    value = xp.asarray(value, dtype=aval.dtype)
    if any(value is a for a in arrays):
        value = value.copy()
    return value


# -- one loop run, several equations -------------------------------------------------------
# id(output 0 array) -> (weak reference to it, {index: array}).  An entry lives while
# output 0 does (a fresh array of each run, so an entry never outlives its run's data);
# each ScanOutput takes its array once.
_SIBLINGS = {}


def _remember(first, outputs, skip=0):
    key = id(first)

    def forget(ref, key=key, table=_SIBLINGS):  # bound now: globals are gone at exit
        if table is None:
            return
        entry = table.get(key)
        if entry is not None and entry[0] is ref:
            del table[key]

    try:
        ref = weakref.ref(first, forget)
    except TypeError:  # an array type without weak references: ScanOutput recomputes
        return
    others = {i: value for i, value in enumerate(outputs) if i not in (0, skip)}
    if others:
        _SIBLINGS[key] = (ref, others)


def _recall(first, index):
    entry = _SIBLINGS.get(id(first))
    if entry is None or entry[0]() is not first:
        return None
    found = entry[1].pop(index, None)
    if not entry[1]:
        del _SIBLINGS[id(first)]
    return found


# -- the loop written with ops (its lowering) --------------------------------------------------
def unrolled(scan, index, *inputs):
    """Output ``index`` of ``scan`` computed step by step with dualgrad ops: the body
    replayed ``n_steps`` times and the kept values stacked."""
    return unrolled_outputs(scan, inputs)[index]


def _unrolled_output(scan, index, first, *inputs):
    return unrolled_outputs(scan, inputs)[index]


def unrolled_outputs(scan, inputs):
    """Every output of ``scan`` computed with dualgrad ops (see ``unrolled``)."""
    from dualgrad import functions as F

    n, n_seqs, n_states = scan.n_steps, scan.n_seqs, scan.n_states
    seqs = inputs[:n_seqs]
    states = list(inputs[n_seqs:n_seqs + n_states])
    consts = list(inputs[n_seqs + n_states:])
    kept = [[] for _ in scan.keep]
    last = None
    for t in range(n):
        row = n - 1 - t if scan.go_backwards else t
        step = [_row(s, row) for s in seqs] + states + consts
        outs = [_as_variable(v, c) for v, c in
                zip(replay(tape.TRACER, scan.body.graph, step), scan.body.graph.outputs)]
        states = outs[:n_states]
        for values, stride, value in zip(kept, scan.keep, outs):
            if stride and (t + 1) % stride == 0:
                values.append(value)
        last = outs
    results = []
    for i, (values, stride) in enumerate(zip(kept, scan.keep)):
        aval = scan.out_aval(i)
        if stride and values:
            results.append(F.stack(values, axis=0))
        elif stride:
            results.append(_zeros(aval))
        elif last is not None:
            results.append(last[i])
        else:
            results.append(inputs[n_seqs + i] if i < n_states else _zeros(aval))
    return results


def _row(sequence, row):
    return tape.apply(view.GetItem((row,)), (sequence,))


def _as_variable(value, output):
    if value is not None:
        return value
    return Variable(numpy.asarray(output.value, output.aval.dtype), requires_grad=False)


def _zeros(aval):
    from ..tensor.functions import full

    return full(aval.shape, 0, aval.dtype)


__all__ = ["Scan", "ScanOutput", "apply_scan", "run_loop", "unrolled", "unrolled_outputs"]
