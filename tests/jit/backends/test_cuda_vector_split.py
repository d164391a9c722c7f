"""The CUDA backend's vectorised elementwise loops and split reductions.

Which kernels vectorise or split (the rules of ``vector`` and ``split``), that NVRTC turns
the vector accesses into 16-byte instructions, and runs on the CPU stand-in
(``cuda_host``) against the numpy evaluator: ranges starting off the vector boundary,
sizes not a multiple of 4, empty and one-point ranges, buffers at unaligned addresses
(the scalar fallback), split reductions of about a million points against numpy, and
whole programs (``DeviceProgram``) whose scratch buffer is allocated once.
"""

import sys

import numpy
import pytest

import dualgrad.functions as F
import dualgrad_jit as dj
from dualgrad import cuda
from dualgrad_jit.backends.cuda import nvrtc, render, runtime, split, vector
from dualgrad_jit.backends.cuda import program as cuda_program
from dualgrad_jit.errors import CompileError
from dualgrad_jit.kernel import ir as K
from dualgrad_jit.kernel import memory

from ...ops.test_ops_gpu import StandInCupy
from . import cuda_host
from .test_cuda_render import (
    assert_same,
    buffers,
    edge_values,
    golden_kernels,
    needs_host_compiler,
    needs_nvrtc,
    offset,
    reduction,
    reference,
)

HOST_VECTOR_DTYPES = ("bool", "int8", "uint16", "int32", "int64", "float32", "float64")


# -- kernels -----------------------------------------------------------------------------
def elementwise(name, dtype, n):
    """``b0[i] = f(b1[i], b2[i]), b3[i] = b1[i] < b2[i]`` over ``n`` points of ``dtype``
    (two outputs, one of them bool), with inputs that exercise the dtype's edges."""
    a, b = K.read(1, K.index(0), dtype), K.read(2, K.index(0), dtype)
    value = {"bool": lambda: K.call("xor", a, b),
             "f": lambda: K.call("sub", K.call("mul", a, b), K.call("exp", a))}.get(
        "f" if dtype.startswith("float") else dtype, lambda: K.call("add", a, b))()
    kernel = K.Kernel(name, (K.Buffer(dtype, n), K.Buffer(dtype, n), K.Buffer(dtype, n),
                             K.Buffer("bool", n)), (n,),
                      (K.Store(0, K.index(0), value),
                       K.Store(3, K.index(0), K.call("lt", a, b))))
    values = edge_values(dtype)
    if dtype.startswith("float"):
        values = values[numpy.abs(values) < 100]  # exp stays finite and comparable
    rng = numpy.random.default_rng(n)
    return kernel, [rng.choice(values, n), rng.choice(values, n)]


def placed(values, aligned=True):
    """A copy of ``values`` at an address its vector loads accept (or one they refuse)."""
    values = numpy.asarray(values)
    base = numpy.zeros(values.size + 16, values.dtype)
    need = vector.alignment(values.dtype.name)
    for k in range(16):
        if ((base.ctypes.data + k * values.itemsize) % need == 0) == aligned:
            break
    out = base[k:k + values.size]
    out[...] = values
    return out


def run_range(module, kernel, inputs, start, end, aligned=True, grid=2, block=32):
    """The buffers after running ``[start, end)`` on the host, and the evaluator's."""
    got = [placed(a, aligned) for a in buffers(kernel, inputs)]
    module.run(kernel, got, start, end, block, grid=grid)
    want = reference(kernel, inputs)
    for position in kernel.outputs():  # the reference ran everything: keep [start, end)
        outside = numpy.r_[0:start, end:kernel.size]
        want[position][outside] = buffers(kernel, inputs)[position][outside]
    return got, want


# -- the rules -----------------------------------------------------------------------------
def test_kernels_at_the_flat_index_vectorise_and_others_do_not():
    kernels = {kernel.name: kernel for kernel, _ in golden_kernels()}
    assert vector.plan(kernels["k_vector_mixed"]).loads == (2, 3, 5)  # b4[0] read one by one
    assert vector.plan(kernels["k_vector_2d"]) is not None  # i0 * 7 + i1 over (5, 7)
    assert vector.plan(kernels["k_divmod"]) is not None
    assert vector.plan(kernels["k_uniform"]) is not None  # no read: vector stores only
    assert vector.plan(kernels["k_broadcast_add"]) is None  # b2 read along rows
    assert vector.plan(kernels["k_pad"]) is None  # shifted read
    assert vector.plan(kernels["k_row_mean"]) is None  # a reduction
    x = K.read(1, offset((4, 6), [1, 4]), "float32")  # a transpose
    transposed = K.Kernel("k_t", (K.Buffer("float32", 24),) * 2, (6, 4),
                          (K.Store(0, offset((6, 4)), x),))
    assert vector.plan(transposed) is None
    small = K.Kernel("k_small", (K.Buffer("float32", 3),) * 2, (3,),
                     (K.Store(0, K.index(0), K.read(1, K.index(0), "float32")),))
    assert vector.plan(small) is None
    gather = K.read(1, K.cast(K.read(2, K.index(0), "int32"), "int64"), "float32")
    gathered = K.Kernel("k_gather", (K.Buffer("float32", 8), K.Buffer("float32", 8),
                                     K.Buffer("int32", 8)), (8,), (K.Store(0, K.index(0), gather),))
    assert vector.plan(gathered) is None
    assert "dg_vec" not in render.render_module([transposed, small, gathered])


def test_a_vectorised_kernel_launches_a_quarter_of_the_threads():
    kernel, _ = elementwise("k_e", "float32", 10000)
    assert render.launches(kernel) == (("k_e", 10, render.BLOCK),)  # 4 points per thread
    assert render.launch_config(kernel, 3, 4) == (1, render.BLOCK)
    assert render.launch_config(kernel, 5, 5)[0] == 0


def test_memory_plans_place_buffers_at_vector_alignment():
    assert memory.ALIGN % vector.MAX_ALIGN == 0


def reduce_kernel(name, outer, inner, combine="add", dtype="float32", strides=None):
    """A reduction kernel (no data: its input is a broadcast zero of the right size)."""
    data = numpy.broadcast_to(numpy.zeros(1, dtype), (int(numpy.prod(outer + inner)),))
    return reduction(name, outer, inner, combine, dtype, data, strides)[0]


def test_few_outputs_over_many_points_split_and_others_do_not():
    def sum_kernel(outer, inner, dtype="float32"):
        return reduce_kernel("k_s", outer, inner, dtype=dtype)

    full = sum_kernel((), (1 << 20,))
    assert render.strategy(full) == "split" and split.parts(full) == 256
    assert render.launches(full) == (("k_s_partials", 256, render.BLOCK),
                                     ("k_s", 1, render.BLOCK))
    assert render.scratch(full) == ("float32", 256)
    huge = sum_kernel((), (1 << 26,))  # 64M points: slices of 64K, 1024 tasks
    assert split.parts(huge) == split.BLOCKS
    rows = sum_kernel((3,), (70000,))
    assert split.parts(rows) == 70000 // split.SLICE
    assert render.launches(rows, 1, 3)[0][1] == 2 * split.parts(rows)
    assert render.scratch(sum_kernel((), (1 << 16,), "float16")) == ("float32", 16)
    assert render.strategy(sum_kernel((4,), (split.MIN_POINTS - 1,))) == "block"
    assert render.strategy(sum_kernel((split.MAX_OUTPUTS + 1,), (1 << 16,))) == "block"
    assert render.strategy(sum_kernel((3,), (100,))) == "thread"
    column = reduce_kernel("k_c", (4096,), (1 << 16,), strides=[1, 4096])
    assert render.strategy(column) == "thread"
    assert render.scratch(column) is None


def test_a_kernel_named_like_a_first_pass_is_refused():
    full = reduce_kernel("k", (), (1 << 17,), "max")
    other = K.Kernel("k_partials", (K.Buffer("float32", 4),) * 2, (4,),
                     (K.Store(0, K.index(0), K.read(1, K.index(0), "float32")),))
    with pytest.raises(CompileError, match="'k_partials'"):
        render.render_module([full, other])


# -- NVRTC -----------------------------------------------------------------------------------
@needs_nvrtc
def test_vector_accesses_compile_to_16_byte_instructions():
    kernels = [kernel for kernel, _ in golden_kernels() if kernel.name.startswith("k_vector")]
    kernels.append(elementwise("k_e32", "float32", 4096)[0])
    ptx = nvrtc.compile_ptx(render.render_module(kernels), arch="compute_90")
    for instruction in ("ld.global.nc.v4.f32", "st.global.v4.f32",  # float32
                        "ld.global.nc.v2.f64", "st.global.v2.f64",  # float64: two per vector
                        "ld.global.nc.v4.u32",  # int32
                        "ld.global.nc.v4.u8", "st.global.v4.u8"):  # bool
        assert instruction in ptx, instruction
    assert "__local_depot" not in ptx  # the lanes stay in registers


@needs_nvrtc
def test_split_reductions_assemble_for_every_accumulator():
    kernels = [reduce_kernel(f"k_{combine}_{dtype}", (2,), (1 << 16,), combine, dtype)
               for combine in K.COMBINERS for dtype in ("float16", "bool", "int8", "float64")]
    assert {render.strategy(k) for k in kernels} == {"split"}
    cubin = nvrtc.compile_cubin(render.render_module(kernels), arch="sm_90")
    assert cubin[:4] == b"\x7fELF"


# -- runs on the host -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def host_module(tmp_path_factory):
    if not cuda_host.available():
        pytest.skip("no g++ here")
    cases = [elementwise(f"k_e_{dtype}_{n}", dtype, n)
             for dtype in HOST_VECTOR_DTYPES for n in (4, 5, 13, 1001)]
    cases += [case for case in golden_kernels() if case[0].name.startswith("k_vector")]
    cases += split_cases()
    directory = tmp_path_factory.mktemp("vector_split")
    return cuda_host.HostModule([k for k, _ in cases], directory), dict(
        (kernel.name, (kernel, inputs)) for kernel, inputs in cases)


def split_cases():
    rng = numpy.random.default_rng(5)
    n = 1 << 20
    floats = rng.normal(size=n).astype("float32")
    nan = floats.copy()
    nan[700000] = numpy.nan
    ints = rng.integers(-1000, 1000, 3 * 70000).astype("int32")
    return [reduction("k_sum_1m", (), (n,), "add", "float32", floats),
             reduction("k_max_1m", (), (n,), "max", "float32", floats),
             reduction("k_min_1m", (), (n,), "min", "float32", floats),
             reduction("k_max_nan", (), (n,), "max", "float32", nan),
             reduction("k_rows_sum_int", (3,), (70000,), "add", "int32", ints),
             reduction("k_rows_max_int", (3,), (70000,), "max", "int32", ints),
             reduction("k_any", (2,), (70000,), "max", "bool", rng.random(140000) < 1e-4),
             reduction("k_all", (2,), (70000,), "min", "bool", rng.random(140000) > 1e-5),
             reduction("k_rows_not_split", (2,), (60000,), "add", "float64",
                       rng.normal(size=120000))]


@needs_host_compiler
@pytest.mark.parametrize("dtype", HOST_VECTOR_DTYPES)
def test_vectorised_kernels_match_the_evaluator_over_any_range(dtype, host_module):
    module, cases = host_module
    for n in (4, 5, 13, 1001):
        kernel, inputs = cases[f"k_e_{dtype}_{n}"]
        assert vector.plan(kernel) is not None
        for start, end in [(0, n), (1, n), (3, n - 1), (2, 3), (n - 1, n), (2, 2), (n, n)]:
            for aligned in (True, False):
                got, want = run_range(module, kernel, inputs, start, end, aligned)
                for position in kernel.outputs():
                    assert_same(got[position], want[position], kernel)


@needs_host_compiler
def test_golden_vector_kernels_match_the_evaluator_with_a_grid_of_one_thread(host_module):
    module, cases = host_module
    for name in ("k_vector_mixed", "k_vector_2d"):
        kernel, inputs = cases[name]
        for start, end in [(0, kernel.size), (5, kernel.size - 2)]:
            got, want = run_range(module, kernel, inputs, start, end, grid=1, block=1)
            for position in kernel.outputs():
                assert_same(got[position], want[position], kernel)


@needs_host_compiler
def test_the_vector_and_the_scalar_loop_give_the_same_bits(host_module):
    module, cases = host_module
    for dtype in ("float32", "float64"):
        kernel, inputs = cases[f"k_e_{dtype}_1001"]
        vectors, _ = run_range(module, kernel, inputs, 0, 1001, aligned=True)
        scalars, _ = run_range(module, kernel, inputs, 0, 1001, aligned=False)
        assert vectors[0].tobytes() == scalars[0].tobytes()


@needs_host_compiler
def test_aligned_buffers_take_the_vector_loop_and_unaligned_ones_the_scalar_one(tmp_path):
    """Which loop ran shows only through ordering: with the output aliasing a broadcast
    input (which memory planning never does), the lanes of a vector all read the scalar
    before the vector is stored, while the scalar loop reads what it just wrote."""
    x, scalar_ = K.read(1, K.index(0), "float32"), K.read(2, K.const(0, "int64"), "float32")
    kernel = K.Kernel("k_probe", (K.Buffer("float32", 8), K.Buffer("float32", 8),
                                  K.Buffer("float32", 1)), (8,),
                      (K.Store(0, K.index(0), K.call("add", x, scalar_)),))
    module = cuda_host.HostModule([kernel], tmp_path)
    for aligned in (True, False):
        out = placed(numpy.zeros(8, "float32"), aligned)
        ones = placed(numpy.ones(8, "float32"))
        # b2 (read one by one) is not checked, out (stored as vectors) is
        module.launch(kernel, [out, ones, out[:1]], 0, 8, 1, 1)
        want = [1, 1, 1, 1, 2, 2, 2, 2] if aligned else [1, 2, 2, 2, 2, 2, 2, 2]
        numpy.testing.assert_array_equal(out, want)


@needs_host_compiler
def test_an_output_written_in_place_over_its_input_is_right(host_module):
    module, cases = host_module
    kernel, _ = cases["k_vector_2d"]
    x = placed(numpy.arange(35, dtype="float32"))
    want = numpy.arange(35, dtype="float32") * (numpy.arange(35) % 7)
    module.run(kernel, [x, x], 0, 35, 32, grid=2)
    numpy.testing.assert_array_equal(x, want)


@needs_host_compiler
def test_kernels_of_zero_and_one_point_run(tmp_path):
    kernels = [K.Kernel(f"k_{n}", (K.Buffer("float32", n),) * 2, (n,) if n != 1 else (),
                        (K.Store(0, K.index(0) if n != 1 else K.const(0, "int64"), K.call(
                            "neg", K.read(1, K.index(0) if n != 1 else K.const(0, "int64"),
                                          "float32"))),)) for n in (0, 1)]
    module = cuda_host.HostModule(kernels, tmp_path)
    out, x = numpy.zeros(1, "float32"), numpy.full(1, 2.5, "float32")
    module.run(kernels[1], [out, x], 0, 1, 32)
    assert out[0] == -2.5
    module.run(kernels[0], [out[:0], x[:0]], 0, 0, 32)  # nothing to launch


@needs_host_compiler
def test_split_reductions_of_a_million_points_match_numpy(host_module):
    module, cases = host_module
    for name, want in [("k_sum_1m", None), ("k_max_1m", numpy.max), ("k_min_1m", numpy.min),
                       ("k_max_nan", numpy.max)]:
        kernel, (data,) = cases[name]
        assert render.strategy(kernel) == "split"
        out = numpy.zeros(1, "float32")
        module.run(kernel, [out, data], 0, 1, 64)
        if want is None:  # within the rounding of any order of the sum
            exact = data.astype(numpy.float64).sum()
            assert abs(out[0] - exact) <= 1e-5 * numpy.abs(data).sum(), (out[0], exact)
        else:
            numpy.testing.assert_array_equal(out, want(data, keepdims=True))


@needs_host_compiler
def test_split_reductions_are_exact_per_output_and_per_slice(host_module):
    module, cases = host_module
    for name, fold in [("k_rows_sum_int", numpy.sum), ("k_rows_max_int", numpy.max),
                       ("k_any", numpy.max), ("k_all", numpy.min)]:
        kernel, (data,) = cases[name]
        assert render.strategy(kernel) == "split"
        rows = data.reshape(kernel.size, -1)
        out = numpy.zeros(kernel.size, data.dtype)
        scratch = module.run(kernel, [out, data], 0, kernel.size, 64)
        numpy.testing.assert_array_equal(out, fold(rows, axis=1).astype(data.dtype))
        P = split.parts(kernel)
        chunk = -(-rows.shape[1] // P)
        slices = [fold(row[p * chunk:(p + 1) * chunk]) for row in rows for p in range(P)]
        numpy.testing.assert_array_equal(scratch, numpy.array(slices).astype(scratch.dtype))


@needs_host_compiler
def test_split_results_are_the_same_bits_for_any_grid_and_range(host_module):
    module, cases = host_module
    kernel, (data,) = cases["k_sum_1m"]
    results = []
    for grid in (None, 1, 7):
        out = numpy.zeros(1, "float32")
        module.run(kernel, [out, data], 0, 1, 64, grid=grid)
        results.append(out.tobytes())
    assert len(set(results)) == 1
    kernel, (data,) = cases["k_rows_max_int"]
    out = numpy.full(3, 5, "int32")
    module.run(kernel, [out, data], 1, 3, 64, grid=3)  # outputs 1 and 2 only
    numpy.testing.assert_array_equal(out, [5, *data.reshape(3, -1)[1:].max(axis=1)])


@needs_host_compiler
def test_reductions_that_do_not_split_still_match(host_module):
    module, cases = host_module
    kernel, (data,) = cases["k_rows_not_split"]
    assert render.strategy(kernel) == "block"
    out = numpy.zeros(2)
    assert module.run(kernel, [out, data], 0, 2, 64) is None  # no scratch
    numpy.testing.assert_allclose(out, data.reshape(2, -1).sum(axis=1), rtol=1e-12)


# -- whole programs on the stand-in ---------------------------------------------------------------
class _EntryModule:
    """``function(entry)`` of a program's kernels compiled for the host, launched as the
    program launches them (grids and blocks checked against ``render.launches``)."""

    def __init__(self, program, directory):
        self.host = cuda_host.HostModule(program.kernels(), directory)
        self.entries = {name: (kernel, index) for kernel in program.kernels()
                        for index, (name, _, _) in enumerate(render.launches(kernel))}
        self.calls = []

    def function(self, name):
        kernel, index = self.entries[name]

        def launch(grid, block, args):
            start, end, *arrays = args
            assert (grid[0], block[0]) == render.launches(kernel)[index][1:]
            self.calls.append(name)
            block = 64 if render.strategy(kernel) in ("block", "split") else 32
            self.host.launch(kernel, [a._a for a in arrays], int(start), int(end),
                             min(grid[0], 300), block, entry=name)

        return launch


@pytest.fixture
def standin(monkeypatch, tmp_path):
    if not cuda_host.available():
        pytest.skip("no g++ here")
    device = StandInCupy()
    monkeypatch.setitem(sys.modules, "cupy", device)
    monkeypatch.setattr(cuda, "is_available", lambda: True)
    modules = []

    def load(program):
        directory = tmp_path / f"m{len(modules)}"
        directory.mkdir()
        modules.append(_EntryModule(program, directory))
        return cuda_program.DeviceProgram(program, modules[-1], device)

    monkeypatch.setattr(cuda_program, "load", lambda program: load(program))
    return device, modules


def _loaded(function, *arrays):
    compiled = dj.jit(function, backend="numpy")
    compiled(*arrays)
    return runtime.load_program(compiled.variants(*arrays)[0].graph)


def test_a_program_splits_its_full_reductions_with_one_scratch(standin):
    device, modules = standin
    x = numpy.random.default_rng(3).normal(size=(1 << 20) + 3).astype(numpy.float32)

    def f(x):
        return F.sum(x), F.max(x), x * 3.0 + 1.0, F.sum(F.reshape(x[:1 << 20], (1024, 1024)),
                                                      axis=1)

    run = _loaded(f, x)
    assert len(run.scratch) == 2  # the sum and the max; the row sums run "block"
    views = dict(run.scratch)
    first = [a.get() for a in run([device.asarray(x)])]
    second = [a.get() for a in run([device.asarray(x)])]
    assert all(a.tobytes() == b.tobytes() for a, b in zip(first, second))  # reproducible
    assert all(run.scratch[name] is view for name, view in views.items())  # allocated once
    total, top, affine, rows = first
    exact = x.astype(numpy.float64).sum()
    assert abs(total - exact) <= 1e-5 * numpy.abs(x).sum()
    assert top == x.max()
    numpy.testing.assert_array_equal(affine, x * numpy.float32(3.0) + numpy.float32(1.0))
    numpy.testing.assert_allclose(rows, x[:1 << 20].reshape(1024, 1024).sum(axis=1),
                                  rtol=1e-5, atol=1e-4)
    calls = modules[0].calls
    assert sum(name.endswith("_partials") for name in calls) == 4  # 2 kernels x 2 calls
    assert "split reductions" in run.describe()
