// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

template <typename T, int N> struct alignas(N * sizeof(T) < 16 ? N * sizeof(T) : 16) dg_vec {
  T e[N];  // N points of a vectorised loop, moved by whole-vector loads and stores
};

extern "C" __global__ void k_uniform(long long start, long long end, float* __restrict__ b0) {
  const long long thread = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  const long long threads = (long long)blockDim.x * gridDim.x;
  // whole vectors of 4 points cover [lo, hi) when every vector buffer is aligned
  const bool aligned = ((unsigned long long)b0 & 15) == 0;
  const long long lo = aligned ? min((start + 3) & ~3LL, end) : end;
  const long long hi = aligned ? max(end & ~3LL, lo) : end;
  for (long long base = lo + 4 * thread; base < hi; base += 4 * threads) {
    dg_vec<float, 4> w0;
    #pragma unroll
    for (int lane = 0; lane < 4; ++lane) {
      const long long flat = base + lane;
      const long long i0 = flat;
      const unsigned int v0 = (unsigned int)(i0);
      const unsigned int v1 = __umulhi(v0, 3528531795u);
      const unsigned int v2 = v0 * 2654435769u;
      const unsigned int v3 = (unsigned int)(v1 ^ v2);
      const unsigned int v4 = ((unsigned int)8u < 32 ? (unsigned int)(v3 >> 8u) : (unsigned int)0);
      const float v5 = (float)(v4);
      const float v6 = v5 * 5.9604645e-08f;
      w0.e[lane] = v6;
    }
    *(dg_vec<float, 4>*)(b0 + base) = w0;
  }
  // the points of [start, lo) and [hi, end) (all of them unaligned), one by one
  const long long head = lo - start;
  for (long long point = thread; point < head + (end - hi); point += threads) {
    const long long flat = point < head ? start + point : hi + (point - head);
    const long long i0 = flat;
    const unsigned int v0 = (unsigned int)(i0);
    const unsigned int v1 = __umulhi(v0, 3528531795u);
    const unsigned int v2 = v0 * 2654435769u;
    const unsigned int v3 = (unsigned int)(v1 ^ v2);
    const unsigned int v4 = ((unsigned int)8u < 32 ? (unsigned int)(v3 >> 8u) : (unsigned int)0);
    const float v5 = (float)(v4);
    const float v6 = v5 * 5.9604645e-08f;
    b0[i0] = v6;
  }
}
