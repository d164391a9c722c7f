"""Every op case of the harness, traced with ``dj.jit``, equals eager.

Each case runs three times through one compiled function: the traced call, a replay
on the same inputs, and a replay on other inputs of the same shapes (so a replay that
returned the first call's values would be caught).  Forward values and gradients (a
``dg.grad`` of a weighted sum computed inside the compiled function) must equal eager
to rounding, with equal dtypes.
"""

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
from dualgrad.ops import random as R

from ..ops.harness import as_inputs, sample_inputs
from .compiled_cases import (
    BACKENDS,
    CASES,
    array_positions,
    assert_loss_and_gradients,
    assert_same,
    case_params,
    data_sets,
)

# Boolean-mask indexing has a data-dependent output shape: tracing refuses it (pinned
# in test_footguns.py); every other case must compile.
DATA_DEPENDENT_SHAPES = {"Gather-mask"}


def _arrays(data, positions):
    return [numpy.asarray(data[p]) for p in positions]


def _bind(case, sample, positions):
    def call(*arrays):
        full = list(sample)
        for position, array in zip(positions, arrays):
            full[position] = array
        return case.fn(*full)

    return call


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case,dtype", case_params(lambda c: c.name not in DATA_DEPENDENT_SHAPES))
def test_forward_traced_equals_eager(case, dtype, backend):
    for sample, other in data_sets(case, dtype):
        positions = array_positions(sample)
        compiled = dj.jit(_bind(case, sample, positions), backend=backend)
        for data in (sample, sample, other):  # trace, replay, replay on other values
            arrays = _arrays(data, positions)
            expected = _bind(case, data, positions)(*[
                dg.Variable(a, requires_grad=False) if a.dtype.kind == "f" else a
                for a in arrays])
            got = compiled(*arrays)
            assert_same(got.array, expected.array, case.name)
        assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 2, compiled.stats


def _gradient_function(case, sample, positions, weights):
    floats = [j for j, p in enumerate(positions) if sample[p].dtype.kind == "f"]
    forward = _bind(case, sample, positions)

    def loss_and_grads(*xs):
        loss = F.sum(forward(*xs) * weights)
        return loss, tuple(dg.grad([loss], [xs[j] for j in floats]))

    return loss_and_grads


def _arguments(data, positions):
    return [dg.Variable(a.copy()) if a.dtype.kind == "f" else a
            for a in _arrays(data, positions)]


def _on_arrays(function):
    """``function`` taking arrays and making the Variables itself: then forward and
    backward are one graph that the backend runs (Variable arguments wanting gradients
    put a replay's results on the tape, which the reference interpreter replays)."""

    def call(*arrays):  # (while tracing, array arguments arrive as Variables)
        return function(*[dg.Variable(getattr(a, "array", a)) if a.dtype.kind == "f" else a
                          for a in arrays])

    return call


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case,dtype", case_params(
    lambda c: c.differentiable and c.name not in DATA_DEPENDENT_SHAPES, one_dtype=True))
def test_gradient_traced_equals_eager(case, dtype, backend):
    for index, (sample, other) in enumerate(data_sets(case, dtype)):
        positions = array_positions(sample)
        if not any(sample[p].dtype.kind == "f" for p in positions):
            continue
        y = case.fn(*as_inputs(sample, requires_grad=False))
        weights = numpy.random.default_rng(index).standard_normal(y.shape).astype(y.dtype)
        function = _gradient_function(case, sample, positions, weights)
        compiled = dj.jit(_on_arrays(function) if backend != "numpy" else function,
                          backend=backend)
        for data in (sample, sample, other):
            want_loss, want_grads = _gradient_function(case, data, positions, weights)(
                *_arguments(data, positions))
            arguments = (_arrays(data, positions) if backend != "numpy"
                         else _arguments(data, positions))
            assert_loss_and_gradients(compiled(*arguments), (want_loss, want_grads),
                                      case.name)
        assert compiled.stats["traces"] == 1, compiled.stats


def test_boolean_mask_indexing_is_refused_while_tracing():
    (case,) = [c for c in CASES if c.name == "Gather-mask"]
    (sample,) = sample_inputs(case, "float64")
    with pytest.raises(dj.ConcretizationError, match="nonzero"):
        dj.jit(case.fn)(*sample)


# -- random draws ---------------------------------------------------------------------------------
def _noisy(x):
    u = R.uniform(x.shape, "float64")
    z = R.normal((2,), "float32", mean=1.0, std=2.0)
    b = R.bernoulli(x.shape, 0.5, "float64")
    return x * u + F.sum(z) * b


@pytest.mark.parametrize("backend", BACKENDS)
def test_replays_draw_exactly_what_eager_draws(backend):
    x = numpy.arange(1.0, 4.0)
    R.seed(1234)
    eager = [_noisy(dg.Variable(x)).array for _ in range(4)]
    eager_state = R.get_state()
    R.seed(1234)
    compiled = dj.jit(_noisy, backend=backend)
    got = [compiled(x).array for _ in range(4)]
    assert compiled.stats["traces"] == 1 and compiled.stats["replays"] == 3
    for a, b in zip(got, eager):
        numpy.testing.assert_array_equal(a, b)
    assert R.get_state() == eager_state
    assert not numpy.array_equal(got[1], got[2])  # fresh numbers on every replay


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_random_op_with_its_own_key_replays_unchanged_beside_stream_draws(backend):
    fixed = R.RandomUniform((3,), "float64", 99, 7)

    def mixed(x):
        return x * dg.apply(fixed, ()) + R.uniform((3,), "float64")

    x = numpy.ones(3)
    R.seed(5)
    eager = [mixed(dg.Variable(x)).array for _ in range(3)]
    R.seed(5)
    compiled = dj.jit(mixed, backend=backend)
    for want in eager:
        numpy.testing.assert_array_equal(compiled(x).array, want)


def test_a_failed_guard_leaves_the_random_stream_where_eager_would():
    def branchy(x):
        u = R.uniform(x.shape, "float64")
        if F.sum(x).item() > 0:
            return x + u
        return x - u

    inputs = [numpy.ones(2), -numpy.ones(2), numpy.ones(2), -numpy.ones(2)]
    R.seed(9)
    eager = [branchy(dg.Variable(x)).array for x in inputs]
    R.seed(9)
    compiled = dj.jit(branchy)
    for x, want in zip(inputs, eager):
        numpy.testing.assert_array_equal(compiled(x).array, want)
    assert compiled.stats["traces"] == 2 and compiled.stats["guard_failures"] == 1
