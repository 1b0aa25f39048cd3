/* adam.h: one element of torch.optim.Adam's update (no weight decay, no
 * amsgrad), shared by the CPU loop (core/adam.c) and the CUDA kernel
 * (kernels/adam.cu). The moments are stored in float; the arithmetic is done
 * in double. step_size = lr / (1 - beta1^step) and bc2s = sqrt(1 - beta2^step)
 * are computed once per step by the caller (ci_adam_coeffs). */
#ifndef CI_ADAM_H
#define CI_ADAM_H

#include <math.h>
#include <stdint.h>

#include "hd.h"

typedef struct ci_adam_coeffs {
  double beta1, beta2, eps;
  double step_size; /* lr / (1 - beta1^step) */
  double bc2s;      /* sqrt(1 - beta2^step) */
} ci_adam_coeffs;

static inline ci_adam_coeffs ci_adam_coeffs_at(int64_t step, double lr, double beta1,
                                               double beta2, double eps) {
  ci_adam_coeffs c;
  c.beta1 = beta1;
  c.beta2 = beta2;
  c.eps = eps;
  c.step_size = lr / (1.0 - pow(beta1, (double)step));
  c.bc2s = sqrt(1.0 - pow(beta2, (double)step));
  return c;
}

/* m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2;
 * p -= step_size * m / (sqrt(v) / bc2s + eps). */
CI_HD static inline void ci_adam_update(float *p, float g, float *m, float *v,
                                        const ci_adam_coeffs c) {
  const double gk = g;
  const double mk = *m + (gk - *m) * (1.0 - c.beta1);
  const double vk = *v * c.beta2 + (1.0 - c.beta2) * gk * gk;
  *m = (float)mk;
  *v = (float)vk;
  *p = (float)(*p - c.step_size * mk / (sqrt(vk) / c.bc2s + c.eps));
}

#endif
