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

/* Slope, bias (|raw bias|), tau (at least 1, with its rates 1 / tau and
 * (tau - 1) / tau) and divisive strength per neuron: its group's values, or
 * the network's scalars without groups. */
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
    const ci_step_tau r = ci_step_rates(co->tau[i]);
    co->inv[i] = r.inv;
    co->keep[i] = r.keep;
  }
}

/* The manipulations sorted by layer (stable: later entries win, as dict order
 * does), their neurons in the engine's order; every layer is in range (checked). */
static void sort_manip(cn_pass *ps, const ci_manip *manip, int64_t n_manip, int64_t *fill) {
  const int32_t *inv = ps->net->inv;
  for (int64_t m = 0; m < n_manip; m++) ps->manip_start[manip[m].layer + 1]++;
  for (int32_t l = 0; l < ps->L; l++) ps->manip_start[l + 1] += ps->manip_start[l];
  for (int64_t m = 0; m < n_manip; m++) {
    const int32_t l = manip[m].layer;
    ci_manip *to = &ps->manip[ps->manip_start[l] + fill[l]++];
    *to = manip[m];
    if (inv) to->neuron = inv[to->neuron];
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
  ps->co.inv = malloc(nn * sizeof(float));
  ps->co.keep = malloc(nn * sizeof(float));
  ps->co.sig = net->wd ? malloc(nn * sizeof(float)) : NULL;
  ps->manip_start = calloc((size_t)L + 2, sizeof(int64_t));
  ps->manip = malloc(sizeof(ci_manip) * (size_t)(n_manip ? n_manip : 1));
  int64_t *fill = calloc((size_t)L + 1, sizeof(int64_t));
  if (!ps->co.k || !ps->co.c || !ps->co.tau || !ps->co.inv || !ps->co.keep ||
      (net->wd && !ps->co.sig) || !ps->manip_start || !ps->manip || !fill) {
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
  free(ps->co.k); free(ps->co.c); free(ps->co.tau); free(ps->co.inv); free(ps->co.keep);
  free(ps->co.sig);
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

/* x[e] for e < count from p and x_{t-1} of elements without divisive term,
 * their coefficients f's (cn_flat), their input u[e] (has_u; else none). The
 * mode's flags, f's stride and has_u are constants after inlining, so gcc
 * makes one branch-free vector loop of each (ci_tanhf vectorises; no element
 * divides). */
static inline __attribute__((always_inline)) void
act_plain(const float *restrict p, const float *restrict xp, float *restrict x, int64_t count,
          const cn_flat *f, const float *restrict u, const int has_u, const int cstride,
          float th, const int ml, const int last) {
  const ci_step_mode m = {th, ml, 0, last};
  const float *restrict k = f->k, *restrict c = f->c, *restrict inv = f->inv,
                        *restrict keep = f->keep;
  for (int64_t e = 0; e < count; e++) {
    const ci_step_tau tau = {inv[e * cstride], keep[e * cstride]};
    x[e] = ci_step_forward(p[e], 0.0f, k[e * cstride], c[e * cstride], tau, xp[e],
                           has_u ? u[e] : 0.0f, m);
  }
}

/* act_plain with the mode's flags, f's stride and the input's presence as
 * constants (an input only before the last step). */
static void act_plain_mode(const float *p, const float *xp, float *x, int64_t count,
                           const cn_flat *f, const float *u, ci_step_mode m) {
#define CN_ACT_PLAIN(U, S, ML, LAST) act_plain(p, xp, x, count, f, u, U, S, m.th, ML, LAST)
  if (u && f->stride) CN_WITH_MODE(m, CN_ACT_PLAIN, 1, 1);
  else if (u) CN_WITH_MODE(m, CN_ACT_PLAIN, 1, 0);
  else if (f->stride) CN_WITH_MODE(m, CN_ACT_PLAIN, 0, 1);
  else CN_WITH_MODE(m, CN_ACT_PLAIN, 0, 0);
#undef CN_ACT_PLAIN
}

/* Row i with divisive terms, one element at a time. */
static void act_divisive(const act_ctx *cx, int32_t i, const float *prow) {
  const cn_pass *ps = &cx->st->pass;
  const ci_net *net = ps->net;
  const int64_t B = ps->B, row = (int64_t)i * B;
  const float k = ps->co.k[i], c = ps->co.c[i];
  const ci_step_tau tau = {ps->co.inv[i], ps->co.keep[i]};
  const int64_t uoff = cn_input_offset(cx->st, i, cx->t);
  const float *u = uoff >= 0 ? cx->st->ut + uoff : NULL;
  for (int64_t b = 0; b < B; b++) {
    const float d = cn_row_divisive(net->wd, ps->co.sig, i, cx->xp, B, b);
    cx->x[row + b] = ci_step_forward(prow[b], d, k, c, tau, cx->xp[row + b], u ? u[b] : 0.0f,
                                     cx->mode);
  }
}

/* Row i alone (its coefficients as scalars), with its input if it has one. */
static void act_one_row(const act_ctx *cx, int32_t i, const float *prow) {
  if (cx->mode.div) {
    act_divisive(cx, i, prow);
    return;
  }
  const int64_t B = cx->st->pass.B, row = (int64_t)i * B;
  const int64_t uoff = cn_input_offset(cx->st, i, cx->t);
  cn_flat f;
  cn_flat_coeffs(&f, &cx->st->pass.co, i, i + 1, B);
  act_plain_mode(prow, cx->xp + row, cx->x + row, B, &f, uoff >= 0 ? cx->st->ut + uoff : NULL,
                 cx->mode);
}

/* The activation of row i of step t from p_t[i, :] (net_step.h): the product's
 * per-row epilogue when fused. */
static void act_row(void *vctx, int32_t i, float *prow) { act_one_row(vctx, i, prow); }

/* The activation of every row as a pass of its own from the p_t slab: the
 * formula without input over flat blocks of rows (cn_flat), then the block's
 * rows with an input again (with divisive terms: every row, one at a time). */
static void act_pass(const act_ctx *cx, const float *p) {
  const cn_pass *ps = &cx->st->pass;
  const int64_t B = ps->B;
  const int32_t n = ps->net->n, R = cn_flat_rows(B);
#pragma omp parallel for schedule(static)
  for (int32_t i0 = 0; i0 < n; i0 += R) {
    const int32_t i1 = i0 + R < n ? i0 + R : n;
    const int64_t at = (int64_t)i0 * B;
    if (!cx->mode.div) {
      cn_flat f;
      cn_flat_coeffs(&f, &ps->co, i0, i1, B);
      act_plain_mode(p + at, cx->xp + at, cx->x + at, (i1 - i0) * B, &f, NULL, cx->mode);
    }
    for (int32_t i = i0; i < i1; i++)
      if (cx->mode.div || cn_input_offset(cx->st, i, cx->t) >= 0)
        act_one_row(cx, i, p + (int64_t)i * B);
  }
}

void cn_step_forward(const cn_state *st, int32_t t, const float *xp, float *x, float *p) {
  const cn_pass *ps = &st->pass;
  const ci_net *net = ps->net;
  const int64_t B = ps->B;
  const ci_step_mode mode = {net->threshold, net->kind == CI_NET_MULTILAYERED, net->wd != NULL,
                             t == ps->L};
  act_ctx cx = {st, t, mode, xp, x};
  /* p_t = W x_{t-1} and the activation: in one pass (the tuned row-parallel
   * product of csr_spmm.c calls act_row on each row while it is in cache) or
   * as two (ci_tune.act_fused = 0). When x_{t-1} is mostly zero the product
   * is pushed through the transpose instead (csr_push.c), then the
   * activation runs as its own pass. */
  double t0 = ci_prof_start();
  if (ci_csr_operand_is_sparse(net->w, xp, B) || !ci_tune.act_fused) {
    ci_csr_spmm_by_operand(net->w, net->wt, xp, B, p, 0);
    ci_prof_stop(CI_PROF_FWD_PRODUCT, t0);
    t0 = ci_prof_start();
    act_pass(&cx, p);
    ci_prof_stop(CI_PROF_FWD_ACTIVATION, t0);
  } else {
    ci_csr_spmm_fused(net->w, xp, B, p, 0, act_row, &cx);
    ci_prof_stop(CI_PROF_FWD_PRODUCT, t0);
  }
  ci_step_manip(ps->manip, ps->manip_start[t - 1], ps->manip_start[t], x, B, 0, 0, 1);
}

/* ---------- the forward driver ---------- */

/* x_0 (n x B): zero except the sensory rows, which hold the first layer's input. */
static void place_input(const cn_state *st, float *x0) {
  const ci_net *net = st->pass.net;
  const int64_t B = st->pass.B, S = net->n_sensory;
  memset(x0, 0, sizeof(float) * (size_t)net->n * (size_t)B);
  for (int64_t s = 0; s < S; s++) /* st->ut's first slab: layer 1's input, S x B */
    memcpy(x0 + (int64_t)net->sensory[s] * B, st->ut + s * B, sizeof(float) * (size_t)B);
}

static size_t slab_bytes(const cn_state *st) {
  return sizeof(float) * (size_t)st->pass.net->n * (size_t)st->pass.B;
}

/* The bytes of the (L, S, B) input copy. */
static size_t input_bytes(const cn_state *st) {
  return sizeof(float) * (size_t)st->pass.net->n_sensory * (size_t)st->pass.B *
         (size_t)st->pass.L;
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
    cn_pool_put(&net->pool, key, st->ut, input_bytes(st));
  }
  free(st->x);
  free(st->p);
  ci_tensor_release(st->input);
  cn_pass_free(&st->pass);
  ci_net_release(net); /* the state (a tape node's ctx) keeps its network alive */
  free(st);
}

/* Every x_t slab, the p_t slabs when the backward keeps them (no
 * checkpointing), the scratch slab for p_t and the input's (L, S, B) copy. */
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
  if (!rc) rc = cn_pool_get(&net->pool, key, input_bytes(st), (void **)&st->ut, where);
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
  int rc = ci_tensor_new_unset(3, shape, out); /* every element written below */
  if (rc) return rc;
  const double t0 = ci_prof_start();
  const cn_slabs xs = {st->x + 1, NULL, 0};
  cn_layout_copy(xs, (*out)->data, n, B, L, st->pass.net->inv, 1);
  ci_prof_stop(CI_PROF_FWD_OUTPUT, t0);
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
  const double t0 = ci_prof_start();
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
  cn_input_to_lsb(st, st->u, st->ut);
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
  ci_prof_stop(CI_PROF_FWD_TOTAL, t0);
  return CI_OK;
fail:
  cn_cpu_free_state(st);
  return rc;
}
