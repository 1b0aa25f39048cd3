/* regularise.c: the L1 + L2 norm regulariser of activation maximisation,
 * lambda * (||x||_1 + ||x||_2) over a whole tensor, and its gradient
 * lambda * (sign(x) + x / ||x||_2), in two passes over memory. Sums are taken
 * in double over fixed chunks and added in chunk order, so the value does not
 * depend on the number of threads. */
#include "internal.h"

#include <math.h>

#define CI_REG_CHUNK 65536

int ci_l1l2_regulariser(const ci_tensor *x, double lambda, ci_tensor *grad, double *value) {
  const char *where = "ci_l1l2_regulariser";
  if (!x || !value) return ci_set_error(CI_EINVAL, "%s: x and value are required", where);
  if (x->on_device) return ci_set_error(CI_EINVAL, "%s: x is on the GPU", where);
  if (grad && grad->nel != x->nel)
    return ci_set_error(CI_EINVAL, "%s: grad has %lld elements, x has %lld", where,
                        (long long)grad->nel, (long long)x->nel);
  const int64_t n = x->nel;
  const int64_t nchunks = (n + CI_REG_CHUNK - 1) / CI_REG_CHUNK;
  double *part = malloc(sizeof(double) * 2 * (size_t)(nchunks ? nchunks : 1));
  if (!part) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  const float *xd = x->data;
#pragma omp parallel for schedule(static) if (nchunks > 1)
  for (int64_t c = 0; c < nchunks; c++) {
    const int64_t k0 = c * CI_REG_CHUNK, k1 = k0 + CI_REG_CHUNK < n ? k0 + CI_REG_CHUNK : n;
    double a = 0, s = 0;
    for (int64_t k = k0; k < k1; k++) {
      const double v = xd[k];
      a += fabs(v);
      s += v * v;
    }
    part[2 * c] = a;
    part[2 * c + 1] = s;
  }
  double l1 = 0, ss = 0;
  for (int64_t c = 0; c < nchunks; c++) { l1 += part[2 * c]; ss += part[2 * c + 1]; }
  free(part);
  const double l2 = sqrt(ss);
  *value = lambda * (l1 + l2);
  if (grad) {
    const float lam = (float)lambda;
    const float c2 = l2 > 0 ? (float)(lambda / l2) : 0.0f;
    float *gd = grad->data;
#pragma omp parallel for schedule(static) if (n > CI_REG_CHUNK)
    for (int64_t k = 0; k < n; k++) {
      const float v = xd[k];
      gd[k] = (v > 0 ? lam : (v < 0 ? -lam : 0.0f)) + c2 * v;
    }
  }
  return CI_OK;
}
