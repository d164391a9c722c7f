"""W3, training step: a tanh MLP with softmax cross entropy, one SGD step, whole step.

    h = tanh(x W1^T + b1);  z = h W2^T + b2;  loss = mean_i (logsumexp(z_i) - z_i[t_i])
    p <- p - 0.1 * dloss/dp   for p in W1, b1, W2, b2

784-100-10 at batch 128, and 784-1000-10 at batch 1024; float32, int32 labels. One timed
unit is a whole step (forward, backward, update of the parameters held by the library).
The floor is numpy with the backward written by hand (``numpy_step``). Before timing,
every implementation runs three steps from the same parameters on the same batch and
its three losses must match the floor's: a wrong gradient or update changes the second
and third.

    python bench/w3_training_step.py [--backend auto|llvm|numpy] [--quick] [--no-write]
"""

import os
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

KEY, HEADING = "w3", "W3: training step"
SIZES = {"small": (128, 784, 100, 10), "large": (1024, 784, 1000, 10)}
LR = 0.1
REFERENCE = "numpy (hand-written)"
CHECK_STEPS = 3


class Problem:
    """The batch and the initial parameters (``W`` as ``(out, in)``, as in L.Linear)."""

    def __init__(self, batch, n_in, hidden, n_out, seed=3):
        rng = numpy.random.default_rng(seed)
        self.sizes = (batch, n_in, hidden, n_out)
        self.x = rng.uniform(0, 1, (batch, n_in)).astype(numpy.float32)
        self.t = rng.integers(0, n_out, batch).astype(numpy.int32)
        self.init = [
            (rng.standard_normal((hidden, n_in)) / numpy.sqrt(n_in)).astype(numpy.float32),
            numpy.zeros(hidden, numpy.float32),
            (rng.standard_normal((n_out, hidden)) / numpy.sqrt(hidden)).astype(numpy.float32),
            numpy.zeros(n_out, numpy.float32),
        ]

    def label(self):
        batch, n_in, hidden, n_out = self.sizes
        return f"batch {batch}, {n_in}-{hidden}-{n_out}"


def make_impl(reset, step, loss_value, note=""):
    """An Impl whose check resets the parameters, then returns the losses of a few steps."""

    def check():
        reset()
        return [numpy.array([loss_value(step()) for _ in range(CHECK_STEPS)])]

    return _harness.Impl(step, check, note)


# -- numpy, by hand: the floor ----------------------------------------------------------------


def numpy_step(params, x, t, lr=LR):
    """One SGD step in place; returns the loss (``sgd_step`` with numpy)."""
    return float(sgd_step(numpy, params, x, t, numpy.arange(x.shape[0]), lr))


def sgd_step(xp, params, x, t, rows, lr=LR):
    """One SGD step in place with array module ``xp`` (numpy, or cupy for the GPU
    benchmark); returns the loss as a 0-d array (a device loss does not wait for the
    step).  The batch-mean and ``lr`` are folded into the output gradient once (10
    numbers per example) rather than into every weight."""
    W1, b1, W2, b2 = params
    h = x @ W1.T
    h += b1
    xp.tanh(h, out=h)
    z = h @ W2.T
    z += b2
    z -= z.max(axis=1, keepdims=True)
    e = xp.exp(z)
    s = e.sum(axis=1, keepdims=True)
    loss = xp.mean(xp.log(s[:, 0]) - z[rows, t])
    e /= s
    e[rows, t] -= 1
    e *= lr / x.shape[0]  # e is now lr * dloss/dz
    gh = e @ W2  # before W2 changes
    W2 -= e.T @ h
    b2 -= e.sum(axis=0)
    h *= h
    xp.subtract(1, h, out=h)
    gh *= h  # lr * dloss/d(pre-activation)
    W1 -= gh.T @ x
    b1 -= gh.sum(axis=0)
    return loss


def build_numpy(problem):
    params = [p.copy() for p in problem.init]

    def reset():
        for p, p0 in zip(params, problem.init):
            p[...] = p0

    return make_impl(reset, lambda: numpy_step(params, problem.x, problem.t), float)


# -- PyTorch -------------------------------------------------------------------------------------


def _torch_state(problem):
    import torch

    params = [torch.tensor(p, requires_grad=True) for p in problem.init]

    def reset():
        with torch.no_grad():
            for p, p0 in zip(params, problem.init):
                p.copy_(torch.from_numpy(p0))

    x, t = torch.from_numpy(problem.x), torch.from_numpy(problem.t).long()
    return torch, params, reset, x, t


def _torch_step(torch, params):
    functional = torch.nn.functional

    def step(x, t):
        W1, b1, W2, b2 = params
        h = torch.tanh(functional.linear(x, W1, b1))
        loss = functional.cross_entropy(functional.linear(h, W2, b2), t)
        loss.backward()
        with torch.no_grad():
            grads = [p.grad for p in params]
            torch._foreach_add_(params, grads, alpha=-LR)
            for p in params:
                p.grad = None
        return loss.detach()

    return step


def build_torch(problem):
    torch, params, reset, x, t = _torch_state(problem)
    step = _torch_step(torch, params)
    return make_impl(reset, lambda: step(x, t), lambda loss: float(loss),
                     note=f"{torch.get_num_threads()} threads")


def build_torch_compile(problem):
    torch, params, reset, x, t = _torch_state(problem)
    step = torch.compile(_torch_step(torch, params), dynamic=False)
    return make_impl(reset, lambda: step(x, t), lambda loss: float(loss),
                     note="the whole step function compiled (graphs split at backward)")


# -- JAX ----------------------------------------------------------------------------------------


def jax_step_function():
    import jax
    import jax.numpy as jnp

    def loss_fn(params, x, t):
        W1, b1, W2, b2 = params
        h = jnp.tanh(x @ W1.T + b1)
        logp = jax.nn.log_softmax(h @ W2.T + b2)
        return -jnp.mean(jnp.take_along_axis(logp, t[:, None], axis=1))

    def step(params, x, t):
        loss, grads = jax.value_and_grad(loss_fn)(params, x, t)
        return [p - LR * g for p, g in zip(params, grads)], loss

    return jax, jnp, jax.jit(step, donate_argnums=0)


def build_jax(problem):
    jax, jnp, step = jax_step_function()
    state = {}
    x, t = jnp.asarray(problem.x), jnp.asarray(problem.t)

    def reset():
        state["params"] = [jnp.array(p) for p in problem.init]

    def run():
        state["params"], loss = step(state["params"], x, t)
        return jax.block_until_ready(loss)

    reset()
    return make_impl(reset, run, float, note="params donated")


# -- PyTensor -----------------------------------------------------------------------------------


def build_pytensor(problem):
    pytensor = _harness.import_pytensor()
    with _harness.quiet_warnings():
        import pytensor.tensor as pt
        from pytensor.tensor.special import log_softmax

        params = [pytensor.shared(p.copy()) for p in problem.init]
        W1, b1, W2, b2 = params
        x, t = pt.fmatrix("x"), pt.ivector("t")
        h = pt.tanh(pt.dot(x, W1.T) + b1)
        logp = log_softmax(pt.dot(h, W2.T) + b2, axis=1)
        loss = -pt.mean(logp[pt.arange(t.shape[0]), t])
        grads = pytensor.grad(loss, params)
        lr = numpy.float32(LR)
        f = pytensor.function([x, t], loss,
                              updates=[(p, p - lr * g) for p, g in zip(params, grads)])

    def reset():
        for p, p0 in zip(params, problem.init):
            p.set_value(p0.copy())

    return make_impl(reset, lambda: f(problem.x, problem.t), float,
                     note=_harness.pytensor_note(pytensor))


# -- dualgrad ------------------------------------------------------------------------------------


def dualgrad_model(problem):
    import dualgrad as dg
    import dualgrad.functions as F
    import dualgrad.links as L

    batch, n_in, hidden, n_out = problem.sizes

    class MLP(dg.Chain):
        def __init__(self):
            super().__init__()
            with self.init_scope():
                self.l1 = L.Linear(n_in, hidden)
                self.l2 = L.Linear(hidden, n_out)

        def forward(self, x):
            return self.l2(F.tanh(self.l1(x)))

    model = MLP()
    params = [model.l1.W, model.l1.b, model.l2.W, model.l2.b]
    optimizer = dg.optimizers.SGD(lr=LR).setup(model)

    def reset():
        for p, p0 in zip(params, problem.init):
            p.array[...] = p0

    reset()
    return dg, F, model, optimizer, reset


def chainer_step(model, optimizer, x, t):
    """The Chainer-style step that ``dj.jit(chainer_step, static_argnums=(0, 1))`` compiles."""
    import dualgrad.functions as F

    model.cleargrads()
    loss = F.softmax_cross_entropy(model(x), t)
    loss.backward()
    optimizer.update()
    return loss


def build_dualgrad_eager(problem):
    dg, F, model, optimizer, reset = dualgrad_model(problem)
    return make_impl(reset, lambda: chainer_step(model, optimizer, problem.x, problem.t),
                     lambda loss: float(loss.array))


def build_dualgrad_jit(problem, backend):
    import dualgrad_jit as dj

    dg, F, model, optimizer, reset = dualgrad_model(problem)
    compiled = dj.jit(chainer_step, static_argnums=(0, 1), backend=backend)
    impl = make_impl(reset, lambda: compiled(model, optimizer, problem.x, problem.t),
                     lambda loss: float(loss.array))
    impl.describe = lambda: f"backend {_harness.resolved_backend(compiled, backend)}"
    return impl


def dualgrad_function(problem, backend):
    """``dj.function`` of the symbolic step with ``updates``; returns (function, reset)."""
    import dualgrad.functions as F
    import dualgrad_jit as dj
    import dualgrad_jit.tensor as T

    params = [dj.shared(p.copy()) for p in problem.init]
    W1, b1, W2, b2 = params
    x, t = T.fmatrix("x"), T.ivector("t")
    h = T.tanh(T.dot(x, W1.T) + b1)
    loss = F.softmax_cross_entropy(T.dot(h, W2.T) + b2, t)
    grads = dj.grad(loss, params)
    lr = numpy.float32(LR)
    f = dj.function([x, t], loss, updates=[(p, p - lr * g) for p, g in zip(params, grads)],
                    backend=backend)

    def reset():
        for p, p0 in zip(params, problem.init):
            p.set_value(p0.copy())

    return f, reset


def build_dualgrad_function(problem, backend):
    f, reset = dualgrad_function(problem, backend)
    impl = make_impl(reset, lambda: f(problem.x, problem.t), lambda loss: float(loss))
    impl.describe = lambda: f"backend {_harness.resolved_backend(f, backend)}"
    return impl


def candidates(problem, backend):
    return {
        REFERENCE: lambda: build_numpy(problem),
        "PyTorch eager": lambda: build_torch(problem),
        "torch.compile": lambda: build_torch_compile(problem),
        "JAX jit": lambda: build_jax(problem),
        "PyTensor (C)": lambda: build_pytensor(problem),
        "dualgrad eager": lambda: build_dualgrad_eager(problem),
        "dualgrad dj.jit": lambda: build_dualgrad_jit(problem, backend),
        "dualgrad dj.function": lambda: build_dualgrad_function(problem, backend),
    }


# -- the run -------------------------------------------------------------------------------------


def run_size(problem, args, log):
    log(f"W3 training step, {problem.label()} (dualgrad backend requested: {args.backend})")
    impls, results = _harness.build(
        _harness.select(candidates(problem, args.backend), args, REFERENCE), log=log)
    _harness.check(impls, results, REFERENCE, rtol=2e-4, atol=1e-5, log=log)
    budget = 20 if problem.sizes[0] < 1000 else 30
    _harness.time_interleaved(impls, results, max_reps=2000, log=log,
                              **_harness.timing_options(args, budget_s=budget))
    _harness.attach_notes(impls, results)
    table = _harness.markdown_table(list(results.values()),
                                    baselines=(REFERENCE, "JAX jit", "PyTorch eager"))
    log(table)
    return f"### {problem.label()}\n\n{table}"


def run(args, log=_harness.log):
    parts = [run_size(Problem(*SIZES[size]), args, log) for size in ("small", "large")]
    intro = ("One SGD step (lr 0.1) of a tanh MLP with softmax cross entropy, float32: "
             "forward, backward and the update of parameters the library holds. "
             "`numpy (hand-written)` is the floor (backward by hand, no autodiff). "
             "`dualgrad dj.jit` compiles the Chainer-style step (`cleargrads`, "
             "`backward`, `optimizer.update`); `dualgrad dj.function` the symbolic graph "
             "with `updates`. torch.compile compiles the same step function as eager "
             "PyTorch (Dynamo splits it at `backward`). Every implementation's first "
             f"{CHECK_STEPS} losses from the same start are checked against the floor's "
             "before timing. Lower is better.")
    return [(KEY, HEADING, intro + "\n\n" + "\n\n".join(parts))]


def main(argv=None):
    _harness.workload_main(__doc__, run, argv)


if __name__ == "__main__":
    main()
