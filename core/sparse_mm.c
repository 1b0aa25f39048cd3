/* sparse_mm.c: ci_sparse_mm, the tensor-level sparse product Y = A X on the
 * tape (1-d or 2-d X); its backward is dX = A^T dY through the matrix's cached
 * transpose. The kernel itself is csr_spmm.c. */
#include "internal.h"

#include <stdio.h>

static void release_ctx(void *ctx) { ci_csr_release((ci_csr *)ctx); }

static int sparse_mm_backward(ci_node *node, const ci_tensor *grad_out,
                              ci_tensor **grad_in) {
  ci_tensor *X = node->inputs[0];
  if (!X || !X->grad_on) return CI_OK;
  ci_csr *A = (ci_csr *)node->ctx;
  ci_csr *At = NULL;
  int rc = ci_csr_transposed(A, &At);
  if (rc) return rc;
  ci_tensor *g = NULL;
  rc = ci_tensor_new(X->ndim, X->shape, &g);
  if (rc == CI_OK) {
    int64_t B = X->ndim == 2 ? X->shape[1] : 1;
    rc = ci_csr_spmm(At, grad_out->data, B, g->data, 0);
  }
  ci_csr_release(At);
  if (rc) {
    ci_tensor_release(g);
    return rc;
  }
  grad_in[0] = g;
  return CI_OK;
}

int ci_sparse_mm(ci_csr *A, ci_tensor *X, ci_tensor **out) {
  const char *where = "ci_sparse_mm";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  if (!A || !X) return ci_set_error(CI_EINVAL, "%s: %s is NULL", where, A ? "X" : "A");
  if (X->on_device) return ci_set_error(CI_EINVAL, "%s: X is on the GPU", where);
  if ((X->ndim != 1 && X->ndim != 2) || X->shape[0] != A->ncols) {
    char shp[64];
    if (X->ndim == 0) snprintf(shp, sizeof shp, "()");
    else if (X->ndim == 1) snprintf(shp, sizeof shp, "(%lld)", (long long)X->shape[0]);
    else if (X->ndim == 2)
      snprintf(shp, sizeof shp, "(%lld, %lld)", (long long)X->shape[0],
               (long long)X->shape[1]);
    else snprintf(shp, sizeof shp, "%d-d", (int)X->ndim);
    return ci_set_error(CI_EINVAL,
                        "%s: matrix of size %d x %d cannot multiply a tensor of shape %s, "
                        "expected (%d) or (%d, B)",
                        where, (int)A->nrows, (int)A->ncols, shp, (int)A->ncols,
                        (int)A->ncols);
  }
  int64_t B = X->ndim == 2 ? X->shape[1] : 1;
  int64_t shape[2] = {A->nrows, B};
  ci_tensor *Y = NULL;
  int rc = ci_tensor_new(X->ndim, shape, &Y);
  if (rc) return rc;
  rc = ci_csr_spmm(A, X->data, B, Y->data, 0);
  if (rc) {
    ci_tensor_release(Y);
    return rc;
  }
  if (ci_needs_grad(X)) {
    ci_node *node = ci_node_attach(Y, "sparse_mm", 1, &X, sparse_mm_backward);
    if (!node) {
      ci_tensor_release(Y);
      return CI_ENOMEM;
    }
    ci_csr_retain(A);
    node->ctx = A;
    node->free_ctx = release_ctx;
  }
  *out = Y;
  return CI_OK;
}
