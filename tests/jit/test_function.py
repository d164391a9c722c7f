"""dj.function: inputs and defaults, argument conversion, shared variables and updates,
givens, intermediate inputs, the shape cache, and the typed errors."""

import numpy as np
import pytest

import dualgrad as dg
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.errors import ConcretizationError, DTypeError, ShapeError
from dualgrad_jit.symbolic_function import InputError, UnusedInputError
from dualgrad_jit.tensor.evaluate import MissingInputError


# -- the stabilisation checks, through dj.function -----------------------------------
def test_log_of_one_plus_tiny_x_is_exact():
    x = T.dscalar("x")
    f = dj.function([x], T.log(1 + x))
    assert f(1e-20) == 1e-20
    assert "Log1p" in str(f.graph(1e-20))


def test_log_of_one_plus_exp_never_overflows():
    x = T.dscalar("x")
    f = dj.function([x], T.log(1 + T.exp(x)))
    assert f(1000) == 1000.0
    assert f(-1000) == 0.0
    np.testing.assert_allclose(f(0.5), np.log1p(np.exp(0.5)), rtol=1e-15)


# -- inputs -------------------------------------------------------------------------------------
def test_defaults_positions_and_keywords():
    x, y, w = T.dscalars("x", "y", "w")
    g = dj.function([x, dj.In(y, value=1), dj.In(w, value=2, name="w_by_name")], (x + y) * w)
    assert (g(33), g(33, 0, 1), g(33, w_by_name=1), g(33, w_by_name=1, y=0)) == (
        68.0, 33.0, 34.0, 33.0)
    with pytest.raises(InputError, match="missing input 0"):
        g()
    with pytest.raises(InputError, match="takes 3 inputs, got 4"):
        g(1, 2, 3, 4)
    with pytest.raises(InputError, match="no input named 'v'.*'w_by_name'"):
        g(1, v=2)
    with pytest.raises(InputError, match="twice"):
        g(1, 2, y=3)


def test_array_likes_are_converted_to_the_input_dtype():
    v = T.fvector("v")
    k = T.iscalar("k")
    f = dj.function([v, k], [v, k])
    out, count = f(range(4), 3)
    assert (out.dtype, count.dtype) == (np.float32, np.int32)
    np.testing.assert_array_equal(out, [0, 1, 2, 3])
    np.testing.assert_allclose(f([0.1, 0.2], 1)[0], np.float32([0.1, 0.2]))  # rounds to f32
    with pytest.raises(DTypeError, match=r"input 0 \('v'\).*may lose precision"):
        f(np.array([0.1]), 1)  # a float64 array needs an explicit cast, as in Theano
    with pytest.raises(DTypeError, match="would become"):
        f([1.0], 2.5)  # 2.5 is not an int32
    g = dj.function([v], v * 2, allow_input_downcast=True)
    assert g(np.array([0.1])).dtype == np.float32
    with pytest.raises(DTypeError, match="strict"):
        dj.function([dj.In(v, strict=True)], v)([1.0])


def test_wrong_rank_or_declared_size_names_the_input():
    x = T.dmatrix("x")
    f = dj.function([x], x + 1)
    with pytest.raises(ShapeError, match=r"input 0 \('x'\) must be 2-dimensional"):
        f([1.0, 2.0])
    fixed = T.tensor("float64", shape=(None, 3), name="fixed")
    g = dj.function([fixed], fixed.sum())
    assert g(np.ones((2, 3))) == 6.0
    with pytest.raises(ShapeError, match="must have size 3 on axis 1"):
        g(np.ones((2, 4)))
    row = T.drow("r")
    with pytest.raises(ShapeError, match="size 1 on axis 0"):
        dj.function([row], row * 2)(np.ones((2, 2)))


def test_unused_and_missing_inputs():
    x, y = T.dscalars("x", "y")
    with pytest.raises(UnusedInputError, match=r"input 1 \(y\).*on_unused_input='ignore'"):
        dj.function([x, y], x * 2)
    f = dj.function([x, y], x * 2, on_unused_input="ignore")
    assert f(1, 2) == 2.0
    with pytest.raises(MissingInputError, match=r"depend on y"):
        dj.function([x], x + y)


def test_outputs_one_list_or_none():
    x = T.dvector("x")
    assert isinstance(dj.function([x], x * 2)([1.0]), np.ndarray)
    assert isinstance(dj.function([x], [x * 2])([1.0]), list)
    assert dj.function([x], [], on_unused_input="ignore")([1.0]) == []


def test_outputs_are_fresh_arrays():
    x = T.dvector("x")
    data = np.array([1.0, 2.0])
    same, reshaped = dj.function([x], [x, x.reshape((2, 1))])(data)
    same[0] = reshaped[0, 0] = 9.0
    assert data[0] == 1.0
    constant = dj.function([], T.constant([1.0, 2.0]))()
    constant[0] = 3.0  # writable, and the constant is unchanged
    assert dj.function([], T.constant([1.0, 2.0]))()[0] == 1.0


def test_graphs_are_cached_per_shape_signature():
    x = T.dmatrix("x")
    f = dj.function([x], x.sum(axis=1))
    f(np.ones((2, 3)))
    f(np.zeros((2, 3)))
    assert len(f._cache) == 1
    np.testing.assert_array_equal(f(np.ones((4, 5))), [5.0] * 4)
    assert len(f._cache) == 2
    assert "f64[4,5]" in str(f.graph(np.ones((4, 5))))


def test_an_unknown_backend_is_refused_naming_the_choices():
    x = T.dscalar()
    with pytest.raises(dj.CompileError, match="auto, numpy, llvm, cuda"):
        dj.function([x], x, backend="tpu")


def test_the_llvm_backend_compiles_a_function():
    x = T.dvector("x")
    f = dj.function([x], T.tanh(x) * 2.0, backend="llvm")
    np.testing.assert_allclose(f(np.array([0.5, -1.0])), 2 * np.tanh([0.5, -1.0]), rtol=1e-15)
    assert f.last.backend == "llvm"


@pytest.mark.parametrize("backend", ["numpy", "llvm"])
def test_results_are_arrays_the_caller_owns(backend):
    """No result aliases an input, a shared value or another result, and a later call
    never overwrites what an earlier one returned."""
    x = T.fvector("x")
    s = dj.shared(np.ones(3, np.float32), name="s")
    y = x * 2.0
    f = dj.function([x], [x, y, y, s, y + s], backend=backend)
    data = np.arange(3, dtype=np.float32)
    first = f(data)
    second = f(data + 1)
    kept = [a.copy() for a in first]
    arrays = [data, s.get_value(borrow=True)] + first
    for i, a in enumerate(arrays):
        for b in arrays[i + 1:]:
            assert not np.shares_memory(a, b)
    for got, want in zip(first, kept):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(second[1], (data + 1) * 2)


# -- intermediate inputs and givens --------------------------------------------------------------
def test_an_intermediate_variable_as_input_cuts_the_graph():
    x = T.fmatrix("x")
    image = x.reshape((2, 1, 3, 3))
    f = dj.function([image], image * 2)
    data = np.arange(18, dtype=np.float32).reshape(2, 1, 3, 3)
    np.testing.assert_array_equal(f(data), data * 2)
    with pytest.raises(ShapeError, match="size 2 on axis 0"):
        f(np.zeros((3, 1, 3, 3), np.float32))


def test_givens_replace_variables():
    x, y = T.dscalars("x", "y")
    data = dj.shared(np.array([1.0, 2.0, 3.0]), name="data")
    f = dj.function([y], x * y, givens=[(x, data.sum())])
    assert f(2.0) == 12.0
    g = dj.function([], x * 2, givens={x: T.constant(5.0)})
    assert g() == 10.0
    with pytest.raises(ValueError, match="choose one"):
        dj.function([x], x * 2, givens={x: T.constant(5.0)})
    with pytest.raises(DTypeError, match="cast it"):
        dj.function([y], x * y, givens=[(x, T.iscalar())])


# -- shared variables and updates ---------------------------------------------------------------
def test_shared_values_are_read_on_every_call():
    w = dj.shared(np.array([1.0, 2.0]), name="w")
    x = T.dvector("x")
    f = dj.function([x], T.dot(x, w))
    assert f([1, 1]) == 3.0
    w.set_value(np.array([10.0, 20.0]))
    assert f([1, 1]) == 30.0
    w.set_value(np.array([1.0, 1.0, 1.0]))  # a new shape: a new graph
    assert f([1, 1, 1]) == 3.0


def test_shared_get_and_set_copy_unless_borrowed():
    value = np.zeros(2)
    s = dj.shared(value)
    value[0] = 5.0
    assert s.get_value()[0] == 0.0
    s.get_value()[1] = 7.0
    assert s.get_value()[1] == 0.0
    borrowed = dj.shared(value, borrow=True)
    assert borrowed.get_value(borrow=True) is value
    with pytest.raises(DTypeError, match="may lose precision"):
        dj.shared(np.zeros(2, np.float32)).set_value(np.zeros(2))


def test_updates_apply_after_all_outputs():
    state = dj.shared(np.float64(0.0), name="state")
    inc = T.dscalar("inc")
    accumulator = dj.function([inc], state, updates=[(state, state + inc)])
    assert [float(accumulator(v)) for v in (1, 10, 100)] == [0.0, 1.0, 11.0]
    assert state.get_value() == 111.0
    a, b = dj.shared(1.0, name="a"), dj.shared(2.0, name="b")
    swap = dj.function([], [], updates={a: b, b: a})  # simultaneous, as in Theano
    swap()
    assert (a.get_value(), b.get_value()) == (2.0, 1.0)


def test_updates_written_in_place_keep_every_value_right():
    """The LLVM runner writes an update straight into the shared array (no new array,
    no copy back): the array keeps its identity, results computed from the old value
    stay right, and an input overlapping the array (or a read-only array) gets a fresh
    one instead."""
    s = dj.shared(np.arange(4, dtype=np.float32), name="s")
    x = T.fvector("x")
    f = dj.function([x], [T.sum(s), s * 2.0], updates=[(s, s - x)], backend="llvm")
    held = s.get_value(borrow=True)
    total, doubled = f(np.ones(4, np.float32))
    runner = f.last.runner()
    assert list(runner.donated) == [2]  # the update, output 2
    assert s.get_value(borrow=True) is held  # written in place
    np.testing.assert_array_equal(held, np.arange(4) - 1.0)
    assert float(total) == 6.0
    np.testing.assert_array_equal(doubled, np.arange(4) * 2.0)
    f(held)  # the shared array passed as the input too: x and s overlap
    np.testing.assert_array_equal(s.get_value(), np.zeros(4))
    readonly = np.full(4, 5.0, np.float32)
    readonly.flags.writeable = False
    source = runner.donated[2]
    inputs = [np.ones(4, np.float32)] * 2
    inputs[source] = readonly
    outputs = runner(inputs)
    np.testing.assert_array_equal(outputs[2], np.full(4, 4.0))
    np.testing.assert_array_equal(readonly, np.full(4, 5.0))


def test_sgd_with_grad_and_updates():
    rng = np.random.default_rng(0)
    inputs, targets = rng.standard_normal((20, 3)), rng.standard_normal(20)
    x, t = T.dmatrix("x"), T.dvector("t")
    w = dj.shared(np.zeros(3), name="w")
    b = dj.shared(0.0, name="b")
    cost = T.mean((T.dot(x, w) + b - t) ** 2)
    gw, gb = dj.grad(cost, [w, b])
    train = dj.function([x, t], cost, updates=[(w, w - 0.1 * gw), (b, b - 0.1 * gb)])
    W, B = dg.Variable(np.zeros(3)), dg.Variable(np.array(0.0))
    for _ in range(5):
        loss = train(inputs, targets)
        eager = dg.functions.mean((dg.functions.matmul(inputs, W) + B - targets) ** 2)
        ew, eb = dg.grad([eager], [W, B])
        W, B = dg.Variable(W.array - 0.1 * ew.array), dg.Variable(B.array - 0.1 * eb.array)
        np.testing.assert_allclose(loss, eager.array, rtol=1e-12)
    np.testing.assert_allclose(w.get_value(), W.array, rtol=1e-12)


def test_update_errors_name_the_shared_variable():
    s = dj.shared(np.zeros(2, np.float32), name="s")
    with pytest.raises(DTypeError, match="cast it"):
        dj.function([], [], updates=[(s, s + np.float64(1))])
    with pytest.raises(TypeError, match="not a shared variable"):
        dj.function([], [], updates=[(T.dvector(), T.dvector())])
    with pytest.raises(TypeError, match="shared variable: it is read on every call"):
        dj.function([s], s)


def test_eval_and_print_graph(capsys):
    x = T.dvector("x")
    np.testing.assert_array_equal((x * 2).eval({x: [1.0, 2.0]}), [2.0, 4.0])
    f = dj.function([x], T.log(1 + x))
    f([1.0])
    f.print_graph()
    assert "Log1p" in capsys.readouterr().out


def test_minibatches_by_index_through_givens():
    """Theano's tutorial idiom: an integer index input slices shared data."""
    data = dj.shared(np.arange(20.0).reshape(10, 2), name="data")
    targets = dj.shared(np.arange(10.0), name="targets")
    index = T.lscalar("index")
    x, y = T.dmatrix("x"), T.dvector("y")
    w = dj.shared(np.zeros(2), name="w")
    cost = T.mean((T.dot(x, w) - y) ** 2)
    batch = 3
    train = dj.function([index], cost, updates=[(w, w - 0.01 * dj.grad(cost, w))],
                        givens={x: data[index * batch:(index + 1) * batch],
                                y: targets[index * batch:(index + 1) * batch]})
    W = np.zeros(2)
    for i in (0, 1, 2, 0):
        rows = np.arange(20.0).reshape(10, 2)[i * 3:i * 3 + 3]
        want = np.arange(10.0)[i * 3:i * 3 + 3]
        error = rows @ W - want
        assert train(i) == pytest.approx(np.mean(error ** 2), rel=1e-12)
        W = W - 0.01 * 2 * rows.T @ error / 3
    np.testing.assert_allclose(w.get_value(), W, rtol=1e-12)
    assert len(train._cache) == 3  # one graph per index value: the slice bounds are baked


def test_sizes_from_integer_inputs():
    n = T.iscalar("n")
    v = T.dvector("v")
    f = dj.function([v, n], [v[:n] * n, T.zeros((n, 2))])
    head, zeros = f(np.arange(5.0), 2)
    np.testing.assert_array_equal(head, [0.0, 2.0])
    assert zeros.shape == (2, 2)
    s = dj.shared(np.int64(2))
    with pytest.raises(ConcretizationError, match="shared variable"):
        dj.function([v], v[:s])(np.arange(3.0))
