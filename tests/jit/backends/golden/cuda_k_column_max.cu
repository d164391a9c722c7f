// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

template <typename T> __device__ __forceinline__ T dg_max(T a, T b) {  // NaN wins
  return (a > b || a != a) ? a : b;
}

extern "C" __global__ void k_column_max(long long start, long long end, double* __restrict__ b0, const double* __restrict__ b1) {
  for (long long flat = start + (long long)blockIdx.x * blockDim.x + threadIdx.x; flat < end;
       flat += (long long)blockDim.x * gridDim.x) {
    const long long i0 = flat;
    double acc = (-__longlong_as_double(0x7ff0000000000000LL));
    for (long long i1 = 0; i1 < 1000; ++i1) {
      const long long v0 = i0 * 1LL;
      const long long v1 = 0LL + v0;
      const long long v2 = i1 * 5000LL;
      const long long v3 = v1 + v2;
      const double v4 = b1[v3];
      acc = dg_max<double>(acc, v4);
    }
    const long long v5 = i0 * 1LL;
    const long long v6 = 0LL + v5;
    b0[v6] = acc;
  }
}
