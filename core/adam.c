/* adam.c: ci_adam_step, the one Adam of cinterp (torch.optim.Adam's update, no
 * weight decay) over a range of a flat parameter block, on the tensors' own
 * device: a host loop for CPU tensors, the kernel of kernels/adam.cu for tensors
 * on the GPU; both apply ci_adam_update (adam.h) to each element. */
#include "adam.h"

#include "internal.h"
#ifdef CI_CUDA
#include "cuda_internal.h"
#endif

int ci_adam_step(ci_tensor *param, const ci_tensor *grad, ci_tensor *m, ci_tensor *v,
                 int64_t first, int64_t count, int64_t step, double lr, double beta1,
                 double beta2, double eps) {
  const char *where = "ci_adam_step";
  if (!param || !grad || !m || !v)
    return ci_set_error(CI_EINVAL, "%s: param, grad, m and v are required", where);
  if (grad->nel != param->nel || m->nel != param->nel || v->nel != param->nel)
    return ci_set_error(CI_EINVAL,
                        "%s: param has %lld elements but grad, m, v have %lld, %lld, %lld", where,
                        (long long)param->nel, (long long)grad->nel, (long long)m->nel,
                        (long long)v->nel);
  if (first < 0 || count < 0 || first > param->nel || count > param->nel - first)
    return ci_set_error(CI_EINVAL,
                        "%s: elements %lld .. %lld (first, count = %lld, %lld) are outside the "
                        "%lld parameters",
                        where, (long long)first + 1, (long long)(first + count), (long long)first,
                        (long long)count, (long long)param->nel);
  if (step < 1) return ci_set_error(CI_EINVAL, "%s: step = %lld, expected >= 1", where, (long long)step);
  if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1))
    return ci_set_error(CI_EINVAL, "%s: betas (%g, %g) must lie in [0, 1)", where, beta1, beta2);
  if (!(lr >= 0) || !(eps >= 0))
    return ci_set_error(CI_EINVAL, "%s: lr = %g and eps = %g must be >= 0", where, lr, eps);
  int dev = param->on_device;
  if (grad->on_device != dev || m->on_device != dev || v->on_device != dev)
    return ci_set_error(CI_EDEVICE, "%s: param, grad, m and v must all live on the same device",
                        where);
  const ci_adam_coeffs c = ci_adam_coeffs_at(step, lr, beta1, beta2, eps);
  if (dev) {
#ifdef CI_CUDA
    return ci_cuda_adam(param->data + first, grad->data + first, m->data + first,
                        v->data + first, count, c, where);
#else
    return ci_set_error(CI_EDEVICE, "%s: tensors on the GPU in a build without CUDA", where);
#endif
  }
  float *p = param->data + first, *md = m->data + first, *vd = v->data + first;
  const float *g = grad->data + first;
  for (int64_t k = 0; k < count; k++) ci_adam_update(p + k, g[k], md + k, vd + k, c);
  return CI_OK;
}
