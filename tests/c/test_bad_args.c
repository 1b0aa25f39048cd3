/* test_bad_args.c: the engine's public C functions called with bad arguments
 * (NULL pointers, negative sizes, out-of-range indices, overflowing sizes,
 * more than 2^31 connections, wrong shapes, missing and malformed files) must
 * return a negative CI_E* code, set ci_last_error() to a message naming the
 * function and the argument, leave out-params NULL and their inputs unchanged,
 * and never abort. Exits non-zero on failure. */
#include "cinterp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int failures = 0, checks = 0;

/* rc must be the code `code` and the message must contain both substrings. */
static void expect_err(int rc, int code, const char *fn, const char *arg, const char *what,
                       int line) {
  checks++;
  const char *msg = ci_last_error();
  if (rc != code || !strstr(msg, fn) || (arg && !strstr(msg, arg))) {
    failures++;
    printf("FAIL line %d (%s): rc %d (want %d), message \"%s\" (want \"%s\" and \"%s\")\n",
           line, what, rc, code, msg, fn, arg ? arg : "");
  }
}
#define EXPECT(code, fn, arg, call)           \
  do {                                        \
    ci_clear_error();                         \
    int rc_ = (call);                         \
    expect_err(rc_, code, fn, arg, #call, __LINE__); \
  } while (0)
#define CHECK(cond)                                                   \
  do {                                                                \
    checks++;                                                         \
    if (!(cond)) { failures++; printf("FAIL line %d: %s\n", __LINE__, #cond); } \
  } while (0)

static const char *tmpfile_with(const char *name, const void *data, size_t len) {
  static char path[4][256];
  static int k = 0;
  char *p = path[k++ & 3];
  snprintf(p, 256, "/tmp/ci_bad_args_%d_%s", (int)getpid(), name);
  FILE *f = fopen(p, "wb");
  if (f) { fwrite(data, 1, len, f); fclose(f); }
  return p;
}

static ci_tensor *mk(int ndim, int64_t a, int64_t b, int64_t c) {
  int64_t sh[3] = {a, b, c};
  ci_tensor *t = NULL;
  if (ci_tensor_new(ndim, sh, &t) != CI_OK) { printf("setup failed: %s\n", ci_last_error()); exit(2); }
  for (int64_t k = 0; k < t->nel; k++) t->data[k] = (float)(k + 1) * 0.5f;
  return t;
}
/* 1 when t still holds (k + 1) / 2 in every element */
static int intact(const ci_tensor *t) {
  for (int64_t k = 0; k < t->nel; k++)
    if (t->data[k] != (float)(k + 1) * 0.5f) return 0;
  return 1;
}

static void tensors(void) {
  ci_tensor *out = (ci_tensor *)0x1;
  int64_t big[2] = {(int64_t)1 << 40, (int64_t)1 << 40};
  int64_t neg[2] = {3, -1};
  int64_t huge[4] = {INT64_MAX, 2, 1, 1};
  EXPECT(CI_ENOMEM, "ci_tensor_new", "overflow", ci_tensor_new(2, big, &out));
  CHECK(out == NULL);
  EXPECT(CI_ENOMEM, "ci_tensor_new", "overflow", ci_tensor_new(4, huge, &out));
  EXPECT(CI_EINVAL, "ci_tensor_new", "negative", ci_tensor_new(2, neg, &out));
  EXPECT(CI_EINVAL, "ci_tensor_new", "ndim", ci_tensor_new(5, big, &out));
  EXPECT(CI_EINVAL, "ci_tensor_new", "ndim", ci_tensor_new(-1, big, &out));
  EXPECT(CI_EINVAL, "ci_tensor_new", "shape", ci_tensor_new(2, NULL, &out));
  EXPECT(CI_EINVAL, "ci_tensor_new", "out", ci_tensor_new(2, neg, NULL));
  EXPECT(CI_EINVAL, "ci_tensor_from_floats", "src", ci_tensor_from_floats(1, neg, NULL, &out));
  EXPECT(CI_EINVAL, "ci_tensor_from_doubles", "src", ci_tensor_from_doubles(1, neg, NULL, &out));
  EXPECT(CI_ENOMEM, "ci_tensor_full", "overflow", ci_tensor_full(2, big, 1.0, &out));
  EXPECT(CI_ENOMEM, "ci_tensor_rand", "overflow", ci_tensor_rand(2, big, &out));
  EXPECT(CI_ENOMEM, "ci_tensor_randn", "overflow", ci_tensor_randn(2, big, &out));

  ci_tensor *a = mk(2, 2, 3, 0), *b = mk(2, 3, 2, 0), *v = mk(1, 4, 0, 0), *e = mk(1, 0, 0, 0);
  EXPECT(CI_EINVAL, "ci_tensor_binary", "NULL", ci_tensor_binary(CI_OP_ADD, NULL, a, &out));
  EXPECT(CI_EINVAL, "ci_tensor_binary", "NULL", ci_tensor_binary(CI_OP_ADD, a, NULL, &out));
  EXPECT(CI_EINVAL, "ci_tensor_binary", "out", ci_tensor_binary(CI_OP_ADD, a, b, NULL));
  EXPECT(CI_EINVAL, "ci_tensor_binary", "broadcast", ci_tensor_binary(CI_OP_ADD, a, b, &out));
  EXPECT(CI_EINVAL, "ci_tensor_binary", "op", ci_tensor_binary(99, a, a, &out));
  EXPECT(CI_EINVAL, "ci_tensor_binary", "op", ci_tensor_binary(-1, a, a, &out));
  EXPECT(CI_EINVAL, "ci_tensor_scalar_op", "op", ci_tensor_scalar_op(99, a, 1, &out));
  EXPECT(CI_EINVAL, "ci_tensor_scalar_op", "NULL", ci_tensor_scalar_op(CI_OP_ADD, NULL, 1, &out));
  EXPECT(CI_EINVAL, "ci_tensor_unary", "op", ci_tensor_unary(42, a, &out));
  EXPECT(CI_EINVAL, "ci_tensor_unary", "op", ci_tensor_unary(-3, a, &out));
  EXPECT(CI_EINVAL, "ci_tensor_unary", "NULL", ci_tensor_unary(CI_UN_EXP, NULL, &out));
  EXPECT(CI_EINVAL, "ci_tensor_clamp", "NULL", ci_tensor_clamp(NULL, 0, 1, &out));
  EXPECT(CI_EINVAL, "ci_tensor_where", "NULL", ci_tensor_where(NULL, a, a, &out));
  EXPECT(CI_EINVAL, "ci_tensor_where", "broadcast", ci_tensor_where(a, b, a, &out));
  EXPECT(CI_EINVAL, "ci_tensor_sum", "dim", ci_tensor_sum(a, 2, &out));
  EXPECT(CI_EINVAL, "ci_tensor_sum", "dim", ci_tensor_sum(a, -2, &out));
  EXPECT(CI_EINVAL, "ci_tensor_sum", "NULL", ci_tensor_sum(NULL, -1, &out));
  EXPECT(CI_EINVAL, "ci_tensor_mean", "dim", ci_tensor_mean(a, 7, &out));
  EXPECT(CI_EINVAL, "ci_tensor_max", "empty", ci_tensor_max(e, -1, &out, NULL));
  EXPECT(CI_EINVAL, "ci_tensor_min", "empty", ci_tensor_min(e, -1, &out, NULL));
  EXPECT(CI_EINVAL, "ci_tensor_max", "dim", ci_tensor_max(a, 5, &out, NULL));
  EXPECT(CI_EINVAL, "ci_tensor_max", "values", ci_tensor_max(a, -1, NULL, NULL));
  EXPECT(CI_EINVAL, "ci_tensor_norm", "p", ci_tensor_norm(a, 0, &out));
  EXPECT(CI_EINVAL, "ci_tensor_norm", "p", ci_tensor_norm(a, -2, &out));
  EXPECT(CI_EINVAL, "ci_tensor_norm", "p", ci_tensor_norm(a, NAN, &out));
  EXPECT(CI_EINVAL, "ci_tensor_select", "index", ci_tensor_select(a, 0, 2, &out));
  EXPECT(CI_EINVAL, "ci_tensor_select", "index", ci_tensor_select(a, 0, -1, &out));
  EXPECT(CI_EINVAL, "ci_tensor_select", "dim", ci_tensor_select(a, 3, 0, &out));
  EXPECT(CI_EINVAL, "ci_tensor_narrow", "start", ci_tensor_narrow(a, 1, 2, 2, &out));
  EXPECT(CI_EINVAL, "ci_tensor_narrow", "start", ci_tensor_narrow(a, 1, -1, 1, &out));
  EXPECT(CI_EINVAL, "ci_tensor_narrow", "length", ci_tensor_narrow(a, 1, 0, -1, &out));
  EXPECT(CI_EINVAL, "ci_tensor_narrow", "start", ci_tensor_narrow(a, 1, INT64_MAX, 2, &out));
  int64_t idx_bad[2] = {0, 3}, idx_neg[1] = {-1};
  EXPECT(CI_EINVAL, "ci_tensor_index_select", "idx[1]", ci_tensor_index_select(a, 1, idx_bad, 2, &out));
  EXPECT(CI_EINVAL, "ci_tensor_index_select", "idx[0]", ci_tensor_index_select(a, 1, idx_neg, 1, &out));
  EXPECT(CI_EINVAL, "ci_tensor_index_select", "index list", ci_tensor_index_select(a, 1, NULL, 2, &out));
  EXPECT(CI_EINVAL, "ci_tensor_index_select", "index list", ci_tensor_index_select(a, 1, idx_bad, -2, &out));
  int64_t rs_bad[2] = {4, 2}, rs_two[2] = {-1, -1}, rs_neg[2] = {-2, 3}, rs_big[2] = {INT64_MAX, 4};
  EXPECT(CI_EINVAL, "ci_tensor_reshape", "reshape", ci_tensor_reshape(a, 2, rs_bad, &out));
  EXPECT(CI_EINVAL, "ci_tensor_reshape", "-1", ci_tensor_reshape(a, 2, rs_two, &out));
  EXPECT(CI_EINVAL, "ci_tensor_reshape", "negative", ci_tensor_reshape(a, 2, rs_neg, &out));
  EXPECT(CI_ENOMEM, "ci_tensor_reshape", "overflow", ci_tensor_reshape(a, 2, rs_big, &out));
  EXPECT(CI_EINVAL, "ci_tensor_reshape", "ndim", ci_tensor_reshape(a, 9, rs_bad, &out));
  int32_t perm_dup[2] = {0, 0}, perm_oob[2] = {0, 2};
  EXPECT(CI_EINVAL, "ci_tensor_permute", "perm", ci_tensor_permute(a, perm_dup, &out));
  EXPECT(CI_EINVAL, "ci_tensor_permute", "perm", ci_tensor_permute(a, perm_oob, &out));
  EXPECT(CI_EINVAL, "ci_tensor_permute", "perm", ci_tensor_permute(a, NULL, &out));
  ci_tensor *pair[2] = {a, b}, *withnull[2] = {a, NULL};
  EXPECT(CI_EINVAL, "ci_tensor_cat", "list[1]", ci_tensor_cat(2, pair, 0, &out));
  EXPECT(CI_EINVAL, "ci_tensor_cat", "NULL", ci_tensor_cat(2, withnull, 0, &out));
  EXPECT(CI_EINVAL, "ci_tensor_cat", "at least one", ci_tensor_cat(0, pair, 0, &out));
  EXPECT(CI_EINVAL, "ci_tensor_cat", "dim", ci_tensor_cat(2, pair, 4, &out));
  EXPECT(CI_EINVAL, "ci_tensor_matmul", "shapes", ci_tensor_matmul(a, a, &out));
  EXPECT(CI_EINVAL, "ci_tensor_matmul", "NULL", ci_tensor_matmul(NULL, a, &out));
  ci_tensor *d3 = mk(3, 2, 2, 2);
  EXPECT(CI_EINVAL, "ci_tensor_matmul", "1-d or 2-d", ci_tensor_matmul(d3, a, &out));
  EXPECT(CI_EINVAL, "ci_tensor_clone", "NULL", ci_tensor_clone(NULL, &out));
  EXPECT(CI_EINVAL, "ci_tensor_detach", "NULL", ci_tensor_detach(NULL, &out));
  EXPECT(CI_EINVAL, "ci_tensor_fill_", "NULL", ci_tensor_fill_(NULL, 1));
  EXPECT(CI_EINVAL, "ci_tensor_copy_", "elements", ci_tensor_copy_(a, v));
  EXPECT(CI_EINVAL, "ci_tensor_copy_", "NULL", ci_tensor_copy_(a, NULL));
  EXPECT(CI_EINVAL, "ci_tensor_add_", "elements", ci_tensor_add_(v, a, 1));
  EXPECT(CI_EINVAL, "ci_tensor_add_", "NULL", ci_tensor_add_(NULL, a, 1));
  EXPECT(CI_EINVAL, "ci_tensor_requires_grad", "NULL", ci_tensor_requires_grad(NULL, 1));
  EXPECT(CI_EINVAL, "ci_tensor_backward", "NULL", ci_tensor_backward(NULL, NULL));
  EXPECT(CI_ESTATE, "ci_tensor_backward", NULL, ci_tensor_backward(a, NULL));
  CHECK(out == NULL);
  CHECK(intact(a) && intact(b) && intact(v) && intact(d3));
  /* NaN and inf propagate through ops without an error */
  ci_tensor *n = mk(1, 3, 0, 0), *r = NULL;
  n->data[0] = NAN; n->data[1] = INFINITY;
  CHECK(ci_tensor_sum(n, -1, &r) == CI_OK && isnan(r->data[0]));
  ci_tensor_release(r); r = NULL;
  CHECK(ci_tensor_scalar_op(CI_OP_MUL, n, 2, &r) == CI_OK && isnan(r->data[0]) &&
        isinf(r->data[1]) && r->data[2] == 3.0f);
  ci_tensor_release(r);
  ci_tensor_release(n);
  /* releasing NULL is a no-op */
  ci_tensor_release(NULL);
  ci_tensor_retain(NULL);
  ci_tensor_zero_grad(NULL);
  ci_tensor_release(a); ci_tensor_release(b); ci_tensor_release(v); ci_tensor_release(e);
  ci_tensor_release(d3);
}

static void sparse(void) {
  ci_csr *m = (ci_csr *)0x1;
  int32_t r[3] = {0, 1, 2}, c[3] = {0, 1, 5};
  float v[3] = {1, 2, 3};
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "column 5", ci_csr_from_coo(3, 3, 3, r, c, v, &m));
  CHECK(m == NULL);
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "row 2", ci_csr_from_coo(2, 6, 3, r, c, v, &m));
  int32_t rn[1] = {-1}, cn[1] = {-7};
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "row -1", ci_csr_from_coo(3, 3, 1, rn, c, v, &m));
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "column -7", ci_csr_from_coo(3, 3, 1, r, cn, v, &m));
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "negative", ci_csr_from_coo(-1, 3, 0, r, c, v, &m));
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "negative", ci_csr_from_coo(3, -3, 0, r, c, v, &m));
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "nnz", ci_csr_from_coo(3, 3, -1, r, c, v, &m));
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "rows is NULL", ci_csr_from_coo(3, 3, 1, NULL, c, v, &m));
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "cols is NULL", ci_csr_from_coo(3, 3, 1, r, NULL, v, &m));
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "vals is NULL", ci_csr_from_coo(3, 3, 1, r, c, NULL, &m));
  EXPECT(CI_EINVAL, "ci_csr_from_coo", "out", ci_csr_from_coo(3, 3, 1, r, c, v, NULL));
  /* more than 2^31 connections: refused before the (tiny) arrays are read */
  EXPECT(CI_ENOMEM, "ci_csr_from_coo", "2147483647", ci_csr_from_coo(3, 3, ((int64_t)1 << 31) + 1, r, c, v, &m));
  EXPECT(CI_ENOMEM, "ci_csr_from_coo", "2147483647", ci_csr_from_coo(3, 3, INT64_MAX, r, c, v, &m));
  int64_t r64[1] = {(int64_t)1 << 33}, c64[1] = {0};
  double v64[1] = {1};
  EXPECT(CI_EINVAL, "ci_csr_from_coo64", "row 8589934592", ci_csr_from_coo64(3, 3, 1, r64, c64, v64, &m));
  EXPECT(CI_ENOMEM, "ci_csr_from_coo64", "2147483647", ci_csr_from_coo64(3, 3, ((int64_t)1 << 32), r64, c64, v64, &m));
  CHECK(m == NULL);

  int32_t ok_c[3] = {0, 1, 2};
  CHECK(ci_csr_from_coo(3, 3, 3, r, ok_c, v, &m) == CI_OK);
  float g = -1;
  EXPECT(CI_EINVAL, "ci_csr_get", NULL, ci_csr_get(m, 3, 0, &g));
  EXPECT(CI_EINVAL, "ci_csr_get", NULL, ci_csr_get(m, 0, -1, &g));
  EXPECT(CI_EINVAL, "ci_csr_get", NULL, ci_csr_get(NULL, 0, 0, &g));
  EXPECT(CI_EINVAL, "ci_csr_get", NULL, ci_csr_get(m, 0, 0, NULL));
  CHECK(g == -1);
  ci_csr *o = NULL;
  ci_tensor *t = NULL;
  EXPECT(CI_EINVAL, "ci_csr_transpose", "NULL", ci_csr_transpose(NULL, &o));
  EXPECT(CI_EINVAL, "ci_csr_transposed", "NULL", ci_csr_transposed(NULL, &o));
  EXPECT(CI_EINVAL, "ci_csr_to_dense", "NULL", ci_csr_to_dense(NULL, &t));
  EXPECT(CI_EINVAL, "ci_csr_from_dense", "NULL", ci_csr_from_dense(NULL, &o));
  ci_tensor *t3 = mk(3, 2, 2, 2);
  EXPECT(CI_EINVAL, "ci_csr_from_dense", NULL, ci_csr_from_dense(t3, &o));
  EXPECT(CI_EINVAL, "ci_csr_scale_rows", NULL, ci_csr_scale_rows(m, NULL, &o));
  EXPECT(CI_EINVAL, "ci_csr_scale_cols", NULL, ci_csr_scale_cols(NULL, v, &o));
  float X[6] = {1, 2, 3, 4, 5, 6}, Y[6];
  EXPECT(CI_EINVAL, "ci_csr_spmm", "A", ci_csr_spmm(NULL, X, 2, Y, 0));
  EXPECT(CI_EINVAL, "ci_csr_spmm", "B", ci_csr_spmm(m, X, -1, Y, 0));
  EXPECT(CI_EINVAL, "ci_csr_spmm", "X", ci_csr_spmm(m, NULL, 2, Y, 0));
  EXPECT(CI_EINVAL, "ci_csr_spmm", "Y", ci_csr_spmm(m, X, 2, NULL, 0));
  EXPECT(CI_ENOMEM, "ci_csr_spmm", "overflow", ci_csr_spmm(m, X, INT64_MAX / 2, Y, 0));
  ci_tensor *wrong = mk(1, 4, 0, 0);
  EXPECT(CI_EINVAL, "ci_sparse_mm", NULL, ci_sparse_mm(m, wrong, &t));
  EXPECT(CI_EINVAL, "ci_sparse_mm", "A", ci_sparse_mm(NULL, wrong, &t));
  EXPECT(CI_EINVAL, "ci_sparse_mm", "X", ci_sparse_mm(m, NULL, &t));
  CHECK(o == NULL && t == NULL && intact(wrong) && intact(t3));
  CHECK(m->nnz == 3 && m->vals[0] == 1 && m->vals[1] == 2 && m->vals[2] == 3);
  /* fuzz/regressions/csr_fuzz/to_dense_zero_cols: rows but no columns (was UB: NULL + 0) */
  ci_csr *z = NULL;
  ci_tensor *zd = NULL;
  CHECK(ci_csr_from_coo(3, 0, 0, NULL, NULL, NULL, &z) == CI_OK);
  CHECK(z && ci_csr_to_dense(z, &zd) == CI_OK && zd->nel == 0 && zd->shape[0] == 3);
  ci_tensor_release(zd);
  ci_csr_release(z);
  ci_csr_release(NULL);
  ci_csr_retain(NULL);
  ci_tensor_release(wrong); ci_tensor_release(t3);
  ci_csr_release(m);
}

static void csv_and_connectome(void) {
  ci_csv_table *t = (ci_csv_table *)0x1;
  EXPECT(CI_EINVAL, "ci_csv_parse", "out", ci_csv_parse("a\n1\n", 4, "x", NULL, NULL));
  EXPECT(CI_EINVAL, "ci_csv_parse", "text", ci_csv_parse(NULL, 5, "x", NULL, &t));
  CHECK(t == NULL);
  EXPECT(CI_EIO, "ci_csv_", "mem.csv", ci_csv_parse("", 0, "mem.csv", NULL, &t));
  EXPECT(CI_EIO, "ci_csv_", "r.csv line 3", ci_csv_parse("a,b\n1,2\n3\n", 10, "r.csv", NULL, &t));
  EXPECT(CI_EIO, "ci_csv_", "q.csv", ci_csv_parse("a,b\n1,\"2\n", 9, "q.csv", NULL, &t));
  ci_csv_options bad_na = {',', 1, NULL, 3};
  EXPECT(CI_EINVAL, "ci_csv_", "na_values", ci_csv_parse("a\n1\n", 4, "x", &bad_na, &t));
  EXPECT(CI_EINVAL, "ci_csv_read", "path", ci_csv_read(NULL, NULL, &t));
  EXPECT(CI_EIO, "ci_csv_read", "/nonexistent/x.csv", ci_csv_read("/nonexistent/x.csv", NULL, &t));
  /* truncated gzip */
  static const unsigned char trunc_gz[] = {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00,
                                           0x00, 0x03, 0x4b, 0x4c, 0x2a};
  const char *p = tmpfile_with("trunc.csv.gz", trunc_gz, sizeof trunc_gz);
  EXPECT(CI_EIO, "ci_csv_read", "trunc.csv.gz", ci_csv_read(p, NULL, &t));
  CHECK(t == NULL);
  EXPECT(CI_EINVAL, "ci_csv_sink_open", "out", ci_csv_sink_open("/tmp/x.csv", 0, NULL));
  ci_csv_sink *s = NULL;
  EXPECT(CI_EIO, "ci_csv_sink_open", "/nonexistent", ci_csv_sink_open("/nonexistent/d/o.csv", 0, &s));
  CHECK(s == NULL);
  EXPECT(CI_EINVAL, "ci_csv_sink_write", NULL, ci_csv_sink_write(NULL, "x", 1));
  EXPECT(CI_EINVAL, "ci_csv_write", NULL, ci_csv_write("/tmp/x.csv", NULL, 2, 1, ',', 1, 0));
  EXPECT(CI_EINVAL, "ci_csv_write", NULL, ci_csv_write("/tmp/x.csv", NULL, -1, 0, ',', 1, 0));
  ci_csv_free(NULL);

  ci_connectome *c = (ci_connectome *)0x1;
  EXPECT(CI_EINVAL, "ci_connectome_read", "out", ci_connectome_read("x", NULL, NULL));
  EXPECT(CI_EINVAL, "ci_connectome_read", "edges", ci_connectome_read(NULL, NULL, &c));
  CHECK(c == NULL);
  EXPECT(CI_EIO, "ci_connectome_read", "/nonexistent/e.csv", ci_connectome_read("/nonexistent/e.csv", NULL, &c));
  ci_connectome_options nan_thr = {0};
  nan_thr.threshold = NAN;
  p = tmpfile_with("e.csv", "pre,post,weight\n1,2,3\n", 22);
  EXPECT(CI_EINVAL, "ci_connectome_read", "threshold", ci_connectome_read(p, &nan_thr, &c));
  p = tmpfile_with("nonnum.csv", "pre,post,weight\n1,2,3\n2,1,x\n", 28);
  EXPECT(CI_EIO, "ci_connectome_read", "column weight", ci_connectome_read(p, NULL, &c));
  p = tmpfile_with("hdr.csv", "pre,post,weight\n", 16);
  ci_clear_error();
  int rc = ci_connectome_read(p, NULL, &c);   /* header only: an empty connectome or an error */
  CHECK(rc == CI_OK ? (c->n == 0 && c->nnz == 0) : ci_last_error()[0] != '\0');
  if (rc == CI_OK) ci_connectome_free(c);
  c = NULL;
  p = tmpfile_with("nocol.csv", "pre,post\n1,2\n", 13);
  EXPECT(CI_EIO, "ci_connectome_read", "weight", ci_connectome_read(p, NULL, &c));
  p = tmpfile_with("ragged.csv", "pre,post,weight\n1,2\n", 20);
  EXPECT(CI_EIO, "ci_connectome_read", "line 2", ci_connectome_read(p, NULL, &c));
  p = tmpfile_with("trunc.csv.gz", trunc_gz, sizeof trunc_gz);
  EXPECT(CI_EIO, "ci_connectome_read", "trunc.csv.gz", ci_connectome_read(p, NULL, &c));
  CHECK(c == NULL);
  CHECK(ci_connectome_find(NULL, "1", 1) == -1);
  ci_connectome_free(NULL);
}

static void networks(void) {
  int32_t r[3] = {0, 1, 2}, c[3] = {1, 2, 0};
  float v[3] = {0.5f, -0.5f, 1.0f};
  ci_csr *w = NULL, *rect = NULL;
  CHECK(ci_csr_from_coo(3, 3, 3, r, c, v, &w) == CI_OK);
  CHECK(ci_csr_from_coo(3, 4, 3, r, c, v, &rect) == CI_OK);
  int32_t sens[2] = {0, 1}, sens_dup[2] = {1, 1}, sens_oob[2] = {0, 3}, sens_neg[1] = {-1};
  ci_net_spec sp = {0};
  sp.kind = CI_NET_MULTILAYERED; sp.num_layers = 2; sp.threshold = 0.01;
  sp.n_sensory = 2; sp.sensory = sens; sp.slope = 1; sp.bias = 0; sp.tau = 1;
  ci_net *net = (ci_net *)0x1;
  EXPECT(CI_EINVAL, "ci_net_new", "out", ci_net_new(w, &sp, NULL));
  EXPECT(CI_EINVAL, "ci_net_new", "weights", ci_net_new(NULL, &sp, &net));
  CHECK(net == NULL);
  EXPECT(CI_EINVAL, "ci_net_new", "spec", ci_net_new(w, NULL, &net));
  EXPECT(CI_EINVAL, "ci_net_new", "square", ci_net_new(rect, &sp, &net));
  ci_net_spec s2 = sp; s2.num_layers = 0;
  EXPECT(CI_EINVAL, "ci_net_new", "num_layers", ci_net_new(w, &s2, &net));
  s2 = sp; s2.num_layers = -5;
  EXPECT(CI_EINVAL, "ci_net_new", "num_layers", ci_net_new(w, &s2, &net));
  s2 = sp; s2.kind = 7;
  EXPECT(CI_EINVAL, "ci_net_new", "kind", ci_net_new(w, &s2, &net));
  s2 = sp; s2.sensory = sens_dup;
  EXPECT(CI_EINVAL, "ci_net_new", "sensory_indices", ci_net_new(w, &s2, &net));
  s2 = sp; s2.sensory = sens_oob;
  EXPECT(CI_EINVAL, "ci_net_new", "sensory_indices", ci_net_new(w, &s2, &net));
  s2 = sp; s2.sensory = sens_neg; s2.n_sensory = 1;
  EXPECT(CI_EINVAL, "ci_net_new", "sensory_indices", ci_net_new(w, &s2, &net));
  s2 = sp; s2.sensory = NULL;
  EXPECT(CI_EINVAL, "ci_net_new", "sensory_indices", ci_net_new(w, &s2, &net));
  s2 = sp; s2.n_sensory = -1;
  EXPECT(CI_EINVAL, "ci_net_new", "sensory_indices", ci_net_new(w, &s2, &net));
  int32_t grp_bad[3] = {0, 1, 2};
  float ones[2] = {1, 1};
  s2 = sp; s2.n_groups = 2; s2.group_of = grp_bad; s2.init_slope = ones; s2.init_raw_bias = ones;
  s2.init_tau = ones; s2.init_div_strength = ones;
  EXPECT(CI_EINVAL, "ci_net_new", "idx_to_group", ci_net_new(w, &s2, &net));
  s2.group_of = NULL;
  EXPECT(CI_EINVAL, "ci_net_new", "idx_to_group", ci_net_new(w, &s2, &net));
  uint8_t pairs[1] = {1};
  s2 = sp; s2.div_pairs = pairs;
  EXPECT(CI_EINVAL, "ci_net_new", NULL, ci_net_new(w, &s2, &net));
  CHECK(net == NULL);
  CHECK(w->vals[0] == 0.5f && w->vals[1] == -0.5f && w->vals[2] == 1.0f);

  CHECK(ci_net_new(w, &sp, &net) == CI_OK);
  EXPECT(CI_EINVAL, "ci_net_set_num_layers", "num_layers", ci_net_set_num_layers(net, 0));
  EXPECT(CI_EINVAL, "ci_net_set_num_layers", "net", ci_net_set_num_layers(NULL, 3));
  CHECK(ci_net_num_layers(net) == 2);
  ci_tensor *p = NULL;
  EXPECT(CI_EINVAL, "ci_net_param", "parameter", ci_net_param(net, 9, &p));
  EXPECT(CI_EINVAL, "ci_net_param", "parameter", ci_net_param(net, -1, &p));
  EXPECT(CI_EINVAL, "ci_net_param", "net", ci_net_param(NULL, 0, &p));
  ci_tensor *in_bad = mk(3, 1, 3, 2), *in_ok = mk(3, 1, 2, 2), *in_l = mk(3, 1, 2, 3), *out = NULL;
  ci_tensor *in_2d = mk(2, 2, 2, 0);
  EXPECT(CI_EINVAL, "ci_net_forward", "inputs", ci_net_forward(net, in_bad, NULL, 0, 0, &out));
  EXPECT(CI_EINVAL, "ci_net_forward", "inputs", ci_net_forward(net, in_l, NULL, 0, 0, &out));
  EXPECT(CI_EINVAL, "ci_net_forward", "inputs", ci_net_forward(net, in_2d, NULL, 0, 0, &out));
  EXPECT(CI_EINVAL, "ci_net_forward", "inputs", ci_net_forward(net, NULL, NULL, 0, 0, &out));
  EXPECT(CI_EINVAL, "ci_net_forward", "net", ci_net_forward(NULL, in_ok, NULL, 0, 0, &out));
  EXPECT(CI_EINVAL, "ci_net_forward", "out", ci_net_forward(net, in_ok, NULL, 0, 0, NULL));
  ci_manip mp[1] = {{0, -1, 3, 1.0f}};
  EXPECT(CI_EINVAL, "ci_net_forward", "neuron", ci_net_forward(net, in_ok, mp, 1, 0, &out));
  mp[0].neuron = -1;
  EXPECT(CI_EINVAL, "ci_net_forward", "neuron", ci_net_forward(net, in_ok, mp, 1, 0, &out));
  mp[0].neuron = 0; mp[0].batch = 1;
  EXPECT(CI_EINVAL, "ci_net_forward", "batch", ci_net_forward(net, in_ok, mp, 1, 0, &out));
  mp[0].batch = -1; mp[0].layer = 2;
  EXPECT(CI_EINVAL, "ci_net_forward", "layer", ci_net_forward(net, in_ok, mp, 1, 0, &out));
  mp[0].layer = -1;
  EXPECT(CI_EINVAL, "ci_net_forward", "layer", ci_net_forward(net, in_ok, mp, 1, 0, &out));
  EXPECT(CI_EINVAL, "ci_net_forward", "manipulate", ci_net_forward(net, in_ok, NULL, 2, 0, &out));
  EXPECT(CI_EINVAL, "ci_net_forward", "manipulate", ci_net_forward(net, in_ok, mp, -1, 0, &out));
  EXPECT(CI_EINVAL, "ci_net_forward", "checkpoint_steps", ci_net_forward(net, in_ok, NULL, 0, -2, &out));
  CHECK(out == NULL);
  ci_tensor *gbad = mk(3, 1, 3, 3), *gi = NULL;
  EXPECT(CI_EINVAL, "ci_net_vjp", "grad_out", ci_net_vjp(net, in_ok, NULL, 0, 0, gbad, &gi, NULL));
  EXPECT(CI_EINVAL, "ci_net_vjp", "net", ci_net_vjp(NULL, in_ok, NULL, 0, 0, gbad, &gi, NULL));
  CHECK(gi == NULL);
  CHECK(intact(in_bad) && intact(in_ok) && intact(in_l) && intact(in_2d) && intact(gbad));
  /* NaN and inf in the input propagate (no error) */
  in_ok->data[0] = NAN; in_ok->data[1] = INFINITY;
  CHECK(ci_net_forward(net, in_ok, NULL, 0, 0, &out) == CI_OK);
  int any_nan = 0;
  for (int64_t k = 0; out && k < out->nel; k++) any_nan |= isnan(out->data[k]) || isinf(out->data[k]);
  CHECK(any_nan);
  ci_tensor_release(out);
  ci_net_release(NULL);
  ci_net_retain(NULL);
  ci_net_release(net);
  ci_tensor_release(in_bad); ci_tensor_release(in_ok); ci_tensor_release(in_l);
  ci_tensor_release(in_2d); ci_tensor_release(gbad);
  ci_csr_release(w); ci_csr_release(rect);

  ci_csr *g = (ci_csr *)0x1;
  EXPECT(CI_EINVAL, "ci_random_connectome", "n", ci_random_connectome(1, 5, 1, &g));
  EXPECT(CI_EINVAL, "ci_random_connectome", "nnz", ci_random_connectome(10, 0, 1, &g));
  EXPECT(CI_EINVAL, "ci_random_connectome", "nnz", ci_random_connectome(10, ((int64_t)1 << 31) + 5, 1, &g));
  EXPECT(CI_EINVAL, "ci_random_connectome", "out", ci_random_connectome(10, 5, 1, NULL));
  CHECK(g == NULL);
  int32_t sv[4] = {-9, -9, -9, -9};
  EXPECT(CI_EINVAL, "ci_random_sensory", "count", ci_random_sensory(3, 4, 1, sv));
  EXPECT(CI_EINVAL, "ci_random_sensory", "count", ci_random_sensory(3, -1, 1, sv));
  EXPECT(CI_EINVAL, "ci_random_sensory", "out", ci_random_sensory(3, 2, 1, NULL));
  CHECK(sv[0] == -9);
}

int main(void) {
  tensors();
  sparse();
  csv_and_connectome();
  networks();
  printf("%d checks, %d failures\n", checks, failures);
  return failures ? 1 : 0;
}
