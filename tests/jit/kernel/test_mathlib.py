"""The float32 math expansion: accuracy over the whole float32 line, specials, structure."""

import math

import numpy
import pytest

from dualgrad.ops.special import erf
from dualgrad_jit.kernel import ir as K
from dualgrad_jit.kernel.evaluate import evaluate
from dualgrad_jit.kernel.mathlib import expand, expand_kernel

FUNCTIONS = ("exp", "expm1", "log", "log1p", "tanh", "erf")
# what the expansions may use: no calls, and no casts (x86 has no vector form of the
# saturating float-to-int cast, so one would scalarise the loop)
BASIC_OPS = {"const", "read", "index", "add", "sub", "mul", "div", "neg", "abs", "floor",
             "where", "lt", "le", "gt", "ge", "eq", "ne", "bitcast", "shl", "shr", "and",
             "or"}
F32_MAX = float(numpy.finfo(numpy.float32).max)
# where the functions change regime: range-reduction switches, over/underflow edges
THRESHOLDS = (0.0, 2.0**-149, 2.0**-126, 2.0**-25, 2.0**-24, 2.0**-13, 0.34657, 0.625, 0.7071068,
              0.84375, 1.0, 1.25, 1.4142135, 0.2928932, 0.4142135, 2.0, 3.92, 4.0, 8.1434, 9.01,
              9.1, 17.33, 18.0, 20.0, 87.33655, 88.72283, 89.0, 103.97208, 104.0, 1e30, F32_MAX)


def _x32():
    return K.read(0, K.index(0), "float32")


def _run(expr, x, chunk=1 << 15):
    """Evaluate ``expr`` (over ``_x32()``) at every element of the float32 array ``x``
    (in chunks: the evaluator keeps every intermediate array of the expression alive)."""
    out = numpy.zeros(x.size, expr.dtype)
    for start in range(0, x.size, chunk):
        part = x[start:start + chunk]
        kernel = K.Kernel("f", (K.Buffer("float32", part.size), K.Buffer(expr.dtype, part.size)),
                          (part.size,), (K.Store(1, K.index(0), expr),))
        evaluate(kernel, [part, out[start:start + chunk]])
    return out


def _ulps(a, b):
    """Distance in float32 steps (denormal steps near 0); NaN is 0 from NaN, huge from numbers."""
    ia, ib = (numpy.asarray(v, numpy.float32).view(numpy.int32).astype(numpy.int64) for v in (a, b))
    ia = numpy.where(ia < 0, -(2**31) - ia, ia)  # monotone integer line, -0 and +0 both 0
    ib = numpy.where(ib < 0, -(2**31) - ib, ib)
    nan_a, nan_b = numpy.isnan(a), numpy.isnan(b)
    return numpy.where(nan_a | nan_b, numpy.where(nan_a & nan_b, 0, 2**40), numpy.abs(ia - ib))


@pytest.fixture(scope="module")
def sweep():
    """Every 997th float32 bit pattern (all signs, denormals, inf, NaN) plus the 2000
    neighbours on each side of every threshold."""
    every = numpy.arange(0, 2**32, 997, dtype=numpy.uint64).astype(numpy.uint32)
    near = [numpy.asarray(sign * t, numpy.float32).view(numpy.int32) + numpy.arange(-2000, 2001)
            for t in THRESHOLDS for sign in (1, -1)]
    near = numpy.concatenate(near).astype(numpy.int32).view(numpy.uint32)
    specials = numpy.array([0.0, -0.0, math.inf, -math.inf, math.nan, 1.0, -1.0], numpy.float32)
    return numpy.concatenate([every, near, specials.view(numpy.uint32)]).view(numpy.float32)


def _exact(name, x):
    """The float64 result rounded to float32 (erf: the evaluator's float64 erf)."""
    with numpy.errstate(all="ignore"):  # signalling NaNs in the sweep
        wide = x.astype(numpy.float64)
        if name != "erf":
            return getattr(numpy, name)(wide).astype(numpy.float32)
        inside = numpy.abs(wide) < 4  # erf rounds to +-1 beyond 3.92; the series is slow
        result = numpy.sign(wide)
        result[inside] = erf(numpy, wide[inside])
        return result.astype(numpy.float32)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_within_one_ulp_everywhere(sweep, name):
    got = _run(expand(K.call(name, _x32())), sweep)
    exact = _exact(name, sweep)
    dist = _ulps(got, exact)
    worst = int(numpy.argmax(dist))
    assert dist[worst] <= 1, f"{name}({sweep[worst]!r}) = {got[worst]!r}, not {exact[worst]!r}"
    if name == "erf":
        return
    # numpy's own float32 loops are up to 3 ulp off (log); where they are within 1 ulp of
    # the exact result the expansion is within 2 ulp of them
    with numpy.errstate(all="ignore"):
        native = getattr(numpy, name)(sweep)
    trusted = _ulps(native, exact) <= 1
    assert _ulps(got, native)[trusted].max() <= 2


SPECIALS = {
    "exp": [(-math.inf, 0.0), (math.inf, math.inf), (math.nan, math.nan), (0.0, 1.0),
            (-0.0, 1.0), (89.0, math.inf), (F32_MAX, math.inf), (-104.0, 0.0),
            (-F32_MAX, 0.0), (-103.9, 2.0**-149), (1e-30, 1.0)],
    "expm1": [(-math.inf, -1.0), (math.inf, math.inf), (math.nan, math.nan), (0.0, 0.0),
              (-0.0, -0.0), (89.0, math.inf), (-20.0, -1.0), (1e-30, 1e-30),
              (-1e-40, -1e-40)],
    "log": [(0.0, -math.inf), (-0.0, -math.inf), (-1.0, math.nan), (-math.inf, math.nan),
            (math.inf, math.inf), (math.nan, math.nan), (1.0, 0.0),
            (2.0**-149, -149 * math.log(2)), (2.0**-130, -130 * math.log(2)),
            (F32_MAX, 88.72284)],
    "log1p": [(-1.0, -math.inf), (-2.0, math.nan), (-math.inf, math.nan),
              (math.inf, math.inf), (math.nan, math.nan), (0.0, 0.0), (-0.0, -0.0),
              (1e-30, 1e-30), (-1e-40, -1e-40), (F32_MAX, 88.72284)],
    "tanh": [(math.inf, 1.0), (-math.inf, -1.0), (math.nan, math.nan), (0.0, 0.0),
             (-0.0, -0.0), (1e-40, 1e-40), (-10.0, -1.0), (20.0, 1.0), (F32_MAX, 1.0)],
    "erf": [(math.inf, 1.0), (-math.inf, -1.0), (math.nan, math.nan), (0.0, 0.0),
            (-0.0, -0.0), (4.0, 1.0), (-10.0, -1.0), (F32_MAX, 1.0)],
}


@pytest.mark.parametrize("name", FUNCTIONS)
def test_special_values_exactly(name):
    x, expected = (numpy.array(column, numpy.float32) for column in zip(*SPECIALS[name]))
    got = _run(expand(K.call(name, _x32())), x)
    same = (got == expected) & (numpy.signbit(got) == numpy.signbit(expected))
    same |= numpy.isnan(got) & numpy.isnan(expected)
    bad = ~same
    assert same.all(), f"{name}{tuple(x[bad])} = {tuple(got[bad])}, not {tuple(expected[bad])}"


def test_sigmoid_saturates_cleanly():
    x = _x32()
    one = K.const(1.0, "float32")
    sigmoid = K.call("div", one, K.call("add", one, K.call("exp", K.call("neg", x))))
    points = numpy.array([-math.inf, -1e30, -200, -100, -88.5, -20, -1, 0, 1, 20, 88.5, 100,
                          1e30, math.inf], numpy.float32)
    got = _run(expand(sigmoid), points)
    with numpy.errstate(over="ignore"):
        expected = numpy.float32(1) / (numpy.float32(1) + numpy.exp(-points))
    assert _ulps(got, expected).max() <= 2  # same formula in numpy float32
    assert got[0] == 0.0 and got[-1] == 1.0 and not numpy.isnan(got).any()


def _ops(expr):
    return {node.op for node in K.walk(expr)}


def test_expansion_leaves_only_basic_ops_and_float64_untouched():
    x32, x64 = _x32(), K.read(1, K.index(0), "float64")
    exp64 = K.call("exp", x64)
    sin32 = K.call("sin", x32)
    terms = [K.call(name, x32) for name in FUNCTIONS] + [K.cast(exp64, "float32"), sin32]
    expr = terms[0]
    for term in terms[1:]:
        expr = K.call("add", expr, term)
    out = expand(expr)
    float32_math = {n.op for n in K.walk(out) if n.dtype == "float32"} & set(FUNCTIONS)
    assert not float32_math
    nodes = K.walk(out)
    assert any(n is exp64 for n in nodes) and any(n is sin32 for n in nodes)
    assert _ops(out) <= BASIC_OPS | {"exp", "sin", "cast"}  # the float64 exp, sin, cast
    assert expand(exp64) is exp64
    assert expand(out) is out
    plain = K.call("mul", x32, x32)
    assert expand(plain) is plain


@pytest.mark.parametrize("name", FUNCTIONS)
def test_expansion_uses_only_vectorisable_ops(name):
    ops = _ops(expand(K.call(name, _x32())))
    assert ops <= BASIC_OPS, sorted(ops - BASIC_OPS)


def test_shared_subexpressions_expand_once():
    y = K.call("exp", _x32())
    out = expand(K.call("add", y, K.call("mul", y, y)))
    assert out.args[0] is out.args[1].args[0] is out.args[1].args[1]
    assert len(K.walk(out)) == len(K.walk(expand(y))) + 2


def test_expand_kernel_shares_across_stores_and_keeps_values():
    x = _x32()
    y = K.call("tanh", x)
    kernel = K.Kernel("k", (K.Buffer("float32", 5), K.Buffer("float32", 5),
                            K.Buffer("float32", 5)), (5,),
                      (K.Store(1, K.index(0), y), K.Store(2, K.index(0), K.call("mul", y, y))))
    expanded = expand_kernel(kernel)
    assert expanded.stores[1].value.args[0] is expanded.stores[0].value
    assert "tanh" not in expanded.text()
    data = numpy.array([-3, -0.5, 0, 0.25, 4], numpy.float32)
    results = []
    for k in (kernel, expanded):
        buffers = [data, numpy.zeros(5, numpy.float32), numpy.zeros(5, numpy.float32)]
        evaluate(k, buffers)
        results.append(buffers[1:])
    for a, b in zip(*results):
        assert _ulps(a, b).max() <= 2


def test_expand_kernel_rewrites_the_reduction():
    x = K.read(0, K.index(0), "float32")
    kernel = K.Kernel("sum_exp", (K.Buffer("float32", 4), K.Buffer("float32", 1)), (),
                      (K.Store(1, K.const(0, "int64"), K.acc("float32")),),
                      K.Reduce((4,), K.call("exp", x), "add", 0.0, "float32"))
    expanded = expand_kernel(kernel)
    assert "exp(" not in expanded.text()
    data = numpy.array([-1, 0, 1, 2], numpy.float32)
    out = numpy.zeros(1, numpy.float32)
    evaluate(expanded, [data, out])
    assert out[0] == pytest.approx(numpy.exp(data.astype(numpy.float64)).sum(), rel=1e-6)


# -- the logistic sigmoid, as eager mode computes it: tanh(y * 0.5) * 0.5 + 0.5 ------------
def _sigmoid_pattern(y, swaps=(False, False, False), halves=(0.5, 0.5, 0.5), dtype="float32"):
    """The eager sigmoid's kernel expression; ``swaps`` flips the operands of the inner
    mul, the outer mul and the add, ``halves`` are the three constants."""

    def op(name, a, b, swap):
        return K.call(name, b, a) if swap else K.call(name, a, b)

    inner, outer, shift = (K.const(h, dtype) for h in halves)
    scaled = op("mul", K.call("tanh", op("mul", y, inner, swaps[0])), outer, swaps[1])
    return op("add", scaled, shift, swaps[2])


def _exact_sigmoid(x):
    with numpy.errstate(all="ignore"):
        wide = x.astype(numpy.float64)
        e = numpy.exp(-numpy.abs(wide))
        return numpy.where(wide >= 0, 1 / (1 + e), e / (1 + e)).astype(numpy.float32)


SWAPS = [(a, b, c) for a in (False, True) for b in (False, True) for c in (False, True)]
DEEP = numpy.array([-103.5, -100, -90, -30, -17, -5, -0.3, 0, 0.3, 5, 17, 30], numpy.float32)


def test_sigmoid_within_two_ulp_everywhere(sweep):
    got = _run(expand(_sigmoid_pattern(_x32())), sweep)
    exact = _exact_sigmoid(sweep)
    dist = _ulps(got, exact)
    worst = int(numpy.argmax(dist))
    assert dist[worst] <= 2, f"sigmoid({sweep[worst]!r}) = {got[worst]!r}, not {exact[worst]!r}"


@pytest.mark.parametrize("swaps", SWAPS)
def test_sigmoid_pattern_becomes_the_logistic_function(swaps):
    y = _x32()
    out = expand(_sigmoid_pattern(y, swaps))
    # the tanh expansion is not in there: far fewer nodes than tanh alone needs
    tanh_alone = expand(K.call("tanh", K.call("mul", y, K.const(0.5, "float32"))))
    assert len(K.walk(out)) < len(K.walk(tanh_alone))
    assert _ops(out) <= BASIC_OPS
    # tiny sigmoids keep their relative accuracy (0.5 tanh(y/2) + 0.5 would give 0 there)
    got = _run(out, DEEP)
    assert got[0] > 0 and _ulps(got, _exact_sigmoid(DEEP)).max() <= 2


@pytest.mark.parametrize("halves", [(0.25, 0.5, 0.5), (0.5, 0.25, 0.5), (0.5, 0.5, 0.25)])
def test_other_constants_keep_the_tanh(halves):
    y = _x32()
    out = expand(_sigmoid_pattern(y, halves=halves))
    tanh_alone = expand(K.call("tanh", K.call("mul", y, K.const(halves[0], "float32"))))
    assert len(K.walk(out)) > len(K.walk(tanh_alone))
    pattern64 = _sigmoid_pattern(K.read(0, K.index(0), "float64"), dtype="float64")
    assert expand(pattern64) is pattern64


SIGMOID_SPECIALS = [(-math.inf, 0.0), (math.inf, 1.0), (math.nan, math.nan), (0.0, 0.5),
                    (-0.0, 0.5), (18.0, 1.0), (1e30, 1.0), (F32_MAX, 1.0), (-104.0, 0.0),
                    (-1e30, 0.0), (-F32_MAX, 0.0)]


def test_sigmoid_special_values_exactly():
    x, expected = (numpy.array(column, numpy.float32) for column in zip(*SIGMOID_SPECIALS))
    got = _run(expand(_sigmoid_pattern(_x32())), x)
    assert numpy.array_equal(got, expected, equal_nan=True), (x, got)


def test_a_tanh_shared_with_a_sigmoid_still_expands():
    y = _x32()
    pattern = _sigmoid_pattern(y)
    tanh = pattern.args[0].args[0]  # the tanh(y * 0.5) node itself
    kernel = K.Kernel("k", (K.Buffer("float32", DEEP.size),) * 3, (DEEP.size,),
                      (K.Store(1, K.index(0), pattern), K.Store(2, K.index(0), tanh)))
    expanded = expand_kernel(kernel)
    assert "tanh" not in expanded.text()
    buffers = [DEEP, numpy.zeros_like(DEEP), numpy.zeros_like(DEEP)]
    evaluate(expanded, buffers)
    assert _ulps(buffers[1], _exact_sigmoid(DEEP)).max() <= 2
    assert _ulps(buffers[2], _exact("tanh", DEEP * numpy.float32(0.5))).max() <= 1
    both = _run(expand(K.call("add", pattern, tanh)), DEEP)  # one expression, both uses
    assert numpy.array_equal(both, buffers[1] + buffers[2])
