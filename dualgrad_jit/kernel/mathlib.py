"""Vectorisable float32 math: transcendental kernel-IR nodes rewritten into basic ops.

``expand(expr)`` replaces every float32 ``exp``, ``log``, ``log1p``, ``expm1``, ``tanh``
and ``erf`` node, and the logistic sigmoid in the form eager mode computes it,
``tanh(y * 0.5) * 0.5 + 0.5`` (operands of each mul/add in either order, constants
exactly 0.5), by an equivalent tree of arithmetic, comparisons, ``where``, ``floor``,
``abs``, bitcasts and ``add``/``sub``/``shl``/``shr``/``and``/``or`` on uint32, so a
backend can vectorise the whole kernel instead of calling libm once per element (no
float/int casts either: x86 has no vector form of the saturating float-to-int one).
``expand_kernel`` does the same to a ``Kernel``.  float64 nodes, ``sin``/``cos`` and
every other op are left as they are.  Shared subexpressions stay shared: each node is
rebuilt once (memoised by id); the tanh inside a sigmoid is not expanded unless it is
used elsewhere too.

The algorithms (x is the float32 input; every step is one IEEE float32 operation):

* exp:   x clamped to [-104, 89] (exp(-104) rounds to 0, exp(89) overflows; NaN passes),
  x = k ln2 + r, |r| <= ln2/2, k rounded to nearest by adding 1.5 * 2^23 (the sum
  t holds k in its low mantissa bits, which later become exponent fields), ln2 split
  Cody-Waite style into ``_LN2_HI`` (9 bits: k LN2_HI and x - k LN2_HI are exact)
  plus ``_LN2_LO``; e^r - 1 = p = r + r^2 (1/2 + r P(r)).  2^k (1 + p) is formed as
  (A + A p) B with A = 2^floor(k/2), B = 2^(k - floor(k/2)) normal powers from integer
  ops on the bits of t: A p is exact, the sum rounds once, and the product by B only
  where the result overflows or is denormal.  |x| < 2^-25 computes on 0 (e^x = 1).
* expm1: the same reduction; k = 0 gives r + p directly, otherwise
  expm1(x) = 2^k ((1 + p) - 2^-k), the sum formed with exact TwoSum error terms so
  nothing is lost to cancellation; x is clamped to [-20, 89] (expm1(-20) rounds to -1).
* log:   frexp through the bits: x = 2^e m with m in [sqrt(1/2), sqrt(2)) (denormals
  are scaled by 2^23 first), f = m - 1 exactly, log(x) = (e LN2_HI + f) +
  (f^2 (f P(f) - 1/2) + e LN2_LO), the head summed with its rounding error (Fast2Sum).
* log1p: u = 1 + x; where u is in [sqrt(1/2), sqrt(2)) f = x itself (no rounding);
  elsewhere the log core on u plus the correction c/u, c = (1 + x) - u exactly.
* tanh:  |x| < ``TANH_SWITCH``: the odd polynomial x + x^3 Q(x^2); above it
  sign(x) (1 - 2/(2^k e^2h + 1)) for a = min(|x|, ``TANH_CLAMP``) (tanh rounds to 1
  from 9.011 on), 2a = k ln2 + 2h as for exp and e^2h = 1 + h E(h).  There
  2/(e^2a + 1) <= 0.45, which damps the rounding errors of e^2h and of the sum.
* sigmoid: with z = e^-|y| = 2^k (1 + p) (|y| clamped to 104, the exp reduction),
  sigmoid(y) = z^[y < 0] / (1 + z), computed as Z^[y < 0] / (Z + 2^64) with
  Z = 2^64 z = 2^(k+64) (1 + p), a normal number rounded once, so the quotient rounds
  once even where it is denormal; Z + 2^64 is formed from the rounded Z, so z / (1 + z)
  feels z's rounding error only through 1/(1 + z)^2.
* erf:   |x| < 0.84375: x + x Q(x^2); up to 1.25: erf(1) + M(|x| - 1); up to 4:
  1 - exp(-x^2) R(1/(1 + |x|)) with x^2 = s + s_lo split exactly (Dekker) and s_lo
  folded into the exp reduction; beyond, +-1.

Specials: NaN in gives NaN out; exp(-inf) = 0, exp(inf) = inf; log(0) = -inf,
log(x < 0) = NaN, log(inf) = inf; log1p(-1) = -inf, log1p(x < -1) = NaN;
expm1(-inf) = -1; tanh(+-inf) = erf(+-inf) = +-1; sigmoid(-inf) = 0, sigmoid(inf) = 1;
zeros keep their sign (tanh(-0) = erf(-0) = expm1(-0) = log1p(-0) = -0) and tiny
arguments of expm1/log1p/tanh return x itself.  Lanes whose answer is selected
elsewhere (tiny or out-of-range arguments) compute on harmless values, so no
intermediate underflows into the slow denormal range unless the answer itself does.

The exact error terms (Fast2Sum, TwoSum, Dekker) need the renderer to keep float
operations as written: no reassociation (no fast-math); FMA contraction is harmless.

Polynomials are near-minimax (Lawson-weighted least squares in float64 on the interval
given, coefficients rounded to float32 one at a time with the others refit); the fit
error quoted is relative to the function value unless said otherwise.

Measured accuracy of the expansion (evaluated with numpy float32, as
``dualgrad_jit.kernel.evaluate`` does) against the float64 result rounded to float32,
on every 997th float32 bit pattern (4.3M values: both signs, denormals, infinities,
NaNs) plus the 2000 neighbours of every branch switch and over/underflow threshold;
in the denormal range the ulp is the denormal spacing:

    function         exp     expm1   log     log1p   tanh    erf     sigmoid
    max error        1 ulp   1 ulp   1 ulp   1 ulp   1 ulp   1 ulp   2 ulp
    points >= 1 ulp  0.66%   0.16%   0.09%   0.15%   0.37%   2.9%    3.7% (0.005% at 2)
    nodes            58      92      85      100     82      174     53

The same expansions rendered by the LLVM backend (``contract`` fast-math, so some
``a * b + c`` become FMAs) differ from the numpy evaluation in at most 1 ulp (tanh,
sigmoid: 2) on under 0.1% of the points (erf: 2.9%, its tiny-x sum gets more accurate)
and have the same bounds against the exact result; an exhaustive check of every float32
confirms them (exp, tanh 1 ulp, sigmoid 2 ulp on 0.005% of the inputs).  numpy's own
float32 loops (AVX-512 build) are off by up to exp 2, expm1 2, log 3, log1p 2, tanh 1
ulp on the same points, so against numpy's float32 result the expansion is within
exp 3, expm1 3, log 3, log1p 2, tanh 2 ulp, and within 2 ulp wherever numpy is within
1 ulp of the exact result.
"""

import math

from . import ir as K
from .ir import KExpr

F32 = "float32"
U32 = "uint32"
TANH_SWITCH = 0.625
TANH_CLAMP = 9.1

_LOG2E = 1.4426950408889634
_LN2_HI = 0.693359375  # 9 significant bits: k * _LN2_HI is exact for |k| < 2^15
_LN2_LO = -2.1219444005469058e-4  # ln(2) - _LN2_HI
_TWO_23 = 2.0**23
_MAGIC = 1.5 * 2.0**23  # float32 whose integer additions land in the low mantissa bits
_SQRT_HALF_OFFSET = 0x004AFB0D  # bits(1.0) - bits(sqrt(1/2)): bumps the exponent at sqrt(2)

# expm1(r) = r + r^2/2 + r^3 P(r) on |r| <= 0.3467, degree 4, fit error 4.3e-10
_EXPM1_P = (0.1666666716337204, 0.04166648909449577, 0.008333208039402962,
            0.0013932670699432492, 0.00019944275845773518)
# log1p(f) = f - f^2/2 + f^3 P(f) on [-0.2929, 0.4143], degree 8, fit error 7.3e-10
_LOG1P_P = (0.3333331048488617, -0.24999986588954926, 0.20002225041389465,
            -0.16669251024723053, 0.1421867460012436, -0.12384340912103653,
            0.11872909218072891, -0.11789902299642563, 0.06915590167045593)
# e^r = 1 + r + r^2/2 + r^3 P(r) on |r| <= 0.3466, degree 3, fit error 3.7e-9 relative to
# e^r (what exp, tanh and sigmoid need; expm1 needs it relative to e^r - 1)
_EXP_P = (0.16666534543037415, 0.04166724532842636, 0.008367431350052357,
          0.0013863069470971823)
# e^2h - 1 = h E(h) on |h| <= 0.1733, degree 5, fit error 3.1e-9 relative to e^2h
_TANH_E = (2.0, 1.999999761581421, 1.3333216905593872, 0.6666921973228455,
           0.26779744029045105, 0.08845455944538116)
# tanh(x) = x + x^3 Q(x^2) on [0, 0.625], degree 4 in x^2, fit error 4.5e-9
_TANH_Q = (-0.3333328068256378, 0.1333141326904297, -0.0537375807762146,
           0.020632779225707054, -0.0056985002011060715)
# erf(x) = x + x Q(x^2) on [0, 0.84375], degree 6 in x^2, fit error 8.6e-10
_ERF_Q = (0.12837916612625122, -0.3761262893676758, 0.11283622682094574,
          -0.026855364441871643, 0.005190941970795393, -0.0008026440045796335,
          7.867855310905725e-05)
# erf(1 + s) = _ERF_ONE + M(s) on s in [-0.15625, 0.25], degree 8, fit error 2.7e-10
_ERF_ONE = 0.8427007794380188  # erf(1) rounded to float32
_ERF_M = (1.3508766549819029e-08, 0.41510748863220215, -0.41510748863220215,
          0.13837142288684845, 0.06918083876371384, -0.06933068484067917,
          0.004976986907422543, 0.017874475568532944, -0.013795619830489159)
# erfc(a) exp(a^2) = R(1/(1 + a)) on a in [1.25, 4], degree 8, fit error 5.5e-11
_ERFC_R = (2.9524759156629443e-05, 0.5632049441337585, 0.5787214636802673,
           0.15787775814533234, 0.39074215292930603, -3.056579828262329,
           4.8915886878967285, -3.578644275665283, 1.0650408267974854)


def expand(expr):
    """``expr`` with every float32 exp/expm1/log/log1p/tanh/erf node and sigmoid pattern
    rewritten into basic ops; returns ``expr`` itself when nothing needed rewriting."""
    return _Expander().rewrite(expr)


def expand_kernel(kernel):
    """``kernel`` with its stores and reduction expanded (one memo for all of them)."""
    expander = _Expander()
    reduce = kernel.reduce
    if reduce is not None:
        reduce = K.Reduce(reduce.shape, expander.rewrite(reduce.value), reduce.combine,
                          reduce.identity, reduce.dtype)
    stores = tuple(K.Store(s.buffer, expander.rewrite(s.offset), expander.rewrite(s.value))
                   for s in kernel.stores)
    return K.Kernel(kernel.name, kernel.buffers, kernel.shape, stores, reduce)


class _Expander:
    """Rewrites nodes operands-first, remembering each node's replacement by id."""

    def __init__(self):
        self.memo = {}  # id(node) -> (node, replacement); holding node keeps its id unique

    def rewrite(self, expr):
        nodes = K.walk(expr)
        sigmoids = {id(n): y for n in nodes if (y := _sigmoid_argument(n)) is not None}
        needed = _needed(expr, nodes, sigmoids, self.memo)
        for node in nodes:
            if id(node) in self.memo or id(node) not in needed:
                continue
            if id(node) in sigmoids:
                new = _sigmoid(_F(self.memo[id(sigmoids[id(node)])][1])).e
            else:
                new = self._rebuild(node)
            self.memo[id(node)] = (node, new)
        return self.memo[id(expr)][1]

    def _rebuild(self, node):
        args = tuple(self.memo[id(a)][1] for a in node.args)
        if node.dtype == F32 and node.op in _EXPANSIONS:
            return _EXPANSIONS[node.op](_F(args[0])).e
        if all(a is b for a, b in zip(args, node.args)):
            return node
        return KExpr(node.op, args, node.dtype, node.value)


def _needed(expr, nodes, sigmoids, memo):
    """ids of the nodes the rewritten ``expr`` depends on: a sigmoid pattern needs only
    its argument, so the tanh inside it is never expanded (unless used elsewhere)."""
    needed = {id(expr)}
    for node in reversed(nodes):  # users before operands
        if id(node) not in needed or id(node) in memo:
            continue
        if id(node) in sigmoids:
            needed.add(id(sigmoids[id(node)]))
        else:
            needed.update(id(a) for a in node.args)
    return needed


def _half_of(node):
    """``a`` when ``node`` is float32 ``a * 0.5`` or ``0.5 * a``, else None."""
    if node.op != "mul" or node.dtype != F32:
        return None
    a, b = node.args
    if _is_half(b):
        return a
    return b if _is_half(a) else None


def _is_half(node):
    return node.op == "const" and node.value == 0.5


def _sigmoid_argument(node):
    """``y`` when ``node`` is ``tanh(y * 0.5) * 0.5 + 0.5`` in float32 (the logistic
    sigmoid as eager mode computes it; operands of each mul and add in either order)."""
    if node.op != "add" or node.dtype != F32:
        return None
    a, b = node.args
    scaled = a if _is_half(b) else b if _is_half(a) else None
    t = None if scaled is None else _half_of(scaled)
    if t is None or t.op != "tanh" or t.dtype != F32:
        return None
    return _half_of(t.args[0])


# -- float32 expression helpers --------------------------------------------------------
class _F:
    """A float32 kernel expression with arithmetic operators; numbers lift to constants."""

    __slots__ = ("e",)

    def __init__(self, e):
        self.e = e

    def __add__(self, o):
        return _F(K.call("add", self.e, _lift(o)))

    def __radd__(self, o):
        return _F(K.call("add", _lift(o), self.e))

    def __sub__(self, o):
        return _F(K.call("sub", self.e, _lift(o)))

    def __rsub__(self, o):
        return _F(K.call("sub", _lift(o), self.e))

    def __mul__(self, o):
        return _F(K.call("mul", self.e, _lift(o)))

    def __rmul__(self, o):
        return _F(K.call("mul", _lift(o), self.e))

    def __truediv__(self, o):
        return _F(K.call("div", self.e, _lift(o)))

    def __rtruediv__(self, o):
        return _F(K.call("div", _lift(o), self.e))

    def __neg__(self):
        return _F(K.call("neg", self.e))


def _lift(v):
    return v.e if isinstance(v, _F) else K.const(v, F32)


def _cmp(op, a, b):
    return K.call(op, _lift(a), _lift(b))


def _where(cond, a, b):
    return _F(K.call("where", cond, _lift(a), _lift(b)))


def _abs(x):
    return _F(K.call("abs", x.e))


def _floor(x):
    return _F(K.call("floor", x.e))


def _unless_tiny(ax, x, tiny):
    """x, or 0 where |x| < tiny: lanes whose answer is selected elsewhere compute on 0,
    so that squaring a tiny x never underflows (denormal results are slow on CPUs)."""
    return _where(_cmp("lt", ax, tiny), 0.0, x)


def _horner(x, coeffs):
    acc = _F(K.const(coeffs[-1], F32))
    for c in reversed(coeffs[:-1]):
        acc = acc * x + c
    return acc


def _pow2(j):
    """2^j for an integer-valued float j in [-126, 127], built from the exponent bits.

    j + 127 + 1.5 * 2^23 is exact and its low mantissa bits are the integer j + 127;
    shifting them into the exponent field drops the rest."""
    biased = K.bitcast((j + (127.0 + _MAGIC)).e, U32)
    return _F(K.bitcast(K.call("shl", biased, K.const(23, U32)), F32))


def _bits_plus(t, n):
    return K.call("add", K.bitcast(t.e, U32), K.const(n % 2**32, U32))


def _exponent(bits):
    """The float whose exponent field is the low 9 bits of ``bits`` (uint32)."""
    return K.call("shl", bits, K.const(23, U32))


def _pow2_of(t, offset=0):
    """2^(k + offset) for the k held by t = k + 1.5 * 2^23 (see ``_exp_reduce``), with
    k + offset in [-126, 127]: the low mantissa bits of t are k + 2^22, and the bits of
    1.5 * 2^23 (a multiple of 2^9) shift out of the word."""
    return _F(K.bitcast(_exponent(_bits_plus(t, 127 + offset)), F32))


def _pow2_pair(t):
    """(A, B) = (2^floor(k/2), 2^(k - floor(k/2))) for the k held by t, k in [-252, 254]:
    both normal, so v A B rounds only in the last product (overflow, denormals).

    The exponent fields come from u = bits(t) + 254, which is k + 254 modulo 2^10 (all
    that survives the shifts): A = (u >> 1) << 23 = (u << 22) with bit 22 cleared, and
    B = (u << 23) - A; uint32 arithmetic wraps harmlessly."""
    u22 = K.call("shl", _bits_plus(t, 254), K.const(22, U32))
    a_bits = K.call("and", u22, K.const(0xFF800000, U32))
    b_bits = K.call("sub", K.call("add", u22, u22), a_bits)
    return _F(K.bitcast(a_bits, F32)), _F(K.bitcast(b_bits, F32))


def _scaled_exp(p, t):
    """2^k (1 + p) as (A + A p) B: A p is exact, so the sum rounds once."""
    a, b = _pow2_pair(t)
    return (a + a * p) * b


def _two_sum(a, b):
    """(s, err) with s = fl(a + b) and a + b = s + err exactly (Knuth)."""
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _keep_nan(x, result):
    return _where(_cmp("ne", x, x), x, result)


# -- exp and expm1 ---------------------------------------------------------------------
def _exp_reduce(w, lo=None, poly=_EXP_P):
    """(t, k, r_hi, p_lo) with w (+ lo) = k ln2 + r, k = round(w log2(e)), and
    e^r - 1 = r_hi + p_lo to float32 accuracy (r_hi exact); ``lo`` is an optional
    low-order part of the argument.

    k is rounded with the magic number: t = w log2(e) + 1.5 * 2^23 rounds to an
    integer and holds k + 2^22 in its low mantissa bits (``_pow2_of``, ``_pow2_pair``)."""
    t = w * _LOG2E + _MAGIC
    k = t - _MAGIC
    r_hi = w - k * _LN2_HI  # exact: k LN2_HI has few bits and |r_hi| <= |w|
    r_lo = k * (-_LN2_LO)
    if lo is not None:
        r_lo = r_lo + lo
    r = r_hi + r_lo
    return t, k, r_hi, r_lo + (r * r) * _horner(r, (0.5,) + poly)


def _exp_inner(r_hi, p_lo):
    """1 + r_hi + p_lo with the rounding error of 1 + r_hi kept (Fast2Sum, |r_hi| < 1)."""
    s = r_hi + 1.0
    return s + ((r_hi - (s - 1.0)) + p_lo)


def _clamp(x, lo, hi):
    """x limited to [lo, hi], NaN passing through (x86: a min and a max)."""
    return _where(_cmp("gt", x, hi), hi, _where(_cmp("lt", x, lo), lo, x))


def _exp(x):
    # exp(-104) rounds to 0 and exp(89) overflows: the clamped argument computes the
    # right answer (through the final product), and NaN passes through
    xc = _clamp(x, -104.0, 89.0)
    # |x| < 2^-25: e^x rounds to 1, which x = 0 gives exactly
    t, _, r_hi, p_lo = _exp_reduce(_unless_tiny(_abs(x), xc, 2.0**-25))
    return _scaled_exp(r_hi + p_lo, t)


def _expm1_scaled(t, k, r_hi, p_lo):
    """2^k ((1 + p) - 2^-k) = expm1(x) for x = k ln2 + r, p = e^r - 1 = r_hi + p_lo."""
    s = r_hi + 1.0
    err = r_hi - (s - 1.0)
    # 2^-k beyond 2^-40 no longer changes a float32 sum with 1 + p
    u, err2 = _two_sum(s, -_pow2(-_where(_cmp("lt", k, 40.0), k, 40.0)))
    a, b = _pow2_pair(t)
    return (u + ((err + err2) + p_lo)) * a * b


def _expm1(x):
    ax = _abs(x)
    # expm1(-20) rounds to -1, expm1(89) overflows; NaN passes through
    t, k, r_hi, p_lo = _exp_reduce(_unless_tiny(ax, _clamp(x, -20.0, 89.0), 2.0**-25),
                                   poly=_EXPM1_P)
    # k = 0: r_hi = x exactly and p itself is the answer (no cancellation against 1)
    result = _where(_cmp("eq", k, 0.0), r_hi + p_lo, _expm1_scaled(t, k, r_hi, p_lo))
    # tiny x: expm1(x) rounds to x (also keeps the sign of -0)
    return _where(_cmp("lt", ax, 2.0**-25), x, result)


# -- log and log1p ---------------------------------------------------------------------
def _frexp(v, bias):
    """(e, m) with v = 2^e m, m in [sqrt(1/2), sqrt(2)), for positive normal v.
    ``bias`` is the exponent bias (127, plus 23 when v was scaled up by 2^23)."""
    bits = K.bitcast(v.e, U32)
    biased = K.call("shr", K.call("add", bits, K.const(_SQRT_HALF_OFFSET, U32)),
                    K.const(23, U32))
    # mantissa bits with the exponent of 1.0 (no uint32 wrap-around for v >= 0)
    m_bits = K.call("sub", K.call("add", bits, K.const(0x3F800000, U32)),
                    K.call("shl", biased, K.const(23, U32)))
    # the integer ``biased`` (< 512) as a float: place it in the mantissa of 1.5 * 2^23
    e = _F(K.bitcast(K.call("add", biased, K.const(0x4B400000, U32)), F32)) - (bias + _MAGIC)
    return e, _F(K.bitcast(m_bits, F32))


def _log_core(e, f, extra):
    """e ln2 + log1p(f) + extra, with extra a small correction."""
    f2 = f * f
    tail = f2 * (f * _horner(f, _LOG1P_P) - 0.5) + (e * _LN2_LO + extra)
    head = e * _LN2_HI  # exact; |head| > |f| unless head = 0, so Fast2Sum applies
    s = head + f
    return s + ((f - (s - head)) + tail)


def _log(x):
    denormal = _cmp("lt", x, 2.0**-126)
    scaled = _where(denormal, x * _TWO_23, x)
    e, m = _frexp(scaled, _where(denormal, 150.0, 127.0))
    result = _log_core(e, m - 1.0, 0.0)
    result = _where(_cmp("eq", x, math.inf), math.inf, result)
    result = _where(_cmp("eq", x, 0.0), -math.inf, result)
    return _where(_cmp("ge", x, 0.0), result, _keep_nan(x, math.nan))


def _log1p(x):
    u = x + 1.0
    e, m = _frexp(u, 127.0)
    # c = (1 + x) - u exactly (Fast2Sum with the larger operand first)
    c = _where(_cmp("gt", x, 1.0), 1.0 - (u - x), x - (u - 1.0))
    near = _cmp("eq", e, 0.0)
    ax = _abs(x)
    f = _where(near, _unless_tiny(ax, x, 2.0**-24), m - 1.0)
    result = _log_core(e, f, _where(near, 0.0, c / u))
    result = _where(_cmp("lt", ax, 2.0**-24), x, result)  # log1p(x) rounds to x
    result = _where(_cmp("eq", x, math.inf), math.inf, result)
    result = _where(_cmp("eq", x, -1.0), -math.inf, result)
    return _where(_cmp("ge", x, -1.0), result, _keep_nan(x, math.nan))


# -- tanh and the logistic sigmoid ------------------------------------------------------
def _copysign(magnitude, x):
    """magnitude (>= 0 or NaN) with the sign bit of x."""
    sign = K.call("and", K.bitcast(x.e, U32), K.const(0x80000000, U32))
    return _F(K.bitcast(K.call("or", K.bitcast(magnitude.e, U32), sign), F32))


def _tanh(x):
    ax = _abs(x)
    tiny = _cmp("lt", ax, 2.0**-13)  # tanh(x) rounds to x
    xs = _where(tiny, 0.0, x)
    x2 = xs * xs
    small = xs + xs * (x2 * _horner(x2, _TANH_Q))
    # tanh = 1 in float32 from 9.011 on; NaN passes through the clamp
    a = _where(_cmp("gt", ax, TANH_CLAMP), TANH_CLAMP, ax)
    # 2a = k ln2 + 2h, |h| <= ln2/4; e^2h - 1 = h E(h), h rounded once
    t = a * (2.0 * _LOG2E) + _MAGIC
    k = t - _MAGIC
    h = (a - k * (0.5 * _LN2_HI)) + k * (-0.5 * _LN2_LO)  # the first difference is exact
    two_k = _pow2_of(t)
    # 2/(e^2a + 1) <= 0.45 here, so the rounding errors of e^2h and of the sum shrink
    big = 1.0 - 2.0 / (two_k * (h * _horner(h, _TANH_E) + 1.0) + 1.0)
    return _where(tiny, x, _where(_cmp("lt", ax, TANH_SWITCH), small, _copysign(big, x)))


def _sigmoid(y):
    """1 / (1 + e^-y) = z^[y < 0] / (1 + z) with z = e^-|y| = 2^k (1 + p), computed as
    Z^[y < 0] / (Z + 2^64) with Z = 2^64 z, which is normal for all |y| <= 104."""
    # sigmoid(y) rounds to 1 from 17.33 on and to 0 below -103.97; NaN passes through
    a = _where(_cmp("gt", _abs(y), 104.0), 104.0, _abs(y))
    t, _, r_hi, p_lo = _exp_reduce(-a)
    scaled = _pow2_of(t, 64)
    big_z = scaled + scaled * (r_hi + p_lo)  # rounds once (scaled p is exact)
    # Z + 2^64 from the rounded Z: z / (1 + z) feels z's rounding only through
    # 1 / (1 + z)^2; the quotient rounds once, also into denormals
    return _where(_cmp("lt", y, 0.0), big_z, 2.0**64) / (big_z + 2.0**64)


# -- erf -------------------------------------------------------------------------------
def _erf(x):
    a = _abs(x)
    xs = _unless_tiny(a, x, 2.0**-30)  # Q(x^2) = Q(0) there
    small = x + x * _horner(xs * xs, _ERF_Q)
    middle = _horner(a - 1.0, _ERF_M) + _ERF_ONE  # a - 1 exact (Sterbenz)
    ac = _clamp(a, 1.25, 4.0)  # erf = 1 in float32 from 3.92 on
    # ac^2 = s + s_lo exactly (Dekker), with ac = hi + lo split into 12-bit halves
    scale = _where(_cmp("lt", ac, 2.0), 2048.0, 1024.0)
    hi = _floor(ac * scale) / scale
    lo = ac - hi
    s = ac * ac
    s_lo = ((hi * hi - s) + 2.0 * hi * lo) + lo * lo
    t, _, r_hi, p_lo = _exp_reduce(-s, -s_lo, poly=_EXPM1_P)
    erfc = _exp_inner(r_hi, p_lo) * _pow2_of(t) * _horner(1.0 / (ac + 1.0), _ERFC_R)
    magnitude = _where(_cmp("ge", a, 1.25), 1.0 - erfc, middle)
    signed = _where(_cmp("lt", x, 0.0), -magnitude, magnitude)
    return _where(_cmp("ge", a, 0.84375), signed, small)  # NaN takes the polynomial


_EXPANSIONS = {"exp": _exp, "expm1": _expm1, "log": _log, "log1p": _log1p, "tanh": _tanh,
               "erf": _erf}
