/* net_backward.c: the backward of the whole unrolled network on the CPU,
 * walking t = L .. 1 as DESIGN.md derives it: for each step the incoming
 * gradient (from the output and from step t + 1), the elementwise backward of
 * net_step.h over the rows, then the row-parallel product over the stored
 * transpose that carries the gradient to x_{t-1} (no atomics). Checkpointed
 * chunks are recomputed on the way. */
#include "csr_internal.h"
#include "net_internal.h"
#include "net_step.h"

#include <string.h>

/* The work buffers of one backward (from the network's pool). */
typedef struct bw_work {
  const cn_state *st;
  size_t slab;              /* bytes of one n x B slab */
  float *gx;                /* dLoss/dx_t (total) */
  float *gp;                /* dLoss/dp_t */
  float *carried;           /* dLoss/dx_{t-1} through step t, accumulated */
  float *gd, *tmp;          /* dLoss/dd_t and Wd^T gd (divisive normalisation only) */
  float *gslabs, *xslabs;   /* grad_out / grad_x in slab layout (L, n, B), or NULL */
  float **xs, **pch;        /* a checkpointed chunk: x_{c0} .. x_{c1}, p_{c0+1} .. p_{c1} */
  int32_t chunk_c0;         /* the chunk in xs / pch (-1: none) */
} bw_work;

static void work_free(bw_work *w) {
  const cn_state *st = w->st;
  cn_pool *pool = &st->pass.net->pool;
  const int64_t key = st->pass.key;
  const size_t slab = w->slab, all = slab * (size_t)st->pass.L;
  cn_pool_put(pool, key, w->gx, slab);
  cn_pool_put(pool, key, w->gp, slab);
  cn_pool_put(pool, key, w->carried, slab);
  cn_pool_put(pool, key, w->gd, slab);
  cn_pool_put(pool, key, w->tmp, slab);
  cn_pool_put(pool, key, w->gslabs, all);
  cn_pool_put(pool, key, w->xslabs, all);
  for (int32_t c = 1; w->xs && c <= st->ck; c++) cn_pool_put(pool, key, w->xs[c], slab);
  for (int32_t c = 0; w->pch && c < st->ck; c++) cn_pool_put(pool, key, w->pch[c], slab);
  free(w->xs);
  free(w->pch);
}

static int work_alloc(bw_work *w, const cn_state *st, int with_grad_out, int with_grad_x,
                      const char *where) {
  memset(w, 0, sizeof *w);
  w->st = st;
  w->chunk_c0 = -1;
  ci_net *net = st->pass.net;
  cn_pool *pool = &net->pool;
  const int64_t key = st->pass.key;
  const int32_t L = st->pass.L, ck = st->ck;
  size_t all;
  w->slab = (size_t)net->n * (size_t)st->pass.B * sizeof(float);
  if (ci_mul_size(w->slab, (size_t)L, &all))
    return ci_set_error(CI_ENOMEM, "%s: state size overflows", where);
  int rc = cn_pool_get(pool, key, w->slab, (void **)&w->gx, where);
  if (!rc) rc = cn_pool_get(pool, key, w->slab, (void **)&w->gp, where);
  if (!rc) rc = cn_pool_get(pool, key, w->slab, (void **)&w->carried, where);
  if (!rc && net->wd) rc = cn_pool_get(pool, key, w->slab, (void **)&w->gd, where);
  if (!rc && net->wd) rc = cn_pool_get(pool, key, w->slab, (void **)&w->tmp, where);
  if (!rc && with_grad_out) rc = cn_pool_get(pool, key, all, (void **)&w->gslabs, where);
  if (!rc && with_grad_x) rc = cn_pool_get(pool, key, all, (void **)&w->xslabs, where);
  if (!rc && ck > 0) {
    w->xs = calloc((size_t)ck + 1, sizeof(float *));
    w->pch = calloc((size_t)ck, sizeof(float *));
    if (!w->xs || !w->pch) rc = ci_set_error(CI_ENOMEM, "%s: out of memory", where);
    for (int32_t c = 1; c <= ck && !rc; c++)
      rc = cn_pool_get(pool, key, w->slab, (void **)&w->xs[c], where);
    for (int32_t c = 0; c < ck && !rc; c++)
      rc = cn_pool_get(pool, key, w->slab, (void **)&w->pch[c], where);
  }
  if (rc) {
    work_free(w);
    return ci_set_error(CI_ENOMEM, "%s: out of memory for the backward's buffers", where);
  }
  if (w->slab) memset(w->carried, 0, w->slab);
  return CI_OK;
}

/* Between the user's (B, n, L) layout and L slabs of n x B, in one pass:
 * from (B, n, L) into slabs when src_is_bnl, else back. */
static void convert_layout(const cn_state *st, const float *src, float *dst, int src_is_bnl) {
  const int64_t B = st->pass.B, n = st->pass.net->n;
  const int32_t L = st->pass.L;
#pragma omp parallel for schedule(static)
  for (int64_t bi = 0; bi < B * n; bi++) {
    const int64_t b = bi / n, i = bi % n;
    for (int32_t t = 0; t < L; t++) {
      const int64_t in_bnl = bi * L + t, in_slabs = ((int64_t)t * n + i) * B + b;
      dst[src_is_bnl ? in_slabs : in_bnl] = src[src_is_bnl ? in_bnl : in_slabs];
    }
  }
}

/* x_{t-1} and p_t of step t: kept by the forward, or recomputed with the
 * rest of their checkpointed chunk (steps c0 + 1 .. c1 from the kept x_c0). */
static void states_at(bw_work *w, int32_t t, const float **xprev, const float **pt) {
  const cn_state *st = w->st;
  const int32_t ck = st->ck, L = st->pass.L;
  if (ck == 0) {
    *xprev = st->x[t - 1];
    *pt = st->p[t - 1];
    return;
  }
  const int32_t c0 = ((t - 1) / ck) * ck;
  if (c0 != w->chunk_c0) {
    const int32_t c1 = c0 + ck < L ? c0 + ck : L;
    w->xs[0] = st->x[c0];
    for (int32_t s = c0 + 1; s <= c1; s++)
      cn_step_forward(st, s, w->xs[s - 1 - c0], w->xs[s - c0], w->pch[s - 1 - c0]);
    w->chunk_c0 = c0;
  }
  *xprev = w->xs[t - 1 - c0];
  *pt = w->pch[t - 1 - c0];
}

/* gx = dLoss/dx_t: what step t + 1 carried back plus the output's gradient
 * at t (also recorded for grad_x), cut at the manipulated entries. */
static void incoming_grad(bw_work *w, int32_t t) {
  const cn_pass *ps = &w->st->pass;
  const int64_t nb = (int64_t)ps->net->n * ps->B;
  const float *gt = w->gslabs ? w->gslabs + (size_t)(t - 1) * (size_t)nb : NULL;
  float *xt = w->xslabs ? w->xslabs + (size_t)(t - 1) * (size_t)nb : NULL;
  float *gx = w->gx;
  const float *carried = w->carried;
#pragma omp parallel for schedule(static)
  for (int64_t e = 0; e < nb; e++) {
    float v = carried[e];
    if (gt) v += gt[e];
    gx[e] = v;
    if (xt) xt[e] = v;
  }
  ci_step_manip(ps->manip, ps->manip_start[t - 1], ps->manip_start[t], gx, ps->B, 1, 0, 1);
}

/* dLoss/dsigma of the divisive connections into row i, batch column b. */
static void sig_grads_row(const ci_csr *wd, int32_t i, const float *xp, int64_t B, int64_t b,
                          float gd, double *g_sig) {
  for (int64_t e = wd->rowptr[i]; e < wd->rowptr[i + 1]; e++)
    g_sig[e] += (double)gd * wd->vals[e] * xp[(int64_t)wd->colidx[e] * B + b];
}

/* The elementwise backward of step t (net_step.h) over every row: gp, gd,
 * carried = the direct path to x_{t-1}, the input gradient of layer t + 1 and
 * the per-neuron parameter sums (each row's sums in one thread: deterministic). */
static void step_backward_rows(bw_work *w, int32_t t, const float *xp, const float *p,
                               const cn_grads *g) {
  const cn_state *st = w->st;
  const cn_pass *ps = &st->pass;
  const ci_net *net = ps->net;
  const int64_t B = ps->B, ustride = cn_input_stride(st);
  const ci_step_mode mode = {net->threshold, net->kind == CI_NET_MULTILAYERED, net->wd != NULL,
                             t == ps->L};
  const float *gx = w->gx;
  float *gp = w->gp, *gd = w->gd, *carried = w->carried;
#pragma omp parallel for schedule(dynamic, 128)
  for (int32_t i = 0; i < net->n; i++) {
    const float k = ps->co.k[i], c = ps->co.c[i], tau = ps->co.tau[i];
    const int64_t uoff = cn_input_offset(st, i, t);
    const float *u = uoff >= 0 ? st->u + uoff : NULL;
    float *gu = uoff >= 0 && g->u ? g->u + uoff : NULL;
    double sk = 0, sc = 0, stau = 0;
    for (int64_t b = 0; b < B; b++) {
      const int64_t ib = (int64_t)i * B + b;
      const float d = mode.div ? cn_row_divisive(net->wd, ps->co.sig, i, xp, B, b) : 0.0f;
      const ci_step_grads r =
          ci_step_backward(gx[ib], p[ib], d, k, c, tau, xp[ib], u ? u[b * ustride] : 0.0f, mode);
      if (gu) gu[b * ustride] += r.gz;
      sk += r.gk;
      sc += r.gc;
      stau += r.gtau;
      gp[ib] = r.gp;
      if (mode.div) {
        gd[ib] = r.gd;
        if (g->sig) sig_grads_row(net->wd, i, xp, B, b, r.gd, g->sig);
      }
      carried[ib] = r.carried;
    }
    if (g->k) { g->k[i] += sk; g->c[i] += sc; g->tau[i] += stau; }
  }
}

/* carried_{t-1} += W^T gp (+ sig * Wd^T gd, the divisive path). */
static int carry_back(bw_work *w) {
  const cn_pass *ps = &w->st->pass;
  const ci_net *net = ps->net;
  const int64_t B = ps->B, n = net->n;
  int rc = ci_csr_spmm_by_operand(net->wt, net->w, w->gp, B, w->carried, 1);
  if (rc || !net->wd) return rc;
  if ((rc = ci_csr_spmm(net->wdt, w->gd, B, w->tmp, 0))) return rc;
  const float *sig = ps->co.sig, *tmp = w->tmp;
  float *carried = w->carried;
#pragma omp parallel for schedule(static)
  for (int64_t j = 0; j < n; j++)
    for (int64_t b = 0; b < B; b++) carried[j * B + b] += sig[j] * tmp[j * B + b];
  return CI_OK;
}

/* carried_0 only feeds the input gradient of layer 1, so at t = 1 the
 * product over the transpose runs for the sensory rows j alone:
 * carried[j] += (W^T gp)[j] (+ sig[j] (Wd^T gd)[j]). */
static void carry_back_sensory(bw_work *w) {
  const cn_pass *ps = &w->st->pass;
  const ci_net *net = ps->net;
  const int64_t B = ps->B;
  const float *gp = w->gp, *gd = w->gd;
  float *carried = w->carried;
#pragma omp parallel for schedule(static)
  for (int32_t s = 0; s < net->n_sensory; s++) {
    const int32_t j = net->sensory[s];
    float *cr = carried + (int64_t)j * B;
    for (int64_t e = net->wt->rowptr[j]; e < net->wt->rowptr[j + 1]; e++) {
      const float wv = net->wt->vals[e];
      const float *gr = gp + (int64_t)net->wt->colidx[e] * B;
      for (int64_t b = 0; b < B; b++) cr[b] += wv * gr[b];
    }
    if (net->wdt) {
      const float sig = ps->co.sig[j];
      for (int64_t e = net->wdt->rowptr[j]; e < net->wdt->rowptr[j + 1]; e++) {
        const float wv = net->wdt->vals[e] * sig;
        const float *gr = gd + (int64_t)net->wdt->colidx[e] * B;
        for (int64_t b = 0; b < B; b++) cr[b] += wv * gr[b];
      }
    }
  }
}

/* du[b, s, 1] += carried_0[sensory[s], b]. */
static void input_grad_layer1(const bw_work *w, float *grad_u) {
  const cn_pass *ps = &w->st->pass;
  const ci_net *net = ps->net;
  const int64_t B = ps->B, S = net->n_sensory, L = ps->L;
  for (int64_t s = 0; s < S; s++)
    for (int64_t b = 0; b < B; b++)
      grad_u[ci_step_input_index(b, s, S, L, 0)] += w->carried[(int64_t)net->sensory[s] * B + b];
}

int cn_cpu_backward(void *state, const float *grad_out, const cn_grads *g, const char *where) {
  const cn_state *st = state;
  bw_work w;
  int rc = work_alloc(&w, st, grad_out != NULL, g->x != NULL, where);
  if (rc) return rc;
  if (w.gslabs) convert_layout(st, grad_out, w.gslabs, 1);
  for (int32_t t = st->pass.L; t >= 1; t--) {
    const float *xprev, *pt;
    states_at(&w, t, &xprev, &pt);
    incoming_grad(&w, t);
    step_backward_rows(&w, t, xprev, pt, g);
    if (t > 1) {
      if ((rc = carry_back(&w))) break;
    } else if (g->u) {
      carry_back_sensory(&w);
    }
  }
  if (!rc && g->u) input_grad_layer1(&w, g->u);
  if (!rc && w.xslabs) convert_layout(st, w.xslabs, g->x, 0);
  work_free(&w);
  return rc;
}
