/* net_step.h: the elementwise maths of one timestep of the network, for one
 * neuron and one batch column, forward above backward (../shared/DESIGN.md).
 * Written once: the CPU row loops (core/net_forward.c, core/net_backward.c)
 * and the CUDA kernels (kernels/net_step.cu) all call these functions.
 *
 *   s = max(0, k (1 + d))     with divisive normalisation (d: divisive term), else k
 *   a = s p + c               (p = (W x_{t-1})[i])
 *   h = a if a >= th else 0   (MultilayeredNetwork; LinearNetwork: no threshold, no tanh)
 *   y = tanh(h) / tau + (tau - 1) / tau * x_{t-1}   (1 / tau and (tau - 1) / tau
 *                                                 per neuron: ci_step_rates)
 *   t < L:  z = y + u;  x_t = min(z if z >= th else 0, 1)   (Linear: x_t = z)
 *   t = L:  x_t = y
 *
 * Derivatives follow torch: the threshold's is [v > th] (0 at equality), the
 * clamp's at 1 is [v <= 1] (1 at equality). Manipulated entries are set after
 * the step and pass no gradient (ci_step_manip). */
#ifndef CI_NET_STEP_H
#define CI_NET_STEP_H

#include <math.h>
#include <stdint.h>

#include "cinterp.h"
#include "fast_tanh.h"
#include "hd.h"

/* What is fixed for every element of one step. */
typedef struct ci_step_mode {
  float th;   /* threshold */
  int ml;     /* 1: MultilayeredNetwork (threshold, tanh, clamp); 0: LinearNetwork */
  int div;    /* 1: divisive normalisation scales the slope */
  int last;   /* 1: t == L (no input, no threshold, no clamp) */
} ci_step_mode;

/* A neuron's time constant as the step uses it, computed once per neuron
 * (ci_step_rates) so that no element divides: inv = 1 / tau, keep = (tau - 1) / tau. */
typedef struct ci_step_tau {
  float inv, keep;
} ci_step_tau;

CI_HD static inline ci_step_tau ci_step_rates(float tau) {
  ci_step_tau r;
  r.inv = 1.0f / tau;
  r.keep = (tau - 1.0f) / tau;
  return r;
}

/* The contributions of one element to the gradients (DESIGN.md, Backward). */
typedef struct ci_step_grads {
  float gp;       /* dLoss/dp_t: goes through W^T to x_{t-1} */
  float gd;       /* dLoss/dd_t (divisive term; 0 without) */
  float gz;       /* dLoss/dz_t (t < L): the gradient of the input of layer t + 1 */
  float carried;  /* dLoss/dx_{t-1} through the tau mixing */
  double gk, gc, gtau;  /* this element's share of dLoss/dk, dLoss/dc, dLoss/dtau */
} ci_step_grads;

/* ---- the threshold and the slope ---- */

/* v if v >= th else 0. */
CI_HD static inline float ci_step_threshold(float v, float th) { return ci_pick(v < th, 0.0f, v); }
/* Its derivative: [v > th], 0 at equality. */
CI_HD static inline int ci_step_threshold_passes(float v, float th) { return v > th; }

/* s = max(0, k (1 + d)) with divisive normalisation, else k. */
CI_HD static inline float ci_step_slope(float k, float d, int div) {
  if (!div) return k;
  const float s = k * (1.0f + d);
  return s < 0.0f ? 0.0f : s;
}

/* ---- forward ---- */

/* tanh(threshold(a)) for a MultilayeredNetwork (fast_tanh.h: vectorised, within
 * 0.96 ulp), a for a LinearNetwork. */
CI_HD static inline float ci_step_act(float a, float th, int ml) {
  return ml ? ci_tanhf(ci_step_threshold(a, th)) : a;
}

/* y = act / tau + (tau - 1) / tau * x_{t-1}. */
CI_HD static inline float ci_step_mix(float act, ci_step_tau tau, float xprev) {
  return fmaf(tau.keep, xprev, act * tau.inv);
}

/* x_t of one element. u is the input of layer t + 1 to this neuron (0 when
 * it is not sensory; not read at the last step). */
CI_HD static inline float ci_step_forward(float p, float d, float k, float c, ci_step_tau tau,
                                          float xprev, float u, ci_step_mode m) {
  const float a = fmaf(ci_step_slope(k, d, m.div), p, c);
  const float y = ci_step_mix(ci_step_act(a, m.th, m.ml), tau, xprev);
  if (m.last) return y;
  const float z = y + u;
  if (!m.ml) return z;
  const float zt = ci_step_threshold(z, m.th);
  return ci_pick(zt > 1.0f, 1.0f, zt);
}

/* ---- backward ---- */

/* The gradients of one element from g = dLoss/dx_t (0 at a manipulated
 * entry); recomputes the forward from the same arguments. */
CI_HD static inline ci_step_grads ci_step_backward(float g, float p, float d, float k, float c,
                                                   ci_step_tau tau, float xprev, float u,
                                                   ci_step_mode m) {
  ci_step_grads r;
  const float s = ci_step_slope(k, d, m.div);
  const float a = fmaf(s, p, c);
  const float act = ci_step_act(a, m.th, m.ml);
  float gy = g; /* dLoss/dy */
  r.gz = 0.0f;
  if (!m.last) {
    if (m.ml) {
      const float z = ci_step_mix(act, tau, xprev) + u;
      const int passes = ci_step_threshold_passes(z, m.th) & (ci_step_threshold(z, m.th) <= 1.0f);
      gy = ci_pick(passes, g, 0.0f);
    }
    r.gz = gy;
  }
  float ga; /* dLoss/da */
  if (m.ml) {
    const float gh = gy * fmaf(-act, act, 1.0f) * tau.inv;
    ga = ci_pick(ci_step_threshold_passes(a, m.th), gh, 0.0f);
  } else {
    ga = gy * tau.inv;
  }
  r.gtau = (double)gy * (double)(xprev - act) * ((double)tau.inv * (double)tau.inv);
  r.gc = ga;
  r.gp = ga * s;
  const float gs = ga * p; /* dLoss/ds */
  if (m.div) {
    const float q = ci_pick(k * (1.0f + d) >= 0.0f, 1.0f, 0.0f); /* the max(0, .) passes */
    r.gk = (double)gs * q * (1.0f + d);
    r.gd = gs * q * k;
  } else {
    r.gk = gs;
    r.gd = 0.0f;
  }
  r.carried = gy * tau.keep;
  return r;
}

/* ---- layouts shared by both devices ---- */

/* Index of u[b, s, t] in the (B, S, L) input. */
CI_HD static inline int64_t ci_step_input_index(int64_t b, int64_t s, int64_t S, int64_t L,
                                                int64_t t) {
  return (b * S + s) * L + t;
}

/* Applies the manipulations m[m0 .. m1) of one step to the n x B slab x, in
 * order (a later entry wins): x[neuron, b] = value, or 0 when zero != 0 (the
 * backward's cut). Batch column b is written by worker b % nlanes only (lane
 * is this worker: 0 of 1 on the CPU, a thread of one block on the GPU), so
 * the order holds without synchronisation. */
CI_HD static inline void ci_step_manip(const ci_manip *m, int64_t m0, int64_t m1, float *x,
                                       int64_t B, int zero, int64_t lane, int64_t nlanes) {
  for (int64_t e = m0; e < m1; e++) {
    const ci_manip mp = m[e];
    const float v = zero ? 0.0f : mp.value;
    float *row = x + (int64_t)mp.neuron * B;
    if (mp.batch < 0) {
      for (int64_t b = lane; b < B; b += nlanes) row[b] = v;
    } else if (lane == mp.batch % nlanes) {
      row[mp.batch] = v;
    }
  }
}

#endif
