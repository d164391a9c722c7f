"""The tracer hook in ``apply``: every op application is routed to an installed tracer."""

import numpy as np

import dualgrad as dg
from dualgrad.core import tape
from dualgrad.ops import elementwise as ew


class RecordingTracer:
    def __init__(self):
        self.ops = []

    def apply(self, op, inputs, xp):
        self.ops.append(op.name)
        previous = tape.set_tracer(None)  # run the op eagerly underneath
        try:
            return tape.apply(op, inputs, xp)
        finally:
            tape.set_tracer(previous)


def test_installed_tracer_sees_forward_and_backward_ops_in_order():
    tracer = RecordingTracer()
    x = dg.Variable(np.array([0.5, -1.0]))
    previous = tape.set_tracer(tracer)
    try:
        y = (ew.tanh(x) * 2.0).sum()
        y.backward()
    finally:
        tape.set_tracer(previous)
    assert tracer.ops[:3] == ["Tanh", "Mul", "Sum"]
    assert "TanhGrad" in tracer.ops[3:]  # backward runs through the same hook
    np.testing.assert_allclose(x.grad, 2 * (1 - np.tanh(x.array) ** 2))


def test_no_tracer_is_installed_by_default():
    assert tape.TRACER is None
