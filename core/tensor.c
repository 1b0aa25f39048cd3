/* tensor.c: creation, reference counting and memory of dense float32 tensors.
 * Data of 1 MiB or more comes from the system (core/bigmem.c); the last few
 * such blocks freed are kept as spares for the next tensors of their sizes (an
 * optimisation loop's output and gradients, every iteration), so that their
 * pages are not faulted in and zeroed again each time (in a VM that costs
 * more than the work). A network pass of another shape drops the spares
 * (ci_tensor_drop_spare), so memory still follows the work. */
#include "internal.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* ci_tensor_fields (what LuaJIT reads) must mirror struct ci_tensor. */
#define CI_SAME_FIELD(f) \
  _Static_assert(offsetof(ci_tensor_fields, f) == offsetof(struct ci_tensor, f), \
                 "ci_tensor_fields." #f " differs from struct ci_tensor")
CI_SAME_FIELD(data);
CI_SAME_FIELD(nel);
CI_SAME_FIELD(shape);
CI_SAME_FIELD(ndim);
CI_SAME_FIELD(refcount);
CI_SAME_FIELD(grad_on);
CI_SAME_FIELD(on_device);
CI_SAME_FIELD(grad_t);
CI_SAME_FIELD(grad_fn);
_Static_assert(sizeof(ci_tensor_fields) == sizeof(struct ci_tensor),
               "ci_tensor_fields differs from struct ci_tensor");

void *ci_alloc_aligned(size_t n, int *ok) {
  *ok = 1;
  if (n == 0) return NULL;
  size_t rounded = (n + 63) & ~(size_t)63;
  if (rounded < n) { *ok = 0; return NULL; }
  void *p = aligned_alloc(64, rounded);
  if (!p) *ok = 0;
  return p;
}

void ci_free_aligned(void *p) { free(p); }

int ci_check_shape(int ndim, const int64_t *shape, int64_t *numel, const char *where) {
  if (ndim < 0 || ndim > 4)
    return ci_set_error(CI_EINVAL, "%s: ndim = %d is out of range 0..4", where, ndim);
  if (ndim > 0 && !shape)
    return ci_set_error(CI_EINVAL, "%s: shape is NULL", where);
  int64_t n = 1;
  for (int i = 0; i < ndim; i++) {
    if (shape[i] < 0)
      return ci_set_error(CI_EINVAL, "%s: size of dimension %d is negative (%lld)", where,
                          i + 1, (long long)shape[i]);
    if (ci_mul_i64(n, shape[i], &n) || n > (INT64_MAX / 8))
      return ci_set_error(CI_ENOMEM, "%s: tensor size overflows", where);
  }
  *numel = n;
  return CI_OK;
}

#define BIG_TENSOR_BYTES ((size_t)1 << 20)

enum { SPARES = 4 };
static void *spare[SPARES];       /* big blocks freed lately, oldest first, or NULL */
static size_t spare_len[SPARES];  /* their ci_big_len */

void ci_tensor_drop_spare(void) {
  for (int k = 0; k < SPARES; k++) {
    if (spare[k]) ci_big_free(spare[k], spare_len[k]);
    spare[k] = NULL;
  }
}

/* The data of a tensor of `bytes`; *fresh = 1 when it is zero already. */
static void *data_alloc(size_t bytes, int *fresh, int *ok) {
  *fresh = 0;
  if (bytes < BIG_TENSOR_BYTES) return ci_alloc_aligned(bytes, ok);
  *ok = 1;
  for (int k = SPARES - 1; k >= 0; k--)
    if (spare[k] && spare_len[k] == ci_big_len(bytes)) {
      void *p = spare[k];
      spare[k] = NULL;
      return p;
    }
  void *p = ci_big_alloc(bytes, CI_BIG_WRITTEN);
  *ok = p != NULL;
  *fresh = 1;
  return p;
}

static void data_free(void *p, size_t bytes) {
  if (bytes < BIG_TENSOR_BYTES) {
    ci_free_aligned(p);
    return;
  }
  if (spare[0]) ci_big_free(spare[0], spare_len[0]); /* the oldest goes back */
  for (int k = 0; k + 1 < SPARES; k++) {
    spare[k] = spare[k + 1];
    spare_len[k] = spare_len[k + 1];
  }
  spare[SPARES - 1] = p;
  spare_len[SPARES - 1] = ci_big_len(bytes);
}

static int tensor_alloc(int ndim, const int64_t *shape, int zero, ci_tensor **out,
                        const char *where) {
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  int64_t numel;
  int rc = ci_check_shape(ndim, shape, &numel, where);
  if (rc) return rc;
  ci_tensor *t = calloc(1, sizeof *t);
  if (!t) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  int ok, fresh;
  t->data = data_alloc((size_t)numel * sizeof(float), &fresh, &ok);
  if (!ok) {
    free(t);
    return ci_set_error(CI_ENOMEM, "%s: out of memory for %lld floats", where,
                        (long long)numel);
  }
  if (zero && numel && !fresh) memset(t->data, 0, (size_t)numel * sizeof(float));
  t->nel = numel;
  t->ndim = ndim;
  for (int i = 0; i < 4; i++) t->shape[i] = i < ndim ? shape[i] : 1;
  t->refcount = 1;
  *out = t;
  return CI_OK;
}

int ci_tensor_new(int ndim, const int64_t *shape, ci_tensor **out) {
  return tensor_alloc(ndim, shape, 1, out, "ci_tensor_new");
}

int ci_tensor_new_unset(int ndim, const int64_t *shape, ci_tensor **out) {
  return tensor_alloc(ndim, shape, 0, out, "ci_tensor_new");
}

int ci_tensor_new_like(const ci_tensor *t, ci_tensor **out) {
  return tensor_alloc(t->ndim, t->shape, 1, out, "ci_tensor_new_like");
}

int ci_tensor_from_floats(int ndim, const int64_t *shape, const float *src, ci_tensor **out) {
  int rc = tensor_alloc(ndim, shape, 0, out, "ci_tensor_from_floats");
  if (rc) return rc;
  if ((*out)->nel) {
    if (!src) {
      ci_tensor_release(*out); *out = NULL;
      return ci_set_error(CI_EINVAL, "ci_tensor_from_floats: src is NULL");
    }
    memcpy((*out)->data, src, (size_t)(*out)->nel * sizeof(float));
  }
  return CI_OK;
}

int ci_tensor_from_doubles(int ndim, const int64_t *shape, const double *src, ci_tensor **out) {
  int rc = tensor_alloc(ndim, shape, 0, out, "ci_tensor_from_doubles");
  if (rc) return rc;
  if ((*out)->nel && !src) {
    ci_tensor_release(*out); *out = NULL;
    return ci_set_error(CI_EINVAL, "ci_tensor_from_doubles: src is NULL");
  }
  for (int64_t i = 0; i < (*out)->nel; i++) (*out)->data[i] = (float)src[i];
  return CI_OK;
}

int ci_tensor_full(int ndim, const int64_t *shape, double v, ci_tensor **out) {
  int rc = tensor_alloc(ndim, shape, 0, out, "ci_tensor_full");
  if (rc) return rc;
  float f = (float)v;
  for (int64_t i = 0; i < (*out)->nel; i++) (*out)->data[i] = f;
  return CI_OK;
}

int ci_tensor_rand(int ndim, const int64_t *shape, ci_tensor **out) {
  int rc = tensor_alloc(ndim, shape, 0, out, "ci_tensor_rand");
  if (rc) return rc;
  for (int64_t i = 0; i < (*out)->nel; i++) (*out)->data[i] = (float)ci_rng_uniform();
  return CI_OK;
}

int ci_tensor_randn(int ndim, const int64_t *shape, ci_tensor **out) {
  int rc = tensor_alloc(ndim, shape, 0, out, "ci_tensor_randn");
  if (rc) return rc;
  for (int64_t i = 0; i < (*out)->nel; i++) (*out)->data[i] = (float)ci_rng_normal();
  return CI_OK;
}

void ci_tensor_retain(ci_tensor *t) {
  if (t) t->refcount++;
}

/* Freeing a tensor releases its tape node, which releases the node's inputs, and so
 * on down the graph. To keep the C stack flat for long graphs, tensors whose count
 * drops to zero while a release is in progress are queued and freed by the
 * outermost call. */
static _Thread_local int releasing;
static _Thread_local ci_tensor **pending;
static _Thread_local size_t n_pending, cap_pending;

static void tensor_free(ci_tensor *t) {
  if (t->grad_t) ci_tensor_release(t->grad_t);
  if (t->grad_fn) ci_node_release(t->grad_fn);
  if (t->on_device) ci_device_free_data(t->data); /* core/device.c */
  else data_free(t->data, (size_t)t->nel * sizeof(float));
  free(t);
}

void ci_tensor_release(ci_tensor *t) {
  if (!t) return;
  if (--t->refcount > 0) return;
  if (releasing) {
    if (n_pending == cap_pending) {
      size_t cap = cap_pending ? 2 * cap_pending : 64;
      ci_tensor **p = realloc(pending, cap * sizeof *p);
      if (!p) { tensor_free(t); return; }   /* out of memory: free it right here */
      pending = p;
      cap_pending = cap;
    }
    pending[n_pending++] = t;
    return;
  }
  releasing = 1;
  tensor_free(t);
  while (n_pending) tensor_free(pending[--n_pending]);
  releasing = 0;
}
