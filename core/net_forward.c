/* net_forward.c: a pass of the network on the CPU. cn_pass_init checks the
 * input and the manipulations and snapshots the per-neuron coefficients (the
 * GPU's pass uses it too). A timestep is one fused pass over the rows: the
 * sparse product (batch innermost, OpenMP over rows) calls the activation of
 * net_step.h on each row while it is in cache. The forward driver writes the
 * (B, n, L) output and keeps in a state what the backward (net_backward.c)
 * needs. */
#include "csr_internal.h"
#include "net_internal.h"
#include "net_step.h"

#include <math.h>
#include <string.h>

/* ---------- the pass ---------- */

static int check_pass_args(const ci_net *net, const ci_tensor *input, const ci_manip *manip,
                           int64_t n_manip, const char *where) {
  const int32_t n = net->n, L = net->num_layers, S = net->n_sensory;
  if (!input) return ci_set_error(CI_EINVAL, "%s: inputs is NULL", where);
  if (input->ndim != 3 || input->shape[1] != S || input->shape[2] != L)
    return ci_set_error(CI_EINVAL,
                        "%s: inputs must have shape (batch, %d sensory, %d layers), got %dd "
                        "(%lld, %lld, %lld)",
                        where, S, L, input->ndim, (long long)input->shape[0],
                        (long long)input->shape[1], (long long)input->shape[2]);
  if (n_manip < 0 || (n_manip > 0 && !manip))
    return ci_set_error(CI_EINVAL, "%s: manipulate list is missing", where);
  const int64_t B = input->shape[0];
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
  return CI_OK;
}

/* Slope, bias (|raw bias|), tau (at least 1) and divisive strength per neuron:
 * its group's values, or the network's scalars without groups. */
static void snapshot_coeffs(cn_coeffs *co, const ci_net *net) {
  for (int32_t i = 0; i < net->n; i++) {
    if (net->n_groups > 0) {
      const int32_t g = net->group_of[i];
      co->k[i] = net->param[CI_PARAM_SLOPE]->data[g];
      co->c[i] = fabsf(net->param[CI_PARAM_RAW_BIAS]->data[g]);
      const float tp = net->param[CI_PARAM_TAU]->data[g];
      co->tau[i] = tp < 1.0f ? 1.0f : tp;
      if (co->sig) co->sig[i] = net->param[CI_PARAM_DIV_STRENGTH]->data[g];
    } else {
      co->k[i] = net->slope0;
      co->c[i] = net->bias0;
      co->tau[i] = net->tau0;
    }
  }
}

/* The manipulations sorted by layer (stable: later entries win, as dict order
 * does); every layer is in range (checked). */
static void sort_manip(cn_pass *ps, const ci_manip *manip, int64_t n_manip, int64_t *fill) {
  for (int64_t m = 0; m < n_manip; m++) ps->manip_start[manip[m].layer + 1]++;
  for (int32_t l = 0; l < ps->L; l++) ps->manip_start[l + 1] += ps->manip_start[l];
  for (int64_t m = 0; m < n_manip; m++) {
    const int32_t l = manip[m].layer;
    ps->manip[ps->manip_start[l] + fill[l]++] = manip[m];
  }
  ps->n_manip = n_manip;
}

int cn_pass_init(cn_pass *ps, ci_net *net, const ci_tensor *input, const ci_manip *manip,
                 int64_t n_manip, const char *where) {
  memset(ps, 0, sizeof *ps);
  int rc = check_pass_args(net, input, manip, n_manip, where);
  if (rc) return rc;
  const int32_t L = net->num_layers;
  const size_t nn = (size_t)(net->n ? net->n : 1);
  ps->net = net;
  ps->B = input->shape[0];
  ps->L = L;
  ps->key = cn_pass_key(ps->B, L);
  ps->co.k = malloc(nn * sizeof(float));
  ps->co.c = malloc(nn * sizeof(float));
  ps->co.tau = malloc(nn * sizeof(float));
  ps->co.sig = net->wd ? malloc(nn * sizeof(float)) : NULL;
  ps->manip_start = calloc((size_t)L + 2, sizeof(int64_t));
  ps->manip = malloc(sizeof(ci_manip) * (size_t)(n_manip ? n_manip : 1));
  int64_t *fill = calloc((size_t)L + 1, sizeof(int64_t));
  if (!ps->co.k || !ps->co.c || !ps->co.tau || (net->wd && !ps->co.sig) || !ps->manip_start ||
      !ps->manip || !fill) {
    free(fill);
    cn_pass_free(ps);
    return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  }
  snapshot_coeffs(&ps->co, net);
  sort_manip(ps, manip, n_manip, fill);
  free(fill);
  return CI_OK;
}

void cn_pass_free(cn_pass *ps) {
  free(ps->co.k); free(ps->co.c); free(ps->co.tau); free(ps->co.sig);
  free(ps->manip); free(ps->manip_start);
  memset(ps, 0, sizeof *ps);
}

/* ---------- one step ---------- */

/* What the activation of one row needs. */
typedef struct act_ctx {
  const cn_state *st;
  int32_t t;
  ci_step_mode mode;
  const float *xp;
  float *x;
} act_ctx;

/* The activation of row i of step t from p_t[i, :] (net_step.h). */
static void act_row(void *vctx, int32_t i, float *prow) {
  const act_ctx *cx = vctx;
  const cn_pass *ps = &cx->st->pass;
  const ci_net *net = ps->net;
  const int64_t B = ps->B, row = (int64_t)i * B;
  const float k = ps->co.k[i], c = ps->co.c[i], tau = ps->co.tau[i];
  const int64_t uoff = cn_input_offset(cx->st, i, cx->t), ustride = cn_input_stride(cx->st);
  const float *u = uoff >= 0 ? cx->st->u + uoff : NULL;
  const ci_step_mode mode = cx->mode;
  const float *xp = cx->xp;
  float *x = cx->x;
  for (int64_t b = 0; b < B; b++) {
    const float d = mode.div ? cn_row_divisive(net->wd, ps->co.sig, i, xp, B, b) : 0.0f;
    const float ub = u ? u[b * ustride] : 0.0f;
    x[row + b] = ci_step_forward(prow[b], d, k, c, tau, xp[row + b], ub, mode);
  }
}

void cn_step_forward(const cn_state *st, int32_t t, const float *xp, float *x, float *p) {
  const cn_pass *ps = &st->pass;
  const ci_net *net = ps->net;
  const int64_t B = ps->B;
  const ci_step_mode mode = {net->threshold, net->kind == CI_NET_MULTILAYERED, net->wd != NULL,
                             t == ps->L};
  act_ctx cx = {st, t, mode, xp, x};
  /* p_t = W x_{t-1} and the activation in one pass: the tuned row-parallel
   * product (csr_spmm.c) calls act_row on each row while it is in cache. When
   * x_{t-1} is mostly zero the product is pushed through the transpose
   * instead (csr_push.c), then the activation runs as its own pass. */
  if (ci_csr_operand_is_sparse(net->w, xp, B)) {
    ci_csr_spmm_by_operand(net->w, net->wt, xp, B, p, 0);
#pragma omp parallel for schedule(static)
    for (int32_t i = 0; i < net->n; i++) act_row(&cx, i, p + (int64_t)i * B);
  } else {
    ci_csr_spmm_fused(net->w, xp, B, p, 0, act_row, &cx);
  }
  ci_step_manip(ps->manip, ps->manip_start[t - 1], ps->manip_start[t], x, B, 0, 0, 1);
}

/* ---------- the forward driver ---------- */

/* x_0 (n x B): zero except the sensory rows, which hold the first layer's input. */
static void place_input(const cn_state *st, float *x0) {
  const ci_net *net = st->pass.net;
  const int64_t B = st->pass.B, S = net->n_sensory, L = st->pass.L;
  memset(x0, 0, sizeof(float) * (size_t)net->n * (size_t)B);
  for (int64_t s = 0; s < S; s++)
    for (int64_t b = 0; b < B; b++)
      x0[(int64_t)net->sensory[s] * B + b] = st->u[ci_step_input_index(b, s, S, L, 0)];
}

static size_t slab_bytes(const cn_state *st) {
  return sizeof(float) * (size_t)st->pass.net->n * (size_t)st->pass.B;
}

void cn_cpu_free_state(void *state) {
  cn_state *st = state;
  if (!st) return;
  const int32_t L = st->pass.L;
  ci_net *net = st->pass.net;
  if (net) {
    const size_t slab = slab_bytes(st);
    const int64_t key = st->pass.key;
    if (st->x) for (int32_t t = 0; t <= L; t++) cn_pool_put(&net->pool, key, st->x[t], slab);
    if (st->p) for (int32_t t = 0; t < L; t++) cn_pool_put(&net->pool, key, st->p[t], slab);
    cn_pool_put(&net->pool, key, st->pbuf, slab);
  }
  free(st->x);
  free(st->p);
  ci_tensor_release(st->input);
  cn_pass_free(&st->pass);
  ci_net_release(net); /* the state (a tape node's ctx) keeps its network alive */
  free(st);
}

/* Every x_t slab, the p_t slabs when the backward keeps them (no
 * checkpointing), and the scratch slab for p_t. */
static int alloc_slabs(cn_state *st, int keep_p, const char *where) {
  ci_net *net = st->pass.net;
  const int32_t L = st->pass.L;
  const int64_t key = st->pass.key;
  size_t slab;
  if (ci_mul_size((size_t)net->n, (size_t)st->pass.B, &slab) ||
      ci_mul_size(slab, sizeof(float), &slab))
    return ci_set_error(CI_ENOMEM, "%s: state size overflows", where);
  st->x = calloc((size_t)L + 1, sizeof(float *));
  st->p = calloc((size_t)L, sizeof(float *));
  if (!st->x || !st->p) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  int rc = cn_pool_get(&net->pool, key, slab, (void **)&st->pbuf, where);
  for (int32_t t = 0; t <= L && !rc; t++)
    rc = cn_pool_get(&net->pool, key, slab, (void **)&st->x[t], where);
  for (int32_t t = 0; t < L && keep_p && !rc; t++)
    rc = cn_pool_get(&net->pool, key, slab, (void **)&st->p[t], where);
  if (rc)
    return ci_set_error(CI_ENOMEM, "%s: out of memory for the network state (%d layers of %d x %lld)",
                        where, L, net->n, (long long)st->pass.B);
  return CI_OK;
}

/* The (B, n, L) output from the L slabs x_1 .. x_L. */
static int write_output(const cn_state *st, ci_tensor **out) {
  const int64_t B = st->pass.B, n = st->pass.net->n;
  const int32_t L = st->pass.L;
  int64_t shape[3] = {B, n, L};
  int rc = ci_tensor_new(3, shape, out);
  if (rc) return rc;
  float *od = (*out)->data;
  float *const *xs = st->x;
#pragma omp parallel for schedule(static)
  for (int64_t bi = 0; bi < B * n; bi++) {
    const int64_t b = bi / n, i = bi % n;
    for (int32_t t = 0; t < L; t++) od[bi * L + t] = xs[t + 1][i * B + b];
  }
  return CI_OK;
}

/* Gives back the x_t slabs the backward does not need (x_L, and those
 * between checkpoints) and records the bytes kept. */
static void keep_for_backward(cn_state *st) {
  ci_net *net = st->pass.net;
  const int32_t L = st->pass.L, ck = st->ck;
  const size_t slab = slab_bytes(st);
  int64_t kept = 0;
  for (int32_t t = 0; t <= L; t++) {
    const int keep = t < L && (ck == 0 || t % ck == 0);
    if (!keep) {
      cn_pool_put(&net->pool, st->pass.key, st->x[t], slab);
      st->x[t] = NULL;
    } else {
      kept += (int64_t)slab;
    }
    if (t < L && st->p[t]) kept += (int64_t)slab;
  }
  net->last_stored_bytes = kept;
}

int cn_cpu_forward(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                   int32_t ck, int keep_for_grad, ci_tensor **out, void **state,
                   const char *where) {
  if (ck < 0) return ci_set_error(CI_EINVAL, "%s: checkpoint_steps = %d, expected >= 0", where, ck);
  if (input && input->on_device)
    return ci_set_error(CI_EDEVICE, "%s: inputs live on the GPU but the network is on the CPU",
                        where);
  cn_state *st = calloc(1, sizeof *st);
  if (!st) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  int rc = cn_pass_init(&st->pass, net, input, manip, n_manip, where);
  if (rc) { free(st); return rc; }
  ci_net_retain(net);
  st->ck = ck;
  st->u = input->data;
  st->input = input;
  ci_tensor_retain(input);
  ci_tensor *o = NULL;
  if ((rc = alloc_slabs(st, keep_for_grad && ck == 0, where))) goto fail;
  place_input(st, st->x[0]);
  for (int32_t t = 1; t <= st->pass.L; t++)
    cn_step_forward(st, t, st->x[t - 1], st->x[t], st->p[t - 1] ? st->p[t - 1] : st->pbuf);
  if (out && (rc = write_output(st, &o))) goto fail;
  if (keep_for_grad) {
    keep_for_backward(st);
    *state = st;
  } else {
    cn_cpu_free_state(st);
  }
  if (out) *out = o;
  return CI_OK;
fail:
  cn_cpu_free_state(st);
  return rc;
}
