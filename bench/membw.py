"""Memory-bandwidth floor: what a plain copy of a 4M float32 array costs here.

``numpy.copyto(dst, src)`` on 4 * 2**20 float32 values (16 MiB each way, far larger than
the caches) reads every byte of ``src`` and writes every byte of ``dst``; the bandwidth
reported counts both (32 MiB per copy). An elementwise kernel over the same array size
that reads two inputs and writes one output moves 48 MiB: at this bandwidth that takes
1.5x the copy's time, the floor W2 is measured against.

    python bench/membw.py [--quick]
"""

import os
import sys
import time

import numpy

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

N = 4 * 2**20


def measure(n=N, reps=50, warmup=5):
    """``(seconds per copy, GB/s)``: the median over ``reps`` copies, read+write bytes."""
    src = numpy.random.default_rng(0).standard_normal(n).astype(numpy.float32)
    dst = numpy.empty_like(src)
    for _ in range(warmup):
        numpy.copyto(dst, src)
    samples = numpy.empty(reps)
    for i in range(reps):
        started = time.perf_counter()
        numpy.copyto(dst, src)
        samples[i] = time.perf_counter() - started
    assert numpy.array_equal(dst, src)
    seconds = float(numpy.median(samples))
    return seconds, 2 * src.nbytes / seconds / 1e9


def main(argv=None):
    args = _harness.parser(__doc__.split("\n")[0]).parse_args(argv)
    seconds, gbps = measure(reps=10 if args.quick else 50)
    print(f"numpy copy of {N} float32: {seconds * 1e3:.3f} ms, {gbps:.1f} GB/s (read+write)")


if __name__ == "__main__":
    main()
