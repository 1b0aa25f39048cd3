/* fast_tanh.h: ci_tanhf, a float tanh that vectorises (gcc turns a loop of it
 * into AVX2 code, no call, no branch) and runs unchanged on the GPU (CI_HD).
 * The network's activation (net_step.h) uses it on both devices.
 *
 * Accuracy, checked over EVERY float (tests/c/tanh_exhaustive.c, `make
 * tanh-exhaustive`; tests/c/test_tanh.c checks a dense subset in `make test`):
 * at most 0.96 ulp from tanh evaluated in double (the largest, 0.9596 ulp, at
 * x = 0.896479368, in the polynomial half), |ci_tanhf(x)| <= 1 always, monotone, odd
 * (ci_tanhf(-x) = -ci_tanhf(x) bit for bit), ci_tanhf(+-0) = +-0 (the sign
 * kept), ci_tanhf(+-inf) = +-1, ci_tanhf(NaN) is NaN. A loop of it costs a
 * fraction of a nanosecond per element; glibc's scalar tanhf ~7 ns.
 *
 * How: with a = |x|,
 *   a < 1:   tanh(a) = a + a^3 P(a^2), P of degree 7: a weighted least-squares
 *            fit of (tanh(a) - a) / a^3 on [0, 1] refined by Lawson's iteration
 *            towards the minimax of the relative error (tests/c/tanh_fit.c
 *            derives every coefficient; fit error 3.9e-10 relative);
 *   a >= 1:  tanh(a) = 1 - 2e / (1 + e) = 1 - e F(e), e = exp(-2 min(a, 10))
 *            (tanh(10) is 1 in float), F a degree-5 polynomial of e on [0,
 *            exp(-2)] (the same fit, 1.5e-10 relative: no division); exp by
 *            Cody-Waite reduction, e = 2^k exp(r) with |r| <= ln2 / 2 and
 *            exp(r) a degree-6 polynomial (1.9e-9 relative), 2^k built in the
 *            exponent bits;
 * then the sign of x copied onto the result. Both halves are computed and one
 * picked through a bit mask (ci_pick, hd.h), so the loop has no control flow. Every
 * multiply-add is an explicit fmaf, so the scalar, the vector and the GPU code
 * round alike. */
#ifndef CI_FAST_TANH_H
#define CI_FAST_TANH_H

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "hd.h"

CI_HD static inline float ci_tanhf(float x) {
  const float a = fabsf(x), a2 = x * x;
  /* a < 1: a + a^3 P(a^2) */
  float p = 1.214700672e-04f;
  p = fmaf(p, a2, -8.411345944e-04f);
  p = fmaf(p, a2, 3.078590035e-03f);
  p = fmaf(p, a2, -8.595111238e-03f);
  p = fmaf(p, a2, 2.178472931e-02f);
  p = fmaf(p, a2, -5.395309805e-02f);
  p = fmaf(p, a2, 1.333320038e-01f);
  p = fmaf(p, a2, -3.333332930e-01f);
  const float small = fmaf(a * a2, p, a);
  /* a >= 1: 1 - 2e / (1 + e), e = exp(-2 min(a, 10)) = 2^k exp(r) (NaN stays NaN) */
  const float t = -2.0f * ci_pick(a > 10.0f, 10.0f, a);
  const float kf = rintf(t * 1.44269504f);     /* k = round(t / ln 2), -29 .. 0 */
  float r = fmaf(kf, -0.693145752f, t);        /* ln 2 in two parts: k * hi is exact */
  r = fmaf(kf, -1.42860682e-06f, r);
  float q = 1.383684562e-03f;
  q = fmaf(q, r, 8.374815802e-03f);
  q = fmaf(q, r, 4.166822558e-02f);
  q = fmaf(q, r, 1.666642017e-01f);
  q = fmaf(q, r, 4.999999208e-01f);
  q = fmaf(q, r, 1.0f);                        /* fitted 1.000000036: 1 in float */
  q = fmaf(q, r, 1.0f);                        /* fitted 1.000000001: 1 in float */
  /* 2^k; k is -29 .. 0 for every number, and a NaN (k NaN too) takes -29 so
   * that the conversion is defined (q is NaN then, and so the result) */
  const int32_t bits = ((int32_t)ci_pick(kf >= -29.0f, kf, -29.0f) + 127) * (1 << 23);
  float scale;
  memcpy(&scale, &bits, sizeof scale);
  const float e = q * scale;
  /* 2e / (1 + e) = e F(e), F a polynomial: no division */
  float f = -1.278176236e+00f;
  f = fmaf(f, e, 1.878992049e+00f);
  f = fmaf(f, e, -1.989517502e+00f);
  f = fmaf(f, e, 1.999530860e+00f);
  f = fmaf(f, e, -1.999990222e+00f);
  f = fmaf(f, e, 1.999999931e+00f);
  const float large = fmaf(-e, f, 1.0f);
  return copysignf(ci_pick(a < 1.0f, small, large), x);
}

#endif
