/* csr.c: CSR sparse matrices: construction from COO triplets and from dense
 * tensors, reference counting, transpose (cached), element access, dense
 * conversion, row/column scaling. The product kernel is in csr_spmm.c. */
#include "csr_internal.h"

#include <stddef.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

/* ci_csr_fields (what LuaJIT reads) must mirror struct ci_csr. */
#define CI_CSR_SAME(f)                                                         \
  _Static_assert(offsetof(ci_csr_fields, f) == offsetof(struct ci_csr, f),     \
                 "ci_csr_fields." #f " differs from struct ci_csr")
CI_CSR_SAME(nrows);
CI_CSR_SAME(ncols);
CI_CSR_SAME(nnz);
CI_CSR_SAME(rowptr);
CI_CSR_SAME(colidx);
CI_CSR_SAME(vals);
CI_CSR_SAME(refcount);
CI_CSR_SAME(flags);
CI_CSR_SAME(tcache);
CI_CSR_SAME(bcache);
_Static_assert(sizeof(ci_csr_fields) == sizeof(struct ci_csr),
               "ci_csr_fields differs from struct ci_csr");

/* ---------- allocation and reference counting ---------- */

int ci_csr_alloc(int32_t nrows, int32_t ncols, int64_t nnz, ci_csr **out,
                 const char *where) {
  *out = NULL;
  if (nrows < 0 || ncols < 0)
    return ci_set_error(CI_EINVAL, "%s: size %d x %d is negative", where, (int)nrows,
                        (int)ncols);
  if (nnz < 0) return ci_set_error(CI_EINVAL, "%s: nnz = %lld is negative", where,
                                   (long long)nnz);
  size_t rp_bytes, ci_bytes, v_bytes;
  if (ci_mul_size((size_t)nrows + 1, sizeof(int64_t), &rp_bytes) ||
      (uint64_t)nnz > SIZE_MAX / 8 || ci_mul_size((size_t)nnz, sizeof(int32_t), &ci_bytes) ||
      ci_mul_size((size_t)nnz, sizeof(float), &v_bytes))
    return ci_set_error(CI_ENOMEM, "%s: %lld nonzeros overflow the address space", where,
                        (long long)nnz);
  ci_csr *m = calloc(1, sizeof *m);
  if (!m) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  int ok1, ok2, ok3;
  m->rowptr = ci_alloc_aligned(rp_bytes, &ok1);
  m->colidx = ci_alloc_aligned(ci_bytes, &ok2);
  m->vals = ci_alloc_aligned(v_bytes, &ok3);
  if (!ok1 || !ok2 || !ok3) {
    ci_free_aligned(m->rowptr); ci_free_aligned(m->colidx); ci_free_aligned(m->vals);
    free(m);
    return ci_set_error(CI_ENOMEM, "%s: out of memory for %lld nonzeros", where,
                        (long long)nnz);
  }
  m->nrows = nrows;
  m->ncols = ncols;
  m->nnz = nnz;
  m->refcount = 1;
  m->rowptr[0] = 0;
  *out = m;
  return CI_OK;
}

void ci_csr_retain(ci_csr *m) {
  if (m) m->refcount++;
}

void ci_csr_release(ci_csr *m) {
  if (!m || --m->refcount > 0) return;
  ci_csr_release(m->tcache);
  ci_csr_free_blocks(m);
  ci_free_aligned(m->rowptr);
  ci_free_aligned(m->colidx);
  ci_free_aligned(m->vals);
  free(m);
}

/* ---------- construction from COO ---------- */

/* Stable sort of n (column, value) pairs by column: insertion-sorted runs of 16,
 * then bottom-up merges through the scratch arrays. */
static void sort_pairs(int32_t *c, double *v, int64_t n, int32_t *sc, double *sv) {
  const int64_t RUN = 16;
  for (int64_t s = 0; s < n; s += RUN) {
    int64_t e = s + RUN < n ? s + RUN : n;
    for (int64_t i = s + 1; i < e; i++) {
      int32_t kc = c[i];
      double kv = v[i];
      int64_t j = i;
      while (j > s && c[j - 1] > kc) { c[j] = c[j - 1]; v[j] = v[j - 1]; j--; }
      c[j] = kc; v[j] = kv;
    }
  }
  int32_t *ac = c, *bc = sc;
  double *av = v, *bv = sv;
  for (int64_t w = RUN; w < n; w *= 2) {
    for (int64_t lo = 0; lo < n; lo += 2 * w) {
      int64_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
      int64_t i = lo, j = mid, o = lo;
      while (i < mid && j < hi) {
        if (ac[j] < ac[i]) { bc[o] = ac[j]; bv[o++] = av[j++]; }
        else { bc[o] = ac[i]; bv[o++] = av[i++]; }
      }
      while (i < mid) { bc[o] = ac[i]; bv[o++] = av[i++]; }
      while (j < hi) { bc[o] = ac[j]; bv[o++] = av[j++]; }
    }
    int32_t *tc = ac; ac = bc; bc = tc;
    double *tv = av; av = bv; bv = tv;
  }
  if (ac != c) {
    memcpy(c, ac, (size_t)n * sizeof *c);
    memcpy(v, av, (size_t)n * sizeof *v);
  }
}

typedef struct {
  const void *rows, *cols, *vals;
  int wide;  /* 1: int64 indices and double values */
} coo_src;

static inline int64_t coo_idx(const void *a, int wide, int64_t k) {
  return wide ? ((const int64_t *)a)[k] : ((const int32_t *)a)[k];
}
static inline double coo_val(const void *a, int wide, int64_t k) {
  return wide ? ((const double *)a)[k] : ((const float *)a)[k];
}

/* An entry whose row or column is out of range: the message. */
static int bad_index(const char *where, int64_t k, const char *what, int64_t v, int32_t size) {
  if (size == 0)
    return ci_set_error(CI_EINVAL, "%s: entry %lld has %s %lld, but the matrix has no %ss", where,
                        (long long)k, what, (long long)v, what);
  return ci_set_error(CI_EINVAL, "%s: entry %lld has %s %lld, out of range 0..%d", where,
                      (long long)k, what, (long long)v, (int)size - 1);
}

/* The arguments of from_coo and every entry's indices. */
static int check_coo(int32_t nrows, int32_t ncols, int64_t nnz, coo_src s, const char *where) {
  if (nrows < 0 || ncols < 0)
    return ci_set_error(CI_EINVAL, "%s: size %d x %d is negative", where, (int)nrows,
                        (int)ncols);
  if (nnz < 0)
    return ci_set_error(CI_EINVAL, "%s: nnz = %lld is negative", where, (long long)nnz);
  if (nnz > INT32_MAX) /* the network engine and cuSPARSE index entries with 32 bits */
    return ci_set_error(CI_ENOMEM, "%s: nnz = %lld connections exceeds the limit of 2147483647",
                        where, (long long)nnz);
  if (nnz > 0 && (!s.rows || !s.cols || !s.vals))
    return ci_set_error(CI_EINVAL, "%s: %s is NULL", where,
                        !s.rows ? "rows" : !s.cols ? "cols" : "vals");
  /* temporaries: 12 bytes per entry (column + double value) */
  size_t tmp_bytes;
  if ((uint64_t)nnz > SIZE_MAX / 16 || ci_mul_size((size_t)nnz, 12, &tmp_bytes))
    return ci_set_error(CI_ENOMEM, "%s: nnz = %lld overflows the address space", where,
                        (long long)nnz);
  for (int64_t k = 0; k < nnz; k++) {
    int64_t r = coo_idx(s.rows, s.wide, k), c = coo_idx(s.cols, s.wide, k);
    if (r < 0 || r >= nrows) return bad_index(where, k, "row", r, nrows);
    if (c < 0 || c >= ncols) return bad_index(where, k, "column", c, ncols);
  }
  return CI_OK;
}

/* The entries grouped by row: row i's are col/val[start[i] .. start[i] + len[i]). */
typedef struct row_groups {
  int32_t nrows;
  int64_t nnz;
  int nt;          /* threads for the per-row passes */
  int64_t *start;  /* nrows + 1 */
  int64_t *len;    /* nrows: entries per row (after merge_rows: distinct columns) */
  int32_t *col;    /* nnz */
  double *val;     /* nnz */
} row_groups;

static void row_groups_free(row_groups *g) {
  ci_free_aligned(g->start); ci_free_aligned(g->len);
  ci_free_aligned(g->col); ci_free_aligned(g->val);
}

/* Groups the entries by row with a counting sort (stable: input order kept
 * within a row). */
static int group_by_row(row_groups *g, int32_t nrows, int64_t nnz, coo_src s, const char *where) {
  memset(g, 0, sizeof *g);
  g->nrows = nrows;
  g->nnz = nnz;
  g->nt = 1;
#ifdef _OPENMP
  if (nnz >= 100000) g->nt = omp_get_max_threads();
#endif
  int ok1, ok2, ok3, ok4;
  g->start = ci_alloc_aligned(((size_t)nrows + 1) * sizeof(int64_t), &ok1);
  g->len = ci_alloc_aligned(((size_t)nrows + 1) * sizeof(int64_t), &ok2);
  g->col = ci_alloc_aligned((size_t)nnz * sizeof(int32_t), &ok3);
  g->val = ci_alloc_aligned((size_t)nnz * sizeof(double), &ok4);
  if (!ok1 || !ok2 || !ok3 || !ok4)
    return ci_set_error(CI_ENOMEM, "%s: out of memory for %lld entries", where, (long long)nnz);
  int64_t *start = g->start, *fill = g->len;
  memset(start, 0, ((size_t)nrows + 1) * sizeof(int64_t));
  for (int64_t k = 0; k < nnz; k++) start[coo_idx(s.rows, s.wide, k) + 1]++;
  for (int32_t i = 0; i < nrows; i++) start[i + 1] += start[i];
  memcpy(fill, start, (size_t)nrows * sizeof(int64_t));
  for (int64_t k = 0; k < nnz; k++) {
    int64_t p = fill[coo_idx(s.rows, s.wide, k)]++;
    g->col[p] = (int32_t)coo_idx(s.cols, s.wide, k);
    g->val[p] = coo_val(s.vals, s.wide, k);
  }
  for (int32_t i = 0; i < nrows; i++) g->len[i] = start[i + 1] - start[i];
  return CI_OK;
}

/* Sorts each row by column (stable) and sums the duplicates in place; len[i]
 * becomes the number of distinct columns. */
static int merge_rows(row_groups *g, const char *where) {
  int64_t maxlen = 0;
  for (int32_t i = 0; i < g->nrows; i++)
    if (g->len[i] > maxlen) maxlen = g->len[i];
  int32_t *sc = NULL;
  double *sv = NULL;
  if (maxlen > 16) { /* merge-sort scratch, one slice per thread */
    int ok1, ok2;
    size_t n_scr = (size_t)maxlen * (size_t)g->nt;
    sc = ci_alloc_aligned(n_scr * sizeof(int32_t), &ok1);
    sv = ci_alloc_aligned(n_scr * sizeof(double), &ok2);
    if (!ok1 || !ok2) {
      ci_free_aligned(sc); ci_free_aligned(sv);
      return ci_set_error(CI_ENOMEM, "%s: out of memory for %lld entries", where,
                          (long long)g->nnz);
    }
  }
  int32_t *tc = g->col;
  double *tv = g->val;
#pragma omp parallel for schedule(dynamic, 256) num_threads(g->nt)
  for (int32_t i = 0; i < g->nrows; i++) {
    int t = 0;
#ifdef _OPENMP
    t = omp_get_thread_num();
#endif
    const int64_t a = g->start[i], n = g->len[i];
    int sorted = 1;
    for (int64_t k = 1; k < n; k++)
      if (tc[a + k] < tc[a + k - 1]) { sorted = 0; break; }
    if (!sorted)
      sort_pairs(tc + a, tv + a, n, sc ? sc + (size_t)t * maxlen : NULL,
                 sv ? sv + (size_t)t * maxlen : NULL);
    int64_t w = 0;
    for (int64_t k = 0; k < n; k++) {
      if (w > 0 && tc[a + w - 1] == tc[a + k]) tv[a + w - 1] += tv[a + k];
      else { tc[a + w] = tc[a + k]; tv[a + w] = tv[a + k]; w++; }
    }
    g->len[i] = w;
  }
  ci_free_aligned(sc); ci_free_aligned(sv);
  return CI_OK;
}

/* The CSR matrix of the merged rows (values rounded to float once, after the sums). */
static int rows_to_csr(const row_groups *g, int32_t ncols, ci_csr **out, const char *where) {
  int64_t total = 0;
  for (int32_t i = 0; i < g->nrows; i++) total += g->len[i];
  ci_csr *m = NULL;
  int rc = ci_csr_alloc(g->nrows, ncols, total, &m, where);
  if (rc) return rc;
  for (int32_t i = 0; i < g->nrows; i++) m->rowptr[i + 1] = m->rowptr[i] + g->len[i];
#pragma omp parallel for schedule(dynamic, 256) num_threads(g->nt)
  for (int32_t i = 0; i < g->nrows; i++) {
    const int64_t a = g->start[i], o = m->rowptr[i], n = g->len[i];
    for (int64_t k = 0; k < n; k++) {
      m->colidx[o + k] = g->col[a + k];
      m->vals[o + k] = (float)g->val[a + k];
    }
  }
  *out = m;
  return CI_OK;
}

static int from_coo(int32_t nrows, int32_t ncols, int64_t nnz, coo_src s, ci_csr **out,
                    const char *where) {
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  int rc = check_coo(nrows, ncols, nnz, s, where);
  if (rc) return rc;
  row_groups g;
  rc = group_by_row(&g, nrows, nnz, s, where);
  if (!rc) rc = merge_rows(&g, where);
  if (!rc) rc = rows_to_csr(&g, ncols, out, where);
  row_groups_free(&g);
  return rc;
}

int ci_csr_from_coo(int32_t nrows, int32_t ncols, int64_t nnz, const int32_t *rows,
                    const int32_t *cols, const float *vals, ci_csr **out) {
  coo_src s = {rows, cols, vals, 0};
  return from_coo(nrows, ncols, nnz, s, out, "ci_csr_from_coo");
}

int ci_csr_from_coo64(int32_t nrows, int32_t ncols, int64_t nnz, const int64_t *rows,
                      const int64_t *cols, const double *vals, ci_csr **out) {
  coo_src s = {rows, cols, vals, 1};
  return from_coo(nrows, ncols, nnz, s, out, "ci_csr_from_coo64");
}

/* ---------- transpose ---------- */

/* Where each part's entries of each column go: cnt[p * (nc + 1) + j] holds
 * the count of column j in part p's rows and becomes its first position in
 * the transpose (parts in order within a column, so rows stay sorted). */
static void column_starts(ci_csr *t, int64_t *cnt, int np) {
  const int32_t nc = t->nrows;
  int64_t pos = 0;
  for (int32_t j = 0; j < nc; j++) {
    t->rowptr[j] = pos;
    for (int q = 0; q < np; q++) {
      const int64_t c = cnt[(size_t)q * (nc + 1) + j];
      cnt[(size_t)q * (nc + 1) + j] = pos;
      pos += c;
    }
  }
  t->rowptr[nc] = pos;
}

/* One thread's part of the transpose (called inside the parallel region):
 * count its rows' columns, wait for the column starts, scatter its entries. */
static void transpose_part(const ci_csr *m, ci_csr *t, int64_t *cnt) {
  int p = 0, np = 1;
#ifdef _OPENMP
  p = omp_get_thread_num();
  np = omp_get_num_threads();
#endif
  const int32_t r0 = ci_csr_split_rows(m, p, np, 1), r1 = ci_csr_split_rows(m, p + 1, np, 1);
  int64_t *my = cnt + (size_t)p * ((size_t)m->ncols + 1);
  for (int64_t k = m->rowptr[r0]; k < m->rowptr[r1]; k++) my[m->colidx[k]]++;
#pragma omp barrier
#pragma omp single
  column_starts(t, cnt, np);
  for (int32_t i = r0; i < r1; i++)
    for (int64_t k = m->rowptr[i]; k < m->rowptr[i + 1]; k++) {
      const int64_t o = my[m->colidx[k]]++;
      t->colidx[o] = i;
      t->vals[o] = m->vals[k];
    }
}

static int transpose(const ci_csr *m, ci_csr **out, const char *where) {
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  if (!m) return ci_set_error(CI_EINVAL, "%s: matrix is NULL", where);
  ci_csr *t = NULL;
  int rc = ci_csr_alloc(m->ncols, m->nrows, m->nnz, &t, where);
  if (rc) return rc;
  int nt = 1;
#ifdef _OPENMP
  nt = omp_get_max_threads();
  if (nt > 16) nt = 16;
  if (m->nnz < 200000) nt = 1;
#endif
  size_t cnt_n;
  int ok = 1;
  int64_t *cnt = NULL;
  if (ci_mul_size((size_t)nt, (size_t)m->ncols + 1, &cnt_n) == 0)
    cnt = ci_alloc_aligned(cnt_n * sizeof(int64_t), &ok);
  else ok = 0;
  if (!ok) {
    ci_csr_release(t);
    return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  }
  if (cnt_n) memset(cnt, 0, cnt_n * sizeof(int64_t));
#pragma omp parallel num_threads(nt)
  transpose_part(m, t, cnt);
  ci_free_aligned(cnt);
  *out = t;
  return CI_OK;
}

int ci_csr_transpose(const ci_csr *m, ci_csr **out) {
  return transpose(m, out, "ci_csr_transpose");
}

int ci_csr_transposed(ci_csr *m, ci_csr **out) {
  if (!out) return ci_set_error(CI_EINVAL, "ci_csr_transposed: out is NULL");
  *out = NULL;
  if (!m) return ci_set_error(CI_EINVAL, "ci_csr_transposed: matrix is NULL");
  int rc = CI_OK;
#pragma omp critical /* unnamed: a named one would be an exported symbol */
  {
    if (!m->tcache) rc = transpose(m, &m->tcache, "ci_csr_transposed");
    if (rc == CI_OK) {
      ci_csr_retain(m->tcache);
      *out = m->tcache;
    }
  }
  return rc;
}

/* ---------- access and conversion ---------- */

int ci_csr_get(const ci_csr *m, int32_t i, int32_t j, float *out) {
  if (!m || !out) return ci_set_error(CI_EINVAL, "ci_csr_get: %s is NULL", m ? "out" : "matrix");
  if (i < 0 || i >= m->nrows)
    return ci_set_error(CI_EINVAL, "ci_csr_get: row %d is out of range 0..%d", (int)i,
                        (int)m->nrows - 1);
  if (j < 0 || j >= m->ncols)
    return ci_set_error(CI_EINVAL, "ci_csr_get: column %d is out of range 0..%d", (int)j,
                        (int)m->ncols - 1);
  int64_t lo = m->rowptr[i], hi = m->rowptr[i + 1];
  while (lo < hi) {
    int64_t mid = lo + (hi - lo) / 2;
    if (m->colidx[mid] < j) lo = mid + 1;
    else hi = mid;
  }
  *out = (lo < m->rowptr[i + 1] && m->colidx[lo] == j) ? m->vals[lo] : 0.0f;
  return CI_OK;
}

int ci_csr_to_dense(const ci_csr *m, ci_tensor **out) {
  if (!out) return ci_set_error(CI_EINVAL, "ci_csr_to_dense: out is NULL");
  *out = NULL;
  if (!m) return ci_set_error(CI_EINVAL, "ci_csr_to_dense: matrix is NULL");
  int64_t shape[2] = {m->nrows, m->ncols};
  ci_tensor *t = NULL;
  int rc = ci_tensor_new(2, shape, &t);
  if (rc) return rc;
  for (int32_t i = 0; i < m->nrows && t->nel > 0; i++) { /* no rows to fill when 0 columns */
    float *row = t->data + (size_t)i * (size_t)m->ncols;
    for (int64_t k = m->rowptr[i]; k < m->rowptr[i + 1]; k++) row[m->colidx[k]] = m->vals[k];
  }
  *out = t;
  return CI_OK;
}

int ci_csr_from_dense(const ci_tensor *t, ci_csr **out) {
  const char *where = "ci_csr_from_dense";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  if (!t) return ci_set_error(CI_EINVAL, "%s: tensor is NULL", where);
  if (t->on_device) return ci_set_error(CI_EINVAL, "%s: tensor is on the GPU", where);
  if (t->ndim != 1 && t->ndim != 2)
    return ci_set_error(CI_EINVAL, "%s: tensor has %d dimensions, expected 1 or 2", where,
                        (int)t->ndim);
  int64_t nr = t->ndim == 2 ? t->shape[0] : 1, nc = t->ndim == 2 ? t->shape[1] : t->shape[0];
  if (nr > INT32_MAX || nc > INT32_MAX)
    return ci_set_error(CI_EINVAL, "%s: shape %lld x %lld exceeds the 32-bit index range",
                        where, (long long)nr, (long long)nc);
  int64_t nnz = 0;
  for (int64_t k = 0; k < t->nel; k++) nnz += t->data[k] != 0.0f;
  ci_csr *m = NULL;
  int rc = ci_csr_alloc((int32_t)nr, (int32_t)nc, nnz, &m, where);
  if (rc) return rc;
  int64_t o = 0;
  for (int64_t i = 0; i < nr; i++) {
    const float *row = t->data + i * nc;
    for (int64_t j = 0; j < nc; j++)
      if (row[j] != 0.0f) { m->colidx[o] = (int32_t)j; m->vals[o++] = row[j]; }
    m->rowptr[i + 1] = o;
  }
  *out = m;
  return CI_OK;
}

/* ---------- scaling ---------- */

static int copy_structure(const ci_csr *m, ci_csr **out, const char *where) {
  int rc = ci_csr_alloc(m->nrows, m->ncols, m->nnz, out, where);
  if (rc) return rc;
  memcpy((*out)->rowptr, m->rowptr, ((size_t)m->nrows + 1) * sizeof(int64_t));
  if (m->nnz) memcpy((*out)->colidx, m->colidx, (size_t)m->nnz * sizeof(int32_t));
  return CI_OK;
}

int ci_csr_scale_rows(const ci_csr *m, const float *s, ci_csr **out) {
  const char *where = "ci_csr_scale_rows";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  if (!m || (!s && m->nrows > 0))
    return ci_set_error(CI_EINVAL, "%s: %s is NULL", where, m ? "s" : "matrix");
  ci_csr *r = NULL;
  int rc = copy_structure(m, &r, where);
  if (rc) return rc;
#pragma omp parallel for schedule(static) if (m->nnz > 200000)
  for (int32_t i = 0; i < m->nrows; i++)
    for (int64_t k = m->rowptr[i]; k < m->rowptr[i + 1]; k++) r->vals[k] = m->vals[k] * s[i];
  *out = r;
  return CI_OK;
}

int ci_csr_scale_cols(const ci_csr *m, const float *s, ci_csr **out) {
  const char *where = "ci_csr_scale_cols";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  if (!m || (!s && m->ncols > 0))
    return ci_set_error(CI_EINVAL, "%s: %s is NULL", where, m ? "s" : "matrix");
  ci_csr *r = NULL;
  int rc = copy_structure(m, &r, where);
  if (rc) return rc;
#pragma omp parallel for schedule(static) if (m->nnz > 200000)
  for (int64_t k = 0; k < m->nnz; k++) r->vals[k] = m->vals[k] * s[m->colidx[k]];
  *out = r;
  return CI_OK;
}
