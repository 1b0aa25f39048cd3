/* hd.h: CI_HD marks an inline function that runs on the host and, under nvcc,
 * on the GPU too: the maths shared by core/ (gcc) and kernels/ (nvcc) is written
 * once in headers that use it. ci_pick: a select that keeps loops vectorisable. */
#ifndef CI_HD_H
#define CI_HD_H

#include <stdint.h>
#include <string.h>

#ifdef __CUDACC__
#define CI_HD __host__ __device__
#else
#define CI_HD
#endif

/* c ? a : b on the bits of floats, so that gcc keeps a loop of it branch-free
 * and vectorises it: with a C ?: it may move the arithmetic that feeds one side
 * into a branch (a division, a multiply that could trap) and then give up. */
CI_HD static inline float ci_pick(int c, float a, float b) {
  uint32_t ua, ub;
  memcpy(&ua, &a, sizeof ua);
  memcpy(&ub, &b, sizeof ub);
  const uint32_t m = 0u - (uint32_t)(c != 0);
  const uint32_t r = (ua & m) | (ub & ~m);
  float f;
  memcpy(&f, &r, sizeof f);
  return f;
}

#endif
