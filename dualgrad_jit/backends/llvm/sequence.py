"""Running a run of consecutive kernels with one call from Python.

A training step is dozens of small kernels (a softmax row, a bias gradient, an update
of ten numbers), each of which computes in well under a microsecond; calling each
through ctypes costs about a microsecond more.  ``dg_run_sequence`` is one small
compiled function that calls a list of kernels in order:

    for k in 0 .. n-1:  kernels[k](0, sizes[k], tables[k])

so a run of kernels between two library calls costs one ctypes call.  It is library
code (``library``: compiled once per machine) and knows nothing
of the kernels it calls: their addresses, sizes and argument tables are arrays the
runtime builds when it loads a program.
"""

import ctypes
import threading

from .arrays import address

SEQUENCE_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p,
                                 ctypes.c_void_p)

_SOURCE = """
define void @dg_run_sequence(i64 %n, ptr noalias %kernels, ptr noalias %sizes,
                             ptr noalias %tables) {
entry:
  %empty = icmp sle i64 %n, 0
  br i1 %empty, label %done, label %loop
loop:
  %k = phi i64 [ 0, %entry ], [ %next, %loop ]
  %kernel_at = getelementptr inbounds ptr, ptr %kernels, i64 %k
  %kernel = load ptr, ptr %kernel_at
  %size_at = getelementptr inbounds i64, ptr %sizes, i64 %k
  %size = load i64, ptr %size_at
  %table_at = getelementptr inbounds ptr, ptr %tables, i64 %k
  %table = load ptr, ptr %table_at
  call void %kernel(i64 0, i64 %size, ptr %table)
  %next = add i64 %k, 1
  %more = icmp slt i64 %next, %n
  br i1 %more, label %loop, label %done
done:
  ret void
}
"""

_RUNNER = []
_LOCK = threading.Lock()


def library_source():
    """``(text, names, render)`` of the runner as library code (``library``)."""
    return "sequence runner", ["dg_run_sequence"], lambda: _SOURCE


def sequence_runner():
    """The compiled ``dg_run_sequence`` (library code: loaded once per process)."""
    with _LOCK:
        if not _RUNNER:
            from . import library

            module = library.load(*library_source())
            address = ctypes.cast(module["dg_run_sequence"], ctypes.c_void_p).value
            runner = SEQUENCE_TYPE(address)
            runner.module = module  # keeps the code alive
            _RUNNER.append(runner)
        return _RUNNER[0]


class SequenceCall:
    """Consecutive single-chunk kernel calls (``runtime._KernelCall``) run by one call
    of ``dg_run_sequence``; their argument tables are patched as each call would."""

    __slots__ = ("calls", "count", "arrays", "dynamic", "runner")

    def __init__(self, calls):
        self.calls = calls
        self.count = len(calls)
        kernels = (ctypes.c_void_p * self.count)(
            *(ctypes.cast(c.function, ctypes.c_void_p).value for c in calls))
        sizes = (ctypes.c_int64 * self.count)(*(c.size for c in calls))
        tables = (ctypes.c_void_p * self.count)(*(c.address for c in calls))
        self.arrays = (kernels, sizes, tables)  # kept alive with the call
        self.dynamic = [(c.table, slot, var_id) for c in calls for slot, var_id in c.dynamic]
        self.runner = (sequence_runner(), *(ctypes.addressof(a) for a in self.arrays))

    def __call__(self, env, ops=None, addresses=None):

        if addresses is None:
            for table, slot, var_id in self.dynamic:
                table[slot] = address(env[var_id])
        else:  # a loop knows the addresses of its rows and invariants
            for table, slot, var_id in self.dynamic:
                known = addresses.get(var_id)
                table[slot] = address(env[var_id]) if known is None else known
        run, kernels, sizes, tables = self.runner
        run(self.count, kernels, sizes, tables)
