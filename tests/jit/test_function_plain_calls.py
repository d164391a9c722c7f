"""dj.function called with plain numpy arrays (the usual call, settled without the
general conversion): the same results, cache keys and typed errors as any other call."""

import numpy as np
import pytest

import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.errors import DTypeError, ShapeError
from dualgrad_jit.symbolic_function import InputError


def test_a_shared_value_set_to_a_new_shape_between_calls_rebuilds():
    x = T.dvector("x")
    s = dj.shared(np.ones(3), name="s")
    f = dj.function([x], x.sum() + s.sum())
    assert f(np.ones(2)) == 5.0
    assert f(np.ones(2)) == 5.0
    s.set_value(np.full(5, 2.0))
    assert f(np.ones(2)) == 12.0
    assert len(f._cache) == 2
    s.set_value(np.ones(3))  # back to the first shape: its graph again
    assert f(np.ones(2)) == 5.0
    assert len(f._cache) == 2


def test_updates_of_a_reshaped_shared_variable_land_in_its_new_value():
    s = dj.shared(np.zeros(2), name="s")
    step = dj.function([], s, updates=[(s, s + 1.0)])
    step()
    s.set_value(np.zeros((2, 3)).ravel())
    assert step().shape == (6,)
    np.testing.assert_array_equal(s.get_value(), np.ones(6))


def test_plain_and_converted_arguments_share_one_graph():
    x = T.dvector("x")
    f = dj.function([x], x * 2.0)
    np.testing.assert_array_equal(f(np.arange(3.0)), [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(f([0.0, 1.0, 2.0]), [0.0, 2.0, 4.0])
    np.testing.assert_array_equal(f(x=np.arange(3.0)), [0.0, 2.0, 4.0])
    assert len(f._cache) == 1


def test_a_float64_array_for_a_float32_input_still_raises_or_casts():
    v = T.fvector("v")
    f = dj.function([v], v * 2)
    assert f(np.ones(2, np.float32)).dtype == np.float32
    with pytest.raises(DTypeError, match=r"input 0 \('v'\).*may lose precision"):
        f(np.array([0.1]))
    g = dj.function([v], v * 2, allow_input_downcast=True)
    assert g(np.ones(2, np.float32)).dtype == np.float32
    out = g(np.array([0.1]))
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, np.float32([0.1]) * 2)
    np.testing.assert_array_equal(f(np.arange(2, dtype=np.int16)), np.float32([0, 2]))
    strict = dj.function([dj.In(v, strict=True)], v * 2)
    assert strict(np.ones(1, np.float32)) == 2.0
    with pytest.raises(DTypeError, match="strict"):
        strict(np.ones(1, np.float16))


def test_wrong_ranks_and_sizes_still_raise_after_plain_calls():
    x = T.dmatrix("x")
    f = dj.function([x], x + 1)
    f(np.ones((2, 2)))
    with pytest.raises(ShapeError, match=r"input 0 \('x'\) must be 2-dimensional"):
        f(np.ones(2))
    row = T.drow("r")
    g = dj.function([row], row * 2)
    assert g(np.ones((1, 3))).shape == (1, 3)
    with pytest.raises(ShapeError, match="size 1 on axis 0"):
        g(np.ones((2, 3)))
    fixed = T.tensor("float64", shape=(None, 3), name="fixed")
    h = dj.function([fixed], fixed.sum())
    assert h(np.ones((2, 3))) == 6.0
    with pytest.raises(ShapeError, match="must have size 3 on axis 1"):
        h(np.ones((2, 4)))


def test_missing_extra_and_unknown_arguments_still_raise():
    x, y = T.dvectors("x", "y")
    f = dj.function([x, y], x + y)
    a = np.ones(2)
    np.testing.assert_array_equal(f(a, a), [2.0, 2.0])
    with pytest.raises(InputError, match="missing input 1"):
        f(a)
    with pytest.raises(InputError, match="takes 2 inputs, got 3"):
        f(a, a, a)
    with pytest.raises(InputError, match="no input named 'z'"):
        f(a, z=a)


def test_views_subclasses_and_other_byte_orders_compute_the_same():
    x = T.dmatrix("x")
    f = dj.function([x], x * 2.0 + x.sum(axis=0))
    data = np.arange(12.0).reshape(3, 4)

    def want(a):
        a = np.asarray(a, np.float64)
        return a * 2.0 + a.sum(axis=0)

    class Tagged(np.ndarray):
        pass

    for value in (data, data.T, data[::2, ::-1], data.view(Tagged), data.astype(">f8")):
        np.testing.assert_array_equal(f(value), want(value))


def test_an_integer_read_as_a_number_keys_the_cache_by_value():
    v = T.dvector("v")
    n = T.lscalar("n")
    f = dj.function([v, n], v[:n].sum())
    data = np.arange(5.0)
    assert f(data, np.array(2)) == 1.0
    assert f(data, np.array(4)) == 6.0
    assert f(data, np.array(2)) == 1.0
    assert f(data, 4) == 6.0  # a Python int, converted: the same graph as np.array(4)
    assert len(f._cache) == 2
