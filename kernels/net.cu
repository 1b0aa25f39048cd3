/* net.cu: the network's passes on the GPU, behind the interface the CPU's
 * passes have (cn_backend in core/net_internal.h; core/net_tape.c drives
 * both). ci_net_to_device uploads the fixed structure once (ordinary and
 * divisive weights with their transposes, the sensory maps). A pass copies
 * its input, coefficients and manipulations once, keeps every state slab on
 * the device, runs each timestep as a cuSPARSE product plus the step kernels
 * of net_step.cu (the maths of core/net_step.h) and copies back only the
 * (B, n, L) output or, for a backward, the input gradient, grad_x and the
 * per-neuron sums. Device buffers come from the network's pool (cn_pool, as
 * on the CPU): after the first pass of a shape a pass allocates nothing. */
#include <stdlib.h>
#include <string.h>

#include "check.cuh"
#include "net_step.cuh"

/* ------------------------------------------------------------------ */
/* The device copy of a network (ci_net.dev)                           */
/* ------------------------------------------------------------------ */

/* Held by the network while it is on the GPU and by every pass state made
 * from it (a state may outlive net:to("cpu"); its buffers go back here). */
struct dnet {
  int32_t refcount;
  void *sparse;       /* cusparseHandle_t */
  ci_cuda_csr w, wt, wd, wdt;
  int has_wd;
  int32_t *wd_rows;   /* post neuron of each divisive edge (row of wd) */
  int32_t *sensory;   /* S: slot -> neuron */
  int32_t *slot_of;   /* n: neuron -> slot or -1 */
  int32_t *perm;      /* n: engine index -> the caller's (a reordered network), or NULL */
  cn_pool pool;       /* device buffers of finished passes */
};

static void dnet_release(dnet *d) {
  if (!d || --d->refcount > 0) return;
  cn_pool_clear(&d->pool);
  ci_cuda_csr_free(&d->w);
  ci_cuda_csr_free(&d->wt);
  ci_cuda_csr_free(&d->wd);
  ci_cuda_csr_free(&d->wdt);
  ci_cuda_free(d->wd_rows);
  ci_cuda_free(d->sensory);
  ci_cuda_free(d->slot_of);
  ci_cuda_free(d->perm);
  ci_cuda_sparse_free(d->sparse);
  free(d);
}

extern "C" void ci_cuda_net_free(void *dev) { dnet_release((dnet *)dev); }

static void dev_release(void *p, size_t bytes) { ci_cuda_free(p); }

static int upload(void *dst_ptr, const void *src, size_t bytes, const char *where) {
  void **dst = (void **)dst_ptr;
  int rc = ci_cuda_malloc(dst, bytes, where);
  if (!rc) rc = ci_cuda_memcpy(*dst, src, bytes, CI_H2D, where);
  return rc;
}

/* The post neuron of every divisive edge, on the device. */
static int upload_wd_rows(const ci_csr *wd, int32_t **out, const char *where) {
  const int64_t nd = wd->nnz;
  int32_t *rows = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nd ? nd : 1));
  if (!rows) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  for (int32_t i = 0; i < wd->nrows; i++)
    for (int64_t e = wd->rowptr[i]; e < wd->rowptr[i + 1]; e++) rows[e] = i;
  int rc = upload(out, rows, sizeof(int32_t) * (size_t)nd, where);
  free(rows);
  return rc;
}

static int dnet_build(const ci_net *net, dnet *d, const char *where) {
  int rc;
  if ((rc = ci_cuda_sparse_new(&d->sparse, where))) return rc;
  if ((rc = ci_cuda_csr_upload(net->w, &d->w, where))) return rc;
  if ((rc = ci_cuda_csr_upload(net->wt, &d->wt, where))) return rc;
  if (net->wd) {
    d->has_wd = 1;
    if ((rc = ci_cuda_csr_upload(net->wd, &d->wd, where))) return rc;
    if ((rc = ci_cuda_csr_upload(net->wdt, &d->wdt, where))) return rc;
    if ((rc = upload_wd_rows(net->wd, &d->wd_rows, where))) return rc;
  }
  if ((rc = upload(&d->sensory, net->sensory, sizeof(int32_t) * (size_t)net->n_sensory, where)))
    return rc;
  if (net->perm && (rc = upload(&d->perm, net->perm, sizeof(int32_t) * (size_t)net->n, where)))
    return rc;
  return upload(&d->slot_of, net->slot_of, sizeof(int32_t) * (size_t)net->n, where);
}

extern "C" int ci_cuda_net_upload(ci_net *net, const char *where) {
  dnet *d = (dnet *)calloc(1, sizeof *d);
  if (!d) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  d->refcount = 1;
  cn_pool_init(&d->pool, ci_cuda_malloc, dev_release);
  int rc = dnet_build(net, d, where);
  if (rc) {
    dnet_release(d);
    return rc;
  }
  net->dev = d;
  return CI_OK;
}

/* ------------------------------------------------------------------ */
/* Device buffers of one pass or backward, from the pool, given back   */
/* together                                                            */
/* ------------------------------------------------------------------ */

struct dbufs {
  cn_pool *pool;
  int64_t key;
  int n, cap;
  void **ptr;
  size_t *bytes;
};

static void dbufs_init(dbufs *l, dnet *d, int64_t key) {
  memset(l, 0, sizeof *l);
  l->pool = &d->pool;
  l->key = key;
}

static void dbufs_release(dbufs *l) {
  for (int k = 0; k < l->n; k++) cn_pool_put(l->pool, l->key, l->ptr[k], l->bytes[k]);
  free(l->ptr);
  free(l->bytes);
  l->n = l->cap = 0;
  l->ptr = NULL;
  l->bytes = NULL;
}

/* A device buffer of at least `bytes` (rounded up to 256 so that buffers of
 * nearly equal sizes are reused) into *(void **)out. */
static int dbufs_get(dbufs *l, size_t bytes, void *out, const char *where) {
  void **dst = (void **)out;
  *dst = NULL;
  bytes = (bytes + 255) & ~(size_t)255;
  if (bytes == 0) return CI_OK;
  if (l->n == l->cap) {
    const int cap = l->cap ? 2 * l->cap : 16;
    void **p = (void **)realloc(l->ptr, sizeof(void *) * (size_t)cap);
    if (p) l->ptr = p;
    size_t *b = p ? (size_t *)realloc(l->bytes, sizeof(size_t) * (size_t)cap) : NULL;
    if (b) l->bytes = b;
    if (!p || !b) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
    l->cap = cap;
  }
  int rc = cn_pool_get(l->pool, l->key, bytes, dst, where);
  if (rc) return rc;
  l->ptr[l->n] = *dst;
  l->bytes[l->n] = bytes;
  l->n++;
  return CI_OK;
}

/* A buffer holding a copy of `bytes` of host memory. */
static int dbufs_upload(dbufs *l, const void *src, size_t bytes, void *out, const char *where) {
  int rc = dbufs_get(l, bytes, out, where);
  if (!rc) rc = ci_cuda_memcpy(*(void **)out, src, bytes, CI_H2D, where);
  return rc;
}

/* A zeroed buffer. */
static int dbufs_zeros(dbufs *l, size_t bytes, void *out, const char *where) {
  int rc = dbufs_get(l, bytes, out, where);
  if (!rc) rc = ci_cuda_memset0(*(void **)out, bytes, where);
  return rc;
}

/* Waits for the queued kernels; their failure becomes an error naming `what`. */
static int finish(const char *what, const char *where) {
  cudaError_t e = cudaGetLastError();
  if (e == cudaSuccess) e = cudaDeviceSynchronize();
  if (e != cudaSuccess)
    return ci_set_error(CI_EDEVICE, "%s: %s failed: %s", where, what, cudaGetErrorString(e));
  return CI_OK;
}

/* ------------------------------------------------------------------ */
/* A pass: the host pass plus its device buffers                       */
/* ------------------------------------------------------------------ */

struct dstate {
  cn_pass pass;         /* host: shape, coefficient snapshot, manipulations by layer */
  ci_net *net;          /* retained */
  dnet *d;              /* net->dev at forward time, retained */
  int32_t ck;
  cu_step s;            /* what the step kernels read (device pointers) */
  dbufs bufs;           /* every device buffer of the state */
  ci_manip *manip;      /* device copy of pass.manip */
  float **x;            /* L + 1 slabs; those not kept alias scratch[] */
  float **p;            /* L slabs when kept (ck == 0 and grad), else NULL entries */
  float *scratch[2], *pbuf, *scaled, *dterm;
  ci_tensor *input;     /* retained */
};

extern "C" void ci_cuda_net_free_state(void *state) {
  dstate *st = (dstate *)state;
  if (!st) return;
  if (st->d) dbufs_release(&st->bufs);
  free(st->x);
  free(st->p);
  ci_tensor_release(st->input);
  cn_pass_free(&st->pass);
  dnet_release(st->d);
  ci_net_release(st->net);
  free(st);
}

/* From the host pass, so it holds before upload_pass fills the kernels' view
 * (the forward sizes its output buffer first: from st->s that was 0 bytes, and
 * the first GPU run returned zeros). */
static size_t slab_bytes(const dstate *st) {
  return sizeof(float) * (size_t)st->net->n * (size_t)st->pass.B;
}

/* One timestep t (1-based): x_prev -> x, with p = W x_prev. */
static int dev_step(dstate *st, int32_t t, const float *xp, float *x, float *p,
                    const char *where) {
  dnet *d = st->d;
  const cu_step *s = &st->s;
  int rc = ci_cuda_csr_spmm(d->sparse, &d->w, xp, s->B, p, 0, where);
  if (!rc && s->div) rc = cu_scale_rows(s, xp, st->scaled, where);
  if (!rc && s->div) rc = ci_cuda_csr_spmm(d->sparse, &d->wd, st->scaled, s->B, st->dterm, 0, where);
  if (!rc) rc = cu_act_forward(s, t, p, st->dterm, xp, x, where);
  if (!rc)
    rc = cu_manip(s, st->manip, st->pass.manip_start[t - 1], st->pass.manip_start[t], x, 0, where);
  return rc;
}

/* A new state: the checks and the host pass (which never reads the input's data). */
static int dstate_new(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                      int32_t ck, int keep_for_grad, dstate **out, const char *where) {
  *out = NULL;
  if (ck < 0)
    return ci_set_error(CI_EINVAL, "%s: checkpoint_steps = %d, expected >= 0", where, ck);
  if (!net->dev) return ci_set_error(CI_ESTATE, "%s: the network has no GPU copy", where);
  if (input && input->on_device && keep_for_grad && input->grad_on)
    return ci_set_error(CI_EDEVICE,
                        "%s: gradients of inputs that live on the GPU are not supported; pass "
                        "the inputs as a CPU tensor",
                        where);
  dstate *st = (dstate *)calloc(1, sizeof *st);
  if (!st) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  int rc = cn_pass_init(&st->pass, net, input, manip, n_manip, where);
  if (rc) {
    free(st);
    return rc;
  }
  st->net = net;
  ci_net_retain(net);
  st->d = (dnet *)net->dev;
  st->d->refcount++;
  st->ck = ck;
  st->input = input;
  ci_tensor_retain(input);
  dbufs_init(&st->bufs, st->d, st->pass.key);
  *out = st;
  return CI_OK;
}

/* Input, coefficients and manipulations on the device (copied once), and
 * the kernels' view of them. */
static int upload_pass(dstate *st, const char *where) {
  const ci_net *net = st->net;
  const cn_pass *ps = &st->pass;
  cu_step *s = &st->s;
  const size_t nf = sizeof(float) * (size_t)net->n;
  s->n = net->n; s->B = ps->B; s->S = net->n_sensory; s->L = ps->L;
  s->th = net->threshold;
  s->ml = net->kind == CI_NET_MULTILAYERED;
  s->div = st->d->has_wd;
  s->slot_of = st->d->slot_of;
  s->sensory = st->d->sensory;
  s->perm = st->d->perm;
  int rc = CI_OK;
  if (st->input->on_device) s->u = st->input->data;
  else rc = dbufs_upload(&st->bufs, st->input->data, sizeof(float) * (size_t)st->input->nel, &s->u, where);
  if (!rc) rc = dbufs_upload(&st->bufs, ps->co.k, nf, &s->k, where);
  if (!rc) rc = dbufs_upload(&st->bufs, ps->co.c, nf, &s->c, where);
  if (!rc) rc = dbufs_upload(&st->bufs, ps->co.tau, nf, &s->tau, where);
  if (!rc && s->div) rc = dbufs_upload(&st->bufs, ps->co.sig, nf, &s->sig, where);
  if (!rc && ps->n_manip > 0)
    rc = dbufs_upload(&st->bufs, ps->manip, sizeof(ci_manip) * (size_t)ps->n_manip, &st->manip, where);
  return rc;
}

/* The slabs: x_t with its own buffer where the backward needs it (else one
 * of two scratch slabs), p_t when kept, the scratch p and the divisive ones. */
static int alloc_slabs(dstate *st, int keep_for_grad, const char *where) {
  const int32_t L = st->pass.L, ck = st->ck;
  const size_t slab = slab_bytes(st);
  st->x = (float **)calloc((size_t)L + 1, sizeof(float *));
  st->p = (float **)calloc((size_t)L, sizeof(float *));
  if (!st->x || !st->p) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  dbufs *l = &st->bufs;
  int rc = dbufs_get(l, slab, &st->scratch[0], where);
  if (!rc) rc = dbufs_get(l, slab, &st->scratch[1], where);
  if (!rc) rc = dbufs_get(l, slab, &st->pbuf, where);
  if (!rc && st->s.div) rc = dbufs_get(l, slab, &st->scaled, where);
  if (!rc && st->s.div) rc = dbufs_get(l, slab, &st->dterm, where);
  for (int32_t t = 0; t <= L && !rc; t++) {
    if (keep_for_grad && t < L && (ck == 0 || t % ck == 0)) rc = dbufs_get(l, slab, &st->x[t], where);
    else st->x[t] = st->scratch[t % 2];
  }
  for (int32_t t = 0; t < L && keep_for_grad && ck == 0 && !rc; t++)
    rc = dbufs_get(l, slab, &st->p[t], where);
  return rc;
}

/* The timesteps, storing each x_t into out_d ((B, n, L), or NULL). */
static int run_steps(dstate *st, float *out_d, const char *where) {
  int rc = cu_place_input(&st->s, st->x[0], where);
  for (int32_t t = 1; t <= st->pass.L && !rc; t++) {
    float *p = st->p[t - 1] ? st->p[t - 1] : st->pbuf;
    rc = dev_step(st, t, st->x[t - 1], st->x[t], p, where);
    if (!rc && out_d) rc = cu_store_output(&st->s, t, st->x[t], out_d, where);
  }
  return rc ? rc : finish("the forward's kernels", where);
}

/* The bytes a kept state holds for the backward. */
static int64_t stored_bytes(const dstate *st) {
  const int32_t L = st->pass.L, ck = st->ck;
  int64_t kept = 0;
  for (int32_t t = 0; t < L; t++) {
    if (ck == 0 || t % ck == 0) kept += (int64_t)slab_bytes(st);
    if (st->p[t]) kept += (int64_t)slab_bytes(st);
  }
  return kept;
}

extern "C" int ci_cuda_net_forward(ci_net *net, ci_tensor *input, const ci_manip *manip,
                                   int64_t n_manip, int32_t ck, int keep_for_grad,
                                   ci_tensor **out, void **state, const char *where) {
  dstate *st = NULL;
  int rc = dstate_new(net, input, manip, n_manip, ck, keep_for_grad, &st, where);
  if (rc) return rc;
  ci_tensor *o = NULL;
  float *out_d = NULL;
  dbufs tmp; /* the output's device copy, given back at once */
  dbufs_init(&tmp, st->d, st->pass.key);
  const int64_t B = st->pass.B, n = net->n, L = st->pass.L;
  size_t outb;
  if (ci_mul_size(slab_bytes(st), (size_t)L, &outb))
    rc = ci_set_error(CI_ENOMEM, "%s: state size overflows", where);
  if (!rc) rc = upload_pass(st, where);
  if (!rc) rc = alloc_slabs(st, keep_for_grad, where);
  if (!rc && out) rc = dbufs_get(&tmp, outb, &out_d, where);
  if (!rc) rc = run_steps(st, out_d, where);
  if (!rc && out) {
    const int64_t shape[3] = {B, n, L};
    rc = ci_tensor_new(3, shape, &o);
    if (!rc) rc = ci_cuda_memcpy(o->data, out_d, outb, CI_D2H, where);
  }
  dbufs_release(&tmp);
  if (rc) {
    ci_tensor_release(o);
    ci_cuda_net_free_state(st);
    return rc;
  }
  if (keep_for_grad) {
    net->last_stored_bytes = stored_bytes(st);
    *state = st;
  } else {
    ci_cuda_net_free_state(st);
  }
  if (out) *out = o;
  return CI_OK;
}

/* ------------------------------------------------------------------ */
/* Backward                                                            */
/* ------------------------------------------------------------------ */

/* The device buffers of one backward. */
struct dwork {
  dbufs bufs;
  float *gx, *gp, *carried, *gd, *tmp;  /* slabs (gd, tmp: divisive only) */
  float **xs, **pch;                    /* a checkpointed chunk */
  int32_t chunk_c0;
  float *grad_out, *grad_u, *grad_x;    /* (B, n, L), (B, S, L), (B, n, L) or NULL */
  double *sums;                         /* k, c, tau per neuron, sig per edge, or NULL */
};

static void work_free(dwork *w) {
  dbufs_release(&w->bufs);
  free(w->xs);
  free(w->pch);
}

static int work_alloc(dwork *w, const dstate *st, const float *grad_out, const cn_grads *g,
                      const char *where) {
  memset(w, 0, sizeof *w);
  w->chunk_c0 = -1;
  dbufs_init(&w->bufs, st->d, st->pass.key);
  dbufs *l = &w->bufs;
  const size_t slab = slab_bytes(st), out_b = slab * (size_t)st->pass.L;
  const int32_t ck = st->ck;
  const size_t nsums = 3 * (size_t)st->s.n + (st->d->has_wd ? (size_t)st->d->wd.nnz : 0);
  int rc = dbufs_get(l, slab, &w->gx, where);
  if (!rc) rc = dbufs_get(l, slab, &w->gp, where);
  if (!rc) rc = dbufs_zeros(l, slab, &w->carried, where);
  if (!rc && st->s.div) rc = dbufs_get(l, slab, &w->gd, where);
  if (!rc && st->s.div) rc = dbufs_get(l, slab, &w->tmp, where);
  if (!rc && grad_out) rc = dbufs_upload(l, grad_out, out_b, &w->grad_out, where);
  if (!rc && g->u) rc = dbufs_zeros(l, sizeof(float) * (size_t)st->input->nel, &w->grad_u, where);
  if (!rc && g->x) rc = dbufs_get(l, out_b, &w->grad_x, where);
  if (!rc && g->k) rc = dbufs_zeros(l, nsums * sizeof(double), &w->sums, where);
  if (!rc && ck > 0) {
    w->xs = (float **)calloc((size_t)ck + 1, sizeof(float *));
    w->pch = (float **)calloc((size_t)ck, sizeof(float *));
    if (!w->xs || !w->pch) rc = ci_set_error(CI_ENOMEM, "%s: out of memory", where);
    for (int32_t c = 1; c <= ck && !rc; c++) rc = dbufs_get(l, slab, &w->xs[c], where);
    for (int32_t c = 0; c < ck && !rc; c++) rc = dbufs_get(l, slab, &w->pch[c], where);
  }
  if (rc) work_free(w);
  return rc;
}

/* x_{t-1} and p_t of step t: kept by the forward, or recomputed with the
 * rest of their checkpointed chunk (as core/net_backward.c). */
static int states_at(dwork *w, dstate *st, int32_t t, const float **xprev, const float **pt,
                     const char *where) {
  const int32_t ck = st->ck, L = st->pass.L;
  if (ck == 0) {
    *xprev = st->x[t - 1];
    *pt = st->p[t - 1];
    return CI_OK;
  }
  const int32_t c0 = ((t - 1) / ck) * ck;
  if (c0 != w->chunk_c0) {
    const int32_t c1 = c0 + ck < L ? c0 + ck : L;
    w->xs[0] = st->x[c0];
    for (int32_t s = c0 + 1; s <= c1; s++) {
      int rc = dev_step(st, s, w->xs[s - 1 - c0], w->xs[s - c0], w->pch[s - 1 - c0], where);
      if (rc) return rc;
    }
    w->chunk_c0 = c0;
  }
  *xprev = w->xs[t - 1 - c0];
  *pt = w->pch[t - 1 - c0];
  return CI_OK;
}

/* One step of the walk t = L .. 1 (DESIGN.md, Backward). */
static int backward_step(dwork *w, dstate *st, int32_t t, const char *where) {
  dnet *d = st->d;
  const cu_step *s = &st->s;
  const float *xprev, *pt;
  int rc = states_at(w, st, t, &xprev, &pt, where);
  /* gx = carried + the output's gradient at t, cut at the manipulated entries */
  if (!rc) rc = cu_gather_grad(s, t, w->carried, w->grad_out, w->gx, w->grad_x, where);
  if (!rc)
    rc = cu_manip(s, st->manip, st->pass.manip_start[t - 1], st->pass.manip_start[t], w->gx, 1, where);
  /* the divisive term of step t, as the forward computed it */
  if (!rc && s->div) rc = cu_scale_rows(s, xprev, st->scaled, where);
  if (!rc && s->div) rc = ci_cuda_csr_spmm(d->sparse, &d->wd, st->scaled, s->B, st->dterm, 0, where);
  const size_t n = (size_t)s->n;
  const cu_step_grads g = {w->gp, w->gd, w->carried, w->grad_u, w->sums,
                           w->sums ? w->sums + n : NULL, w->sums ? w->sums + 2 * n : NULL};
  if (!rc) rc = cu_act_backward(s, t, xprev, pt, st->dterm, w->gx, &g, where);
  if (!rc && s->div && w->sums)
    rc = cu_grad_sig(s, &d->wd, d->wd_rows, w->gd, xprev, w->sums + 3 * n, where);
  if (rc || (t == 1 && !w->grad_u)) return rc; /* carried_0 only feeds the input's gradient */
  /* carried_{t-1} += W^T gp (+ sig * Wd^T gd) */
  rc = ci_cuda_csr_spmm(d->sparse, &d->wt, w->gp, s->B, w->carried, 1, where);
  if (!rc && s->div) rc = ci_cuda_csr_spmm(d->sparse, &d->wdt, w->gd, s->B, w->tmp, 0, where);
  if (!rc && s->div) rc = cu_add_scaled_rows(s, w->tmp, w->carried, where);
  return rc;
}

/* The results to the host (the caller's zeroed buffers). */
static int download(const dwork *w, const dstate *st, const cn_grads *g, const char *where) {
  const size_t n = (size_t)st->s.n, out_b = slab_bytes(st) * (size_t)st->pass.L;
  const size_t dn = sizeof(double) * n;
  int rc = CI_OK;
  if (g->u) rc = ci_cuda_memcpy(g->u, w->grad_u, sizeof(float) * (size_t)st->input->nel, CI_D2H, where);
  if (!rc && g->x) rc = ci_cuda_memcpy(g->x, w->grad_x, out_b, CI_D2H, where);
  if (!rc && g->k) rc = ci_cuda_memcpy(g->k, w->sums, dn, CI_D2H, where);
  if (!rc && g->k) rc = ci_cuda_memcpy(g->c, w->sums + n, dn, CI_D2H, where);
  if (!rc && g->k) rc = ci_cuda_memcpy(g->tau, w->sums + 2 * n, dn, CI_D2H, where);
  if (!rc && g->sig)
    rc = ci_cuda_memcpy(g->sig, w->sums + 3 * n, sizeof(double) * (size_t)st->d->wd.nnz, CI_D2H, where);
  return rc;
}

extern "C" int ci_cuda_net_backward(void *state, const float *grad_out, const cn_grads *g,
                                    const char *where) {
  dstate *st = (dstate *)state;
  if (st->net->dev != st->d)
    return ci_set_error(CI_ESTATE, "%s: the network was moved off the GPU after this forward pass",
                        where);
  if (st->s.n * st->s.B == 0) return CI_OK;
  dwork w;
  int rc = work_alloc(&w, st, grad_out, g, where);
  if (rc) return rc;
  for (int32_t t = st->pass.L; t >= 1 && !rc; t--) rc = backward_step(&w, st, t, where);
  if (!rc && w.grad_u) rc = cu_input_grad_layer1(&st->s, w.carried, w.grad_u, where);
  if (!rc) rc = finish("the backward's kernels", where);
  if (!rc) rc = download(&w, st, g, where);
  work_free(&w);
  return rc;
}
