/* net_pool.c: the buffer pools of a network (host here; the GPU's pool in
 * kernels/net.cu uses the same code with device allocation). A pool keeps the
 * buffers of finished passes for the next pass of the same shape, so an
 * optimisation loop allocates nothing after its first iteration; a pass of
 * another shape (batch size, layers) releases them, so one large batch does
 * not stay resident through the small ones that follow. */
#include "net_internal.h"

#include <string.h>

/* Host buffers from this size on are mapped from the system (core/bigmem.c). */
#define HOST_MAP_BYTES ((size_t)1 << 20)

static int host_alloc(void **p, size_t bytes, const char *where) {
  *p = NULL;
  if (bytes == 0) return CI_OK;
  if (bytes >= HOST_MAP_BYTES) {
    void *m = ci_big_alloc(bytes, CI_BIG_GATHERED);
    if (m) {
      *p = m; /* page aligned, so 64-byte aligned */
      return CI_OK;
    }
  } else {
    int ok;
    *p = ci_alloc_aligned(bytes, &ok);
    if (ok) return CI_OK;
  }
  *p = NULL;
  return ci_set_error(CI_ENOMEM, "%s: out of memory for a buffer of %zu bytes", where, bytes);
}

static void host_release(void *p, size_t bytes) {
  if (!p) return;
  if (bytes >= HOST_MAP_BYTES) ci_big_free(p, bytes);
  else ci_free_aligned(p);
}

void cn_pool_init(cn_pool *pool, int (*alloc)(void **p, size_t bytes, const char *where),
                  void (*release)(void *p, size_t bytes)) {
  memset(pool, 0, sizeof *pool);
  pool->alloc = alloc;
  pool->release = release;
  pool->key = -1;
}

void cn_pool_init_host(cn_pool *pool) { cn_pool_init(pool, host_alloc, host_release); }

void cn_pool_clear(cn_pool *pool) {
  for (int32_t k = 0; k < pool->n; k++) pool->release(pool->ptr[k], pool->bytes[k]);
  pool->n = 0;
}

int cn_pool_get(cn_pool *pool, int64_t key, size_t bytes, void **out, const char *where) {
  if (key != pool->key) { /* a pass of another shape: what is held is not its size */
    cn_pool_clear(pool);
    ci_tensor_drop_spare(); /* nor is the last big output tensor freed (tensor.c) */
    pool->key = key;
  }
  for (int32_t k = pool->n - 1; k >= 0; k--)
    if (pool->bytes[k] == bytes) {
      *out = pool->ptr[k];
      pool->n--;
      pool->ptr[k] = pool->ptr[pool->n];
      pool->bytes[k] = pool->bytes[pool->n];
      return CI_OK;
    }
  return pool->alloc(out, bytes, where);
}

void cn_pool_put(cn_pool *pool, int64_t key, void *p, size_t bytes) {
  if (!p) return;
  if (key != pool->key || pool->n == CN_POOL_SLOTS) {
    pool->release(p, bytes);
    return;
  }
  pool->ptr[pool->n] = p;
  pool->bytes[pool->n] = bytes;
  pool->n++;
}
