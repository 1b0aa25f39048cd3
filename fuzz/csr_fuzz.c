/* csr_fuzz.c: libFuzzer harness for the sparse-matrix constructor. The input
 * bytes are read as nrows (int32), ncols (int32), then triplets (row int32,
 * col int32, value float); the claimed nnz is the number of whole triplets.
 * A matrix that builds is checked against its triplets (rows sorted, columns
 * unique and in range, every entry equal to the float sum of its duplicates
 * within rounding), transposed twice and converted to dense when small. */
#include "cinterp.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 8) return 0;
  int32_t nr, nc;
  memcpy(&nr, data, 4);
  memcpy(&nc, data + 4, 4);
  /* keep the allocations (nrows + 1 offsets) within the fuzzer's memory limit */
  if (nr > (1 << 14)) nr = (int32_t)((uint32_t)nr % (1u << 14));
  if (nc > (1 << 14)) nc = (int32_t)((uint32_t)nc % (1u << 14));
  int64_t nnz = (int64_t)((size - 8) / 12);
  int32_t *rows = malloc(sizeof *rows * (size_t)(nnz + 1));
  int32_t *cols = malloc(sizeof *cols * (size_t)(nnz + 1));
  float *vals = malloc(sizeof *vals * (size_t)(nnz + 1));
  for (int64_t k = 0; k < nnz; k++) {
    memcpy(&rows[k], data + 8 + 12 * k, 4);
    memcpy(&cols[k], data + 12 + 12 * k, 4);
    memcpy(&vals[k], data + 16 + 12 * k, 4);
  }
  ci_csr *m = NULL;
  ci_clear_error();
  int rc = ci_csr_from_coo(nr, nc, nnz, rows, cols, vals, &m);
  if (rc == CI_OK) {
    if (m->nrows != nr || m->ncols != nc || m->rowptr[0] != 0 || m->nnz > nnz)
      __builtin_trap();
    for (int32_t i = 0; i < nr; i++) {
      if (m->rowptr[i + 1] < m->rowptr[i]) __builtin_trap();
      for (int64_t e = m->rowptr[i]; e < m->rowptr[i + 1]; e++) {
        if (m->colidx[e] < 0 || m->colidx[e] >= nc) __builtin_trap();
        if (e > m->rowptr[i] && m->colidx[e] <= m->colidx[e - 1]) __builtin_trap();
      }
    }
    /* every stored entry equals the sum of its triplets (finite sums only) */
    for (int64_t k = 0; k < nnz && k < 64; k++) {
      double s = 0;
      for (int64_t q = 0; q < nnz; q++)
        if (rows[q] == rows[k] && cols[q] == cols[k]) s += vals[q];
      float got;
      if (ci_csr_get(m, rows[k], cols[k], &got) != CI_OK) __builtin_trap();
      if (isfinite(s) && fabs((double)got - (double)(float)s) > 1e-3 * (1 + fabs(s)))
        __builtin_trap();
    }
    ci_csr *t = NULL, *tt = NULL;
    if (ci_csr_transpose(m, &t) == CI_OK) {
      if (ci_csr_transpose(t, &tt) == CI_OK) {
        if (tt->nnz != m->nnz) __builtin_trap();
        for (int64_t e = 0; e < m->nnz; e++)
          if (tt->colidx[e] != m->colidx[e]) __builtin_trap();
        ci_csr_release(tt);
      }
      ci_csr_release(t);
    }
    if ((int64_t)nr * nc <= 4096) {
      ci_tensor *d = NULL;
      if (ci_csr_to_dense(m, &d) == CI_OK) ci_tensor_release(d);
    }
    ci_csr_release(m);
  } else if (ci_last_error()[0] == '\0') {
    __builtin_trap();
  }
  free(rows); free(cols); free(vals);
  return 0;
}
