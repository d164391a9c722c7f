"""The gradient of ``Scan``: another ``Scan``, running backwards.

For the loop ``(h_{t+1}, y_t) = f(x_t, h_t, c)`` and a cotangent ``gy`` of one of its
outputs, the reverse loop carries ``g_h`` (the gradient with respect to the state after
the step being undone) and an accumulator per constant: for t = n-1 down to 0,

    (g_x_t, g_h, g_c_t) = VJP_f(x_t, h_t, c)(g_h + gs_t, gy_t)
    acc_c = acc_c + g_c_t

with ``gs_t`` / ``gy_t`` the output's cotangent at step t (zero where the output does not
keep step t).  Then ``d/dh_0 = g_h``, ``d/dc = acc_c`` and ``d/dseq`` stacks the ``g_x_t``
(back in the sequence's order).  ``VJP_f`` is derived from the body graph by the ops' own
backward rules, so the reverse loop is a ``Scan`` whose body is a graph like any other:
differentiable again (double backprop).

The states ``h_t`` the reverse loop reads come from the forward loop storing every
state: that is the very loop ``dj.scan`` built (CSE merges the two in a compiled graph).
Options of the forward ``Scan``:

- ``truncate_gradient = T`` (Theano's truncated BPTT): only the last T steps are undone;
  earlier steps and the initial states get zero gradient.
- ``checkpoint = k``: the forward stores every k-th state only; the reverse loop walks
  segments of k steps backwards, each recomputing its k states from its checkpoint
  (a forward ``Scan``) before undoing them (a reverse ``Scan``).
"""

import functools
from typing import NamedTuple

import numpy

from dualgrad._config import using_config
from dualgrad.backend import get_array_module
from dualgrad.core import tape
from dualgrad.core.aval import aval_of
from dualgrad.core.backprop import grad as _grad
from dualgrad.ops import elementwise as ew
from dualgrad.ops import view

from ..passes import optimize
from ..trace import Tracer
from ..vjp import CompiledGraph, abstract_variable, bake_constants, installed, replay
from .body import trace_body
from .scan_op import Scan, apply_scan


class Plan(NamedTuple):
    """What a reverse loop computes: the gradients of output ``index`` of ``body``
    (``n_seqs`` sequences, ``n_states`` states) for the sequences and constants flagged
    in ``want_seq`` / ``want_const``, carrying gradients for the float states
    ``float_states``; ``has_gy``: the cotangent comes as a per-step sequence."""

    body: CompiledGraph
    n_seqs: int
    n_states: int
    index: int
    has_gy: bool
    want_seq: tuple
    want_const: tuple
    float_states: tuple


def scan_vjp(scan, index, gy, inputs, need):
    """The gradients of loop output ``index`` (cotangent ``gy``) for ``inputs`` (the
    loop's operands), None where ``need`` is False or the input is not a float."""
    n_seqs, n_states = scan.n_seqs, scan.n_states
    inputs = list(inputs)
    floats = [aval_of(x).dtype.kind in "fc" for x in inputs]
    need = [bool(n) and f for n, f in zip(need, floats)]
    if not any(need):
        return (None,) * len(inputs)
    aval = scan.out_aval(index)
    if gy.dtype != aval.dtype:
        gy = ew.cast(gy, aval.dtype)
    seqs, inits = inputs[:n_seqs], inputs[n_seqs:n_seqs + n_states]
    consts = inputs[n_seqs + n_states:]
    last_state = index < n_states and scan.keep[index] == 0
    plan = Plan(scan.body, n_seqs, n_states, index, not last_state,
                tuple(need[:n_seqs]), tuple(need[n_seqs + n_states:]),
                tuple(j for j in range(n_states) if floats[n_seqs + j]))
    if scan.n_steps == 0:
        return _empty_loop_grads(plan, gy, inputs, need, last_state)
    carry0 = [gy if last_state and j == index else _zeros_like(inits[j])
              for j in plan.float_states]
    acc0 = [_zeros_like(c) for c, w in zip(consts, plan.want_const) if w]
    gy_steps = None if last_state else per_step_cotangent(scan, index, gy)
    x_steps = [_flip(s) if scan.go_backwards else s for s in seqs]
    window = _window(scan)
    if scan.checkpoint and scan.checkpoint < scan.n_steps and window == scan.n_steps:
        carry, acc, gx = _checkpointed(scan, plan, inputs, x_steps, carry0, acc0, gy_steps)
    else:
        pre = _pre_states(scan, inputs)
        start = scan.n_steps - window
        cut = [_rows(v, start) for v in x_steps], [_rows(v, start) for v in pre]
        gy_cut = None if gy_steps is None else _rows(gy_steps, start)
        carry, acc, gx = reverse(plan, cut[0], cut[1], consts, carry0, acc0, gy_cut)
        if start:  # truncated: the earlier steps and the initial states get nothing
            carry = [_zeros_like(inits[j]) for j in plan.float_states]
            gx = [_pad_front(g, start) for g in gx]
    return _assemble(scan, plan, need, carry, acc, gx)


def _window(scan):
    truncate = scan.truncate_gradient
    return scan.n_steps if truncate <= 0 else min(truncate, scan.n_steps)


def _assemble(scan, plan, need, carry, acc, gx):
    grads = [None] * len(need)
    gx, acc = iter(gx), iter(acc)
    for j, wanted in enumerate(plan.want_seq):
        if wanted:
            g = next(gx)
            grads[j] = _flip(g) if scan.go_backwards else g
    for j, g in zip(plan.float_states, carry):
        if need[plan.n_seqs + j]:
            grads[plan.n_seqs + j] = g
    start = plan.n_seqs + plan.n_states
    for c, wanted in enumerate(plan.want_const):
        if wanted:
            grads[start + c] = next(acc)
    return tuple(grads)


def _empty_loop_grads(plan, gy, inputs, need, last_state):
    """A loop of 0 steps: its last state is its initial state; nothing else flows."""
    grads = [_zeros_like(x) if n else None for x, n in zip(inputs, need)]
    if last_state and need[plan.n_seqs + plan.index]:
        grads[plan.n_seqs + plan.index] = gy
    return tuple(grads)


# -- the reverse loop ---------------------------------------------------------------------
def reverse(plan, x_steps, pre_states, consts, carry0, acc0, gy_steps):
    """``(carry, acc, gx_steps)``: the reverse loop over sequences in step order (the
    sequences' rows, the states before each step, the per-step cotangent)."""
    body = reverse_body(plan)
    n_carry, n_acc = len(carry0), len(acc0)
    n_gx = sum(plan.want_seq)
    seqs = list(x_steps) + list(pre_states) + ([gy_steps] if plan.has_gy else [])
    n_steps = aval_of(seqs[0]).shape[0]  # a loop with a gradient reads some sequence
    loop = Scan(body, len(seqs), n_carry + n_acc, n_steps, go_backwards=True,
                keep=(0,) * (n_carry + n_acc) + (1,) * n_gx)
    outs = apply_scan(loop, seqs + list(carry0) + list(acc0) + list(consts))
    gx = [_flip(g) for g in outs[n_carry + n_acc:]]  # stacked while walking back
    return outs[:n_carry], outs[n_carry:n_carry + n_acc], gx


@functools.lru_cache(maxsize=256)
def reverse_body(plan):
    """One step of the reverse loop as a graph (see the module docstring); inputs:
    ``x_t..., h_t..., [gy_t], g_h..., acc_c..., c...``; outputs: ``g_h..., acc_c...,
    g_x_t...`` (for the flagged sequences)."""
    body = plan.body
    avals = body.in_avals
    n_seqs, n_states = plan.n_seqs, plan.n_states
    tracer = Tracer(abstract=True)
    with installed(tracer), using_config("enable_backprop", True):
        xs = [abstract_variable(tracer, a, w) for a, w in zip(avals[:n_seqs], plan.want_seq)]
        hs = [abstract_variable(tracer, a, j in plan.float_states)
              for j, a in enumerate(avals[n_seqs:n_seqs + n_states])]
        gy_t = abstract_variable(tracer, _step_aval(body, plan.index), False) \
            if plan.has_gy else None
        carries = [abstract_variable(tracer, avals[n_seqs + j], False) for j in plan.float_states]
        const_avals = avals[n_seqs + n_states:]
        accs = [abstract_variable(tracer, a, False)
                for a, w in zip(const_avals, plan.want_const) if w]
        cs = [abstract_variable(tracer, a, w) for a, w in zip(const_avals, plan.want_const)]
        outs = replay(tracer, body.graph, xs + hs + cs)
        wrt = [x for x, w in zip(xs, plan.want_seq) if w] + \
            [hs[j] for j in plan.float_states] + [c for c, w in zip(cs, plan.want_const) if w]
        grads = _step_gradients(plan, outs, carries, gy_t, wrt)
        n_x = sum(plan.want_seq)
        g_x, g_h, g_c = grads[:n_x], grads[n_x:n_x + len(carries)], grads[n_x + len(carries):]
        results = g_h + [ew.add(a, g) for a, g in zip(accs, g_c)] + g_x
    graph = tracer.builder.build([tracer.operand(r) for r in results])
    graph = bake_constants(graph, tracer, len(tracer.inputs))
    return CompiledGraph(optimize(graph))


def _step_aval(body, index):
    return body.out_avals[index]


def _step_gradients(plan, outs, carries, gy_t, wrt):
    """The body's VJP at one step: cotangents ``g_h (+ gy_t)`` for the next states and
    ``gy_t`` for the extra output it belongs to; zeros where nothing flows."""
    starts, seeds = [], []
    carry_of = dict(zip(plan.float_states, carries))
    for i, out in enumerate(outs):
        seed = carry_of.get(i) if i < plan.n_states else None
        if gy_t is not None and i == plan.index:
            seed = gy_t if seed is None else ew.add(seed, gy_t)
        if seed is None or out is None or not out.requires_grad:
            continue
        starts.append(out)
        seeds.append(seed)
    found = _grad(starts, wrt, grad_outputs=seeds) if starts else [None] * len(wrt)
    return [_zeros_like(w) if g is None else g for g, w in zip(found, wrt)]


# -- what the reverse loop reads ---------------------------------------------------------------
def _pre_states(scan, inputs):
    """Per state, its value before each step (step order): ``[h_0, h_1 .. h_{n-1}]``,
    from the forward loop keeping every state (the loop ``dj.scan`` built, so that a
    compiled graph computes it once)."""
    if not scan.n_states:
        return []
    keep = tuple(1 if i < scan.n_states else k for i, k in enumerate(scan.keep))
    states = apply_scan(scan.with_keep(keep), inputs, scan.n_states)
    inits = inputs[scan.n_seqs:scan.n_seqs + scan.n_states]
    return [_shift_in(h0, traj) for h0, traj in zip(inits, states)]


def _shift_in(first, stacked):
    """``[first, stacked[0] .. stacked[-2]]``: the states before each step."""
    n = aval_of(stacked).shape[0]
    head = view.reshape(first, (1,) + tuple(aval_of(first).shape))
    if n == 1:
        return head
    return view.concat([head, _get(stacked, slice(0, n - 1))], axis=0)


def per_step_cotangent(scan, index, gy):
    """The cotangent of output ``index`` as one entry per step (step order), zeros at
    the steps the output does not keep."""
    n, stride = scan.n_steps, scan.keep[index]
    if stride == 1:
        return gy
    shape = tuple(scan.body.out_avals[index].shape)
    dtype = scan.body.out_avals[index].dtype
    if stride == 0:
        return _pad_front(view.reshape(gy, (1,) + shape), n - 1)
    m = n // stride
    spread = view.concat([zeros((m, stride - 1) + shape, dtype, gy),
                          view.reshape(gy, (m, 1) + shape)], axis=1)
    spread = view.reshape(spread, (m * stride,) + shape)
    if n > m * stride:
        spread = view.concat([spread, zeros((n - m * stride,) + shape, dtype, gy)], axis=0)
    return spread


# -- checkpoints -------------------------------------------------------------------------------
def _checkpointed(scan, plan, inputs, x_steps, carry, acc, gy_steps):
    """The reverse loop over segments of ``k = scan.checkpoint`` steps, each recomputing
    its states from the checkpoint stored before it: memory ``n / k + k`` states instead of
    ``n``, for one more forward loop."""
    n, k, n_states = scan.n_steps, scan.checkpoint, scan.n_states
    full, tail = divmod(n, k)
    inits = inputs[scan.n_seqs:scan.n_seqs + n_states]
    consts = inputs[scan.n_seqs + n_states:]
    keep = tuple(k if i < n_states else 0 for i in range(scan.n_outputs))
    marks = apply_scan(scan.with_keep(keep), inputs, n_states) if n_states and full else []
    gx_tail = []
    if tail:
        starts = [_get(m, full - 1) for m in marks] if full else list(inits)
        rows = [_rows(x, full * k) for x in x_steps]
        gy_rows = None if gy_steps is None else _rows(gy_steps, full * k)
        carry, acc, gx_tail = segment_reverse(scan, plan, tail, rows, starts, consts, carry,
                                              acc, gy_rows)
    if not full:
        return carry, acc, gx_tail
    carry, acc, gx_full = _segments(scan, plan, full, x_steps, inits, marks, consts, carry,
                                    acc, gy_steps)
    gx = [view.concat([a, b], axis=0) for a, b in zip(gx_full, gx_tail)] if tail else gx_full
    return carry, acc, gx


def _segments(scan, plan, full, x_steps, inits, marks, consts, carry, acc, gy_steps):
    """The ``full`` segments of k steps, undone by a reverse ``Scan`` over segments."""
    k = scan.checkpoint
    starts = [_shift_in(h0, m) for h0, m in zip(inits, marks)]
    x_seg = [_segmented(x, full, k) for x in x_steps]
    gy_seg = [] if gy_steps is None else [_segmented(gy_steps, full, k)]
    n_x, n_s = len(x_seg), len(starts)

    def undo_segment(*args):
        xs, ss = args[:n_x], args[n_x:n_x + n_s]
        rest = args[n_x + n_s:]
        gy_rows = rest[0] if gy_seg else None
        rest = rest[len(gy_seg):]
        c, a = rest[:len(carry)], rest[len(carry):len(carry) + len(acc)]
        cs = rest[len(carry) + len(acc):]
        c, a, g = segment_reverse(scan, plan, k, list(xs), list(ss), list(cs), list(c),
                                  list(a), gy_rows)
        return tuple(c) + tuple(a) + tuple(g)

    seqs = x_seg + starts + gy_seg
    operands = seqs + list(carry) + list(acc) + list(consts)
    avals = [_row_aval(v) for v in seqs] + [aval_of(v) for v in operands[len(seqs):]]
    graph, captures, _ = trace_body(undo_segment, avals, "checkpointed segment")
    n_loop = len(carry) + len(acc)
    loop = Scan(CompiledGraph(graph), len(seqs), n_loop, full, go_backwards=True,
                keep=(0,) * n_loop + (1,) * sum(plan.want_seq))
    outs = apply_scan(loop, operands + captures)
    gx = [view.reshape(_flip(g), (full * k,) + tuple(aval_of(g).shape[2:]))
          for g in outs[n_loop:]]
    return outs[:len(carry)], outs[len(carry):n_loop], gx


def segment_reverse(scan, plan, steps, x_rows, starts, consts, carry, acc, gy_rows):
    """Recompute ``steps`` states from ``starts`` (a forward ``Scan`` over the rows in
    step order), then undo those steps (the reverse loop)."""
    pre = []
    if scan.n_states:
        keep = tuple(1 if i < scan.n_states else 0 for i in range(scan.n_outputs))
        sub = scan.replace(n_steps=steps, go_backwards=False, keep=keep, checkpoint=None,
                           truncate_gradient=-1)
        states = apply_scan(sub, list(x_rows) + list(starts) + list(consts), scan.n_states)
        pre = [_shift_in(h0, traj) for h0, traj in zip(starts, states)]
    return reverse(plan, x_rows, pre, consts, carry, acc, gy_rows)


def _segmented(x, full, k):
    shape = tuple(aval_of(x).shape[1:])
    return view.reshape(_get(x, slice(0, full * k)), (full, k) + shape)


def _row_aval(x):
    from dualgrad.core.aval import ShapedArray

    aval = aval_of(x)
    return ShapedArray(tuple(aval.shape[1:]), aval.dtype)


# -- small pieces, written with ops ------------------------------------------------------------
def _get(x, key):
    from dualgrad.ops import index

    return index.get_item(x, key)


def _flip(x):
    return _get(x, slice(None, None, -1))


def _rows(x, start):
    return x if start == 0 else _get(x, slice(start, None))


def _pad_front(x, count):
    """``count`` rows of zeros, then ``x``."""
    if count == 0:
        return x
    aval = aval_of(x)
    return view.concat([zeros((count,) + tuple(aval.shape[1:]), aval.dtype, x), x], axis=0)


def zeros(shape, dtype, *like):
    """Zeros of ``shape`` and ``dtype`` on the device of the arrays ``like``: a scalar
    constant broadcast to ``shape``.

    On device arrays (eagerly, or traced by ``dj.jit`` on them) the value must be a
    device array too: the reverse loop and ``concat`` take it together with the
    cotangents, and cupy refuses numpy arrays among its operands.  So the scalar first
    goes through a ``Cast`` run on that module (``cupy.asarray(scalar)``), which a tracer
    still records as an op on a constant.  On numpy or abstract values (a loop body being
    traced) it stays the bare constant."""
    scalar = numpy.array(0, dtype=dtype)[()]
    xp = get_array_module(*like)
    if xp is not numpy:
        scalar = tape.apply(ew.Cast(scalar.dtype), (scalar,), xp)
    return view.broadcast_to(scalar, tuple(int(n) for n in shape))


def _zeros_like(x):
    aval = aval_of(x)
    return zeros(tuple(aval.shape), aval.dtype, x)


__all__ = ["Plan", "per_step_cotangent", "reverse", "reverse_body", "scan_vjp",
           "segment_reverse", "zeros"]
