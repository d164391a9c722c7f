"""Run every benchmark of the compiled face against its peers; update RESULTS.md.

W2 (fused elementwise, with the memory-bandwidth floor), W3 (training step), W5 (RNN)
and W4 (compile latency, in fresh processes), in that order. Each workload's table
replaces its own section of ``bench/RESULTS.md`` (between ``<!-- bench:KEY -->``
markers); the other sections, the eager-overhead one included, are kept.

    python bench/run_all.py                       # everything, about 5 minutes on 2 cores
    python bench/run_all.py --quick --no-write    # a smoke run, under a minute
    python bench/run_all.py --backend numpy --workloads w2,w3 --only "numpy,dualgrad"
    python bench/run_all.py --gpu                 # also GPU W2 and W3 (a CUDA device)
"""

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _harness  # noqa: E402

WORKLOADS = ("w2", "w3", "w5", "w4")  # run order; W4 last (it starts processes)
MODULES = {"w2": "w2_fused_elementwise", "w3": "w3_training_step", "w4": "w4_compile_latency",
           "w5": "w5_rnn"}
GPU_WORKLOADS = ("gpu_w2", "gpu_w3")  # only with --gpu; without a CUDA device each skips
MODULES.update({key: key for key in GPU_WORKLOADS})
SECTION_ORDER = ("w2", "w3", "w4", "w5", "gpu_w2", "gpu_w3")


def command_line(args):
    parts = ["python bench/run_all.py"]
    if args.backend != "auto":
        parts.append(f"--backend {args.backend}")
    if args.quick:
        parts.append("--quick")
    if args.workloads != ",".join(WORKLOADS):
        parts.append(f"--workloads {args.workloads}")
    if args.only:
        parts.append(f'--only "{args.only}"')
    if args.gpu:
        parts.append("--gpu")
    return " ".join(parts)


def run_workload(key, args, log):
    """The sections a workload produced, or one saying how it failed."""
    import importlib

    module = importlib.import_module(MODULES[key])
    try:
        return module.run(args, log=log)
    except Exception as error:  # noqa: BLE001  (one workload's failure must not lose the rest)
        log(f"{key} failed: {type(error).__name__}: {error}")
        if os.environ.get("BENCH_TRACEBACK"):
            import traceback

            traceback.print_exc()
        return [(key, module.HEADING, f"Not run: {type(error).__name__}: {error}")]


def header_text(args, elapsed_s, load_at_start):
    backends = sorted(_harness.BACKENDS_SEEN) or ["none (no dualgrad row ran)"]
    lines = _harness.environment_lines(
        command_line(args),
        f"dualgrad backend: requested `{args.backend}`, ran `{', '.join(backends)}`")
    lines.append(f"- load average (1 min) at the start {load_at_start:.2f}, at the end "
                 f"{os.getloadavg()[0]:.2f} (above about 0.5, other processes shared the "
                 "cores: the thread pools' figures suffer first)")
    intro = ("The compiled face against its peers, all in one run per workload on the "
             "machine below. Times are medians over interleaved repetitions (each library "
             "in turn, the order rotated, a short pause between libraries so that one's "
             "spinning threads are not charged to the next); IQR is the interquartile "
             "range. `vs X` is this row's median over X's: below 1.00x is faster. Every "
             "library uses its default threading; peers that do not import show as "
             "`not installed`. Every implementation's result is checked against the "
             "reference before it is timed.")
    return "\n".join([intro, "", *lines, f"- wall time of the run: {elapsed_s:.0f} s"])


def main(argv=None):
    parser = _harness.parser(__doc__.split("\n")[0])
    parser.add_argument("--workloads", default=",".join(WORKLOADS),
                        help="comma-separated subset of " + ",".join(WORKLOADS))
    parser.add_argument("--gpu", action="store_true",
                        help="also run " + ",".join(GPU_WORKLOADS) + " (they need a CUDA device; "
                             "--workloads may name them instead)")
    args = parser.parse_args(argv)
    chosen = [w.strip().lower() for w in args.workloads.split(",") if w.strip()]
    if args.gpu and not any(w in GPU_WORKLOADS for w in chosen):
        chosen += list(GPU_WORKLOADS)
    unknown = [w for w in chosen if w not in MODULES]
    if unknown:
        parser.error(f"unknown workloads {unknown}; choose among {', '.join(WORKLOADS)}")
    log = _harness.log
    load_at_start = os.getloadavg()[0]
    started = time.perf_counter()
    sections = {}
    for key in WORKLOADS + GPU_WORKLOADS:
        if key in chosen:
            for section in run_workload(key, args, log):
                sections[section[0]] = section
    elapsed = time.perf_counter() - started
    header = header_text(args, elapsed, load_at_start)
    log("\n" + header)
    if args.no_write:
        return
    if any(key in sections for key in WORKLOADS):  # the header describes CPU runs
        _harness.write_section("peers", "Compiled face vs peers", header)
    for key in SECTION_ORDER:
        if key in sections:
            _harness.write_section(*sections[key])
    log(f"(written to {os.path.relpath(_harness.RESULTS)}, {elapsed:.0f} s)")


if __name__ == "__main__":
    main()
