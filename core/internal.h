/* internal.h: helpers shared by the engine's C files; not part of the public API. */
#ifndef CI_INTERNAL_H
#define CI_INTERNAL_H

#include "cinterp.h"

#include <stdint.h>
#include <stdlib.h>

#define CI_VERSION_STRING "0.1.0"

/* Records a printf-style message as the last error and returns code. */
int ci_set_error(int code, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* 64-byte aligned allocation of n bytes (n may be 0: returns NULL, not an error).
 * Sets *ok = 0 on failure. Free with ci_free_aligned. */
void *ci_alloc_aligned(size_t n, int *ok);
void ci_free_aligned(void *p);

/* Big buffers from the system (core/bigmem.c): ci_big_alloc maps
 * ci_big_len(bytes) (whole 4 KiB pages, zero-filled) for a use:
 * CI_BIG_GATHERED (read at random: 2 MiB pages when ci_tune.hugepages) or
 * CI_BIG_WRITTEN (written whole right away: populated at once); NULL on
 * failure. ci_big_free(p, bytes) unmaps it (the same bytes). */
enum { CI_BIG_GATHERED = 0, CI_BIG_WRITTEN = 1 };
size_t ci_big_len(size_t bytes);
void *ci_big_alloc(size_t bytes, int use);
void ci_big_free(void *p, size_t bytes);
/* Releases the data of the last big tensor freed, kept for the next tensor of
 * its size (tensor.c). */
void ci_tensor_drop_spare(void);

/* Overflow-checked products: return 0 and set *out on success, -1 on overflow. */
static inline int ci_mul_size(size_t a, size_t b, size_t *out) {
  if (a != 0 && b > SIZE_MAX / a) return -1;
  *out = a * b;
  return 0;
}
static inline int ci_mul_i64(int64_t a, int64_t b, int64_t *out) {
  if (a < 0 || b < 0) return -1;
  if (a != 0 && b > INT64_MAX / a) return -1;
  *out = a * b;
  return 0;
}

/* ---- the tape's node (core/tape.c); used by every differentiable op ---- */

#define CI_NODE_MAX_INPUTS 8

/* Computes the gradients of a node's inputs from the gradient of its output.
 * grad_in[i] is NULL on entry; set it (a new reference, same shape as
 * inputs[i]) for every input i that needs a gradient (ci_needs_grad), or leave
 * it NULL for "no gradient". Returns CI_OK or an error code. */
typedef int (*ci_backward_fn)(ci_node *node, const ci_tensor *grad_out,
                              ci_tensor **grad_in);

struct ci_node {
  int32_t refcount;
  int32_t n_inputs;
  const char *name;                        /* op name, for messages */
  ci_tensor *inputs[CI_NODE_MAX_INPUTS];   /* retained; entries may be NULL */
  ci_tensor *saved[4];                     /* retained tensors the backward needs */
  double scalars[4];                       /* op constants (exponent, bounds, ...) */
  int64_t ints[4];                         /* op constants (dim, index, ...) */
  int64_t out_shape[4];                    /* shape of the output */
  int32_t out_ndim;
  ci_backward_fn backward;
  void *ctx;                               /* op-specific state, freed by free_ctx */
  void (*free_ctx)(void *ctx);
  ci_tensor *grad_accum;                   /* used during backward only */
  int64_t visit;                           /* used during backward only */
};

/* 1 when grad recording is on (not inside no_grad) and t takes part in the tape. */
int ci_needs_grad(const ci_tensor *t);
/* Creates a node for `out` with the given inputs (retained) and backward function,
 * and sets out->grad_fn and out->requires_grad. Returns the node (borrowed from
 * out) or NULL on allocation failure (error set). Only call when at least one
 * input needs grad. */
ci_node *ci_node_attach(ci_tensor *out, const char *name, int n_inputs,
                        ci_tensor *const *inputs, ci_backward_fn backward);
void ci_node_release(ci_node *node);

/* Tensor internals shared by the ops. */
int ci_tensor_new_like(const ci_tensor *t, ci_tensor **out);
/* As ci_tensor_new, the data not zeroed: for a caller that writes every element. */
int ci_tensor_new_unset(int ndim, const int64_t *shape, ci_tensor **out);
/* Frees the data of a tensor with on_device = 1 (core/device.c). */
void ci_device_free_data(void *p);
int ci_check_shape(int ndim, const int64_t *shape, int64_t *numel, const char *where);

/* ---- speed knobs (core/tuning.c) and per-phase timers (core/profile.c) ---- */

typedef struct ci_tuning {
  int64_t act_fused, spmm_prefetch, spmm_prefetch_far, spmm_block_above, spmm_block_bytes,
      hugepages;
} ci_tuning;
extern ci_tuning ci_tune;

enum { CI_PROF_FWD_PRODUCT, CI_PROF_FWD_ACTIVATION, CI_PROF_FWD_OUTPUT, CI_PROF_FWD_TOTAL,
       CI_PROF_BWD_ELEMENTWISE, CI_PROF_BWD_PRODUCT, CI_PROF_BWD_LAYOUT, CI_PROF_BWD_TOTAL };
extern int ci_prof_on;
double ci_prof_now(void);
/* Adds the seconds since t0 (a ci_prof_start) to the phase. */
void ci_prof_add(int phase, double t0);
/* The start of a timed phase: a clock reading when profiling is on, else 0. */
static inline double ci_prof_start(void) { return ci_prof_on ? ci_prof_now() : 0.0; }
static inline void ci_prof_stop(int phase, double t0) {
  if (ci_prof_on) ci_prof_add(phase, t0);
}

#endif /* CI_INTERNAL_H */
