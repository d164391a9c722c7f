"""Run rendered CUDA C on the CPU: a stand-in for a GPU where none exists.

The generated translation unit is compiled by the host C++ compiler after a small shim
that defines what CUDA provides: ``threadIdx``/``blockIdx`` (thread-local), ``blockDim``,
``gridDim``, ``__syncthreads`` (a block barrier), ``__shfl_down_sync`` (a warp barrier
around an exchange array), ``__shared__`` (function ``static``: blocks run one after the
other), the bit intrinsics and the math functions.  Every CUDA thread of a block is a
host thread (which then runs the same thread of the next block), so the block
reductions run their real shuffle/shared-memory code.

What this checks: the kernels' loops, index arithmetic, reductions and every scalar
template, against the numpy evaluator, and the vectorised loops (``dg_vec`` is plain
C++; ``#pragma unroll`` is ignored) including their pointer alignment checks (numpy
allocations are 16-byte aligned; tests pass views at element offsets to fail them).
``run`` launches a kernel as the runtimes do: every entry of ``render.launches`` in
order, a split reduction's scratch buffer as the last argument.  What it cannot check:
float16 (its helpers are PTX), CUDA's own libm accuracy, anything about the device
compiler (that the vector accesses become 16-byte instructions: the PTX tests look).
"""

import ctypes
import os
import shutil
import subprocess

import numpy

from dualgrad_jit.backends.cuda import render, scalar

SHIM = r"""
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstring>
#include <math.h>
#include <memory>
#include <thread>
#include <vector>
using std::max;
using std::min;

struct dg_dim3 { unsigned int x, y, z; };
static thread_local dg_dim3 threadIdx, blockIdx;
static dg_dim3 blockDim, gridDim;
static std::barrier<>* dg_block_barrier;
static std::barrier<>* dg_warp_barriers[32];
static unsigned long long dg_exchange[1024];

#define __global__
#define __device__
#define __forceinline__ inline
#define __shared__ static
#define __syncthreads() dg_block_barrier->arrive_and_wait()

template <typename T> T __shfl_down_sync(unsigned int, T value, int delta) {
  unsigned int t = threadIdx.x, lane = t & 31;
  std::memcpy(&dg_exchange[t], &value, sizeof(T));
  dg_warp_barriers[t >> 5]->arrive_and_wait();
  T out = value;
  if (lane + delta < 32 && t + delta < blockDim.x) {
    std::memcpy(&out, &dg_exchange[t + delta], sizeof(T));
  }
  dg_warp_barriers[t >> 5]->arrive_and_wait();
  return out;
}

static unsigned int __umulhi(unsigned int a, unsigned int b) {
  return (unsigned int)(((unsigned long long)a * b) >> 32);
}
static int __mulhi(int a, int b) { return (int)(((long long)a * b) >> 32); }
static unsigned long long __umul64hi(unsigned long long a, unsigned long long b) {
  return (unsigned long long)(((unsigned __int128)a * b) >> 64);
}
static long long __mul64hi(long long a, long long b) {
  return (long long)(((__int128)a * b) >> 64);
}
template <typename To, typename From> static To dg_bits(From x) {
  To y;
  std::memcpy(&y, &x, sizeof(To));
  return y;
}
static int __float_as_int(float x) { return dg_bits<int>(x); }
static unsigned int __float_as_uint(float x) { return dg_bits<unsigned int>(x); }
static float __int_as_float(int x) { return dg_bits<float>(x); }
static float __uint_as_float(unsigned int x) { return dg_bits<float>(x); }
static long long __double_as_longlong(double x) { return dg_bits<long long>(x); }
static double __longlong_as_double(long long x) { return dg_bits<double>(x); }

typedef void (*dg_body)(long long, long long, void**);

static void dg_launch(int grid, int block, dg_body body, long long start, long long end,
                      void** buffers) {
  blockDim = {(unsigned int)block, 1, 1};
  gridDim = {(unsigned int)grid, 1, 1};
  std::barrier<> block_barrier(block);
  std::vector<std::unique_ptr<std::barrier<>>> warps;
  for (int w = 0; 32 * w < block; ++w) {
    warps.push_back(std::make_unique<std::barrier<>>(std::min(32, block - 32 * w)));
    dg_warp_barriers[w] = warps.back().get();
  }
  dg_block_barrier = &block_barrier;
  std::vector<std::thread> threads;  // one per CUDA thread of a block, for every block
  for (int t = 0; t < block; ++t) {
    threads.emplace_back([=, &block_barrier] {
      threadIdx = {(unsigned int)t, 1, 1};
      for (int b = 0; b < grid; ++b) {
        blockIdx = {(unsigned int)b, 1, 1};
        body(start, end, buffers);
        block_barrier.arrive_and_wait();  // blocks run one after the other
      }
    });
  }
  for (auto& thread : threads) thread.join();
}
"""


def available():
    return shutil.which("g++") is not None


def _wrapper(kernel):
    """``host_<entry>(start, end, buffers, grid, block)`` per entry of ``kernel``; the
    buffer table holds the kernel's buffers, then the scratch of a split reduction."""
    written = set(kernel.outputs())
    args = [f"({'' if i in written else 'const '}{scalar.ctype(b.dtype)}*)b[{i}]"
            for i, b in enumerate(kernel.buffers)]
    if render.scratch(kernel) is not None:
        args.append(f"({scalar.register_type(kernel.reduce.dtype)}*)b[{len(args)}]")
    text = ""
    for name, _, _ in render.launches(kernel):
        text += (f"static void body_{name}(long long s, long long e, void** b) "
                 f"{{ {name}(s, e{''.join(', ' + a for a in args)}); }}\n"
                 f'extern "C" void host_{name}(long long s, long long e, void** b, int grid, '
                 f"int block) {{ dg_launch(grid, block, body_{name}, s, e, b); }}\n")
    return text


class HostModule:
    """The kernels compiled for the CPU; ``launch`` runs one like a GPU would."""

    def __init__(self, kernels, directory):
        self.source = render.render_module(kernels)
        path = os.path.join(str(directory), "kernels.cpp")
        with open(path, "w") as f:
            f.write(SHIM + self.source + "".join(_wrapper(k) for k in kernels))
        library = os.path.join(str(directory), "kernels.so")
        subprocess.run(["g++", "-std=c++20", "-O0", "-ffp-contract=off", "-shared", "-fPIC",
                        "-pthread", "-w", "-o", library, path], check=True)
        self._library = ctypes.CDLL(library)

    def launch(self, kernel, arrays, start, end, grid, block, entry=None):
        """One launch of the entry ``entry`` (the kernel's own by default)."""
        function = getattr(self._library, f"host_{entry or kernel.name}")
        function.argtypes = [ctypes.c_longlong, ctypes.c_longlong, ctypes.c_void_p,
                             ctypes.c_int, ctypes.c_int]
        table = (ctypes.c_void_p * max(len(arrays), 1))(*[a.ctypes.data for a in arrays])
        function(start, end, table, grid, block)

    def run(self, kernel, arrays, start, end, block, grid=None):
        """Every launch ``render.launches`` lists for ``[start, end)``, in order, with
        ``block`` threads per block and its grids (or ``grid`` blocks for each); a split
        reduction gets a scratch buffer full of garbage.  Returns the scratch or None."""
        spec = render.scratch(kernel)
        scratch = None if spec is None else numpy.full(spec[1], 7, spec[0])
        arrays = list(arrays) + ([] if scratch is None else [scratch])
        for name, blocks, _ in render.launches(kernel, start, end):
            if blocks:
                self.launch(kernel, arrays, start, end, grid or blocks, block, entry=name)
        return scratch
