"""Every op case of the harness, written symbolically and compiled with ``dj.function``,
equals eager.

Each sample's arrays become typed placeholders of their dtype and rank (``T.dmatrix``,
``T.ivector``..., ``T.tensor`` for the others); Python scalars and other configuration
(shapes, axes, keys) stay as they are.  ``case.fn`` is applied to them as one recipe step
(``T.basic.symbolic``: the step's function *is* ``case.fn``), the recipe is compiled, and
the compiled function is called on the sample and on other values of the same shapes.
Values must equal eager to rounding, dtypes exactly.  Gradients (``dj.grad`` of a
weighted sum, with respect to every float input) must equal eager ``dg.grad``.

Cases that cannot run symbolically by design are listed in ``NOT_SYMBOLIC`` with the
reason, and must raise the documented typed error.
"""

import numpy
import pytest

import dualgrad as dg
import dualgrad.functions as F
import dualgrad_jit as dj
import dualgrad_jit.tensor as T
from dualgrad.errors import ConcretizationError
from dualgrad.ops import random as R

from ..ops.harness import sample_inputs
from .compiled_cases import BACKENDS, CASES, array_positions, assert_same, case_params, data_sets

# case name -> (typed error, what its message names, why it cannot be symbolic)
NOT_SYMBOLIC = {
    "Gather-mask": (
        ConcretizationError, "nonzero",
        "boolean-mask indexing has a data-dependent output shape: a graph needs every "
        "shape from the input shapes alone (use T.switch / F.where to keep the shape)",
    ),
}

_PREFIX = {numpy.dtype(d): p for p, d in T.PREFIXES.items()}
_RANK = {0: "scalar", 1: "vector", 2: "matrix", 3: "tensor3", 4: "tensor4", 5: "tensor5"}


def _symbolic_cases(case):
    return case.name not in NOT_SYMBOLIC


# -- samples as placeholders ----------------------------------------------------------------------
def _placeholder(array, name):
    """A placeholder of ``array``'s dtype and rank, by Theano's typed constructors
    where one exists (``T.dmatrix``, ``T.lvector``...), else ``T.tensor``."""
    array = numpy.asarray(array)
    prefix, rank = _PREFIX.get(array.dtype), _RANK.get(array.ndim)
    if prefix is not None and rank is not None:
        return getattr(T, prefix + rank)(name)
    return T.tensor(array.dtype.name, shape=(None,) * array.ndim, name=name)


def _symbolic(case, sample):
    """``(placeholders, case.fn applied to them)``."""
    positions = array_positions(sample)
    inputs = [_placeholder(sample[p], f"x{p}") for p in positions]
    args = list(sample)
    for position, variable in zip(positions, inputs):
        args[position] = variable
    return inputs, T.basic.symbolic(case.fn)(*args)


def _arrays(sample):
    return [numpy.asarray(sample[p]) for p in array_positions(sample)]


def _eager_arguments(sample, requires_grad):
    """The sample as eager code gets it: float arrays as Variables, the rest as is."""
    out = list(sample)
    for p in array_positions(sample):
        array = numpy.asarray(sample[p])
        if array.dtype.kind == "f":
            out[p] = dg.Variable(array.copy(), requires_grad=requires_grad)
    return out


# -- forward ------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case,dtype", case_params(_symbolic_cases))
def test_forward_symbolic_equals_eager(case, dtype, backend):
    for sample, other in data_sets(case, dtype):
        inputs, output = _symbolic(case, sample)
        compiled = dj.function(inputs, output, backend=backend)
        for data in (sample, other):  # the second call reuses the graph on other values
            want = case.fn(*_eager_arguments(data, requires_grad=False))
            got = compiled(*_arrays(data))
            assert type(got) is numpy.ndarray, type(got)
            assert_same(got, want.array, case.name)


# -- gradients ----------------------------------------------------------------------------------
def _float_positions(sample):
    return [p for p in array_positions(sample) if numpy.asarray(sample[p]).dtype.kind == "f"]


def _eager_gradients(case, sample, weights):
    args = _eager_arguments(sample, requires_grad=True)
    wrt = [args[p] for p in _float_positions(sample)]
    return dg.grad([F.sum(case.fn(*args) * weights)], wrt)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case,dtype", case_params(
    lambda c: c.differentiable and _symbolic_cases(c), one_dtype=True))
def test_gradient_symbolic_equals_eager(case, dtype, backend):
    checked = 0
    for index, (sample, other) in enumerate(data_sets(case, dtype)):
        floats = _float_positions(sample)
        if not floats:  # e.g. only integer data in this sample: nothing to differentiate
            continue
        y = case.fn(*_eager_arguments(sample, requires_grad=False))
        weights = numpy.random.default_rng(index).standard_normal(y.shape).astype(y.dtype)
        inputs, output = _symbolic(case, sample)
        wrt = [inputs[array_positions(sample).index(p)] for p in floats]
        cost = (output * weights).sum()
        compiled = dj.function(inputs, dj.grad(cost, wrt, disconnected_inputs="ignore"),
                               backend=backend)
        for data in (sample, other):
            got = compiled(*_arrays(data))
            want = _eager_gradients(case, data, weights)
            assert len(got) == len(want) == len(floats)
            for k, (g, w) in enumerate(zip(got, want)):
                if w is None:  # eager: not connected; symbolic: zeros of the input's type
                    assert_same(g, numpy.zeros_like(numpy.asarray(data[floats[k]])),
                                 f"{case.name} gradient {k}")
                else:
                    assert_same(g, w.array, f"{case.name} gradient {k}")
        checked += 1
    assert checked, f"{case.name}: no sample has a float input to differentiate"


# -- what cannot be symbolic --------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(NOT_SYMBOLIC))
def test_cases_that_cannot_be_symbolic_raise_their_typed_error(name):
    error, names, _why = NOT_SYMBOLIC[name]
    matching = [c for c in CASES if c.name == name]
    assert matching, f"{name} is listed in NOT_SYMBOLIC but is no harness case"
    (case,) = matching
    for dtype in case.dtypes:
        for sample in sample_inputs(case, dtype):
            with pytest.raises(error, match=names):
                inputs, output = _symbolic(case, sample)
                dj.function(inputs, output)(*_arrays(sample))


# -- random draws from the stream -----------------------------------------------------------------
def test_stream_draws_of_a_compiled_function_are_eagers_draws():
    uniform, normal = T.basic.symbolic(R.uniform), T.basic.symbolic(R.normal)
    x = T.dvector("x")
    compiled = dj.function([x], x * uniform((3,), "float64") + normal((3,), "float64"))
    a = numpy.array([1.0, 2.0, 3.0])
    R.seed(21)
    eager = [(dg.Variable(a) * R.uniform((3,), "float64") + R.normal((3,), "float64")).array
             for _ in range(3)]
    eager_state = R.get_state()
    R.seed(21)
    for want in eager:
        numpy.testing.assert_array_equal(compiled(a), want)
    assert R.get_state() == eager_state
    assert not numpy.array_equal(eager[0], eager[1])  # fresh numbers on every call
