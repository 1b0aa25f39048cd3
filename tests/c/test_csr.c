/* test_csr.c: CSR matrices in C: construction from COO (duplicates, order,
 * bad input), transpose, get, dense conversion, scaling, the spmm kernel
 * against a naive dense product for many batch widths, thread-count
 * determinism, and the tape node of ci_sparse_mm. Exits non-zero on failure. */
#include "check.h"
#include "cinterp.h"
#include "internal.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Random COO with power-law row degrees, some empty rows, unsorted columns and
 * duplicates. Arrays are malloc'd; *nnz_out gets the count. */
static void random_coo(int32_t nr, int32_t nc, double mean_deg, int32_t **rows,
                       int32_t **cols, float **vals, int64_t *nnz_out) {
  int64_t cap = (int64_t)(mean_deg * nr * 3) + 16, n = 0;
  *rows = malloc(cap * sizeof(int32_t));
  *cols = malloc(cap * sizeof(int32_t));
  *vals = malloc(cap * sizeof(float));
  for (int32_t i = 0; i < nr; i++) {
    if (runif() < 0.1) continue; /* empty row */
    /* Pareto(alpha = 1.5) degree with the requested mean, capped */
    double d = mean_deg / 3.0 * pow(1.0 - runif(), -1.0 / 1.5);
    int64_t deg = (int64_t)d;
    if (deg > nc) deg = nc;
    for (int64_t k = 0; k < deg && n < cap; k++) {
      (*rows)[n] = i;
      (*cols)[n] = (int32_t)(rnext() % (uint64_t)nc);
      (*vals)[n] = (float)(runif() * 2.0 - 1.0);
      n++;
    }
  }
  /* shuffle so rows are not in order either */
  for (int64_t k = n - 1; k > 0; k--) {
    int64_t j = (int64_t)(rnext() % (uint64_t)(k + 1));
    int32_t t = (*rows)[k]; (*rows)[k] = (*rows)[j]; (*rows)[j] = t;
    t = (*cols)[k]; (*cols)[k] = (*cols)[j]; (*cols)[j] = t;
    float f = (*vals)[k]; (*vals)[k] = (*vals)[j]; (*vals)[j] = f;
  }
  *nnz_out = n;
}

static int structure_ok(const ci_csr *m) {
  if (m->rowptr[0] != 0 || m->rowptr[m->nrows] != m->nnz) return 0;
  for (int32_t i = 0; i < m->nrows; i++) {
    if (m->rowptr[i + 1] < m->rowptr[i]) return 0;
    for (int64_t k = m->rowptr[i]; k < m->rowptr[i + 1]; k++) {
      if (m->colidx[k] < 0 || m->colidx[k] >= m->ncols) return 0;
      if (k > m->rowptr[i] && m->colidx[k] <= m->colidx[k - 1]) return 0;
    }
  }
  return 1;
}

static void test_small(void) {
  /* 3 x 4:  [ 0 2 0 1.5 ; 0 0 0 0 ; 7 0 -1 0 ] with (0,1) given as 1.5 + 0.5 */
  int32_t r[] = {2, 0, 0, 2, 0, 0};
  int32_t c[] = {2, 3, 1, 0, 1, 3};
  float v[] = {-1, 1, 1.5f, 7, 0.5f, 0.5f};
  ci_csr *m = NULL;
  CHECK(ci_csr_from_coo(3, 4, 6, r, c, v, &m) == CI_OK, "%s", ci_last_error());
  if (!m) return;
  CHECK(m->nrows == 3 && m->ncols == 4 && m->nnz == 4, "nnz = %lld", (long long)m->nnz);
  int64_t erp[] = {0, 2, 2, 4};
  int32_t eci[] = {1, 3, 0, 2};
  float ev[] = {2, 1.5f, 7, -1};
  for (int i = 0; i < 4; i++) CHECK(m->rowptr[i] == erp[i], "rowptr[%d]", i);
  for (int k = 0; k < 4; k++)
    CHECK(m->colidx[k] == eci[k] && m->vals[k] == ev[k], "entry %d: %d %g", k, m->colidx[k],
          m->vals[k]);
  float g = -5;
  CHECK(ci_csr_get(m, 0, 1, &g) == CI_OK && g == 2.0f, "get(0,1) = %g", g);
  CHECK(ci_csr_get(m, 1, 2, &g) == CI_OK && g == 0.0f, "get(1,2) = %g", g);
  CHECK(ci_csr_get(m, 2, 0, &g) == CI_OK && g == 7.0f, "get(2,0) = %g", g);
  CHECK(ci_csr_get(m, 3, 0, &g) == CI_EINVAL, "row 3 accepted");
  CHECK(strstr(ci_last_error(), "row 3") != NULL, "%s", ci_last_error());
  CHECK(ci_csr_get(m, 0, -1, &g) == CI_EINVAL, "column -1 accepted");

  /* transpose by hand: 4 x 3 */
  ci_csr *t = NULL;
  CHECK(ci_csr_transpose(m, &t) == CI_OK, "%s", ci_last_error());
  if (t) {
    CHECK(t->nrows == 4 && t->ncols == 3 && t->nnz == 4 && structure_ok(t), "shape");
    int64_t trp[] = {0, 1, 2, 3, 4};
    int32_t tci[] = {2, 0, 2, 0};
    float tv[] = {7, 2, -1, 1.5f};
    for (int i = 0; i < 5; i++) CHECK(t->rowptr[i] == trp[i], "t rowptr[%d]", i);
    for (int k = 0; k < 4; k++) CHECK(t->colidx[k] == tci[k] && t->vals[k] == tv[k], "t %d", k);
    ci_csr_release(t);
  }

  /* dense round trip */
  ci_tensor *d = NULL;
  CHECK(ci_csr_to_dense(m, &d) == CI_OK, "%s", ci_last_error());
  if (d) {
    float ed[12] = {0, 2, 0, 1.5f, 0, 0, 0, 0, 7, 0, -1, 0};
    CHECK(d->ndim == 2 && d->shape[0] == 3 && d->shape[1] == 4, "dense shape");
    CHECK(memcmp(d->data, ed, sizeof ed) == 0, "dense values");
    ci_csr *m2 = NULL;
    CHECK(ci_csr_from_dense(d, &m2) == CI_OK, "%s", ci_last_error());
    if (m2) {
      CHECK(m2->nnz == 4 && memcmp(m2->rowptr, erp, sizeof erp) == 0 &&
                memcmp(m2->colidx, eci, sizeof eci) == 0 && memcmp(m2->vals, ev, sizeof ev) == 0,
            "from_dense");
      ci_csr_release(m2);
    }
    ci_tensor_release(d);
  }

  /* scaling */
  float sr[] = {2, 10, -1}, sc[] = {1, 3, 5, 0};
  ci_csr *a = NULL, *b = NULL;
  CHECK(ci_csr_scale_rows(m, sr, &a) == CI_OK, "%s", ci_last_error());
  CHECK(ci_csr_scale_cols(m, sc, &b) == CI_OK, "%s", ci_last_error());
  if (a && b) {
    float ea[] = {4, 3, -7, 1}, eb[] = {6, 0, 7, -5};
    CHECK(memcmp(a->vals, ea, sizeof ea) == 0, "scale_rows %g %g %g %g", a->vals[0],
          a->vals[1], a->vals[2], a->vals[3]);
    CHECK(memcmp(b->vals, eb, sizeof eb) == 0, "scale_cols");
    CHECK(m->vals[0] == 2, "scaling modified the input");
  }
  ci_csr_release(a);
  ci_csr_release(b);

  /* cached transpose is built once */
  ci_csr *t1 = NULL, *t2 = NULL;
  CHECK(ci_csr_transposed(m, &t1) == CI_OK && ci_csr_transposed(m, &t2) == CI_OK, "cache");
  CHECK(t1 && t1 == t2 && t1 == m->tcache, "transpose not cached");
  ci_csr_release(t1);
  ci_csr_release(t2);
  ci_csr_release(m);
}

static void test_bad_input(void) {
  int32_t r[] = {0, 1, 120, 3};
  int32_t c[] = {0, 1, 2, 3};
  float v[] = {1, 2, 3, 4};
  ci_csr *m = (ci_csr *)0x1;
  CHECK(ci_csr_from_coo(100, 100, 4, r, c, v, &m) == CI_EINVAL, "row 120 accepted");
  CHECK(m == NULL, "out not cleared");
  CHECK(strstr(ci_last_error(), "entry 2 has row 120, out of range 0..99") != NULL, "msg: %s",
        ci_last_error());
  int32_t c2[] = {0, -4, 2, 3};
  int32_t r2[] = {0, 1, 2, 3};
  CHECK(ci_csr_from_coo(100, 50, 4, r2, c2, v, &m) == CI_EINVAL, "column -4 accepted");
  CHECK(strstr(ci_last_error(), "entry 1 has column -4, out of range 0..49") != NULL, "msg: %s",
        ci_last_error());
  CHECK(ci_csr_from_coo(100, 100, -1, r2, c, v, &m) == CI_EINVAL, "nnz -1");
  CHECK(ci_csr_from_coo(-3, 100, 0, r2, c, v, &m) == CI_EINVAL, "nrows -3");
  CHECK(ci_csr_from_coo(100, 100, 4, NULL, c, v, &m) == CI_EINVAL, "NULL rows");
  CHECK(ci_csr_from_coo(100, 100, 4, r2, c, v, NULL) == CI_EINVAL, "NULL out");
  CHECK(ci_csr_from_coo(100, 100, INT64_MAX / 2, r2, c, v, &m) == CI_ENOMEM,
        "huge nnz: %s", ci_last_error());
  int64_t r64[] = {0, 5000000000LL};
  int64_t c64[] = {0, 0};
  double v64[] = {1, 2};
  CHECK(ci_csr_from_coo64(10, 10, 2, r64, c64, v64, &m) == CI_EINVAL, "row 5e9 accepted");
  CHECK(strstr(ci_last_error(), "entry 1 has row 5000000000") != NULL, "msg: %s",
        ci_last_error());
  /* empty matrices are fine */
  CHECK(ci_csr_from_coo(0, 0, 0, NULL, NULL, NULL, &m) == CI_OK && m && m->nnz == 0, "0x0");
  ci_csr_release(m);
  m = NULL;
  CHECK(ci_csr_from_coo(5, 7, 0, NULL, NULL, NULL, &m) == CI_OK && m && m->rowptr[5] == 0,
        "5x7 empty");
  if (m) {
    float x[7 * 3], y[5 * 3];
    for (int i = 0; i < 21; i++) x[i] = 1;
    for (int i = 0; i < 15; i++) y[i] = 9;
    CHECK(ci_csr_spmm(m, x, 3, y, 0) == CI_OK, "spmm empty");
    int zero = 1;
    for (int i = 0; i < 15; i++) zero &= y[i] == 0;
    CHECK(zero, "empty product not zero");
    CHECK(ci_csr_spmm(m, x, -1, y, 0) == CI_EINVAL, "B = -1");
    ci_csr_release(m);
  }
}

/* naive dense reference of A (from the raw COO, in double) */
static double *dense_of_coo(int32_t nr, int32_t nc, int64_t n, const int32_t *r,
                            const int32_t *c, const float *v) {
  double *d = calloc((size_t)nr * nc, sizeof(double));
  for (int64_t k = 0; k < n; k++) d[(size_t)r[k] * nc + c[k]] += v[k];
  return d;
}

static void test_random(void) {
  int32_t nr = 700, nc = 550;
  int32_t *r, *c;
  float *v;
  int64_t n;
  random_coo(nr, nc, 20, &r, &c, &v, &n);
  /* force some duplicates */
  for (int64_t k = 0; k + 1 < n; k += 7) { r[k + 1] = r[k]; c[k + 1] = c[k]; }
  double *D = dense_of_coo(nr, nc, n, r, c, v);
  ci_csr *m = NULL;
  CHECK(ci_csr_from_coo(nr, nc, n, r, c, v, &m) == CI_OK, "%s", ci_last_error());
  if (!m) return;
  CHECK(structure_ok(m), "structure");
  int64_t distinct = 0;
  int64_t *seen = calloc((size_t)nr * nc, sizeof(int64_t));
  for (int64_t k = 0; k < n; k++)
    if (!seen[(size_t)r[k] * nc + c[k]]++) distinct++;
  CHECK(m->nnz == distinct, "nnz %lld, distinct %lld", (long long)m->nnz, (long long)distinct);
  int bad = 0;
  for (int32_t i = 0; i < nr; i++)
    for (int32_t j = 0; j < nc; j++) {
      float g;
      ci_csr_get(m, i, j, &g);
      if (fabs(g - D[(size_t)i * nc + j]) > 1e-5) bad++;
    }
  CHECK(bad == 0, "%d entries differ from the dense sum", bad);

  ci_csr *t = NULL, *tt = NULL;
  CHECK(ci_csr_transpose(m, &t) == CI_OK && ci_csr_transpose(t, &tt) == CI_OK, "transpose");
  if (t && tt) {
    CHECK(structure_ok(t) && t->nrows == nc && t->ncols == nr && t->nnz == m->nnz, "t shape");
    bad = 0;
    for (int32_t i = 0; i < nr; i++)
      for (int32_t j = 0; j < nc; j++) {
        float g;
        ci_csr_get(t, j, i, &g);
        if (fabs(g - D[(size_t)i * nc + j]) > 1e-5) bad++;
      }
    CHECK(bad == 0, "%d transposed entries wrong", bad);
    CHECK(memcmp(tt->rowptr, m->rowptr, (nr + 1) * sizeof(int64_t)) == 0 &&
              memcmp(tt->colidx, m->colidx, m->nnz * sizeof(int32_t)) == 0 &&
              memcmp(tt->vals, m->vals, m->nnz * sizeof(float)) == 0,
          "transpose twice differs");
  }
  ci_csr_release(t);
  ci_csr_release(tt);

  /* spmm vs naive for many batch widths, with and without accumulate */
  int64_t Bs[] = {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 23, 24, 31, 32, 33, 39, 40, 47, 64, 71};
  for (size_t bi = 0; bi < sizeof Bs / sizeof Bs[0]; bi++) {
    int64_t B = Bs[bi];
    float *X = malloc(sizeof(float) * nc * B), *Y = malloc(sizeof(float) * nr * B);
    double *E = calloc((size_t)nr * B, sizeof(double));
    for (int64_t k = 0; k < nc * B; k++) X[k] = (float)(runif() - 0.5);
    for (int64_t k = 0; k < nr * B; k++) Y[k] = (float)k;
    for (int32_t i = 0; i < nr; i++)
      for (int32_t j = 0; j < nc; j++) {
        double a = D[(size_t)i * nc + j];
        if (a != 0)
          for (int64_t b = 0; b < B; b++) E[i * B + b] += a * X[j * B + b];
      }
    for (int acc = 0; acc <= 1; acc++) {
      CHECK(ci_csr_spmm(m, X, B, Y, acc) == CI_OK, "%s", ci_last_error());
      double maxerr = 0;
      for (int64_t k = 0; k < nr * B; k++) {
        double want = E[k] + (acc ? E[k] : 0); /* second call adds to the first result */
        double err = fabs(Y[k] - want);
        if (err > maxerr) maxerr = err;
      }
      CHECK(maxerr < 1e-4, "B = %lld accumulate = %d: max error %g", (long long)B, acc, maxerr);
    }
    free(X); free(Y); free(E);
  }
  free(seen);
  free(D);
  free(r); free(c); free(v);
  ci_csr_release(m);
}

static void test_big_determinism(void) {
  int32_t nr = 40000, nc = 30000;
  int32_t *r, *c;
  float *v;
  int64_t n;
  random_coo(nr, nc, 25, &r, &c, &v, &n);
  ci_csr *m1 = NULL, *m2 = NULL, *t1 = NULL, *t2 = NULL;
  omp_set_num_threads(1);
  CHECK(ci_csr_from_coo(nr, nc, n, r, c, v, &m1) == CI_OK, "%s", ci_last_error());
  CHECK(m1 && ci_csr_transpose(m1, &t1) == CI_OK, "t1");
  omp_set_num_threads(2);
  CHECK(ci_csr_from_coo(nr, nc, n, r, c, v, &m2) == CI_OK, "%s", ci_last_error());
  CHECK(m2 && ci_csr_transpose(m2, &t2) == CI_OK, "t2");
  if (!m1 || !m2 || !t1 || !t2) return;
  CHECK(structure_ok(m1) && structure_ok(t1), "big structure");
  CHECK(m1->nnz == m2->nnz && memcmp(m1->colidx, m2->colidx, m1->nnz * 4) == 0 &&
            memcmp(m1->vals, m2->vals, m1->nnz * 4) == 0,
        "from_coo differs between 1 and 2 threads");
  CHECK(memcmp(t1->rowptr, t2->rowptr, (nc + 1) * 8) == 0 &&
            memcmp(t1->colidx, t2->colidx, t1->nnz * 4) == 0 &&
            memcmp(t1->vals, t2->vals, t1->nnz * 4) == 0,
        "transpose differs between 1 and 2 threads");
  int64_t Bs[] = {1, 8, 19, 32};
  for (int bi = 0; bi < 4; bi++) {
    int64_t B = Bs[bi];
    float *X = malloc(sizeof(float) * nc * B);
    float *Y1 = malloc(sizeof(float) * nr * B), *Y2 = malloc(sizeof(float) * nr * B);
    for (int64_t k = 0; k < nc * B; k++) X[k] = (float)(runif() - 0.5);
    omp_set_num_threads(1);
    ci_csr_spmm(m1, X, B, Y1, 0);
    omp_set_num_threads(2);
    ci_csr_spmm(m1, X, B, Y2, 0);
    CHECK(memcmp(Y1, Y2, sizeof(float) * nr * B) == 0, "spmm B = %lld differs by thread count",
          (long long)B);
    /* spot-check 200 rows against a naive double sum */
    double maxerr = 0;
    for (int s = 0; s < 200; s++) {
      int32_t i = (int32_t)(rnext() % (uint64_t)nr);
      for (int64_t b = 0; b < B; b++) {
        double want = 0;
        for (int64_t k = m1->rowptr[i]; k < m1->rowptr[i + 1]; k++)
          want += (double)m1->vals[k] * X[(int64_t)m1->colidx[k] * B + b];
        double e = fabs(want - Y2[i * B + b]);
        if (e > maxerr) maxerr = e;
      }
    }
    CHECK(maxerr < 1e-3, "big B = %lld: max error %g", (long long)B, maxerr);
    free(X); free(Y1); free(Y2);
  }
  free(r); free(c); free(v);
  ci_csr_release(m1); ci_csr_release(m2); ci_csr_release(t1); ci_csr_release(t2);
}

static void test_sparse_mm(void) {
  int32_t r[] = {0, 0, 1, 2, 2};
  int32_t c[] = {0, 3, 1, 0, 2};
  float v[] = {1, 2, 3, 4, 5};
  ci_csr *A = NULL;
  CHECK(ci_csr_from_coo(3, 4, 5, r, c, v, &A) == CI_OK, "%s", ci_last_error());
  if (!A) return;
  int64_t shp[2] = {4, 2};
  float xs[8] = {1, -1, 2, 0.5f, 3, 0, 4, 2};
  ci_tensor *X = NULL, *Y = NULL;
  ci_tensor_from_floats(2, shp, xs, &X);
  X->grad_on = 1;
  CHECK(ci_sparse_mm(A, X, &Y) == CI_OK, "%s", ci_last_error());
  if (!Y) return;
  /* by hand: row0 = x0 + 2 x3 ; row1 = 3 x1 ; row2 = 4 x0 + 5 x2 */
  float ey[6] = {9, 3, 6, 1.5f, 19, -4};
  CHECK(Y->ndim == 2 && Y->shape[0] == 3 && Y->shape[1] == 2, "Y shape");
  CHECK(memcmp(Y->data, ey, sizeof ey) == 0, "Y values %g %g %g %g %g %g", Y->data[0],
        Y->data[1], Y->data[2], Y->data[3], Y->data[4], Y->data[5]);
  CHECK(Y->grad_fn != NULL && Y->grad_on, "not recorded on the tape");
  CHECK(A->refcount == 2, "node does not hold A (refcount %d)", A->refcount);
  if (Y->grad_fn) {
    ci_node *node = Y->grad_fn;
    CHECK(node->n_inputs == 1 && node->inputs[0] == X, "node inputs");
    int64_t gs[2] = {3, 2};
    float gy[6] = {1, 0, 0, 1, 2, -1};
    ci_tensor *G = NULL, *gin[CI_NODE_MAX_INPUTS] = {0};
    ci_tensor_from_floats(2, gs, gy, &G);
    CHECK(node->backward(node, G, gin) == CI_OK, "%s", ci_last_error());
    /* dX = A^T dY: dx0 = gy0 + 4 gy2 ; dx1 = 3 gy1 ; dx2 = 5 gy2 ; dx3 = 2 gy0 */
    float ex[8] = {9, -4, 0, 3, 10, -5, 2, 0};
    CHECK(gin[0] && memcmp(gin[0]->data, ex, sizeof ex) == 0, "dX");
    CHECK(A->tcache != NULL, "transpose not cached by the backward");
    ci_csr *tc = A->tcache;
    ci_tensor_release(gin[0]);
    gin[0] = NULL;
    CHECK(node->backward(node, G, gin) == CI_OK && A->tcache == tc, "cache rebuilt");
    ci_tensor_release(gin[0]);
    ci_tensor_release(G);
  }
  ci_tensor_release(Y);
  CHECK(A->refcount == 1, "node did not release A (refcount %d)", A->refcount);
  /* no grad: nothing recorded */
  X->grad_on = 0;
  CHECK(ci_sparse_mm(A, X, &Y) == CI_OK && Y->grad_fn == NULL, "recorded without grad");
  ci_tensor_release(Y);
  /* 1-d input */
  int64_t s1[1] = {4};
  ci_tensor *x1 = NULL;
  ci_tensor_from_floats(1, s1, (float[]){1, 2, 3, 4}, &x1);
  CHECK(ci_sparse_mm(A, x1, &Y) == CI_OK && Y->ndim == 1 && Y->shape[0] == 3 &&
            Y->data[0] == 9 && Y->data[1] == 6 && Y->data[2] == 19,
        "1-d product");
  ci_tensor_release(Y);
  ci_tensor_release(x1);
  /* shape mismatch names both shapes */
  int64_t s3[2] = {3, 2};
  ci_tensor *x3 = NULL;
  ci_tensor_new(2, s3, &x3);
  Y = (ci_tensor *)0x1;
  CHECK(ci_sparse_mm(A, x3, &Y) == CI_EINVAL && Y == NULL, "bad shape accepted");
  CHECK(strstr(ci_last_error(), "3 x 4") && strstr(ci_last_error(), "(3, 2)"), "msg: %s",
        ci_last_error());
  ci_tensor_release(x3);
  ci_tensor_release(X);
  ci_csr_release(A);
}

int main(void) {
  test_small();
  test_bad_input();
  test_random();
  test_big_determinism();
  test_sparse_mm();
  return CHECK_SUMMARY();
}
