"""The Python around a compiled W3 step: each call's time minus its compiled run's.

For ``dj.jit`` (the Chainer-style step) and ``dj.function`` (the symbolic step with
``updates``) on W3 batch 128, every call is timed whole and its LLVM run (the
``LoadedProgram`` call: kernels, products, arena) is timed inside it; the difference is
what the compiled face costs in Python per call (guards, reading the inputs, writing
state back).  Prints medians over interleaved calls; writes nothing.

    .venv/bin/python bench/replay_overhead.py
"""

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import w3_training_step as w3  # noqa: E402

CALLS = 3000


def _timed_runs(log):
    """Wrap the LLVM runner's run so every call's compiled part is logged."""
    from dualgrad_jit.backends.llvm import runtime

    run = runtime.LoadedProgram._run

    def timed(self, *arguments):
        began = time.perf_counter()
        try:
            return run(self, *arguments)
        finally:
            log.append(time.perf_counter() - began)

    runtime.LoadedProgram._run = timed


def main():
    problem = w3.Problem(*w3.SIZES["small"])
    steps = {"dj.jit": w3.build_dualgrad_jit(problem, "llvm"),
             "dj.function": w3.build_dualgrad_function(problem, "llvm")}
    inner = []
    _timed_runs(inner)
    outside = {name: [] for name in steps}
    for _ in range(20):  # traced, compiled and warm
        for impl in steps.values():
            impl.run()
    for _ in range(CALLS):
        for name, impl in steps.items():
            del inner[:]
            began = time.perf_counter()
            impl.run()
            total = time.perf_counter() - began
            outside[name].append(total - sum(inner))
    print("Python per call around the compiled run, W3 batch 128 (median, us):")
    for name, times in outside.items():
        print(f"  {name:12s} {statistics.median(times) * 1e6:7.1f}")


if __name__ == "__main__":
    main()
