/* csr.cu: CSR matrices on the device and the sparse x dense product through
 * cuSPARSE's generic API (cusparseSpMM, dense operands row-major with the
 * batch innermost, as the CPU engine stores its state). Each matrix keeps a
 * plan per operand width (descriptors, workspace, preprocessing), so a pass
 * creates no descriptor and allocates nothing after its first product. */
#include <stdlib.h>
#include <string.h>

#include "check.cuh"

extern "C" int ci_cuda_sparse_new(void **handle, const char *where) {
  *handle = NULL;
  cusparseHandle_t h = NULL;
  CI_SP(where, "cusparseCreate", cusparseCreate(&h));
  *handle = h;
  return CI_OK;
}

extern "C" void ci_cuda_sparse_free(void *handle) {
  if (handle) cusparseDestroy((cusparseHandle_t)handle);
}

static void plan_free(ci_cuda_spmm_plan *p) {
  if (p->dx) cusparseDestroyDnMat((cusparseDnMatDescr_t)p->dx);
  if (p->dy) cusparseDestroyDnMat((cusparseDnMatDescr_t)p->dy);
  ci_cuda_free(p->work);
  memset(p, 0, sizeof *p);
}

extern "C" void ci_cuda_csr_free(ci_cuda_csr *m) {
  for (int k = 0; k < CI_CUDA_PLANS; k++) plan_free(&m->plan[k]);
  if (m->desc) cusparseDestroySpMat((cusparseSpMatDescr_t)m->desc);
  ci_cuda_free(m->rowptr);
  ci_cuda_free(m->colidx);
  ci_cuda_free(m->vals);
  memset(m, 0, sizeof *m);
}

/* Uploads a host array of cnt values converted to int32 or int64. */
template <typename T, typename S>
static int upload_converted(void **dst, const S *src, int64_t cnt, const char *where) {
  size_t bytes;
  if (ci_mul_size((size_t)cnt, sizeof(T), &bytes))
    return ci_set_error(CI_ENOMEM, "%s: matrix size overflows", where);
  T *tmp = (T *)malloc(bytes ? bytes : 1);
  if (!tmp) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  for (int64_t k = 0; k < cnt; k++) tmp[k] = (T)src[k];
  int rc = ci_cuda_malloc(dst, bytes, where);
  if (!rc) rc = ci_cuda_memcpy(*dst, tmp, bytes, CI_H2D, where);
  free(tmp);
  return rc;
}

static int csr_upload(const ci_csr *m, ci_cuda_csr *out, const char *where) {
  out->nrows = m->nrows;
  out->ncols = m->ncols;
  out->nnz = m->nnz;
  out->idx64 = m->nnz > 2147483647LL;
  int rc;
  if (out->idx64) {
    if ((rc = upload_converted<int64_t>(&out->rowptr, m->rowptr, (int64_t)m->nrows + 1, where)))
      return rc;
    if ((rc = upload_converted<int64_t>(&out->colidx, m->colidx, m->nnz, where))) return rc;
  } else {
    if ((rc = upload_converted<int32_t>(&out->rowptr, m->rowptr, (int64_t)m->nrows + 1, where)))
      return rc;
    size_t cb = (size_t)m->nnz * sizeof(int32_t);
    if ((rc = ci_cuda_malloc(&out->colidx, cb, where))) return rc;
    if ((rc = ci_cuda_memcpy(out->colidx, m->colidx, cb, CI_H2D, where))) return rc;
  }
  size_t vb;
  if (ci_mul_size((size_t)m->nnz, sizeof(float), &vb))
    return ci_set_error(CI_ENOMEM, "%s: matrix size overflows", where);
  if ((rc = ci_cuda_malloc((void **)&out->vals, vb, where))) return rc;
  if ((rc = ci_cuda_memcpy(out->vals, m->vals, vb, CI_H2D, where))) return rc;
  if (m->nnz > 0) {
    cusparseIndexType_t it = out->idx64 ? CUSPARSE_INDEX_64I : CUSPARSE_INDEX_32I;
    cusparseSpMatDescr_t d = NULL;
    CI_SP(where, "cusparseCreateCsr",
          cusparseCreateCsr(&d, m->nrows, m->ncols, m->nnz, out->rowptr, out->colidx, out->vals,
                            it, it, CUSPARSE_INDEX_BASE_ZERO, CUDA_R_32F));
    out->desc = d;
  }
  return CI_OK;
}

extern "C" int ci_cuda_csr_upload(const ci_csr *m, ci_cuda_csr *out, const char *where) {
  memset(out, 0, sizeof *out);
  if (!m) return ci_set_error(CI_EINVAL, "%s: matrix is NULL", where);
  int rc = csr_upload(m, out, where);
  if (rc) ci_cuda_csr_free(out);
  return rc;
}

#define SPMM_ALG CUSPARSE_SPMM_ALG_DEFAULT
#define SPMM_OP CUSPARSE_OPERATION_NON_TRANSPOSE

/* Sets up plan p of A for width B: dense descriptors over X and Y, the
 * workspace, and the preprocessing that later products reuse. */
static int plan_new(cusparseHandle_t h, const ci_cuda_csr *A, ci_cuda_spmm_plan *p,
                    const float *X, int64_t B, float *Y, int accumulate, const char *where) {
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  cusparseDnMatDescr_t dx = NULL, dy = NULL;
  p->B = B;
  p->accumulate = accumulate;
  CI_SP(where, "cusparseCreateDnMat",
        cusparseCreateDnMat(&dx, A->ncols, B, B, (void *)X, CUDA_R_32F, CUSPARSE_ORDER_ROW));
  p->dx = dx;
  CI_SP(where, "cusparseCreateDnMat",
        cusparseCreateDnMat(&dy, A->nrows, B, B, Y, CUDA_R_32F, CUSPARSE_ORDER_ROW));
  p->dy = dy;
  size_t need = 0;
  CI_SP(where, "cusparseSpMM_bufferSize",
        cusparseSpMM_bufferSize(h, SPMM_OP, SPMM_OP, &alpha, (cusparseSpMatDescr_t)A->desc, dx,
                                &beta, dy, CUDA_R_32F, SPMM_ALG, &need));
  int rc = ci_cuda_malloc(&p->work, need, where);
  if (rc) return rc;
  /* an algorithm without a preprocessing step may say so: then there is none */
  const cusparseStatus_t st =
      cusparseSpMM_preprocess(h, SPMM_OP, SPMM_OP, &alpha, (cusparseSpMatDescr_t)A->desc, dx,
                              &beta, dy, CUDA_R_32F, SPMM_ALG, p->work);
  if (st != CUSPARSE_STATUS_SUCCESS && st != CUSPARSE_STATUS_NOT_SUPPORTED)
    return ci_set_error(CI_EDEVICE, "%s: cusparseSpMM_preprocess failed: %s", where,
                        cusparseGetErrorString(st));
  return CI_OK;
}

/* A's plan for (B, accumulate): the existing one, or a new one in the next
 * slot (the oldest plan makes room). */
static int plan_for(cusparseHandle_t h, ci_cuda_csr *A, const float *X, int64_t B, float *Y,
                    int accumulate, ci_cuda_spmm_plan **out, const char *where) {
  for (int k = 0; k < CI_CUDA_PLANS; k++)
    if (A->plan[k].B == B && A->plan[k].accumulate == accumulate) {
      *out = &A->plan[k];
      return CI_OK;
    }
  ci_cuda_spmm_plan *p = &A->plan[A->next_plan];
  A->next_plan = (A->next_plan + 1) % CI_CUDA_PLANS;
  plan_free(p);
  int rc = plan_new(h, A, p, X, B, Y, accumulate, where);
  if (rc) {
    plan_free(p);
    return rc;
  }
  *out = p;
  return CI_OK;
}

extern "C" int ci_cuda_csr_spmm(void *handle, ci_cuda_csr *A, const float *X, int64_t B,
                                float *Y, int accumulate, const char *where) {
  if (B <= 0 || A->nrows == 0) return CI_OK;
  if (A->nnz == 0) { /* nothing stored: Y = 0 (or unchanged) */
    if (accumulate) return CI_OK;
    return ci_cuda_memset0(Y, (size_t)A->nrows * (size_t)B * sizeof(float), where);
  }
  cusparseHandle_t h = (cusparseHandle_t)handle;
  ci_cuda_spmm_plan *p = NULL;
  int rc = plan_for(h, A, X, B, Y, accumulate, &p, where);
  if (rc) return rc;
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  CI_SP(where, "cusparseDnMatSetValues",
        cusparseDnMatSetValues((cusparseDnMatDescr_t)p->dx, (void *)X));
  CI_SP(where, "cusparseDnMatSetValues", cusparseDnMatSetValues((cusparseDnMatDescr_t)p->dy, Y));
  CI_SP(where, "cusparseSpMM",
        cusparseSpMM(h, SPMM_OP, SPMM_OP, &alpha, (cusparseSpMatDescr_t)A->desc,
                     (cusparseDnMatDescr_t)p->dx, &beta, (cusparseDnMatDescr_t)p->dy, CUDA_R_32F,
                     SPMM_ALG, p->work));
  return CI_OK;
}
