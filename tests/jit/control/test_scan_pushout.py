"""``scan_pushout``: work that does not need a loop's recurrence leaves the loop, and the
rewritten graph computes what the original computed (float64, to 1e-12)."""

import functools

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.core.aval import ShapedArray
from dualgrad.ops.elementwise import Add, Mul, Tanh
from dualgrad.ops.linalg import MatMul
from dualgrad.ops.reduce import Sum
from dualgrad_jit.backends.select import llvm_available, load
from dualgrad_jit.control import Scan, ScanOutput
from dualgrad_jit.ir import GraphBuilder, interpret, verify
from dualgrad_jit.passes import optimize, pipeline
from dualgrad_jit.passes.scan_pushout import push_out_of_loops
from dualgrad_jit.vjp import CompiledGraph

N, B, I, H = 6, 3, 4, 5
F64 = numpy.dtype("float64")


def _data(seed=0, steps=N):
    rng = numpy.random.default_rng(seed)
    return (rng.standard_normal((steps, B, I)), rng.standard_normal((I, H)) * 0.5,
            rng.standard_normal((H, H)) * 0.5, rng.standard_normal(H) * 0.1)


def _rnn_function(backend="numpy", wrt_inputs=True, **options):
    """The tanh RNN of ``examples/rnn_scan.py``: loss and gradients by ``dj.scan`` (for
    the parameters, and the inputs unless ``wrt_inputs`` is False)."""
    xs, W, U, b = T.dtensor3("xs"), T.dmatrix("W"), T.dmatrix("U"), T.dvector("b")
    h0 = T.zeros((xs.shape[1], H), "float64")
    hs, _ = dj.scan(lambda x, h, W, U, b: T.tanh(T.dot(x, W) + T.dot(h, U) + b),
                    sequences=xs, outputs_info=h0, non_sequences=[W, U, b], **options)
    loss = (hs * hs).sum() * 0.5 + hs[-1].sum()
    wrt = [xs, W, U, b] if wrt_inputs else [W, U, b]
    return dj.function([xs, W, U, b], [loss] + dj.grad(loss, wrt), backend=backend)


def _unrewritten_graph(function_builder, args, monkeypatch):
    monkeypatch.setitem(pipeline.PHASES, "scan_pushout", lambda graph, on_fire=None: graph)
    graph = function_builder().graph(*args)
    monkeypatch.undo()
    return graph


def _loops(graph):
    return [eq.op for eq in graph.equations if isinstance(eq.op, Scan)]


def _names(graph):
    return [eq.op.name for eq in graph.equations]


def _assert_same_results(graph, rewritten, args):
    """Both graphs give the same values, interpreted and (where LLVM is there) compiled:
    the compiled program runs its loops itself (``backends.llvm.loop``)."""
    verify(rewritten)
    want = interpret(graph, args)
    runs = [interpret(rewritten, args)]
    if llvm_available():
        runs += [load(graph, "llvm")(args), load(rewritten, "llvm")(args)]
    for got in runs:
        assert len(want) == len(got)
        for w, g in zip(want, got):
            numpy.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)


# -- the RNN -------------------------------------------------------------------------------
@pytest.mark.parametrize("wrt_inputs", [False, True])
def test_the_rnn_loops_keep_only_the_recurrent_products(wrt_inputs, monkeypatch):
    args = _data()
    graph = _unrewritten_graph(lambda: _rnn_function(wrt_inputs=wrt_inputs), args,
                               monkeypatch)
    forward, backward = _loops(graph)
    assert _names(forward.body.graph).count("MatMul") == 2
    assert _names(backward.body.graph).count("MatMul") >= 5  # replay, 3 products, carry
    rewritten = push_out_of_loops(graph)
    forward, backward = _loops(rewritten)
    # x_t @ W left the forward loop: one product for all steps, fed in as a sequence
    assert _names(forward.body.graph).count("MatMul") == 1
    assert forward.n_seqs == 1 and forward.body.graph.in_avals[0].shape == (B, H)
    # the reverse loop: only g_t @ U^T is left; the accumulated gradients of W, U, b
    # are taken after it, the input gradients g_t @ W^T too, and the replayed forward
    # step is the forward loop's output
    assert _names(backward.body.graph).count("MatMul") == 1
    assert "Tanh" not in _names(backward.body.graph)
    assert backward.n_states == 1  # the carried gradient; no accumulators
    assert "Tanh" not in _names(rewritten)  # nothing recomputes the forward step outside
    _assert_same_results(graph, rewritten, args)


def test_compiled_functions_are_rewritten_once():
    args = _data()
    graph = _rnn_function().graph(*args)
    assert [_names(loop.body.graph).count("MatMul") for loop in _loops(graph)] == [1, 1]
    fired = []
    optimize(graph, on_fire=lambda phase, rule, eq: fired.append((phase, rule)))
    assert not [f for f in fired if f[0] == "scan_pushout"]  # nothing left to move


def test_rule_names_are_reported(monkeypatch):
    args = _data()
    graph = _unrewritten_graph(_rnn_function, args, monkeypatch)
    fired = []
    push_out_of_loops(graph, on_fire=lambda rule, eq: fired.append(rule))
    for rule in ("push_out_sequences", "push_out_accumulators", "prune_loop",
                 "reuse_loop_outputs", "transpose_invariant_operands"):
        assert rule in fired


@pytest.mark.parametrize("options", [{}, {"go_backwards": True}, {"truncate_gradient": 2},
                                     {"truncate_gradient": 2, "go_backwards": True},
                                     {"checkpoint": 2}])
def test_rnn_values_and_gradients_equal_the_unrewritten_graph(options, monkeypatch):
    args = _data(seed=1)
    graph = _unrewritten_graph(lambda: _rnn_function(**options), args, monkeypatch)
    rewritten = push_out_of_loops(graph)
    assert sum(_names(loop.body.graph).count("MatMul") for loop in _loops(rewritten)) < \
        sum(_names(loop.body.graph).count("MatMul") for loop in _loops(graph))
    _assert_same_results(graph, rewritten, args)


def test_compiled_functions_with_and_without_the_rewrites_agree(monkeypatch):
    args = _data(seed=2)
    monkeypatch.setitem(pipeline.PHASES, "scan_pushout", lambda graph, on_fire=None: graph)
    reference = _rnn_function()(*args)
    monkeypatch.undo()
    for backend in ["numpy"] + (["llvm"] if llvm_available() else []):
        got = _rnn_function(backend)(*args)
        for g, r in zip(got, reference):
            numpy.testing.assert_allclose(g, r, rtol=1e-12, atol=1e-12)


# -- loops written by hand --------------------------------------------------------------------
def _aval(*shape):
    return ShapedArray(shape, F64)


def _loop_graph(body_fn, seq_avals, state_avals, const_avals, n, read=None, **scan_options):
    """A graph running one ``Scan`` whose body ``body_fn(builder, *inputs)`` returns
    ``(next states, extras)``; its outputs are the loop's outputs (those in ``read``)."""
    body = GraphBuilder()
    inputs = [body.add_input(a) for a in seq_avals + state_avals + const_avals]
    states, extras = body_fn(body, *inputs)
    scan = Scan(CompiledGraph(body.build(list(states) + list(extras))), len(seq_avals),
                len(state_avals), n, **scan_options)
    outer = GraphBuilder()
    operands = [outer.add_input(ShapedArray((n,) + a.shape, F64)) for a in seq_avals] + \
        [outer.add_input(a) for a in state_avals + const_avals]
    first = outer.apply(scan, operands)
    outs = [first] + [outer.apply(ScanOutput(scan, i), [first] + operands)
                      for i in range(1, scan.n_outputs)]
    read = range(len(outs)) if read is None else read
    return outer.build([outs[i] for i in read])


def _random_inputs(graph, seed=3):
    rng = numpy.random.default_rng(seed)
    return [rng.standard_normal(v.shape) * 0.5 for v in graph.inputs]


def test_an_invariant_product_is_hoisted_out_of_the_loop():
    def body(b, x, h, w):
        ww = b.apply(MatMul(), (w, w))  # the same at every step
        return [b.apply(Tanh(), (b.apply(Add(), (b.apply(MatMul(), (h, ww)), x)),))], []

    graph = _loop_graph(body, [_aval(2, 3)], [_aval(2, 3)], [_aval(3, 3)], 5)
    rewritten = push_out_of_loops(graph)
    (loop,) = _loops(rewritten)
    assert _names(loop.body.graph) == ["MatMul", "Add", "Tanh"]
    assert _names(rewritten).count("MatMul") == 1  # w @ w, once, before the loop
    _assert_same_results(graph, rewritten, _random_inputs(graph))


def test_nothing_that_reads_the_state_leaves_the_loop():
    def body(b, x, h, w):
        hw = b.apply(MatMul(), (h, w))  # needs the recurrence
        return [b.apply(Tanh(), (b.apply(Add(), (hw, x)),))], [b.apply(Mul(), (hw, h))]

    graph = _loop_graph(body, [_aval(2, 3)], [_aval(2, 3)], [_aval(3, 3)], 4)
    assert push_out_of_loops(graph) is graph


def test_a_map_stays_a_loop():
    def body(b, x, w):
        return [], [b.apply(Tanh(), (b.apply(MatMul(), (x, w)),))]

    graph = _loop_graph(body, [_aval(2, 3)], [], [_aval(3, 3)], 4)
    assert push_out_of_loops(graph) is graph


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("keep", [0, 1, 2, 3])
def test_per_step_outputs_of_the_sequences_leave_the_loop(go_backwards, keep):
    def body(b, x, y, h, w):
        both = b.apply(Mul(), (b.apply(MatMul(), (x, w)), y))  # two sequences
        h = b.apply(Tanh(), (b.apply(Add(), (h, both)),))
        return [h], [b.apply(Add(), (both, 1.0))]

    graph = _loop_graph(body, [_aval(2, 3), _aval(2, 3)], [_aval(2, 3)], [_aval(3, 3)], 7,
                        go_backwards=go_backwards, keep=(1, keep))
    rewritten = push_out_of_loops(graph)
    (loop,) = _loops(rewritten)
    assert _names(loop.body.graph) == ["Add", "Tanh"] and loop.n_outputs == 1
    _assert_same_results(graph, rewritten, _random_inputs(graph))


def test_per_step_outputs_of_truncated_loops_stay():
    """A truncated backward ignores the early steps' outputs; computed outside the loop,
    they would get gradient."""
    def body(b, x, h, w):
        xw = b.apply(MatMul(), (x, w))
        return [b.apply(Tanh(), (b.apply(Add(), (h, xw)),))], [b.apply(Mul(), (xw, 2.0))]

    graph = _loop_graph(body, [_aval(2, 3)], [_aval(2, 3)], [_aval(3, 3)], 5,
                        truncate_gradient=2)
    rewritten = push_out_of_loops(graph)
    (loop,) = _loops(rewritten)
    assert loop.n_outputs == 2  # x_t @ W * 2 comes in as a sequence, and goes out per step
    assert _names(loop.body.graph) == ["Add", "Tanh"]
    _assert_same_results(graph, rewritten, _random_inputs(graph))


def _accumulating_body(b, x, h, acc_w, acc_b, u):
    """``h' = tanh(h u + x)``; ``acc_w += x^T h'``, ``acc_b += sum_rows(h')``."""
    h = b.apply(Tanh(), (b.apply(Add(), (b.apply(MatMul(), (h, u)), x)),))
    acc_w = b.apply(Add(), (acc_w, b.apply(MatMul(transa=True), (x, h))))
    acc_b = b.apply(Add(), (b.apply(Sum((0,)), (h,)), acc_b))
    return [h, acc_w, acc_b], []


@pytest.mark.parametrize("go_backwards", [False, True])
def test_accumulators_become_sums_after_the_loop(go_backwards):
    graph = _loop_graph(_accumulating_body, [_aval(2, 3)], [_aval(2, 3), _aval(3, 3),
                                                            _aval(3)],
                        [_aval(3, 3)], 6, go_backwards=go_backwards, keep=(1, 0, 0))
    rewritten = push_out_of_loops(graph)
    (loop,) = _loops(rewritten)
    assert loop.n_states == 1 and _names(loop.body.graph).count("MatMul") == 1
    _assert_same_results(graph, rewritten, _random_inputs(graph))


def test_accumulators_stay_in_truncated_loops():
    """A truncated backward would see a sum after the loop as depending on every step."""
    graph = _loop_graph(_accumulating_body, [_aval(2, 3)], [_aval(2, 3), _aval(3, 3),
                                                            _aval(3)],
                        [_aval(3, 3)], 6, keep=(1, 0, 0), truncate_gradient=2)
    assert push_out_of_loops(graph) is graph


def test_accumulators_whose_trajectory_is_read_stay():
    graph = _loop_graph(_accumulating_body, [_aval(2, 3)], [_aval(2, 3), _aval(3, 3),
                                                            _aval(3)],
                        [_aval(3, 3)], 6, keep=(1, 1, 0))
    rewritten = push_out_of_loops(graph)
    (loop,) = _loops(rewritten)
    assert loop.n_states == 2  # acc_w is read at every step; acc_b became a sum
    _assert_same_results(graph, rewritten, _random_inputs(graph))


def test_unread_outputs_and_the_states_only_they_need_are_dropped():
    def body(b, x, h, g, w):
        h = b.apply(Tanh(), (b.apply(Add(), (b.apply(MatMul(), (h, w)), x)),))
        g = b.apply(Mul(), (g, h))  # a state nothing outside reads
        return [h, g], [b.apply(MatMul(), (g, w))]

    graph = _loop_graph(body, [_aval(2, 3)], [_aval(2, 3), _aval(2, 3)], [_aval(3, 3)], 5,
                        read=[0])
    rewritten = push_out_of_loops(graph)
    (loop,) = _loops(rewritten)
    assert loop.n_states == 1 and loop.n_outputs == 1
    assert _names(loop.body.graph) == ["MatMul", "Add", "Tanh"]
    _assert_same_results(graph, rewritten, _random_inputs(graph))


def test_a_loop_of_no_steps_is_left_alone():
    def body(b, x, h, w):
        xw = b.apply(MatMul(), (x, w))
        return [b.apply(Add(), (h, xw))], []

    graph = _loop_graph(body, [_aval(2, 3)], [_aval(2, 3)], [_aval(3, 3)], 0)
    assert push_out_of_loops(graph) is graph


# -- gradients of a rewritten loop ------------------------------------------------------------
def _traced_rnn_loss(xs, W, U, b, truncate=-1, go_backwards=False):
    h0 = numpy.zeros((B, H))
    hs, _ = dj.scan(lambda x, h, W, U, b: F.tanh(F.matmul(x, W) + F.matmul(h, U) + b),
                    sequences=xs, outputs_info=h0, non_sequences=[W, U, b],
                    truncate_gradient=truncate, go_backwards=go_backwards)
    return F.sum(hs * hs) + F.sum(hs[-1])


def _gradients(function, data):
    values = [dg.Variable(a.copy()) for a in data]
    loss = function(*values)
    loss.backward()
    return [loss.array] + [v.grad for v in values]


@pytest.mark.parametrize("options", [{}, {"truncate": 2}, {"truncate": 3, "go_backwards": True}])
def test_a_traced_loop_is_rewritten_and_differentiated_like_the_eager_one(options):
    """``dj.jit`` differentiates the optimised graph: the rewritten loop's gradient, with
    its truncation, is the eager loop's."""
    data = _data(seed=4)
    loss = functools.partial(_traced_rnn_loss, **options)
    compiled = dj.jit(loss, backend="numpy")
    got, want = _gradients(compiled, data), _gradients(loss, data)
    for g, w in zip(got, want):
        numpy.testing.assert_allclose(g, w, rtol=1e-12, atol=1e-12)
    (variant,) = compiled.variants(*[dg.Variable(a) for a in data])
    (loop,) = _loops(variant.graph)
    assert _names(loop.body.graph).count("MatMul") == 1  # x_t @ W was pushed out
