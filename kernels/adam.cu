/* adam.cu: one Adam step on the device (torch.optim.Adam's update without
 * weight decay), the kernel behind ci_adam_step for tensors on the GPU. The
 * moments are updated in float, the step size and bias corrections computed
 * in double on the host, as core/device_adam.c does on the CPU. */
#include <math.h>

#include "check.cuh"

__global__ void k_adam(float *p, const float *g, float *m, float *v, int64_t n, double b1,
                       double b2, double step_size, double bc2s, double eps) {
  int64_t k = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; k < n; k += (int64_t)gridDim.x * blockDim.x) {
    const double gk = g[k];
    const double mk = m[k] + (gk - m[k]) * (1.0 - b1);
    const double vk = v[k] * b2 + (1.0 - b2) * gk * gk;
    m[k] = (float)mk;
    v[k] = (float)vk;
    p[k] = (float)(p[k] - step_size * mk / (sqrt(vk) / bc2s + eps));
  }
}

extern "C" int ci_cuda_adam(float *param, const float *grad, float *m, float *v, int64_t n,
                            int64_t step, double lr, double beta1, double beta2, double eps,
                            const char *where) {
  if (n <= 0) return CI_OK;
  const double bc1 = 1.0 - pow(beta1, (double)step);
  const double bc2s = sqrt(1.0 - pow(beta2, (double)step));
  k_adam<<<ci_blocks(n), CI_TPB>>>(param, grad, m, v, n, beta1, beta2, lr / bc1,
                                   bc2s, eps);
  CI_LAUNCHED(where, "k_adam");
  CI_CU(where, "cudaDeviceSynchronize", cudaDeviceSynchronize());
  return CI_OK;
}
