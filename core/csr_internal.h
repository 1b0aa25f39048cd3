/* csr_internal.h: private helpers of the sparse matrices, shared by core/csr*.c
 * and the network engine. */
#ifndef CI_CSR_INTERNAL_H
#define CI_CSR_INTERNAL_H

#include "internal.h"

/* First row of part `part` (0..nparts) when the rows of m are split into nparts
 * contiguous ranges of about equal cost, the cost of a row being its number of
 * nonzeros plus row_cost. Part p covers rows [split(p), split(p + 1)). */
static inline int32_t ci_csr_split_rows(const ci_csr *m, int part, int nparts,
                                        int64_t row_cost) {
  if (part <= 0) return 0;
  if (part >= nparts) return m->nrows;
  int64_t total = m->nnz + row_cost * (int64_t)m->nrows;
  /* target = total * part / nparts without overflow */
  int64_t target = (int64_t)((double)total * part / nparts);
  int32_t lo = 0, hi = m->nrows;        /* smallest r with cost(r) >= target */
  while (lo < hi) {
    int32_t mid = lo + (hi - lo) / 2;
    if (m->rowptr[mid] + row_cost * (int64_t)mid >= target) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

/* Allocates an empty matrix shell with its arrays sized for nrows and nnz.
 * where names the public function for error messages. */
int ci_csr_alloc(int32_t nrows, int32_t ncols, int64_t nnz, ci_csr **out,
                 const char *where);

/* Frees the column blocks csr_spmm.c may have cached in m (m->bcache). */
void ci_csr_free_blocks(ci_csr *m);

/* 1 when at most 10 % of the rows of X (A->ncols x B) have a nonzero entry
 * (core/csr_push.c). */
int ci_csr_operand_is_sparse(const ci_csr *A, const float *X, int64_t B);
/* Y (+)= A X for n x B slabs, choosing the product by the operand: when X is
 * sparse (the input step, the first steps of a backward from a few target
 * neurons) its nonzero rows are pushed through the transpose At (threads own
 * ranges of Y's rows: deterministic); otherwise the row-parallel pull of
 * ci_csr_spmm. At may be NULL (always the pull). At's column indices must be
 * ascending within each row (as every ci_csr's are). */
int ci_csr_spmm_by_operand(const ci_csr *A, const ci_csr *At, const float *X, int64_t B,
                           float *Y, int accumulate);

#endif
