// dualgrad kernels, rendered from the kernel IR (dualgrad_jit.backends.cuda)

extern "C" __global__ void k_pad(long long start, long long end, float* __restrict__ b0, const float* __restrict__ b1) {
  for (long long flat = start + (long long)blockIdx.x * blockDim.x + threadIdx.x; flat < end;
       flat += (long long)blockDim.x * gridDim.x) {
    const long long i0 = flat;
    const bool v0 = i0 >= 1LL;
    const bool v1 = i0 < 5LL;
    const bool v2 = (bool)(v0 & v1);
    const long long v3 = i0 - 1LL;
    const float v4 = b1[min(max((long long)(v3), 0LL), 3LL)];
    const float v5 = v2 ? v4 : 0.0f;
    b0[i0] = v5;
  }
}
