// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

extern "C" __global__ void k_row_mean(long long start, long long end, float* __restrict__ b0, const float* __restrict__ b1) {
  __shared__ float partial[32];
  for (long long flat = start + blockIdx.x; flat < end; flat += gridDim.x) {
    const long long i0 = flat;
    float acc = 0.0f;
    for (long long r = threadIdx.x; r < 1000; r += blockDim.x) {
      const long long i1 = r;
      const long long v0 = i0 * 1000LL;
      const long long v1 = 0LL + v0;
      const long long v2 = i1 * 1LL;
      const long long v3 = v1 + v2;
      const float v4 = b1[v3];
      acc = acc + v4;
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
        const float v5 = acc * 0.001f;
        b0[i0] = v5;
      }
    }
    __syncthreads();  // partial[] is reused by the next output point
  }
}
