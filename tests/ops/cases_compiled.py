"""Harness cases for ``CompiledCall`` (dualgrad_jit/layer.py): a compiled graph as one op.

The graph is traced once per input signature from ordinary dualgrad code, so every
sample shape (broadcasting inside the graph, 0-d, size 0) gets its own compiled graph;
the harness then checks the one op against numpy, its lowering (the inlined graph),
its derived backward and the backward of that backward.
"""

import functools

import numpy

import dualgrad.functions as F
from dualgrad.core.aval import aval_of
from dualgrad_jit.layer import CompiledCall, call
from dualgrad_jit.vjp import CompiledGraph, trace_graph

from .harness import OpCase


def _elementwise_body(x, w):
    return F.tanh(x * w) + F.exp(x) * 0.5 - w


def _elementwise_reference(x, w):
    return numpy.tanh(x * w) + numpy.exp(x) * x.dtype.type(0.5) - w


def _reduction_body(x, w):
    h = F.matmul(x, w)
    return F.sum(h * h, axis=1), F.max(h, axis=1)  # two outputs; the case uses the first


def _reduction_reference(x, w):
    h = x @ w
    return (h * h).sum(axis=1)


@functools.cache
def _compiled(body, *avals):
    return CompiledGraph(trace_graph(body, *avals))


def _caller(body):
    def compiled(x, w):
        return call(_compiled(body, aval_of(x), aval_of(w)), (x, w))[0]

    compiled.__name__ = f"compiled_{body.__name__.strip('_')}"
    return compiled


def _pairs(shapes):
    def samples(rng, dtype):
        return [(rng.uniform(-1.5, 1.5, a).astype(dtype), rng.uniform(-1.5, 1.5, b).astype(dtype))
                for a, b in shapes]

    return samples


CASES = [
    OpCase(CompiledCall, _caller(_elementwise_body), _elementwise_reference,
           _pairs([((3, 4), (4,)), ((), ()), ((0, 3), (3,)), ((2, 1, 3), (1, 3))]),
           name="CompiledCall-elementwise"),
    OpCase(CompiledCall, _caller(_reduction_body), _reduction_reference,
           _pairs([((3, 4), (4, 2)), ((1, 2), (2, 5)), ((0, 3), (3, 2))]),
           name="CompiledCall-reduction"),
]
