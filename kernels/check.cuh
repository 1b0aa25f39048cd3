/* check.cuh: turning CUDA runtime and cuSPARSE statuses into engine errors
 * (CI_EDEVICE, "<where>: <call> failed: <library message>"); shared by the .cu files in kernels/. */
#ifndef CI_KERNELS_CHECK_CUH
#define CI_KERNELS_CHECK_CUH

#include <cuda_runtime.h>
#include <cusparse.h>

#include "cuda_internal.h"

/* Returns from the calling function with CI_EDEVICE when the runtime call fails. */
#define CI_CU(where, name, call)                                                          \
  do {                                                                                    \
    cudaError_t ci_e_ = (call);                                                           \
    if (ci_e_ != cudaSuccess)                                                             \
      return ci_set_error(CI_EDEVICE, "%s: %s failed: %s", (where), (name),               \
                          cudaGetErrorString(ci_e_));                                     \
  } while (0)

/* Same for cuSPARSE. */
#define CI_SP(where, name, call)                                                          \
  do {                                                                                    \
    cusparseStatus_t ci_s_ = (call);                                                      \
    if (ci_s_ != CUSPARSE_STATUS_SUCCESS)                                                 \
      return ci_set_error(CI_EDEVICE, "%s: %s failed: %s", (where), (name),               \
                          cusparseGetErrorString(ci_s_));                                 \
  } while (0)

/* After a kernel launch: the launch error (bad configuration, no device, ...). */
#define CI_LAUNCHED(where, name) CI_CU((where), (name), cudaGetLastError())

/* Threads per block and a grid covering n items (n > 0). */
#define CI_TPB 256
static inline unsigned ci_blocks(long long n) {
  long long b = (n + CI_TPB - 1) / CI_TPB;
  return (unsigned)(b > 2147483647LL ? 2147483647LL : (b < 1 ? 1 : b));
}

#endif
