"""W5, RNN: forward and backward through 50 steps of a tanh RNN.

    h_0 = 0;  h_t = tanh(x_t Wx + h_{t-1} Wh + b)   for t = 1..50
    loss = sum over t of sum(h_t ** 2) / (50 * 32)   (per sequence, summed over steps)

Input 100, hidden 100, batch 32, float32. One timed unit computes the loss and its
gradients with respect to ``Wx``, ``Wh`` and ``b`` (no update). The loss looks at
*every* hidden state (not only the last), so every step receives gradient from the
loss directly as well as through its successors. The floor is numpy with
backpropagation through time written by hand (``numpy_rnn``), which projects all inputs
with one matrix product and forms the weight gradients with one product each after the
backward loop; the other implementations write the plain per-step loop.

Before timing, every implementation's loss and three gradients must match the floor's.

dualgrad's scan form comes from ``examples/rnn_scan.py``: ``build_w5_scan(backend=...)``
returns ``run()`` giving ``[loss, gWx, gWh, gb]`` by ``dj.scan`` on its own data
``run.data = (x, Wx, Wh, b)``; when it is there, every implementation uses that data
(so all compute the same numbers), else data drawn here, and that row says why.

    python bench/w5_rnn.py [--backend auto|llvm|numpy] [--quick] [--no-write]
"""

import os
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

KEY, HEADING = "w5", "W5: RNN forward and backward"
STEPS, BATCH, N_IN, HIDDEN = 50, 32, 100, 100
REFERENCE = "numpy (hand-written BPTT)"
EXAMPLES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "examples")


class Problem:
    """The inputs ``x`` (steps, batch, in) and the parameters; ``arrays`` given (the scan
    hook's data) or drawn from ``seed``."""

    def __init__(self, arrays=None, seed=5):
        if arrays is None:
            rng = numpy.random.default_rng(seed)
            arrays = (rng.standard_normal((STEPS, BATCH, N_IN)),
                      rng.standard_normal((N_IN, HIDDEN)) / numpy.sqrt(N_IN),
                      rng.standard_normal((HIDDEN, HIDDEN)) / numpy.sqrt(HIDDEN),
                      0.1 * rng.standard_normal(HIDDEN))
        self.x, self.Wx, self.Wh, self.b = (numpy.asarray(a, numpy.float32) for a in arrays)
        expected = [(STEPS, BATCH, N_IN), (N_IN, HIDDEN), (HIDDEN, HIDDEN), (HIDDEN,)]
        if [a.shape for a in (self.x, *self.params)] != expected:
            raise ValueError(f"W5 data must have shapes {expected}")

    @property
    def params(self):
        return [self.Wx, self.Wh, self.b]


def as_results(loss, grads):
    return [numpy.array([float(loss)])] + [numpy.asarray(g) for g in grads]


# -- numpy, by hand: the floor -------------------------------------------------------------------


def numpy_rnn(x, Wx, Wh, b):
    """``(loss, gWx, gWh, gb)`` by backpropagation through time, written by hand."""
    steps, batch, n_in = x.shape
    hidden = Wh.shape[0]
    hs = numpy.empty((steps + 1, batch, hidden), numpy.float32)
    hs[0] = 0
    projected = (x.reshape(steps * batch, n_in) @ Wx).reshape(steps, batch, hidden)
    projected += b
    for t in range(steps):
        a = hs[t] @ Wh
        a += projected[t]
        numpy.tanh(a, out=hs[t + 1])
    scale = numpy.float32(1.0 / (steps * batch))
    loss = numpy.vdot(hs[1:], hs[1:]) * scale
    da = numpy.empty((steps, batch, hidden), numpy.float32)
    dh = numpy.zeros((batch, hidden), numpy.float32)
    for t in reversed(range(steps)):
        h = hs[t + 1]
        dh += (2 * scale) * h  # d loss / d h_t directly
        numpy.multiply(dh, 1 - h * h, out=da[t])
        dh = da[t] @ Wh.T
    flat = da.reshape(steps * batch, hidden)
    gWh = hs[:-1].reshape(steps * batch, hidden).T @ flat
    gWx = x.reshape(steps * batch, n_in).T @ flat
    return loss, gWx, gWh, flat.sum(axis=0)


def build_numpy(problem):
    def run():
        return numpy_rnn(problem.x, *problem.params)

    def check():
        loss, *grads = run()
        return as_results(loss, grads)

    return _harness.Impl(run, check)


# -- PyTorch -------------------------------------------------------------------------------------


def _torch_parts(problem):
    import torch

    params = [torch.tensor(p, requires_grad=True) for p in problem.params]
    x = torch.from_numpy(problem.x)

    def loss_and_grads(x):
        Wx, Wh, b = params
        h = torch.zeros(x.shape[1], Wh.shape[0])
        hs = []
        for t in range(x.shape[0]):
            h = torch.tanh(x[t] @ Wx + h @ Wh + b)
            hs.append(h)
        stacked = torch.stack(hs)
        loss = (stacked * stacked).sum() / (x.shape[0] * x.shape[1])
        loss.backward()
        grads = [p.grad for p in params]
        for p in params:
            p.grad = None
        return loss.detach(), grads

    return torch, x, loss_and_grads


def build_torch(problem):
    torch, x, fn = _torch_parts(problem)
    return _harness.Impl(lambda: fn(x), lambda: _torch_results(fn(x)),
                         note=f"{torch.get_num_threads()} threads")


def build_torch_compile(problem):
    torch, x, fn = _torch_parts(problem)
    compiled = torch.compile(fn, dynamic=False)
    return _harness.Impl(lambda: compiled(x), lambda: _torch_results(compiled(x)),
                         note="the unrolled loop and backward compiled")


def _torch_results(out):
    loss, grads = out
    return as_results(loss.item(), [g.detach().numpy() for g in grads])


# -- JAX ----------------------------------------------------------------------------------------


def build_jax(problem, unrolled=False):
    import jax
    import jax.numpy as jnp

    def loss_fn(params, x):
        Wx, Wh, b = params

        def cell(h, x_t):
            h = jnp.tanh(x_t @ Wx + h @ Wh + b)
            return h, h

        h0 = jnp.zeros((x.shape[1], Wh.shape[0]), x.dtype)
        if unrolled:
            h, hs = h0, []
            for t in range(x.shape[0]):
                h, _ = cell(h, x[t])
                hs.append(h)
            hs = jnp.stack(hs)
        else:
            hs = jax.lax.scan(cell, h0, x)[1]
        return (hs * hs).sum() / (x.shape[0] * x.shape[1])

    step = jax.jit(jax.value_and_grad(loss_fn))
    params = [jnp.asarray(p) for p in problem.params]
    x = jnp.asarray(problem.x)

    def run():
        return jax.block_until_ready(step(params, x))

    def check():
        loss, grads = run()
        return as_results(loss, [numpy.asarray(g) for g in grads])

    return _harness.Impl(run, check)


# -- PyTensor -----------------------------------------------------------------------------------


def build_pytensor(problem):
    pytensor = _harness.import_pytensor()
    with _harness.quiet_warnings():
        import pytensor.tensor as pt

        params = [pytensor.shared(p.copy()) for p in problem.params]
        Wx, Wh, b = params
        x = pt.tensor3("x", dtype="float32")
        h0 = pt.zeros((x.shape[1], Wh.shape[0]), dtype="float32")
        hs = pytensor.scan(lambda x_t, h: pt.tanh(pt.dot(x_t, Wx) + pt.dot(h, Wh) + b),
                           sequences=[x], outputs_info=[h0], return_updates=False)
        loss = (hs * hs).sum() / (x.shape[0] * x.shape[1]).astype("float32")
        f = pytensor.function([x], [loss, *pytensor.grad(loss, params)])

    def check():
        loss, *grads = f(problem.x)
        return as_results(loss, grads)

    return _harness.Impl(lambda: f(problem.x), check,
                         note="scan; " + _harness.pytensor_note(pytensor))


# -- dualgrad ------------------------------------------------------------------------------------


def dualgrad_model(problem):
    import dualgrad as dg
    import dualgrad.functions as F

    class RNN(dg.Link):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.Wx = dg.Parameter(problem.Wx.copy())
                self.Wh = dg.Parameter(problem.Wh.copy())
                self.b = dg.Parameter(problem.b.copy())

    def loss_and_grads(model, x):
        """The unrolled loop; ``backward`` leaves the gradients in the parameters."""
        model.cleargrads()
        h = numpy.zeros((x.shape[1], model.Wh.shape[0]), numpy.float32)
        hs = []
        for t in range(x.shape[0]):
            h = F.tanh(F.matmul(x[t], model.Wx) + F.matmul(h, model.Wh) + model.b)
            hs.append(h)
        stacked = F.stack(hs)
        loss = F.sum(stacked * stacked) / numpy.float32(x.shape[0] * x.shape[1])
        loss.backward()
        return loss

    return RNN(), loss_and_grads


def _dualgrad_impl(run, model, note=""):
    def check():
        loss = run()
        return as_results(loss.array, [p.grad for p in (model.Wx, model.Wh, model.b)])

    return _harness.Impl(run, check, note)


def build_dualgrad_eager(problem):
    model, fn = dualgrad_model(problem)
    return _dualgrad_impl(lambda: fn(model, problem.x), model)


def build_dualgrad_jit(problem, backend):
    import dualgrad_jit as dj

    model, fn = dualgrad_model(problem)
    compiled = dj.jit(fn, static_argnums=(0,), backend=backend)
    impl = _dualgrad_impl(lambda: compiled(model, problem.x), model)
    impl.describe = lambda: f"unrolled; backend {_harness.resolved_backend(compiled, backend)}"
    return impl


def load_scan_hook(backend):
    """``(run, None)`` from ``examples/rnn_scan.py``'s ``build_w5_scan``, or ``(None, why)``."""
    sys.path.insert(0, EXAMPLES)
    try:
        from rnn_scan import build_w5_scan

        hook = build_w5_scan(backend=backend)
        Problem(hook.data)  # the shapes W5 needs
    except ImportError as error:
        return None, f"examples/rnn_scan.py has no build_w5_scan yet ({error})"
    except Exception as error:  # noqa: BLE001  (reported in the table)
        return None, f"build_w5_scan failed: {type(error).__name__}: {error}"
    finally:
        sys.path.remove(EXAMPLES)
    return hook, None


def build_dualgrad_scan(hook, why, backend):
    if hook is None:
        raise _harness.NotRunError(why)

    def check():
        loss, *grads = hook()
        return as_results(loss, grads)

    impl = _harness.Impl(hook, check)
    function = getattr(hook, "function", None)  # the dj.function, when the hook exposes it

    def describe():
        ran = _harness.resolved_backend(function, backend) if function is not None else (
            f"{backend} (build_w5_scan does not expose run.function to say which ran)")
        return f"dj.scan in dj.function; backend {ran}"

    impl.describe = describe
    return impl


def candidates(problem, backend, hook=None, why="not loaded"):
    return {
        REFERENCE: lambda: build_numpy(problem),
        "PyTorch eager": lambda: build_torch(problem),
        "torch.compile": lambda: build_torch_compile(problem),
        "JAX jit (lax.scan)": lambda: build_jax(problem),
        "JAX jit (unrolled)": lambda: build_jax(problem, unrolled=True),
        "PyTensor (C, scan)": lambda: build_pytensor(problem),
        "dualgrad eager": lambda: build_dualgrad_eager(problem),
        "dualgrad dj.jit": lambda: build_dualgrad_jit(problem, backend),
        "dualgrad scan": lambda: build_dualgrad_scan(hook, why, backend),
    }


# -- the run -------------------------------------------------------------------------------------


def run(args, log=_harness.log):
    log(f"W5 RNN, {STEPS} steps, batch {BATCH}, {N_IN}->{HIDDEN} (dualgrad backend "
        f"requested: {args.backend})")
    hook, why = load_scan_hook(args.backend)
    problem = Problem(hook.data if hook is not None else None)
    impls, results = _harness.build(
        _harness.select(candidates(problem, args.backend, hook, why), args, REFERENCE),
        log=log)
    _harness.check(impls, results, REFERENCE, rtol=1e-3, atol=1e-6, log=log)
    _harness.time_interleaved(impls, results, max_reps=2000, log=log,
                              **_harness.timing_options(args, budget_s=20))
    _harness.attach_notes(impls, results)
    table = _harness.markdown_table(list(results.values()),
                                    baselines=(REFERENCE, "JAX jit (lax.scan)", "PyTorch eager"))
    intro = (f"Loss and gradients (Wx, Wh, b) of a tanh RNN: {STEPS} steps, batch {BATCH}, "
             f"input {N_IN}, hidden {HIDDEN}, float32, `loss = sum_t sum(h_t ** 2) / (steps * "
             "batch)`. "
             "The floor is numpy with BPTT by hand (inputs projected in one product, weight "
             "gradients in one product each); the others run the plain per-step loop. "
             "Results are checked against the floor's (rtol 1e-3) before timing. "
             "Lower is better.")
    log(table)
    return [(KEY, HEADING, intro + "\n\n" + table)]


def main(argv=None):
    _harness.workload_main(__doc__, run, argv)


if __name__ == "__main__":
    main()
