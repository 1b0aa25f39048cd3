/* device_adam.c: one Adam step (torch.optim.Adam's update, no weight decay) on
 * the tensors' own device: a host loop for CPU tensors, a kernel
 * (kernels/adam.cu) for tensors on the GPU. */
#include "internal.h"
#ifdef CI_CUDA
#include "cuda_internal.h"
#endif

#include <math.h>

int ci_adam_step(ci_tensor *param, const ci_tensor *grad, ci_tensor *m, ci_tensor *v,
                 int64_t step, double lr, double beta1, double beta2, double eps) {
  const char *where = "ci_adam_step";
  if (!param || !grad || !m || !v)
    return ci_set_error(CI_EINVAL, "%s: param, grad, m and v are required", where);
  if (grad->nel != param->nel || m->nel != param->nel || v->nel != param->nel)
    return ci_set_error(CI_EINVAL,
                        "%s: param has %lld elements but grad, m, v have %lld, %lld, %lld", where,
                        (long long)param->nel, (long long)grad->nel, (long long)m->nel,
                        (long long)v->nel);
  if (step < 1) return ci_set_error(CI_EINVAL, "%s: step = %lld, expected >= 1", where, (long long)step);
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
    return ci_set_error(CI_EINVAL, "%s: betas (%g, %g) must lie in [0, 1)", where, beta1, beta2);
  if (!(lr >= 0) || !(eps >= 0))
    return ci_set_error(CI_EINVAL, "%s: lr = %g and eps = %g must be >= 0", where, lr, eps);
  int dev = param->on_device;
  if (grad->on_device != dev || m->on_device != dev || v->on_device != dev)
    return ci_set_error(CI_EDEVICE, "%s: param, grad, m and v must all live on the same device",
                        where);
  if (dev) {
#ifdef CI_CUDA
    return ci_cuda_adam(param->data, grad->data, m->data, v->data, param->nel, step, lr, beta1,
                        beta2, eps, where);
#else
    return ci_set_error(CI_EDEVICE, "%s: tensors on the GPU in a build without CUDA", where);
#endif
  }
  const double bc1 = 1.0 - pow(beta1, (double)step);
  const double bc2s = sqrt(1.0 - pow(beta2, (double)step));
  const double step_size = lr / bc1;
  float *p = param->data, *md = m->data, *vd = v->data;
  const float *g = grad->data;
  for (int64_t k = 0; k < param->nel; k++) {
    const double gk = g[k];
    const double mk = md[k] + (gk - md[k]) * (1.0 - beta1);
    const double vk = vd[k] * beta2 + (1.0 - beta2) * gk * gk;
    md[k] = (float)mk;
    vd[k] = (float)vk;
    p[k] = (float)(p[k] - step_size * mk / (sqrt(vk) / bc2s + eps));
  }
  return CI_OK;
}
