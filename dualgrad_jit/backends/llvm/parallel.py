"""Splitting a kernel between threads in microseconds, not tens of microseconds.

Handing a chunk to a Python thread pool costs 20-30 us (a queue, a lock, waking a
sleeping thread, a future), as much as a 128x784x100 product's half takes to compute.
Here the workers wait in compiled code instead: each sits in ``dg_worker``, spinning
on the job's ``posted`` word (with ``pause``) for ``DUALGRAD_SPIN_US`` microseconds
after its last chunk (1000 by default), then goes back to Python and sleeps on an
event until the next job.  While they spin, a job reaches them in well under a
microsecond, as with OpenMP's or OpenBLAS's spinning threads.

A job is one kernel, its argument table and ``n`` chunks ``(start, end)``.  The caller
(``dg_parallel``) publishes it, takes chunks itself, and returns when all ``n`` are
finished.  Chunks are claimed one at a time by compare-and-swap on the word ``next``
= ``generation << 32 | index``: a worker that wakes late, after its job was finished
and the next one is being written, sees another generation in ``next`` and claims
nothing, so it never reads a half-written job.  Every chunk runs exactly once; which
thread runs it does not change the result (chunks write disjoint outputs).  When a
worker is busy elsewhere or asleep, the caller simply runs more of the chunks.

Before a host step that runs other threads (numpy's BLAS), ``rest`` sends spinning
workers to sleep at once, so that they do not take the cores those threads need.

The job words (``int64``; the contended ones on their own cache lines):
``POSTED`` generation of the latest job, ``NEXT`` the claim word, ``FINISHED`` chunks
done, then the kernel, table, chunk array, chunk count, the caller's generation and
``REST``.
"""

import atexit
import ctypes
import os
import threading
import time

POSTED, NEXT, FINISHED, KERNEL, TABLE, CHUNKS, COUNT, GENERATION, REST = (
    0, 8, 16, 24, 25, 26, 27, 28, 29)
WORDS = 32
STOP = -1

WORKER_TYPE = ctypes.CFUNCTYPE(ctypes.c_int64, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64)
PARALLEL_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p,
                                 ctypes.c_void_p, ctypes.c_int64)

_SOURCE = """
define private void @run_chunks(ptr %job, i64 %gen) {
entry:
  %next_at = getelementptr inbounds i64, ptr %job, i64 @NEXT@
  %finished_at = getelementptr inbounds i64, ptr %job, i64 @FINISHED@
  %count_at = getelementptr inbounds i64, ptr %job, i64 @COUNT@
  %kernel_at = getelementptr inbounds i64, ptr %job, i64 @KERNEL@
  %table_at = getelementptr inbounds i64, ptr %job, i64 @TABLE@
  %chunks_at = getelementptr inbounds i64, ptr %job, i64 @CHUNKS@
  br label %claim
claim:
  %word = load atomic i64, ptr %next_at acquire, align 8
  %word_gen = lshr i64 %word, 32
  %same = icmp eq i64 %word_gen, %gen
  br i1 %same, label %check, label %done
check:
  %index = and i64 %word, 4294967295
  %count = load atomic i64, ptr %count_at monotonic, align 8
  %more = icmp ult i64 %index, %count
  br i1 %more, label %take, label %done
take:
  %claimed = add i64 %word, 1
  %pair = cmpxchg ptr %next_at, i64 %word, i64 %claimed acq_rel acquire
  %won = extractvalue { i64, i1 } %pair, 1
  br i1 %won, label %run, label %claim
run:
  %kernel = load atomic ptr, ptr %kernel_at monotonic, align 8
  %table = load atomic ptr, ptr %table_at monotonic, align 8
  %chunks = load atomic ptr, ptr %chunks_at monotonic, align 8
  %start_index = shl i64 %index, 1
  %start_at = getelementptr inbounds i64, ptr %chunks, i64 %start_index
  %start = load i64, ptr %start_at, align 8
  %end_at = getelementptr inbounds i64, ptr %start_at, i64 1
  %end = load i64, ptr %end_at, align 8
  call void %kernel(i64 %start, i64 %end, ptr %table)
  %ignored = atomicrmw add ptr %finished_at, i64 1 release
  br label %claim
done:
  ret void
}

define i64 @dg_worker(ptr %job, i64 %seen, i64 %spins) {
entry:
  br label %wait
wait:
  %last = phi i64 [ %seen, %entry ], [ %posted, %work ]
  br label %spin
spin:
  %spun = phi i64 [ 0, %wait ], [ %spun_next, %idle ]
  %posted = load atomic i64, ptr %job acquire, align 8
  %new = icmp ne i64 %posted, %last
  br i1 %new, label %posted_job, label %idle
idle:
  @PAUSE@
  %spun_next = add i64 %spun, 1
  %timeout = icmp uge i64 %spun_next, %spins
  %rest_at = getelementptr inbounds i64, ptr %job, i64 @REST@
  %rest = load atomic i64, ptr %rest_at monotonic, align 8
  %resting = icmp ne i64 %rest, 0
  %leave = or i1 %timeout, %resting
  br i1 %leave, label %out, label %spin
posted_job:
  %stop = icmp eq i64 %posted, @STOP@
  br i1 %stop, label %stopped, label %work
work:
  call void @run_chunks(ptr %job, i64 %posted)
  br label %wait
stopped:
  ret i64 @STOP@
out:
  ret i64 %last
}

define void @dg_parallel(ptr %job, ptr %kernel, ptr %table, ptr %chunks, i64 %count) {
entry:
  %gen_at = getelementptr inbounds i64, ptr %job, i64 @GENERATION@
  %previous = load i64, ptr %gen_at, align 8
  %gen = add i64 %previous, 1
  store i64 %gen, ptr %gen_at, align 8
  %kernel_at = getelementptr inbounds i64, ptr %job, i64 @KERNEL@
  store atomic ptr %kernel, ptr %kernel_at monotonic, align 8
  %table_at = getelementptr inbounds i64, ptr %job, i64 @TABLE@
  store atomic ptr %table, ptr %table_at monotonic, align 8
  %chunks_at = getelementptr inbounds i64, ptr %job, i64 @CHUNKS@
  store atomic ptr %chunks, ptr %chunks_at monotonic, align 8
  %count_at = getelementptr inbounds i64, ptr %job, i64 @COUNT@
  store atomic i64 %count, ptr %count_at monotonic, align 8
  %finished_at = getelementptr inbounds i64, ptr %job, i64 @FINISHED@
  store atomic i64 0, ptr %finished_at monotonic, align 8
  %next_at = getelementptr inbounds i64, ptr %job, i64 @NEXT@
  %first = shl i64 %gen, 32
  store atomic i64 %first, ptr %next_at release, align 8
  store atomic i64 %gen, ptr %job release, align 8
  call void @run_chunks(ptr %job, i64 %gen)
  br label %join
join:
  %done = load atomic i64, ptr %finished_at acquire, align 8
  %all = icmp eq i64 %done, %count
  br i1 %all, label %out, label %pause
pause:
  @PAUSE@
  br label %join
out:
  ret void
}
@DECLARE@
"""


def _source(triple):
    x86 = triple.startswith(("x86_64", "i686", "i386"))
    words = {"NEXT": NEXT, "FINISHED": FINISHED, "COUNT": COUNT, "KERNEL": KERNEL,
             "TABLE": TABLE, "CHUNKS": CHUNKS, "GENERATION": GENERATION, "STOP": STOP,
             "REST": REST,
             "PAUSE": "call void @llvm.x86.sse2.pause()" if x86 else "",
             "DECLARE": "declare void @llvm.x86.sse2.pause()" if x86 else ""}
    source = _SOURCE
    for name, value in words.items():
        source = source.replace(f"@{name}@", str(value))
    return source


def spin_microseconds():
    from dualgrad._config import env_int

    return max(0, env_int("DUALGRAD_SPIN_US", 1000))


def library_source():
    """``(text, names, render)`` of the pool's compiled side as library code."""
    from .compiler import host_target

    return ("thread pool", ["dg_worker", "dg_parallel"],
            lambda: _source(host_target().triple))


class Pool:
    """``workers`` threads waiting for jobs in compiled code (see the module docstring)."""

    def __init__(self, workers):
        from . import library

        module = library.load(*library_source())
        self.module = module  # keeps the code alive
        self.worker = WORKER_TYPE(ctypes.cast(module["dg_worker"], ctypes.c_void_p).value)
        self.parallel = PARALLEL_TYPE(ctypes.cast(module["dg_parallel"], ctypes.c_void_p).value)
        raw = (ctypes.c_int64 * (WORDS + 8))()
        self.raw = raw
        shift = (-ctypes.addressof(raw) % 64) // 8  # the words on whole cache lines
        self.words = (ctypes.c_int64 * WORDS).from_buffer(raw, shift * 8)
        self.job = ctypes.addressof(self.words)
        self.spins = self._spins_for(spin_microseconds())
        self.wake = threading.Event()
        self.lock = threading.Lock()  # one job at a time; another caller runs alone
        self.threads = [threading.Thread(target=self._serve, name=f"dualgrad-{i}",
                                         daemon=True) for i in range(workers)]
        for thread in self.threads:
            thread.start()

    def _spins_for(self, microseconds):
        """``pause`` iterations lasting about ``microseconds`` (timed once: a ``pause``
        takes from a few to over a hundred cycles depending on the CPU)."""
        if microseconds <= 0:
            return 0
        trial = 20000
        began = time.perf_counter()
        self.worker(self.job, self.words[POSTED], trial)  # nothing posted: spins it out
        elapsed = max(time.perf_counter() - began, 1e-6)
        return max(1, int(trial * microseconds * 1e-6 / elapsed))

    def _serve(self):
        seen = self.words[POSTED]
        while True:
            self.wake.clear()
            seen = self.worker(self.job, seen, self.spins)
            if seen == STOP:
                return
            self.wake.wait()

    def run(self, kernel, table, chunks, count):
        """Run ``count`` chunks (``chunks``: address of ``2 * count`` int64) of ``kernel``
        (its address) with argument table ``table``; returns when all are done."""
        if not self.lock.acquire(blocking=False):
            _run_here(kernel, table, chunks, count)
            return
        try:
            self.words[REST] = 0
            self.wake.set()  # for workers that went to sleep; spinning ones see the job
            self.parallel(self.job, kernel, table, chunks, count)
        finally:
            self.lock.release()

    def rest(self):
        """Send spinning workers to sleep now: another library's threads (numpy's BLAS)
        are about to want the cores."""
        self.words[REST] = 1

    def stop(self):
        with self.lock:
            self.words[POSTED] = STOP
            self.wake.set()
        for thread in self.threads:
            thread.join()


_KERNEL_TYPE = ctypes.CFUNCTYPE(None, ctypes.c_int64, ctypes.c_int64, ctypes.c_void_p)


def _run_here(kernel, table, chunks, count):
    function = _KERNEL_TYPE(kernel)
    bounds = (ctypes.c_int64 * (2 * count)).from_address(chunks)
    for i in range(count):
        function(bounds[2 * i], bounds[2 * i + 1], table)


_POOL = []
_POOL_LOCK = threading.Lock()


def rest():
    """``Pool.rest`` on the process's pool, if it has one."""
    if _POOL:
        _POOL[0].rest()


def pool(workers):
    """The process's pool of ``workers`` threads (made on first use; stopped at exit, so
    that no worker is still spinning in code the interpreter's teardown unloads)."""
    with _POOL_LOCK:
        if not _POOL:
            _POOL.append(Pool(workers))
            atexit.register(_POOL[0].stop)
        return _POOL[0]


def _forget_after_fork():
    # a forked child has none of the parent's threads: it makes its own pool (programs
    # loaded before the fork keep the parent's, whose chunks their caller then runs)
    global _POOL_LOCK
    _POOL.clear()
    _POOL_LOCK = threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_after_fork)
