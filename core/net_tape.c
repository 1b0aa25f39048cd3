/* net_tape.c: the network on the tape, for either device. ci_net_forward runs
 * the forward and records one tape node whose backward is the whole unrolled
 * backward; ci_net_vjp runs both at once. The device the network lives on
 * supplies the passes (cn_backend: the CPU's in net_forward.c and
 * net_backward.c, the GPU's in kernels/net.cu); the per-neuron sums become
 * the parameters' gradients here, once. */
#include "net_internal.h"
#ifdef CI_CUDA
#include "cuda_internal.h"
#endif

#include <string.h>

static const cn_backend cpu_backend = {"network forward", cn_cpu_forward, cn_cpu_backward,
                                       cn_cpu_free_state};
#ifdef CI_CUDA
static const cn_backend gpu_backend = {"network forward (cuda)", ci_cuda_net_forward,
                                       ci_cuda_net_backward, ci_cuda_net_free_state};
#endif

static const cn_backend *backend_of(const ci_net *net) {
#ifdef CI_CUDA
  if (net->on_device) return &gpu_backend; /* the whole loop on the GPU */
#endif
  return &cpu_backend;
}

/* ---------- the parameters' gradients ---------- */

/* Which parameters want a gradient (wanted[k]); 1 when any does. Parameters
 * exist with groups only. */
static int wanted_params(const ci_net *net, ci_tensor *const *params, int wanted[4]) {
  int any = 0;
  for (int k = 0; k < 4; k++) {
    wanted[k] = net->n_groups > 0 && params[k]->grad_on;
    any |= wanted[k];
  }
  return any;
}

/* Zeroed per-neuron sums (k, c, tau) and per-divisive-edge sums (sig) in one
 * block *buf, pointed to by g. */
static int alloc_sums(const ci_net *net, cn_grads *g, double **buf, const char *where) {
  const size_t n = (size_t)net->n, nd = net->wd ? (size_t)net->wd->nnz : 0;
  *buf = calloc(3 * n + nd + 1, sizeof(double));
  if (!*buf) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  g->k = *buf;
  g->c = *buf + n;
  g->tau = *buf + 2 * n;
  g->sig = nd ? *buf + 3 * n : NULL;
  return CI_OK;
}

/* The gradients of the wanted parameters from the sums: each group sums its
 * neurons (its divisive connections' pre neurons for sig); the raw bias takes
 * sign(raw) (|raw| is the bias), tau takes [tau_param >= 1] (tau = max(tau_param, 1)).
 * out[k] is a new tensor for every wanted k, NULL otherwise. */
static int param_grads(const ci_net *net, const int wanted[4], const cn_grads *g,
                       ci_tensor *out[4]) {
  const int32_t G = net->n_groups;
  for (int k = 0; k < 4; k++) out[k] = NULL;
  double *acc = calloc((size_t)G * 4 + 1, sizeof(double));
  if (!acc) return ci_set_error(CI_ENOMEM, "network backward: out of memory");
  for (int32_t i = 0; i < net->n; i++) {
    const int32_t grp = net->group_of[i];
    acc[CI_PARAM_SLOPE * G + grp] += g->k[i];
    acc[CI_PARAM_RAW_BIAS * G + grp] += g->c[i];
    acc[CI_PARAM_TAU * G + grp] += g->tau[i];
  }
  const ci_csr *wd = net->wd;
  for (int32_t i = 0; g->sig && i < wd->nrows; i++)
    for (int64_t e = wd->rowptr[i]; e < wd->rowptr[i + 1]; e++)
      acc[CI_PARAM_DIV_STRENGTH * G + net->group_of[wd->colidx[e]]] += g->sig[e];
  const int64_t shape[1] = {G};
  int rc = CI_OK;
  for (int k = 0; k < 4 && !rc; k++) {
    if (!wanted[k] || (rc = ci_tensor_new(1, shape, &out[k]))) continue;
    const float *pv = net->param[k]->data;
    for (int32_t grp = 0; grp < G; grp++) {
      double v = acc[k * G + grp];
      if (k == CI_PARAM_RAW_BIAS) v *= pv[grp] > 0 ? 1.0 : (pv[grp] < 0 ? -1.0 : 0.0);
      if (k == CI_PARAM_TAU) v *= pv[grp] >= 1.0f ? 1.0 : 0.0;
      out[k]->data[grp] = (float)v;
    }
  }
  free(acc);
  if (rc)
    for (int k = 0; k < 4; k++) { ci_tensor_release(out[k]); out[k] = NULL; }
  return rc;
}

/* ---------- one backward through a kept state ---------- */

/* What a backward returns: new tensors, NULL where not asked for. */
typedef struct net_grads {
  ci_tensor *input;        /* dLoss/du, the input's shape */
  ci_tensor *x;            /* dLoss/dx_t, (B, n, L) */
  ci_tensor *param[4];     /* the wanted parameters' gradients */
} net_grads;

static void net_grads_release(net_grads *r) {
  ci_tensor_release(r->input);
  ci_tensor_release(r->x);
  for (int k = 0; k < 4; k++) ci_tensor_release(r->param[k]);
  memset(r, 0, sizeof *r);
}

/* Runs the backend's backward of `state` for grad_out (host (B, n, L), or NULL
 * for 0) and assembles *r: the input's gradient when want_input, grad_x when
 * want_x, the parameters in wanted[]. On error *r holds nothing. */
static int run_backward(const cn_backend *be, void *state, const ci_net *net,
                        const ci_tensor *input, const float *grad_out, int want_input,
                        int want_x, const int wanted[4], net_grads *r, const char *where) {
  memset(r, 0, sizeof *r);
  cn_grads g;
  memset(&g, 0, sizeof g);
  double *sums = NULL;
  int rc = CI_OK;
  if (want_input && !(rc = ci_tensor_new(3, input->shape, &r->input))) g.u = r->input->data;
  if (!rc && want_x) {
    const int64_t shape[3] = {input->shape[0], net->n, net->num_layers};
    if (!(rc = ci_tensor_new_unset(3, shape, &r->x))) g.x = r->x->data; /* all written */
  }
  const int any = wanted[0] | wanted[1] | wanted[2] | wanted[3];
  if (!rc && any) rc = alloc_sums(net, &g, &sums, where);
  if (!rc) rc = be->backward(state, grad_out, &g, where);
  if (!rc && any) rc = param_grads(net, wanted, &g, r->param);
  free(sums);
  if (rc) net_grads_release(r);
  return rc;
}

/* ---------- the tape node ---------- */

typedef struct tape_ctx {
  const cn_backend *be;
  void *state;
  ci_net *net;             /* retained */
} tape_ctx;

static void tape_ctx_free(void *ctx) {
  tape_ctx *cx = ctx;
  cx->be->free_state(cx->state);
  ci_net_release(cx->net);
  free(cx);
}

/* inputs[0] is the input, inputs[1 .. 4] the parameters (with groups). */
static int node_backward(ci_node *node, const ci_tensor *grad_out, ci_tensor **grad_in) {
  tape_ctx *cx = node->ctx;
  const ci_tensor *input = node->inputs[0];
  int wanted[4];
  wanted_params(cx->net, node->inputs + 1, wanted);
  net_grads r;
  int rc = run_backward(cx->be, cx->state, cx->net, input, grad_out->data, input->grad_on, 0,
                        wanted, &r, "network backward");
  if (rc) return rc;
  grad_in[0] = r.input;
  for (int k = 0; k < 4; k++) grad_in[k + 1] = r.param[k];
  return CI_OK;
}

int ci_net_forward(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                   int32_t checkpoint_steps, ci_tensor **out) {
  const char *where = "ci_net_forward";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  if (!net) return ci_set_error(CI_EINVAL, "%s: net is NULL", where);
  const cn_backend *be = backend_of(net);
  int need = ci_needs_grad(input);
  for (int k = 0; k < 4; k++) need |= ci_needs_grad(net->param[k]);
  void *state = NULL;
  ci_tensor *o = NULL;
  int rc = be->forward(net, input, manip, n_manip, checkpoint_steps, need, &o, &state, where);
  if (rc) return rc;
  if (need) {
    tape_ctx *cx = calloc(1, sizeof *cx);
    ci_tensor *inputs[5] = {input, net->param[0], net->param[1], net->param[2], net->param[3]};
    ci_node *node = cx ? ci_node_attach(o, be->node_name, net->n_groups > 0 ? 5 : 1, inputs,
                                        node_backward)
                       : NULL;
    if (!node) {
      free(cx);
      be->free_state(state);
      ci_tensor_release(o);
      return cx ? CI_ENOMEM : ci_set_error(CI_ENOMEM, "%s: out of memory", where);
    }
    cx->be = be;
    cx->state = state;
    cx->net = net;
    ci_net_retain(net);
    node->ctx = cx;
    node->free_ctx = tape_ctx_free;
  }
  *out = o;
  return CI_OK;
}

/* ---------- forward and backward at once ---------- */

/* Adds g into t's accumulated gradient. */
static void accumulate_grad(ci_tensor *t, ci_tensor *g) {
  if (!t->grad_t) {
    t->grad_t = g;
    ci_tensor_retain(g);
    return;
  }
  for (int64_t i = 0; i < g->nel; i++) t->grad_t->data[i] += g->data[i];
}

static int check_vjp_args(const ci_net *net, const ci_tensor *input, const ci_tensor *grad_out,
                          int want_input, const char *where) {
  if (input && input->on_device && want_input)
    return ci_set_error(CI_EDEVICE,
                        "%s: gradients of inputs that live on the GPU are not supported; pass "
                        "the inputs as a CPU tensor",
                        where);
  if (!grad_out || !input || input->ndim != 3) return CI_OK; /* the forward checks the input */
  const int64_t B = input->shape[0];
  if (grad_out->on_device || grad_out->ndim != 3 || grad_out->shape[0] != B ||
      grad_out->shape[1] != net->n || grad_out->shape[2] != net->num_layers)
    return ci_set_error(CI_EINVAL, "%s: grad_out must be a CPU tensor of shape (%lld, %d, %d)",
                        where, (long long)B, net->n, net->num_layers);
  return CI_OK;
}

int ci_net_vjp(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
               int32_t checkpoint_steps, const ci_tensor *grad_out, ci_tensor **grad_input,
               ci_tensor **grad_x) {
  const char *where = "ci_net_vjp";
  if (grad_input) *grad_input = NULL;
  if (grad_x) *grad_x = NULL;
  if (!net) return ci_set_error(CI_EINVAL, "%s: net is NULL", where);
  int rc = check_vjp_args(net, input, grad_out, grad_input != NULL, where);
  if (rc) return rc;
  const cn_backend *be = backend_of(net);
  void *state = NULL;
  if ((rc = be->forward(net, input, manip, n_manip, checkpoint_steps, 1, NULL, &state, where)))
    return rc;
  int wanted[4];
  wanted_params(net, net->param, wanted);
  net_grads r;
  rc = run_backward(be, state, net, input, grad_out ? grad_out->data : NULL, grad_input != NULL,
                    grad_x != NULL, wanted, &r, where);
  be->free_state(state);
  if (rc) return rc;
  for (int k = 0; k < 4; k++)
    if (r.param[k]) accumulate_grad(net->param[k], r.param[k]);
  if (grad_input) { *grad_input = r.input; r.input = NULL; }
  if (grad_x) { *grad_x = r.x; r.x = NULL; }
  net_grads_release(&r);
  return CI_OK;
}
