/* cuda_internal.h: the private interface between the C engine and the CUDA
 * kernels (kernels/ .cu files, compiled by nvcc only with make CUDA=1). Nothing here
 * is part of the public API; core/device.c wraps it into the public
 * ci_cuda_available / ci_device_info / ci_tensor_to / ci_net_to_device, and
 * core/net_tape.c runs a network that lives on the GPU through the GPU's
 * backend (ci_cuda_net_forward / _backward / _free_state). Every function here checks
 * every CUDA / cuSPARSE status and turns a failure into ci_set_error(CI_EDEVICE,
 * "<where>: <call> failed: <CUDA's message>"). Included from C and from C++. */
#ifndef CI_CUDA_INTERNAL_H
#define CI_CUDA_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#ifdef __cplusplus
extern "C" {
#endif

#include "adam.h"
#include "net_internal.h"

/* Probes the driver, the devices and cuSPARSE once per process (the result is
 * cached). Returns 1 when a GPU is usable; else 0 with the reason (e.g. "CUDA
 * driver version is insufficient for CUDA runtime version") written to msg. */
int ci_cuda_probe(char *msg, size_t n);
/* One line about the current device: name, compute capability, memory, driver
 * and runtime versions. Only valid after a successful probe. */
int ci_cuda_describe(char *buf, size_t n);

/* Device memory and copies (dir: 0 host->device, 1 device->host, 2 device->device). */
enum { CI_H2D = 0, CI_D2H = 1, CI_D2D = 2 };
int ci_cuda_malloc(void **p, size_t bytes, const char *where);
void ci_cuda_free(void *p);
int ci_cuda_memcpy(void *dst, const void *src, size_t bytes, int dir, const char *where);
int ci_cuda_memset0(void *p, size_t bytes, const char *where);

/* A cuSPARSE SpMM of one matrix set up for one operand width and
 * accumulate flag: its dense descriptors (pointers updated per call) and the
 * workspace that cusparseSpMM_preprocess filled, kept for every later call. */
typedef struct ci_cuda_spmm_plan {
  int64_t B;           /* operand width; 0: an unused slot */
  int accumulate;
  void *dx, *dy;       /* cusparseDnMatDescr_t of X (ncols x B) and Y (nrows x B) */
  void *work;          /* workspace (device), NULL when none is needed */
} ci_cuda_spmm_plan;

#define CI_CUDA_PLANS 4

/* A CSR matrix on the device, in the index types cuSPARSE's SpMM takes (both
 * 32-bit when nnz < 2^31, else both 64-bit), with its SpMM plans. */
typedef struct ci_cuda_csr {
  int32_t nrows, ncols;
  int64_t nnz;
  int idx64;           /* 1: rowptr and colidx are int64, else int32 */
  void *rowptr;        /* nrows + 1 */
  void *colidx;        /* nnz */
  float *vals;         /* nnz */
  void *desc;          /* cusparseSpMatDescr_t, NULL when nnz == 0 */
  ci_cuda_spmm_plan plan[CI_CUDA_PLANS];
  int next_plan;       /* the slot a new plan takes (round robin) */
} ci_cuda_csr;

/* A cuSPARSE handle (*handle, a cusparseHandle_t) and its release. */
int ci_cuda_sparse_new(void **handle, const char *where);
void ci_cuda_sparse_free(void *handle);
/* Uploads m (host CSR) into out; on failure nothing is left allocated. */
int ci_cuda_csr_upload(const ci_csr *m, ci_cuda_csr *out, const char *where);
void ci_cuda_csr_free(ci_cuda_csr *m);
/* Y (nrows x B) = A X (+ Y when accumulate), X (ncols x B); both dense slabs
 * row-major on the device with the batch innermost (ld = B). The first call
 * of a width sets up its plan (descriptors, workspace, preprocessing); later
 * calls allocate nothing. */
int ci_cuda_csr_spmm(void *handle, ci_cuda_csr *A, const float *X, int64_t B, float *Y,
                     int accumulate, const char *where);

/* The device copy of a network's fixed structure (ci_net.dev) and its
 * buffer pool. */
int ci_cuda_net_upload(ci_net *net, const char *where);
void ci_cuda_net_free(void *dev);

/* The GPU's backend for core/net_tape.c (cn_backend, net_internal.h): the
 * whole unrolled pass on the device, inputs on the host or the device,
 * results on the host. */
int ci_cuda_net_forward(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                        int32_t ck, int keep_for_grad, ci_tensor **out, void **state,
                        const char *where);
int ci_cuda_net_backward(void *state, const float *grad_out, const cn_grads *g,
                         const char *where);
void ci_cuda_net_free_state(void *state);

/* One Adam step (ci_adam_update of adam.h) over n device floats. */
int ci_cuda_adam(float *param, const float *grad, float *m, float *v, int64_t n,
                 ci_adam_coeffs c, const char *where);

#ifdef __cplusplus
}
#endif
#endif /* CI_CUDA_INTERNAL_H */
