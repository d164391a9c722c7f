"""Every registered op, checked the same way (see ``harness``)."""

import numpy
import pytest

import dualgrad as dg
from dualgrad.gradient_check import check_backward, check_double_backward
from dualgrad.lowering_check import evaluate_lowering

from .harness import Recorder, as_inputs, close, collect_cases, random_like, sample_inputs

CASES = collect_cases()


def _params(dtypes=True, where=lambda case: True):
    out = []
    for case in CASES:
        if not where(case):
            continue
        for dtype in case.dtypes if dtypes else ("float64",):
            out.append(pytest.param(case, dtype, id=f"{case.name}-{dtype}"))
    return out


def _differentiable(case):
    return case.differentiable


def _twice_differentiable(case):
    return case.differentiable and case.double


def test_every_op_has_cases():
    covered = {case.op for case in CASES}
    missing = [op.__name__ for op in dg.OP_REGISTRY if op not in covered]
    assert not missing, f"ops registered without harness samples: {missing}"


@pytest.mark.parametrize("case,dtype", _params())
def test_forward_matches_numpy(case, dtype):
    for sample in sample_inputs(case, dtype):
        with Recorder():
            y = case.fn(*as_inputs(sample))
        expected = case.ref(*[numpy.array(a) if hasattr(a, "shape") else a for a in sample])
        actual = numpy.asarray(y.array)
        assert actual.shape == numpy.shape(expected), (actual.shape, numpy.shape(expected))
        if case.exact_dtype:
            assert actual.dtype == numpy.asarray(expected).dtype, (actual.dtype, expected.dtype)
        close(actual, expected, dtype, case.atol, case.rtol)


@pytest.mark.parametrize("case,dtype", _params())
def test_lowering_matches_forward(case, dtype):
    """Every op applied by the case computes the same through its lowering."""
    for sample in sample_inputs(case, dtype):
        with Recorder() as recorder, dg.no_backprop_mode():
            case.fn(*as_inputs(sample, requires_grad=False))
        assert any(type(op) is case.op for op, _, _ in recorder.calls), (
            f"the case for {case.op.__name__} never applied it"
        )
        for op, arrays, y in recorder.calls:
            lowered = evaluate_lowering(op, arrays)
            if lowered is not None:
                assert lowered.shape == y.shape and lowered.dtype == y.dtype, (op, lowered.dtype)
                close(lowered, y, y.dtype if y.dtype.kind == "f" else "float64", 1e-6, 1e-6)


@pytest.mark.parametrize("case,dtype", _params(dtypes=False, where=_differentiable))
def test_backward_matches_finite_differences(case, dtype):
    for index, sample in enumerate(sample_inputs(case, dtype)):
        rng = numpy.random.default_rng(index)
        y = case.fn(*as_inputs(sample, requires_grad=False))
        if y.size == 0:
            continue
        check_backward(
            case.fn, _float64(sample), random_like(rng, y.array), eps=case.eps,
            atol=case.grad_atol, rtol=case.grad_rtol, no_grads=_no_grads(sample),
        )


@pytest.mark.parametrize("case,dtype", _params(dtypes=False, where=_twice_differentiable))
def test_double_backward_matches_finite_differences(case, dtype):
    for index, sample in enumerate(sample_inputs(case, dtype)):
        rng = numpy.random.default_rng(100 + index)
        floats = [a for a in sample if _is_float(a)]
        if not floats:
            continue
        y = case.fn(*as_inputs(sample, requires_grad=False))
        if y.size == 0:
            continue
        n = len(sample)
        raw = [a for a in sample]
        positions = [i for i in range(n) if _is_float(raw[i])]

        def first(*args, positions=positions, raw=raw):
            full = list(raw)
            for p, value in zip(positions, args):
                full[p] = value
            return case.fn(*full)

        check_double_backward(
            first, tuple(numpy.array(raw[p], numpy.float64) for p in positions),
            random_like(rng, y.array),
            tuple(rng.standard_normal(numpy.shape(raw[p])) for p in positions),
            eps=case.eps, atol=case.grad_atol * 10, rtol=case.grad_rtol * 10,
        )


@pytest.mark.parametrize("case,dtype", _params())
def test_infer_matches_forward(case, dtype):
    """Debug mode re-runs ``infer`` on every op and compares (it raises on a mismatch)."""
    for sample in sample_inputs(case, dtype):
        with Recorder() as recorder:
            case.fn(*as_inputs(sample))
        for op, arrays, y in recorder.calls:
            aval = op.infer(*[dg.core.aval.aval_of(a) for a in arrays])
            assert aval.shape == y.shape and aval.dtype == y.dtype, (op, aval, y.dtype, y.shape)


@pytest.mark.parametrize(
    "case,dtype", _params(where=lambda case: not case.differentiable)
)
def test_non_differentiable_ops_send_no_gradient(case, dtype):
    """Comparisons, argmax, sign, floor, integer math, random draws: no gradient reaches
    the inputs, and none of them is silently given a wrong (non-zero) one."""
    for sample in sample_inputs(case, dtype):
        inputs = as_inputs(sample)
        y = case.fn(*inputs)
        variables = [x for x in inputs if isinstance(x, dg.Variable)]
        if y.creator is not None and y.size:
            y.grad = numpy.ones_like(y.array)
            y.backward()
        for x in variables:
            assert x.grad is None or not numpy.any(x.grad), (case.name, x.grad)


@pytest.mark.parametrize(
    "case,dtype", _params(where=lambda case: case.op.numpy_ufunc is not None)
)
def test_declared_numpy_ufunc_matches_forward(case, dtype):
    """``apply`` runs ``numpy_ufunc`` on numpy arrays, ``forward`` elsewhere (cupy): the
    two must agree bit for bit."""
    for sample in sample_inputs(case, dtype):
        with Recorder() as recorder, dg.no_backprop_mode():
            case.fn(*as_inputs(sample, requires_grad=False))
        for op, arrays, y in recorder.calls:
            if type(op) is case.op:
                with numpy.errstate(all="ignore"):
                    expected = numpy.asarray(op.forward(numpy, *arrays))
                numpy.testing.assert_array_equal(y, expected)
                assert y.dtype == expected.dtype


def _is_float(a):
    return isinstance(a, numpy.ndarray) and a.dtype.kind == "f"


def _float64(sample):
    return tuple(numpy.array(a, numpy.float64) if _is_float(a) else a for a in sample)


def _no_grads(sample):
    return [not _is_float(a) for a in sample]
