"""W2, fused elementwise: one expression over 4M float32, against the memory floor.

    out = tanh(x) * sigmoid(y) + x * y - exp(-x * x) + 0.5 * x

with ``x``, ``y`` of 4 * 2**20 float32 each. A fused kernel reads ``x`` and ``y`` once and
writes ``out`` once: 48 MiB of traffic, so its floor is the time a copy needs to move
48 MiB (``membw.py``). numpy evaluates op by op, with a temporary per op. Bandwidth in
GB/s counts the 48 MiB only (what a perfect kernel must move), for every implementation.

    python bench/w2_fused_elementwise.py [--backend auto|llvm|numpy] [--quick] [--no-write]
"""

import os
import sys

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402
import membw  # noqa: E402

KEY, HEADING = "w2", "W2: fused elementwise"
N = 4 * 2**20
REFERENCE = "numpy"


def inputs(n=N):
    rng = numpy.random.default_rng(2)
    x = rng.uniform(-3, 3, n).astype(numpy.float32)
    y = rng.uniform(-3, 3, n).astype(numpy.float32)
    return x, y


def reference64(x, y):
    x, y = x.astype(numpy.float64), y.astype(numpy.float64)
    return numpy.tanh(x) / (1 + numpy.exp(-y)) + x * y - numpy.exp(-x * x) + 0.5 * x


# -- implementations: each builder returns an Impl or raises ImportError / NotRunError ---------


def build_numpy(x, y):
    def expression(x, y):
        return numpy.tanh(x) * (1 / (1 + numpy.exp(-y))) + x * y - numpy.exp(-x * x) + 0.5 * x

    return _harness.Impl(lambda: expression(x, y), lambda: [expression(x, y)])


def build_numba(x, y):
    import math

    import numba

    one, half = numpy.float32(1), numpy.float32(0.5)

    @numba.njit(parallel=True, fastmath=False, cache=False)
    def kernel(x, y, out):
        for i in numba.prange(x.shape[0]):
            a, b = x[i], y[i]
            out[i] = math.tanh(a) * (one / (one + math.exp(-b))) + a * b - math.exp(-a * a) \
                + half * a

    def run():
        out = numpy.empty_like(x)
        kernel(x, y, out)
        return out

    run()  # compiles
    return _harness.Impl(run, lambda: [run()],
                         note=f"parallel=True, {numba.get_num_threads()} threads")


def _torch_expression(torch):
    def expression(x, y):
        return torch.tanh(x) * torch.sigmoid(y) + x * y - torch.exp(-x * x) + 0.5 * x

    return expression


def build_torch(x, y):
    import torch

    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    expression = _torch_expression(torch)
    return _harness.Impl(lambda: expression(tx, ty), lambda: [expression(tx, ty).numpy()],
                         note=f"{torch.get_num_threads()} threads")


def build_torch_compile(x, y):
    import torch

    tx, ty = torch.from_numpy(x), torch.from_numpy(y)
    compiled = torch.compile(_torch_expression(torch), dynamic=False)
    compiled(tx, ty)  # compiles (inductor's disk cache makes later runs quick)
    return _harness.Impl(lambda: compiled(tx, ty), lambda: [compiled(tx, ty).numpy()],
                         note="inductor, default mode")


def build_jax(x, y):
    import jax
    import jax.numpy as jnp

    @jax.jit
    def expression(x, y):
        return jnp.tanh(x) * jax.nn.sigmoid(y) + x * y - jnp.exp(-x * x) + 0.5 * x

    jx, jy = jnp.asarray(x), jnp.asarray(y)
    expression(jx, jy).block_until_ready()
    return _harness.Impl(lambda: expression(jx, jy).block_until_ready(),
                         lambda: [numpy.asarray(expression(jx, jy))])


def build_pytensor(x, y):
    pytensor = _harness.import_pytensor()
    with _harness.quiet_warnings():
        import pytensor.tensor as pt

        sx, sy = pt.fvector("x"), pt.fvector("y")
        expression = (pt.tanh(sx) * pt.sigmoid(sy) + sx * sy - pt.exp(-sx * sx)
                      + numpy.float32(0.5) * sx)
        f = pytensor.function([sx, sy], expression)
    return _harness.Impl(lambda: f(x, y), lambda: [f(x, y)], note=_harness.pytensor_note(pytensor))


def _dualgrad_expression(F):
    def expression(x, y):
        return F.tanh(x) * F.sigmoid(y) + x * y - F.exp(-x * x) + 0.5 * x

    return expression


def build_dualgrad_eager(x, y):
    import dualgrad as dg
    import dualgrad.functions as F

    expression = _dualgrad_expression(F)

    def run():
        with dg.no_backprop_mode():
            return expression(x, y).array

    return _harness.Impl(run, lambda: [run()])


def build_dualgrad_jit(x, y, backend):
    import dualgrad.functions as F
    import dualgrad_jit as dj

    compiled = dj.jit(_dualgrad_expression(F), backend=backend)
    compiled(x, y)  # traces and compiles
    ran = _harness.resolved_backend(compiled, backend)
    return _harness.Impl(lambda: compiled(x, y), lambda: [compiled(x, y).array],
                         note=f"backend {ran}")


def candidates(x, y, backend):
    return {
        "numpy": lambda: build_numpy(x, y),
        "numba": lambda: build_numba(x, y),
        "PyTorch eager": lambda: build_torch(x, y),
        "torch.compile": lambda: build_torch_compile(x, y),
        "JAX jit": lambda: build_jax(x, y),
        "PyTensor": lambda: build_pytensor(x, y),
        "dualgrad eager": lambda: build_dualgrad_eager(x, y),
        "dualgrad dj.jit": lambda: build_dualgrad_jit(x, y, backend),
    }


# -- the run -------------------------------------------------------------------------------------


def run(args, log=_harness.log):
    """Build, check and time every implementation; the markdown text of the section."""
    log(f"W2 fused elementwise, {N} float32 (dualgrad backend requested: {args.backend})")
    x, y = inputs()
    copy_s, gbps = membw.measure(reps=10 if args.quick else 50)
    log(f"  memory floor: numpy copy {copy_s * 1e3:.3f} ms, {gbps:.1f} GB/s")
    impls, results = _harness.build(
        _harness.select(candidates(x, y, args.backend), args, REFERENCE), log=log)
    reference = reference64(x, y)
    impls_ref = _harness.Impl(None, lambda: [reference])
    _harness.check({"float64": impls_ref, **impls}, results, "float64", rtol=1e-4, atol=1e-5,
                   log=log)
    _harness.time_interleaved(impls, results, max_reps=200, log=log,
                              **_harness.timing_options(args, budget_s=25, min_reps=10))
    moved = 3 * x.nbytes  # x and y read, out written
    floor = _harness.Result("memory floor", samples=numpy.array([copy_s * 1.5]),
                            note=f"numpy copy at {gbps:.1f} GB/s (read+write), scaled to "
                                 f"{moved / 2**20:.0f} MiB")
    rows = [floor] + [results[name] for name in results]
    for r in rows:
        if r.timed:
            r.extra["GB/s"] = f"{moved / r.median / 1e9:.1f}"
            r.extra["vs floor"] = f"{r.median / floor.median:.1f}x"
    table = _harness.markdown_table(rows, baselines=("numpy", "JAX jit"), unit="ms",
                                    extra_columns=("GB/s", "vs floor"))
    intro = (f"`tanh(x)*sigmoid(y) + x*y - exp(-x*x) + 0.5*x` on two arrays of {N} float32 "
             f"(uniform in [-3, 3]). GB/s counts the {moved / 2**20:.0f} MiB a fused kernel "
             "must move (x, y read, out written); `vs floor` divides by the time a numpy "
             "copy needs to move as much. Every implementation allocates its output. "
             "Results are checked against float64 numpy (rtol 1e-4) before timing. "
             "Lower times are better.")
    log(table)
    return [(KEY, HEADING, intro + "\n\n" + table)]


def main(argv=None):
    _harness.workload_main(__doc__, run, argv)


if __name__ == "__main__":
    main()
