"""GPU W2, fused elementwise: one expression over 64M float32 on a CUDA device.

    out = tanh(x) * sigmoid(y) + x * y - exp(-x * x) + 0.5 * x

with ``x``, ``y`` of 64 * 2**20 float32 each, already on the device (cupy arrays). A fused
kernel reads ``x`` and ``y`` once and writes ``out`` once: 768 MiB of traffic. The floor
is the device's copy bandwidth, measured in the same run: a cupy copy of one 256 MiB
array (512 MiB read and written), its time scaled to 768 MiB. cupy evaluates op by op,
with a temporary per op; ``cupy.fuse`` compiles the function into one kernel.

Every call is timed up to a device synchronisation (``cupy.cuda.Device().synchronize()``):
a row's time is the kernels' run, not their asynchronous launch. Results are checked
against float64 numpy on a sample of 2**20 elements before timing.

Without a CUDA device (or without cupy) the script prints one line saying so and exits
leaving RESULTS.md alone. ``run_all.py`` runs it only with ``--gpu``.

    python bench/gpu_w2.py [--backend auto|cuda|numpy] [--quick] [--no-write]
"""

import os
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402
import w2_fused_elementwise as w2  # noqa: E402

KEY, HEADING = "gpu_w2", "GPU W2: fused elementwise"
N = 64 * 2**20
SAMPLE = 2**20  # elements compared with float64 numpy
REFERENCE = "cupy"
COPY = "cupy copy"


class DeviceInputs:
    """The inputs on the device, a sample of their positions, and the synchronisation."""

    def __init__(self, cupy, n):
        self.cupy = cupy
        self.host = w2.inputs(n)
        self.x, self.y = (cupy.asarray(a) for a in self.host)
        picked = numpy.random.default_rng(5).choice(n, size=min(SAMPLE, n), replace=False)
        self.picked = numpy.sort(picked)
        self.picked_on_device = cupy.asarray(self.picked)
        self.synchronize = cupy.cuda.Device().synchronize
        self.synchronize()

    def timed(self, compute):
        """``run`` of an Impl: the work, then waiting for the device to finish it."""
        def run():
            out = compute()
            self.synchronize()
            return out

        return run

    def sample(self, out):
        """The checked elements of a cupy result, on the host."""
        return [out[self.picked_on_device].get()]


# -- implementations: each builder returns an Impl or raises ImportError / NotRunError ---------


def cupy_expression(cupy):
    def expression(x, y):
        return cupy.tanh(x) * (1 / (1 + cupy.exp(-y))) + x * y - cupy.exp(-x * x) + 0.5 * x

    return expression


def build_copy(dev):
    """The floor: ``cupy.copyto`` of contiguous arrays (a device-to-device memcpy)."""
    cupy = dev.cupy
    dst = cupy.empty_like(dev.x)
    return _harness.Impl(dev.timed(lambda: cupy.copyto(dst, dev.x)))


def build_cupy(dev):
    expression = cupy_expression(dev.cupy)
    run = dev.timed(lambda: expression(dev.x, dev.y))
    return _harness.Impl(run, lambda: dev.sample(run()), note="op by op, a temporary per op")


def build_cupy_fuse(dev):
    fused = dev.cupy.fuse(cupy_expression(dev.cupy))
    run = dev.timed(lambda: fused(dev.x, dev.y))
    run()  # compiles
    return _harness.Impl(run, lambda: dev.sample(run()), note="one kernel")


def _torch_cuda():
    import torch

    if torch.version.cuda is None:
        raise _harness.NotRunError(f"torch {torch.__version__} is a CPU-only build")
    if not torch.cuda.is_available():
        raise _harness.NotRunError(f"torch {torch.__version__} sees no CUDA device")
    return torch


def _torch_inputs(torch, dev):
    # zero-copy views of the cupy arrays (DLPack); both libraries use the default stream
    return torch.from_dlpack(dev.x), torch.from_dlpack(dev.y), torch.from_dlpack(
        dev.picked_on_device)


def _torch_impl(torch, dev, expression, note):
    tx, ty, picked = _torch_inputs(torch, dev)
    run = dev.timed(lambda: expression(tx, ty))
    run()  # compiles (torch.compile), warms the allocator
    return _harness.Impl(run, lambda: [run()[picked].cpu().numpy()],
                         note=f"torch {torch.__version__}; {note}")


def build_torch(dev):
    torch = _torch_cuda()
    return _torch_impl(torch, dev, w2._torch_expression(torch), "eager")


def build_torch_compile(dev):
    torch = _torch_cuda()
    compiled = torch.compile(w2._torch_expression(torch), dynamic=False)
    return _torch_impl(torch, dev, compiled, "inductor, default mode")


def build_dualgrad_eager(dev):
    import dualgrad as dg
    import dualgrad.functions as F

    expression = w2._dualgrad_expression(F)

    def compute():
        with dg.no_backprop_mode():
            return expression(dev.x, dev.y).array

    run = dev.timed(compute)
    return _harness.Impl(run, lambda: dev.sample(run()), note="on cupy arrays")


def build_dualgrad_jit(dev, backend):
    import dualgrad.functions as F
    import dualgrad_jit as dj

    compiled = dj.jit(w2._dualgrad_expression(F), backend=backend)
    run = dev.timed(lambda: compiled(dev.x, dev.y))
    run()  # traces and compiles
    ran = _harness.resolved_backend(compiled, backend)
    return _harness.Impl(run, lambda: dev.sample(run().array), note=f"backend {ran}")


def candidates(dev, backend):
    return {
        "cupy": lambda: build_cupy(dev),
        "cupy.fuse": lambda: build_cupy_fuse(dev),
        "PyTorch CUDA eager": lambda: build_torch(dev),
        "torch.compile (CUDA)": lambda: build_torch_compile(dev),
        "dualgrad eager": lambda: build_dualgrad_eager(dev),
        "dualgrad dj.jit": lambda: build_dualgrad_jit(dev, backend),
    }


# -- the run -------------------------------------------------------------------------------------


def run(args, log=_harness.log):
    """Build, check and time every implementation; the markdown text of the section (no
    section, and one line on stdout, without a CUDA device)."""
    cupy, why = _harness.cuda_device()
    if cupy is None:
        print(f"gpu_w2: no CUDA device found ({why}); nothing run, RESULTS.md left alone")
        return []
    backend = _harness.gpu_backend(args, log)
    log(f"GPU W2 fused elementwise, {N} float32 (dualgrad backend requested: {backend})")
    dev = DeviceInputs(cupy, N)
    impls, results = _harness.build(
        _harness.select(candidates(dev, backend), args, REFERENCE), log=log)
    x, y = dev.host
    reference = w2.reference64(x[dev.picked], y[dev.picked])
    _harness.check({"float64": _harness.Impl(None, lambda: [reference]), **impls}, results,
                   "float64", rtol=1e-4, atol=1e-5, log=log)
    copy, copy_result = build_copy(dev), _harness.Result(COPY)
    _harness.time_interleaved({COPY: copy, **impls}, {COPY: copy_result, **results},
                              max_reps=2000, log=log,
                              **_harness.timing_options(args, budget_s=20, min_reps=20))
    floor, copy_gbps = floor_row(copy_result, dev.x.nbytes)
    text = section_text([floor] + list(results.values()), copy_gbps, dev.x.nbytes, args, cupy)
    log(text)
    return [(KEY, HEADING, text)]


def floor_row(copy, nbytes):
    """``(row, GB/s)`` of the copy floor: the copy of ``nbytes`` (read and written), its
    times scaled to the ``3 * nbytes`` a fused kernel moves; GB/s is None if not timed."""
    if not copy.timed:
        return _harness.Result("copy floor", status=copy.status or "not timed"), None
    gbps = 2 * nbytes / copy.median / 1e9
    row = _harness.Result(
        "copy floor", samples=copy.samples * 1.5,
        note=f"cupy.copyto of {nbytes / 2**20:.0f} MiB at {gbps:.0f} GB/s (read+write), time "
             f"scaled to {3 * nbytes / 2**20:.0f} MiB")
    return row, gbps


def section_text(rows, copy_gbps, nbytes, args, cupy):
    moved = 3 * nbytes  # x and y read, out written
    for r in rows:
        if r.timed:
            gbps = moved / r.median / 1e9
            r.extra["GB/s"] = f"{gbps:.0f}"
            r.extra["% of copy bandwidth"] = f"{100 * gbps / copy_gbps:.0f}%" if copy_gbps \
                else "n/a"
    table = _harness.markdown_table(rows, baselines=("cupy", "cupy.fuse"), unit="ms",
                                    extra_columns=("GB/s", "% of copy bandwidth"))
    intro = (f"`tanh(x)*sigmoid(y) + x*y - exp(-x*x) + 0.5*x` on two device arrays of {N} "
             f"float32 (uniform in [-3, 3]). GB/s counts the {moved / 2**20:.0f} MiB a fused "
             "kernel must move (x, y read, out written); `% of copy bandwidth` compares it "
             "with a cupy copy timed in the same run (the `copy floor` row: the copy's time "
             "scaled to as many bytes). Every call is timed up to a device synchronisation, "
             "so times include one launch and one synchronisation each. Every "
             "implementation allocates its output (cupy's and PyTorch's memory pools make "
             f"that cheap). Results are checked against float64 numpy on {SAMPLE} sampled "
             "elements (rtol 1e-4) before timing. Lower times are better.")
    env = _harness.gpu_environment_lines(cupy, _harness.script_command("gpu_w2.py", args))
    return "\n".join([intro, "", *env, "", table])


def main(argv=None):
    _harness.workload_main(__doc__, run, argv)


if __name__ == "__main__":
    main()
