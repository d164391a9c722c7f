"""The LLVM backend against the numpy kernel evaluator: every op and dtype, loops, reductions.

Each test compiles all its kernels into one module (one LLVM run) and compares every
output buffer with ``dualgrad_jit.kernel.evaluate``: exactly for integers, bools and
exact float ops (including the sign of zeros), within a couple of ulp for libm functions.
"""

import itertools

import numpy
import pytest

pytest.importorskip("llvmlite")

from dualgrad_jit.backends.llvm import FastMath, buffer_table, compile_ir, compile_kernels  # noqa: E402
from dualgrad_jit.errors import CompileError  # noqa: E402
from dualgrad_jit.kernel import ir as K  # noqa: E402
from dualgrad_jit.kernel.evaluate import evaluate  # noqa: E402

FLOATS = ("float32", "float64")
SIGNED = ("int8", "int16", "int32", "int64")
UNSIGNED = ("uint8", "uint32", "uint64")
INTS = SIGNED + UNSIGNED
ALL = ("bool",) + INTS + FLOATS
MATH = ("exp", "log", "log1p", "expm1", "sqrt", "tanh", "sin", "cos", "erf")


def edge_values(dtype):
    """Values that exercise signs, zeros, wrap-around, NaN and infinities."""
    if dtype == "bool":
        return numpy.array([False, True])
    if dtype in FLOATS:
        return numpy.array([0.0, -0.0, 1.0, -1.0, 0.5, -2.5, 3.0, 7.25, 1e-30, -1e30, 100.0,
                            numpy.inf, -numpy.inf, numpy.nan], dtype)
    info = numpy.iinfo(dtype)
    values = [0, 1, 2, 7, 13, info.max, info.max - 1, 2 ** (info.bits - 2)]
    if info.min < 0:
        values += [-1, -7, info.min, info.min + 1]
    return numpy.array(values, dtype)


def flat_offset(shape, strides=None):
    """C-order offset of the current point; a stride of 0 broadcasts that dimension."""
    if strides is None:
        strides = [int(numpy.prod(shape[d + 1:])) for d in range(len(shape))]
    offset = K.const(0, "int64")
    for d, stride in enumerate(strides):
        if stride:
            offset = K.call("add", offset, K.call("mul", K.index(d), K.const(stride, "int64")))
    return offset


def run_and_compare(cases, exact=True, rtol=None, fastmath=None):
    """``cases``: (kernel, input arrays).  Outputs start as sentinel-filled copies."""
    kernels = [kernel for kernel, _ in cases]
    compiled = compile_kernels(kernels, fastmath=fastmath or FastMath(), cache=None)
    for kernel, inputs in cases:
        got, want = _buffers(kernel, inputs), _buffers(kernel, inputs)
        compiled.run(kernel.name, got)
        evaluate(kernel, want)
        for position in kernel.outputs():
            _assert_same(got[position], want[position], exact, rtol, kernel)
    return compiled


def _buffers(kernel, inputs):
    arrays = []
    for k, buffer in enumerate(kernel.buffers):
        if k < len(inputs):
            arrays.append(numpy.array(inputs[k], dtype=buffer.dtype).reshape(-1).copy())
        else:
            arrays.append(numpy.full(buffer.size, 3, dtype=buffer.dtype))
    return arrays


def _assert_same(got, want, exact, rtol, kernel):
    message = f"kernel\n{kernel.text()}"
    if got.dtype.kind != "f":
        numpy.testing.assert_array_equal(got, want, err_msg=message)
        return
    if rtol is None:
        rtol = {"float32": 2e-6, "float64": 1e-12}
    if isinstance(rtol, dict):
        rtol = rtol[got.dtype.name]
    if exact:
        numpy.testing.assert_array_equal(got, want, err_msg=message)
        numbers = ~numpy.isnan(want)
        numpy.testing.assert_array_equal(numpy.signbit(got[numbers]),
                                         numpy.signbit(want[numbers]), err_msg=message)
    else:
        numpy.testing.assert_allclose(got, want, rtol=rtol, atol=0, err_msg=message)


_counter = itertools.count()


def kernel(buffers, shape, stores, reduce=None):
    """A kernel with a fresh name (``buffers``: (dtype, size) pairs)."""
    return K.Kernel(f"k{next(_counter)}", tuple(K.Buffer(d, s) for d, s in buffers),
                    tuple(shape), tuple(stores), reduce)


def unary_case(op, dtype, out_dtype=None, values=None):
    values = edge_values(dtype) if values is None else numpy.asarray(values, dtype)
    n = values.size
    x = K.read(0, K.index(0), dtype)
    expr = K.call(op, x)
    k = kernel([(dtype, n), (out_dtype or expr.dtype, n)], (n,),
               [K.Store(1, K.index(0), expr)])
    return k, [values]


def binary_case(op, dtype, left=None, right=None):
    """``op`` over every pair (left[i], right[j]): a 2-d domain."""
    left = edge_values(dtype) if left is None else numpy.asarray(left, dtype)
    right = edge_values(dtype) if right is None else numpy.asarray(right, dtype)
    a, b = K.read(0, K.index(0), dtype), K.read(1, K.index(1), dtype)
    expr = K.call(op, a, b)
    shape = (left.size, right.size)
    k = kernel([(dtype, left.size), (dtype, right.size), (expr.dtype, left.size * right.size)],
               shape, [K.Store(2, flat_offset(shape), expr)])
    return k, [left, right]


# -- elementwise: shapes, broadcasting, chunking -----------------------------------------
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5), (2, 3, 4)])
def test_elementwise_with_broadcast_reads(shape):
    """out = x * y + 0.5 where y ignores the first dimension (a broadcast read)."""
    size = int(numpy.prod(shape))
    y_shape = shape[1:]
    y_strides = [0] + [int(numpy.prod(shape[d + 1:])) for d in range(1, len(shape))]
    x = K.read(0, flat_offset(shape), "float32")
    y = K.read(1, flat_offset(shape, y_strides[:len(shape)]), "float32")
    value = K.call("add", K.call("mul", x, y), K.const(0.5, "float32"))
    y_size = int(numpy.prod(y_shape)) if shape else 1
    k = kernel([("float32", size), ("float32", y_size), ("float32", size)], shape,
               [K.Store(2, flat_offset(shape), value)])
    rng = numpy.random.default_rng(0)
    # positive data: no cancellation, so a fused multiply-add stays within 1e-6
    run_and_compare([(k, [rng.uniform(0.5, 2, size), rng.uniform(0.5, 2, y_size)])],
                    exact=False, rtol=1e-6)


def test_chunked_calls_equal_one_call():
    """k(0, m) then k(m, n) writes what k(0, n) writes, for splits inside and across rows."""
    shape = (3, 5)
    x = K.read(0, flat_offset(shape), "float64")
    col = K.read(1, K.index(1), "float64")
    k = kernel([("float64", 15), ("float64", 5), ("float64", 15)], shape,
               [K.Store(2, flat_offset(shape), K.call("sub", K.call("exp", x), col))])
    compiled = compile_kernels([k], cache=None)
    rng = numpy.random.default_rng(1)
    x_data, col_data = rng.standard_normal(15), rng.standard_normal(5)
    whole = numpy.zeros(15)
    compiled.run(k.name, [x_data, col_data, whole])
    for split in (0, 1, 4, 5, 7, 14, 15):
        parts = numpy.zeros(15)
        table = buffer_table([x_data, col_data, parts])
        compiled[k.name](0, split, table)
        compiled[k.name](split, 15, table)
        numpy.testing.assert_array_equal(parts, whole)
    partial = numpy.zeros(15)
    compiled.run(k.name, [x_data, col_data, partial], start=6, end=9)
    assert (partial[:6] == 0).all() and (partial[9:] == 0).all()
    numpy.testing.assert_array_equal(partial[6:9], whole[6:9])


def test_multiple_stores_and_reading_what_an_earlier_store_wrote():
    """b1 = 2x, b2 = b1 + 1 (reads the fresh b1), b3[i] = x (bool from float: != 0)."""
    x = K.read(0, K.index(0), "float32")
    twice = K.call("mul", x, K.const(2.0, "float32"))
    again = K.call("add", K.read(1, K.index(0), "float32"), K.const(1.0, "float32"))
    k = kernel([("float32", 6), ("float32", 6), ("float32", 6), ("bool", 6)], (6,),
               [K.Store(1, K.index(0), twice), K.Store(2, K.index(0), again),
                K.Store(3, K.index(0), K.cast(x, "bool"))])
    run_and_compare([(k, [[0.0, -0.0, 1.5, numpy.nan, -3.0, numpy.inf]])])


def test_out_of_range_reads_are_clamped_like_the_reference():
    """where(i < 3, x[i + 5], 0): the masked-off reads past the end must not fault."""
    i = K.index(0)
    far = K.read(0, K.call("add", i, K.const(5, "int64")), "float32")
    gathered = K.read(0, K.cast(K.read(1, i, "int32"), "int64"), "float32")
    value = K.call("where", K.call("lt", i, K.const(3, "int64")), far, K.const(0.0, "float32"))
    k = kernel([("float32", 6), ("int32", 8), ("float32", 8), ("float32", 8)], (8,),
               [K.Store(2, i, value), K.Store(3, i, gathered)])
    run_and_compare([(k, [numpy.arange(6.0), [0, 5, -4, 99, 2, 1, 7, -1]])])


# -- every op and dtype --------------------------------------------------------------------
def _unary_cases():
    cases = []
    for dtype in ALL:
        cases.append(unary_case("not", dtype))
        cases.append(unary_case("abs", dtype))
        if dtype != "bool":
            cases += [unary_case(op, dtype) for op in ("neg", "sign", "floor")]
    return cases


def test_unary_ops_all_dtypes():
    run_and_compare(_unary_cases())


def test_math_functions_match_numpy():
    values = {"float32": [0.0, -0.0, 1e-6, 0.3, -0.7, 1.0, 2.5, -4.0, 20.0, -30.0, 80.0],
              "float64": [0.0, -0.0, 1e-12, 0.3, -0.7, 1.0, 2.5, -4.0, 20.0, -30.0, 600.0]}
    cases = [unary_case(op, dtype, values=values[dtype]) for op in MATH for dtype in FLOATS]
    positive = [unary_case(op, dtype, values=[1e-6, 0.1, 0.9, 1.0, 2.0, 1e6])
                for op in ("log", "log1p", "sqrt") for dtype in FLOATS]
    edges = [unary_case(op, dtype, values=[numpy.nan, numpy.inf, -numpy.inf, 0.0])
             for op in MATH for dtype in FLOATS]
    run_and_compare(cases + positive + edges, exact=False)


_BINARY = {
    "add": ALL, "sub": INTS + FLOATS, "mul": ALL, "div": FLOATS, "max": ALL, "min": ALL,
    "floordiv": INTS + FLOATS, "mod": INTS + FLOATS, "and": ("bool",) + INTS,
    "or": ("bool",) + INTS, "xor": ("bool",) + INTS,
    **{op: ALL for op in ("lt", "le", "gt", "ge", "eq", "ne")},
}  # fmt: skip


def test_binary_ops_all_dtypes():
    cases = [binary_case(op, dtype) for op, dtypes in _BINARY.items() for dtype in dtypes
             if op not in ("max", "min") or dtype not in FLOATS]
    run_and_compare(cases)


def test_float_max_min_propagate_nan():
    """max(nan, x) = max(x, nan) = nan; signed zeros compare equal, so only values count."""
    cases = [binary_case(op, dtype) for op in ("max", "min") for dtype in FLOATS]
    run_and_compare(cases, exact=False, rtol=0)


def test_pow_shifts_mulhi():
    cases = [binary_case("pow", dtype, right=[0, 1, 2, 3, 5, 13, 63]) for dtype in INTS]
    cases.append(binary_case("pow", "bool"))
    cases += [binary_case(op, dtype, right=[0, 1, 3, 7, 8, 31, 32, 63, 64, 200])
              for op in ("shl", "shr") for dtype in ("uint8", "uint32", "uint64")]
    cases += [binary_case(op, dtype, right=[0, 1, 3, 7, 15, 31, 63, 64, 100])
              for op in ("shl", "shr") for dtype in ("int32", "int64")]
    cases.append(binary_case("mulhi", "uint32"))
    run_and_compare(cases)
    run_and_compare([binary_case("pow", dtype) for dtype in FLOATS], exact=False)


def test_where_all_dtypes():
    cases = []
    for dtype in ALL:
        values = edge_values(dtype)
        n = values.size
        cond = K.read(0, K.index(0), "bool")
        a, b = K.read(1, K.index(0), dtype), K.read(1, K.const(n - 1, "int64"), dtype)
        k = kernel([("bool", n), (dtype, n), (dtype, n)], (n,),
                   [K.Store(2, K.index(0), K.call("where", cond, a, b))])
        cases.append((k, [numpy.arange(n) % 3 == 0, values]))
    run_and_compare(cases)


def _castable(values, source, target):
    """Keep the values whose conversion numpy defines (float to int: in range)."""
    if source not in FLOATS or target in FLOATS or target == "bool":
        return values
    info = numpy.iinfo(target)
    finite = values[numpy.isfinite(values)]
    return finite[(finite > info.min - 1) & (finite < info.max + 1)]


def test_casts_between_all_dtypes():
    cases = []
    float_values = numpy.array([0.0, -0.0, 0.5, -0.5, 1.9, -1.9, 7.99, -100.7, 127.0, 255.5,
                                3e9, -3e9, 1e19, numpy.nan, numpy.inf, -numpy.inf])
    for source, target in itertools.product(ALL, ALL):
        if source == target:
            continue
        values = float_values.astype(source) if source in FLOATS else edge_values(source)
        values = _castable(values, source, target)
        x = K.read(0, K.index(0), source)
        cases.append(unary_case_from(K.cast(x, target), source, target, values))
    run_and_compare(cases)


def unary_case_from(expr, source, target, values):
    n = values.size
    k = kernel([(source, max(n, 1)), (target, n)], (n,), [K.Store(1, K.index(0), expr)])
    return k, [values if n else numpy.zeros(1, source)]


def test_bitcasts():
    pairs = [("float32", "int32"), ("int32", "float32"), ("float32", "uint32"),
             ("float64", "int64"), ("uint64", "float64"), ("int32", "uint32"),
             ("int8", "uint8")]
    cases = []
    for source, target in pairs:
        values = edge_values(source)
        x = K.read(0, K.index(0), source)
        cases.append(unary_case_from(K.bitcast(x, target), source, target, values))
    run_and_compare(cases)


# -- reductions ----------------------------------------------------------------------------
def reduction(combine, dtype, outer, inner, acc_dtype=None, identity=None):
    """out[outer point] = combine over the inner domain of x[outer point, inner point]."""
    acc_dtype = acc_dtype or dtype
    shape = tuple(outer) + tuple(inner)
    strides = [int(numpy.prod(shape[d + 1:])) for d in range(len(shape))]
    offset = K.const(0, "int64")
    for d, stride in enumerate(strides):
        offset = K.call("add", offset, K.call("mul", K.index(d), K.const(stride, "int64")))
    value = K.cast(K.read(0, offset, dtype), acc_dtype)
    if identity is None:
        identity = {"add": 0, "mul": 1, "max": _lowest(acc_dtype), "min": _highest(acc_dtype)}[
            combine]
    reduce = K.Reduce(tuple(inner), value, combine, identity, acc_dtype)
    out_size = int(numpy.prod(outer))
    store = K.Store(1, flat_offset(tuple(outer)), K.cast(K.acc(acc_dtype), dtype))
    return kernel([(dtype, int(numpy.prod(shape))), (dtype, out_size)], outer, [store], reduce)


def _lowest(dtype):
    return -numpy.inf if dtype in FLOATS else numpy.iinfo(dtype).min


def _highest(dtype):
    return numpy.inf if dtype in FLOATS else numpy.iinfo(dtype).max


@pytest.mark.parametrize("inner", [(5,), (0,), (2, 3), (1000,)])
def test_float_reductions(inner):
    rng = numpy.random.default_rng(2)
    cases = []
    for combine in ("add", "mul", "max", "min"):
        for dtype in FLOATS:
            k = reduction(combine, dtype, (4,), inner)
            data = rng.uniform(0.5, 1.5, size=4 * int(numpy.prod(inner)))
            if data.size:  # NaN in row 1 (first element) and row 3 (last element)
                per_row = data.size // 4
                data[per_row] = numpy.nan
                data[4 * per_row - 1] = numpy.nan
            cases.append((k, [data]))
    run_and_compare(cases, exact=False, rtol={"float32": 5e-5, "float64": 1e-12})


def test_full_reduction_to_a_scalar_and_float64_accumulator():
    """A 0-d domain; float32 data summed in a float64 accumulator is exact here."""
    data = numpy.full(4097, 0.1, numpy.float32)
    data[0] = 1e7
    k64 = reduction("add", "float32", (), (4097,), acc_dtype="float64")
    k32 = reduction("max", "float32", (), (4097,))
    compiled = run_and_compare([(k64, [data]), (k32, [data])], exact=False, rtol=1e-6)
    out = numpy.zeros(1, numpy.float32)
    compiled.run(k64.name, [data, out])
    assert out[0] == numpy.float32(numpy.float64(1e7) + 4096 * numpy.float64(numpy.float32(0.1)))


def test_integer_reductions():
    rng = numpy.random.default_rng(3)
    cases = []
    for combine in ("add", "mul", "max", "min"):
        for dtype in ("int32", "int64", "uint8", "uint64"):
            info = numpy.iinfo(dtype)
            data = rng.integers(info.min, info.max, size=3 * 37, dtype=dtype, endpoint=True)
            cases.append((reduction(combine, dtype, (3,), (37,)), [data]))
    bools = rng.random(3 * 37) < 0.5
    cases.append((reduction("add", "bool", (3,), (37,), acc_dtype="int64"), [bools]))
    run_and_compare(cases)


def test_reduction_chunks_and_outer_rows():
    """A (2, 3) output grid summing 7 elements each, called in pieces."""
    k = reduction("add", "float64", (2, 3), (7,))
    compiled = compile_kernels([k], cache=None)
    data = numpy.random.default_rng(4).standard_normal(42)
    want = [data, numpy.zeros(6)]
    evaluate(k, want)
    out = numpy.zeros(6)
    table = buffer_table([data, out])
    for start, end in ((0, 2), (2, 5), (5, 6)):
        compiled[k.name](start, end, table)
    numpy.testing.assert_allclose(out, want[1], rtol=1e-12)


# -- fast-math policy, compiler errors -----------------------------------------------------
def test_fast_math_policy_is_visible_in_the_ir():
    k, inputs = unary_case("neg", "float32")
    default = run_and_compare([(k, inputs)])
    assert "fneg contract float" in default.llvm_ir
    fast = compile_kernels([k], fastmath=FastMath.fast(), cache=None)
    assert "fneg fast float" in fast.llvm_ir
    reduce_ir = compile_kernels([reduction("add", "float32", (2,), (8,))], cache=None).llvm_ir
    assert "fadd contract reassoc float" in reduce_ir


def test_long_elementwise_loop_vectorises():
    shape = (3, 1000)
    x = K.read(0, flat_offset(shape), "float32")
    k = kernel([("float32", 3000), ("float32", 3000)], shape,
               [K.Store(1, flat_offset(shape), K.call("mul", x, x))])
    compiled = run_and_compare([(k, [numpy.linspace(-3, 3, 3000)])])
    assert " x float>" in compiled.optimized_ir


def test_an_unresolvable_symbol_is_a_compile_error():
    declaration = "declare double @dualgrad_no_such_symbol(double)\n"
    body = ("define void @uses_it(i64 %start, i64 %end, ptr %table) {\n"
            "  %x = call double @dualgrad_no_such_symbol(double 1.0)\n  ret void\n}\n")
    with pytest.raises(CompileError, match="dualgrad_no_such_symbol"):
        compile_ir(declaration + body, ["uses_it"], {"uses_it": 1})


def test_integer_division_is_rejected():
    a = K.read(0, K.index(0), "int32")
    k = kernel([("int32", 2), ("int32", 2)], (2,), [K.Store(1, K.index(0), K.call("div", a, a))])
    with pytest.raises(CompileError, match="div"):
        compile_kernels([k], cache=None)


def test_expand_math_hook_sees_every_expression():
    """The hook rewrites expressions before rendering (here exp(x) -> x + 1)."""
    seen = []

    def expand(expr):
        seen.append(expr)
        if expr.op == "exp":
            return K.call("add", expr.args[0], K.const(1.0, expr.dtype))
        return expr

    x = K.read(0, K.index(0), "float32")
    k = kernel([("float32", 3), ("float32", 3)], (3,), [K.Store(1, K.index(0), K.call("exp", x))])
    compiled = compile_kernels([k], expand_math=expand, cache=None)
    out = numpy.zeros(3, numpy.float32)
    compiled.run(k.name, [numpy.array([0.0, 1.0, 2.0], numpy.float32), out])
    numpy.testing.assert_array_equal(out, [1.0, 2.0, 3.0])
    assert "expf" not in compiled.llvm_ir and len(seen) == 2  # offset and value


def test_a_function_pointer_keeps_its_code_alive():
    """Callers may drop the module and keep only the functions."""
    import gc

    x = K.read(0, K.index(0), "float64")
    k = kernel([("float64", 4), ("float64", 4)], (4,),
               [K.Store(1, K.index(0), K.call("mul", x, x))])
    function = compile_kernels([k], cache=None)[k.name]
    gc.collect()
    data, out = numpy.arange(4.0), numpy.zeros(4)
    function(0, 4, buffer_table([data, out]))
    numpy.testing.assert_array_equal(out, data * data)


def test_a_range_beyond_the_domain_is_cut_to_it():
    x = K.read(0, K.index(0), "int32")
    k = kernel([("int32", 4), ("int32", 6)], (4,), [K.Store(1, K.index(0), K.call("neg", x))])
    compiled = compile_kernels([k], cache=None)
    out = numpy.full(6, 9, numpy.int32)  # two guard elements past the domain
    compiled.run(k.name, [numpy.arange(4, dtype=numpy.int32), out], start=-3, end=100)
    numpy.testing.assert_array_equal(out, [0, -1, -2, -3, 9, 9])


# -- reductions over an outer axis (accumulators of a run of points, reduce loop outside) --
def axis_reduction(combine, dtype, shape, axis, keepdims=False):
    """out = combine over ``axis`` of a C-contiguous ``shape`` array (domain = the rest)."""
    outer = [d for d in range(len(shape)) if d != axis]
    strides = [int(numpy.prod(shape[d + 1:])) for d in range(len(shape))]
    domain = [shape[d] for d in outer]
    coords = [K.index(k) for k in range(len(outer))]
    if keepdims:  # a unit dimension where the axis was: index(axis) is always 0
        domain.insert(axis, 1)
        coords.insert(axis, None)
    offset = K.call("mul", K.index(len(domain)), K.const(strides[axis], "int64"))
    for k, d in enumerate(outer):
        index = K.index(k + (1 if keepdims and k >= axis else 0))
        offset = K.call("add", offset, K.call("mul", index, K.const(strides[d], "int64")))
    identity = {"add": 0, "mul": 1, "max": _lowest(dtype), "min": _highest(dtype)}[combine]
    reduce = K.Reduce((shape[axis],), K.read(0, offset, dtype), combine, identity, dtype)
    out_size = int(numpy.prod(domain))
    store = K.Store(1, flat_offset(tuple(domain)), K.acc(dtype))
    return kernel([(dtype, int(numpy.prod(shape))), (dtype, out_size)], domain, [store], reduce)


def _column_data(dtype, shape, rng, nan=False):
    if dtype in FLOATS:
        data = rng.uniform(0.9, 1.1, size=shape)
        if nan and data.size:  # one NaN at the first and one at the last reduced point
            data.reshape(-1)[1] = numpy.nan
            data.reshape(-1)[-2] = numpy.nan
        return data
    return rng.integers(-50, 50, size=shape)


@pytest.mark.parametrize("shape", [(0, 5), (7, 3), (300, 517), (2, 1500)])
def test_column_reductions(shape):
    rng = numpy.random.default_rng(5)
    cases = []
    for combine in ("add", "mul", "max", "min"):
        for dtype in ("float32", "float64", "int32"):
            k = axis_reduction(combine, dtype, shape, 0)
            cases.append((k, [_column_data(dtype, shape, rng, nan=combine in ("max", "min"))]))
    run_and_compare(cases, exact=False, rtol={"float32": 5e-5, "float64": 1e-12})


@pytest.mark.parametrize("shape", [(4, 6, 9), (10, 12, 40)])
def test_column_reductions_keepdims_and_three_dimensions(shape):
    rng = numpy.random.default_rng(6)
    cases = []
    for combine in ("add", "max", "min", "mul"):
        for axis in (0, 1):
            for keepdims in (False, True):
                k = axis_reduction(combine, "float64", shape, axis, keepdims)
                cases.append((k, [_column_data("float64", shape, rng, nan=True)]))
        k = axis_reduction(combine, "float32", (40, 130), 0, keepdims=True)
        cases.append((k, [_column_data("float32", (40, 130), rng)]))
    run_and_compare(cases, exact=False, rtol={"float32": 5e-6, "float64": 1e-12})


def test_column_reduction_takes_the_interchanged_path_and_row_reductions_do_not():
    column = axis_reduction("add", "float32", (64, 200), 0)
    row = axis_reduction("add", "float32", (200, 64), 1)
    column_ir = compile_kernels([column], cache=None).llvm_ir
    assert '%"columns" = alloca [200 x float]' in column_ir
    assert "columns" not in compile_kernels([row], cache=None).llvm_ir


def test_column_reduction_in_chunks_splitting_rows():
    """A (3, 2500) domain (runs of 1024 and a remainder) summed over 11 points, called in
    pieces that start and end inside rows and inside runs."""
    shape = (3, 11, 2500)
    k = axis_reduction("add", "float64", shape, 1)
    compiled = compile_kernels([k], cache=None)
    data = numpy.random.default_rng(7).uniform(0.5, 1.5, shape).reshape(-1)
    want = [data, numpy.zeros(7500)]
    evaluate(k, want)
    whole = numpy.zeros(7500)
    compiled.run(k.name, [data, whole])
    numpy.testing.assert_allclose(whole, want[1], rtol=1e-12)
    for splits in ((0, 1, 1023, 1025, 2500, 2501, 4999, 7499, 7500), (0, 3000, 7500)):
        out = numpy.full(7500, 5.0)
        table = buffer_table([data, out])
        for start, end in zip(splits, splits[1:]):
            compiled[k.name](start, end, table)
        numpy.testing.assert_array_equal(out, whole)  # each point folds in the same order
    out = numpy.full(7500, 5.0)
    compiled.run(k.name, [data, out], start=1000, end=2600)
    numpy.testing.assert_array_equal(out[1000:2600], whole[1000:2600])
    assert (out[:1000] == 5.0).all() and (out[2600:] == 5.0).all()


def test_a_short_reduction_runs_its_points_inside_and_matches_the_evaluator():
    """A logsumexp over 10 classes per row (the softmax of a classifier): the reduce loop
    is too short to vectorise, so the points run inside (strided loads); results, with
    the epilogue, match the evaluator for any split of the rows."""
    from dualgrad_jit.backends.llvm.render import _column_reduction
    from dualgrad_jit.kernel.mathlib import expand

    rows, classes = 1037, 10
    z = K.read(0, K.call("add", K.call("mul", K.index(0), K.const(classes, "int64")),
                         K.index(1)), "float32")
    m = K.read(1, K.index(0), "float32")
    reduce = K.Reduce((classes,), K.call("exp", K.call("sub", z, m)), "add", 0.0, "float32")
    kernel = K.Kernel("lse", (K.Buffer("float32", rows * classes), K.Buffer("float32", rows),
                              K.Buffer("float32", rows)), (rows,),
                      (K.Store(2, K.index(0), K.call("add", K.call("log", K.acc("float32")),
                                                     m)),), reduce)
    assert _column_reduction(kernel, expand)
    row_max = K.Kernel("top", kernel.buffers[:2], (rows,), (K.Store(1, K.index(0), K.acc(
        "float32")),), K.Reduce((classes,), z, "max", -numpy.inf, "float32"))
    assert not _column_reduction(row_max, expand)  # cheap: keeps its own loop
    compiled = compile_kernels([kernel], cache=None, expand_math=expand)
    rng = numpy.random.default_rng(9)
    data = rng.normal(0, 3, rows * classes).astype(numpy.float32)
    top = data.reshape(rows, classes).max(axis=1)
    want = [data, top, numpy.zeros(rows, numpy.float32)]
    evaluate(kernel, want)
    for splits in ((0, rows), (0, 1, 17, 500, 1036, rows)):
        out = numpy.full(rows, numpy.nan, numpy.float32)
        table = buffer_table([data, top, out])
        for start, end in zip(splits, splits[1:]):
            compiled["lse"](start, end, table)
        numpy.testing.assert_allclose(out, want[2], rtol=2e-6, atol=2e-6)
