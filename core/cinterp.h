/* cinterp.h: the one public header of the cinterp engine (libcinterp).
 *
 * The engine is a C11 library with no Lua in it. LuaJIT reads the part of this
 * header between the CI_FFI_BEGIN and CI_FFI_END markers with ffi.cdef (the
 * Makefile extracts it into build/lua/cinterp/cdef.lua), so that part holds no
 * preprocessor directives.
 *
 * Tutorial
 * --------
 *   ci_tensor *x = NULL, *y = NULL;
 *   int64_t shape[2] = {2, 3};
 *   if (ci_tensor_new(2, shape, &x) != CI_OK) puts(ci_last_error());
 *   ci_tensor_scalar_op(CI_OP_MUL, x, 2.0, &y);   // y = x * 2, a new tensor
 *   ci_tensor_release(y); ci_tensor_release(x);
 *
 * Conventions
 * -----------
 * - Every fallible function returns an int status: CI_OK (0) or a negative
 *   CI_E* code; the message (naming the argument) is then in ci_last_error(),
 *   which is thread-local and valid until the next failing call.
 * - Indices in the C API are 0-based; the Lua layer converts from 1-based.
 * - Ownership words: _new (caller owns one reference), _retain (adds one),
 *   _release (drops one, frees at zero). Out-parameters of type T** receive a
 *   new reference that the caller must release. Arguments are borrowed.
 * - On error nothing the caller passed in is modified and out-params are left
 *   NULL.
 * - Tensors are dense, contiguous, row-major float32, 0..4 dimensions.
 */
#ifndef CINTERP_H
#define CINTERP_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* CI_FFI_BEGIN */

/* ===== errors (core/error.c) ===== */

enum {
  CI_OK = 0,
  CI_EINVAL = -1,    /* bad argument: wrong shape, out-of-range index, ... */
  CI_ENOMEM = -2,    /* allocation failed or size overflow */
  CI_EIO = -3,       /* file missing, unreadable, malformed */
  CI_ESTATE = -4,    /* object in the wrong state for this call */
  CI_EDEVICE = -5    /* CUDA requested but unavailable, or a CUDA failure */
};

/* The message of the last failing call on this thread ("" if none). */
const char *ci_last_error(void);
/* Clears the last error message. */
void ci_clear_error(void);
/* Engine version string, e.g. "0.1.0". */
const char *ci_version(void);
/* Number of OpenMP threads the engine uses (1 without OpenMP). */
int ci_num_threads(void);
void ci_set_num_threads(int n);

/* ===== random numbers (core/rng.c) ===== */

/* One global seedable generator (xoshiro256**) drives every random draw. */
void ci_manual_seed(uint64_t seed);
/* Uniform double in [0, 1). */
double ci_rng_uniform(void);
/* Standard normal double. */
double ci_rng_normal(void);

/* ===== tensors (core/tensor.c, core/tensor_ops.c) ===== */

typedef struct ci_node ci_node;
typedef struct ci_tensor ci_tensor;

/* Field names differ from the Lua method names on purpose (t:numel(), t.grad,
 * t:requires_grad(...) are methods/properties of the Lua metatype). */
struct ci_tensor {
  float *data;             /* nel floats, owned, 64-byte aligned (NULL if nel == 0) */
  int64_t nel;             /* number of elements: product of shape (1 for a 0-d scalar) */
  int64_t shape[4];        /* sizes of the first ndim dimensions, rest 1 */
  int32_t ndim;            /* 0..4 */
  int32_t refcount;        /* references held; freed when it drops to 0 */
  int32_t grad_on;         /* 1: a leaf that collects a gradient, or a result on the tape */
  int32_t on_device;       /* 0 = cpu; 1 = cuda (data then lives on the GPU) */
  ci_tensor *grad_t;       /* accumulated gradient (same shape) or NULL */
  ci_node *grad_fn;        /* tape node that produced it, NULL for leaves */
};

/* Creates a zero-filled tensor of ndim (0..4) dimensions. */
int ci_tensor_new(int ndim, const int64_t *shape, ci_tensor **out);
/* Creates a tensor and copies numel floats / doubles from src. */
int ci_tensor_from_floats(int ndim, const int64_t *shape, const float *src, ci_tensor **out);
int ci_tensor_from_doubles(int ndim, const int64_t *shape, const double *src, ci_tensor **out);
/* Tensor filled with value v. */
int ci_tensor_full(int ndim, const int64_t *shape, double v, ci_tensor **out);
/* Uniform [0,1) / standard normal draws from the global generator. */
int ci_tensor_rand(int ndim, const int64_t *shape, ci_tensor **out);
int ci_tensor_randn(int ndim, const int64_t *shape, ci_tensor **out);
void ci_tensor_retain(ci_tensor *t);
void ci_tensor_release(ci_tensor *t);

/* ===== CI_TENSOR_OPS: elementwise, reductions, indexing (core/tensor_ops.c) =====
 * Filled in by the tensor module (see that section's comments). */

/* ===== CI_TAPE: reverse-mode autodiff (core/tape.c) ===== */

/* Grad mode: when off (inside no_grad) no op is recorded. Returns the old mode. */
int ci_grad_enabled(void);
int ci_set_grad_enabled(int on);

/* ===== CI_SPARSE: CSR matrices (core/csr.c) ===== */

/* ===== CI_CSV: CSV tables (core/csv.c) ===== */

/* ===== CI_NET: the network engine (core/net*.c) ===== */

/* CI_FFI_END */

#ifdef __cplusplus
}
#endif
#endif /* CINTERP_H */
