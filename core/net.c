/* net.c: building a network (its neuron order, weights split into ordinary
 * and divisive parts, transposes, per-group parameters), its accessors and its
 * release. With an order (reorder.c) the engine numbers the neurons its own
 * way: the weights, sensory maps and groups are renumbered here once, the
 * manipulations when a pass starts and the (B, n, L) tensors at their
 * boundary (net_layout.c), so every index the API takes or gives is the
 * caller's. */
#include "net_internal.h"

#include <string.h>

/* 1 when the connection i <- j belongs to a divisive pair of groups. */
static int is_divisive(const ci_net *net, const uint8_t *div_pairs, int32_t i, int32_t j) {
  return div_pairs && div_pairs[(int64_t)net->group_of[j] * net->n_groups + net->group_of[i]];
}

/* The number of divisive connections of w; an excitatory one is an error. */
static int count_divisive(const ci_net *net, const ci_csr *w, const uint8_t *div_pairs,
                          int64_t *nd) {
  *nd = 0;
  for (int32_t i = 0; i < w->nrows && div_pairs; i++)
    for (int64_t e = w->rowptr[i]; e < w->rowptr[i + 1]; e++) {
      const int32_t j = w->colidx[e];
      if (!is_divisive(net, div_pairs, i, j)) continue;
      if (w->vals[e] > 0)
        return ci_set_error(CI_EINVAL,
                            "ci_net_new: divisive_normalization: the connection from neuron "
                            "%d to neuron %d has a positive weight (%g); divisive "
                            "connections must be inhibitory (1-based indices)",
                            (net->perm ? net->perm[j] : j) + 1, (net->perm ? net->perm[i] : i) + 1,
                            (double)w->vals[e]);
      (*nd)++;
    }
  return CI_OK;
}

/* The `count` connections of w that are divisive (divisive = 1) or ordinary
 * (0), as a new matrix *m and its transpose *mt. */
static int extract(const ci_net *net, const ci_csr *w, const uint8_t *div_pairs, int divisive,
                   int64_t count, ci_csr **m, ci_csr **mt) {
  const size_t cap = (size_t)(count ? count : 1);
  int32_t *rows = malloc(sizeof *rows * cap), *cols = malloc(sizeof *cols * cap);
  float *vals = malloc(sizeof *vals * cap);
  int rc = CI_OK;
  if (!rows || !cols || !vals) {
    rc = ci_set_error(CI_ENOMEM, "ci_net_new: out of memory for %lld connections",
                      (long long)count);
  } else {
    int64_t a = 0;
    for (int32_t i = 0; i < w->nrows; i++)
      for (int64_t e = w->rowptr[i]; e < w->rowptr[i + 1]; e++)
        if (is_divisive(net, div_pairs, i, w->colidx[e]) == divisive) {
          rows[a] = i; cols[a] = w->colidx[e]; vals[a] = w->vals[e]; a++;
        }
    rc = ci_csr_from_coo(w->nrows, w->ncols, count, rows, cols, vals, m);
    if (!rc) rc = ci_csr_transpose(*m, mt);
  }
  free(rows); free(cols); free(vals);
  return rc;
}

/* The weights split into the ordinary part (w, wt) and the divisive one (wd,
 * wdt; NULL when there is none). */
static int split_weights(ci_net *net, const ci_csr *w, const uint8_t *div_pairs) {
  int64_t nd;
  int rc = count_divisive(net, w, div_pairs, &nd);
  if (rc) return rc;
  if (nd == 0) {
    /* nothing divisive: share the caller's matrix (immutable) and its cached
     * transpose instead of copying 2 x 8 bytes per connection */
    net->w = (ci_csr *)w;
    ci_csr_retain(net->w);
    return ci_csr_transposed(net->w, &net->wt);
  }
  if ((rc = extract(net, w, div_pairs, 0, w->nnz - nd, &net->w, &net->wt))) return rc;
  return extract(net, w, div_pairs, 1, nd, &net->wd, &net->wdt);
}

/* The spec's shape checks (the values are checked as they are copied). */
static int check_spec(const ci_csr *w, const ci_net_spec *spec) {
  if (w->nrows != w->ncols)
    return ci_set_error(CI_EINVAL, "ci_net_new: all_weights must be square, got %d x %d",
                        w->nrows, w->ncols);
  if (spec->kind != CI_NET_MULTILAYERED && spec->kind != CI_NET_LINEAR)
    return ci_set_error(CI_EINVAL, "ci_net_new: unknown network kind %d", spec->kind);
  if (spec->num_layers < 1)
    return ci_set_error(CI_EINVAL, "ci_net_new: num_layers = %d, expected >= 1",
                        spec->num_layers);
  if (spec->n_sensory < 0 || (spec->n_sensory > 0 && !spec->sensory))
    return ci_set_error(CI_EINVAL, "ci_net_new: sensory_indices is missing");
  if (spec->n_groups < 0 || (spec->n_groups > 0 && !spec->group_of))
    return ci_set_error(CI_EINVAL, "ci_net_new: idx_to_group is missing");
  if (spec->reorder < CI_REORDER_NONE || spec->reorder > CI_REORDER_CLUSTER)
    return ci_set_error(CI_EINVAL, "ci_net_new: reorder = %d, expected CI_REORDER_NONE, _RCM, "
                        "_AUTO or _CLUSTER", spec->reorder);
  if (spec->div_pairs && spec->n_groups == 0)
    return ci_set_error(CI_EINVAL,
                        "ci_net_new: divisive_normalization needs idx_to_group (groups)");
  if (spec->n_groups > 0 && (!spec->init_slope || !spec->init_raw_bias || !spec->init_tau ||
                             !spec->init_div_strength))
    return ci_set_error(CI_EINVAL, "ci_net_new: per-group initial parameters are missing");
  return CI_OK;
}

/* The sensory neurons: slot -> neuron and neuron -> slot (or -1). */
static int set_sensory(ci_net *net, const ci_net_spec *spec) {
  const int32_t n = net->n;
  net->sensory = malloc(sizeof(int32_t) * (size_t)(spec->n_sensory ? spec->n_sensory : 1));
  net->slot_of = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!net->sensory || !net->slot_of) return ci_set_error(CI_ENOMEM, "ci_net_new: out of memory");
  for (int32_t i = 0; i < n; i++) net->slot_of[i] = -1;
  for (int32_t s = 0; s < spec->n_sensory; s++) {
    int32_t i = spec->sensory[s];
    if (i < 0 || i >= n)
      return ci_set_error(CI_EINVAL, "ci_net_new: sensory_indices[%d] = %d is out of range 1..%d",
                          s + 1, i + 1, n);
    if (net->slot_of[i] >= 0)
      return ci_set_error(CI_EINVAL,
                          "ci_net_new: sensory_indices[%d] = %d repeats sensory_indices[%d]",
                          s + 1, i + 1, net->slot_of[i] + 1);
    net->slot_of[i] = s;
    net->sensory[s] = i;
  }
  return CI_OK;
}

/* The groups and their parameters (slope, raw bias, tau, divisive strength). */
static int set_groups(ci_net *net, const ci_net_spec *spec) {
  const int32_t n = net->n;
  net->group_of = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!net->group_of) return ci_set_error(CI_ENOMEM, "ci_net_new: out of memory");
  for (int32_t i = 0; i < n; i++) {
    int32_t g = spec->group_of[i];
    if (g < 0 || g >= spec->n_groups)
      return ci_set_error(CI_EINVAL,
                          "ci_net_new: idx_to_group[%d] = group %d is out of range 1..%d", i + 1,
                          g + 1, spec->n_groups);
    net->group_of[i] = g;
  }
  int64_t gshape[1] = {spec->n_groups};
  const float *init[4] = {spec->init_slope, spec->init_raw_bias, spec->init_tau,
                          spec->init_div_strength};
  int rc = CI_OK;
  for (int k = 0; k < 4 && !rc; k++) rc = ci_tensor_from_floats(1, gshape, init[k], &net->param[k]);
  return rc;
}

/* The engine's order of the neurons (spec->reorder): net->perm and net->inv,
 * or neither for the caller's own. */
static int choose_order(ci_net *net, const ci_csr *w, int32_t mode) {
  const int32_t n = net->n;
  net->order = CI_REORDER_NONE;
  if (mode == CI_REORDER_NONE || n == 0 || (mode == CI_REORDER_AUTO && n <= CI_REORDER_AUTO_MIN))
    return CI_OK;
  int32_t *perm = malloc(sizeof(int32_t) * (size_t)n), *inv = malloc(sizeof(int32_t) * (size_t)n);
  int rc = perm && inv ? CI_OK : ci_set_error(CI_ENOMEM, "ci_net_new: out of memory");
  if (!rc) rc = mode == CI_REORDER_RCM ? ci_csr_rcm(w, perm) : ci_csr_clusters(w, perm);
  if (!rc && mode == CI_REORDER_AUTO && ci_csr_spread(w, perm) > 0.5 * ci_csr_spread(w, NULL)) {
    free(perm); /* the blocks do not bring connected neurons closer: keep the caller's order */
    free(inv);
    return CI_OK;
  }
  if (rc) {
    free(perm);
    free(inv);
    return rc;
  }
  for (int32_t k = 0; k < n; k++) inv[perm[k]] = k;
  net->perm = perm;
  net->inv = inv;
  net->order = mode == CI_REORDER_RCM ? CI_REORDER_RCM : CI_REORDER_CLUSTER;
  return CI_OK;
}

/* The sensory maps and the groups (set in the caller's numbering) in the
 * engine's order. */
static int renumber(ci_net *net) {
  const int32_t n = net->n;
  int32_t *tmp = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!tmp) return ci_set_error(CI_ENOMEM, "ci_net_new: out of memory");
  for (int32_t s = 0; s < net->n_sensory; s++) net->sensory[s] = net->inv[net->sensory[s]];
  for (int32_t a = 0; a < n; a++) tmp[a] = net->slot_of[net->perm[a]];
  memcpy(net->slot_of, tmp, sizeof(int32_t) * (size_t)n);
  if (net->group_of) {
    for (int32_t a = 0; a < n; a++) tmp[a] = net->group_of[net->perm[a]];
    memcpy(net->group_of, tmp, sizeof(int32_t) * (size_t)n);
  }
  free(tmp);
  return CI_OK;
}

/* The weights in the engine's order (a new matrix when reordered, else w
 * itself, retained), split into ordinary and divisive parts. */
static int set_weights(ci_net *net, const ci_csr *w, const uint8_t *div_pairs) {
  ci_csr *mine = NULL;
  int rc = CI_OK;
  if (net->perm && !(rc = ci_csr_permuted(w, net->perm, &mine))) rc = renumber(net);
  if (!rc) rc = split_weights(net, mine ? mine : w, div_pairs);
  ci_csr_release(mine); /* split_weights retains what it keeps */
  return rc;
}

int ci_net_new(const ci_csr *w, const ci_net_spec *spec, ci_net **out) {
  if (!out) return ci_set_error(CI_EINVAL, "ci_net_new: out is NULL");
  *out = NULL;
  if (!w || !spec) return ci_set_error(CI_EINVAL, "ci_net_new: weights and spec are required");
  int rc = check_spec(w, spec);
  if (rc) return rc;
  ci_net *net = calloc(1, sizeof *net);
  if (!net) return ci_set_error(CI_ENOMEM, "ci_net_new: out of memory");
  net->refcount = 1;
  cn_pool_init_host(&net->pool);
  net->kind = spec->kind;
  net->n = w->nrows;
  net->num_layers = spec->num_layers;
  net->threshold = (float)spec->threshold;
  net->n_sensory = spec->n_sensory;
  net->n_groups = spec->n_groups;
  net->slope0 = (float)spec->slope;
  net->bias0 = (float)spec->bias;
  net->tau0 = (float)spec->tau;
  if (!(rc = set_sensory(net, spec)) && (spec->n_groups == 0 || !(rc = set_groups(net, spec))) &&
      !(rc = choose_order(net, w, spec->reorder)) && !(rc = set_weights(net, w, spec->div_pairs))) {
    *out = net;
    return CI_OK;
  }
  ci_net_release(net);
  return rc;
}

void ci_net_retain(ci_net *net) {
  if (net) net->refcount++;
}

void ci_net_release(ci_net *net) {
  if (!net || --net->refcount > 0) return;
  free(net->sensory);
  free(net->slot_of);
  free(net->group_of);
  free(net->perm);
  free(net->inv);
  ci_csr_release(net->w);
  ci_csr_release(net->wt);
  ci_csr_release(net->wd);
  ci_csr_release(net->wdt);
  for (int k = 0; k < 4; k++) ci_tensor_release(net->param[k]);
  ci_net_to_device(net, CI_DEVICE_CPU); /* frees the GPU copy, if any */
  cn_pool_clear(&net->pool);
  free(net);
}

int32_t ci_net_num_neurons(const ci_net *net) { return net ? net->n : 0; }
int32_t ci_net_num_layers(const ci_net *net) { return net ? net->num_layers : 0; }

int ci_net_set_num_layers(ci_net *net, int32_t num_layers) {
  if (!net) return ci_set_error(CI_EINVAL, "ci_net_set_num_layers: net is NULL");
  if (num_layers < 1)
    return ci_set_error(CI_EINVAL, "ci_net_set_num_layers: num_layers = %d, expected >= 1",
                        num_layers);
  net->num_layers = num_layers;
  return CI_OK;
}

int64_t ci_net_num_divisive_edges(const ci_net *net) {
  return net && net->wd ? net->wd->nnz : 0;
}

int64_t ci_net_last_stored_bytes(const ci_net *net) { return net ? net->last_stored_bytes : 0; }

int ci_net_order(const ci_net *net, int32_t *perm) {
  if (!net) return CI_REORDER_NONE;
  for (int32_t k = 0; perm && k < net->n; k++) perm[k] = net->perm ? net->perm[k] : k;
  return net->order;
}

int ci_net_param(ci_net *net, int which, ci_tensor **out) {
  if (!out) return ci_set_error(CI_EINVAL, "ci_net_param: out is NULL");
  *out = NULL;
  if (!net) return ci_set_error(CI_EINVAL, "ci_net_param: net is NULL");
  if (which < 0 || which > 3)
    return ci_set_error(CI_EINVAL, "ci_net_param: unknown parameter %d", which);
  *out = net->param[which];
  ci_tensor_retain(*out);
  return CI_OK;
}
