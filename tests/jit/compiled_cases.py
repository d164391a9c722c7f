"""What the traced and the symbolic runs of the op harness share: parametrisation,
splitting samples into array inputs and fixed configuration, and the comparison."""

import numpy
import pytest

from ..ops.harness import collect_cases, sample_inputs

CASES = collect_cases()

#: every backend the compiled face runs on here: the reference interpreter and LLVM
#: (CUDA runs in tests marked ``gpu``)
BACKENDS = ("numpy", "llvm")


def case_params(where=lambda case: True, one_dtype=False):
    """(case, dtype) pairs: every dtype, or only float64 (else the first) with one_dtype."""
    out = []
    for case in CASES:
        if where(case):
            dtypes = case.dtypes
            if one_dtype:
                dtypes = ("float64",) if "float64" in dtypes else dtypes[:1]
            out += [pytest.param(case, dtype, id=f"{case.name}-{dtype}") for dtype in dtypes]
    return out


def assert_same(got, want, what):
    """Equal shape and dtype, values equal within 8 eps of the largest finite value."""
    got, want = numpy.asarray(got), numpy.asarray(want)
    assert got.shape == want.shape and got.dtype == want.dtype, (
        what, got.dtype, got.shape, want.dtype, want.shape)
    if got.dtype.kind not in "fc":
        numpy.testing.assert_array_equal(got, want, err_msg=what)
        return
    eps = numpy.finfo(got.dtype).eps
    finite = want[numpy.isfinite(want)]
    scale = max(1.0, float(numpy.abs(finite).max())) if finite.size else 1.0
    numpy.testing.assert_allclose(got, want, rtol=8 * eps, atol=8 * eps * scale,
                                  equal_nan=True, err_msg=what)


def array_positions(sample):
    """Positions of the arrays of a sample (the compiled function's inputs); the other
    entries (Python scalars, shapes, keys) are fixed configuration of the case."""
    return [i for i, a in enumerate(sample) if isinstance(a, (numpy.ndarray, numpy.generic))]


def data_sets(case, dtype):
    """Pairs (sample, a sample of the same shapes with other values), so that a second
    call checks the compiled code is reused on new data, not frozen."""
    first, second = sample_inputs(case, dtype, seed=0), sample_inputs(case, dtype, seed=1)
    for a, b in zip(first, second):
        same = all(numpy.shape(x) == numpy.shape(y) for x, y in zip(a, b))
        yield a, (b if same else a)


def assert_loss_and_gradients(got, want, name, same=assert_same):
    """A ``(loss, gradients)`` result equals another: the loss, then each gradient
    (``None`` where the reference has none)."""
    (got_loss, got_grads), (want_loss, want_grads) = got, want
    same(got_loss.array, want_loss.array, f"{name} loss")
    assert len(got_grads) == len(want_grads)
    for k, (g, w) in enumerate(zip(got_grads, want_grads)):
        if w is None:
            assert g is None, (name, k)
        else:
            same(g.array, w.array, f"{name} gradient {k}")
