"""The generated gathering of a replay's inputs (``dualgrad_jit.gather``): the common
case read straight, every other case handed back (None) to the interpreted gather."""

import numpy
import pytest

import dualgrad as dg
import dualgrad_jit as dj
from dualgrad.core.aval import ShapedArray
from dualgrad.core.variable import Parameter, Variable
from dualgrad_jit.gather import compile_gather
from dualgrad_jit.trace.tracer import StateRead

F32 = numpy.float32


def _aval(shape, dtype=F32):
    return ShapedArray(tuple(shape), numpy.dtype(dtype))


def test_every_kind_of_input_is_read_as_the_interpreted_gather_reads_it():
    x = numpy.ones((2, 3), F32)
    held = Variable(numpy.zeros(3, F32))
    param = Parameter(numpy.zeros(4, F32))
    param.grad = numpy.full(4, 2.0, F32)
    raw = numpy.arange(5, dtype=F32)
    argument = Variable(numpy.ones(6, F32))
    argument.grad = numpy.full(6, 3.0, F32)
    sources = [("arg", 0), ("arg", 1), ("state", StateRead(held, "array")),
               ("state", StateRead(param, "grad")), ("state", StateRead(raw, "raw")),
               ("state", StateRead(1, "argument_grad"))]
    avals = [_aval((2, 3)), _aval((6,)), _aval((3,)), _aval((4,)), _aval((5,)), _aval((6,))]
    gather = compile_gather(sources, avals)
    got = gather((x, argument))
    want = [x, argument.array, held.array, param.grad, raw, argument.grad]
    assert len(got) == len(want) and all(a is b for a, b in zip(got, want))
    assert "def gather(args)" in gather.source


@pytest.mark.parametrize("case", ["transposed", "strided", "dtype", "shape", "list", "no grad"])
def test_anything_uncommon_is_handed_back_to_the_interpreted_gather(case):
    param = Parameter(numpy.zeros(4, F32))
    param.grad = numpy.ones(4, F32)
    gather = compile_gather([("arg", 0), ("state", StateRead(param, "grad"))],
                            [_aval((3, 3)), _aval((4,))])
    x = numpy.ones((3, 3), F32)
    assert gather((x,)) is not None
    if case == "transposed":
        x = numpy.ones((3, 3), F32).T
    elif case == "strided":
        x = numpy.ones((3, 6), F32)[:, ::2]
    elif case == "dtype":
        x = numpy.ones((3, 3), numpy.float64)
    elif case == "shape":
        x = numpy.ones((3, 4), F32)
    elif case == "list":
        x = [[1.0] * 3] * 3
    else:
        param.cleargrad()
    assert gather((x,)) is None


@pytest.mark.parametrize("layout", ["C", "F", "strided"])
def test_replays_with_any_layout_agree_with_eager(layout):
    w = Parameter(numpy.linspace(-1, 1, 12, dtype=F32).reshape(4, 3))

    def f(x):
        return dg.functions.tanh(dg.functions.matmul(x, w)).sum()

    compiled = dj.jit(f)
    base = numpy.random.default_rng(0).standard_normal((5, 8)).astype(F32)
    compiled(numpy.ascontiguousarray(base[:, :4]))  # traced with a C-contiguous array
    x = {"C": numpy.ascontiguousarray(base[:, :4]), "F": numpy.asfortranarray(base[:, :4]),
         "strided": base[:, ::2]}[layout]
    numpy.testing.assert_allclose(compiled(x).array, f(x).array, rtol=1e-5)
    assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 1
