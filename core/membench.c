/* membench.c: the machine's memory bandwidth, measured the STREAM way, for the
 * benchmark's bandwidth floor: a triad a[i] = b[i] + s * c[i] over three float
 * arrays and a read-only sum over one, both with OpenMP (the default team,
 * i.e. both cores here), each the best of `repeats` timed passes after one
 * untimed pass. Bytes counted as STREAM does: 12 per element for the triad
 * (two reads, one write; write-allocate traffic not counted), 4 for the read. */
#include "internal.h"

#include <omp.h>
#include <time.h>

static double mb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Checks the arguments shared by both measurements; returns 0 when fine. */
static int mb_check(const char *where, size_t n_floats, int repeats, size_t *bytes) {
  if (n_floats < 1024) {
    ci_set_error(CI_EINVAL, "%s: n_floats = %zu is below 1024", where, n_floats);
    return -1;
  }
  if (repeats < 1) {
    ci_set_error(CI_EINVAL, "%s: repeats = %d must be >= 1", where, repeats);
    return -1;
  }
  if (ci_mul_size(n_floats, sizeof(float), bytes) != 0) {
    ci_set_error(CI_ENOMEM, "%s: n_floats = %zu is too large", where, n_floats);
    return -1;
  }
  return 0;
}

double ci_membench_triad(size_t n_floats, int repeats) {
  size_t bytes;
  if (mb_check("ci_membench_triad", n_floats, repeats, &bytes) != 0) return -1.0;
  int ok = 1;
  float *a = ci_alloc_aligned(bytes, &ok);
  float *b = ci_alloc_aligned(bytes, &ok);
  float *c = ci_alloc_aligned(bytes, &ok);
  if (!ok) {
    ci_free_aligned(a); ci_free_aligned(b); ci_free_aligned(c);
    ci_set_error(CI_ENOMEM, "ci_membench_triad: out of memory for 3 x %zu floats", n_floats);
    return -1.0;
  }
  const int64_t n = (int64_t)n_floats;
  /* first touch with the same static schedule as the timed loop */
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) {
    a[i] = 0.0f;
    b[i] = 1.0f;
    c[i] = 2.0f;
  }
  const float s = 0.5f;
  double best = 1e300;
  for (int r = 0; r <= repeats; r++) {
    double t0 = mb_now();
#pragma omp parallel for simd schedule(static)
    for (int64_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
    double t = mb_now() - t0;
    if (r > 0 && t < best) best = t; /* pass 0 warms up */
  }
  volatile float sink = a[n / 2];
  (void)sink;
  ci_free_aligned(a); ci_free_aligned(b); ci_free_aligned(c);
  return 3.0 * (double)bytes / best * 1e-9;
}

double ci_membench_read(size_t n_floats, int repeats) {
  size_t bytes;
  if (mb_check("ci_membench_read", n_floats, repeats, &bytes) != 0) return -1.0;
  int ok = 1;
  float *a = ci_alloc_aligned(bytes, &ok);
  if (!ok) {
    ci_set_error(CI_ENOMEM, "ci_membench_read: out of memory for %zu floats", n_floats);
    return -1.0;
  }
  const int64_t n = (int64_t)n_floats;
#pragma omp parallel for schedule(static)
  for (int64_t i = 0; i < n; i++) a[i] = (float)(i & 7);
  double best = 1e300;
  volatile float sink = 0.0f;
  for (int r = 0; r <= repeats; r++) {
    float sum = 0.0f;
    double t0 = mb_now();
#pragma omp parallel for simd schedule(static) reduction(+ : sum)
    for (int64_t i = 0; i < n; i++) sum += a[i];
    double t = mb_now() - t0;
    sink = sink + sum;
    if (r > 0 && t < best) best = t;
  }
  (void)sink;
  ci_free_aligned(a);
  return (double)bytes / best * 1e-9;
}
