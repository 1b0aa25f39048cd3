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
  float *gut;               /* dLoss/du in the (L, S, B) layout of st->ut, or NULL */
  size_t ubytes;            /* its bytes */
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
  cn_pool_put(pool, key, w->gut, w->ubytes);
  for (int32_t c = 1; w->xs && c <= st->ck; c++) cn_pool_put(pool, key, w->xs[c], slab);
  for (int32_t c = 0; w->pch && c < st->ck; c++) cn_pool_put(pool, key, w->pch[c], slab);
  free(w->xs);
  free(w->pch);
}

static int work_alloc(bw_work *w, const cn_state *st, int with_grad_out, int with_grad_x,
                      int with_grad_u, const char *where) {
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
  w->ubytes = sizeof(float) * (size_t)net->n_sensory * (size_t)st->pass.B * (size_t)L;
  if (!rc && with_grad_u) rc = cn_pool_get(pool, key, w->ubytes, (void **)&w->gut, where);
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
  if (w->gut && w->ubytes) memset(w->gut, 0, w->ubytes);
  return CI_OK;
}

/* Between the user's (B, n, L) layout and the L slabs of n x B in one block
 * (gslabs, xslabs): from (B, n, L) into slabs when src_is_bnl, else back. */
static void convert_layout(const cn_state *st, const float *src, float *dst, int src_is_bnl) {
  const int64_t B = st->pass.B, n = st->pass.net->n;
  const double t0 = ci_prof_start();
  const cn_slabs slabs = {NULL, (float *)(src_is_bnl ? dst : src), (size_t)(n * B)};
  cn_layout_copy(slabs, (float *)(src_is_bnl ? src : dst), n, B, st->pass.L, st->pass.net->inv,
                 !src_is_bnl);
  ci_prof_stop(CI_PROF_BWD_LAYOUT, t0);
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

/* Row i's elementwise backward one element at a time (any row: an input at
 * t + 1, divisive terms), its parameter sums into *sk, *sc, *stau. */
static void bw_row_general(bw_work *w, int32_t i, int32_t t, const float *xp, const float *p,
                           const cn_grads *g, ci_step_mode mode, double *sk, double *sc,
                           double *stau) {
  const cn_state *st = w->st;
  const cn_pass *ps = &st->pass;
  const ci_net *net = ps->net;
  const int64_t B = ps->B;
  const float k = ps->co.k[i], c = ps->co.c[i];
  const ci_step_tau tau = {ps->co.inv[i], ps->co.keep[i]};
  const int64_t uoff = cn_input_offset(st, i, t);
  const float *u = uoff >= 0 ? st->ut + uoff : NULL;
  float *gu = uoff >= 0 && w->gut ? w->gut + uoff : NULL;
  for (int64_t b = 0; b < B; b++) {
    const int64_t ib = (int64_t)i * B + b;
    const float d = mode.div ? cn_row_divisive(net->wd, ps->co.sig, i, xp, B, b) : 0.0f;
    const ci_step_grads r =
        ci_step_backward(w->gx[ib], p[ib], d, k, c, tau, xp[ib], u ? u[b] : 0.0f, mode);
    if (gu) gu[b] += r.gz;
    *sk += r.gk;
    *sc += r.gc;
    *stau += r.gtau;
    w->gp[ib] = r.gp;
    if (mode.div) {
      w->gd[ib] = r.gd;
      if (g->sig) sig_grads_row(net->wd, i, xp, B, b, r.gd, g->sig);
    }
    w->carried[ib] = r.carried;
  }
}

/* Elements [0, count) without input or divisive terms, their coefficients
 * at k[e * cstride], c[...], tau[...]: gp and carried, and with sums != NULL
 * each element's share of the parameter sums into sums[e], sums[count + e],
 * sums[2 count + e] (gk, gc, gtau). The mode's flags and cstride are constants
 * after inlining: one vector loop (the caller adds the sums in element order,
 * so they stay what one element at a time gives). */
static inline __attribute__((always_inline)) void
bw_plain(const float *restrict gx, const float *restrict p, const float *restrict xp,
         float *restrict gp, float *restrict carried, double *restrict sums, int64_t count,
         const cn_flat *f, const int cstride, float th, const int ml, const int last) {
  const ci_step_mode m = {th, ml, 0, last};
  const float *restrict k = f->k, *restrict c = f->c, *restrict inv = f->inv,
                        *restrict keep = f->keep;
  for (int64_t e = 0; e < count; e++) {
    const ci_step_tau tau = {inv[e * cstride], keep[e * cstride]};
    const ci_step_grads r =
        ci_step_backward(gx[e], p[e], 0.0f, k[e * cstride], c[e * cstride], tau, xp[e], 0.0f, m);
    gp[e] = r.gp;
    carried[e] = r.carried;
    if (sums) {
      sums[e] = r.gk;
      sums[count + e] = r.gc;
      sums[2 * count + e] = r.gtau;
    }
  }
}

/* bw_plain with the mode's flags, f's stride and the presence of sums as constants. */
static void bw_plain_mode(const float *gx, const float *p, const float *xp, float *gp,
                          float *carried, double *sums, int64_t count, const cn_flat *f,
                          ci_step_mode m) {
#define CN_BW_PLAIN(S, CS, ML, LAST) \
  bw_plain(gx, p, xp, gp, carried, S, count, f, CS, m.th, ML, LAST)
  if (sums && f->stride) CN_WITH_MODE(m, CN_BW_PLAIN, sums, 1);
  else if (sums) CN_WITH_MODE(m, CN_BW_PLAIN, sums, 0);
  else if (f->stride) CN_WITH_MODE(m, CN_BW_PLAIN, NULL, 1);
  else CN_WITH_MODE(m, CN_BW_PLAIN, NULL, 0);
#undef CN_BW_PLAIN
}

/* The plain rows of the block [i0, i1) (cn_flat; without divisive terms): gp,
 * carried and, when want_sums, each row's parameter sums into sk/sc/stau[i - i0]
 * in element order. Rows with an input at t + 1 are redone by the caller. */
static void bw_block_plain(bw_work *w, int32_t i0, int32_t i1, const float *xp, const float *p,
                           int want_sums, ci_step_mode mode, double *sk, double *sc,
                           double *stau) {
  const cn_pass *ps = &w->st->pass;
  const int64_t B = ps->B, at = (int64_t)i0 * B, count = (i1 - i0) * B;
  cn_flat f;
  cn_flat_coeffs(&f, &ps->co, i0, i1, B);
  double sums[3 * CN_FLAT];
  for (int64_t e0 = 0; e0 < count; e0 += CN_FLAT) { /* one chunk unless a row is longer */
    const int64_t cnt = count - e0 < CN_FLAT ? count - e0 : CN_FLAT, q = at + e0;
    /* more than one chunk only for a row longer than CN_FLAT, whose coefficients are scalars */
    bw_plain_mode(w->gx + q, p + q, xp + q, w->gp + q, w->carried + q, want_sums ? sums : NULL,
                  cnt, &f, mode);
    for (int64_t e = 0; want_sums && e < cnt; e++) {
      const int64_t r = (e0 + e) / B;
      sk[r] += sums[e];
      sc[r] += sums[cnt + e];
      stau[r] += sums[2 * cnt + e];
    }
  }
}

/* The elementwise backward of step t (net_step.h) over every row, in flat
 * blocks: gp, gd, carried = the direct path to x_{t-1}, the input gradient of
 * layer t + 1 and the per-neuron parameter sums (each row's sums in one
 * thread, in element order: deterministic). */
static void step_backward_rows(bw_work *w, int32_t t, const float *xp, const float *p,
                               const cn_grads *g) {
  const cn_state *st = w->st;
  const cn_pass *ps = &st->pass;
  const ci_net *net = ps->net;
  const ci_step_mode mode = {net->threshold, net->kind == CI_NET_MULTILAYERED, net->wd != NULL,
                             t == ps->L};
  const int32_t n = net->n, R = cn_flat_rows(ps->B);
#pragma omp parallel for schedule(static)
  for (int32_t i0 = 0; i0 < n; i0 += R) {
    const int32_t i1 = i0 + R < n ? i0 + R : n;
    double sk[CN_FLAT], sc[CN_FLAT], stau[CN_FLAT];
    for (int32_t r = 0; r < i1 - i0; r++) sk[r] = sc[r] = stau[r] = 0;
    if (!mode.div) bw_block_plain(w, i0, i1, xp, p, g->k != NULL, mode, sk, sc, stau);
    for (int32_t i = i0; i < i1; i++) {
      const int32_t r = i - i0;
      if (mode.div || cn_input_offset(st, i, t) >= 0) { /* redone one element at a time */
        sk[r] = sc[r] = stau[r] = 0;
        bw_row_general(w, i, t, xp, p, g, mode, &sk[r], &sc[r], &stau[r]);
      }
      if (g->k) { g->k[i] += sk[r]; g->c[i] += sc[r]; g->tau[i] += stau[r]; }
    }
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

/* du[b, s, 1] += carried_0[sensory[s], b] (into the (L, S, B) gut, layer 1's slab). */
static void input_grad_layer1(const bw_work *w) {
  const cn_pass *ps = &w->st->pass;
  const ci_net *net = ps->net;
  const int64_t B = ps->B, S = net->n_sensory;
  for (int64_t s = 0; s < S; s++)
    for (int64_t b = 0; b < B; b++)
      w->gut[s * B + b] += w->carried[(int64_t)net->sensory[s] * B + b];
}

int cn_cpu_backward(void *state, const float *grad_out, const cn_grads *g, const char *where) {
  const cn_state *st = state;
  const double t_all = ci_prof_start();
  bw_work w;
  int rc = work_alloc(&w, st, grad_out != NULL, g->x != NULL, g->u != NULL, where);
  if (rc) return rc;
  if (w.gslabs) convert_layout(st, grad_out, w.gslabs, 1);
  for (int32_t t = st->pass.L; t >= 1; t--) {
    const float *xprev, *pt;
    states_at(&w, t, &xprev, &pt);
    double t0 = ci_prof_start();
    incoming_grad(&w, t);
    step_backward_rows(&w, t, xprev, pt, g);
    ci_prof_stop(CI_PROF_BWD_ELEMENTWISE, t0);
    t0 = ci_prof_start();
    if (t > 1) {
      if ((rc = carry_back(&w))) break;
    } else if (g->u) {
      carry_back_sensory(&w);
    }
    ci_prof_stop(CI_PROF_BWD_PRODUCT, t0);
  }
  if (!rc && g->u) {
    input_grad_layer1(&w);
    cn_input_add_to_bsl(st, w.gut, g->u);
  }
  if (!rc && w.xslabs) convert_layout(st, w.xslabs, g->x, 0);
  work_free(&w);
  ci_prof_stop(CI_PROF_BWD_TOTAL, t_all);
  return rc;
}
