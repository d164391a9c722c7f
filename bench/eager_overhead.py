"""Eager overhead: what recording a tape costs per op, against numpy and PyTorch.

The workload is deliberately tiny (10x10 float32) so that the arithmetic is almost
free and what is measured is the per-op bookkeeping: wrapping outputs, recording
nodes, walking them backwards. A chain of ``--ops`` ops cycles through

    h = h + c;  h = h * c;  h = tanh(h)

then ``sum(h)`` and backward to the input. Implementations:

- ``numpy forward``: the same chain with raw numpy, no gradient (the floor);
- ``numpy fwd+bwd``: numpy forward plus a hand-written backward (the floor for
  a forward and backward pass);
- ``torch eager``: PyTorch with autograd, one thread;
- ``dualgrad eager``: ``dg.Variable`` and ``dualgrad.ops.elementwise``.

All of them run in one process, interleaved: each repetition times every
implementation once, in an order rotated per repetition, so that drift in clock
speed or background load hits them all alike. Reported are the median and the
interquartile range over repetitions, in microseconds per op of the chain.

    python bench/eager_overhead.py            # prints the table, updates RESULTS.md
    python bench/eager_overhead.py --no-write # prints only
"""

import argparse
import datetime
import os
import platform
import sys
import time

import numpy

import dualgrad as dg
from dualgrad.ops import elementwise as ew
from dualgrad.ops import reduce

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from _harness import cpu_model  # noqa: E402

RESULTS = os.path.join(HERE, "RESULTS.md")
SECTION = "## Eager overhead"
KINDS = ("add", "mul", "tanh")


def chain_kinds(n_ops):
    return [KINDS[i % len(KINDS)] for i in range(n_ops)]


# -- the implementations ------------------------------------------------------------------


def chain(h, c, kinds, tanh):
    """The benchmarked chain, the same code for every library (only ``tanh`` differs)."""
    for kind in kinds:
        if kind == "add":
            h = h + c
        elif kind == "mul":
            h = h * c
        else:
            h = tanh(h)
    return h


def numpy_forward(x, c, kinds):
    return chain(x, c, kinds, numpy.tanh).sum()


def numpy_forward_backward(x, c, kinds):
    """Forward saving what backward needs, then the chain rule by hand (grad wrt x)."""
    h = x
    tanh_outputs = []
    for kind in kinds:
        if kind == "add":
            h = h + c
        elif kind == "mul":
            h = h * c
        else:
            h = numpy.tanh(h)
            tanh_outputs.append(h)
    g = numpy.ones_like(h)
    for kind in reversed(kinds):
        if kind == "mul":
            g = g * c
        elif kind == "tanh":
            y = tanh_outputs.pop()
            g = g * (1 - y * y)
        # add: d(h + c)/dh = 1, the gradient passes through unchanged
    return g


def dualgrad_eager(x, c, kinds):
    x = dg.Variable(x)
    reduce.sum(chain(x, c, kinds, ew.tanh)).backward()
    return x.grad


def make_torch_eager():
    """The PyTorch implementation, or None when torch is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)

    def torch_eager(x, c, kinds):
        x = torch.from_numpy(x).requires_grad_(True)
        chain(x, torch.from_numpy(c), kinds, torch.tanh).sum().backward()
        return x.grad.numpy()

    return torch_eager


def implementations():
    impls = {"numpy forward": numpy_forward, "numpy fwd+bwd": numpy_forward_backward}
    torch_eager = make_torch_eager()
    if torch_eager is not None:
        impls["torch eager"] = torch_eager
    impls["dualgrad eager"] = dualgrad_eager
    return impls


def check_gradients_agree(impls, x, c, kinds):
    """A benchmark of wrong code measures nothing: every backward must agree first."""
    reference = numpy_forward_backward(x, c, kinds)
    for name, fn in impls.items():
        if name == "numpy forward":
            continue
        numpy.testing.assert_allclose(
            fn(x, c, kinds), reference, rtol=1e-4, atol=1e-6, err_msg=name
        )


# -- timing -------------------------------------------------------------------------------


def time_interleaved(impls, x, c, kinds, reps, warmup):
    """``{name: array of seconds}``, one sample per repetition, round-robin order."""
    names = list(impls)
    samples = {name: [] for name in names}
    clock = time.perf_counter
    for rep in range(warmup + reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            fn = impls[name]
            start = clock()
            fn(x, c, kinds)
            elapsed = clock() - start
            if rep >= warmup:
                samples[name].append(elapsed)
    return {name: numpy.array(times) for name, times in samples.items()}


def summarize(samples, n_ops):
    """Per implementation: median and quartiles in microseconds per op."""
    rows = {}
    for name, times in samples.items():
        q25, median, q75 = numpy.percentile(times * 1e6 / n_ops, [25, 50, 75])
        rows[name] = {"median": median, "q25": q25, "q75": q75}
    return rows


def markdown_table(rows):
    torch_median = rows.get("torch eager", {}).get("median")
    lines = [
        "| implementation | us/op (median) | IQR (us/op) | vs torch eager |",
        "|---|---:|---:|---:|",
    ]
    for name, row in rows.items():
        ratio = f"{row['median'] / torch_median:.2f}x" if torch_median else "n/a"
        lines.append(
            f"| {name} | {row['median']:.2f} | {row['q25']:.2f} - {row['q75']:.2f} | {ratio} |"
        )
    return "\n".join(lines)


# -- reporting ------------------------------------------------------------------------------


def environment(args):
    versions = [f"python {platform.python_version()}", f"numpy {numpy.__version__}"]
    try:
        import torch

        versions.append(f"torch {torch.__version__} (1 thread)")
    except ImportError:
        versions.append("torch not installed")
    versions.append(f"dualgrad {dg.__version__}")
    command = "python bench/eager_overhead.py" + (
        "" if (args.ops, args.reps) == (100, 2000) else f" --ops {args.ops} --reps {args.reps}"
    )
    return [
        f"- machine: {cpu_model()}, {os.cpu_count()} logical CPUs, {platform.system()}",
        f"- date: {datetime.date.today().isoformat()}",
        f"- versions: {', '.join(versions)}",
        f"- command: `{command}`",
    ]


def section_text(table, args):
    intro = (
        f"Forward and backward of a chain of {args.ops} ops (add, mul, tanh in turn) on a "
        "10x10 float32 array, then `sum` and backward to the input; "
        f"{args.reps} interleaved repetitions, microseconds per op of the chain. "
        "`numpy forward` computes no gradient (the floor); `numpy fwd+bwd` is a hand-written "
        "backward. Lower is better."
    )
    return "\n".join([SECTION, "", intro, "", *environment(args), "", table, ""])


def write_section(text, path=RESULTS):
    """Replace (or append) the ``## Eager overhead`` section, keeping the others."""
    if os.path.exists(path):
        with open(path) as f:
            content = f.read()
    else:
        content = "# Benchmark results\n\nProduced by the scripts in `bench/`.\n"
    start = content.find(SECTION)
    if start < 0:
        content = content.rstrip("\n") + "\n\n" + text
    else:
        end = content.find("\n## ", start + len(SECTION))
        tail = "" if end < 0 else content[end:]
        content = content[:start] + text + tail
    with open(path, "w") as f:
        f.write(content)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ops", type=int, default=100, help="ops in the chain")
    parser.add_argument("--reps", type=int, default=2000, help="timed repetitions")
    parser.add_argument("--warmup", type=int, default=20, help="untimed repetitions first")
    parser.add_argument("--no-write", action="store_true", help=f"do not update {RESULTS}")
    args = parser.parse_args(argv)

    rng = numpy.random.default_rng(0)
    x = rng.standard_normal((10, 10)).astype(numpy.float32)
    c = rng.uniform(0.5, 1.5, (10, 10)).astype(numpy.float32)
    kinds = chain_kinds(args.ops)
    impls = implementations()
    check_gradients_agree(impls, x, c, kinds)

    rows = summarize(time_interleaved(impls, x, c, kinds, args.reps, args.warmup), args.ops)
    text = section_text(markdown_table(rows), args)
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"(written to {os.path.relpath(RESULTS)})", file=sys.stderr)


if __name__ == "__main__":
    main()
