/* csr.cu: CSR matrices on the device and the sparse x dense product through
 * cuSPARSE's generic API (cusparseSpMM, dense operands row-major with the
 * batch innermost, as the CPU engine stores its state), with one workspace
 * kept in the context across timesteps and passes. */
#include <stdlib.h>
#include <string.h>

#include "check.cuh"

extern "C" int ci_cuda_spmm_ctx_init(ci_cuda_spmm_ctx *ctx, const char *where) {
  memset(ctx, 0, sizeof *ctx);
  cusparseHandle_t h = NULL;
  CI_SP(where, "cusparseCreate", cusparseCreate(&h));
  ctx->handle = h;
  return CI_OK;
}

extern "C" void ci_cuda_spmm_ctx_free(ci_cuda_spmm_ctx *ctx) {
  if (ctx->handle) cusparseDestroy((cusparseHandle_t)ctx->handle);
  ci_cuda_free(ctx->work);
  memset(ctx, 0, sizeof *ctx);
}

extern "C" void ci_cuda_csr_free(ci_cuda_csr *m) {
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

extern "C" int ci_cuda_csr_spmm(ci_cuda_spmm_ctx *ctx, const ci_cuda_csr *A, const float *X,
                                int64_t B, float *Y, int accumulate, const char *where) {
  if (B <= 0 || A->nrows == 0) return CI_OK;
  if (A->nnz == 0) { /* nothing stored: Y = 0 (or unchanged) */
    if (accumulate) return CI_OK;
    return ci_cuda_memset0(Y, (size_t)A->nrows * (size_t)B * sizeof(float), where);
  }
  cusparseHandle_t h = (cusparseHandle_t)ctx->handle;
  cusparseDnMatDescr_t dx = NULL, dy = NULL;
  const float alpha = 1.0f, beta = accumulate ? 1.0f : 0.0f;
  int rc = CI_OK;
  cusparseStatus_t s;
  size_t need = 0;
  const char *call = "cusparseCreateDnMat";
  s = cusparseCreateDnMat(&dx, A->ncols, B, B, (void *)X, CUDA_R_32F, CUSPARSE_ORDER_ROW);
  if (s == CUSPARSE_STATUS_SUCCESS)
    s = cusparseCreateDnMat(&dy, A->nrows, B, B, Y, CUDA_R_32F, CUSPARSE_ORDER_ROW);
  if (s == CUSPARSE_STATUS_SUCCESS) {
    call = "cusparseSpMM_bufferSize";
    s = cusparseSpMM_bufferSize(h, CUSPARSE_OPERATION_NON_TRANSPOSE,
                                CUSPARSE_OPERATION_NON_TRANSPOSE, &alpha,
                                (cusparseSpMatDescr_t)A->desc, dx, &beta, dy, CUDA_R_32F,
                                CUSPARSE_SPMM_ALG_DEFAULT, &need);
  }
  if (s == CUSPARSE_STATUS_SUCCESS && need > ctx->work_bytes) {
    ci_cuda_free(ctx->work);
    ctx->work = NULL;
    ctx->work_bytes = 0;
    if ((rc = ci_cuda_malloc(&ctx->work, need, where))) goto done;
    ctx->work_bytes = need;
  }
  if (s == CUSPARSE_STATUS_SUCCESS) {
    call = "cusparseSpMM";
    s = cusparseSpMM(h, CUSPARSE_OPERATION_NON_TRANSPOSE, CUSPARSE_OPERATION_NON_TRANSPOSE,
                     &alpha, (cusparseSpMatDescr_t)A->desc, dx, &beta, dy, CUDA_R_32F,
                     CUSPARSE_SPMM_ALG_DEFAULT, ctx->work);
  }
  if (s != CUSPARSE_STATUS_SUCCESS)
    rc = ci_set_error(CI_EDEVICE, "%s: %s failed: %s", where, call, cusparseGetErrorString(s));
done:
  if (dx) cusparseDestroyDnMat(dx);
  if (dy) cusparseDestroyDnMat(dy);
  return rc;
}
