// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

template <typename T> __device__ __forceinline__ T dg_max(T a, T b) {  // NaN wins
  return (a > b || a != a) ? a : b;
}

extern "C" __global__ void k_split_rows_max_partials(long long start, long long end, int* __restrict__ b0, const int* __restrict__ b1, int* __restrict__ scratch) {
  __shared__ int partial[32];
  for (long long task = start * 17 + blockIdx.x; task < end * 17; task += gridDim.x) {
    const long long flat = task / 17;
    const long long first = task % 17 * 4118;  // its points [first, stop)
    const long long stop = min(first + 4118, 70000LL);
    const long long i0 = flat;
    int acc = (-2147483647 - 1);
    for (long long r = first + threadIdx.x; r < stop; r += blockDim.x) {
      const long long i1 = r;
      const long long v0 = i0 * 70000LL;
      const long long v1 = 0LL + v0;
      const long long v2 = i1 * 1LL;
      const long long v3 = v1 + v2;
      const int v4 = b1[v3];
      acc = dg_max<int>(acc, v4);
    }
    for (int lane = 16; lane > 0; lane >>= 1) {
      const int other = __shfl_down_sync(0xffffffffu, acc, lane);
      acc = dg_max<int>(acc, other);
    }
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = acc;
    __syncthreads();
    if (threadIdx.x < 32) {
      acc = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : (-2147483647 - 1);
      for (int lane = 16; lane > 0; lane >>= 1) {
        const int other = __shfl_down_sync(0xffffffffu, acc, lane);
        acc = dg_max<int>(acc, other);
      }
      if (threadIdx.x == 0) {
        scratch[task] = acc;
      }
    }
    __syncthreads();  // partial[] is reused by the next output point
  }
}

extern "C" __global__ void k_split_rows_max(long long start, long long end, int* __restrict__ b0, const int* __restrict__ b1, const int* __restrict__ scratch) {
  __shared__ int partial[32];
  for (long long flat = start + blockIdx.x; flat < end; flat += gridDim.x) {
    const long long i0 = flat;
    int acc = (-2147483647 - 1);
    for (long long p = threadIdx.x; p < 17; p += blockDim.x) {
      const int part = scratch[flat * 17 + p];
      acc = dg_max<int>(acc, part);
    }
    for (int lane = 16; lane > 0; lane >>= 1) {
      const int other = __shfl_down_sync(0xffffffffu, acc, lane);
      acc = dg_max<int>(acc, other);
    }
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = acc;
    __syncthreads();
    if (threadIdx.x < 32) {
      acc = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : (-2147483647 - 1);
      for (int lane = 16; lane > 0; lane >>= 1) {
        const int other = __shfl_down_sync(0xffffffffu, acc, lane);
        acc = dg_max<int>(acc, other);
      }
      if (threadIdx.x == 0) {
        const long long v0 = i0 * 1LL;
        const long long v1 = 0LL + v0;
        b0[v1] = acc;
      }
    }
    __syncthreads();  // partial[] is reused by the next output point
  }
}
