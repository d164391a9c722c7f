"""Harness cases for the control-flow ops of compiled mode (``dualgrad_jit.control``) and
the stream draw of ``dj.RandomStreams``: each applied as one op on real arrays, so the
harness checks it against numpy, its lowering (the unrolled loop, the select of both
branches, the eager draw), its derived backward and the backward of that backward.
"""

import functools

import numpy

import dualgrad.functions as F
import dualgrad.ops.random as R
from dualgrad.core.aval import ShapedArray, aval_of
from dualgrad.core.tape import apply
from dualgrad_jit.control.body import trace_body
from dualgrad_jit.control.ifelse import IfElse
from dualgrad_jit.control.scan_op import Scan, ScanOutput, apply_scan
from dualgrad_jit.random_streams import RandomStreamDraw
from dualgrad_jit.vjp import CompiledGraph

from .harness import OpCase


def _step(x, h, w):
    """One step of a small recurrence with an extra per-step output."""
    h = F.tanh(x + h * w)
    return h, F.sum(h * x)


def _reference_loop(xs, h0, w, go_backwards):
    h, hs, ys = h0, [], []
    rows = xs[::-1] if go_backwards else xs
    for x in rows:
        h = numpy.tanh(x + h * w)
        hs.append(h)
        ys.append((h * x).sum())
    dtype = numpy.result_type(xs, h0, w)
    return (numpy.array(hs, dtype).reshape((len(xs),) + numpy.shape(h0)),
            numpy.array(ys, dtype))


@functools.cache
def _loop(n, row, state, weight, go_backwards):
    graph, captures, _ = trace_body(_step, [row, state, weight])
    assert not captures
    return Scan(CompiledGraph(graph), 1, 1, n, go_backwards)


def _scan(index, go_backwards=False):
    def run(xs, h0, w):
        row = ShapedArray(tuple(xs.shape[1:]), numpy.dtype(xs.dtype))
        loop = _loop(xs.shape[0], row, aval_of(h0), aval_of(w), go_backwards)
        return apply_scan(loop, (xs, h0, w))[index]

    run.__name__ = f"scan_output_{index}" + ("_backwards" if go_backwards else "")
    return run


def _scan_reference(index, go_backwards=False):
    def reference(xs, h0, w):
        return _reference_loop(xs, h0, w, go_backwards)[index]

    return reference


def _loop_samples(rng, dtype):
    def u(*shape):
        return rng.uniform(-1.0, 1.0, shape).astype(dtype)

    return [(u(4, 3), u(3), u(3)), (u(3), u(), u()), (u(5, 2, 2), u(2, 2), u(2)),
            (u(0, 2), u(2), u(2))]


def _then(a, b):
    return F.tanh(a) * b


def _else(a, b):
    return a - F.exp(b) * 0.5


@functools.cache
def _branches(a, b):
    then_graph, _, _ = trace_body(_then, [a, b])
    else_graph, _, _ = trace_body(_else, [a, b])
    return IfElse(CompiledGraph(then_graph), CompiledGraph(else_graph))


def ifelse(cond, a, b):
    return apply(_branches(aval_of(a), aval_of(b)), (cond, a, b))


def _ifelse_reference(cond, a, b):
    return numpy.tanh(a) * b if cond else a - numpy.exp(b) * a.dtype.type(0.5)


def _ifelse_samples(rng, dtype):
    def u(*shape):
        return rng.uniform(-1.0, 1.0, shape).astype(dtype)

    return [(numpy.array(True), u(3, 2), u(3, 2)), (numpy.array(False), u(3, 2), u(2)),
            (numpy.array(1), u(), u()), (numpy.array(0.0), u(0, 2), u(0, 2))]


def stream_draw(state, like):
    """A normal draw of ``like``'s shape and dtype at the ``[key, counter]`` state."""
    draw = R.RandomNormal(like.shape, like.dtype, 0, 0)
    return apply(RandomStreamDraw(draw), (state,))


def _draw_reference(state, like):
    key, counter = (int(v) for v in state)
    return R.RandomNormal(like.shape, like.dtype, key, counter).forward(numpy)


def _draw_samples(rng, dtype):
    return [(numpy.array([7, 0], numpy.uint64), numpy.zeros((3, 2), dtype)),
            (numpy.array([2**63 + 5, 2**40], numpy.uint64), numpy.zeros(5, dtype)),
            (numpy.array([1, 2], numpy.uint64), numpy.zeros((), dtype))]


CASES = [
    OpCase(Scan, _scan(0), _scan_reference(0), _loop_samples, name="Scan-states"),
    OpCase(Scan, _scan(0, True), _scan_reference(0, True), _loop_samples,
           name="Scan-backwards"),
    OpCase(ScanOutput, _scan(1), _scan_reference(1), _loop_samples, name="ScanOutput-extra"),
    OpCase(IfElse, ifelse, _ifelse_reference, _ifelse_samples),
    OpCase(RandomStreamDraw, stream_draw, _draw_reference, _draw_samples,
           differentiable=False),
]
