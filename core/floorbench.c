/* floorbench.c: what bounds the sparse product Y = W X on this machine, measured
 * on a real matrix (../shared/bench/FLOORS.md's method), for `make bench`.
 * Four variants in turn in each round, the median / min / max over rounds:
 *   stream    read the matrix's values and column indices once (no X);
 *   gather    the floor: for every nonzero, its value and the X row at its column
 *             index (every float of the row touched), prefetching the row
 *             `prefetch` nonzeros ahead through a padded copy of the indices
 *             (no clamp per nonzero), nothing written;
 *   plain     a plain CSR SpMM with the same prefetch, two accumulator chains,
 *             Y written;
 *   csr_spmm  cinterp's own ci_csr_spmm.
 * X is n x B with the batch innermost (float32), as the engine stores it; the
 * threads are the default OpenMP team, rows split into ranges of equal nonzeros.
 * After timing, plain's Y is checked against ci_csr_spmm's. */
#include "csr_internal.h"

#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#else /* built without OpenMP (the fuzzers compile every core file): one thread */
static inline int omp_get_thread_num(void) { return 0; }
static inline int omp_get_num_threads(void) { return 1; }
static inline int omp_get_max_threads(void) { return 1; }
#endif
#include <string.h>
#include <time.h>

typedef float fb_v8 __attribute__((vector_size(32)));

/* everything a variant reads; pad_cols has nnz + prefetch entries */
typedef struct {
  const int64_t *rowptr;
  const int32_t *pad_cols;
  const float *vals;
  const float *X;
  float *Y;
  int32_t nrows;
  int64_t B;
  int prefetch;
  float *sink; /* one float per thread, so the compiler keeps the loads */
} fb_ctx;

static double fb_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline fb_v8 fb_load8(const float *p) {
  fb_v8 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline float fb_hsum8(fb_v8 v) {
  return v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
}

/* rows [r0, r1) of the thread; B a compile-time constant after inlining */
static inline __attribute__((always_inline)) float fb_gather_rows(const fb_ctx *c, int32_t r0,
                                                                  int32_t r1, int64_t B) {
  const int64_t k0 = c->rowptr[r0], k1 = c->rowptr[r1];
  const int pf = c->prefetch;
  float vsum = 0.0f;
  if (B % 8 == 0 && B <= 32) {
    const int64_t nv = B / 8;
    fb_v8 acc[4] = { { 0 }, { 0 }, { 0 }, { 0 } };
    for (int64_t k = k0; k < k1; k++) {
      if (pf) __builtin_prefetch(c->X + (int64_t)c->pad_cols[k + pf] * B);
      if (pf && B == 32) __builtin_prefetch(c->X + (int64_t)c->pad_cols[k + pf] * B + 16);
      const float *x = c->X + (int64_t)c->pad_cols[k] * B;
      for (int64_t q = 0; q < nv; q++) acc[q] += fb_load8(x + 8 * q);
      vsum += c->vals[k];
    }
    for (int64_t q = 0; q < nv; q++) vsum += fb_hsum8(acc[q]);
  } else {
    float acc[8] = { 0 };
    for (int64_t k = k0; k < k1; k++) {
      if (pf) __builtin_prefetch(c->X + (int64_t)c->pad_cols[k + pf] * B);
      const float *x = c->X + (int64_t)c->pad_cols[k] * B;
      for (int64_t j = 0; j < B; j++) acc[j & 7] += x[j];
      vsum += c->vals[k];
    }
    for (int j = 0; j < 8; j++) vsum += acc[j];
  }
  return vsum;
}

static inline __attribute__((always_inline)) void fb_plain_rows(const fb_ctx *c, int32_t r0,
                                                                int32_t r1, int64_t B) {
  const int pf = c->prefetch;
  for (int32_t i = r0; i < r1; i++) {
    const int64_t k0 = c->rowptr[i], k1 = c->rowptr[i + 1];
    float *y = c->Y + (int64_t)i * B;
    if (B % 8 == 0 && B <= 32) {
      const int64_t nv = B / 8;
      fb_v8 a0[4] = { { 0 }, { 0 }, { 0 }, { 0 } }, a1[4] = { { 0 }, { 0 }, { 0 }, { 0 } };
      int64_t k = k0;
      for (; k + 1 < k1; k += 2) {
        if (pf) {
          __builtin_prefetch(c->X + (int64_t)c->pad_cols[k + pf] * B);
          __builtin_prefetch(c->X + (int64_t)c->pad_cols[k + 1 + pf] * B);
        }
        const float *x0 = c->X + (int64_t)c->pad_cols[k] * B;
        const float *x1 = c->X + (int64_t)c->pad_cols[k + 1] * B;
        const float w0 = c->vals[k], w1 = c->vals[k + 1];
        for (int64_t q = 0; q < nv; q++) {
          a0[q] += w0 * fb_load8(x0 + 8 * q);
          a1[q] += w1 * fb_load8(x1 + 8 * q);
        }
      }
      if (k < k1) {
        const float *x0 = c->X + (int64_t)c->pad_cols[k] * B;
        for (int64_t q = 0; q < nv; q++) a0[q] += c->vals[k] * fb_load8(x0 + 8 * q);
      }
      for (int64_t q = 0; q < nv; q++) {
        fb_v8 s = a0[q] + a1[q];
        memcpy(y + 8 * q, &s, sizeof s);
      }
    } else {
      for (int64_t j = 0; j < B; j++) y[j] = 0.0f;
      for (int64_t k = k0; k < k1; k++) {
        if (pf) __builtin_prefetch(c->X + (int64_t)c->pad_cols[k + pf] * B);
        const float *x = c->X + (int64_t)c->pad_cols[k] * B;
        const float w = c->vals[k];
        for (int64_t j = 0; j < B; j++) y[j] += w * x[j];
      }
    }
  }
}

/* One timed pass of a variant over the whole matrix; returns seconds. */
static double fb_run(const ci_csr *W, const fb_ctx *c, int variant) {
  if (variant == CI_FLOOR_CSR_SPMM) {
    double t0 = fb_now();
    ci_csr_spmm(W, c->X, c->B, c->Y, 0); /* arguments checked by the caller */
    return fb_now() - t0;
  }
  double t0 = fb_now();
#pragma omp parallel
  {
    const int t = omp_get_thread_num(), nt = omp_get_num_threads();
    const int32_t r0 = ci_csr_split_rows(W, t, nt, 1), r1 = ci_csr_split_rows(W, t + 1, nt, 1);
    const int64_t B = c->B;
    float s = 0.0f;
    if (variant == CI_FLOOR_STREAM) {
      int32_t colx = 0;
      for (int64_t k = c->rowptr[r0]; k < c->rowptr[r1]; k++) {
        s += c->vals[k];
        colx ^= c->pad_cols[k];
      }
      s += (float)colx;
    } else if (variant == CI_FLOOR_GATHER) {
      switch (B) { /* constant widths let the compiler keep the rows in registers */
      case 1: s = fb_gather_rows(c, r0, r1, 1); break;
      case 4: s = fb_gather_rows(c, r0, r1, 4); break;
      case 8: s = fb_gather_rows(c, r0, r1, 8); break;
      case 16: s = fb_gather_rows(c, r0, r1, 16); break;
      case 32: s = fb_gather_rows(c, r0, r1, 32); break;
      default: s = fb_gather_rows(c, r0, r1, B);
      }
    } else {
      switch (B) {
      case 1: fb_plain_rows(c, r0, r1, 1); break;
      case 4: fb_plain_rows(c, r0, r1, 4); break;
      case 8: fb_plain_rows(c, r0, r1, 8); break;
      case 16: fb_plain_rows(c, r0, r1, 16); break;
      case 32: fb_plain_rows(c, r0, r1, 32); break;
      default: fb_plain_rows(c, r0, r1, B);
      }
    }
    c->sink[t] += s;
  }
  return fb_now() - t0;
}

static double fb_median(double *x, int m) {
  for (int i = 1; i < m; i++) /* insertion sort: m is a few dozen at most */
    for (int j = i; j > 0 && x[j - 1] > x[j]; j--) {
      double tmp = x[j];
      x[j] = x[j - 1];
      x[j - 1] = tmp;
    }
  return m % 2 ? x[m / 2] : 0.5 * (x[m / 2 - 1] + x[m / 2]);
}

const char *ci_floorbench_variant(int variant) {
  static const char *const names[CI_FLOOR_NVARIANTS] = { "stream", "gather", "plain",
                                                         "csr_spmm" };
  return variant >= 0 && variant < CI_FLOOR_NVARIANTS ? names[variant] : NULL;
}

int ci_floorbench(const ci_csr *W, int64_t B, int rounds, int prefetch,
                  ci_floorbench_result *out) {
  if (!W || !out) return ci_set_error(CI_EINVAL, "ci_floorbench: W and out must not be NULL");
  if (B < 1 || B > 4096)
    return ci_set_error(CI_EINVAL, "ci_floorbench: B = %lld must be in 1..4096", (long long)B);
  if (rounds < 1 || rounds > 1000)
    return ci_set_error(CI_EINVAL, "ci_floorbench: rounds = %d must be in 1..1000", rounds);
  if (prefetch < 0 || prefetch > 4096)
    return ci_set_error(CI_EINVAL, "ci_floorbench: prefetch = %d must be in 0..4096", prefetch);
  size_t xbytes, ybytes, cbytes, tbytes;
  if (ci_mul_size((size_t)W->ncols, (size_t)B * sizeof(float), &xbytes) != 0 ||
      ci_mul_size((size_t)W->nrows, (size_t)B * sizeof(float), &ybytes) != 0 ||
      ci_mul_size((size_t)W->nnz + (size_t)prefetch + 1, sizeof(int32_t), &cbytes) != 0 ||
      ci_mul_size((size_t)rounds * CI_FLOOR_NVARIANTS, sizeof(double), &tbytes) != 0)
    return ci_set_error(CI_ENOMEM, "ci_floorbench: sizes overflow (B = %lld)", (long long)B);
  const int nthreads = omp_get_max_threads();
  int ok = 1;
  float *X = ci_alloc_aligned(xbytes ? xbytes : 1, &ok);
  float *Y = ci_alloc_aligned(ybytes ? ybytes : 1, &ok);
  float *Yref = ci_alloc_aligned(ybytes ? ybytes : 1, &ok);
  int32_t *pad = ci_alloc_aligned(cbytes, &ok);
  double *times = ci_alloc_aligned(tbytes, &ok);
  float *sink = ci_alloc_aligned(sizeof(float) * (size_t)(nthreads + 1) * 16, &ok);
  int rc = 0;
  if (!ok) {
    rc = ci_set_error(CI_ENOMEM, "ci_floorbench: out of memory for X, Y (%zu bytes each)",
                      xbytes);
    goto done;
  }
  const int64_t nx = (int64_t)W->ncols * B;
  for (int64_t k = 0; k < nx; k++) X[k] = (float)((k * 2654435761u) % 1000u) * 1e-3f;
  memcpy(pad, W->colidx, (size_t)W->nnz * sizeof(int32_t));
  for (int64_t k = W->nnz; k < W->nnz + prefetch + 1; k++) pad[k] = 0;
  memset(sink, 0, sizeof(float) * (size_t)(nthreads + 1) * 16);
  fb_ctx c = { W->rowptr, pad, W->vals, X, Y, W->nrows, B, prefetch, sink };
  for (int v = 0; v < CI_FLOOR_NVARIANTS; v++) fb_run(W, &c, v); /* warm-up, first touch */
  for (int r = 0; r < rounds; r++)
    for (int v = 0; v < CI_FLOOR_NVARIANTS; v++) times[v * rounds + r] = fb_run(W, &c, v);
  /* plain's product must be ci_csr_spmm's (summation order differs: relative check) */
  c.Y = Yref;
  fb_run(W, &c, CI_FLOOR_PLAIN);
  rc = ci_csr_spmm(W, X, B, Y, 0);
  if (rc != 0) goto done;
  const int64_t ny = (int64_t)W->nrows * B;
  for (int64_t k = 0; k < ny; k++) {
    double d = fabs((double)Y[k] - (double)Yref[k]), s = fabs((double)Y[k]) + 1.0;
    if (!(d <= 1e-4 * s)) {
      rc = ci_set_error(CI_ESTATE, "ci_floorbench: the plain product differs from ci_csr_spmm "
                        "at element %lld (%g vs %g)", (long long)k, (double)Yref[k],
                        (double)Y[k]);
      goto done;
    }
  }
  memset(out, 0, sizeof *out);
  out->rounds = rounds;
  out->B = B;
  out->nnz = W->nnz;
  for (int v = 0; v < CI_FLOOR_NVARIANTS; v++) {
    double *t = times + v * rounds;
    double lo = t[0], hi = t[0];
    for (int r = 1; r < rounds; r++) {
      if (t[r] < lo) lo = t[r];
      if (t[r] > hi) hi = t[r];
    }
    out->min_s[v] = lo;
    out->max_s[v] = hi;
    out->median_s[v] = fb_median(t, rounds);
  }
done:
  ci_free_aligned(X);
  ci_free_aligned(Y);
  ci_free_aligned(Yref);
  ci_free_aligned(pad);
  ci_free_aligned(times);
  ci_free_aligned(sink);
  return rc;
}
