// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

extern "C" __global__ void k_uniform(long long start, long long end, float* __restrict__ b0) {
  for (long long flat = start + (long long)blockIdx.x * blockDim.x + threadIdx.x; flat < end;
       flat += (long long)blockDim.x * gridDim.x) {
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
