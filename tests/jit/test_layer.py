"""Compiled graphs as layers: one node on the tape, a derived backward that recomputes
nothing, double backprop, and dj.jit replays that join the tape."""

import numpy as np
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad.links as L
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.core.aval import aval_of
from dualgrad.gradient_check import check_backward, check_double_backward
from dualgrad.ops import elementwise as ew
from dualgrad.ops import random as random_ops
from dualgrad_jit.layer import CompiledCall, CompiledFunction, call
from dualgrad_jit.vjp import CompiledGraph, derive, trace_graph


def mlp_loss(x, w1, w2):
    return F.sum(F.tanh(F.matmul(x, w1)) * F.exp(F.matmul(x, w2)))


def compiled(fn, *arrays):
    return CompiledGraph(trace_graph(fn, *[aval_of(a) for a in arrays]))


@pytest.fixture
def arrays():
    rng = np.random.default_rng(0)
    return rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal((4, 3))


def test_a_compiled_graph_is_one_node_with_eager_gradients(arrays):
    fn = compiled(mlp_loss, *arrays)
    xs = [dg.Variable(a.copy()) for a in arrays]
    y, = call(fn, xs)
    assert isinstance(y.creator.op, CompiledCall)
    assert all(x.creator is None for x in y.creator.inputs)  # nothing else on the tape
    y.backward()
    eager = [dg.Variable(a.copy()) for a in arrays]
    expected = mlp_loss(*eager)
    expected.backward()
    np.testing.assert_allclose(y.array, expected.array)
    for x, e in zip(xs, eager):
        np.testing.assert_allclose(x.grad, e.grad, rtol=1e-12)


def test_backward_and_double_backward_match_finite_differences(arrays):
    fn = compiled(mlp_loss, *arrays)

    def f(*xs):
        return call(fn, xs)[0]

    check_backward(f, arrays, None, atol=1e-6)
    directions = tuple(np.random.default_rng(1).standard_normal(a.shape) for a in arrays)
    check_double_backward(f, arrays, np.array(0.7), directions, atol=1e-5)


def test_the_first_backward_recomputes_nothing_of_the_forward(arrays, monkeypatch):
    fn = compiled(mlp_loss, *arrays)
    calls = []
    exp_forward, tanh_forward = ew.Exp.forward, ew.Tanh.forward
    monkeypatch.setattr(ew.Exp, "forward", lambda op, xp, x: calls.append("exp")
                        or exp_forward(op, xp, x))
    monkeypatch.setattr(ew.Tanh, "forward", lambda op, xp, x: calls.append("tanh")
                        or tanh_forward(op, xp, x))
    xs = [dg.Variable(a.copy()) for a in arrays]
    y, = call(fn, xs)
    assert sorted(calls) == ["exp", "tanh"]
    y.backward(retain_graph=True)
    assert sorted(calls) == ["exp", "tanh"]  # the residuals were reused
    grads = [x.grad.copy() for x in xs]
    for x in xs:
        x.cleargrad()
    y.backward()  # a second backward through the kept graph recomputes: still right
    assert len(calls) > 2
    for x, g in zip(xs, grads):
        np.testing.assert_allclose(x.grad, g, rtol=1e-12)


def test_the_backward_graphs_read_residuals_instead_of_recomputing(arrays):
    fn = compiled(mlp_loss, *arrays)
    derivation = derive(fn, (True, True, True))
    forward_values = {(eq.op, eq.inputs) for eq in derivation.forward.equations}
    backward = derivation.backward[0]
    assert derivation.n_residuals > 0
    assert not [eq for eq in backward.equations if (eq.op, eq.inputs) in forward_values]
    gy_position = len(arrays)
    reads_gy = {backward.inputs[gy_position].id}
    for eq in backward.equations:  # every backward equation depends on the output gradient
        assert any(getattr(x, "id", None) in reads_gy for x in eq.inputs), eq
        reads_gy.add(eq.out.id)


def test_several_outputs_share_one_forward_run(arrays, monkeypatch):
    def two(x, w1, w2):
        h = F.exp(F.matmul(x, w1))
        return F.sum(h @ (w2.T @ w2)), F.tanh(h)

    fn = compiled(two, *arrays)
    runs = []
    exp_forward = ew.Exp.forward
    monkeypatch.setattr(ew.Exp, "forward", lambda op, xp, x: runs.append(1)
                        or exp_forward(op, xp, x))
    xs = [dg.Variable(a.copy()) for a in arrays]
    a, b = call(fn, xs)
    assert len(runs) == 1 and a.creator is not b.creator
    (a + F.sum(b * b)).backward()
    eager = [dg.Variable(c.copy()) for c in arrays]
    ea, eb = two(*eager)
    (ea + F.sum(eb * eb)).backward()
    for x, e in zip(xs, eager):
        np.testing.assert_allclose(x.grad, e.grad, rtol=1e-10)


def test_third_derivative_equals_eager():
    x0 = np.array([0.3, -1.2, 0.8])
    fn = compiled(lambda x: F.sum(F.tanh(x) * x), x0)

    def third(f):
        x = dg.Variable(x0.copy())
        y = f(x)
        g1, = dg.grad([y], [x], enable_double_backprop=True)
        g2, = dg.grad([F.sum(g1)], [x], enable_double_backprop=True)
        g3, = dg.grad([F.sum(g2)], [x])
        return g3.array

    np.testing.assert_allclose(third(lambda x: call(fn, [x])[0]),
                               third(lambda x: F.sum(F.tanh(x) * x)), rtol=1e-12)


def test_inputs_not_wanting_gradients_get_none_and_ints_pass_through():
    rng = np.random.default_rng(0)
    x, t = rng.standard_normal((4, 3)), np.array([0, 2, 1, 1], np.int32)
    fn = compiled(F.softmax_cross_entropy, x, t)
    v = dg.Variable(x)
    loss, = call(fn, [v, t])
    loss.backward()
    expected = dg.Variable(x)
    F.softmax_cross_entropy(expected, t).backward()
    np.testing.assert_allclose(v.grad, expected.grad, rtol=1e-12)
    with dg.no_backprop_mode():
        assert call(fn, [dg.Variable(x), t])[0].creator is None


def test_wrong_shapes_and_dtypes_are_typed_errors_with_the_fix(arrays):
    fn = compiled(mlp_loss, *arrays)
    with pytest.raises(dg.ShapeError, match=r"input 0 has shape \(2, 4\)(.|\n)*fix: pass arrays"):
        call(fn, [np.zeros((2, 4)), arrays[1], arrays[2]])
    with pytest.raises(dg.DTypeError, match="astype"):
        call(fn, [arrays[0].astype(np.float32), arrays[1], arrays[2]])


def test_the_graph_prints_as_one_call_and_lowers_to_its_equations(arrays):
    fn = compiled(mlp_loss, *arrays)
    op = CompiledCall(fn, 0)
    assert op == CompiledCall(compiled(mlp_loss, *arrays), 0)  # equal by canonical text
    assert repr(fn).startswith("graph#")
    decompose = op.lower().decompose
    inline = decompose(*[dg.Variable(a, requires_grad=False) for a in arrays])
    np.testing.assert_allclose(inline.array, mlp_loss(*arrays).array)


# -- dj.jit replays join the tape --------------------------------------------------------------
class MLP(dg.Chain):
    def __init__(self, dtype=np.float32):
        super().__init__()
        with self.init_scope():
            self.l1 = L.Linear(4, 6)
            self.l2 = L.Linear(6, 3)
        for p in self.params():
            p.array = p.array.astype(dtype)

    def forward(self, x):
        return self.l2(F.tanh(self.l1(x)))


def test_jitted_forward_gives_eager_parameter_gradients_and_accumulates():
    np.random.seed(0)
    model = MLP()
    twin = model.copy(mode="copy")
    step = dj.jit(lambda x, t: F.softmax_cross_entropy(model(x), t))
    rng = np.random.default_rng(0)
    for call_number in range(4):
        x = rng.standard_normal((5, 4)).astype(np.float32)
        t = rng.integers(0, 3, 5).astype(np.int32)
        loss = step(x, t)
        loss.backward()  # no cleargrads: gradients accumulate, as in eager
        expected = F.softmax_cross_entropy(twin(x), t)
        expected.backward()
        assert float(loss.array) == pytest.approx(float(expected.array), rel=1e-6)
        for (path, p), (_, q) in zip(model.namedparams(), twin.namedparams()):
            np.testing.assert_allclose(p.grad, q.grad, rtol=1e-5, atol=1e-6, err_msg=path)
        if call_number:
            assert isinstance(loss.creator.op, CompiledCall)
    assert step.stats["traces"] == 1 and step.stats["replays"] == 3


def test_double_backprop_through_a_jitted_function_equals_eager():
    np.random.seed(1)
    model = MLP(np.float64)
    penalty = dj.jit(lambda x: F.sum(model(x) ** 2))
    x0 = np.random.default_rng(1).standard_normal((3, 4))

    def gradient_penalty(f):
        x = dg.Variable(x0.copy())
        gx, = dg.grad([f(x)], [x], enable_double_backprop=True)
        gw, = dg.grad([F.sum(gx * gx)], [model.l1.W])
        return gw.array

    expected = gradient_penalty(lambda x: F.sum(model(x) ** 2))
    for _ in range(3):  # the trace, then replays through CompiledCall
        np.testing.assert_allclose(gradient_penalty(penalty), expected, rtol=1e-10)
    check_double_backward(lambda x: penalty(x), x0, np.array(1.0),
                          np.random.default_rng(2).standard_normal(x0.shape))


def test_jitted_dropout_replays_its_draws_into_the_gradient():
    np.random.seed(2)
    model = MLP(np.float64)
    twin = model.copy(mode="copy")
    noisy = dj.jit(lambda x: F.sum(F.dropout(model(x), 0.5) ** 2))
    x = np.random.default_rng(3).standard_normal((4, 4))
    for _ in range(3):
        state = random_ops.get_state()
        model.cleargrads()
        noisy(x).backward()
        random_ops.set_state(state)
        twin.cleargrads()
        F.sum(F.dropout(twin(x), 0.5) ** 2).backward()
        for (path, p), (_, q) in zip(model.namedparams(), twin.namedparams()):
            np.testing.assert_allclose(p.grad, q.grad, rtol=1e-10, err_msg=path)


def test_jit_replays_stay_off_the_tape_without_backprop_or_gradients():
    model = MLP()
    forward = dj.jit(lambda x: model(x))
    x = np.ones((2, 4), np.float32)
    forward(x)
    with dg.no_backprop_mode():
        assert forward(x).creator is None
    assert dj.jit(lambda x: x * 2.0)(x).creator is None


def test_jit_results_join_the_tape_exactly_where_eager_ones_do():
    def slope(x, double):
        gx, = dg.grad([F.sum(x * x * x)], [x], enable_double_backprop=double)
        return gx

    compiled = dj.jit(slope, static_argnums=(1,))
    for _ in range(2):  # the trace, then a replay
        assert compiled(dg.Variable(np.array([2.0])), False).creator is None
        x = dg.Variable(np.array([2.0]))
        gx = compiled(x, True)
        gx.backward()
        np.testing.assert_array_equal(x.grad, [12.0])  # d2/dx2 x**3 = 6x


def test_a_compiled_graph_called_inside_jit_is_inlined(arrays):
    fn = compiled(mlp_loss, *arrays)
    outer = dj.jit(lambda x, w1, w2: call(fn, (x, w1, w2))[0] * 2.0)
    xs = [dg.Variable(a.copy()) for a in arrays]
    outer(*xs)
    result = outer(*xs)
    (graph_variant,) = outer.variants(*xs)
    assert not any(isinstance(eq.op, CompiledCall) for eq in graph_variant.graph.equations)
    result.backward()
    eager = [dg.Variable(a.copy()) for a in arrays]
    (mlp_loss(*eager) * 2.0).backward()
    for x, e in zip(xs, eager):
        np.testing.assert_allclose(x.grad, e.grad, rtol=1e-10)


# -- dj.CompiledFunction: a symbolic graph as a layer --------------------------------------------
def conv_layer(dtype_constructor):
    x, w = dtype_constructor("x"), dtype_constructor("w")
    b = T.dvector("b") if dtype_constructor is T.dtensor4 else T.fvector("b")
    y = T.nnet.conv2d(x, w, border_mode="half") + b.dimshuffle("x", 0, "x", "x")
    return CompiledFunction(inputs=[x, w, b], outputs=[T.tanh(y)])


def conv_arrays(dtype=np.float64):
    rng = np.random.default_rng(4)
    return (rng.standard_normal((2, 2, 5, 5)).astype(dtype),
            rng.standard_normal((3, 2, 3, 3)).astype(dtype),
            rng.standard_normal(3).astype(dtype))


def test_compiled_function_gradients_and_double_backprop_match_finite_differences():
    f = conv_layer(T.dtensor4)
    arrays = conv_arrays()
    y = f(*arrays)
    assert isinstance(y, dg.Variable) and y.shape == (2, 3, 5, 5)
    gy = np.random.default_rng(5).standard_normal(y.shape)
    check_backward(f, arrays, gy, atol=1e-6)
    directions = tuple(np.random.default_rng(6).standard_normal(a.shape) for a in arrays)
    check_double_backward(f, arrays, gy, directions, atol=1e-5)


def test_compiled_function_trains_inside_a_chain_like_eager_code():
    class Net(dg.Chain):
        def __init__(self):
            super().__init__()
            self.conv = conv_layer(T.ftensor4)
            with self.init_scope():
                self.W = dg.Parameter(np.random.default_rng(0).standard_normal(
                    (3, 2, 3, 3)).astype(np.float32) * 0.3)
                self.b = dg.Parameter(np.zeros(3, np.float32))
                self.out = L.Linear(75, 2)

        def forward(self, x, eager=False):
            if eager:  # the same math: Theano's conv2d flips the filters
                h = F.convolution_2d(x, self.W[:, :, ::-1, ::-1], self.b, pad=1)
                return self.out(F.tanh(h))
            return self.out(self.conv(x, self.W, self.b))

    np.random.seed(3)
    net = Net()
    twin = net.copy(mode="copy")
    opt = dg.optimizers.Adam().setup(net)
    opt_twin = dg.optimizers.Adam().setup(twin)
    x = conv_arrays(np.float32)[0]
    t = np.array([0, 1], np.int32)
    for _ in range(3):
        for model, o, eager in ((net, opt, False), (twin, opt_twin, True)):
            model.cleargrads()
            F.softmax_cross_entropy(model(x, eager), t).backward()
            o.update()
        for (path, p), (_, q) in zip(net.namedparams(), twin.namedparams()):
            np.testing.assert_allclose(p.array, q.array, rtol=1e-4, atol=1e-6, err_msg=path)


def test_compiled_function_outputs_arguments_and_errors():
    x, w = T.dmatrices("x", "w")
    both = CompiledFunction(inputs=[x, w], outputs=[x @ w, T.sum(x)])
    first, second = both([[1.0, 2.0]], dg.Parameter(np.eye(2)))  # lists become arrays
    np.testing.assert_array_equal(first.array, [[1.0, 2.0]])
    assert float(second.array) == 3.0 and second.creator is None  # no input wants a gradient
    single = CompiledFunction(inputs=[x], outputs=T.exp(x))
    assert isinstance(single(np.zeros((1, 1))), dg.Variable)
    with pytest.raises(dg.DTypeError, match="F.cast"):
        single(dg.Variable(np.zeros((1, 1), np.float32)))
    with pytest.raises(dg.ShapeError, match="2-dimensional"):
        single(np.zeros(3))


def test_compiled_function_reads_shared_variables_on_every_call():
    x = T.dvector("x")
    scale = dj.shared(np.array(2.0), name="scale")
    f = CompiledFunction(inputs=[x], outputs=[x * scale])
    v = dg.Variable(np.ones(2))
    np.testing.assert_array_equal(f(v).array, [2.0, 2.0])
    scale.set_value(np.array(3.0))
    y = f(v)
    F.sum(y).backward()
    np.testing.assert_array_equal(y.array, [3.0, 3.0])
    np.testing.assert_array_equal(v.grad, [3.0, 3.0])


def test_a_compiled_function_of_a_symbolic_gradient_differentiates_again():
    x = T.dvector("x")
    slope = CompiledFunction(inputs=[x], outputs=[dj.grad(T.sum(T.tanh(x) ** 2), x)])
    x0 = np.array([0.3, -0.7, 1.1])
    v = dg.Variable(x0.copy())
    F.sum(slope(v)).backward()
    e = dg.Variable(x0.copy())
    g, = dg.grad([F.sum(F.tanh(e) ** 2)], [e], enable_double_backprop=True)
    F.sum(g).backward()
    np.testing.assert_allclose(v.grad, e.grad, rtol=1e-12)
