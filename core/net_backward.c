/* net_backward.c: the hand-written backward of the whole unrolled network (one
 * tape node), walking t = L .. 1 as DESIGN.md derives it: an elementwise pass
 * over the rows, then a row-parallel product over the stored transpose (no
 * atomics), with checkpointed chunks recomputed on the way. Also ci_net_vjp. */
#include "net_internal.h"
#ifdef CI_CUDA
#include "cuda_internal.h"
#endif

#include <math.h>
#include <string.h>

int net_run_forward(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                    int32_t ck, int keep_for_grad, ci_tensor **out, net_state **state_out,
                    const char *where);

/* Elementwise part of step t for rows [0, n): from gx = dLoss/dx_t (manipulated
 * entries already zeroed) computes gp = dLoss/dp_t, gd = dLoss/dd_t (divisive),
 * carried = gy * (tau - 1) / tau (the direct path to x_{t-1}), the input
 * gradient of layer t + 1 and the per-neuron parameter sums. */
static void step_backward_rows(const net_state *st, int32_t t, const float *xp, const float *p,
                               const float *gx, float *gp, float *gd, float *carried,
                               float *grad_u, double *g_k, double *g_c, double *g_tau,
                               double *g_sig) {
  const net_pass *ps = &st->pass;
  const ci_net *net = ps->net;
  const ci_csr *wd = net->wd;
  const int64_t B = ps->B, S = net->n_sensory, L = ps->L;
  const float th = net->threshold;
  const int ml = net->kind == CI_NET_MULTILAYERED;
  const int last = t == L;
#pragma omp parallel for schedule(dynamic, 128)
  for (int32_t i = 0; i < net->n; i++) {
    const float k = ps->co.k[i], c = ps->co.c[i], tau = ps->co.tau[i];
    const float decay = (tau - 1.0f) / tau;
    const int32_t slot = net->slot_of[i];
    double sk = 0, sc = 0, stau = 0;
    for (int64_t b = 0; b < B; b++) {
      const int64_t ib = (int64_t)i * B + b;
      float d = 0.0f;
      if (wd)
        for (int64_t e = wd->rowptr[i]; e < wd->rowptr[i + 1]; e++) {
          int32_t j = wd->colidx[e];
          d += wd->vals[e] * ps->co.sig[j] * xp[(int64_t)j * B + b];
        }
      float s = k, sraw = 0.0f;
      if (wd) {
        sraw = k * (1.0f + d);
        s = sraw < 0.0f ? 0.0f : sraw;
      }
      const float a = s * p[ib] + c;
      const float xprev = xp[ib];
      float g = gx[ib], gy, ga;
      float act;
      if (ml) {
        const float h = a < th ? 0.0f : a;
        act = tanhf(h);
      } else {
        act = a;
      }
      if (!last) {
        float z = act / tau + decay * xprev;
        if (slot >= 0) z += ps->u[(b * S + slot) * L + t];
        float gz = g;
        if (ml) {
          const float zt = z < th ? 0.0f : z;
          gz = (z > th && zt <= 1.0f) ? g : 0.0f;
        }
        if (grad_u && slot >= 0) grad_u[(b * S + slot) * L + t] += gz;
        gy = gz;
      } else {
        gy = g;
      }
      if (ml) {
        const float gh = gy * (1.0f - act * act) / tau;
        ga = a > th ? gh : 0.0f;
      } else {
        ga = gy / tau;
      }
      stau += (double)gy * (double)(xprev - act) / ((double)tau * (double)tau);
      sc += ga;
      const float gs = ga * p[ib];
      gp[ib] = ga * s;
      if (wd) {
        const float q = sraw >= 0.0f ? 1.0f : 0.0f;
        sk += (double)gs * q * (1.0f + d);
        gd[ib] = gs * q * k;
        if (g_sig)
          for (int64_t e = wd->rowptr[i]; e < wd->rowptr[i + 1]; e++) {
            int32_t j = wd->colidx[e];
            g_sig[e] += (double)gd[ib] * wd->vals[e] * xp[(int64_t)j * B + b];
          }
      } else {
        sk += gs;
      }
      carried[ib] = gy * decay;
    }
    if (g_k) { g_k[i] += sk; g_c[i] += sc; g_tau[i] += stau; }
  }
}

/* carried[j] += (W^T gp)[j] (+ sig[j] (Wd^T gd)[j]) for the sensory rows j only. */
static void sensory_rows_product(const net_state *st, const float *gp, const float *gd,
                                 float *carried) {
  const ci_net *net = st->pass.net;
  const int64_t B = st->pass.B;
#pragma omp parallel for schedule(static)
  for (int32_t s = 0; s < net->n_sensory; s++) {
    const int32_t j = net->sensory[s];
    float *cr = carried + (int64_t)j * B;
    for (int64_t e = net->wt->rowptr[j]; e < net->wt->rowptr[j + 1]; e++) {
      const float w = net->wt->vals[e];
      const float *g = gp + (int64_t)net->wt->colidx[e] * B;
      for (int64_t b = 0; b < B; b++) cr[b] += w * g[b];
    }
    if (net->wdt) {
      const float sig = st->pass.co.sig[j];
      for (int64_t e = net->wdt->rowptr[j]; e < net->wdt->rowptr[j + 1]; e++) {
        const float w = net->wdt->vals[e] * sig;
        const float *g = gd + (int64_t)net->wdt->colidx[e] * B;
        for (int64_t b = 0; b < B; b++) cr[b] += w * g[b];
      }
    }
  }
}

/* Recomputes the forward over steps c0 + 1 .. c1 from x[c0], filling the
 * chunk buffers xs[0..c1-c0] (xs[0] = x_c0, borrowed) and ps_[0..c1-c0-1]. */
static void recompute_chunk(const net_state *st, int32_t c0, int32_t c1, float **xs, float **pch) {
  xs[0] = st->x[c0];
  for (int32_t t = c0 + 1; t <= c1; t++)
    net_step_forward(&st->pass, t, xs[t - 1 - c0], xs[t - c0], pch[t - 1 - c0]);
}

int net_backward(net_state *st, const float *grad_out, float *grad_u, float *grad_x,
                 double *g_k, double *g_c, double *g_tau, double *g_sig) {
  const net_pass *ps = &st->pass;
  ci_net *net = ps->net;
  const int64_t B = ps->B, n = net->n, S = net->n_sensory;
  const int32_t L = ps->L, ck = st->ck;
  size_t slab = (size_t)n * (size_t)B * sizeof(float);
  int ok1, ok2, ok3, ok4, ok5;
  float *gx = net_buf_get(net, slab, &ok1);
  float *gp = net_buf_get(net, slab, &ok2);
  float *carried = net_buf_get(net, slab, &ok3);
  float *gd = net->wd ? net_buf_get(net, slab, &ok4) : NULL;
  float *tmp = net->wd ? net_buf_get(net, slab, &ok5) : NULL;
  if (!net->wd) ok4 = ok5 = 1;
  int32_t nchunk = ck > 0 ? ck : 0;
  float **xs = NULL, **pch = NULL;
  float *gslabs = NULL, *xslabs = NULL; /* grad_out / grad_x in slab layout (L, n, B) */
  int rc = CI_OK;
  if (!ok1 || !ok2 || !ok3 || !ok4 || !ok5) goto oom;
  {
    size_t all = slab * (size_t)L;
    int okg = 1, okx = 1;
    if (slab && all / slab != (size_t)L) goto oom;
    if (grad_out) gslabs = net_buf_get(net, all, &okg);
    if (grad_x) xslabs = net_buf_get(net, all, &okx);
    if (!okg || !okx) goto oom;
  }
  if (gslabs) {
    /* one pass: (B, n, L) -> L slabs of n x B */
#pragma omp parallel for schedule(static)
    for (int64_t bi = 0; bi < B * n; bi++) {
      const int64_t b = bi / n, i = bi % n;
      for (int32_t t = 0; t < L; t++) gslabs[((int64_t)t * n + i) * B + b] = grad_out[bi * L + t];
    }
  }
  if (nchunk) {
    xs = calloc((size_t)nchunk + 1, sizeof(float *));
    pch = calloc((size_t)nchunk, sizeof(float *));
    if (!xs || !pch) goto oom;
    int ok;
    for (int32_t c = 1; c <= nchunk; c++) { xs[c] = net_buf_get(net, slab, &ok); if (!ok) goto oom; }
    for (int32_t c = 0; c < nchunk; c++) { pch[c] = net_buf_get(net, slab, &ok); if (!ok) goto oom; }
  }
  if (n * B > 0) memset(carried, 0, slab);
  int32_t chunk_c0 = -1;
  for (int32_t t = L; t >= 1; t--) {
    const float *xprev, *pt;
    if (ck == 0) {
      xprev = st->x[t - 1];
      pt = st->p[t - 1];
    } else {
      int32_t c0 = ((t - 1) / ck) * ck;
      if (c0 != chunk_c0) {
        int32_t c1 = c0 + ck < L ? c0 + ck : L;
        recompute_chunk(st, c0, c1, xs, pch);
        chunk_c0 = c0;
      }
      xprev = xs[t - 1 - c0];
      pt = pch[t - 1 - c0];
    }
    /* gx = carried + dLoss/dx_t from the output's gradient */
    {
      const float *gt = gslabs ? gslabs + (size_t)(t - 1) * (size_t)(n * B) : NULL;
      float *xt = xslabs ? xslabs + (size_t)(t - 1) * (size_t)(n * B) : NULL;
#pragma omp parallel for schedule(static)
      for (int64_t e = 0; e < n * B; e++) {
        float v = carried[e];
        if (gt) v += gt[e];
        gx[e] = v;
        if (xt) xt[e] = v;
      }
    }
    for (int64_t m = ps->manip_start[t - 1]; m < ps->manip_start[t]; m++) {
      const ci_manip *mp = &ps->manip[m];
      if (mp->batch < 0)
        for (int64_t b = 0; b < B; b++) gx[(int64_t)mp->neuron * B + b] = 0.0f;
      else
        gx[(int64_t)mp->neuron * B + mp->batch] = 0.0f;
    }
    step_backward_rows(st, t, xprev, pt, gx, gp, gd, carried, grad_u, g_k, g_c, g_tau, g_sig);
    if (t == 1) {
      /* carried_0 only feeds the input gradient of layer 1: the sensory rows */
      if (grad_u) sensory_rows_product(st, gp, gd, carried);
      break;
    }
    /* carried_{t-1} += W^T gp (+ the divisive path) */
    if ((rc = net_product(net->wt, net->w, gp, B, carried, 1))) goto done;
    if (net->wd) {
      if ((rc = ci_csr_spmm(net->wdt, gd, B, tmp, 0))) goto done;
      const float *sig = ps->co.sig;
#pragma omp parallel for schedule(static)
      for (int64_t j = 0; j < n; j++)
        for (int64_t b = 0; b < B; b++) carried[j * B + b] += sig[j] * tmp[j * B + b];
    }
  }
  if (grad_u)
    for (int64_t s = 0; s < S; s++)
      for (int64_t b = 0; b < B; b++)
        grad_u[(b * S + s) * L + 0] += carried[(int64_t)net->sensory[s] * B + b];
  if (xslabs) {
#pragma omp parallel for schedule(static)
    for (int64_t bi = 0; bi < B * n; bi++) {
      const int64_t b = bi / n, i = bi % n;
      for (int32_t t = 0; t < L; t++) grad_x[bi * L + t] = xslabs[((int64_t)t * n + i) * B + b];
    }
  }
  goto done;
oom:
  rc = ci_set_error(CI_ENOMEM, "network backward: out of memory");
done:
  net_buf_put(net, gx, slab); net_buf_put(net, gp, slab); net_buf_put(net, carried, slab);
  net_buf_put(net, gd, slab); net_buf_put(net, tmp, slab);
  net_buf_put(net, gslabs, slab * (size_t)L); net_buf_put(net, xslabs, slab * (size_t)L);
  if (xs) for (int32_t c = 1; c <= nchunk; c++) net_buf_put(net, xs[c], slab);
  if (pch) for (int32_t c = 0; c < nchunk; c++) net_buf_put(net, pch[c], slab);
  free(xs); free(pch);
  return rc;
}

/* Adds g into t's accumulated gradient. */
static int accumulate_grad(ci_tensor *t, ci_tensor *g) {
  if (!t->grad_t) {
    t->grad_t = g;
    ci_tensor_retain(g);
    return CI_OK;
  }
  for (int64_t i = 0; i < g->nel; i++) t->grad_t->data[i] += g->data[i];
  return CI_OK;
}

int ci_net_vjp(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
               int32_t checkpoint_steps, const ci_tensor *grad_out, ci_tensor **grad_input,
               ci_tensor **grad_x) {
  const char *where = "ci_net_vjp";
  if (grad_input) *grad_input = NULL;
  if (grad_x) *grad_x = NULL;
  if (!net) return ci_set_error(CI_EINVAL, "%s: net is NULL", where);
#ifdef CI_CUDA
  if (net->on_device) /* the whole loop on the GPU (kernels/net.cu) */
    return ci_cuda_net_vjp(net, input, manip, n_manip, checkpoint_steps, grad_out, grad_input,
                           grad_x);
#endif
  net_state *st = NULL;
  int rc = net_run_forward(net, input, manip, n_manip, checkpoint_steps, 1, NULL, &st, where);
  if (rc) return rc;
  const int64_t B = st->pass.B, n = net->n;
  const int32_t L = st->pass.L;
  if (grad_out && (grad_out->ndim != 3 || grad_out->shape[0] != B || grad_out->shape[1] != n ||
                   grad_out->shape[2] != L)) {
    net_state_free(st);
    return ci_set_error(CI_EINVAL, "%s: grad_out must have shape (%lld, %lld, %d)", where,
                        (long long)B, (long long)n, L);
  }
  ci_tensor *gu = NULL, *gxt = NULL;
  double *sums = NULL;
  int64_t nd = net->wd ? net->wd->nnz : 0;
  int want[4] = {0}, any = 0;
  for (int k = 0; k < 4 && net->n_groups > 0; k++) any |= want[k] = net->param[k]->grad_on;
  if (grad_input && (rc = ci_tensor_new(3, input->shape, &gu))) goto done;
  if (grad_x) {
    int64_t shape[3] = {B, n, L};
    if ((rc = ci_tensor_new(3, shape, &gxt))) goto done;
  }
  if (any) {
    sums = calloc((size_t)n * 3 + (size_t)nd + 1, sizeof(double));
    if (!sums) { rc = ci_set_error(CI_ENOMEM, "%s: out of memory", where); goto done; }
  }
  rc = net_backward(st, grad_out ? grad_out->data : NULL, gu ? gu->data : NULL,
                    gxt ? gxt->data : NULL, any ? sums : NULL, any ? sums + n : NULL,
                    any ? sums + 2 * (size_t)n : NULL, any && nd ? sums + 3 * (size_t)n : NULL);
  if (!rc && any) {
    ci_tensor *g[4];
    for (int k = 0; k < 4; k++) g[k] = want[k] ? (ci_tensor *)1 : NULL;
    rc = net_accumulate_param_grads(net, &st->pass.co, sums, sums + n, sums + 2 * (size_t)n,
                                    nd ? sums + 3 * (size_t)n : NULL, g);
    for (int k = 0; k < 4; k++) {
      if (g[k] && g[k] != (ci_tensor *)1) {
        if (!rc) accumulate_grad(net->param[k], g[k]);
        ci_tensor_release(g[k]);
      }
    }
  }
done:
  free(sums);
  net_state_free(st);
  if (rc) { ci_tensor_release(gu); ci_tensor_release(gxt); return rc; }
  if (grad_input) *grad_input = gu;
  if (grad_x) *grad_x = gxt;
  return CI_OK;
}
