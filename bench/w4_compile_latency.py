"""W4, compile latency: from nothing to the first result of the compiled W3 step.

Each measurement starts a fresh Python process that imports its library, builds the W3
problem (batch 128, 784-100-10), compiles the step and runs it once; the time counted
runs from just before the process is started to the moment the first loss exists as a
Python float: interpreter start-up, imports, tracing, compiling and the first step.

- *cold*: the library's disk cache is a new, empty directory;
- *warm*: a second process given the same directory (what a user sees the second time).

Caches: dualgrad ``DUALGRAD_CACHE_DIR``; JAX its persistent compilation cache
(``JAX_COMPILATION_CACHE_DIR``, every compilation cached); torch.compile
``TORCHINDUCTOR_CACHE_DIR`` (inductor's FX graph and AOTAutograd caches);
PyTensor ``base_compiledir``. A library whose cold run is quick is measured three
times (fresh directories for cold, the same one for warm); slow ones once each.

    python bench/w4_compile_latency.py [--backend auto|llvm|numpy] [--quick] [--no-write]
"""

import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
KEY, HEADING = "w4", "W4: compile latency"
CHILDREN = {  # name -> (builder in w3_training_step, extra cache environment, slow)
    "dualgrad dj.jit": ("build_dualgrad_jit", "DUALGRAD_CACHE_DIR", False),
    "dualgrad dj.function": ("build_dualgrad_function", "DUALGRAD_CACHE_DIR", False),
    "JAX jit": ("build_jax", "JAX_COMPILATION_CACHE_DIR", False),
    "torch.compile": ("build_torch_compile", "TORCHINDUCTOR_CACHE_DIR", True),
    "PyTensor (C)": ("build_pytensor", "PYTENSOR_FLAGS", True),
}
TIMEOUT_S = 180


# -- the child process -----------------------------------------------------------------------


def child(builder_name, backend):
    """Build and run the W3 step once; print ``RESULT <wall clock> <loss> <imports s>``."""
    started = time.time()
    sys.path.insert(0, HERE)
    import w3_training_step as w3

    builder = getattr(w3, builder_name)
    problem = w3.Problem(*w3.SIZES["small"])
    if builder_name.startswith("build_dualgrad"):
        import dualgrad_jit  # noqa: F401  (counted with the imports, as for the others)

        impl = builder(problem, backend)
    else:
        impl = builder(problem)
    out = impl.run()
    loss = float(out.array if hasattr(out, "array") else out)
    done = time.time()
    note = impl.describe() if hasattr(impl, "describe") else ""
    print(f"RESULT {done!r} {loss!r} {started!r} {note}", flush=True)


def cache_environment(variable, directory):
    env = dict(os.environ)
    if variable == "PYTENSOR_FLAGS":
        env["PYTENSOR_FLAGS"] = f"base_compiledir={directory}"
    else:
        env[variable] = directory
    if variable == "JAX_COMPILATION_CACHE_DIR":
        env["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"] = "0"
        env["JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES"] = "0"
    return env


def measure_once(builder_name, env, backend, timeout):
    """``(seconds to first result, seconds after interpreter start, loss, note)``, or
    raises RuntimeError with the child's last words."""
    command = [sys.executable, os.path.abspath(__file__), "--child", builder_name,
               "--backend", backend]
    launched = time.time()
    try:
        done = subprocess.run(command, env=env, capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"no result within {timeout} s") from None
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            parts = line.split(" ", 4)
            finished, loss, started = float(parts[1]), float(parts[2]), float(parts[3])
            return finished - launched, finished - started, loss, parts[4].strip()
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    raise RuntimeError(f"exit {done.returncode}: {tail[:160]}")


# -- the parent ------------------------------------------------------------------------------------


def measure(name, args, reference_loss, log):
    """Cold and warm Results for one library (or one Result saying why it did not run)."""
    import _harness
    import numpy

    builder_name, variable, slow = CHILDREN[name]
    if args.quick and not args.only and name.startswith(_harness.SLOW_TO_COMPILE):
        return [_harness.Result(name, status="not run: skipped by --quick")]
    runs = {"cold": [], "warm": []}  # (seconds from launch, seconds in the process, loss)
    note = ""
    with tempfile.TemporaryDirectory(prefix="bench-w4-") as root:
        try:
            repeats = 1
            index = 0
            while index < repeats:
                directory = os.path.join(root, f"cache{index}")
                os.makedirs(directory)
                env = cache_environment(variable, directory)
                for kind in ("cold", "warm"):
                    *measured, note = measure_once(builder_name, env, args.backend, TIMEOUT_S)
                    runs[kind].append(measured)
                    log(f"  {name}: {kind} {measured[0]:.2f} s")
                if index == 0 and not slow and runs["cold"][0][0] < 10 and not args.quick:
                    repeats = 3
                index += 1
        except (RuntimeError, OSError) as error:
            if not runs["cold"]:
                return [_harness.Result(name, status=f"not run: {error}")]
            note = f"{note}; a later process failed: {error}"
    rows = []
    for kind, measured in runs.items():
        if not measured:
            continue
        total, inside, losses = (numpy.array(column) for column in zip(*measured))
        row = _harness.Result(f"{name}, {kind} cache", samples=total, note=note)
        row.extra["in the process (s)"] = f"{numpy.median(inside):.2f}"
        wrong = [loss for loss in losses if not numpy.isclose(loss, reference_loss, rtol=1e-4)]
        if wrong:
            row.samples, row.status = None, (f"wrong result: first loss {wrong[0]:.6g}, "
                                             f"expected {reference_loss:.6g}")
        rows.append(row)
    return rows


def reference_loss():
    """The first loss of the W3 step (batch 128), by the hand-written numpy floor."""
    sys.path.insert(0, HERE)
    import w3_training_step as w3

    problem = w3.Problem(*w3.SIZES["small"])
    return w3.numpy_step([p.copy() for p in problem.init], problem.x, problem.t)


def compile_bytecode():
    """Compile dualgrad's modules to bytecode, as every peer's are.

    pip compiles a wheel's modules when it installs them; an editable install of
    dualgrad leaves that to the first import, which writes ``__pycache__`` unless
    ``PYTHONDONTWRITEBYTECODE`` is set, and then every process compiles every module
    again (about 0.2 s here).  A second start normally finds the bytecode."""
    import compileall

    root = os.path.dirname(HERE)
    for package in ("dualgrad", "dualgrad_jit"):
        compileall.compile_dir(os.path.join(root, package), quiet=1)
    compileall.compile_file(os.path.join(HERE, "w3_training_step.py"), quiet=1)


def run(args, log=None):
    sys.path.insert(0, HERE)
    import _harness

    log = log or _harness.log
    log(f"W4 compile latency, fresh processes (dualgrad backend requested: {args.backend})")
    compile_bytecode()
    expected = reference_loss()
    rows = []
    for name in CHILDREN:
        if args.only and not any(w.strip().lower() in name.lower()
                                 for w in args.only.split(",") if w.strip()):
            continue
        rows.extend(measure(name, args, expected, log))
    table = _harness.markdown_table(rows, baselines=("JAX jit, cold cache",), unit="s",
                                    extra_columns=("in the process (s)",), digits=2)
    intro = ("Wall time from just before a fresh Python process starts to the first loss "
             "of the compiled W3 step (batch 128, 784-100-10) as a Python float: "
             "interpreter start-up, imports, building, compiling and one step; `in the "
             "process` leaves out the interpreter's start-up. *cold*: an empty disk cache; "
             "*warm*: a second process with the same cache directory. Libraries whose cold "
             "start is under 10 s: median of 3 processes each; torch.compile and PyTensor: "
             f"one each (limit {TIMEOUT_S} s). Every first loss is checked against the "
             "numpy floor's. Every library's modules are compiled to bytecode beforehand "
             "(pip does it for installed wheels; dualgrad's editable install gets "
             "`compileall`), so no process spends its time compiling Python source.")
    log(table)
    return [(KEY, HEADING, intro + "\n\n" + table)]


def main(argv=None):
    if argv is None and len(sys.argv) > 2 and sys.argv[1] == "--child":
        return child(sys.argv[2], sys.argv[4] if len(sys.argv) > 4 else "auto")
    sys.path.insert(0, HERE)
    import _harness

    _harness.workload_main(__doc__, run, argv)
    return None


if __name__ == "__main__":
    main()
