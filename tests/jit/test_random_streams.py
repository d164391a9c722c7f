"""``dj.RandomStreams``: seed 002's "Random Numbers" example, reproducibility, equality
with the eager Philox ops, dropout in a compiled training step, draws inside scan."""

# The seed's code is kept as written:
# ruff: noqa: I001

import numpy
import pytest

import dualgrad.ops.random as R
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad_jit.random_streams import RandomStreamDraw


def test_002_random_numbers():
    from dualgrad_jit.tensor.shared_randomstreams import RandomStreams
    from dualgrad_jit import function

    srng = RandomStreams(seed=234)
    rv_u = srng.uniform((2,2))
    rv_n = srng.normal((2,2))
    f = function([], rv_u)
    g = function([], rv_n, no_default_updates=True)    #Not updating rv_n.rng
    nearly_zeros = function([], rv_u + rv_u - 2 * rv_u)

    f_val0 = f()
    f_val1 = f()  # different numbers from f_val0
    g_val0 = g()  # different numbers from f_val0 and f_val1
    g_val1 = g()  # same numbers as g_val0!

    assert f_val0.shape == (2, 2) and f_val0.dtype == numpy.float64
    assert ((f_val0 >= 0) & (f_val0 < 1)).all()
    assert not numpy.isin(f_val0, f_val1).any()
    assert not numpy.isin(g_val0, f_val0).any() and not numpy.isin(g_val0, f_val1).any()
    numpy.testing.assert_array_equal(g_val0, g_val1)
    # one draw per call, however often the expression uses it
    numpy.testing.assert_allclose(nearly_zeros(), numpy.zeros((2, 2)), atol=1e-15)


def test_same_seed_same_sequence_and_other_seed_other_numbers():
    def draws(seed):
        srng = dj.RandomStreams(seed)
        u, n = srng.uniform((3,)), srng.normal((2, 2))
        f = dj.function([], [u, n])
        return [a for _ in range(3) for a in f()]

    first, again, other = draws(234), draws(234), draws(235)
    for a, b in zip(first, again):
        numpy.testing.assert_array_equal(a, b)
    assert not numpy.isin(first[0], other[0]).any()


def test_every_backend_draws_the_same_numbers_for_the_same_seed_and_call():
    def draws(backend):
        srng = dj.RandomStreams(234)
        x = T.fvector("x")
        outputs = [srng.uniform((5,)) * x, srng.normal((2, 3)),
                   srng.binomial((4,), p=0.3), T.tanh(srng.uniform((3,), low=-2, high=2))]
        f = dj.function([x], outputs, backend=backend)
        return [a for _ in range(3) for a in f(numpy.arange(5, dtype=numpy.float32))]

    reference = draws("numpy")
    for got, want in zip(draws("llvm"), reference):
        assert got.dtype == want.dtype
        # the draws are bit-identical; tanh of them rounds within an ulp on LLVM
        numpy.testing.assert_allclose(got, want, rtol=2e-7, atol=0)
    for got, want in zip(draws("llvm")[:3], reference[:3]):
        numpy.testing.assert_array_equal(got, want)


def test_draws_equal_the_eager_philox_ops_at_the_same_key_and_counter():
    srng = dj.RandomStreams(7)
    u = srng.uniform((2, 3), dtype="float32")
    n = srng.normal((4,), avg=1.0, std=2.0)
    b = srng.binomial((5,), p=0.3)
    u_state, n_state, b_state = (state for state, _ in srng.state_updates)
    f = dj.function([], [u, n, b])
    for _ in range(2):
        states = [(s.key, s.counter) for s in (u_state, n_state, b_state)]
        got = f()
        R.set_state(states[0])
        numpy.testing.assert_array_equal(got[0], R.uniform((2, 3), "float32").array)
        R.set_state(states[1])
        numpy.testing.assert_array_equal(got[1], R.normal(4, "float64", 1.0, 2.0).array)
        R.set_state(states[2])
        numpy.testing.assert_array_equal(got[2], R.bernoulli(5, 0.3, "int64").array)
        assert got[0].dtype == numpy.float32 and got[2].dtype == numpy.int64
    assert u_state.counter == 12 and n_state.counter == 8 and b_state.counter == 10


def test_distribution_parameters():
    srng = dj.RandomStreams(1)
    u = srng.uniform((20000,), low=-2.0, high=3.0)
    n = srng.normal((20000,), avg=5.0, std=0.5)
    b = srng.binomial((20000,), n=4, p=0.25, dtype="int32")
    uu, nn, bb = dj.function([], [u, n, b])()
    assert uu.min() >= -2.0 and uu.max() < 3.0 and abs(uu.mean() - 0.5) < 0.05
    assert abs(nn.mean() - 5.0) < 0.02 and abs(nn.std() - 0.5) < 0.02
    assert bb.dtype == numpy.int32 and set(numpy.unique(bb)) <= {0, 1, 2, 3, 4}
    assert abs(bb.mean() - 1.0) < 0.05


def test_sizes_from_shapes_and_reseeding():
    x = T.dmatrix("x")
    srng = dj.RandomStreams(3)
    noise = srng.normal(x.shape)
    f = dj.function([x], x + noise)
    first = f(numpy.zeros((2, 5)))
    assert first.shape == (2, 5)
    srng.seed(3)
    numpy.testing.assert_array_equal(f(numpy.zeros((2, 5))), first)  # compiled, reseeded
    srng.seed(4)
    assert not numpy.isin(f(numpy.zeros((2, 5))), first).any()


def test_draw_op_needs_a_uint64_state():
    from dualgrad.core.aval import aval_of
    from dualgrad.errors import DTypeError

    op = RandomStreamDraw(R.RandomUniform((2,), "float32", 0, 0))
    with pytest.raises(DTypeError, match="uint64 array"):
        op.infer(aval_of(numpy.zeros(2)))


def test_dropout_mlp_training_step_matches_numpy_with_the_same_numbers():
    rng = numpy.random.default_rng(0)
    x_value, t_value = rng.standard_normal((8, 4)), rng.standard_normal((8, 2))
    w1 = dj.shared(rng.standard_normal((4, 6)) * 0.5, name="w1")
    w2 = dj.shared(rng.standard_normal((6, 2)) * 0.5, name="w2")
    x, t = T.dmatrix("x"), T.dmatrix("t")
    srng = dj.RandomStreams(seed=11)
    keep, lr = 0.8, 0.1
    h = T.tanh(T.dot(x, w1))
    mask = srng.binomial(h.shape, p=keep, dtype="float64")
    y = T.dot(h * mask / keep, w2)
    loss = ((y - t) ** 2).mean()
    g1, g2 = dj.grad(loss, [w1, w2])
    step = dj.function([x, t], loss, updates=[(w1, w1 - lr * g1), (w2, w2 - lr * g2)])
    state = srng.state_updates[0][0]
    W1, W2 = w1.get_value(), w2.get_value()
    for _ in range(3):
        key, counter = state.key, state.counter
        got = step(x_value, t_value)
        m = R.RandomBernoulli((8, 6), keep, "float64", key, counter).forward(numpy)
        hh = numpy.tanh(x_value @ W1)
        d = hh * m / keep
        yy = d @ W2
        want = ((yy - t_value) ** 2).mean()
        gy = 2 * (yy - t_value) / yy.size
        gW2 = d.T @ gy
        gh = (gy @ W2.T) * m / keep * (1 - hh ** 2)
        gW1 = x_value.T @ gh
        W1, W2 = W1 - lr * gW1, W2 - lr * gW2
        assert float(got) == pytest.approx(want, rel=1e-12)
        numpy.testing.assert_allclose(w1.get_value(), W1, rtol=1e-12)
        numpy.testing.assert_allclose(w2.get_value(), W2, rtol=1e-12)
        assert state.counter == counter + 48


def test_draws_inside_scan_are_fresh_at_every_step_and_call():
    srng = dj.RandomStreams(5)
    x = T.dvector("x")
    out, updates = dj.scan(lambda v: v + srng.uniform(()), sequences=x)
    assert len(updates) == 1
    f = dj.function([x], out, updates=updates)
    first, second = f(numpy.zeros(4)), f(numpy.zeros(4))
    assert len(set(first.tolist()) | set(second.tolist())) == 8
    state = next(iter(updates))
    assert state.counter == 8
    R.set_state((state.key, 0))
    numpy.testing.assert_array_equal(first, [float(R.uniform((), "float64").array)
                                             for _ in range(4)])
