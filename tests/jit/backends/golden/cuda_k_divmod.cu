// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

template <typename T, int N> struct alignas(N * sizeof(T) < 16 ? N * sizeof(T) : 16) dg_vec {
  T e[N];  // N points of a vectorised loop, moved by whole-vector loads and stores
};

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
  const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long threads = (long long)blockDim.x * gridDim.x;
  // whole vectors of 4 points cover [lo, hi) when every vector buffer is aligned
  const bool aligned = (((unsigned long long)b0 | (unsigned long long)b1 | (unsigned long long)b2 | (unsigned long long)b3) & 15) == 0;
  const long long lo = aligned ? min((start + 3) & ~3LL, end) : end;
  const long long hi = aligned ? max(end & ~3LL, lo) : end;
  for (long long base = lo + 4 * thread; base < hi; base += 4 * threads) {
    const dg_vec<int, 4> r2 = *(const dg_vec<int, 4>*)(b2 + base);
    const dg_vec<int, 4> r3 = *(const dg_vec<int, 4>*)(b3 + base);
    dg_vec<int, 4> w0;
    dg_vec<double, 4> w1;
    #pragma unroll
    for (int lane = 0; lane < 4; ++lane) {
      const int v0 = r2.e[lane];
      const int v1 = r3.e[lane];
      const int v2 = dg_ifloordiv<int>(v0, v1);
      const int v3 = dg_imod<int>(v0, v1);
      const double v4 = (double)(v3);
      w0.e[lane] = v2;
      w1.e[lane] = v4;
    }
    *(dg_vec<int, 4>*)(b0 + base) = w0;
    *(dg_vec<double, 4>*)(b1 + base) = w1;
  }
  // the points of [start, lo) and [hi, end) (all of them unaligned), one by one
  const long long head = lo - start;
  for (long long point = thread; point < head + (end - hi); point += threads) {
    const long long flat = point < head ? start + point : hi + (point - head);
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
