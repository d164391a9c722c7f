"""Properties over random programs: the tape's gradients equal finite differences."""

import numpy
from hypothesis import given, settings
from hypothesis import strategies as st

import dualgrad as dg
from dualgrad.gradient_check import numerical_grad
from dualgrad.ops import elementwise as ew
from dualgrad.ops import reduce

SETTINGS = settings(max_examples=30, deadline=None, database=None)


@st.composite
def broadcastable_shapes(draw, shape):
    """A shape that broadcasts to ``shape``: leading axes dropped, some sizes made 1."""
    drop = draw(st.integers(0, len(shape)))
    return tuple(1 if draw(st.booleans()) else n for n in shape[drop:])


@st.composite
def shape_families(draw, n_inputs):
    ndim = draw(st.integers(0, 3))
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=ndim, max_size=ndim)))
    return [draw(broadcastable_shapes(shape)) for _ in range(n_inputs)]


STEP = st.one_of(
    st.tuples(st.sampled_from(["add", "mul"]), st.integers(0, 99), st.integers(0, 99)),
    st.tuples(st.sampled_from(["tanh", "exp"]), st.integers(0, 99)),
    st.tuples(st.just("sum"), st.integers(0, 99), st.integers(0, 2)),
)


@st.composite
def programs(draw):
    """Input shapes, input values and a list of steps over the values computed so far."""
    n_inputs = draw(st.integers(1, 3))
    shapes = draw(shape_families(n_inputs))
    rng = numpy.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    arrays = [rng.uniform(-1.0, 1.0, s) for s in shapes]
    steps = draw(st.lists(STEP, min_size=1, max_size=6))
    return arrays, steps, rng


def run(steps, inputs):
    """Apply the steps; each reads values by index (modulo how many exist)."""
    values = list(inputs)
    for name, *args in steps:
        a = values[args[0] % len(values)]
        if name == "add":
            out = ew.add(a, values[args[1] % len(values)])
        elif name == "mul":
            out = ew.mul(a, values[args[1] % len(values)])
        elif name == "tanh":
            out = ew.tanh(a)
        elif name == "exp":
            out = ew.exp(ew.tanh(a))  # bounded, so repeated steps cannot overflow
        else:
            axis = args[1] % a.ndim if a.ndim else None
            out = reduce.sum(a, axis=axis, keepdims=axis is not None)
        values.append(out)
    return values[-1]


@SETTINGS
@given(programs())
def test_random_programs_match_finite_differences(program):
    arrays, steps, rng = program
    xs = [dg.Variable(a.copy()) for a in arrays]
    y = run(steps, xs)
    gy = rng.standard_normal(y.shape)
    grads = dg.grad([y], xs, grad_outputs=[gy])

    def evaluate():
        with dg.no_backprop_mode():
            return (run(steps, [dg.Variable(a) for a in arrays]).array,)

    expected = numerical_grad(evaluate, arrays, (gy,), eps=1e-6)
    for x, g, e in zip(xs, grads, expected):
        actual = numpy.zeros(x.shape) if g is None else g.array
        assert actual.shape == x.shape
        numpy.testing.assert_allclose(actual, e, rtol=1e-5, atol=1e-6)


@SETTINGS
@given(programs())
def test_backward_and_grad_agree(program):
    """``backward()`` into ``.grad`` and ``dg.grad`` compute the same thing."""
    arrays, steps, rng = program
    xs = [dg.Variable(a.copy()) for a in arrays]
    y = run(steps, xs)
    gy = rng.standard_normal(y.shape)
    grads = dg.grad([y], xs, grad_outputs=[gy], retain_graph=True)
    y.grad = gy
    y.backward()
    for x, g in zip(xs, grads):
        if g is None:
            assert x.grad is None or not numpy.any(x.grad)
        else:
            numpy.testing.assert_array_equal(x.grad, g.array)


def numpy_sum_to(array, shape):
    lead = array.ndim - len(shape)
    array = array.sum(axis=tuple(range(lead)))
    axes = tuple(d for d, n in enumerate(shape) if n == 1 and array.shape[d] != 1)
    return array.sum(axis=axes, keepdims=True)


@SETTINGS
@given(shape_families(2), st.sampled_from(["add", "sub", "mul", "div"]), st.integers(0, 99))
def test_broadcast_gradients_sum_back_to_input_shapes(shapes, op, seed):
    rng = numpy.random.default_rng(seed)
    a_data = rng.uniform(0.5, 1.5, shapes[0])
    b_data = rng.uniform(0.5, 1.5, shapes[1])
    a, b = dg.Variable(a_data), dg.Variable(b_data)
    y = {"add": ew.add, "sub": ew.sub, "mul": ew.mul, "div": ew.div}[op](a, b)
    gy = rng.standard_normal(y.shape)
    y.grad = gy
    y.backward()
    da, db = {
        "add": (1.0, 1.0),
        "sub": (1.0, -1.0),
        "mul": (b_data, a_data),
        "div": (1.0 / b_data, -a_data / b_data**2),
    }[op]
    assert a.grad.shape == a.shape and b.grad.shape == b.shape
    numpy.testing.assert_allclose(a.grad, numpy_sum_to(gy * da, a.shape), rtol=1e-12)
    numpy.testing.assert_allclose(b.grad, numpy_sum_to(gy * db, b.shape), rtol=1e-12)
