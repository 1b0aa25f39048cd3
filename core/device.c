/* device.c: where computations run. Always compiled: in a build without CUDA
 * (no -DCI_CUDA) these are plain C that report "built without CUDA"; with
 * make CUDA=1 they probe the GPU through kernels/runtime.cu and move tensors
 * and networks between host and device. */
#include "internal.h"
#include "net_internal.h"
#ifdef CI_CUDA
#include "cuda_internal.h"
#endif

#include <stdio.h>
#include <string.h>

#define CI_NO_CUDA_BUILD "cinterp was built without CUDA (make CUDA=1)"

/* 1 when usable; else 0 and the reason ("no usable GPU: ...") in msg. */
static int device_usable(char *msg, size_t n) {
#ifdef CI_CUDA
  char why[256];
  if (ci_cuda_probe(why, sizeof why)) return 1;
  snprintf(msg, n, "no usable GPU: %s", why);
  return 0;
#else
  snprintf(msg, n, "%s", CI_NO_CUDA_BUILD);
  return 0;
#endif
}

int ci_cuda_available(void) {
  char msg[320];
  if (device_usable(msg, sizeof msg)) return 1;
  ci_set_error(CI_EDEVICE, "ci_cuda_available: %s", msg);
  return 0;
}

int ci_device_info(char *buf, size_t n) {
  if (!buf || n == 0) return ci_set_error(CI_EINVAL, "ci_device_info: buf is NULL or empty");
  char msg[320];
  if (!device_usable(msg, sizeof msg)) {
    snprintf(buf, n, "%s", msg);
    return ci_set_error(CI_EDEVICE, "ci_device_info: %s", msg);
  }
#ifdef CI_CUDA
  return ci_cuda_describe(buf, n);
#else
  return CI_OK; /* not reached: device_usable is 0 without CUDA */
#endif
}

/* CI_EDEVICE naming `where` when no GPU is usable, CI_OK otherwise. */
static int require_gpu(const char *where) {
  char msg[320];
  if (device_usable(msg, sizeof msg)) return CI_OK;
  return ci_set_error(CI_EDEVICE, "%s: device = cuda: %s", where, msg);
}

int ci_tensor_to(const ci_tensor *t, int device, ci_tensor **out) {
  const char *where = "ci_tensor_to";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  if (!t) return ci_set_error(CI_EINVAL, "%s: t is NULL", where);
  if (device != CI_DEVICE_CPU && device != CI_DEVICE_CUDA)
    return ci_set_error(CI_EINVAL, "%s: unknown device %d (0 = cpu, 1 = cuda)", where, device);
  if (device == CI_DEVICE_CPU && !t->on_device) {
    int rc = ci_tensor_from_floats(t->ndim, t->shape, t->data, out);
    return rc;
  }
  int rc = require_gpu(where);
  if (rc) return rc;
#ifdef CI_CUDA
  size_t bytes;
  if (ci_mul_size((size_t)t->nel, sizeof(float), &bytes))
    return ci_set_error(CI_ENOMEM, "%s: tensor size overflows", where);
  if (device == CI_DEVICE_CPU) { /* device -> host */
    ci_tensor *o = NULL;
    if ((rc = ci_tensor_new(t->ndim, t->shape, &o))) return rc;
    if (bytes && (rc = ci_cuda_memcpy(o->data, t->data, bytes, CI_D2H, where))) {
      ci_tensor_release(o);
      return rc;
    }
    *out = o;
    return CI_OK;
  }
  /* -> device: a tensor header whose data is a device allocation */
  ci_tensor *o = calloc(1, sizeof *o);
  if (!o) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  void *d = NULL;
  if (bytes && (rc = ci_cuda_malloc(&d, bytes, where))) { free(o); return rc; }
  if (bytes && (rc = ci_cuda_memcpy(d, t->data, bytes, t->on_device ? CI_D2D : CI_H2D, where))) {
    ci_cuda_free(d);
    free(o);
    return rc;
  }
  o->data = d;
  o->nel = t->nel;
  o->ndim = t->ndim;
  memcpy(o->shape, t->shape, sizeof o->shape);
  o->refcount = 1;
  o->on_device = 1;
  *out = o;
  return CI_OK;
#else
  return CI_EDEVICE; /* not reached: require_gpu fails without CUDA */
#endif
}

/* Frees the data of a device tensor (called by the tensor's release). */
void ci_device_free_data(void *p) {
#ifdef CI_CUDA
  ci_cuda_free(p);
#else
  (void)p;
#endif
}

int ci_net_to_device(ci_net *net, int device) {
  const char *where = "ci_net_to_device";
  if (!net) return ci_set_error(CI_EINVAL, "%s: net is NULL", where);
  if (device != CI_DEVICE_CPU && device != CI_DEVICE_CUDA)
    return ci_set_error(CI_EINVAL, "%s: unknown device %d (0 = cpu, 1 = cuda)", where, device);
  if (device == CI_DEVICE_CPU) {
#ifdef CI_CUDA
    if (net->dev) ci_cuda_net_free(net->dev);
#endif
    net->dev = NULL;
    net->on_device = 0;
    return CI_OK;
  }
  if (net->on_device) return CI_OK;
  int rc = require_gpu(where);
  if (rc) return rc;
#ifdef CI_CUDA
  if ((rc = ci_cuda_net_upload(net, where))) return rc;
  net->on_device = 1;
  return CI_OK;
#else
  return CI_EDEVICE; /* not reached */
#endif
}

int ci_net_device(const ci_net *net) {
  return net && net->on_device ? CI_DEVICE_CUDA : CI_DEVICE_CPU;
}
