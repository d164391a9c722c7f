// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

extern "C" __global__ void k_split_sum_partials(long long start, long long end, float* __restrict__ b0, const float* __restrict__ b1, float* __restrict__ scratch) {
  __shared__ float partial[32];
  for (long long task = start * 256 + blockIdx.x; task < end * 256; task += gridDim.x) {
    const long long flat = task / 256;
    const long long first = task % 256 * 4096;  // its points [first, stop)
    const long long stop = min(first + 4096, 1048576LL);
    float acc = 0.0f;
    for (long long r = first + threadIdx.x; r < stop; r += blockDim.x) {
      const long long i0 = r;
      const long long v0 = i0 * 1LL;
      const long long v1 = 0LL + v0;
      const float v2 = b1[v1];
      acc = acc + v2;
    }
    for (int lane = 16; lane > 0; lane >>= 1) {
      const float other = __shfl_down_sync(0xffffffffu, acc, lane);
      acc = acc + other;
    }
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = acc;
    __syncthreads();
    if (threadIdx.x < 32) {
      acc = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : 0.0f;
      for (int lane = 16; lane > 0; lane >>= 1) {
        const float other = __shfl_down_sync(0xffffffffu, acc, lane);
        acc = acc + other;
      }
      if (threadIdx.x == 0) {
        scratch[task] = acc;
      }
    }
    __syncthreads();  // partial[] is reused by the next output point
  }
}

extern "C" __global__ void k_split_sum(long long start, long long end, float* __restrict__ b0, const float* __restrict__ b1, const float* __restrict__ scratch) {
  __shared__ float partial[32];
  for (long long flat = start + blockIdx.x; flat < end; flat += gridDim.x) {
    float acc = 0.0f;
    for (long long p = threadIdx.x; p < 256; p += blockDim.x) {
      const float part = scratch[flat * 256 + p];
      acc = acc + part;
    }
    for (int lane = 16; lane > 0; lane >>= 1) {
      const float other = __shfl_down_sync(0xffffffffu, acc, lane);
      acc = acc + other;
    }
    if ((threadIdx.x & 31) == 0) partial[threadIdx.x >> 5] = acc;
    __syncthreads();
    if (threadIdx.x < 32) {
      acc = threadIdx.x < (blockDim.x >> 5) ? partial[threadIdx.x] : 0.0f;
      for (int lane = 16; lane > 0; lane >>= 1) {
        const float other = __shfl_down_sync(0xffffffffu, acc, lane);
        acc = acc + other;
      }
      if (threadIdx.x == 0) {
        b0[0LL] = acc;
      }
    }
    __syncthreads();  // partial[] is reused by the next output point
  }
}
