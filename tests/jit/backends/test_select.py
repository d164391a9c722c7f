"""Choosing a backend, and what the LLVM runtime guarantees around the kernels."""

import numpy
import pytest

import dualgrad.functions as F
import dualgrad_jit as dj
from dualgrad_jit.backends import select
from dualgrad_jit.backends.llvm import arrays, runtime
from dualgrad_jit.passes.composites import expand_composites


def test_auto_picks_llvm_for_numpy_arrays_and_cuda_for_cupy_ones():
    assert select.resolve("auto", [numpy.zeros(2)]) == "llvm"

    class FakeCupyArray:
        __module__ = "cupy._core.core"

    assert select.resolve("auto", [FakeCupyArray()]) == "cuda"
    assert select.resolve("numpy", [numpy.zeros(2)]) == "numpy"


def test_unknown_backends_are_refused_with_the_choices():
    with pytest.raises(dj.CompileError, match="auto, numpy, llvm, cuda"):
        select.check("tpu")


def test_cuda_without_a_gpu_is_a_clear_error(monkeypatch):
    from dualgrad import cuda

    if cuda.available:
        pytest.skip("this machine has a GPU")
    with pytest.raises(dj.CompileError, match="no.*GPU|GPU"):
        dj.jit(lambda x: x * 2.0, backend="cuda")(numpy.ones(3))


def test_the_resolved_backend_is_recorded_on_the_variant():
    f = dj.jit(lambda x: F.tanh(x) * 2.0)
    x = numpy.linspace(-1, 1, 5)
    f(x)
    (variant,) = f.variants(x)
    assert variant.backend == "llvm"
    numpy.testing.assert_allclose(f(x).array, numpy.tanh(x) * 2.0, rtol=1e-15)


def _loss(x, t):
    return F.softmax_cross_entropy(x, t)


def test_composites_expand_into_primitives_that_compute_the_same():
    x = numpy.random.default_rng(0).standard_normal((6, 4))
    t = numpy.array([0, 1, 2, 3, 0, 1], numpy.int32)
    compiled = dj.jit(_loss, backend="numpy")
    compiled(x, t)
    (variant,) = compiled.variants(x, t)
    expanded = expand_composites(variant.graph)
    names = {eq.op.name for eq in expanded.equations}
    assert "SoftmaxCrossEntropy" not in names and "Sum" in names
    (want,) = dj.interpret(variant.graph, [x, t])[:1]
    (got,) = dj.interpret(expanded, [x, t])[:1]
    numpy.testing.assert_allclose(got, want, rtol=1e-14)


def test_a_kernel_split_over_threads_computes_what_one_call_does(monkeypatch):
    x = numpy.random.default_rng(1).standard_normal(1000).astype(numpy.float32)
    whole = dj.jit(lambda a: F.exp(a) * 0.5 + a, backend="llvm")
    whole(x)  # (the first call traces: eager values)
    want = whole(x).array
    monkeypatch.setattr(runtime, "PARALLEL_MIN", 256)
    monkeypatch.setattr(runtime, "CHUNK_MIN", 64)
    monkeypatch.setattr(runtime, "threads", lambda: 3)
    split = dj.jit(lambda a: F.exp(a) * 0.5 + a, backend="llvm")
    split(x)
    (variant,) = split.variants(x)
    (call,) = [c for c in variant.runner().calls if isinstance(c, runtime._KernelCall)]
    starts = [start for start, _ in call.chunks]
    assert len(call.chunks) > 3 and all(start % runtime.CHUNK_ALIGN == 0 for start in starts)
    assert [end for _, end in call.chunks] == starts[1:] + [1000]
    numpy.testing.assert_array_equal(split(x).array, want)


def test_consecutive_kernels_run_as_one_sequence_with_the_same_results(monkeypatch):
    from dualgrad_jit.backends.llvm.sequence import SequenceCall

    def step(x, w):  # a product, then a softmax-like chain of small kernels
        z = F.matmul(x, w)
        return F.sum(F.exp(z - F.max(z, axis=1, keepdims=True)), axis=1) * 0.5 + F.tanh(z[:, 0])

    rng = numpy.random.default_rng(3)
    x = rng.standard_normal((16, 8)).astype(numpy.float32)
    w = rng.standard_normal((8, 5)).astype(numpy.float32)
    grouped = dj.jit(step, backend="llvm")
    grouped(x, w)
    (variant,) = grouped.variants(x, w)
    calls = variant.runner().calls
    sequences = [c for c in calls if isinstance(c, SequenceCall)]
    assert sequences and all(c.count > 1 for c in sequences)
    monkeypatch.setattr(runtime, "_sequenced", lambda calls: calls)
    separate = dj.jit(step, backend="llvm")
    separate(x, w)
    (variant,) = separate.variants(x, w)
    assert not any(isinstance(c, SequenceCall) for c in variant.runner().calls)
    for _ in range(2):  # new inputs are patched into the tables on every call
        x = rng.standard_normal((16, 8)).astype(numpy.float32)
        numpy.testing.assert_array_equal(grouped(x, w).array, separate(x, w).array)


def test_overlapping_inputs_are_found_exactly():
    x, y = numpy.zeros(10, numpy.float32), numpy.zeros(10, numpy.float32)
    assert arrays.overlapping([x, y]) == set()  # separate memory: no address read
    head, tail = x[:5], x[5:]
    assert arrays.overlapping([head, tail, y]) == set()  # one buffer, disjoint parts
    left, right = x[:6], x[4:]
    assert arrays.overlapping([left, y, right]) == {id(left), id(right)}
    assert arrays.overlapping([y, y]) == {id(y)}  # the same array twice
    foreign = numpy.frombuffer(bytearray(40), numpy.float32)  # memory numpy does not own
    assert arrays.overlapping([foreign, x]) == set()


def test_remembered_owners_never_hide_an_overlap():
    x, y = numpy.zeros(10, numpy.float32), numpy.zeros(10, numpy.float32)
    roots = arrays.InputRoots()
    for _ in range(3):  # the same arrays again: remembered
        assert roots.overlapping([x, y]) == set()
    view = x[2:]  # a new array at position 1 that shares x's memory
    assert roots.overlapping([x, view]) == {id(x), id(view)}
    assert roots.overlapping([x, y]) == set()
    del y  # a position whose array is gone is looked at again, not trusted
    z = x[:3]
    assert roots.overlapping([x, z]) == {id(x), id(z)}
    assert roots.overlapping([x, z, x]) == {id(x), id(z)}  # more inputs than remembered
