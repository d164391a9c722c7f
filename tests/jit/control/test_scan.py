"""``dj.scan``: Theano's semantics, symbolically, traced and eagerly; the loop op itself."""

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.errors import DTypeError, ShapeError
from dualgrad_jit.control import Scan, ScanOutput, set_body_runner
from dualgrad_jit.control.body import interpret_body

RNG = numpy.random.default_rng(0)


def _numpy_loop(xs, h0, w, go_backwards=False, n_steps=None):
    """``h = tanh(x_t + h w)`` and ``y_t = sum(h)`` in numpy: the reference."""
    n = len(xs) if n_steps is None else n_steps
    rows = xs[len(xs) - n:][::-1] if go_backwards else xs[:n]
    h, hs, ys = h0, [], []
    for x in rows:
        h = numpy.tanh(x + h @ w)
        hs.append(h)
        ys.append(h.sum())
    return numpy.array(hs), numpy.array(ys)


def _step(x, h, w):
    h = T.tanh(x + T.dot(h, w))
    return h, h.sum()


@pytest.mark.parametrize("go_backwards", [False, True])
def test_recurrent_and_plain_outputs_match_a_numpy_loop(go_backwards):
    xs, h0, w = T.dmatrix("xs"), T.dvector("h0"), T.dmatrix("w")
    (hs, ys), updates = dj.scan(_step, sequences=xs, outputs_info=[h0, None],
                                non_sequences=w, go_backwards=go_backwards)
    assert updates == {}
    f = dj.function([xs, h0, w], [hs, ys])
    data = RNG.standard_normal((5, 3)), RNG.standard_normal(3), RNG.standard_normal((3, 3))
    got = f(*data)
    want = _numpy_loop(*data, go_backwards=go_backwards)
    for a, b in zip(got, want):
        numpy.testing.assert_allclose(a, b, rtol=1e-12)


def test_several_sequences_run_over_the_shortest_and_n_steps_cuts_them():
    a, b = T.dvector("a"), T.dvector("b")
    out, _ = dj.scan(lambda x, y: x * y, sequences=[a, b])
    f = dj.function([a, b], out)
    numpy.testing.assert_array_equal(f([1, 2, 3, 4], [10, 20, 30]), [10, 40, 90])
    k = T.iscalar("k")
    cut, _ = dj.scan(lambda x, y: x * y, sequences=[a, b], n_steps=k)
    g = dj.function([a, b, k], cut)
    numpy.testing.assert_array_equal(g([1, 2, 3], [1, 1, 1], 2), [1, 2])
    numpy.testing.assert_array_equal(g([1, 2, 3], [1, 1, 1], 0), numpy.zeros(0))
    with pytest.raises(ShapeError, match="n_steps=4 but a sequence has only 3"):
        g([1, 2, 3], [1, 1, 1], 4)


def test_go_backwards_with_fewer_steps_reads_the_last_entries():
    a = T.dvector("a")
    out, _ = dj.scan(lambda x: x * 1.0, sequences=a, n_steps=2, go_backwards=True)
    f = dj.function([a], out)
    numpy.testing.assert_array_equal(f([1, 2, 3, 4]), [4, 3])


def test_symbolic_n_steps_specialises_the_compiled_function_on_its_value():
    k, x0 = T.iscalar("k"), T.dscalar("x0")
    out, _ = dj.scan(lambda x: x * 2.0, outputs_info=x0, n_steps=k)
    f = dj.function([x0, k], out)
    numpy.testing.assert_array_equal(f(1.0, 3), [2, 4, 8])
    numpy.testing.assert_array_equal(f(1.0, 5), [2, 4, 8, 16, 32])
    numpy.testing.assert_array_equal(f(1.0, 3), [2, 4, 8])
    assert len(f._cache) == 2


def test_outer_variables_read_by_fn_are_passed_in_not_recomputed_per_step():
    x, w = T.dvector("x"), T.dmatrix("w")
    scale = (w * w).sum()  # computed outside the loop, captured by the closure
    out, _ = dj.scan(lambda v: v * scale, sequences=x)
    f = dj.function([x, w], out)
    numpy.testing.assert_allclose(f([1.0, 2.0], numpy.ones((2, 2))), [4.0, 8.0])
    loop = next(eq for eq in f.graph([1.0, 2.0], numpy.ones((2, 2))).equations
                if isinstance(eq.op, Scan))
    assert loop.op.n_consts == 1 and len(loop.op.body.graph.equations) == 1


def test_shared_variables_in_the_body_are_read_at_each_call():
    w = dj.shared(numpy.array(2.0))
    x = T.dvector("x")
    out, _ = dj.scan(lambda v: v * w, sequences=x)
    f = dj.function([x], out)
    numpy.testing.assert_array_equal(f([1.0, 2.0]), [2.0, 4.0])
    w.set_value(numpy.array(3.0))
    numpy.testing.assert_array_equal(f([1.0, 2.0]), [3.0, 6.0])


def test_single_output_is_bare_and_several_are_a_list():
    x = T.dvector("x")
    one, _ = dj.scan(lambda v: v + 1, sequences=x)
    two, _ = dj.scan(lambda v: (v + 1, v * 2), sequences=x)
    assert isinstance(one, T.TensorVariable) and isinstance(two, list) and len(two) == 2
    listed, _ = dj.scan(lambda v: v + 1, sequences=x, return_list=True)
    assert isinstance(listed, list)


def test_map_reduce_foldl_foldr():
    x = T.dvector("x")
    squares, _ = dj.map(lambda v: v * v, x)
    total, _ = dj.reduce(lambda v, acc: acc + v, x, T.constant(0.0))
    left, _ = dj.foldl(lambda v, acc: acc * 10 + v, x, T.constant(0.0))
    right, _ = dj.foldr(lambda v, acc: acc * 10 + v, x, T.constant(0.0))
    f = dj.function([x], [squares, total, left, right])
    got = f([1.0, 2.0, 3.0])
    numpy.testing.assert_array_equal(got[0], [1, 4, 9])
    assert (float(got[1]), float(got[2]), float(got[3])) == (6.0, 123.0, 321.0)


def test_recurrent_output_must_keep_the_initial_values_dtype_and_rank():
    with pytest.raises(DTypeError, match="output 0 of fn is .*float64.* but its initial"):
        dj.scan(lambda h: h * T.constant(2.0), outputs_info=T.fvector("h0"), n_steps=2)
    with pytest.raises(ShapeError, match="a recurrent output must keep the shape"):
        dj.scan(lambda h: h.sum(), outputs_info=T.dvector("h0"), n_steps=2)
    with pytest.raises(ValueError, match="fn returned 2 outputs but outputs_info has 1"):
        dj.scan(lambda h: (h, h), outputs_info=[T.dvector("h0")], n_steps=2)


def test_eager_scan_runs_on_the_tape_and_stacks():
    w = dg.Parameter(numpy.array([[0.5, -0.2], [0.1, 0.3]]))
    xs = RNG.standard_normal((4, 2))
    hs, updates = dj.scan(lambda x, h: F.tanh(x + F.matmul(h, w)), sequences=xs,
                          outputs_info=numpy.zeros(2))
    want, _ = _numpy_loop(xs, numpy.zeros(2), w.array)
    numpy.testing.assert_allclose(hs.array, want)
    F.sum(hs).backward()
    eps, expected = 1e-6, numpy.zeros((2, 2))
    for index in numpy.ndindex(2, 2):
        bump = numpy.zeros((2, 2))
        bump[index] = eps
        up = _numpy_loop(xs, numpy.zeros(2), w.array + bump)[0].sum()
        down = _numpy_loop(xs, numpy.zeros(2), w.array - bump)[0].sum()
        expected[index] = (up - down) / (2 * eps)
    numpy.testing.assert_allclose(w.grad, expected, rtol=1e-6)


def test_traced_scan_is_one_loop_equation_and_matches_eager():
    w = dg.Parameter(numpy.array([[0.5, -0.2], [0.1, 0.3]]))

    def loss(xs):
        hs, _ = dj.scan(lambda x, h: F.tanh(x + F.matmul(h, w)), sequences=xs,
                        outputs_info=numpy.zeros(2))
        return F.sum(hs * hs)

    xs = RNG.standard_normal((6, 2))
    eager = loss(dg.Variable(xs))
    eager.backward()
    expected, w.grad = w.grad.copy(), None
    f = dj.jit(loss)
    for _ in range(2):  # the trace, then a replay
        value = f(xs)
        value.backward()
        numpy.testing.assert_allclose(value.array, eager.array, rtol=1e-12)
        numpy.testing.assert_allclose(w.grad, expected, rtol=1e-12)
        w.cleargrad()
    (variant,) = f.variants(xs)
    names = [eq.op.name for eq in variant.graph.equations]
    assert names.count("Scan") == 1 and "Tanh" not in names  # the body is not unrolled


def test_each_step_runs_the_body_through_the_installed_runner():
    calls = []

    def counting(fn, arrays, xp):
        calls.append(fn)
        return interpret_body(fn, arrays, xp)

    x = T.dvector("x")
    out, _ = dj.scan(lambda v: v * 3.0, sequences=x)
    f = dj.function([x], out)
    previous = set_body_runner(counting)
    try:
        numpy.testing.assert_array_equal(f([1.0, 2.0, 3.0, 4.0]), [3, 6, 9, 12])
    finally:
        set_body_runner(previous)
    assert len(calls) == 4 and len(set(calls)) == 1


def test_a_loop_with_several_outputs_runs_once():
    calls = []

    def counting(fn, arrays, xp):
        calls.append(fn)
        return interpret_body(fn, arrays, xp)

    x = T.dvector("x")
    (a, b, c), _ = dj.scan(lambda v: (v + 1, v * 2, v - 1), sequences=x)
    f = dj.function([x], [a, b, c])
    graph = f.graph([1.0, 2.0])
    assert [eq.op.name for eq in graph.equations] == ["Scan", "ScanOutput", "ScanOutput"]
    previous = set_body_runner(counting)
    try:
        got = f([1.0, 2.0])
    finally:
        set_body_runner(previous)
    assert len(calls) == 2  # two steps, one loop for the three outputs
    numpy.testing.assert_array_equal(numpy.array(got), [[2, 3], [2, 4], [0, 1]])


def test_outputs_read_only_at_their_last_step_keep_one_value_and_unread_ones_leave():
    x, h0 = T.dvector("x"), T.dscalar("h0")
    (h, s), _ = dj.scan(lambda v, h: (h + v, h * v), sequences=x, outputs_info=[h0, None])
    f = dj.function([x, h0], h[-1])
    graph = f.graph([1.0, 2.0, 3.0], 0.0)
    assert [eq.op.name for eq in graph.equations] == ["Scan"]
    assert graph.equations[0].op.keep == (0,)  # the unread output left the loop
    assert graph.equations[0].out.aval.shape == ()
    assert float(f([1.0, 2.0, 3.0], 0.0)) == 6.0
    g = dj.function([x, h0], [h[-1], s])  # s stacked, h last only
    (loop, second) = g.graph([1.0, 2.0], 0.0).equations
    assert loop.op.keep == (0, 1) and second.out.aval.shape == (2,)
    got = g([1.0, 2.0], 0.0)
    assert float(got[0]) == 3.0
    numpy.testing.assert_array_equal(got[1], [0.0, 2.0])


def test_a_stacked_output_read_whole_stays_stacked():
    x = T.dvector("x")
    out, _ = dj.scan(lambda v: v * 2, sequences=x)
    f = dj.function([x], [out, out[-1]])
    loop = f.graph([1.0, 2.0]).equations[0]
    assert loop.op.keep == (1,) and loop.out.aval.shape == (2,)
    got = f([1.0, 2.0])
    numpy.testing.assert_array_equal(got[0], [2.0, 4.0])
    assert float(got[1]) == 4.0


def test_scan_output_refuses_a_handle_of_the_wrong_type():
    from dualgrad.core.aval import aval_of
    from dualgrad_jit.control.body import trace_body
    from dualgrad_jit.vjp import CompiledGraph

    graph, _, _ = trace_body(lambda h: (h + 1.0, h * 2.0), [aval_of(numpy.zeros(2))])
    loop = Scan(CompiledGraph(graph), 0, 1, 3)
    with pytest.raises(ShapeError, match="must be the loop's output 0"):
        ScanOutput(loop, 1).infer(aval_of(numpy.zeros(2)), aval_of(numpy.zeros(2)))
    with pytest.raises(IndexError):
        ScanOutput(loop, 2)


def test_eager_scan_of_zero_steps_gives_empty_stacks_of_the_right_shape():
    out, _ = dj.scan(lambda x, h: (h + x, F.sum(x)), sequences=numpy.zeros((0, 3)),
                     outputs_info=[numpy.ones(3), None])
    assert [tuple(o.shape) for o in out] == [(0, 3), (0,)]


def test_eager_random_draws_in_a_traced_body_are_refused_with_the_fix():
    from dualgrad.errors import DualgradError

    f = dj.jit(lambda xs: dj.scan(lambda x: x + F.dropout(x, 0.5), sequences=xs)[0])
    with dg.using_config("train", True), pytest.raises(DualgradError, match="RandomStreams"):
        f(numpy.ones((3, 2)))
