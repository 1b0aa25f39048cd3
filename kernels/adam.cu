/* adam.cu: the kernel behind ci_adam_step for tensors on the GPU: each thread
 * applies ci_adam_update (core/adam.h, the same code as the CPU loop) to its
 * elements; the step's coefficients come from the host. */
#include "adam.h"
#include "check.cuh"

__global__ void k_adam(float *p, const float *g, float *m, float *v, int64_t n,
                       ci_adam_coeffs c) {
  int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; k < n; k += (int64_t)gridDim.x * blockDim.x) ci_adam_update(p + k, g[k], m + k, v + k, c);
}

extern "C" int ci_cuda_adam(float *param, const float *grad, float *m, float *v, int64_t n,
                            ci_adam_coeffs c, const char *where) {
  if (n <= 0) return CI_OK;
  k_adam<<<ci_blocks(n), CI_TPB>>>(param, grad, m, v, n, c);
  CI_LAUNCHED(where, "k_adam");
  CI_CU(where, "cudaDeviceSynchronize", cudaDeviceSynchronize());
  return CI_OK;
}
