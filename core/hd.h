/* hd.h: CI_HD marks an inline function that runs on the host and, under nvcc,
 * on the GPU too: the maths shared by core/ (gcc) and kernels/ (nvcc) is written
 * once in headers that use it. */
#ifndef CI_HD_H
#define CI_HD_H

#ifdef __CUDACC__
#define CI_HD __host__ __device__
#else
#define CI_HD
#endif

#endif
