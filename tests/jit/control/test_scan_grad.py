"""Gradients through ``dj.scan``: finite differences, the unrolled eager loop, truncated
BPTT, checkpoints, double backprop."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T

N, B, I, H = 7, 2, 3, 4


def _data(seed=0):
    rng = numpy.random.default_rng(seed)
    return (rng.standard_normal((N, B, I)), rng.standard_normal((B, H)),
            rng.standard_normal((B, H)), rng.standard_normal((I, H)) * 0.5,
            rng.standard_normal((H, H)) * 0.5)


def _cell(x, h, c, w, u, tanh, sigmoid, dot):
    """A gated cell with two states and a per-step output (written once for T and F)."""
    a = dot(x, w) + dot(h, u)
    c = c * sigmoid(a) + tanh(a)
    h = tanh(c) * 0.5
    return h, c, (h * h).sum(axis=1)


def _symbolic_step(x, h, c, w, u):
    return _cell(x, h, c, w, u, T.tanh, T.nnet.sigmoid, T.dot)


def _eager_loss(values, go_backwards=False, truncate=-1):
    """The unrolled loop on the tape; with ``truncate``, the steps before the last
    ``truncate`` run without backprop (what truncated BPTT differentiates)."""
    xs, h, c, w, u = values
    loss = 0.0
    for t in range(N):
        row = N - 1 - t if go_backwards else t
        cut = 0 < truncate < N - t
        with dg.no_backprop_mode() if cut else _Nothing():
            h, c, y = _cell(xs[row], h, c, w, u, F.tanh, F.sigmoid, F.matmul)
        loss = loss + F.sum(y * (t + 1.0)) + F.sum(h) * 0.1
    return loss + F.sum(c * c)


class _Nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _compiled_loss_and_grads(**options):
    xs, h0, c0, w, u = T.dtensor3("xs"), T.dmatrix("h0"), T.dmatrix("c0"), T.dmatrix("w"), \
        T.dmatrix("u")
    (hs, cs, ys), _ = dj.scan(_symbolic_step, sequences=xs, outputs_info=[h0, c0, None],
                              non_sequences=[w, u], **options)
    loss = (ys * T.arange(1, N + 1)[:, None]).sum() + hs.sum() * 0.1 + (cs[-1] ** 2).sum()
    inputs = [xs, h0, c0, w, u]
    return dj.function(inputs, [loss] + dj.grad(loss, inputs))


def _eager_grads(data, **options):
    values = [dg.Variable(a.copy()) for a in data]
    loss = _eager_loss(values, **options)
    loss.backward()
    return [loss.array] + [numpy.zeros_like(v.array) if v.grad is None else v.grad
                           for v in values]


@pytest.mark.parametrize("go_backwards", [False, True])
def test_gradients_match_the_unrolled_eager_loop(go_backwards):
    data = _data()
    got = _compiled_loss_and_grads(go_backwards=go_backwards)(*data)
    want = _eager_grads(data, go_backwards=go_backwards)
    for a, b in zip(got, want):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)


def test_gradients_match_float64_finite_differences():
    data = _data(1)
    f = _compiled_loss_and_grads()
    _, *grads = f(*data)
    rng = numpy.random.default_rng(2)
    eps = 1e-6
    for position, g in enumerate(grads):
        direction = rng.standard_normal(data[position].shape)
        up = [a + eps * direction if k == position else a for k, a in enumerate(data)]
        down = [a - eps * direction if k == position else a for k, a in enumerate(data)]
        numeric = (f(*up)[0] - f(*down)[0]) / (2 * eps)
        assert float((g * direction).sum()) == pytest.approx(float(numeric), rel=1e-6)


@pytest.mark.parametrize("truncate,go_backwards", [(3, False), (2, True), (1, False),
                                                   (N, False), (100, True)])
def test_truncated_bptt_matches_a_hand_truncated_eager_loop(truncate, go_backwards):
    data = _data(3)
    got = _compiled_loss_and_grads(truncate_gradient=truncate, go_backwards=go_backwards)(*data)
    want = _eager_grads(data, truncate=truncate, go_backwards=go_backwards)
    for a, b in zip(got, want):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if truncate < N:  # the initial states are further back than the window
        assert not got[2].any() and not got[3].any()


@pytest.mark.parametrize("checkpoint", [1, 2, 3, 7, 10])
def test_checkpointed_backward_gives_the_same_gradients(checkpoint):
    data = _data(4)
    f = _compiled_loss_and_grads(checkpoint=checkpoint)
    got = f(*data)
    want = _eager_grads(data)
    for a, b in zip(got, want):
        numpy.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    if 1 < checkpoint < N:  # the backward stores every k-th state, not all of them
        graph = f.graph(*data)
        marks = [eq for eq in graph.equations
                 if eq.op.name == "Scan" and checkpoint in eq.op.keep]
        assert marks and marks[0].out.aval.shape[0] == N // checkpoint


def test_gradient_of_the_last_value_only():
    x, h0, w = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("w")
    hs, _ = dj.scan(lambda v, h, w: T.tanh(v + T.dot(h, w)), sequences=x, outputs_info=h0,
                    non_sequences=w)
    cost = (hs[-1] ** 2).sum()
    f = dj.function([x, h0, w], dj.grad(cost, [x, h0, w]))
    rng = numpy.random.default_rng(5)
    data = [rng.standard_normal((5, 3)), rng.standard_normal(3), rng.standard_normal((3, 3))]
    loop = next(eq for eq in f.graph(*data).equations if eq.op.name == "Scan")
    assert loop.op.keep == (1,)  # the backward reads every state
    values = [dg.Variable(a) for a in data]
    h = values[1]
    for t in range(5):
        h = F.tanh(values[0][t] + F.matmul(h, values[2]))
    F.sum(h * h).backward()
    for a, v in zip(f(*data), values):
        numpy.testing.assert_allclose(a, v.grad, rtol=1e-12)


def test_double_backprop_through_scan():
    x, h0, w = T.dmatrix("x"), T.dvector("h0"), T.dmatrix("w")
    hs, _ = dj.scan(lambda v, h, w: T.tanh(v + T.dot(h, w)), sequences=x, outputs_info=h0,
                    non_sequences=w)
    cost = (hs * hs).sum()
    g_h0 = dj.grad(cost, h0)
    second = dj.grad((g_h0 * g_h0).sum(), w)
    f = dj.function([x, h0, w], second)
    rng = numpy.random.default_rng(6)
    data = [rng.standard_normal((4, 3)), rng.standard_normal(3), rng.standard_normal((3, 3))]
    values = [dg.Variable(a) for a in data]
    h, total = values[1], 0.0
    for t in range(4):
        h = F.tanh(values[0][t] + F.matmul(h, values[2]))
        total = total + F.sum(h * h)
    (gh,) = dg.grad([total], [values[1]], enable_double_backprop=True)
    F.sum(gh * gh).backward()
    numpy.testing.assert_allclose(f(*data), values[2].grad, rtol=1e-10)


def test_integer_sequences_and_states_get_no_gradient_but_feed_the_body():
    x, k0 = T.dvector("x"), T.lscalar("k0")
    (ks, ys), _ = dj.scan(lambda v, k: (k + 1, v * k), sequences=x, outputs_info=[k0, None])
    g = dj.grad(ys.sum(), x)
    f = dj.function([x, k0], [ys, g])
    ys_value, g_value = f([1.0, 1.0, 1.0], 2)
    numpy.testing.assert_array_equal(ys_value, [2.0, 3.0, 4.0])
    numpy.testing.assert_array_equal(g_value, [2.0, 3.0, 4.0])


def test_compiled_function_called_with_variables_backpropagates_through_the_loop():
    x, h0 = T.dmatrix("x"), T.dvector("h0")
    hs, _ = dj.scan(lambda v, h: T.tanh(v + h), sequences=x, outputs_info=h0)
    f = dj.function([x, h0], (hs * hs).sum())
    rng = numpy.random.default_rng(7)
    xv, hv = dg.Variable(rng.standard_normal((3, 2))), dg.Variable(rng.standard_normal(2))
    f(xv, hv).backward()
    ex, eh = dg.Variable(xv.array.copy()), dg.Variable(hv.array.copy())
    h, total = eh, 0.0
    for t in range(3):
        h = F.tanh(ex[t] + h)
        total = total + F.sum(h * h)
    total.backward()
    numpy.testing.assert_allclose(xv.grad, ex.grad, rtol=1e-12)
    numpy.testing.assert_allclose(hv.grad, eh.grad, rtol=1e-12)


def test_gradient_of_a_loop_over_nothing_but_non_sequences():
    w = T.dvector("w")
    out, _ = dj.scan(lambda w: T.tanh(w) * 2.0, non_sequences=w, n_steps=3)
    f = dj.function([w], dj.grad((out * out).sum(), w))
    v = numpy.array([0.3, -0.5])
    want = 3 * 2 * (2 * numpy.tanh(v)) * 2 * (1 - numpy.tanh(v) ** 2)
    numpy.testing.assert_allclose(f(v), want, rtol=1e-12)
