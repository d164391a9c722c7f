// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

template <typename T, int N> struct alignas(N * sizeof(T) < 16 ? N * sizeof(T) : 16) dg_vec {
  T e[N];  // N points of a vectorised loop, moved by whole-vector loads and stores
};

extern "C" __global__ void k_vector_2d(long long start, long long end, float* __restrict__ b0, const float* __restrict__ b1) {
  const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long threads = (long long)blockDim.x * gridDim.x;
  // whole vectors of 4 points cover [lo, hi) when every vector buffer is aligned
  const bool aligned = (((unsigned long long)b0 | (unsigned long long)b1) & 15) == 0;
  const long long lo = aligned ? min((start + 3) & ~3LL, end) : end;
  const long long hi = aligned ? max(end & ~3LL, lo) : end;
  for (long long base = lo + 4 * thread; base < hi; base += 4 * threads) {
    const dg_vec<float, 4> r1 = *(const dg_vec<float, 4>*)(b1 + base);
    dg_vec<float, 4> w0;
    #pragma unroll
    for (int lane = 0; lane < 4; ++lane) {
      const long long flat = base + lane;
      const unsigned int flat32 = (unsigned int)flat;
      const long long i1 = flat32 % 7u;
      const float v0 = r1.e[lane];
      const float v1 = (float)(i1);
      const float v2 = v0 * v1;
      w0.e[lane] = v2;
    }
    *(dg_vec<float, 4>*)(b0 + base) = w0;
  }
  // the points of [start, lo) and [hi, end) (all of them unaligned), one by one
  const long long head = lo - start;
  for (long long point = thread; point < head + (end - hi); point += threads) {
    const long long flat = point < head ? start + point : hi + (point - head);
    const unsigned int flat32 = (unsigned int)flat;
    const long long i0 = flat32 / 7u;
    const long long i1 = flat32 % 7u;
    const long long v0 = i0 * 7LL;
    const long long v1 = 0LL + v0;
    const long long v2 = i1 * 1LL;
    const long long v3 = v1 + v2;
    const long long v4 = i0 * 7LL;
    const long long v5 = 0LL + v4;
    const long long v6 = i1 * 1LL;
    const long long v7 = v5 + v6;
    const float v8 = b1[v7];
    const float v9 = (float)(i1);
    const float v10 = v8 * v9;
    b0[v3] = v10;
  }
}
