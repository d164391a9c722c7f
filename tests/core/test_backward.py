"""The backward engine: accumulation, retained and freed graphs, higher order, ``dg.grad``."""

import gc
import weakref

import numpy
import pytest

import dualgrad as dg
from dualgrad.ops import elementwise as ew
from dualgrad.ops import reduce


def var(*values):
    return dg.Variable(numpy.array(values, dtype=numpy.float64))


# -- accumulation and clearing -------------------------------------------------------------
def test_gradients_accumulate_across_backward_calls_on_different_graphs():
    x = var(1.0, 2.0)
    (x * x).sum().backward()
    (x * 3.0).sum().backward()
    numpy.testing.assert_array_equal(x.grad, [2.0 + 3.0, 4.0 + 3.0])


def test_cleargrad_forgets_the_gradient():
    x = var(1.0, 2.0)
    (x * x).sum().backward()
    x.cleargrad()
    assert x.grad is None
    (x * 3.0).sum().backward()
    numpy.testing.assert_array_equal(x.grad, [3.0, 3.0])


def test_a_variable_used_twice_in_one_op():
    x = var(3.0)
    (x * x).backward()
    numpy.testing.assert_array_equal(x.grad, [6.0])


def test_diamond_graph_sums_every_path():
    """``a`` feeds three ops; its gradient is the sum over all of them."""
    x = dg.Variable(numpy.array(0.5))
    a = x * 2.0
    b = ew.exp(a)
    c = a * b
    d = a + c + b
    d.backward()
    e = numpy.exp(1.0)
    expected = 2.0 * (1.0 + (e + 1.0 * e) + e)  # dd/da = 1 + (b + a b) + b at a = 1
    numpy.testing.assert_allclose(x.grad, expected, rtol=1e-15)


def test_leaf_gradients_are_writable_and_not_shared():
    """Optimizers and hooks update ``.grad`` in place, so each leaf owns its gradient."""
    a, b = var(1.0, 1.0), var(1.0, 1.0)
    (a + b).sum().backward()  # the same (read-only broadcast) gradient reaches a and b
    a.grad *= 10.0
    numpy.testing.assert_array_equal(b.grad, [1.0, 1.0])
    numpy.testing.assert_array_equal(a.grad, [10.0, 10.0])


def test_leaf_gradient_does_not_alias_the_starting_gradient():
    a = var(1.0, 2.0)
    y = a + 0.0
    start = numpy.ones(2)
    y.grad = start
    y.backward()
    a.grad += 1.0
    numpy.testing.assert_array_equal(start, [1.0, 1.0])


# -- retain_grad, intermediate gradients ------------------------------------------------------
def test_intermediate_grad_only_when_retain_grad():
    x = var(1.0, 2.0)
    h = x * x
    (h * 2.0).sum().backward()
    assert h.grad is None
    numpy.testing.assert_array_equal(x.grad, [4.0, 8.0])

    x.cleargrad()
    h = x * x
    (h * 2.0).sum().backward(retain_grad=True)
    numpy.testing.assert_array_equal(h.grad, [2.0, 2.0])
    numpy.testing.assert_array_equal(x.grad, [4.0, 8.0])


def test_backward_from_a_non_scalar_with_a_starting_gradient():
    x = var(1.0, 2.0)
    y = x * x
    y.grad = numpy.array([1.0, 10.0])
    y.backward()
    numpy.testing.assert_array_equal(x.grad, [2.0, 40.0])


def test_starting_gradient_of_the_wrong_shape_is_refused():
    y = var(1.0, 2.0) * 2.0
    y.grad = numpy.ones(3)
    with pytest.raises(dg.BackwardError, match=r"shape \(3,\).*\(2,\)"):
        y.backward()


def test_backward_from_a_non_scalar_without_a_starting_gradient():
    y = var(1.0, 2.0, 3.0) * 2.0
    with pytest.raises(dg.BackwardError, match=r"shape \(3,\) needs a starting gradient") as e:
        y.backward()
    assert "sum" in str(e.value)  # the message says how to fix it


# -- freed and retained graphs --------------------------------------------------------------
def test_backward_twice_needs_retain_graph():
    x = var(2.0)
    y = x * x
    y.backward()
    with pytest.raises(dg.BackwardError, match="retain_graph=True"):
        y.backward()


def test_retain_graph_allows_a_second_backward():
    x = var(2.0)
    y = ew.exp(x * x)
    y.backward(retain_graph=True)
    first = x.grad.copy()
    x.cleargrad()
    y.backward()
    numpy.testing.assert_array_equal(x.grad, first)


def test_second_loss_through_a_freed_shared_graph_fails_clearly():
    x = var(1.0)
    h = x * 3.0
    (h * h).backward()
    with pytest.raises(dg.BackwardError, match="Mul a second time"):
        (h + 1.0).backward()


def test_backward_frees_what_the_graph_held():
    x = var(1.0, 2.0)
    h = x * 2.0
    y = h * h  # Mul keeps its inputs for backward
    alive = weakref.ref(h)
    del h
    gc.collect()
    assert alive() is not None
    y.sum().backward()
    gc.collect()
    assert alive() is None  # freed although y is still alive


def test_backward_on_a_leaf_sets_its_gradient_to_one():
    x = var(2.0)
    x.backward()
    numpy.testing.assert_array_equal(x.grad, [1.0])


def test_backward_on_a_variable_without_graph():
    with dg.no_backprop_mode():
        y = var(1.0) * 2.0
    assert y.creator is None
    with pytest.raises(dg.BackwardError, match="no_backprop_mode"):
        y.backward()
    with pytest.raises(dg.BackwardError, match="integer"):
        dg.Variable(numpy.array(3)).backward()


# -- unchain ----------------------------------------------------------------------------------
def test_unchain_backward_stops_gradients_there():
    """Truncated backpropagation through time: the state is cut between segments."""
    w = var(0.5)
    state = var(1.0)
    for _ in range(3):
        state = ew.tanh(state * w)
    state.unchain_backward()
    w.cleargrad()
    loss = state * w  # the next segment only
    loss.backward()
    numpy.testing.assert_allclose(w.grad, state.array)  # d(state * w)/dw, nothing earlier
    numpy.testing.assert_allclose(state.grad, w.array)


def test_unchain_backward_frees_the_graph_behind():
    x = var(1.0, 2.0)
    h = x * 2.0
    y = h * h
    alive = weakref.ref(h)
    del h
    gc.collect()
    assert alive() is not None
    y.unchain_backward()
    gc.collect()
    assert alive() is None
    assert y.creator is None


def test_backward_on_an_unchained_variable():
    y = var(1.0) * 2.0
    y.unchain_backward()
    with pytest.raises(dg.BackwardError, match="unchain"):
        y.backward()


def test_no_backprop_mode_outputs_have_no_creator():
    x = var(1.0)
    with dg.no_backprop_mode():
        y = ew.exp(x * 2.0)
        assert not dg.config.enable_backprop
        with dg.force_backprop_mode():
            z = x * 2.0
    assert dg.config.enable_backprop
    assert y.creator is None and not y.requires_grad
    assert z.creator is not None


def test_creator_label_names_the_op():
    x = var(1.0)
    assert (x * x).creator.label == "Mul"
    assert ew.exp(x).creator.label == "Exp"
    assert (x + 1.0).creator.label == "Add"
    assert x.creator is None


# -- higher order ------------------------------------------------------------------------------
def test_enable_double_backprop_gives_the_second_derivative():
    x = dg.Variable(numpy.array([2.0, -1.0]))
    y = (x**3).sum()
    y.backward(enable_double_backprop=True)
    gx = x.grad_var
    numpy.testing.assert_array_equal(gx.array, 3 * x.array**2)
    assert gx.creator is not None
    x.cleargrad()
    gx.sum().backward()
    numpy.testing.assert_array_equal(x.grad, 6 * x.array)


def test_without_double_backprop_the_gradient_has_no_graph():
    x = var(2.0)
    (x**3).backward()
    assert x.grad_var.creator is None


def test_third_derivative_through_dg_grad():
    x = dg.Variable(numpy.array(1.5))
    y = ew.exp(x * 2.0)
    (g1,) = dg.grad(y, x, enable_double_backprop=True)
    (g2,) = dg.grad(g1, x, enable_double_backprop=True)
    (g3,) = dg.grad(g2, x)
    numpy.testing.assert_allclose(g3.array, 8.0 * numpy.exp(3.0), rtol=1e-14)


# -- dg.grad ----------------------------------------------------------------------------------
def test_grad_with_intermediate_targets_leaves_dot_grad_alone():
    x = var(1.0, 2.0)
    h = x * 3.0
    y = (h * h).sum()
    gh, gx = dg.grad([y], [h, x])
    numpy.testing.assert_array_equal(gh.array, 2 * h.array)
    numpy.testing.assert_array_equal(gx.array, 18 * x.array)
    assert x.grad is None and h.grad is None and y.grad is None


def test_grad_with_grad_outputs():
    x = var(1.0, 2.0)
    y = x * x
    (gx,) = dg.grad([y], [x], grad_outputs=[numpy.array([1.0, 10.0])])
    numpy.testing.assert_array_equal(gx.array, [2.0, 40.0])


def test_grad_of_several_outputs_sums_them():
    x = var(2.0)
    (gx,) = dg.grad([x * x, x * 5.0], [x])
    numpy.testing.assert_array_equal(gx.array, [4.0 + 5.0])


def test_grad_of_an_unconnected_input_is_none():
    x, z = var(1.0), var(2.0)
    gx, gz = dg.grad([x * 2.0], [x, z])
    assert gz is None
    numpy.testing.assert_array_equal(gx.array, [2.0])


def test_grad_does_not_free_the_graph_with_retain_graph():
    x = var(2.0)
    y = x * x
    dg.grad([y], [x], retain_graph=True)
    (gx,) = dg.grad([y], [x])
    numpy.testing.assert_array_equal(gx.array, [4.0])


# -- scale and determinism -----------------------------------------------------------------------
def test_deep_chain_has_no_recursion_limit():
    x = dg.Variable(numpy.array(1.0))
    y = x
    for _ in range(10000):
        y = ew.tanh(y) * 1.0 + 0.0
    y.backward()
    assert numpy.isfinite(x.grad)
    assert x.grad > 0.0


def test_same_graph_twice_gives_bit_identical_gradients():
    rng = numpy.random.default_rng(0)
    data = [rng.standard_normal((5, 4)) for _ in range(3)]

    def run():
        a, b, c = (dg.Variable(d.copy()) for d in data)
        h = ew.tanh(a * b + c)
        loss = reduce.sum(h * a + ew.exp(h) * c + b * b)
        loss.backward()
        return [v.grad for v in (a, b, c)]

    first, second = run(), run()
    for g1, g2 in zip(first, second):
        assert g1.tobytes() == g2.tobytes()


def test_broadcast_gradients_sum_back_to_input_shapes():
    a = dg.Variable(numpy.ones((3, 1)))
    b = dg.Variable(numpy.ones(4))
    c = dg.Variable(numpy.array(2.0))
    (a * b * c).sum().backward()
    assert a.grad.shape == (3, 1) and b.grad.shape == (4,) and c.grad.shape == ()
    numpy.testing.assert_array_equal(a.grad, numpy.full((3, 1), 8.0))
    numpy.testing.assert_array_equal(b.grad, numpy.full(4, 6.0))
    assert c.grad == 12.0


# -- memory --------------------------------------------------------------------------------------
def test_inputs_an_op_does_not_need_are_freed():
    """Add needs neither input for backward, so a dropped intermediate is collected."""
    x = var(1.0, 2.0)
    h = x * 2.0
    alive = weakref.ref(h)
    y = h + 1.0
    del h
    gc.collect()
    assert alive() is None
    y.sum().backward()  # and backward still reaches x through Add
    numpy.testing.assert_array_equal(x.grad, [2.0, 2.0])


def test_inputs_an_op_needs_are_kept():
    x = var(1.0, 2.0)
    h = x * 2.0
    alive = weakref.ref(h)
    y = h * h
    del h
    gc.collect()
    assert alive() is not None
    y.sum().backward()
    numpy.testing.assert_array_equal(x.grad, [8.0, 16.0])


def test_ops_that_save_their_output_free_their_input():
    x = var(1.0, 2.0)
    h = x * 2.0
    alive = weakref.ref(h)
    y = ew.exp(h)
    del h
    gc.collect()
    assert alive() is None
    y.sum().backward()
    numpy.testing.assert_allclose(x.grad, 2.0 * numpy.exp([2.0, 4.0]))


def test_truncated_bptt_with_a_stored_state_needs_no_retain_graph():
    """Chainer's pattern: the hidden state outlives the segment whose graph backward()
    freed; the next segment's gradient stops at it instead of failing."""
    w = dg.Variable(numpy.array([0.5]))
    h = dg.Variable(numpy.array([1.0]), requires_grad=False)
    grads = []
    for _segment in range(3):
        loss = None
        for _step in range(2):
            h = ew.tanh(h * w)
            loss = h if loss is None else loss + h
        w.cleargrad()
        loss.backward()
        loss.unchain_backward()
        grads.append(float(w.grad[0]))
    assert all(numpy.isfinite(grads)) and len(set(grads)) == 3


def test_freed_state_without_unchain_backward_is_an_error_not_a_silent_cut():
    w = dg.Variable(numpy.array([0.5]))
    h = ew.tanh(w * 2.0)
    (h * 3.0).sum().backward()
    with pytest.raises(dg.BackwardError, match="unchain_backward"):
        (h * w).sum().backward()


def test_second_backward_error_mentions_retain_graph_and_unchain_backward():
    x = dg.Variable(numpy.array([0.5]))
    y = ew.tanh(x).sum()
    y.backward()
    with pytest.raises(dg.BackwardError, match="retain_graph=True") as info:
        y.backward()
    assert "unchain_backward" in str(info.value)
