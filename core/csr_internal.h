/* csr_internal.h: private helpers shared by core/csr.c and core/csr_spmm.c. */
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

#endif
