// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

template <typename T, int N> struct alignas(N * sizeof(T) < 16 ? N * sizeof(T) : 16) dg_vec {
  T e[N];  // N points of a vectorised loop, moved by whole-vector loads and stores
};

extern "C" __global__ void k_vector_mixed(long long start, long long end, double* __restrict__ b0, bool* __restrict__ b1, const double* __restrict__ b2, const bool* __restrict__ b3, const double* __restrict__ b4, const int* __restrict__ b5) {
  const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long threads = (long long)blockDim.x * gridDim.x;
  // whole vectors of 4 points cover [lo, hi) when every vector buffer is aligned
  const bool aligned = (((unsigned long long)b0 | (unsigned long long)b2 | (unsigned long long)b5) & 15) == 0 && (((unsigned long long)b1 | (unsigned long long)b3) & 3) == 0;
  const long long lo = aligned ? min((start + 3) & ~3LL, end) : end;
  const long long hi = aligned ? max(end & ~3LL, lo) : end;
  for (long long base = lo + 4 * thread; base < hi; base += 4 * threads) {
    const dg_vec<double, 4> r2 = *(const dg_vec<double, 4>*)(b2 + base);
    const dg_vec<bool, 4> r3 = *(const dg_vec<bool, 4>*)(b3 + base);
    const dg_vec<int, 4> r5 = *(const dg_vec<int, 4>*)(b5 + base);
    dg_vec<double, 4> w0;
    dg_vec<bool, 4> w1;
    #pragma unroll
    for (int lane = 0; lane < 4; ++lane) {
      const bool v0 = r3.e[lane];
      const double v1 = r2.e[lane];
      const double v2 = b4[0LL];
      const double v3 = v1 * v2;
      const int v4 = r5.e[lane];
      const double v5 = (double)(v4);
      const double v6 = v0 ? v3 : v5;
      const bool v7 = v1 > 0.0;
      w0.e[lane] = v6;
      w1.e[lane] = v7;
    }
    *(dg_vec<double, 4>*)(b0 + base) = w0;
    *(dg_vec<bool, 4>*)(b1 + base) = w1;
  }
  // the points of [start, lo) and [hi, end) (all of them unaligned), one by one
  const long long head = lo - start;
  for (long long point = thread; point < head + (end - hi); point += threads) {
    const long long flat = point < head ? start + point : hi + (point - head);
    const long long i0 = flat;
    const bool v0 = b3[i0];
    const double v1 = b2[i0];
    const double v2 = b4[0LL];
    const double v3 = v1 * v2;
    const int v4 = b5[i0];
    const double v5 = (double)(v4);
    const double v6 = v0 ? v3 : v5;
    const bool v7 = v1 > 0.0;
    b0[i0] = v6;
    b1[i0] = v7;
  }
}
