"""Choosing a backend, and what the LLVM runtime guarantees around the kernels."""

import numpy
import pytest

import dualgrad.functions as F
import dualgrad_jit as dj
from dualgrad_jit.backends import select
from dualgrad_jit.backends.llvm import blas, runtime
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
    monkeypatch.setattr(runtime, "PARALLEL_GRAIN", 64)
    monkeypatch.setattr(runtime, "threads", lambda: 3)
    split = dj.jit(lambda a: F.exp(a) * 0.5 + a, backend="llvm")
    split(x)
    (variant,) = split.variants(x)
    (call,) = [c for c in variant.runner().calls if isinstance(c, runtime._KernelCall)]
    starts = [start for start, _ in call.chunks]
    assert len(call.chunks) > 3 and all(start % runtime.CHUNK_ALIGN == 0 for start in starts)
    assert [end for _, end in call.chunks] == starts[1:] + [1000]
    numpy.testing.assert_array_equal(split(x).array, want)


def test_parts_no_worker_started_are_run_by_the_caller():
    """A busy pool (another process holding the cores) must not stall a split: the
    caller takes back every part no worker has picked up."""
    import threading

    pool = runtime._pool()
    release = threading.Event()
    blockers = [pool.submit(release.wait) for _ in range(pool._max_workers)]
    ran = []
    try:
        runtime.run_parts([(lambda k: ran.append((k, threading.get_ident())), (k,))
                           for k in range(5)])
    finally:
        release.set()
        for blocker in blockers:
            blocker.result()
    assert sorted(k for k, _ in ran) == list(range(5))
    assert {ident for _, ident in ran} == {threading.get_ident()}


def test_a_medium_gemm_split_by_rows_equals_one_product(monkeypatch):
    monkeypatch.setattr(runtime, "threads", lambda: 3)
    rng = numpy.random.default_rng(2)
    a = rng.standard_normal((100, 300)).astype(numpy.float32)
    b = rng.standard_normal((200, 300)).astype(numpy.float32)
    f = dj.jit(lambda a, b: F.matmul(a, b.T), backend="llvm")  # 12 MFLOP: split
    f(a, b)
    (variant,) = f.variants(a, b)
    (call,) = [c for c in variant.runner().calls if isinstance(c, runtime._GemmCall)]
    assert call.transb and call.rows == [(0, 34), (34, 68), (68, 100)]
    want = numpy.matmul(a, b.T)
    for _ in range(3):
        numpy.testing.assert_allclose(f(a, b).array, want, rtol=1e-5, atol=1e-4)


def test_small_gemms_run_on_one_blas_thread_and_the_setting_is_restored():
    if blas.get_threads() is None:
        pytest.skip("numpy's OpenBLAS is not reachable here")
    before = blas.get_threads()
    seen = []
    f = dj.jit(lambda a, b: F.matmul(a, b) * 2.0, backend="llvm")
    a, b = numpy.ones((4, 5), numpy.float32), numpy.ones((5, 3), numpy.float32)
    f(a, b)
    (variant,) = f.variants(a, b)
    program = variant.runner()
    original = runtime._GemmCall.__call__

    def spying(self, env, ops=None, addresses=None):
        result = original(self, env, ops)
        seen.append(blas.get_threads())
        return result

    runtime._GemmCall.__call__ = spying
    try:
        numpy.testing.assert_array_equal(f(a, b).array, numpy.full((4, 3), 10.0, numpy.float32))
    finally:
        runtime._GemmCall.__call__ = original
    assert program.gemms and seen == [1]
    assert blas.get_threads() == before


def test_a_big_gemm_after_a_small_one_gets_the_process_threads_back():
    if blas.get_threads() is None:
        pytest.skip("numpy's OpenBLAS is not reachable here")
    before = blas.get_threads()
    seen = []
    original = runtime._GemmCall.__call__

    def spying(self, env, ops=None, addresses=None):
        result = original(self, env, ops)
        seen.append(blas.get_threads())
        return result

    f = dj.jit(lambda a, b, c: F.matmul(F.matmul(a, b), c), backend="llvm")
    a, b = numpy.ones((2, 3), numpy.float32), numpy.ones((3, 400), numpy.float32)
    c = numpy.ones((400, 40000), numpy.float32)  # 2 * 2 * 400 * 40000 = 64 MFLOP: big
    f(a, b, c)
    runtime._GemmCall.__call__ = spying
    try:
        f(a, b, c)
    finally:
        runtime._GemmCall.__call__ = original
    assert seen == [1, before]
    assert blas.get_threads() == before
