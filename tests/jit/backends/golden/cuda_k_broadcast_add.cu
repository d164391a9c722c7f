// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

template <typename T> __device__ __forceinline__ T dg_max(T a, T b) {  // NaN wins
  return (a > b || a != a) ? a : b;
}

extern "C" __global__ void k_broadcast_add(long long start, long long end, float* __restrict__ b0, const float* __restrict__ b1, const float* __restrict__ b2) {
  for (long long flat = start + (long long)blockIdx.x * blockDim.x + threadIdx.x; flat < end;
       flat += (long long)blockDim.x * gridDim.x) {
    const unsigned int flat32 = (unsigned int)flat;
    const long long i0 = flat32 / 3u;
    const long long i1 = flat32 % 3u;
    const long long v0 = i0 * 3LL;
    const long long v1 = 0LL + v0;
    const long long v2 = i1 * 1LL;
    const long long v3 = v1 + v2;
    const long long v4 = i0 * 3LL;
    const long long v5 = 0LL + v4;
    const long long v6 = i1 * 1LL;
    const long long v7 = v5 + v6;
    const float v8 = b1[v7];
    const float v9 = b2[i1];
    const float v10 = v8 + v9;
    const float v11 = dg_max<float>(v10, 0.0f);
    b0[v3] = v11;
  }
}
