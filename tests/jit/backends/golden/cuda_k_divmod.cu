// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

template <typename T> __device__ __forceinline__ T dg_ifloordiv(T a, T b) {
  if (b == 0) return 0;
  if (b == -1) return (T)(0ull - (unsigned long long)a);  // MIN // -1 wraps to MIN
  T q = (T)(a / b);
  return (a % b != 0 && ((a < 0) != (b < 0))) ? (T)(q - 1) : q;
}

template <typename T> __device__ __forceinline__ T dg_imod(T a, T b) {
  if (b == 0 || b == -1) return 0;
  T r = (T)(a % b);
  return (r != 0 && ((r < 0) != (b < 0))) ? (T)(r + b) : r;
}

extern "C" __global__ void k_divmod(long long start, long long end, int* __restrict__ b0, double* __restrict__ b1, const int* __restrict__ b2, const int* __restrict__ b3) {
  for (long long flat = start + (long long)blockIdx.x * blockDim.x + threadIdx.x; flat < end;
       flat += (long long)blockDim.x * gridDim.x) {
    const long long i0 = flat;
    const int v0 = b2[i0];
    const int v1 = b3[i0];
    const int v2 = dg_ifloordiv<int>(v0, v1);
    const int v3 = dg_imod<int>(v0, v1);
    const double v4 = (double)(v3);
    b0[i0] = v2;
    b1[i0] = v4;
  }
}
