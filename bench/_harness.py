"""Shared machinery of the benchmarks of the compiled face against its peers.

A workload script lists *candidates*: a name and a builder for each implementation. A
builder imports its library lazily and returns an ``Impl``: ``run()`` does one timed unit
of work (blocking until the result exists), ``check()`` computes the workload's result
from a fixed starting state so that it can be compared with the reference before any
timing (a broken implementation is reported as such, never timed, so it cannot win).

Every implementation that builds is timed in one process, interleaved: each repetition
runs every implementation once, in an order rotated from one repetition to the next, so
that clock drift or load from other processes hits them all alike. Reported: the median
and the interquartile range over repetitions, and ratios against named baselines.

An implementation whose library does not import is listed as ``not installed``; one
whose builder raises as ``not run: <reason>``; one whose result disagrees as
``wrong result: <what>``. The table keeps every row, so a missing peer is visible.
"""

import contextlib
import dataclasses
import os
import sys
import time

import numpy

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "RESULTS.md")
LIBRARIES = ("numpy", "torch", "jax", "jaxlib", "numba", "pytensor", "llvmlite", "dualgrad")


class NotRunError(Exception):
    """Raised by a builder that cannot run here; the message says why, for the table."""


@dataclasses.dataclass
class Impl:
    run: object  # () -> anything: one timed unit of work, finished when it returns
    check: object = None  # () -> list of arrays compared with the reference's
    note: str = ""  # shown in the table (a backend, a thread count, a caveat)


@dataclasses.dataclass
class Result:
    name: str
    samples: object = None  # numpy array of seconds, or None when not timed
    status: str = ""  # "" when timed, else why not ("not installed", "not run: ...")
    note: str = ""
    extra: dict = dataclasses.field(default_factory=dict)  # column -> formatted value

    @property
    def timed(self):
        return self.samples is not None and len(self.samples) > 0

    def quantile(self, q):
        return float(numpy.percentile(self.samples, q))

    @property
    def median(self):
        return self.quantile(50)


# -- building and checking ------------------------------------------------------------------


def build(candidates, log=print):
    """``{name: Impl}`` for the candidates that build, and ``{name: Result}`` for all
    (the ones that did not build already carry their status)."""
    impls, results = {}, {}
    for name, builder in candidates.items():
        started = time.perf_counter()
        try:
            impl = builder()
        except ImportError as error:
            results[name] = Result(name, status=f"not installed ({_first_line(error)})")
        except NotRunError as error:
            results[name] = Result(name, status=f"not run: {error}")
        except Exception as error:  # noqa: BLE001  (a peer's failure must not stop the run)
            results[name] = Result(name, status=f"not run: {_describe(error)}")
            if os.environ.get("BENCH_TRACEBACK"):
                import traceback

                traceback.print_exc()
        else:
            impls[name] = impl
            results[name] = Result(name, note=impl.note)
            log(f"  built {name} in {time.perf_counter() - started:.2f} s")
            continue
        log(f"  {name}: {results[name].status}")
    return impls, results


def check(impls, results, reference, rtol=1e-4, atol=1e-5, log=print):
    """Compare every implementation's ``check()`` with ``reference``'s; drop those that
    disagree or fail (their row says why). ``reference`` must be among ``impls``."""
    expected = [numpy.asarray(a, dtype=numpy.float64) for a in impls[reference].check()]
    for name in list(impls):
        if name == reference:
            continue
        started = time.perf_counter()
        try:
            got = [numpy.asarray(a, dtype=numpy.float64) for a in impls[name].check()]
            problem = _disagreement(got, expected, rtol, atol)
            log(f"  checked {name} in {time.perf_counter() - started:.2f} s")
        except Exception as error:  # noqa: BLE001
            problem = f"check failed: {_describe(error)}"
        if problem:
            results[name].status = f"wrong result: {problem}" if not problem.startswith(
                "check failed") else f"not run: {problem}"
            log(f"  {name}: {results[name].status}")
            del impls[name]
    return expected


def _disagreement(got, expected, rtol, atol):
    if len(got) != len(expected):
        return f"{len(got)} results, expected {len(expected)}"
    for index, (a, b) in enumerate(zip(got, expected)):
        if a.shape != b.shape:
            return f"result {index} has shape {a.shape}, expected {b.shape}"
        if not numpy.allclose(a, b, rtol=rtol, atol=atol, equal_nan=True):
            worst = numpy.unravel_index(numpy.argmax(numpy.abs(a - b)), a.shape) if a.ndim else ()
            return f"result {index}{list(worst)}: {a[worst]:.6g} vs {b[worst]:.6g}"
    return ""


# -- timing ----------------------------------------------------------------------------------


def time_interleaved(impls, results, budget_s, warmup=3, min_reps=5, max_reps=1000,
                     block_s=0.25, settle_s=0.15, log=print):
    """Time every implementation of ``impls`` into ``results[name].samples``.

    Rounds run every implementation in turn, in an order rotated from round to round.
    In a round an implementation first waits ``settle_s`` (sleeping) and makes one
    untimed call, then a block of timed calls lasting about ``block_s``. The wait is there
    because thread pools keep spinning after their work is done (OpenBLAS for about
    0.1 s): on two cores the spinning of the previous library's threads would be charged
    to the next one. After ``warmup`` untimed calls each, the number of rounds is chosen
    so that the rounds take about ``budget_s`` in all, with ``min_reps`` (if that takes
    at most twice the budget) to ``max_reps`` samples per implementation.
    """
    names = list(impls)
    clock = time.perf_counter
    cost = {}
    for name in list(names):
        times = []
        for _ in range(max(1, warmup)):
            started = clock()
            if not _run_guarded(impls, results, names, name):
                break
            times.append(clock() - started)
        if times:
            cost[name] = min(times)
    block = {n: int(max(1, min(200, block_s // cost[n]))) for n in names}
    round_s = sum(cost[n] * block[n] + settle_s + cost[n] for n in names) or 1e-3
    rounds = int(max(1, budget_s // round_s))
    # min_reps may stretch the budget, at most to twice (a loaded machine must not make
    # the run last without end)
    needed = max((-(-min_reps // block[n]) for n in names), default=1)
    rounds = max(rounds, min(needed, int(2 * budget_s // round_s)))
    rounds = min(rounds, max(1, max_reps // min(block.values(), default=1)))
    log(f"  timing {len(names)} implementations, {rounds} rounds (~{rounds * round_s:.1f} s)")
    samples = {name: [] for name in names}
    began = clock()
    for rep in range(rounds):
        shift = rep % max(1, len(names))
        for name in names[shift:] + names[:shift]:
            if name not in names:
                continue
            time.sleep(settle_s)
            if not _run_guarded(impls, results, names, name):
                continue
            for _ in range(block[name]):
                started = clock()
                if not _run_guarded(impls, results, names, name):
                    break
                samples[name].append(clock() - started)
    for name in names:
        results[name].samples = numpy.array(samples[name][:max_reps])
    log(f"  timed in {clock() - began:.1f} s")


def _run_guarded(impls, results, names, name):
    try:
        impls[name].run()
        return True
    except Exception as error:  # noqa: BLE001
        results[name].status = f"failed while timed: {_describe(error)}"
        names.remove(name)
        return False


# -- tables -----------------------------------------------------------------------------------


UNITS = {"s": 1.0, "ms": 1e3, "us": 1e6}


def markdown_table(results, baselines=(), unit="ms", extra_columns=(), digits=None):
    """A markdown table: median, IQR, one ratio column per name in ``baselines``
    (``median / baseline median``: below 1 is faster), ``extra_columns`` taken from
    ``Result.extra``, then the notes. Rows not timed show their status instead."""
    scale = UNITS[unit]
    digits = _digits(results, scale) if digits is None else digits
    medians = {r.name: r.median for r in results if r.timed}
    header = ["implementation", f"median ({unit})", f"IQR ({unit})"]
    header += [f"vs {b}" for b in baselines] + list(extra_columns) + ["notes"]
    lines = ["| " + " | ".join(header) + " |",
             "|" + "|".join(["---"] + ["---:"] * (len(header) - 2) + ["---"]) + "|"]
    for r in results:
        if r.timed:
            cells = [f"{r.median * scale:.{digits}f}",
                     f"{r.quantile(25) * scale:.{digits}f} - {r.quantile(75) * scale:.{digits}f}"]
            cells += [_ratio(r.median, medians.get(b)) for b in baselines]
            cells += [r.extra.get(c, "") for c in extra_columns]
            note = r.note
        else:
            cells = ["-", "-"] + ["-"] * len(baselines) + [r.extra.get(c, "-")
                                                            for c in extra_columns]
            note = "; ".join(p for p in (r.status, r.note) if p)
        lines.append("| " + " | ".join([r.name, *cells, note.replace("|", "/")]) + " |")
    return "\n".join(lines)


def _ratio(value, base):
    return f"{value / base:.2f}x" if base else "n/a"


def _digits(results, scale):
    timed = [r.median * scale for r in results if r.timed]
    smallest = min(timed, default=1.0)
    return 3 if smallest < 1 else 2 if smallest < 100 else 1


# -- environment -------------------------------------------------------------------------------


def cpu_model():
    """The CPU's model name from /proc/cpuinfo (Linux), else what platform knows."""
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def versions():
    """``{library: version or None}`` from the installed distributions (imports nothing)."""
    import importlib.metadata

    found = {}
    for name in LIBRARIES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def environment_lines(command, backend_line=None):
    import datetime
    import platform

    found = versions()
    listed = ", ".join(f"{k} {v}" for k, v in found.items() if v)
    missing = ", ".join(k for k, v in found.items() if not v)
    lines = [
        f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- python {platform.python_version()}; {listed}"
        + (f"; not installed: {missing}" if missing else ""),
        f"- command: `{command}`",
    ]
    if backend_line:
        lines.append(f"- {backend_line}")
    return lines


# -- GPU ---------------------------------------------------------------------------------------


def cuda_device():
    """``(cupy, "")`` when cupy imports and sees a CUDA device, else ``(None, why)``."""
    try:
        import cupy
    except Exception as error:  # noqa: BLE001  (ImportError, or CUDA libraries missing)
        return None, f"cupy does not import ({_first_line(error)})"
    from dualgrad import cuda

    if not cuda.is_available():
        return None, "cupy sees no CUDA device"
    return cupy, ""


def gpu_environment_lines(cupy, command):
    """``environment_lines`` with the GPU (model, memory, CUDA driver and runtime
    versions) and cupy's version after the machine's line."""
    runtime = cupy.cuda.runtime
    device = cupy.cuda.Device()
    props = runtime.getDeviceProperties(device.id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else str(props["name"])
    memory = props.get("totalGlobalMem", 0) / 2**30
    gpu = (f"- GPU {device.id}: {name}, {memory:.0f} GiB; CUDA driver "
           f"{_cuda_version(runtime.driverGetVersion())}, runtime "
           f"{_cuda_version(runtime.runtimeGetVersion())}; cupy {cupy.__version__}")
    lines = environment_lines(command)
    return lines[:1] + [gpu] + lines[1:]


def gpu_backend(args, log=print):
    """dualgrad's backend for device arrays: ``--backend`` unless it names a CPU-only one
    (``llvm``, as ``run_all.py --backend llvm`` passes on), then ``auto`` (CUDA)."""
    if args.backend in ("auto", "cuda", "numpy"):
        return args.backend
    log(f"  backend {args.backend!r} does not run on device arrays; using 'auto' (cuda)")
    return "auto"


def script_command(script, args):
    """The command line that reproduces this run of ``bench/<script>``."""
    parts = [f"python bench/{script}"]
    if args.backend != "auto":
        parts.append(f"--backend {args.backend}")
    if args.quick:
        parts.append("--quick")
    if args.only:
        parts.append(f'--only "{args.only}"')
    return " ".join(parts)


def _cuda_version(number):
    """CUDA's integer version (12040) as ``12.4``."""
    return f"{number // 1000}.{number % 1000 // 10}"


# -- RESULTS.md --------------------------------------------------------------------------------


def write_section(key, heading, text, path=RESULTS):
    """Replace what lies between ``<!-- bench:key -->`` and ``<!-- /bench:key -->`` in
    ``path`` (or append ``## heading`` and the markers). The heading stays outside the
    markers so that other scripts' sections (delimited by ``## `` headings) keep theirs."""
    begin, end = f"<!-- bench:{key} -->", f"<!-- /bench:{key} -->"
    block = f"{begin}\n{text.strip()}\n{end}"
    if os.path.exists(path):
        with open(path) as f:
            content = f.read()
    else:
        content = "# Benchmark results\n\nProduced by the scripts in `bench/`.\n"
    start, stop = content.find(begin), content.find(end)
    if start >= 0 and stop > start:
        content = content[:start] + block + content[stop + len(end):]
    else:
        content = content.rstrip("\n") + f"\n\n## {heading}\n\n{block}\n"
    with open(path, "w") as f:
        f.write(content)


# -- peers -------------------------------------------------------------------------------------


def import_pytensor():
    """pytensor, with its C backend usable (else NotRunError: it would fall back to slow
    Python code, which is not what its users run)."""
    with quiet_warnings():
        import pytensor

        if not pytensor.config.cxx:
            raise NotRunError("PyTensor found no C++ compiler (its C backend needs g++)")
        pytensor.config.blas__ldflags  # noqa: B018  (looked up once, warning when empty)
    return pytensor


def pytensor_note(pytensor):
    with quiet_warnings():
        blas = pytensor.config.blas__ldflags or "none, gemm through numpy"
    return f"C backend ({pytensor.config.cxx}); BLAS flags: {blas}"


# -- small helpers -------------------------------------------------------------------------------


def log(message):
    print(message, file=sys.stderr, flush=True)


def _first_line(error):
    text = str(error).strip().splitlines()
    return text[0][:120] if text else type(error).__name__


def _describe(error):
    return f"{type(error).__name__}: {_first_line(error)}"


@contextlib.contextmanager
def quiet_warnings():
    """Peers warn at import and compile time; a benchmark table has no use for it."""
    import logging
    import warnings

    logging.getLogger("pytensor").setLevel(logging.ERROR)  # "no BLAS flags" at import
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# -- command line and dualgrad -------------------------------------------------------------------


def parser(description):
    """The options every workload script shares."""
    import argparse

    p = argparse.ArgumentParser(description=description)
    p.add_argument("--backend", default="auto",
                   help="dualgrad backend: auto (default), llvm or numpy (the reference)")
    p.add_argument("--quick", action="store_true",
                   help="a smoke run: small budgets, few repetitions (numbers are rough)")
    p.add_argument("--no-write", action="store_true", help=f"do not update {RESULTS}")
    p.add_argument("--only", default="",
                   help="comma-separated substrings: run only implementations whose name "
                        "contains one (the reference always runs)")
    return p


SLOW_TO_COMPILE = ("torch.compile", "PyTensor")  # left out by --quick unless --only names them


def select(candidates, args, reference):
    """The candidates named by ``--only`` (and the reference, which the check needs);
    with ``--quick`` and no ``--only``, the peers that take long to compile are listed
    as not run."""
    wanted = [w.strip().lower() for w in args.only.split(",") if w.strip()]
    if wanted:
        return {name: b for name, b in candidates.items()
                if name == reference or any(w in name.lower() for w in wanted)}
    if not args.quick:
        return candidates
    return {name: _skipped if name.startswith(SLOW_TO_COMPILE) else b
            for name, b in candidates.items()}


def _skipped():
    raise NotRunError("skipped by --quick (compiling takes tens of seconds)")


def timing_options(args, budget_s, min_reps=20):
    """Keyword arguments of ``time_interleaved`` for a full run or a ``--quick`` one."""
    if args.quick:
        return dict(budget_s=min(budget_s, 1.0), warmup=1, min_reps=2, block_s=0.05,
                    settle_s=0.02)
    return dict(budget_s=budget_s, warmup=3, min_reps=min_reps)


BACKENDS_SEEN = set()  # what resolved_backend found in this process, for the run's header


def resolved_backend(compiled, requested):
    """The backend a dualgrad compiled function ran, recorded in ``BACKENDS_SEEN``."""
    found = _resolved_backend(compiled, requested)
    BACKENDS_SEEN.add(found)
    return found


def _resolved_backend(compiled, requested):
    """The backend a dualgrad compiled function actually ran, as far as it says.

    Looks for a ``backend`` attribute on the executable of its latest call (``.last`` of
    ``dj.function``, the variants of ``dj.jit``) that is not 'auto'; otherwise 'auto' and
    'numpy' mean the reference interpreter, the only backend that exists without one.
    """
    executables = []
    if getattr(compiled, "last", None) is not None:
        executables.append(compiled.last)
    for variants in getattr(compiled, "_variants", {}).values():
        executables.extend(variants)
    for executable in executables:
        for attribute in ("backend_name", "backend"):
            value = getattr(executable, attribute, None)
            if isinstance(value, str) and value != "auto":
                return value
    if requested != "auto":
        return requested
    return "numpy" if not _llvm_accepted() else "auto (the resolved backend is not exposed)"


def _llvm_accepted():
    """Whether dualgrad_jit accepts backend='llvm' at all (it did not before it existed)."""
    try:
        from dualgrad_jit.executable import _check_backend

        _check_backend("llvm")
    except Exception:  # noqa: BLE001
        return False
    return True


def workload_main(doc, run, argv=None):
    """The command line of one workload script: parse the shared flags, run, and write
    the sections into RESULTS.md unless ``--no-write``."""
    args = parser(doc.split("\n")[0]).parse_args(argv)
    sections = run(args)
    if not args.no_write:
        for key, heading, text in sections:
            write_section(key, heading, text)


def attach_notes(impls, results):
    """Each implementation's ``describe()`` (which backend ran...) as its row's note."""
    for name, impl in impls.items():
        describe = getattr(impl, "describe", None)
        if describe is not None:
            results[name].note = describe()
