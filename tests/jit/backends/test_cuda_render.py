"""The CUDA renderer: golden sources, NVRTC compiles without a GPU, and runs against the
numpy evaluator (on the CPU through ``cuda_host``; on a GPU in the ``gpu`` tests).

Outputs are compared exactly for integers, bools and exact float ops (with the sign of
zeros), within a few ulp for math functions and float sums.  Regenerate the golden files
after an intended change with ``DUALGRAD_UPDATE_GOLDEN=1``.
"""

import functools
import itertools
import os
import pathlib
import re

import numpy
import pytest

from dualgrad.scalar_ir import OPS
from dualgrad_jit.backends.cuda import nvrtc, render, scalar
from dualgrad_jit.errors import CompileError
from dualgrad_jit.kernel import ir as K
from dualgrad_jit.kernel.evaluate import evaluate

from . import cuda_host

GOLDEN = pathlib.Path(__file__).parent / "golden"
DTYPES = ("bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
          "float16", "float32", "float64")
HOST_DTYPES = tuple(d for d in DTYPES if d != "float16")  # float16 helpers are PTX
INEXACT = ("exp", "log", "log1p", "expm1", "tanh", "sin", "cos", "erf", "pow")

needs_nvrtc = pytest.mark.skipif(not nvrtc.available(), reason=(
    "NVRTC is not installed: pip install cupy-cuda13x==14.2.0 nvidia-cuda-nvrtc==13.0.88"))
needs_host_compiler = pytest.mark.skipif(not cuda_host.available(), reason="no g++ here")


# -- kernels -----------------------------------------------------------------------------
def edge_values(dtype):
    """Values that exercise signs, zeros, wrap-around, NaN and infinities."""
    if dtype == "bool":
        return numpy.array([False, True])
    if dtype.startswith("float"):
        big = 60000.0 if dtype == "float16" else 1e30
        return numpy.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 7.25, 1e-3, -big, 100.0,
                            numpy.inf, -numpy.inf, numpy.nan], dtype)
    info = numpy.iinfo(dtype)
    values = [0, 1, 2, 7, 13, info.max, info.max - 1, 2 ** (info.bits - 2)]
    if info.min < 0:
        values += [-1, -7, info.min, info.min + 1]
    return numpy.array(values, dtype)


def offset(shape, strides=None):
    """C-order flat offset of the current point (``strides`` to read transposed)."""
    strides = strides or [int(numpy.prod(shape[d + 1:])) for d in range(len(shape))]
    result = K.const(0, "int64")
    for d, stride in enumerate(strides):
        result = K.call("add", result, K.call("mul", K.index(d), K.const(stride, "int64")))
    return result


def pointwise(name, out_dtype, build, inputs):
    """``b0[i] = build(b1[i], b2[i], ...)`` over 1-d ``inputs``."""
    n = len(inputs[0])
    reads = [K.read(k + 1, K.index(0), a.dtype.name) for k, a in enumerate(inputs)]
    buffers = (K.Buffer(out_dtype, n),) + tuple(K.Buffer(a.dtype.name, n) for a in inputs)
    return K.Kernel(name, buffers, (n,), (K.Store(0, K.index(0), build(*reads)),)), inputs


def supported(op, dtype):
    try:
        scalar.call(op, dtype, dtype, ["a", "b", "c"])
    except CompileError:
        return False
    return True


def _operands(op, dtype, arity):
    values = edge_values(dtype)
    if op in ("shl", "shr"):
        amounts = [0, 1, 3, scalar.bits(dtype) - 1, scalar.bits(dtype), scalar.bits(dtype) + 1]
        return [numpy.array(c, dtype) for c in zip(*itertools.product(values, amounts))]
    if op == "pow" and dtype != "bool" and not dtype.startswith("float"):
        exponents = [0, 1, 2, 3, 5, 7]  # numpy refuses negative integer powers
        return [numpy.array(c, dtype) for c in zip(*itertools.product(values, exponents))]
    if op == "where":
        columns = zip(*itertools.product([False, True], values, values))
        return [numpy.array(c, d) for c, d in zip(columns, ("bool", dtype, dtype))]
    return [numpy.array(c, dtype) for c in zip(*itertools.product(values, repeat=arity))]


def op_cases(dtypes=DTYPES):
    """One kernel per (op, operand dtype) that the renderer supports."""
    cases = []
    for op, arity in OPS.items():
        for dtype in dtypes:
            if supported(op, dtype):
                out = "bool" if op in K.COMPARISONS or op == "not" else dtype
                cases.append(pointwise(f"k_{op}_{dtype}", out, functools.partial(K.call, op),
                                       _operands(op, dtype, arity)))
    return cases


def _cast_values(source, target):
    values = edge_values(source)
    if source.startswith("float") and not target.startswith("float") and target != "bool":
        # in range of every integer target (out of range is undefined in numpy and C)
        low = 0.0 if target == "uint64" else -100.5
        values = numpy.array([0.0, -0.0, 1.0, 0.5, 2.75, 100.25, 127.0, low, low / 4], source)
    return values


def cast_cases(dtypes=DTYPES):
    cases = []
    for source, target in itertools.product(dtypes, dtypes):
        if source != target:
            cases.append(pointwise(f"k_cast_{source}_{target}", target,
                                   functools.partial(K.cast, dtype=target),
                                   [_cast_values(source, target)]))
    for source, target in itertools.permutations([d for d in dtypes if d != "bool"], 2):
        if scalar.bits(source) == scalar.bits(target):
            cases.append(pointwise(f"k_bitcast_{source}_{target}", target,
                                   functools.partial(K.bitcast, dtype=target),
                                   [edge_values(source)]))
    return cases


IDENTITY = {"add": 0, "mul": 1}


def _identity(combine, dtype):
    if combine in IDENTITY:
        return IDENTITY[combine]
    if dtype == "bool":
        return combine == "min"
    if dtype.startswith("float"):
        return float("-inf") if combine == "max" else float("inf")
    info = numpy.iinfo(dtype)
    return info.min if combine == "max" else info.max


def _reduce_input(combine, dtype, size, rng):
    if dtype == "bool":
        return rng.random(size) < (0.9 if combine == "mul" else 0.1)
    if dtype.startswith("float"):
        data = rng.uniform(0.9, 1.1, size) if combine == "mul" else rng.normal(size=size)
        if combine in ("max", "min"):
            data[5] = numpy.nan  # NaN wins in output point 0
        return data.astype(dtype)
    info = numpy.iinfo(dtype)
    return rng.integers(max(info.min, -50), min(info.max, 100), size).astype(dtype)


def reduction(name, outer, inner, combine, dtype, data, strides=None):
    """``b0[outer point] = fold(combine, b1[...])`` over the trailing ``inner`` dims."""
    value = K.read(1, offset(outer + inner, strides), dtype)
    buffers = (K.Buffer(dtype, int(numpy.prod(outer))), K.Buffer(dtype, data.size))
    kernel = K.Kernel(name, buffers, outer, (K.Store(0, offset(outer), K.acc(dtype)),),
                      K.Reduce(inner, value, combine, _identity(combine, dtype), dtype))
    return kernel, [data]


def reduce_cases(dtypes=DTYPES):
    rng = numpy.random.default_rng(0)
    shapes = {"thread": ((3,), (5,)), "block": ((3,), (300,)), "block2": ((2,), (4, 80)),
              "thread2": ((2, 3), (2, 3)), "full": ((), (1000,)), "empty": ((3,), (0,))}
    cases = []
    for combine, dtype, (label, (outer, inner)) in itertools.product(
            K.COMBINERS, dtypes, shapes.items()):
        data = _reduce_input(combine, dtype, max(int(numpy.prod(outer + inner)), 6), rng)
        data = data[:int(numpy.prod(outer + inner))]
        cases.append(reduction(f"k_{combine}_{dtype}_{label}", outer, inner, combine, dtype,
                               data))
    column = rng.normal(size=300 * 4096).astype("float32")  # sum over axis 0 of (300, 4096)
    cases.append(reduction("k_column_sum", (4096,), (300,), "add", "float32", column,
                           strides=[1, 4096]))
    return cases


def golden_kernels():
    """Hand-built kernels whose CUDA source is pinned in ``golden/``, with inputs."""
    rng = numpy.random.default_rng(1)
    relu = K.call("max", K.call("add", K.read(1, offset((4, 3)), "float32"),
                                K.read(2, K.index(1), "float32")),  # broadcast along rows
                  K.const(0.0, "float32"))
    broadcast = K.Kernel("k_broadcast_add", (K.Buffer("float32", 12), K.Buffer("float32", 12),
                                             K.Buffer("float32", 3)), (4, 3),
                         (K.Store(0, offset((4, 3)), relu),))
    mean = K.call("mul", K.acc("float32"), K.const(1e-3, "float32"))
    row_mean = K.Kernel("k_row_mean", (K.Buffer("float32", 64), K.Buffer("float32", 64000)),
                        (64,), (K.Store(0, K.index(0), mean),),
                        K.Reduce((1000,), K.read(1, offset((64, 1000)), "float32"), "add", 0.0,
                                 "float32"))
    column, _ = reduction("k_column_max", (5000,), (1000,), "max", "float64",
                          numpy.zeros(5000 * 1000), strides=[1, 5000])
    x, y = K.read(2, K.index(0), "int32"), K.read(3, K.index(0), "int32")
    divmod_ = K.Kernel("k_divmod", (K.Buffer("int32", 16), K.Buffer("float64", 16),
                                    K.Buffer("int32", 16), K.Buffer("int32", 16)), (16,),
                       (K.Store(0, K.index(0), K.call("floordiv", x, y)),
                        K.Store(1, K.index(0), K.cast(K.call("mod", x, y), "float64"))))
    counter = K.cast(K.index(0), "uint32")
    word = K.call("xor", K.call("mulhi", counter, K.const(0xD2511F53, "uint32")),
                  K.call("mul", counter, K.const(0x9E3779B9, "uint32")))
    uniform = K.call("mul", K.cast(K.call("shr", word, K.const(8, "uint32")), "float32"),
                     K.const(2.0 ** -24, "float32"))
    random = K.Kernel("k_uniform", (K.Buffer("float32", 1000),), (1000,),
                      (K.Store(0, K.index(0), uniform),))
    inside = K.call("and", K.call("ge", K.index(0), K.const(1, "int64")),
                    K.call("lt", K.index(0), K.const(5, "int64")))
    shifted = K.read(1, K.call("sub", K.index(0), K.const(1, "int64")), "float32")
    pad = K.Kernel("k_pad", (K.Buffer("float32", 6), K.Buffer("float32", 4)), (6,),
                   (K.Store(0, K.index(0), K.call("where", inside, shifted,
                                                  K.const(0.0, "float32"))),))
    return [(broadcast, [rng.normal(size=12), rng.normal(size=3)]),
            (row_mean, [rng.normal(size=64000)]),
            (column, [rng.normal(size=5000 * 1000)]),
            (divmod_, [rng.integers(-9, 9, 16), rng.integers(-3, 4, 16)]),
            (random, []), (pad, [rng.normal(size=4)])] + vector_and_split_kernels(rng)


def vector_and_split_kernels(rng):
    """Golden kernels of the vectorised loop and of split reductions, with inputs."""
    n = 1001  # not a multiple of the vector width
    x, mask = K.read(2, K.index(0), "float64"), K.read(3, K.index(0), "bool")
    scale = K.read(4, K.const(0, "int64"), "float64")  # a broadcast scalar: read one by one
    mixed = K.Kernel("k_vector_mixed", (K.Buffer("float64", n), K.Buffer("bool", n),
                                        K.Buffer("float64", n), K.Buffer("bool", n),
                                        K.Buffer("float64", 1), K.Buffer("int32", n)), (n,),
                     (K.Store(0, K.index(0), K.call("where", mask, K.call("mul", x, scale),
                                                    K.cast(K.read(5, K.index(0), "int32"),
                                                           "float64"))),
                      K.Store(1, K.index(0), K.call("gt", x, K.const(0.0, "float64")))))
    column = K.cast(K.index(1), "float32")  # a coordinate in the value: per lane
    grid = K.Kernel("k_vector_2d", (K.Buffer("float32", 35), K.Buffer("float32", 35)), (5, 7),
                    (K.Store(0, offset((5, 7)), K.call(
                        "mul", K.read(1, offset((5, 7)), "float32"), column)),))
    total, _ = reduction("k_split_sum", (), (1 << 20,), "add", "float32",
                         numpy.zeros(1 << 20, "float32"))
    rows, _ = reduction("k_split_rows_max", (3,), (70000,), "max", "int32",
                        numpy.zeros(3 * 70000, "int32"))
    return [(mixed, [rng.normal(size=n), rng.random(n) < 0.5, [1.5],
                     rng.integers(-99, 99, n)]),
            (grid, [rng.normal(size=35)]),
            (total, [rng.normal(size=1 << 20).astype("float32")]),
            (rows, [rng.integers(-2**31, 2**31 - 1, 3 * 70000)])]


# -- running and comparing ---------------------------------------------------------------
def buffers(kernel, inputs):
    """Device-shaped buffers: outputs (the first ones) sentinel-filled, then ``inputs``."""
    n_out = len(kernel.buffers) - len(inputs)
    arrays = [numpy.full(b.size, 3, b.dtype) for b in kernel.buffers[:n_out]]
    arrays += [numpy.asarray(a).astype(b.dtype).reshape(-1)
               for a, b in zip(inputs, kernel.buffers[n_out:])]
    return arrays


def reference(kernel, inputs):
    """What the numpy evaluator writes, or None where it has no answer (numpy refuses
    ``-`` of bools...): such kernels are only compiled."""
    if any(node.op == "mulhi" and node.dtype != "uint32"
           for store in kernel.stores for node in K.walk(store.value)):
        return None  # the reference's mulhi is the uint32 one
    arrays = buffers(kernel, inputs)
    try:
        evaluate(kernel, arrays)
    except (TypeError, ValueError):
        return None
    return arrays


def assert_same(got, want, kernel):
    message = f"kernel\n{kernel.text()}"
    if got.dtype.kind != "f":
        numpy.testing.assert_array_equal(got, want, err_msg=message)
        return
    inexact = any(node.op in INEXACT for s in kernel.stores for node in K.walk(s.value)) or \
        (kernel.reduce is not None and kernel.reduce.combine in ("add", "mul"))
    if inexact:
        rtol = atol = {"float16": 2e-3, "float32": 2e-6, "float64": 1e-13}[got.dtype.name]
        if kernel.reduce is not None:  # another order of a long sum
            rtol, atol = 10 * rtol, 10 * rtol * numpy.sqrt(numpy.prod(kernel.reduce.shape))
        numpy.testing.assert_allclose(got, want, rtol=rtol, atol=atol, err_msg=message)
        return
    nan = numpy.isnan(got) & numpy.isnan(want)
    same = (got == want) & (numpy.signbit(got) == numpy.signbit(want))
    bad = numpy.flatnonzero(~(same | nan))
    assert not bad.size, f"{message}\nat {bad[:5]}: got {got[bad[:5]]}, want {want[bad[:5]]}"


def compare_on_host(cases, directory):
    """Run ``cases`` through the host emulation in two launches that split the flat range,
    with more than one block per launch; returns the names of the kernels the reference
    has no answer for (not compared)."""
    module = cuda_host.HostModule([kernel for kernel, _ in cases], directory)
    refused = set()
    for kernel, inputs in cases:
        want = reference(kernel, inputs)
        if want is None:
            refused.add(kernel.name)
            continue
        got = buffers(kernel, inputs)
        block = 64 if render.strategy(kernel) in ("block", "split") else 32
        middle = kernel.size // 2
        module.run(kernel, got, 0, middle, block, grid=2)
        module.run(kernel, got, middle, kernel.size, block, grid=3)
        for position in kernel.outputs():
            assert_same(got[position], want[position], kernel)
    return refused


def all_cases(dtypes=DTYPES):
    return op_cases(dtypes) + cast_cases(dtypes) + reduce_cases(dtypes) + golden_kernels()


# -- rendering ---------------------------------------------------------------------------
@pytest.mark.parametrize("case", golden_kernels(), ids=lambda case: case[0].name)
def test_source_matches_golden_file(case):
    kernel, _ = case
    source = render.render_module([kernel])
    path = GOLDEN / f"cuda_{kernel.name}.cu"
    if os.environ.get("DUALGRAD_UPDATE_GOLDEN"):
        path.write_text(source)
    assert source == path.read_text(), f"{path.name} changed; if intended, regenerate it " \
        "with DUALGRAD_UPDATE_GOLDEN=1 and review the diff"


def test_loop_shape_follows_the_reduction_rule():
    strategies = {kernel.name: render.strategy(kernel) for kernel, _ in golden_kernels()}
    assert strategies["k_broadcast_add"] == "pointwise"
    assert strategies["k_row_mean"] == "block"  # 1000 contiguous points per output
    assert strategies["k_column_max"] == "thread"  # strided, 5000 outputs
    cases = {kernel.name: kernel for kernel, _ in reduce_cases(("float32",))}
    assert render.strategy(cases["k_add_float32_thread"]) == "thread"  # 5 points
    assert render.strategy(cases["k_add_float32_block2"]) == "block"
    assert render.strategy(cases["k_column_sum"]) == "thread"
    assert render.launch_config(cases["k_add_float32_block"]) == (3, render.BLOCK)
    assert render.launch_config(cases["k_column_sum"], 96, 4096) == (16, render.BLOCK)
    assert render.launch_config(cases["k_column_sum"], 7, 7)[0] == 0


def test_rendering_is_deterministic():
    kernels = [kernel for kernel, _ in golden_kernels()]
    again = [kernel for kernel, _ in golden_kernels()]
    assert render.render_module(kernels) == render.render_module(again)


def test_out_of_range_reads_are_clamped_and_provable_ones_are_not():
    sources = {kernel.name: render.render_kernel(kernel) for kernel, _ in golden_kernels()}
    assert re.search(r"b1\[min\(max\(\(long long\)\(v\d+\), 0LL\), 3LL\)\]",
                     sources["k_pad"])
    assert "min(" not in sources["k_broadcast_add"]


def test_a_kernel_listed_twice_is_defined_once():
    kernel = golden_kernels()[0][0]
    source = render.render_module([kernel, kernel])
    assert source.count(f"void {kernel.name}(") == 1


def test_two_kernels_with_one_name_are_refused():
    first, second = golden_kernels()[:2]
    renamed = K.Kernel(first[0].name, second[0].buffers, second[0].shape, second[0].stores,
                       second[0].reduce)
    with pytest.raises(CompileError, match="both named"):
        render.render_module([first[0], renamed])


def test_kernel_names_must_be_c_identifiers():
    kernel = golden_kernels()[0][0]
    bad = K.Kernel("k-1", kernel.buffers, kernel.shape, kernel.stores)
    with pytest.raises(CompileError, match="not a C identifier"):
        render.render_module([bad])


def test_an_op_on_a_dtype_without_rendering_is_a_compile_error():
    kernel, _ = pointwise("k_exp_int", "int32", functools.partial(K.call, "exp"),
                          [numpy.arange(3, dtype="int32")])
    with pytest.raises(CompileError, match="'exp' on int32"):
        render.render_module([kernel])


def test_every_op_and_dtype_has_a_kernel():
    names = {kernel.name for kernel, _ in op_cases()}
    assert {name.split("_")[1] for name in names} == set(OPS)
    assert {name.rsplit("_", 1)[1] for name in names} == set(DTYPES)


def test_rendering_does_not_import_cupy():
    import subprocess
    import sys

    code = ("import sys, dualgrad_jit.backends.cuda as c, dualgrad_jit.backends.cuda.runtime; "
            "c.render_module([]); assert 'cupy' not in sys.modules, 'cupy imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


# -- NVRTC (no GPU needed) ---------------------------------------------------------------
@needs_nvrtc
def test_every_kernel_compiles_to_ptx():
    kernels = [kernel for kernel, _ in all_cases()]
    ptx = nvrtc.compile_ptx(render.render_module(kernels), arch="compute_90")
    entries = {line.split()[2].rstrip("(") for line in ptx.splitlines()
               if line.startswith(".visible .entry")}
    assert entries == {name for kernel in kernels for name, _, _ in render.launches(kernel)}
    assert nvrtc.ptx_isa(ptx) <= nvrtc.DRIVER_PTX_ISA, (
        f"PTX ISA {nvrtc.ptx_isa(ptx)} is newer than drivers of CUDA 13.0 accept; "
        "pin nvidia-cuda-nvrtc==13.0.*")


@needs_nvrtc
def test_kernels_compile_for_compute_80():
    kernels = [kernel for kernel, _ in golden_kernels() + reduce_cases(("float16", "int8"))]
    ptx = nvrtc.compile_ptx(render.render_module(kernels), arch="compute_80")
    assert ".target sm_80" in ptx
    assert all(f".entry {kernel.name}(" in ptx for kernel in kernels)


@needs_nvrtc
def test_float16_and_block_reductions_assemble_to_cubin():
    """Building machine code runs the assembler over the inline PTX of float16."""
    cases = [case for case in op_cases(("float16",)) + cast_cases(("float16", "float64"))
             + reduce_cases(("float16", "bool", "uint8"))]
    cubin = nvrtc.compile_cubin(render.render_module([k for k, _ in cases]), arch="sm_90")
    assert cubin[:4] == b"\x7fELF"


@needs_nvrtc
def test_a_compile_failure_quotes_the_source_line():
    source = 'extern "C" __global__ void k(float* x) {\n  x[0] = undefined_name;\n}\n'
    with pytest.raises(CompileError, match="2: x\\[0\\] = undefined_name"):
        nvrtc.compile_ptx(source)


# -- runs on the CPU, through the host emulation -----------------------------------------
@needs_host_compiler
@pytest.mark.parametrize("group", ["ops", "casts", "reductions", "golden"])
def test_kernels_match_the_evaluator_on_the_host(group, tmp_path):
    build = {"ops": op_cases, "casts": cast_cases, "reductions": reduce_cases,
             "golden": lambda dtypes: golden_kernels()}[group]
    refused = compare_on_host(build(HOST_DTYPES), tmp_path)
    if group == "ops":  # numpy refuses - of bools; the reference mulhi is uint32's
        integers = [d for d in HOST_DTYPES if d[0] in "iu" and d != "uint32"]
        expected = {"k_neg_bool", "k_sign_bool", "k_sub_bool"} | {
            f"k_mulhi_{dtype}" for dtype in integers}
    assert refused == (expected if group == "ops" else set())


# -- runs on a GPU -----------------------------------------------------------------------
def _flush_denormals(x):
    """CuPy compiles with -ftz=true: float32 denormal results become signed zeros."""
    if x.dtype != numpy.float32:
        return x
    return numpy.where(numpy.abs(x) < numpy.finfo(x.dtype).tiny, numpy.copysign(0, x), x)


@pytest.mark.gpu
@pytest.mark.parametrize("group", ["ops", "casts", "reductions", "golden"])
def test_kernels_match_the_evaluator_on_the_gpu(group):
    import cupy

    from dualgrad_jit.backends.cuda.runtime import Module

    build = {"ops": op_cases, "casts": cast_cases, "reductions": reduce_cases,
             "golden": lambda dtypes: golden_kernels()}[group]
    cases = [(kernel, inputs, reference(kernel, inputs)) for kernel, inputs in build(DTYPES)]
    cases = [case for case in cases if case[2] is not None]
    module = Module([kernel for kernel, _, _ in cases])
    for kernel, inputs, want in cases:
        got = [cupy.asarray(array) for array in buffers(kernel, inputs)]
        middle = kernel.size // 3
        module.launch(kernel, got, 0, middle)
        module.launch(kernel, got, middle, kernel.size)
        for position in kernel.outputs():
            assert_same(_flush_denormals(cupy.asnumpy(got[position])),
                        _flush_denormals(want[position]), kernel)
