"""Counter-based random numbers: Philox4x32-10, replayable on every backend.

Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", the
generator behind cuRAND's and Random123's ``philox4x32_10``) maps a 128-bit counter
``(c0, c1, c2, c3)`` and a 64-bit key ``(k0, k1)`` to four uint32 words by ten rounds of

    hi0, lo0 = mulhilo(M0, c0)          M0 = 0xD2511F53
    hi1, lo1 = mulhilo(M1, c2)          M1 = 0xCD9E8D57
    (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)

with the key bumped by ``(W0, W1) = (0x9E3779B9, 0xBB67AE85)`` (mod 2**32) between rounds.

Element ``i`` (row-major flat index) of an op with attributes ``key`` and ``counter``
(two 64-bit integers) is computed from the block

    counter words = (lo32(i), hi32(i), lo32(counter), hi32(counter)),
    key words     = (lo32(key), hi32(key)),

so every element is a pure function of the op's attributes and its own index: numpy,
cupy and the compiled backends draw the same numbers (bit for bit for uniform and
Bernoulli draws; normal draws go through log/cos/sqrt and agree to the last ulp or two
of each backend's math library).  The module keeps one stream state (``seed``,
``next_key_counter``): each functional call takes the current counter and advances it by
the number of elements drawn, so successive calls draw fresh numbers.

>>> import dualgrad.ops.random as R
>>> R.seed(0)
>>> a = R.uniform((3,)).array
>>> R.seed(0)
>>> bool((R.uniform((3,)).array == a).all())
True
"""

import math
import numbers

import numpy

from .. import scalar_ir as S  # noqa: N812 - the project-wide alias
from ..core.aval import ShapedArray
from ..core.op import Op, check_arity
from ..core.tape import apply
from ..errors import DTypeError, ShapeError
from ..lowering import Generator
from . import elementwise as ew

M0, M1 = 0xD2511F53, 0xCD9E8D57
W0, W1 = 0x9E3779B9, 0xBB67AE85
ROUNDS = 10
MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF

_TWO_POW_M24 = 2.0**-24
_TWO_POW_M53 = 2.0**-53
_TWO_POW_26 = 2.0**26
_TWO_PI = 2.0 * math.pi


def round_keys(key0, key1):
    """The ten ``(k0, k1)`` round keys: the key bumped by ``(W0, W1)`` once per round."""
    return tuple(((key0 + r * W0) & MASK32, (key1 + r * W1) & MASK32) for r in range(ROUNDS))


# -- Philox on arrays (forward) ---------------------------------------------------------
def _mulhilo(xp, multiplier, word):
    """``(hi, lo)`` 32-bit halves of the 64-bit product ``multiplier * word``."""
    product = word.astype(xp.uint64) * xp.uint64(multiplier)
    return (product >> 32).astype(xp.uint32), (product & MASK32).astype(xp.uint32)


def philox4x32(xp, counter, key):
    """Philox4x32-10 of four uint32 counter arrays and a key ``(k0, k1)`` of ints.

    Returns the four output words as uint32 arrays.  The products are formed in
    uint64 so nothing overflows (numpy warns on overflowing integer scalars).
    """
    c0, c1, c2, c3 = (xp.asarray(c).astype(xp.uint32) for c in counter)
    for k0, k1 in round_keys(*key):
        hi0, lo0 = _mulhilo(xp, M0, c0)
        hi1, lo1 = _mulhilo(xp, M1, c2)
        c0, c1, c2, c3 = hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0
    return c0, c1, c2, c3


def _array_words(xp, size, key, counter):
    """The four Philox words for elements ``0 .. size-1`` of a draw."""
    flat = xp.arange(size, dtype=xp.uint64)
    index_lo = (flat & MASK32).astype(xp.uint32)
    index_hi = (flat >> 32).astype(xp.uint32)
    counter_lo = xp.full(size, counter & MASK32, dtype=xp.uint32)
    counter_hi = xp.full(size, counter >> 32, dtype=xp.uint32)
    return philox4x32(xp, (index_lo, index_hi, counter_lo, counter_hi),
                      (key & MASK32, key >> 32))


def _uniform24(xp, word):
    """A float32 in [0, 1) from the top 24 bits of ``word`` (exact: k * 2**-24)."""
    return (word >> 8).astype(xp.float32) * _TWO_POW_M24


def _uniform53(xp, first, second):
    """A float64 in [0, 1) from 27 + 26 bits of two words (exact: k * 2**-53)."""
    high = (first >> 5).astype(xp.float64)
    low = (second >> 6).astype(xp.float64)
    return (high * _TWO_POW_26 + low) * _TWO_POW_M53


def _box_muller(xp, u1, u2):
    """A standard normal from two uniforms in [0, 1); ``1 - u1`` is in (0, 1], so log is finite."""
    radius = xp.sqrt(xp.log(1.0 - u1) * -2.0)
    return radius * xp.cos(u2 * _TWO_PI)


# -- Philox as a scalar expression (lowering) -----------------------------------------------
# Words are Python ints while they do not depend on the element index (the counter's
# high half enters as a constant), so constant parts are folded here, in exact integer
# arithmetic, and the expression only ever combines uint32 arrays.
def _word(value):
    return S.cast(value, "uint32") if isinstance(value, int) else value


def _expr_mulhilo(multiplier, word):
    if isinstance(word, int):
        product = multiplier * word
        return product >> 32, product & MASK32
    m = _word(multiplier)
    return S.call("mulhi", m, word), S.call("mul", m, word)


def _expr_xor(*values):
    constant = 0
    exprs = []
    for v in values:
        if isinstance(v, int):
            constant ^= v
        else:
            exprs.append(v)
    if not exprs:
        return constant
    result = exprs[0]
    for e in exprs[1:]:
        result = S.call("xor", result, e)
    return S.call("xor", result, _word(constant)) if constant else result


def philox4x32_expr(counter, key):
    """Philox4x32-10 as scalar IR: ``counter`` holds four uint32 Exprs or ints."""
    c0, c1, c2, c3 = counter
    for k0, k1 in round_keys(*key):
        hi0, lo0 = _expr_mulhilo(M0, c0)
        hi1, lo1 = _expr_mulhilo(M1, c2)
        c0, c1, c2, c3 = _expr_xor(hi1, c1, k0), lo1, _expr_xor(hi0, c3, k1), lo0
    return tuple(_word(c) for c in (c0, c1, c2, c3))


def _expr_words(key, counter):
    flat = S.index(0)
    index_lo = S.cast(S.call("and", flat, MASK32), "uint32")
    index_hi = S.cast(S.call("shr", flat, 32), "uint32")
    return philox4x32_expr((index_lo, index_hi, counter & MASK32, counter >> 32),
                           (key & MASK32, key >> 32))


def _expr_uniform24(word):
    return S.cast(S.call("shr", word, 8), "float32") * _TWO_POW_M24


def _expr_uniform53(first, second):
    high = S.cast(S.call("shr", first, 5), "float64")
    low = S.cast(S.call("shr", second, 6), "float64")
    return (high * _TWO_POW_26 + low) * _TWO_POW_M53


def _expr_box_muller(u1, u2):
    radius = S.sqrt(S.log(1.0 - u1) * -2.0)
    return radius * S.cos(u2 * _TWO_PI)


# -- the ops --------------------------------------------------------------------------------
def _check_uint64(op_name, name, value):
    if not isinstance(value, numbers.Integral) or not 0 <= int(value) <= MASK64:
        raise ValueError(f"{op_name}: {name} must be an integer in [0, 2**64), got {value!r}")
    return int(value)


def _check_shape(op_name, shape):
    shape = (shape,) if isinstance(shape, numbers.Integral) else tuple(shape)
    if not all(isinstance(n, numbers.Integral) and n >= 0 for n in shape):
        raise ShapeError(op_name, f"shape must be non-negative integers, got {shape}",
                         hint="pass a tuple of sizes, e.g. (32, 10)")
    return tuple(int(n) for n in shape)


class _Random(Op):
    """Shared rules of the random ops: no inputs, no gradient, nothing saved.

    ``key`` and ``counter`` are integers in [0, 2**64); element ``i`` is a function of
    ``(i, counter, key)`` only (see the module docstring).
    """

    __slots__ = ("shape", "dtype", "key", "counter")
    abstract = True
    save = "none"
    dtypes = ("float32", "float64")

    def __init__(self, shape, dtype, key, counter):
        self.shape = _check_shape(self.name, shape)
        dtype = numpy.dtype(dtype).name
        if dtype not in self.dtypes:
            raise DTypeError(self.name, f"draws {' or '.join(self.dtypes)}, not {dtype}",
                             hint="draw float32 and cast afterwards, e.g. F.cast(u, 'float16')")
        self.dtype = dtype
        self.key = _check_uint64(self.name, "key", key)
        self.counter = _check_uint64(self.name, "counter", counter)

    @property
    def size(self):
        return math.prod(self.shape)

    def infer(self, *avals):
        check_arity(self, avals, 0)
        return ShapedArray(self.shape, numpy.dtype(self.dtype))

    def forward(self, xp):
        words = _array_words(xp, self.size, self.key, self.counter)
        return self.from_words(xp, words).astype(self.dtype, copy=False).reshape(self.shape)

    def backward(self, gy, inputs, y, need):
        return ()

    def lower(self, *avals):
        return Generator(self.expr_from_words(_expr_words(self.key, self.counter)))

    def from_words(self, xp, words):
        raise NotImplementedError

    def expr_from_words(self, words):
        raise NotImplementedError


class RandomUniform(_Random):
    """Uniform on [0, 1): float32 ``(w0 >> 8) * 2**-24``; float64 from 53 bits of w0, w1."""

    __slots__ = ()

    def from_words(self, xp, words):
        if self.dtype == "float32":
            return _uniform24(xp, words[0])
        return _uniform53(xp, words[0], words[1])

    def expr_from_words(self, words):
        if self.dtype == "float32":
            return _expr_uniform24(words[0])
        return _expr_uniform53(words[0], words[1])


class RandomNormal(_Random):
    """Standard normal by Box-Muller, ``sqrt(-2 log(1 - u1)) * cos(2 pi u2)``, with
    ``u1, u2`` uniforms from the same Philox block (words 0, 1 for float32; 0..3 for
    float64) computed in the output dtype."""

    __slots__ = ()

    def from_words(self, xp, words):
        if self.dtype == "float32":
            return _box_muller(xp, _uniform24(xp, words[0]), _uniform24(xp, words[1]))
        return _box_muller(xp, _uniform53(xp, words[0], words[1]),
                           _uniform53(xp, words[2], words[3]))

    def expr_from_words(self, words):
        if self.dtype == "float32":
            return _expr_box_muller(_expr_uniform24(words[0]), _expr_uniform24(words[1]))
        return _expr_box_muller(_expr_uniform53(words[0], words[1]),
                                _expr_uniform53(words[2], words[3]))


class RandomBernoulli(_Random):
    """1 with probability ``p``, else 0: ``u < p`` for the 24-bit uniform ``u = k * 2**-24``
    of word 0, decided exactly in integers as ``k < ceil(p * 2**24)``."""

    __slots__ = ("p",)
    dtypes = ("float16", "float32", "float64", "bool", "int8", "int16", "int32", "int64",
              "uint8", "uint16", "uint32", "uint64")

    def __init__(self, shape, p, dtype, key, counter):
        if not isinstance(p, numbers.Real) or not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"RandomBernoulli: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        super().__init__(shape, dtype, key, counter)

    @property
    def threshold(self):
        return math.ceil(self.p * 2**24)

    def from_words(self, xp, words):
        return (words[0] >> 8) < self.threshold

    def expr_from_words(self, words):
        return S.cast(S.call("lt", S.call("shr", words[0], 8), self.threshold), self.dtype)


# -- the stream state and the functional forms ----------------------------------------------
class _Stream:
    """The module's random stream: a key (the seed) and the next unused counter."""

    __slots__ = ("key", "counter")

    def __init__(self):
        self.key = 0
        self.counter = 0


_STREAM = _Stream()


def seed(s=0):
    """Restart the stream: key ``s`` (an integer in [0, 2**64)), counter 0.

    >>> seed(42); a = uniform(2).array; seed(42)
    >>> bool((uniform(2).array == a).all())
    True
    """
    _STREAM.key = _check_uint64("seed", "the seed", s)
    _STREAM.counter = 0


def get_state():
    """``(key, counter)`` of the stream, to replay draws later with ``set_state``.

    >>> seed(7); state = get_state(); a = normal(3).array; set_state(state)
    >>> bool((normal(3).array == a).all())
    True
    """
    return _STREAM.key, _STREAM.counter


def set_state(state):
    key, counter = state
    _STREAM.key = _check_uint64("set_state", "key", key)
    _STREAM.counter = _check_uint64("set_state", "counter", counter)


def next_key_counter(n):
    """``(key, counter)`` for a draw of ``n`` elements; advances the counter by ``n``."""
    key, counter = _STREAM.key, _STREAM.counter
    _STREAM.counter = (counter + int(n)) & MASK64
    return key, counter


def _draw(op_class, shape, xp, *attrs):
    """Apply a random op at the stream's counter, on ``xp`` (numpy by default)."""
    shape = _check_shape(op_class.__name__, shape)
    key, counter = get_state()
    op = op_class(shape, *attrs, key, counter)  # validates before the counter moves
    next_key_counter(op.size)
    return apply(op, (), xp=xp)


def uniform(shape, dtype="float32", low=0.0, high=1.0, xp=None):
    """Uniform draws on [low, high) (``low + (high - low) * u``, rounded in ``dtype``).

    ``xp=cupy`` draws the same numbers on the GPU.

    >>> seed(0); u = uniform((2, 3)); (u.shape, str(u.dtype))
    ((2, 3), 'float32')
    """
    u = _draw(RandomUniform, shape, xp, dtype)
    if low == 0 and high == 1:
        return u
    return ew.add(ew.mul(u, high - low), low)


def normal(shape, dtype="float32", mean=0.0, std=1.0, xp=None):
    """Normal draws with ``mean`` and standard deviation ``std`` (Box-Muller on Philox).

    >>> seed(0); normal(4, 'float64').dtype
    dtype('float64')
    """
    z = _draw(RandomNormal, shape, xp, dtype)
    if mean == 0 and std == 1:
        return z
    return ew.add(ew.mul(z, std), mean)


def bernoulli(shape, p, dtype="float32", xp=None):
    """1 with probability ``p`` and 0 otherwise, in ``dtype``.

    >>> seed(0); float(bernoulli(1000, 0.0).array.sum())
    0.0
    """
    return _draw(RandomBernoulli, shape, xp, p, dtype)
