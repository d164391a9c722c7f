"""Generated matrix products (``backends/llvm/gemm.py``) and the compiled thread pool
(``backends/llvm/parallel.py``): results against float64 numpy, every layout, edge
tiles and blocks, any split between threads, and products inside compiled graphs."""

import ctypes
import threading

import numpy
import pytest

pytest.importorskip("llvmlite")

import dualgrad.functions as F  # noqa: E402
import dualgrad_jit as dj  # noqa: E402
from dualgrad_jit.backends.llvm import compile_ir, compile_kernels, host_target, runtime  # noqa: E402
from dualgrad_jit.backends.llvm.gemm import TABLE, GemmSpec, render_gemm  # noqa: E402
from dualgrad_jit.backends.llvm.parallel import Pool  # noqa: E402
from dualgrad_jit.kernel import ir as K  # noqa: E402

LAYOUTS = [(False, False), (True, False), (False, True)]  # nn, tn, nt
# (m, n, k): single elements, sizes below one tile or vector, edges in every dimension,
# contractions split into several blocks (k above the block length), W3's products
SHAPES = [(1, 1, 1), (2, 3, 5), (7, 17, 33), (6, 64, 16), (13, 100, 128), (5, 33, 1000),
          (64, 65, 17), (128, 10, 100), (10, 100, 128), (37, 70, 2100)]
# vector widths and register files of AVX-512, AVX2 and SSE (all run on any x86-64 host:
# LLVM splits wide vectors into what the CPU has)
UNITS = [(64, 32), (32, 16), (16, 16)]


def operands(spec, seed=0):
    rng = numpy.random.default_rng(seed)
    a = rng.standard_normal((spec.k, spec.m) if spec.transa else (spec.m, spec.k))
    b = rng.standard_normal((spec.n, spec.k) if spec.transb else (spec.k, spec.n))
    return a.astype(spec.dtype), b.astype(spec.dtype)


def compiled_products(specs):
    """``{name: function}`` for ``specs``, compiled without any disk cache."""
    from llvmlite import ir

    module = ir.Module("products")
    unique = {spec.name: spec for spec in specs}
    for spec in unique.values():
        render_gemm(module, spec)
    return compile_ir(str(module), list(unique), {})


def product(compiled, spec, a, b, ranges=None):
    """C from the generated code, started full of NaN (as reused memory may be)."""
    c = numpy.full((spec.m, spec.n), numpy.nan, spec.dtype)
    table = (ctypes.c_void_p * len(TABLE))(a.ctypes.data, b.ctypes.data, c.ctypes.data,
                                           *spec.arguments())
    for start, end in ranges or [(0, spec.units)]:
        compiled[spec.name](start, end, ctypes.addressof(table))
    return c


def expected(spec, a, b):
    a, b = a.astype(numpy.float64), b.astype(numpy.float64)
    return (a.T if spec.transa else a) @ (b.T if spec.transb else b)


def tolerance(spec):
    # a float32 dot of length k: errors grow like sqrt(k) * eps relative to the terms
    eps = numpy.finfo(spec.dtype).eps
    return 8 * eps * numpy.sqrt(spec.k)


@pytest.mark.parametrize("vector_bytes,registers", UNITS)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_every_layout_and_edge_matches_float64_numpy(dtype, vector_bytes, registers):
    specs = [GemmSpec(dtype, m, n, k, ta, tb, vector_bytes, registers)
             for m, n, k in SHAPES for ta, tb in LAYOUTS]
    compiled = compiled_products(specs)
    for spec in specs:
        a, b = operands(spec)
        got = product(compiled, spec, a, b)
        want = expected(spec, a, b)
        scale = numpy.sqrt(spec.k) + numpy.abs(want)
        error = numpy.max(numpy.abs(got - want) / scale)
        assert error < tolerance(spec), (spec.text(), error)


def test_any_split_into_row_panels_gives_the_same_bits():
    specs = [GemmSpec("float32", 100, 784, 128, True, False),
             GemmSpec("float32", 128, 100, 784, False, True),
             GemmSpec("float64", 37, 70, 2100, False, False)]
    compiled = compiled_products(specs)
    for spec in specs:
        a, b = operands(spec, seed=1)
        whole = product(compiled, spec, a, b)
        for parts in (2, 3, spec.units):
            cuts = numpy.linspace(0, spec.units, parts + 1).astype(int)
            ranges = list(zip(cuts[:-1], cuts[1:]))[::-1]  # in any order
            numpy.testing.assert_array_equal(product(compiled, spec, a, b, ranges), whole)


def test_a_contraction_block_longer_than_the_packed_panel_is_clamped_to_it():
    # the packed panel of B is a fixed block on the stack: a table asking for longer
    # blocks of the contraction must be cut to the panel, never write past it
    spec = GemmSpec("float32", 37, 70, 2100, False, False)
    compiled = compiled_products([spec])
    a, b = operands(spec, seed=2)
    kc, mb = spec.blocks()
    assert kc <= spec.panel_rows
    c = numpy.full((spec.m, spec.n), numpy.nan, spec.dtype)
    table = (ctypes.c_void_p * len(TABLE))(a.ctypes.data, b.ctypes.data, c.ctypes.data,
                                           spec.m, spec.n, spec.k, 8 * spec.panel_rows, mb)
    compiled[spec.name](0, spec.units, ctypes.addressof(table))
    numpy.testing.assert_array_equal(c, product(compiled, spec, a, b))


def test_nan_and_inf_propagate_as_in_numpy():
    spec = GemmSpec.for_host("float32", 9, 40, 50, False, True, host_target().features)
    compiled = compiled_products([spec])
    a, b = operands(spec, seed=2)
    a[3, 7], b[5, 11] = numpy.nan, numpy.inf
    got = product(compiled, spec, a, b)
    want = expected(spec, a, b)
    numpy.testing.assert_array_equal(numpy.isnan(got), numpy.isnan(want))
    numpy.testing.assert_array_equal(numpy.isinf(got), numpy.isinf(want))


def test_both_operands_transposed_is_left_to_numpy():
    assert not GemmSpec("float32", 4, 4, 4, True, True).supported
    assert not GemmSpec("int32", 4, 4, 4, False, False).supported
    assert not GemmSpec("float32", 4, 0, 4, False, False).supported


# -- inside compiled graphs ------------------------------------------------------------


@pytest.mark.parametrize("transa,transb", LAYOUTS + [(True, True)])
def test_products_in_compiled_graphs_match_the_interpreter(transa, transb):
    rng = numpy.random.default_rng(4)
    a = rng.standard_normal((30, 20) if transa else (20, 30)).astype(numpy.float32)
    b = rng.standard_normal((40, 30) if transb else (30, 40)).astype(numpy.float32)

    def f(a, b):
        y = F.matmul(a, b, transa=transa, transb=transb)
        return F.tanh(y) + 1.0, y

    compiled = dj.jit(f, backend="llvm")
    reference = dj.jit(f, backend="numpy")
    for _ in range(3):  # traced, then compiled twice: results are fresh arrays each time
        got = [v.array for v in compiled(a, b)]
        want = [v.array for v in reference(a, b)]
        for g, w in zip(got, want):
            numpy.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-5)
    first = compiled(a, b)[1].array
    second = compiled(a, b)[1].array
    assert first is not second and not numpy.shares_memory(first, second)


def test_w3_products_run_as_generated_code_and_split_between_threads(monkeypatch):
    monkeypatch.setattr(runtime, "threads", lambda: 2)
    rng = numpy.random.default_rng(5)
    x = rng.standard_normal((128, 784)).astype(numpy.float32)
    w = rng.standard_normal((100, 784)).astype(numpy.float32)
    f = dj.jit(lambda x, w: F.linear(x, w), backend="llvm")
    f(x, w)
    (variant,) = f.variants(x, w)
    calls = [c for c in variant.runner().calls if isinstance(c, runtime._KernelCall)]
    assert [len(c.chunks) for c in calls] == [8]  # one product, 4 parts per thread
    assert not any(isinstance(c, runtime._GemmCall) for c in variant.runner().calls)
    numpy.testing.assert_allclose(f(x, w).array, x @ w.T, rtol=1e-4, atol=1e-4)


def test_an_operand_made_by_a_host_step_stays_with_numpy():
    from dualgrad_jit.backends.llvm.gemm import program_gemms
    from dualgrad_jit.kernel.fusion import HostStep, Program

    class Eq:
        def __init__(self, inputs, out):
            self.inputs, self.out = inputs, out

    class V:
        def __init__(self, id, shape):
            self.id, self.shape, self.dtype = id, shape, numpy.dtype("float32")

    a, b, c, d = V(1, (4, 4)), V(2, (4, 4)), V(3, (4, 4)), V(4, (4, 4))
    params = (("transa", False), ("transb", False))
    steps = (HostStep(Eq([a], b)), HostStep(Eq([b, a], c), "gemm", params),
             HostStep(Eq([a, a], d), "gemm", params))
    chosen = program_gemms(Program(None, steps), host_target().features)
    assert sorted(chosen) == [2]


def test_a_program_with_a_product_too_big_for_generated_code_keeps_all_in_blas():
    from dualgrad_jit.backends.llvm.gemm import LARGEST

    rng = numpy.random.default_rng(8)
    side = int(round((LARGEST / 2) ** (1 / 3))) + 8  # just above the limit
    x = rng.standard_normal((side, side)).astype(numpy.float32)
    small = rng.standard_normal((side, 4)).astype(numpy.float32)
    f = dj.jit(lambda x, s: F.matmul(F.matmul(x, x), s), backend="llvm")
    f(x, small)
    (variant,) = f.variants(x, small)
    calls = variant.runner().calls
    assert sum(isinstance(c, runtime._GemmCall) for c in calls) == 2
    numpy.testing.assert_allclose(f(x, small).array, (x @ x) @ small, rtol=1e-3, atol=1e-2)


# -- the thread pool ----------------------------------------------------------------------


def _counting_kernel():
    """A compiled kernel adding 1 to ``buffer[start:end]``."""
    x = K.read(0, K.index(0), "int64")
    kernel = K.Kernel("bump", (K.Buffer("int64", 4096),), (4096,),
                      (K.Store(0, K.index(0), K.call("add", x, K.const(1, "int64"))),))
    return compile_kernels([kernel], cache=None)["bump"]


def test_the_pool_runs_every_chunk_exactly_once():
    pool = Pool(1)
    try:
        kernel = _counting_kernel()
        counts = numpy.zeros(4096, numpy.int64)
        table = (ctypes.c_void_p * 1)(counts.ctypes.data)
        edges = numpy.sort(numpy.random.default_rng(6).choice(4095, 99, replace=False) + 1)
        bounds = [0, *edges, 4096]
        chunks = (ctypes.c_int64 * 200)(*(v for pair in zip(bounds[:-1], bounds[1:])
                                          for v in pair))
        address = ctypes.cast(kernel, ctypes.c_void_p).value
        for _ in range(300):
            pool.run(address, ctypes.addressof(table), ctypes.addressof(chunks), 100)
        assert (counts == 300).all()
    finally:
        pool.stop()


def test_chunks_no_worker_takes_are_run_by_the_caller():
    """A worker that is gone (or busy in another process) must not stall a split."""
    pool = Pool(1)
    pool.stop()
    ran = []

    @ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)
    def record(start, end, table):
        ran.append((start, end, threading.get_ident()))

    chunks = (ctypes.c_int64 * 10)(0, 1, 1, 2, 2, 3, 3, 4, 4, 5)
    pool.run(ctypes.cast(record, ctypes.c_void_p).value, 0, ctypes.addressof(chunks), 5)
    assert sorted((s, e) for s, e, _ in ran) == [(k, k + 1) for k in range(5)]
    assert {ident for _, _, ident in ran} == {threading.get_ident()}


# -- library code: built once per machine ------------------------------------------------


def test_library_build_fills_its_directory_once_and_loads_from_it(tmp_path, monkeypatch):
    from dualgrad_jit.backends.llvm import library
    from dualgrad_jit.backends.llvm.gemm import every_kernel, gemm_function

    monkeypatch.setenv("DUALGRAD_LIBRARY_DIR", str(tmp_path / "library"))
    monkeypatch.setenv("DUALGRAD_CACHE_DIR", str(tmp_path / "user"))
    monkeypatch.setattr(library, "_LOADED", {})
    written = library.build()
    assert written == len(every_kernel(host_target().features)) + 2  # + sequence, pool
    assert library.build() == 0  # everything is there already
    spec = GemmSpec.for_host("float32", 5, 7, 9, False, True, host_target().features)
    function = gemm_function(spec)  # from the library directory: nothing compiled
    assert not (tmp_path / "user").exists()
    a, b = operands(spec)
    numpy.testing.assert_allclose(product({spec.name: function}, spec, a, b),
                                  expected(spec, a, b), rtol=1e-5, atol=1e-5)
    # a damaged library object is dropped, compiled again and kept in the user's cache
    for path in (tmp_path / "library").iterdir():
        path.write_bytes(path.read_bytes()[:100])
    monkeypatch.setattr(library, "_LOADED", {})
    function = gemm_function(spec)
    numpy.testing.assert_allclose(product({spec.name: function}, spec, a, b),
                                  expected(spec, a, b), rtol=1e-5, atol=1e-5)
    assert len(list((tmp_path / "library").iterdir())) == written - 1  # the one read
    assert len(list((tmp_path / "user" / "llvm").iterdir())) == 1


def test_a_forked_child_runs_split_kernels_without_the_parents_threads():
    """A child has none of its parent's worker threads: a program loaded before the fork
    still completes every chunk (its caller runs them)."""
    import os

    if not hasattr(os, "fork"):
        pytest.skip("no fork on this platform")
    pool = Pool(1)
    try:
        kernel = _counting_kernel()
        counts = numpy.zeros(4096, numpy.int64)
        table = (ctypes.c_void_p * 1)(counts.ctypes.data)
        chunks = (ctypes.c_int64 * 8)(0, 1000, 1000, 2000, 2000, 3000, 3000, 4096)
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # the child: three split runs, then report and leave at once
            try:
                for _ in range(3):
                    pool.run(ctypes.cast(kernel, ctypes.c_void_p).value,
                             ctypes.addressof(table), ctypes.addressof(chunks), 4)
                os.write(write, b"ok" if (counts == 3).all() else b"bad")
            finally:
                os._exit(0)
        os.close(write)
        answer = os.read(read, 16)
        os.waitpid(child, 0)
        assert answer == b"ok"
    finally:
        pool.stop()


def test_two_threads_running_split_kernels_at_once_both_get_every_chunk():
    """One job at a time holds the pool; a second caller meanwhile runs its chunks
    itself. Both results stay exact."""
    pool = Pool(1)
    try:
        kernel = _counting_kernel()
        address = ctypes.cast(kernel, ctypes.c_void_p).value
        chunks = (ctypes.c_int64 * 8)(0, 1000, 1000, 2000, 2000, 3000, 3000, 4096)
        results, errors = [], []

        def bump():
            try:
                counts = numpy.zeros(4096, numpy.int64)
                table = (ctypes.c_void_p * 1)(counts.ctypes.data)
                for _ in range(200):
                    pool.run(address, ctypes.addressof(table), ctypes.addressof(chunks), 4)
                results.append(counts)
            except Exception as error:  # noqa: BLE001 (reported below)
                errors.append(error)

        threads = [threading.Thread(target=bump) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors and len(results) == 2
        assert all((counts == 200).all() for counts in results)
    finally:
        pool.stop()
