/* csr_push.c: the sparse product for a mostly-zero operand. When few rows of
 * X are nonzero, pushing each nonzero row of X through the transpose (one
 * pass over that row's outgoing connections) touches a small part of the
 * matrix, where the row-parallel pull of csr_spmm.c reads all of it. The
 * threads split Y's rows, so the push is parallel and still deterministic. */
#include "csr_internal.h"

#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

int ci_csr_operand_is_sparse(const ci_csr *A, const float *X, int64_t B) {
  /* nonzero rows of X, counted with an early exit past 10 % */
  const int64_t ncols = A->ncols, limit = ncols / 10;
  int64_t active = 0;
  for (int64_t j = 0; j < ncols && active <= limit; j++) {
    const float *xr = X + j * B;
    for (int64_t b = 0; b < B; b++)
      if (xr[b] != 0.0f) { active++; break; }
  }
  return active <= limit;
}

/* The first position in the ascending idx[lo, hi) whose value is >= v. */
static int64_t lower_bound(const int32_t *idx, int64_t lo, int64_t hi, int32_t v) {
  while (lo < hi) {
    const int64_t mid = lo + (hi - lo) / 2;
    if (idx[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

int ci_csr_spmm_by_operand(const ci_csr *A, const ci_csr *At, const float *X, int64_t B,
                           float *Y, int accumulate) {
  const int64_t ncols = A->ncols, nrows = A->nrows;
  if (!At || !ci_csr_operand_is_sparse(A, X, B)) return ci_csr_spmm(A, X, B, Y, accumulate);
  /* Each thread owns a range of Y's rows and pushes every nonzero row j of X
   * into them: its part of At's row j (targets ascending) found by binary
   * search. Each element sums its terms in the order of j whatever the thread
   * count, so the result is the same bits as one thread's. */
#pragma omp parallel if (nrows * B > 65536)
  {
    int t = 0, nt = 1;
#ifdef _OPENMP
    t = omp_get_thread_num();
    nt = omp_get_num_threads();
#endif
    const int32_t i0 = (int32_t)(nrows * t / nt), i1 = (int32_t)(nrows * (t + 1) / nt);
    if (!accumulate) memset(Y + (int64_t)i0 * B, 0, sizeof(float) * (size_t)(i1 - i0) * (size_t)B);
    for (int64_t j = 0; j < ncols; j++) {
      const float *xr = X + j * B;
      int nz = 0;
      for (int64_t b = 0; b < B; b++) nz |= xr[b] != 0.0f;
      if (!nz) continue;
      const int64_t e1 = lower_bound(At->colidx, At->rowptr[j], At->rowptr[j + 1], i1);
      for (int64_t e = lower_bound(At->colidx, At->rowptr[j], e1, i0); e < e1; e++) {
        float *yr = Y + (int64_t)At->colidx[e] * B;
        const float w = At->vals[e];
        for (int64_t b = 0; b < B; b++) yr[b] += w * xr[b];
      }
    }
  }
  return CI_OK;
}
