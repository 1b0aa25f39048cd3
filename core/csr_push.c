/* csr_push.c: the sparse product for a mostly-zero operand. When few rows of
 * X are nonzero, pushing each nonzero row of X through the transpose (one
 * pass over that row's outgoing connections) touches a small part of the
 * matrix, where the row-parallel pull of csr_spmm.c reads all of it. */
#include "csr_internal.h"

#include <string.h>

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

int ci_csr_spmm_by_operand(const ci_csr *A, const ci_csr *At, const float *X, int64_t B,
                           float *Y, int accumulate) {
  const int64_t ncols = A->ncols, nrows = A->nrows;
  if (!At || !ci_csr_operand_is_sparse(A, X, B)) return ci_csr_spmm(A, X, B, Y, accumulate);
  if (!accumulate) memset(Y, 0, sizeof(float) * (size_t)nrows * (size_t)B);
  for (int64_t j = 0; j < ncols; j++) {
    const float *xr = X + j * B;
    int nz = 0;
    for (int64_t b = 0; b < B; b++) nz |= xr[b] != 0.0f;
    if (!nz) continue;
    for (int64_t e = At->rowptr[j]; e < At->rowptr[j + 1]; e++) {
      float *yr = Y + (int64_t)At->colidx[e] * B;
      const float w = At->vals[e];
      for (int64_t b = 0; b < B; b++) yr[b] += w * xr[b];
    }
  }
  return CI_OK;
}
