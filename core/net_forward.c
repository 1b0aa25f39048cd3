/* net_forward.c: the network's forward pass: per timestep one fused pass over
 * the rows that does the sparse product (batch innermost, OpenMP over rows)
 * and the activation, then the (B, n, L) output and, when gradients are
 * needed, the one tape node that holds the state for the backward. */
#include "net_internal.h"
#ifdef CI_CUDA
#include "cuda_internal.h"
#endif

#include <math.h>
#include <string.h>

/* Divisive term of row i for batch column b: sum over the divisive edges
 * (i <- j) of w * x[j, b] * sig[j]. */
static inline float row_divisive(const ci_csr *m, const float *sig, int32_t i, const float *x,
                                 int64_t B, int64_t b) {
  float d = 0.0f;
  for (int64_t e = m->rowptr[i]; e < m->rowptr[i + 1]; e++) {
    int32_t j = m->colidx[e];
    d += m->vals[e] * sig[j] * x[(int64_t)j * B + b];
  }
  return d;
}

int net_pass_init(net_pass *ps, ci_net *net, const ci_tensor *input, const ci_manip *manip,
                  int64_t n_manip, const char *where) {
  memset(ps, 0, sizeof *ps);
  int32_t n = net->n, L = net->num_layers, S = net->n_sensory;
  if (!input) return ci_set_error(CI_EINVAL, "%s: inputs is NULL", where);
  if (input->on_device)
    return ci_set_error(CI_EDEVICE, "%s: inputs live on the GPU but the network is on the CPU",
                        where);
  if (input->ndim != 3 || input->shape[1] != S || input->shape[2] != L)
    return ci_set_error(CI_EINVAL,
                        "%s: inputs must have shape (batch, %d sensory, %d layers), got %dd "
                        "(%lld, %lld, %lld)",
                        where, S, L, input->ndim, (long long)input->shape[0],
                        (long long)input->shape[1], (long long)input->shape[2]);
  if (n_manip < 0 || (n_manip > 0 && !manip))
    return ci_set_error(CI_EINVAL, "%s: manipulate list is missing", where);
  int64_t B = input->shape[0];
  for (int64_t m = 0; m < n_manip; m++) {
    if (manip[m].neuron < 0 || manip[m].neuron >= n)
      return ci_set_error(CI_EINVAL, "%s: manipulate: neuron %d is out of range 1..%d", where,
                          manip[m].neuron + 1, n);
    if (manip[m].layer < 0 || manip[m].layer >= L)
      return ci_set_error(CI_EINVAL, "%s: manipulate: layer %d is out of range 1..%d", where,
                          manip[m].layer + 1, L);
    if (manip[m].batch >= B)
      return ci_set_error(CI_EINVAL, "%s: manipulate: batch %d is out of range 1..%lld", where,
                          manip[m].batch + 1, (long long)B);
  }
  ps->net = net;
  ps->B = B;
  ps->L = L;
  ps->u = input->data;
  size_t nn = (size_t)(n ? n : 1);
  ps->co.k = malloc(nn * sizeof(float));
  ps->co.c = malloc(nn * sizeof(float));
  ps->co.tau = malloc(nn * sizeof(float));
  ps->co.sig = net->wd ? malloc(nn * sizeof(float)) : NULL;
  ps->manip_start = calloc((size_t)L + 2, sizeof(int64_t));
  ps->manip = malloc(sizeof(ci_manip) * (size_t)(n_manip ? n_manip : 1));
  int okp;
  ps->pbuf = net_buf_get(net, sizeof(float) * (size_t)n * (size_t)B, &okp);
  if (!okp || !ps->co.k || !ps->co.c || !ps->co.tau || (net->wd && !ps->co.sig) || !ps->manip_start ||
      !ps->manip) {
    net_pass_free(ps);
    return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  }
  for (int32_t i = 0; i < n; i++) {
    if (net->n_groups > 0) {
      int32_t g = net->group_of[i];
      ps->co.k[i] = net->param[CI_PARAM_SLOPE]->data[g];
      ps->co.c[i] = fabsf(net->param[CI_PARAM_RAW_BIAS]->data[g]);
      float tp = net->param[CI_PARAM_TAU]->data[g];
      ps->co.tau[i] = tp < 1.0f ? 1.0f : tp;
      if (ps->co.sig) ps->co.sig[i] = net->param[CI_PARAM_DIV_STRENGTH]->data[g];
    } else {
      ps->co.k[i] = net->slope0;
      ps->co.c[i] = net->bias0;
      ps->co.tau[i] = net->tau0;
    }
  }
  /* manipulations sorted by layer (stable: later entries win, as dict order
   * does); every layer is in range here (checked above) */
  int64_t kept = 0;
  for (int64_t m = 0; m < n_manip; m++) ps->manip_start[manip[m].layer + 1]++;
  for (int32_t l = 0; l < L; l++) ps->manip_start[l + 1] += ps->manip_start[l];
  int64_t *fill = calloc((size_t)L + 1, sizeof(int64_t));
  if (!fill) { net_pass_free(ps); return ci_set_error(CI_ENOMEM, "%s: out of memory", where); }
  for (int64_t m = 0; m < n_manip; m++) {
    int32_t l = manip[m].layer;
    ps->manip[ps->manip_start[l] + fill[l]++] = manip[m];
    kept++;
  }
  free(fill);
  ps->n_manip = kept;
  return CI_OK;
}

void net_pass_free(net_pass *ps) {
  free(ps->co.k); free(ps->co.c); free(ps->co.tau); free(ps->co.sig);
  free(ps->manip); free(ps->manip_start);
  if (ps->net) net_buf_put(ps->net, ps->pbuf, sizeof(float) * (size_t)ps->net->n * (size_t)ps->B);
  memset(ps, 0, sizeof *ps);
}

void net_place_input(const net_pass *ps, float *x0) {
  const ci_net *net = ps->net;
  int64_t B = ps->B, S = net->n_sensory, L = ps->L;
  memset(x0, 0, sizeof(float) * (size_t)net->n * (size_t)B);
  for (int64_t s = 0; s < S; s++)
    for (int64_t b = 0; b < B; b++)
      x0[(int64_t)net->sensory[s] * B + b] = ps->u[(b * S + s) * L + 0];
}

/* What the activation of one row needs. */
typedef struct act_ctx {
  const net_pass *ps;
  int32_t t;
  const float *xp;
  float *x;
} act_ctx;

/* The activation of row i of step t from p_t[i, :] (DESIGN.md, Forward). */
static void act_row(void *vctx, int32_t i, float *prow) {
  const act_ctx *cx = vctx;
  const net_pass *ps = cx->ps;
  const ci_net *net = ps->net;
  const ci_csr *wd = net->wd;
  const int64_t B = ps->B, S = net->n_sensory, L = ps->L;
  const int32_t t = cx->t;
  const float th = net->threshold;
  const int ml = net->kind == CI_NET_MULTILAYERED;
  const int last = t == L;
  const float k = ps->co.k[i], c = ps->co.c[i], tau = ps->co.tau[i];
  const float decay = (tau - 1.0f) / tau;
  const int32_t slot = net->slot_of[i];
  const int64_t row = (int64_t)i * B;
  const float *xp = cx->xp;
  float *x = cx->x;
  for (int64_t b = 0; b < B; b++) {
    float s = k;
    if (wd) {
      float sv = k * (1.0f + row_divisive(wd, ps->co.sig, i, xp, B, b));
      s = sv < 0.0f ? 0.0f : sv;
    }
    const float a = s * prow[b] + c;
    const float xprev = xp[row + b];
    float y;
    if (ml) {
      const float h = a < th ? 0.0f : a;
      y = tanhf(h) / tau + decay * xprev;
    } else {
      y = a / tau + decay * xprev;
    }
    if (!last) {
      if (slot >= 0) y += ps->u[(b * S + slot) * L + t];
      if (ml) {
        y = y < th ? 0.0f : y;
        y = y > 1.0f ? 1.0f : y;
      }
    }
    x[row + b] = y;
  }
}

void net_step_forward(const net_pass *ps, int32_t t, const float *xp, float *x, float *pst) {
  const ci_net *net = ps->net;
  const int64_t B = ps->B;
  /* p_t = W x_{t-1} and the activation in one pass: the tuned row-parallel
   * product (csr_spmm.c) calls act_row on each row while it is in cache. When
   * x_{t-1} is mostly zero the product is pushed through the transpose
   * instead (net_product), then the activation runs as its own pass. */
  float *p = pst ? pst : ps->pbuf;
  act_ctx cx = {ps, t, xp, x};
  if (net_product_is_sparse(net->w, xp, B)) {
    net_product(net->w, net->wt, xp, B, p, 0);
#pragma omp parallel for schedule(static)
    for (int32_t i = 0; i < net->n; i++) act_row(&cx, i, p + (int64_t)i * B);
  } else {
    ci_csr_spmm_fused(net->w, xp, B, p, 0, act_row, &cx);
  }
  for (int64_t m = ps->manip_start[t - 1]; m < ps->manip_start[t]; m++) {
    const ci_manip *mp = &ps->manip[m];
    if (mp->batch < 0)
      for (int64_t b = 0; b < B; b++) x[(int64_t)mp->neuron * B + b] = mp->value;
    else
      x[(int64_t)mp->neuron * B + mp->batch] = mp->value;
  }
}

void net_state_free(net_state *st) {
  if (!st) return;
  int32_t L = st->pass.L;
  ci_net *net = st->pass.net;
  size_t slab = net ? sizeof(float) * (size_t)net->n * (size_t)st->pass.B : 0;
  if (st->x) for (int32_t t = 0; t <= L; t++) net_buf_put(net, st->x[t], slab);
  if (st->p) for (int32_t t = 0; t < L; t++) net_buf_put(net, st->p[t], slab);
  free(st->x);
  free(st->p);
  ci_tensor_release(st->input);
  net_pass_free(&st->pass);
  ci_net_release(net); /* the state (a tape node's ctx) keeps its network alive */
  free(st);
}

static void state_free_ctx(void *ctx) { net_state_free(ctx); }

/* Runs the forward, keeping in a new state the slabs the backward needs
 * (keep_for_grad) and writing the (B, n, L) output when out != NULL. */
int net_run_forward(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                    int32_t ck, int keep_for_grad, ci_tensor **out, net_state **state_out,
                    const char *where) {
  if (ck < 0) return ci_set_error(CI_EINVAL, "%s: checkpoint_steps = %d, expected >= 0", where, ck);
  net_state *st = calloc(1, sizeof *st);
  if (!st) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  int rc = net_pass_init(&st->pass, net, input, manip, n_manip, where);
  if (rc) { free(st); return rc; }
  ci_net_retain(net);
  const int32_t L = st->pass.L;
  const int64_t B = st->pass.B, n = net->n;
  st->ck = ck;
  st->input = input;
  ci_tensor_retain(input);
  size_t slab;
  if (ci_mul_size((size_t)n, (size_t)B, &slab) || ci_mul_size(slab, sizeof(float), &slab)) {
    net_state_free(st);
    return ci_set_error(CI_ENOMEM, "%s: state size overflows", where);
  }
  st->x = calloc((size_t)L + 1, sizeof(float *));
  st->p = calloc((size_t)L, sizeof(float *));
  ci_tensor *o = NULL;
  if (!st->x || !st->p) goto oom;
  int ok;
  for (int32_t t = 0; t <= L; t++) {
    st->x[t] = net_buf_get(net, slab, &ok);
    if (!ok) goto oom;
  }
  if (keep_for_grad && ck == 0)
    for (int32_t t = 0; t < L; t++) {
      st->p[t] = net_buf_get(net, slab, &ok);
      if (!ok) goto oom;
    }
  net_place_input(&st->pass, st->x[0]);
  for (int32_t t = 1; t <= L; t++) net_step_forward(&st->pass, t, st->x[t - 1], st->x[t], st->p[t - 1]);
  if (out) {
    int64_t shape[3] = {B, n, L};
    if ((rc = ci_tensor_new(3, shape, &o))) { net_state_free(st); return rc; }
    float *od = o->data;
    float *const *xs = st->x;
#pragma omp parallel for schedule(static)
    for (int64_t bi = 0; bi < B * n; bi++) {
      int64_t b = bi / n, i = bi % n;
      for (int32_t t = 0; t < L; t++) od[bi * L + t] = xs[t + 1][i * B + b];
    }
  }
  int64_t kept = 0;
  if (keep_for_grad) {
    for (int32_t t = 0; t <= L; t++) {
      int keep = ck == 0 ? (t < L) : (t % ck == 0 && t < L);
      if (!keep) { net_buf_put(net, st->x[t], slab); st->x[t] = NULL; }
      else kept += (int64_t)slab;
      if (t < L && st->p[t]) kept += (int64_t)slab;
    }
    net->last_stored_bytes = kept;
    *state_out = st;
  } else {
    net_state_free(st);
  }
  if (out) *out = o;
  return CI_OK;
oom:
  net_state_free(st);
  ci_tensor_release(o);
  return ci_set_error(CI_ENOMEM, "%s: out of memory for the network state (%d layers of %lld x %lld)",
                      where, L, (long long)n, (long long)B);
}

static int net_node_backward(ci_node *node, const ci_tensor *grad_out, ci_tensor **grad_in);

int ci_net_forward(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                   int32_t checkpoint_steps, ci_tensor **out) {
  const char *where = "ci_net_forward";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  if (!net) return ci_set_error(CI_EINVAL, "%s: net is NULL", where);
#ifdef CI_CUDA
  if (net->on_device) /* the whole loop on the GPU (kernels/net.cu) */
    return ci_cuda_net_forward(net, input, manip, n_manip, checkpoint_steps, out);
#endif
  int need = ci_needs_grad(input);
  for (int k = 0; k < 4; k++) need |= ci_needs_grad(net->param[k]);
  net_state *st = NULL;
  ci_tensor *o = NULL;
  int rc = net_run_forward(net, input, manip, n_manip, checkpoint_steps, need, &o, &st, where);
  if (rc) return rc;
  if (need) {
    ci_tensor *inputs[5] = {input, net->param[0], net->param[1], net->param[2], net->param[3]};
    ci_node *node = ci_node_attach(o, "network forward", net->n_groups > 0 ? 5 : 1, inputs,
                                   net_node_backward);
    if (!node) { net_state_free(st); ci_tensor_release(o); return CI_ENOMEM; }
    node->ctx = st;
    node->free_ctx = state_free_ctx;
  }
  *out = o;
  return CI_OK;
}

/* Gradient tensors of the parameters (group sums) from per-neuron sums. */
int net_accumulate_param_grads(ci_net *net, const net_coeffs *co, double *g_k, double *g_c,
                               double *g_tau, double *g_sig, ci_tensor **grads_out) {
  int32_t G = net->n_groups;
  (void)co;
  if (G == 0) return CI_OK;
  double *acc = calloc((size_t)G * 4, sizeof(double));
  if (!acc) return ci_set_error(CI_ENOMEM, "network backward: out of memory");
  for (int32_t i = 0; i < net->n; i++) {
    int32_t g = net->group_of[i];
    acc[0 * G + g] += g_k[i];
    acc[1 * G + g] += g_c[i];
    acc[2 * G + g] += g_tau[i];
  }
  if (net->wd && g_sig)
    for (int32_t i = 0; i < net->wd->nrows; i++)
      for (int64_t e = net->wd->rowptr[i]; e < net->wd->rowptr[i + 1]; e++)
        acc[3 * G + net->group_of[net->wd->colidx[e]]] += g_sig[e];
  int64_t shape[1] = {G};
  int rc = CI_OK;
  for (int k = 0; k < 4 && !rc; k++) {
    if (!grads_out[k]) continue; /* caller marks wanted entries with a non-NULL placeholder */
    grads_out[k] = NULL;
    rc = ci_tensor_new(1, shape, &grads_out[k]);
    if (rc) break;
    const float *pv = net->param[k]->data;
    for (int32_t g = 0; g < G; g++) {
      double v = acc[k * G + g];
      if (k == CI_PARAM_RAW_BIAS) v *= pv[g] > 0 ? 1.0 : (pv[g] < 0 ? -1.0 : 0.0);
      if (k == CI_PARAM_TAU) v *= pv[g] >= 1.0f ? 1.0 : 0.0;
      grads_out[k]->data[g] = (float)v;
    }
  }
  free(acc);
  return rc;
}

static int net_node_backward(ci_node *node, const ci_tensor *grad_out, ci_tensor **grad_in) {
  net_state *st = node->ctx;
  ci_net *net = st->pass.net;
  ci_tensor *input = node->inputs[0];
  ci_tensor *gu = NULL;
  int rc;
  if (input->grad_on && (rc = ci_tensor_new(3, input->shape, &gu))) return rc;
  int32_t n = net->n;
  int params = net->n_groups > 0;
  double *sums = NULL;
  int64_t nd = net->wd ? net->wd->nnz : 0;
  int want[4] = {0};
  for (int k = 0; k < 4 && params; k++) want[k] = node->inputs[k + 1]->grad_on;
  int any = want[0] | want[1] | want[2] | want[3];
  if (any) {
    sums = calloc((size_t)n * 3 + (size_t)nd + 1, sizeof(double));
    if (!sums) { ci_tensor_release(gu); return ci_set_error(CI_ENOMEM, "network backward: out of memory"); }
  }
  rc = net_backward(st, grad_out->data, gu ? gu->data : NULL, NULL, any ? sums : NULL,
                    any ? sums + n : NULL, any ? sums + 2 * (size_t)n : NULL,
                    any && nd ? sums + 3 * (size_t)n : NULL);
  if (!rc && any) {
    ci_tensor *g[4];
    for (int k = 0; k < 4; k++) g[k] = want[k] ? (ci_tensor *)1 : NULL;
    rc = net_accumulate_param_grads(net, &st->pass.co, sums, sums + n, sums + 2 * (size_t)n,
                                    nd ? sums + 3 * (size_t)n : NULL, g);
    for (int k = 0; k < 4; k++) {
      if (rc) { if (g[k] != (ci_tensor *)1) ci_tensor_release(g[k]); }
      else grad_in[k + 1] = g[k];
    }
  }
  free(sums);
  if (rc) { ci_tensor_release(gu); return rc; }
  grad_in[0] = gu;
  return CI_OK;
}
