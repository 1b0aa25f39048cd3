/* tanh_scan.h: the accuracy scan of ci_tanhf (core/fast_tanh.h) shared by the
 * dense test in `make test` (test_tanh.c) and the exhaustive one over all 2^32
 * floats (tanh_exhaustive.c): the largest error in ulps against tanh in
 * double (ulp of the exact value, as a float), and every property
 * fast_tanh.h states: |y| <= 1, odd bit for bit, NaN in NaN out, monotone
 * (y(x) <= y(next float up) for x >= 0). */
#ifndef CI_TESTS_TANH_SCAN_H
#define CI_TESTS_TANH_SCAN_H

#include "fast_tanh.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

typedef struct tanh_scan {
  double max_ulp;      /* largest error, ulps */
  float worst_x;       /* where */
  int64_t points;      /* floats checked */
  int64_t over_one;    /* |y| > 1 */
  int64_t not_odd;     /* y(-x) != -y(x) bitwise */
  int64_t nan_wrong;   /* NaN in, not NaN out (or NaN out for a non-NaN) */
  int64_t not_monotone;
} tanh_scan;

/* The ulp of a float near y (exact value, double). */
static inline double tanh_scan_ulp(double y) {
  y = fabs(y);
  if (y < 0x1p-126) return 0x1p-149;
  int e;
  frexp(y, &e);
  return ldexp(1.0, e - 24);
}

static inline float tanh_scan_float(uint32_t bits) {
  float x;
  memcpy(&x, &bits, sizeof x);
  return x;
}

static inline uint32_t tanh_scan_bits(float x) {
  uint32_t b;
  memcpy(&b, &x, sizeof b);
  return b;
}

/* Adds the bit patterns lo, lo + stride, ... < hi (positive floats: the sign
 * bit clear; each checked with its negative) into s. */
static inline void tanh_scan_range(uint32_t lo, uint64_t hi, uint32_t stride, tanh_scan *s) {
  for (uint64_t u = lo; u < hi; u += stride) {
    const float x = tanh_scan_float((uint32_t)u), y = ci_tanhf(x), yn = ci_tanhf(-x);
    s->points += 2;
    if (isnan(x)) {
      s->nan_wrong += !isnan(y) + !isnan(yn);
      continue;
    }
    if (isnan(y) || isnan(yn)) { s->nan_wrong++; continue; }
    s->over_one += (fabsf(y) > 1.0f) + (fabsf(yn) > 1.0f);
    s->not_odd += tanh_scan_bits(yn) != (tanh_scan_bits(y) ^ 0x80000000u);
    if (!isinf(x) && ci_tanhf(nextafterf(x, INFINITY)) < y) s->not_monotone++;
    const double exact = tanh((double)x);
    const double err = fabs((double)y - exact) / tanh_scan_ulp(exact);
    if (err > s->max_ulp) { s->max_ulp = err; s->worst_x = x; }
  }
}

static inline void tanh_scan_merge(tanh_scan *into, const tanh_scan *s) {
  if (s->max_ulp > into->max_ulp) { into->max_ulp = s->max_ulp; into->worst_x = s->worst_x; }
  into->points += s->points;
  into->over_one += s->over_one;
  into->not_odd += s->not_odd;
  into->nan_wrong += s->nan_wrong;
  into->not_monotone += s->not_monotone;
}

#endif
