/* runtime.cu: the CUDA runtime seen by the engine: the one-time probe (driver,
 * device count, a cuSPARSE handle), the device description, device memory and
 * copies. */
#include <stdio.h>
#include <string.h>

#include "check.cuh"

static int probe_done = 0, probe_ok = 0;
static char probe_msg[256];

extern "C" int ci_cuda_probe(char *msg, size_t n) {
  if (!probe_done) {
    probe_done = 1;
    int count = 0;
    cudaError_t e = cudaGetDeviceCount(&count);
    if (e != cudaSuccess) {
      snprintf(probe_msg, sizeof probe_msg, "%s (cudaGetDeviceCount)", cudaGetErrorString(e));
      (void)cudaGetLastError(); /* clear the sticky status */
    } else if (count < 1) {
      snprintf(probe_msg, sizeof probe_msg, "no CUDA device found (cudaGetDeviceCount = 0)");
    } else if ((e = cudaSetDevice(0)) != cudaSuccess) {
      snprintf(probe_msg, sizeof probe_msg, "%s (cudaSetDevice(0))", cudaGetErrorString(e));
      (void)cudaGetLastError();
    } else {
      cusparseHandle_t h = NULL;
      cusparseStatus_t s = cusparseCreate(&h);
      if (s != CUSPARSE_STATUS_SUCCESS) {
        snprintf(probe_msg, sizeof probe_msg, "cusparseCreate failed: %s",
                 cusparseGetErrorString(s));
      } else {
        cusparseDestroy(h);
        probe_ok = 1;
      }
    }
  }
  if (!probe_ok && msg && n) snprintf(msg, n, "%s", probe_msg);
  return probe_ok;
}

extern "C" int ci_cuda_describe(char *buf, size_t n) {
  const char *where = "ci_device_info";
  int dev = 0, drv = 0, rt = 0;
  cudaDeviceProp prop;
  CI_CU(where, "cudaGetDevice", cudaGetDevice(&dev));
  CI_CU(where, "cudaGetDeviceProperties", cudaGetDeviceProperties(&prop, dev));
  CI_CU(where, "cudaDriverGetVersion", cudaDriverGetVersion(&drv));
  CI_CU(where, "cudaRuntimeGetVersion", cudaRuntimeGetVersion(&rt));
  snprintf(buf, n, "%s (compute %d.%d, %.1f GiB, %d SMs), driver %d.%d, runtime %d.%d",
           prop.name, prop.major, prop.minor, (double)prop.totalGlobalMem / (1024.0 * 1024 * 1024),
           prop.multiProcessorCount, drv / 1000, (drv % 1000) / 10, rt / 1000, (rt % 1000) / 10);
  return CI_OK;
}

extern "C" int ci_cuda_malloc(void **p, size_t bytes, const char *where) {
  *p = NULL;
  if (bytes == 0) return CI_OK;
  cudaError_t e = cudaMalloc(p, bytes);
  if (e != cudaSuccess) {
    *p = NULL;
    (void)cudaGetLastError();
    return ci_set_error(e == cudaErrorMemoryAllocation ? CI_ENOMEM : CI_EDEVICE,
                        "%s: cudaMalloc of %zu bytes failed: %s", where, bytes,
                        cudaGetErrorString(e));
  }
  return CI_OK;
}

extern "C" void ci_cuda_free(void *p) {
  if (p) (void)cudaFree(p);
}

extern "C" int ci_cuda_memcpy(void *dst, const void *src, size_t bytes, int dir,
                              const char *where) {
  if (bytes == 0) return CI_OK;
  cudaMemcpyKind kind = dir == CI_H2D ? cudaMemcpyHostToDevice
                        : dir == CI_D2H ? cudaMemcpyDeviceToHost
                                        : cudaMemcpyDeviceToDevice;
  CI_CU(where, "cudaMemcpy", cudaMemcpy(dst, src, bytes, kind));
  return CI_OK;
}

extern "C" int ci_cuda_memset0(void *p, size_t bytes, const char *where) {
  if (bytes == 0) return CI_OK;
  CI_CU(where, "cudaMemset", cudaMemset(p, 0, bytes));
  return CI_OK;
}
