"""GPU W3, training step: the 784-1000-10 tanh MLP of W3 (batch 1024) on a CUDA device.

    h = tanh(x W1^T + b1);  z = h W2^T + b2;  loss = mean_i (logsumexp(z_i) - z_i[t_i])
    p <- p - 0.1 * dloss/dp   for p in W1, b1, W2, b2

float32, int32 labels; the batch and the parameters live on the device. One timed unit
is a whole step (forward, backward, update of the parameters the library holds), up to
a device synchronisation. The floor is the step written by hand in cupy
(``w3.sgd_step`` with cupy: the numpy floor of W3, op for op). Before timing, every
implementation runs three steps from the same parameters and its losses must match
those of the hand-written step run by numpy on the host (so the cupy floor is checked
too).

Without a CUDA device (or without cupy) the script prints one line saying so and exits
leaving RESULTS.md alone. ``run_all.py`` runs it only with ``--gpu``.

    python bench/gpu_w3.py [--backend auto|cuda|numpy] [--quick] [--no-write]
"""

import os
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402
import gpu_w2  # noqa: E402
import w3_training_step as w3  # noqa: E402

KEY, HEADING = "gpu_w3", "GPU W3: training step"
SIZE = w3.SIZES["large"]
REFERENCE = "cupy (hand-written)"
HOST = "numpy on the host"  # checks every row, is not timed


class DeviceProblem:
    """W3's problem with its batch and initial parameters copied to the device."""

    def __init__(self, cupy, problem):
        self.cupy, self.problem = cupy, problem
        self.x, self.t = cupy.asarray(problem.x), cupy.asarray(problem.t)
        self.init = [cupy.asarray(p) for p in problem.init]
        self.synchronize = cupy.cuda.Device().synchronize
        self.synchronize()

    def timed(self, step):
        """A step that returns once the device has finished it."""
        def run():
            out = step()
            self.synchronize()
            return out

        return run

    def resetter(self, arrays):
        """Set device ``arrays`` (the parameters, in W3's order) to the initial values."""
        def reset():
            for a, a0 in zip(arrays(), self.init):
                a[...] = a0

        return reset


# -- cupy, by hand: the floor --------------------------------------------------------------------


def build_cupy(dev):
    cupy = dev.cupy
    params = [p.copy() for p in dev.init]
    rows = cupy.arange(dev.x.shape[0])
    step = dev.timed(lambda: w3.sgd_step(cupy, params, dev.x, dev.t, rows))
    return w3.make_impl(dev.resetter(lambda: params), step, float)


# -- PyTorch -------------------------------------------------------------------------------------


def build_torch(dev):
    torch = gpu_w2._torch_cuda()
    x = torch.from_dlpack(dev.x)  # a view of the cupy array, on its device
    t = torch.from_dlpack(dev.t).long()
    params = [torch.tensor(p, device=x.device, requires_grad=True) for p in dev.problem.init]

    def reset():
        with torch.no_grad():
            for p, p0 in zip(params, dev.problem.init):
                p.copy_(torch.from_numpy(p0))

    step = w3._torch_step(torch, params)
    return w3.make_impl(reset, dev.timed(lambda: step(x, t)), lambda loss: float(loss),
                        note=f"torch {torch.__version__}")


# -- dualgrad ------------------------------------------------------------------------------------


def dualgrad_model_on_device(dev):
    """W3's model and SGD optimizer, moved with ``to_device('gpu')``; and its reset."""
    _, _, model, optimizer, _ = w3.dualgrad_model(dev.problem)
    model.to_device("gpu")
    params = [model.l1.W, model.l1.b, model.l2.W, model.l2.b]
    return model, optimizer, dev.resetter(lambda: [p.array for p in params])


def build_dualgrad_eager(dev):
    model, optimizer, reset = dualgrad_model_on_device(dev)
    step = dev.timed(lambda: w3.chainer_step(model, optimizer, dev.x, dev.t))
    return w3.make_impl(reset, step, lambda loss: float(loss.array), note="on cupy arrays")


def build_dualgrad_jit(dev, backend):
    import dualgrad_jit as dj

    model, optimizer, reset = dualgrad_model_on_device(dev)
    compiled = dj.jit(w3.chainer_step, static_argnums=(0, 1), backend=backend)
    step = dev.timed(lambda: compiled(model, optimizer, dev.x, dev.t))
    impl = w3.make_impl(reset, step, lambda loss: float(loss.array))
    impl.describe = lambda: f"backend {_harness.resolved_backend(compiled, backend)}"
    return impl


def build_dualgrad_function(dev, backend):
    """W3's symbolic step (``w3.dualgrad_function``) built on the device's initial
    parameters: ``dj.shared`` keeps device arrays on the device, so the function reads
    them there, runs there (backend 'auto' picks 'cuda') and writes its updates into
    them; the batch is passed as device arrays."""
    f, reset = w3.dualgrad_function(types.SimpleNamespace(init=dev.init), backend)
    impl = w3.make_impl(reset, dev.timed(lambda: f(dev.x, dev.t)), lambda loss: float(loss))
    impl.describe = lambda: (f"backend {_harness.resolved_backend(f, backend)}, parameters "
                             "in dj.shared on cupy arrays")
    return impl


def candidates(dev, backend):
    return {
        REFERENCE: lambda: build_cupy(dev),
        "PyTorch CUDA eager": lambda: build_torch(dev),
        "dualgrad eager": lambda: build_dualgrad_eager(dev),
        "dualgrad dj.jit": lambda: build_dualgrad_jit(dev, backend),
        "dualgrad dj.function": lambda: build_dualgrad_function(dev, backend),
    }


# -- the run -------------------------------------------------------------------------------------


def run(args, log=_harness.log):
    """Build, check and time every implementation; the markdown text of the section (no
    section, and one line on stdout, without a CUDA device)."""
    cupy, why = _harness.cuda_device()
    if cupy is None:
        print(f"gpu_w3: no CUDA device found ({why}); nothing run, RESULTS.md left alone")
        return []
    backend = _harness.gpu_backend(args, log)
    problem = w3.Problem(*SIZE)
    log(f"GPU W3 training step, {problem.label()} (dualgrad backend requested: {backend})")
    dev = DeviceProblem(cupy, problem)
    impls, results = _harness.build(
        _harness.select(candidates(dev, backend), args, REFERENCE), log=log)
    _harness.check({HOST: w3.build_numpy(problem), **impls}, results, HOST, rtol=2e-4,
                   atol=1e-5, log=log)
    _harness.time_interleaved(impls, results, max_reps=2000, log=log,
                              **_harness.timing_options(args, budget_s=30))
    _harness.attach_notes(impls, results)
    table = _harness.markdown_table(list(results.values()),
                                    baselines=(REFERENCE, "PyTorch CUDA eager"))
    intro = (f"One SGD step (lr {w3.LR}) of W3's tanh MLP ({problem.label()}) with softmax "
             "cross entropy, float32, with the batch and the parameters on the device: "
             "forward, backward and the update of the parameters the library holds, timed "
             "up to a device synchronisation. `cupy (hand-written)` is the floor (backward "
             "by hand, no autodiff). `dualgrad eager` runs the Chainer-style step on a model "
             "moved with `to_device('gpu')`; `dualgrad dj.jit` compiles that step; "
             "`dualgrad dj.function` the symbolic graph with `updates` of "
             "shared variables holding the device arrays. Every "
             f"implementation's first {w3.CHECK_STEPS} losses from the same start are "
             "checked against the hand-written step run by numpy on the host (rtol 2e-4) "
             "before timing. Lower is better.")
    env = _harness.gpu_environment_lines(cupy, _harness.script_command("gpu_w3.py", args))
    text = "\n".join([intro, "", *env, "", table])
    log(text)
    return [(KEY, HEADING, text)]


def main(argv=None):
    _harness.workload_main(__doc__, run, argv)


if __name__ == "__main__":
    main()
