"""``dj.RandomStreams``: random variables in compiled functions, Theano style.

Each call of ``srng.uniform(size)`` (``normal``, ``binomial``) makes a symbolic random
variable with a stream of its own, held by a shared variable: ``[key, counter]`` (uint64),
the key derived from the seed and the variable's number.  The draw is the Philox op of
``dualgrad.ops.random`` at that key and counter, element ``i`` being

    philox4x32_10(counter = (lo32(i), hi32(i), lo32(c), hi32(c)), key = (lo32(k), hi32(k)))

so numpy, the compiled backends and eager ``dualgrad.ops.random`` with ``set_state((k, c))``
draw the very same numbers.  The counter is the variable's state: every compiled function
using the variable advances it by the number of elements drawn (a *default update*, like
Theano's shared random state), so each call draws fresh numbers, unless the function is
built with ``no_default_updates=True``.  Two ``RandomStreams`` with the same seed give the
same sequences.

>>> import dualgrad_jit as dj
>>> srng = dj.RandomStreams(seed=234)
>>> rv_u = srng.uniform((2, 2))
>>> f = dj.function([], rv_u)
>>> bool((f() != f()).all())
True
"""

import functools
import math

import numpy

from dualgrad.core.aval import ShapedArray
from dualgrad.core.op import Op
from dualgrad.core.tape import apply
from dualgrad.errors import DTypeError, ShapeError
from dualgrad.lowering import Composite
from dualgrad.ops import elementwise as ew
from dualgrad.ops import random as random_ops
from dualgrad.ops import reduce as reduce_ops

from .shared_variable import SharedVariable
from .tensor.type import TensorType, config
from .tensor.variable import TensorVariable, apply_function

STATE_DTYPE = numpy.dtype("uint64")
_GOLDEN = 0x9E3779B97F4A7C15


class RandomStreamDraw(Op):
    """``draw`` (a ``dualgrad.ops.random`` op) at the key and counter given as operand: a
    uint64 array ``[key, counter]``, so the same graph draws fresh numbers as the state
    moves (and after a reseed).

    ``forward`` is ``draw.replace(key=k, counter=c).forward``: the numbers are the eager
    op's, bit for bit.  A compiled backend renders it as ``draw``'s ``Generator`` lowering
    with the key and counter words read from the operand; the reference lowering below
    reads the operand's value (it needs it concrete).  No gradient.
    """

    __slots__ = ("draw",)
    save = "none"
    host_step = True  # the key and counter are data: no constant generator to inline

    def __init__(self, draw):
        if not isinstance(draw, random_ops._Random):
            raise TypeError(f"RandomStreamDraw takes a dualgrad random op, got {draw!r}")
        self.draw = draw.replace(key=0, counter=0)

    def infer(self, state):
        error = DTypeError if state.dtype != STATE_DTYPE else ShapeError
        if state.shape != (2,) or state.dtype != STATE_DTYPE:
            raise error(self.name, f"the state must be a uint64 array [key, counter], got "
                        f"{state}", (state,),
                        hint="keep the state as numpy.array([key, 0], 'uint64')")
        return ShapedArray(self.draw.shape, numpy.dtype(self.draw.dtype))

    def forward(self, xp, state):
        key, counter = (int(v) for v in state.tolist())
        return self.draw.replace(key=key, counter=counter).forward(xp)

    def backward(self, gy, inputs, y, need):
        return (None,)

    def lower(self, state):
        return Composite(functools.partial(_draw_at, self.draw))


def _draw_at(draw, state):
    key, counter = (int(v) for v in state.array.tolist())
    return apply(draw.replace(key=key, counter=counter), ())


def stream_key(seed, number):
    """The Philox key of random variable ``number`` of a stream seeded with ``seed``:
    splitmix64 of ``seed * golden + number + 1`` (distinct, well mixed 64-bit keys)."""
    z = (int(seed) * _GOLDEN + int(number) + 1) & random_ops.MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & random_ops.MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & random_ops.MASK64
    return z ^ (z >> 31)


class RandomState(SharedVariable):
    """A random variable's state: a shared uint64 array ``[key, counter]`` and the
    ``default_update`` compiled functions apply (the counter plus the elements drawn)."""

    __slots__ = ("default_update",)

    def __init__(self, key, name=None):
        super().__init__(numpy.array([key, 0], STATE_DTYPE), name=name)
        self.default_update = None

    @property
    def key(self):
        return int(self.container._array[0])

    @property
    def counter(self):
        return int(self.container._array[1])


class RandomStreams:
    """Symbolic random variables from one seed (Theano's ``RandomStreams``).

    ``state_updates`` lists ``(counter, update)`` for every variable made, in order;
    ``seed(s)`` restarts every one of them from seed ``s``.
    """

    def __init__(self, seed=0):
        self.base_seed = int(seed)
        self.state_updates = []

    def seed(self, seed=None):
        """Restart every variable of this stream: new keys from ``seed``, counters at 0."""
        if seed is not None:
            self.base_seed = int(seed)
        for number, (state, _) in enumerate(self.state_updates):
            state.set_value(numpy.array([stream_key(self.base_seed, number), 0], STATE_DTYPE))

    def uniform(self, size=(), low=0.0, high=1.0, ndim=None, dtype=None):
        """Uniform on [low, high): ``low + (high - low) * u``, as ``random.uniform``."""
        dtype = _float_dtype("uniform", dtype)
        return self._variable("uniform", size, dtype, _numbers("uniform", low, high))

    def normal(self, size=(), avg=0.0, std=1.0, ndim=None, dtype=None):
        """Normal with mean ``avg`` and deviation ``std`` (Box-Muller on Philox)."""
        dtype = _float_dtype("normal", dtype)
        return self._variable("normal", size, dtype, _numbers("normal", avg, std))

    def binomial(self, size=(), n=1, p=0.5, ndim=None, dtype="int64"):
        """The number of successes in ``n`` Bernoulli(``p``) trials (1 or 0 for ``n=1``)."""
        if not isinstance(n, (int, numpy.integer)) or n < 1:
            raise ValueError(f"binomial: n must be an int >= 1, got {n!r}")
        if isinstance(p, TensorVariable):
            raise TypeError("binomial: p must be a number (a symbolic p is not supported); "
                            "compare a uniform draw with it instead: srng.uniform(size) < p")
        return self._variable("binomial", size, numpy.dtype(dtype).name, (int(n), float(p)))

    def _variable(self, kind, size, dtype, params):
        number = len(self.state_updates)
        state = RandomState(stream_key(self.base_seed, number), name=f"rng{number}")
        size = _size(size)
        rv = apply_function(functools.partial(draw_variable, kind, dtype, params),
                            (state, size), label=kind,
                            types=[TensorType(dtype, shape=_static_shape(size))])
        update = apply_function(functools.partial(advance, _trials(kind, params)),
                                (state, size), label="advance", types=[state.type])
        state.default_update = update
        self.state_updates.append((state, update))
        return rv


def draw_variable(kind, dtype, params, state, size):
    """The draw of a random variable from ``state`` (run when the function is traced);
    the arithmetic after the draw is ``dualgrad.ops.random``'s, so the numbers match."""
    shape = _shape_of(size)
    if kind == "uniform":
        u = apply(RandomStreamDraw(random_ops.RandomUniform(shape, dtype, 0, 0)), (state,))
        low, high = params
        return u if (low, high) == (0, 1) else ew.add(ew.mul(u, high - low), low)
    if kind == "normal":
        z = apply(RandomStreamDraw(random_ops.RandomNormal(shape, dtype, 0, 0)), (state,))
        avg, std = params
        return z if (avg, std) == (0, 1) else ew.add(ew.mul(z, std), avg)
    n, p = params
    trials = (n,) + shape if n > 1 else shape
    hits = apply(RandomStreamDraw(random_ops.RandomBernoulli(trials, p, dtype, 0, 0)), (state,))
    return ew.cast(reduce_ops.sum(hits, axis=0), dtype) if n > 1 else hits


def advance(trials, state, size):
    """The state after a draw of ``size`` (``trials`` draws per element): the counter
    moves on by the number of elements drawn, as ``dualgrad.ops.random`` does."""
    count = trials * math.prod(_shape_of(size))
    return ew.add(state, numpy.array([0, count], STATE_DTYPE))


def _numbers(what, *params):
    for value in params:
        if not isinstance(value, (int, float, numpy.number)):
            raise TypeError(f"{what}: the distribution's parameters must be numbers, got "
                            f"{type(value).__name__}; scale a standard draw instead, e.g. "
                            "low + (high - low) * srng.uniform(size)")
    return tuple(float(v) for v in params)


def _trials(kind, params):
    return params[0] if kind == "binomial" else 1


def _float_dtype(what, dtype):
    dtype = numpy.dtype(config.floatX if dtype is None else dtype).name
    if dtype not in ("float32", "float64"):
        raise DTypeError(what, f"draws float32 or float64, not {dtype}",
                         hint="draw a float and cast it: srng.uniform(size).astype(...)")
    return dtype


def _size(size):
    if isinstance(size, TensorVariable):
        return size
    if isinstance(size, (int, numpy.integer)):
        return (int(size),)
    return tuple(size)


def _static_shape(size):
    if isinstance(size, TensorVariable):
        n = size.type.shape[0] if size.type.known and size.type.shape else None
        return None if n is None else (None,) * n
    return tuple(int(s) if isinstance(s, (int, numpy.integer)) else None for s in size)


def _shape_of(size):
    shape = tuple(int(s) for s in numpy.asarray(getattr(size, "_array", size)).reshape(-1)) \
        if not isinstance(size, tuple) else tuple(int(s) for s in size)
    if any(s < 0 for s in shape):
        raise ShapeError("RandomStreams", f"size must be non-negative, got {shape}")
    return shape


__all__ = ["RandomState", "RandomStreamDraw", "RandomStreams", "stream_key"]
