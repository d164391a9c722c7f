"""float32 math kernels: our vectorised expansions against numpy, ns per element.

Each function is compiled as a one-line kernel ``out[i] = f(x[i])`` over 4M float32
(``dualgrad_jit.kernel.mathlib`` expansion, LLVM backend) and called directly on this
thread, so every number is single-threaded (numpy's ufuncs are too). ``sigmoid`` is
given in the form fusion sees after eager ``F.sigmoid``,
``add(mul(tanh(mul(y, 0.5)), 0.5), 0.5)``; ``w2`` is the W2 kernel exactly as fusion
emits it (``tanh(x) * sigmoid(y) + x * y - exp(-x * x) + 0.5 * x``, two inputs); ``mul``
(``0.5 * x``) shows what moving the data alone costs. Inputs are uniform in [-3, 3]
(log and log1p: in [1e-3, 10]).

Before timing, every result but erf's is checked against float64 numpy (rtol 1e-5).
Reported per function: the minimum over ``--reps`` calls, itself the minimum over
``--rounds`` interleaved rounds (on a shared machine the minimum is the least disturbed
run), as ns per element, for ours and numpy (whose ``w2`` allocates a temporary per op,
like the numpy row of W2), numpy's time over ours, and the number of kernel-IR nodes of
the expanded expression. Nothing is written to RESULTS.md.

    python bench/math_kernels.py [--reps 30] [--rounds 3] [--only tanh,exp]
"""

import argparse
import ctypes
import time

import numpy

N = 4 * 2**20
FUNCTIONS = ("mul", "exp", "expm1", "log", "log1p", "tanh", "erf", "sigmoid", "w2")


def _kernels(n):
    """``{name: (Kernel, inputs)}``: buffers 0 and 1 are read, 2 written; ``inputs`` says
    what buffer 1 holds (``"xy"``: y, ``"xp"``: the positive inputs of log/log1p)."""
    from dualgrad_jit.kernel import ir as K

    x, y = K.read(0, K.index(0), "float32"), K.read(1, K.index(0), "float32")
    half = K.const(0.5, "float32")

    def call(op, *args):
        return K.call(op, *args)

    sigmoid_y = call("add", call("mul", call("tanh", call("mul", y, half)), half), half)
    w2 = call("add", call("sub", call("add", call("mul", call("tanh", x), sigmoid_y),
                                      call("mul", x, y)),
                          call("exp", call("mul", call("neg", x), x))),
              call("mul", half, x))
    exprs = {"mul": (call("mul", half, x), "xy"), "sigmoid": (sigmoid_y, "xy"),
             "w2": (w2, "xy")}
    for name in ("exp", "expm1", "tanh", "erf"):
        exprs[name] = (call(name, x), "xy")
    for name in ("log", "log1p"):
        exprs[name] = (call(name, y), "xp")
    buffers = (K.Buffer("float32", n),) * 3
    return {name: (K.Kernel(name, buffers, (n,), (K.Store(2, K.index(0), expr),)), inputs)
            for name, (expr, inputs) in exprs.items()}


def _numpy_versions(x, y, p, out):
    np = numpy

    def sigmoid():
        np.negative(y, out=out)
        np.exp(out, out=out)
        np.add(out, 1, out=out)
        np.divide(1, out, out=out)

    def w2():
        return np.tanh(x) * (1 / (1 + np.exp(-y))) + x * y - np.exp(-x * x) + 0.5 * x

    return {
        "mul": lambda: np.multiply(x, np.float32(0.5), out=out),
        "exp": lambda: np.exp(x, out=out), "expm1": lambda: np.expm1(x, out=out),
        "log": lambda: np.log(p, out=out), "log1p": lambda: np.log1p(p, out=out),
        "tanh": lambda: np.tanh(x, out=out), "sigmoid": sigmoid, "w2": w2,
        "erf": None,  # numpy has no erf
    }


def _check(name, got, x, y, p):
    """Raises when ``got`` (float32) is off the float64 result of ``name``."""
    x, y, p = (v.astype(numpy.float64) for v in (x, y, p))
    sigmoid = 1 / (1 + numpy.exp(-y))
    expected = {
        "mul": 0.5 * x, "exp": numpy.exp(x), "expm1": numpy.expm1(x), "log": numpy.log(p),
        "log1p": numpy.log1p(p), "tanh": numpy.tanh(x), "sigmoid": sigmoid,
        "w2": numpy.tanh(x) * sigmoid + x * y - numpy.exp(-x * x) + 0.5 * x,
    }.get(name)
    if expected is not None and not numpy.allclose(got, expected, rtol=1e-5, atol=1e-6):
        raise AssertionError(f"{name}: the compiled kernel disagrees with float64 numpy")


def _best(run, reps):
    run()
    best = float("inf")
    for _ in range(reps):
        started = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - started)
    return best


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated function names")
    parser.add_argument("-n", type=int, default=N)
    args = parser.parse_args(argv)
    names = [f for f in FUNCTIONS if not args.only or f in args.only.split(",")]

    from dualgrad_jit.backends.llvm import buffer_table, compile_kernels
    from dualgrad_jit.kernel import ir as K
    from dualgrad_jit.kernel import mathlib

    rng = numpy.random.default_rng(0)
    x = rng.uniform(-3, 3, args.n).astype(numpy.float32)
    y = rng.uniform(-3, 3, args.n).astype(numpy.float32)
    p = rng.uniform(1e-3, 10, args.n).astype(numpy.float32)
    out = numpy.empty_like(x)
    kernels = _kernels(args.n)
    chosen = [kernels[name][0] for name in names]
    compiled = compile_kernels(chosen, expand_math=mathlib.expand, cache=None)
    tables = {"xy": buffer_table([x, y, out]), "xp": buffer_table([x, p, out])}
    ours, theirs = {}, {}
    reference = _numpy_versions(x, y, p, out)
    for name in names:
        function, address = compiled[name], ctypes.addressof(tables[kernels[name][1]])
        ours[name] = lambda f=function, a=address: f(0, args.n, a)
        theirs[name] = reference[name]
        ours[name]()
        _check(name, out, x, y, p)
    best = {}
    for _ in range(args.rounds):
        for name in names:
            for side, runs in (("ours", ours), ("numpy", theirs)):
                if runs[name] is not None:
                    t = _best(runs[name], args.reps)
                    best[name, side] = min(best.get((name, side), t), t)
    print(f"{args.n} float32, single thread, min over {args.rounds} x {args.reps} calls")
    print(f"{'function':<9} {'ours ns/el':>10} {'numpy ns/el':>11} {'numpy/ours':>10} "
          f"{'nodes':>6}")
    for name in names:
        mine = best[name, "ours"] / args.n * 1e9
        nodes = len(K.walk(mathlib.expand(kernels[name][0].stores[0].value)))
        if (name, "numpy") in best:
            ref = best[name, "numpy"] / args.n * 1e9
            print(f"{name:<9} {mine:>10.3f} {ref:>11.3f} {ref / mine:>9.1f}x {nodes:>6}")
        else:
            print(f"{name:<9} {mine:>10.3f} {'-':>11} {'-':>10} {nodes:>6}")


if __name__ == "__main__":
    main()
