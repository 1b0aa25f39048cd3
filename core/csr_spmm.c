/* csr_spmm.c: the sparse x dense product kernel Y = A X (CSR times row-major
 * n x B slabs, batch innermost), optionally with a per-row epilogue that runs
 * while the row is in cache (the network's fused activation).
 *
 * Kernel layout: OpenMP threads get contiguous row ranges of about equal
 * nonzeros + row overhead (rows have power-law degrees). Each thread walks its
 * rows once per "pass"; a pass covers a panel of at most CI_SPMM_PANEL batch
 * columns (plus a tail of < 8 columns on the last pass) so that the part of X
 * touched by the pass (ncols x panel floats) stays in cache behind the stream
 * of nonzeros. Accumulators are gcc vector-extension registers (v8f) plus up
 * to 7 scalars, specialised at compile time for every (vectors, tail) pair.
 * Each output element is summed in the same order whatever the thread count,
 * so results are bitwise reproducible.
 *
 * Prefetch: the X row of the nonzero `pf` places ahead (ci_tune.spmm_prefetch)
 * is prefetched with no bounds test per nonzero: the rows whose prefetch could
 * run past the last nonzero (the matrix's last ~pf) run without it.
 *
 * Column blocks: when X (ncols x B floats) is larger than
 * ci_tune.spmm_block_above bytes it no longer stays in the last-level cache
 * behind the matrix stream and every gather goes to memory. The matrix is then
 * split by column ranges into K parts (a copy, built once and cached in the
 * matrix, rebuilt when K changes) whose X rows take about
 * ci_tune.spmm_block_bytes each; the rows are walked once per part, adding
 * into Y, the epilogue on the last. Each element is then summed part by part:
 * still independent of the thread count. */
#include "csr_internal.h"

#ifdef _OPENMP
#include <omp.h>
#endif

#ifndef CI_SPMM_U2
#define CI_SPMM_U2 2 /* two accumulator chains when at most this many accumulators */
#endif

#ifndef CI_SPMM_LOC
#define CI_SPMM_LOC 3
#endif

#ifndef CI_SPMM_PANEL
#define CI_SPMM_PANEL 32 /* batch columns per pass: 8, 16, 24 or 32 */
#endif

typedef float v8f __attribute__((vector_size(32)));

static inline v8f ld8(const float *p) {
  v8f v;
  __builtin_memcpy(&v, p, sizeof v);
  return v;
}
static inline void st8(float *p, v8f v) { __builtin_memcpy(p, &v, sizeof v); }

/* B == 1: four partial sums to hide the add latency; x prefetched pf nonzeros
 * ahead (0: not), four at a time. */
static void rows_b1(const ci_csr *A, const float *restrict x, float *restrict y,
                    int32_t r0, int32_t r1, int acc, ci_row_epilogue f, void *fctx, int pf) {
  const int64_t *rp = A->rowptr;
  const int32_t *restrict ci = A->colidx;
  const float *restrict v = A->vals;
  for (int32_t i = r0; i < r1; i++) {
    int64_t k = rp[i], e = rp[i + 1];
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (; k + 4 <= e; k += 4) {
      if (pf) {
        __builtin_prefetch(x + ci[k + pf], 0, CI_SPMM_LOC);
        __builtin_prefetch(x + ci[k + pf + 1], 0, CI_SPMM_LOC);
        __builtin_prefetch(x + ci[k + pf + 2], 0, CI_SPMM_LOC);
        __builtin_prefetch(x + ci[k + pf + 3], 0, CI_SPMM_LOC);
      }
      s0 += v[k] * x[ci[k]];
      s1 += v[k + 1] * x[ci[k + 1]];
      s2 += v[k + 2] * x[ci[k + 2]];
      s3 += v[k + 3] * x[ci[k + 3]];
    }
    for (; k < e; k++) s0 += v[k] * x[ci[k]];
    float s = (s0 + s1) + (s2 + s3);
    y[i] = acc ? y[i] + s : s;
    if (f) f(fctx, i, y + i);
  }
}

/* One pass over rows [r0, r1) for batch columns [c0, c0 + 8P + R) with P v8f
 * accumulators and R scalar ones. With few accumulators the nonzeros are
 * split into even/odd chains (U2) to hide the FMA latency. The X row of the
 * nonzero pf places ahead is prefetched (0: none); the caller keeps k + pf
 * inside the matrix. */
static inline __attribute__((always_inline)) void
rows_panel(const ci_csr *A, const float *restrict X, float *restrict Y, int64_t B,
           int64_t c0, int32_t r0, int32_t r1, int acc, const int P, const int R,
           ci_row_epilogue f, void *fctx, int pf) {
  const int U2 = (P + (R > 0)) <= CI_SPMM_U2;
  const int64_t *rp = A->rowptr;
  const int32_t *restrict ci = A->colidx;
  const float *restrict v = A->vals;
  const float *restrict Xc = X + c0;
  const int W = 8 * P + R;
#define CI_PREFETCH_X(k)                                                       \
  do {                                                                         \
    if (pf) {                                                                  \
      const float *xp_ = Xc + (size_t)ci[(k) + pf] * (size_t)B;                \
      __builtin_prefetch(xp_, 0, CI_SPMM_LOC);                                 \
      if (W > 16) __builtin_prefetch(xp_ + W - 1, 0, CI_SPMM_LOC);             \
    }                                                                          \
  } while (0)
  for (int32_t i = r0; i < r1; i++) {
    v8f a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0};
    v8f b0 = {0}, b1 = {0};
    float t[8] = {0}, u[8] = {0};
    int64_t k = rp[i], e = rp[i + 1];
    if (U2) {
      for (; k + 2 <= e; k += 2) {
        CI_PREFETCH_X(k);
        CI_PREFETCH_X(k + 1);
        float w = v[k], w2 = v[k + 1];
        const float *xr = Xc + (size_t)ci[k] * (size_t)B;
        const float *xs = Xc + (size_t)ci[k + 1] * (size_t)B;
        if (P > 0) { a0 += w * ld8(xr); b0 += w2 * ld8(xs); }
        if (P > 1) { a1 += w * ld8(xr + 8); b1 += w2 * ld8(xs + 8); }
        for (int r = 0; r < R; r++) {
          t[r] += w * xr[8 * P + r];
          u[r] += w2 * xs[8 * P + r];
        }
      }
    }
    for (; k < e; k++) {
      CI_PREFETCH_X(k);
      float w = v[k];
      const float *xr = Xc + (size_t)ci[k] * (size_t)B;
      if (P > 0) a0 += w * ld8(xr);
      if (P > 1) a1 += w * ld8(xr + 8);
      if (P > 2) a2 += w * ld8(xr + 16);
      if (P > 3) a3 += w * ld8(xr + 24);
      for (int r = 0; r < R; r++) t[r] += w * xr[8 * P + r];
    }
    if (U2) {
      a0 += b0;
      a1 += b1;
      for (int r = 0; r < R; r++) t[r] += u[r];
    }
    float *yr = Y + (size_t)i * (size_t)B + c0;
    if (acc) {
      if (P > 0) a0 += ld8(yr);
      if (P > 1) a1 += ld8(yr + 8);
      if (P > 2) a2 += ld8(yr + 16);
      if (P > 3) a3 += ld8(yr + 24);
      for (int r = 0; r < R; r++) t[r] += yr[8 * P + r];
    }
    if (P > 0) st8(yr, a0);
    if (P > 1) st8(yr + 8, a1);
    if (P > 2) st8(yr + 16, a2);
    if (P > 3) st8(yr + 24, a3);
    for (int r = 0; r < R; r++) yr[8 * P + r] = t[r];
    if (f) f(fctx, i, Y + (size_t)i * (size_t)B); /* the whole row is final here */
  }
#undef CI_PREFETCH_X
}

#define CI_PANEL_CASE(P, R)                                           \
  case (P) * 8 + (R):                                                 \
    rows_panel(A, X, Y, B, c0, r0, r1, acc, P, R, f, fctx, pf);       \
    break;
#define CI_PANEL_CASES(P)                                             \
  CI_PANEL_CASE(P, 0) CI_PANEL_CASE(P, 1) CI_PANEL_CASE(P, 2)         \
  CI_PANEL_CASE(P, 3) CI_PANEL_CASE(P, 4) CI_PANEL_CASE(P, 5)         \
  CI_PANEL_CASE(P, 6) CI_PANEL_CASE(P, 7)

static void rows_pass(const ci_csr *A, const float *X, float *Y, int64_t B, int64_t c0,
                      int32_t r0, int32_t r1, int acc, int P, int R, ci_row_epilogue f,
                      void *fctx, int pf) {
  switch (P * 8 + R) {
    CI_PANEL_CASES(0)
    CI_PANEL_CASES(1)
    CI_PANEL_CASES(2)
    CI_PANEL_CASES(3)
    CI_PANEL_CASES(4)
    default: break;
  }
}

/* All passes for rows [r0, r1), prefetching pf nonzeros ahead (0: none). */
static void rows_some(const ci_csr *A, const float *X, float *Y, int64_t B, int32_t r0,
                      int32_t r1, int acc, ci_row_epilogue f, void *fctx, int pf) {
  if (B == 1) {
    rows_b1(A, X, Y, r0, r1, acc, f, fctx, pf);
    return;
  }
  const int64_t W = CI_SPMM_PANEL;
  int64_t c0 = 0;
  while (c0 < B) {
    int64_t rem = B - c0;
    if (rem <= W + 7) {
      rows_pass(A, X, Y, B, c0, r0, r1, acc, (int)(rem / 8), (int)(rem % 8), f, fctx, pf);
      break;
    }
    rows_pass(A, X, Y, B, c0, r0, r1, acc, (int)(W / 8), 0, NULL, NULL, pf);
    c0 += W;
  }
}

/* Rows [r0, r1): those whose prefetch stays inside the matrix (k + pf + 3 <
 * nnz for every nonzero k of the row) with it, the rest (the matrix's last
 * rows) without. */
static void rows_all(const ci_csr *A, const float *X, float *Y, int64_t B, int32_t r0,
                     int32_t r1, int acc, ci_row_epilogue f, void *fctx, int pf) {
  int32_t lo = r0, hi = r1; /* first row of [r0, r1) with rowptr[i + 1] + pf + 3 > nnz */
  while (lo < hi) {
    const int32_t mid = lo + (hi - lo) / 2;
    if (A->rowptr[mid + 1] + pf + 3 > A->nnz) hi = mid;
    else lo = mid + 1;
  }
  if (lo > r0) rows_some(A, X, Y, B, r0, lo, acc, f, fctx, pf);
  if (lo < r1) rows_some(A, X, Y, B, lo, r1, acc, f, fctx, 0);
}

/* ---------- column blocks ---------- */

typedef struct spmm_blocks {
  int32_t nblocks;
  ci_csr **part; /* part c: the nonzeros with column in [ncols c / K, ncols (c + 1) / K) */
} spmm_blocks;

static void blocks_free(spmm_blocks *b) {
  if (!b) return;
  for (int32_t c = 0; c < b->nblocks && b->part; c++) ci_csr_release(b->part[c]);
  free(b->part);
  free(b);
}

void ci_csr_free_blocks(ci_csr *m) {
  blocks_free(m->bcache);
  m->bcache = NULL;
}

/* The block of column j among K over ncols columns. */
static inline int32_t block_of(int64_t j, int64_t ncols, int32_t K) {
  return (int32_t)((j * K) / ncols);
}

/* A split into K column blocks (each a full-height CSR, global column indices,
 * rows in their original order). */
static int blocks_build(const ci_csr *A, int32_t K, spmm_blocks **out) {
  const char *where = "ci_csr_spmm";
  spmm_blocks *b = calloc(1, sizeof *b);
  int64_t *count = calloc((size_t)K, sizeof(int64_t));
  int rc = b && count && (b->part = calloc((size_t)K, sizeof(ci_csr *)))
               ? CI_OK
               : ci_set_error(CI_ENOMEM, "%s: out of memory for column blocks", where);
  if (!rc) b->nblocks = K;
  for (int64_t k = 0; !rc && k < A->nnz; k++) count[block_of(A->colidx[k], A->ncols, K)]++;
  for (int32_t c = 0; !rc && c < K; c++)
    rc = ci_csr_alloc(A->nrows, A->ncols, count[c], &b->part[c], where);
  for (int32_t i = 0; !rc && i < A->nrows; i++) {
    for (int32_t c = 0; c < K; c++) b->part[c]->rowptr[i + 1] = b->part[c]->rowptr[i];
    for (int64_t k = A->rowptr[i]; k < A->rowptr[i + 1]; k++) {
      ci_csr *p = b->part[block_of(A->colidx[k], A->ncols, K)];
      const int64_t at = p->rowptr[i + 1]++;
      p->colidx[at] = A->colidx[k];
      p->vals[at] = A->vals[k];
    }
  }
  free(count);
  if (rc) {
    blocks_free(b);
    return rc;
  }
  *out = b;
  return CI_OK;
}

/* The number of column blocks for X of ncols x B floats (1: none). */
static int32_t blocks_wanted(const ci_csr *A, int64_t B) {
  const double xbytes = (double)A->ncols * (double)B * sizeof(float);
  if (ci_tune.spmm_block_above <= 0 || xbytes <= (double)ci_tune.spmm_block_above) return 1;
  double k = xbytes / (double)ci_tune.spmm_block_bytes;
  int32_t K = (int32_t)k + (k > (int32_t)k);
  if (K > A->ncols) K = A->ncols;
  return K < 2 ? 2 : (K > 256 ? 256 : K);
}

/* A's split into K column blocks, built and cached in A on first use; NULL
 * (the product then runs unblocked) when there is no memory for it. */
static const spmm_blocks *blocks_for(const ci_csr *A, int32_t K) {
  ci_csr *m = (ci_csr *)A; /* the cache is not part of the matrix's value */
  spmm_blocks *have = m->bcache;
  if (have && have->nblocks == K) return have;
  ci_csr_free_blocks(m);
  spmm_blocks *b = NULL;
  if (blocks_build(A, K, &b)) return NULL;
  m->bcache = b;
  return b;
}

int ci_csr_spmm(const ci_csr *A, const float *X, int64_t B, float *Y, int accumulate) {
  return ci_csr_spmm_fused(A, X, B, Y, accumulate, NULL, NULL);
}

int ci_csr_spmm_fused(const ci_csr *A, const float *X, int64_t B, float *Y, int accumulate,
                      ci_row_epilogue epilogue, void *ctx) {
  if (!A) return ci_set_error(CI_EINVAL, "ci_csr_spmm: A is NULL");
  if (B < 0) return ci_set_error(CI_EINVAL, "ci_csr_spmm: B = %lld is negative", (long long)B);
  if (B == 0 || A->nrows == 0) return CI_OK;
  if (!Y) return ci_set_error(CI_EINVAL, "ci_csr_spmm: Y is NULL");
  if (!X && A->ncols > 0) return ci_set_error(CI_EINVAL, "ci_csr_spmm: X is NULL");
  int64_t tmp;
  if (ci_mul_i64(B, (int64_t)A->nrows, &tmp) || ci_mul_i64(B, (int64_t)A->ncols, &tmp) ||
      tmp > INT64_MAX / 8)
    return ci_set_error(CI_ENOMEM, "ci_csr_spmm: B = %lld times the matrix size overflows",
                        (long long)B);
  int64_t row_cost = 1 + B / 8;
  int64_t work = A->nnz * B + row_cost * A->nrows;
  int par = work > 65536;
  (void)par;
  const int32_t K = blocks_wanted(A, B);
  const spmm_blocks *blocks = K > 1 ? blocks_for(A, K) : NULL;
  const int pf = (int)(blocks ? ci_tune.spmm_prefetch_far : ci_tune.spmm_prefetch);
#pragma omp parallel if (par)
  {
    int t = 0, nt = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
    int32_t r0 = ci_csr_split_rows(A, t, nt, row_cost);
    int32_t r1 = ci_csr_split_rows(A, t + 1, nt, row_cost);
    if (!blocks) {
      rows_all(A, X, Y, B, r0, r1, accumulate, epilogue, ctx, pf);
    } else { /* this thread's rows, part by part; the epilogue on the last */
      for (int32_t c = 0; c < blocks->nblocks; c++)
        rows_all(blocks->part[c], X, Y, B, r0, r1, accumulate || c > 0,
                 c == blocks->nblocks - 1 ? epilogue : NULL, ctx, pf);
    }
  }
  return CI_OK;
}
