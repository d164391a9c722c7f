"""The one op test harness.

Every op family contributes ``CASES`` (a list of ``OpCase``) in ``tests/ops/cases_*.py``.
For each case and sample the harness checks, over float32 and float64:
- forward against the numpy reference (values and dtype),
- ``infer`` against the forward output and the lowering against ``forward`` (every op
  applied, through the debug-mode observer),
- backward against float64 central differences along a random direction,
- double backward likewise.
``test_every_op_has_cases`` fails when an op is registered without samples.
"""

import dataclasses
import importlib
import pkgutil
from collections.abc import Callable

import numpy

import dualgrad as dg


@dataclasses.dataclass
class OpCase:
    """How to test one op.

    ``fn(*variables)`` calls the op (through its functional form); ``ref(*arrays)`` is the
    numpy reference; ``samples(rng, dtype)`` returns a list of input tuples (arrays or
    Python scalars) covering broadcasting, 0-d and size-0 arrays where the op allows.
    ``grad_inputs`` selects which inputs are differentiated (default: the float ones).
    """

    op: type
    fn: Callable
    ref: Callable
    samples: Callable
    name: str = ""
    dtypes: tuple = ("float32", "float64")
    differentiable: bool = True
    double: bool = True
    atol: float = 1e-5
    rtol: float = 1e-4
    grad_atol: float = 1e-4
    grad_rtol: float = 1e-3
    eps: float = 1e-4
    exact_dtype: bool = True

    def __post_init__(self):
        if not self.name:
            self.name = self.op.__name__

    def __str__(self):
        return self.name


def collect_cases():
    import tests.ops as package

    cases = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name.startswith("cases_"):
            module = importlib.import_module(f"tests.ops.{info.name}")
            cases.extend(module.CASES)
    return cases


def sample_inputs(case, dtype, seed=0):
    rng = numpy.random.default_rng(seed)
    return case.samples(rng, numpy.dtype(dtype))


def as_inputs(sample, requires_grad=True):
    """Wrap the float arrays of a sample as Variables; leave ints and scalars raw."""
    out = []
    for a in sample:
        if isinstance(a, numpy.ndarray) and a.dtype.kind == "f":
            out.append(dg.Variable(a.copy(), requires_grad=requires_grad))
        else:
            out.append(a)
    return out


class Recorder:
    """Collects every op applied (debug mode) with its input arrays and output."""

    def __init__(self):
        self.calls = []

    def __call__(self, op, arrays, y):
        self.calls.append((op, [numpy.array(a) if hasattr(a, "shape") else a for a in arrays],
                           numpy.array(y)))

    def __enter__(self):
        from dualgrad.core import tape

        tape.OBSERVERS.append(self)
        self._old_debug = dg.config.debug
        dg.config.debug = 1
        return self

    def __exit__(self, *exc):
        from dualgrad.core import tape

        tape.OBSERVERS.remove(self)
        dg.config.debug = self._old_debug


def close(actual, expected, dtype, atol, rtol):
    scale = 100 if numpy.dtype(dtype) == numpy.float32 else 1
    numpy.testing.assert_allclose(
        numpy.asarray(actual, dtype=numpy.float64) if numpy.asarray(actual).dtype.kind != "b"
        else actual,
        numpy.asarray(expected, dtype=numpy.float64) if numpy.asarray(expected).dtype.kind != "b"
        else expected,
        atol=atol * scale, rtol=rtol * scale, equal_nan=True,
    )


def random_like(rng, array):
    return rng.standard_normal(numpy.shape(array))
