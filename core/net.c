/* net.c: building a network (weights split into ordinary and divisive parts,
 * transposes, per-group parameters), its accessors and its release. */
#include "net_internal.h"

#include <math.h>
#include <string.h>

static int split_weights(ci_net *net, const ci_csr *w, const uint8_t *div_pairs) {
  int64_t nnz = w->nnz, nd = 0;
  int32_t G = net->n_groups;
  int32_t *rows = NULL, *cols = NULL, *drows = NULL, *dcols = NULL;
  float *vals = NULL, *dvals = NULL;
  int rc = CI_OK;
  if (div_pairs) {
    for (int32_t i = 0; i < w->nrows; i++)
      for (int64_t e = w->rowptr[i]; e < w->rowptr[i + 1]; e++) {
        int32_t j = w->colidx[e];
        if (div_pairs[(int64_t)net->group_of[j] * G + net->group_of[i]]) {
          if (w->vals[e] > 0)
            return ci_set_error(CI_EINVAL,
                                "ci_net_new: divisive_normalization: the connection from neuron "
                                "%d to neuron %d has a positive weight (%g); divisive "
                                "connections must be inhibitory (1-based indices)",
                                j + 1, i + 1, (double)w->vals[e]);
          nd++;
        }
      }
  }
  if (nd == 0) {
    /* nothing divisive: share the caller's matrix (immutable) and its cached
     * transpose instead of copying 2 x 8 bytes per connection */
    net->w = (ci_csr *)w;
    ci_csr_retain(net->w);
    return ci_csr_transposed(net->w, &net->wt);
  }
  int64_t nm = nnz - nd;
  rows = malloc(sizeof *rows * (size_t)(nm ? nm : 1));
  cols = malloc(sizeof *cols * (size_t)(nm ? nm : 1));
  vals = malloc(sizeof *vals * (size_t)(nm ? nm : 1));
  drows = malloc(sizeof *drows * (size_t)(nd ? nd : 1));
  dcols = malloc(sizeof *dcols * (size_t)(nd ? nd : 1));
  dvals = malloc(sizeof *dvals * (size_t)(nd ? nd : 1));
  if (!rows || !cols || !vals || !drows || !dcols || !dvals) {
    rc = ci_set_error(CI_ENOMEM, "ci_net_new: out of memory for %lld connections",
                      (long long)nnz);
    goto done;
  }
  int64_t a = 0, b = 0;
  for (int32_t i = 0; i < w->nrows; i++)
    for (int64_t e = w->rowptr[i]; e < w->rowptr[i + 1]; e++) {
      int32_t j = w->colidx[e];
      if (div_pairs && div_pairs[(int64_t)net->group_of[j] * G + net->group_of[i]]) {
        drows[b] = i; dcols[b] = j; dvals[b] = w->vals[e]; b++;
      } else {
        rows[a] = i; cols[a] = j; vals[a] = w->vals[e]; a++;
      }
    }
  if ((rc = ci_csr_from_coo(w->nrows, w->ncols, nm, rows, cols, vals, &net->w))) goto done;
  if ((rc = ci_csr_transpose(net->w, &net->wt))) goto done;
  if (nd > 0) {
    if ((rc = ci_csr_from_coo(w->nrows, w->ncols, nd, drows, dcols, dvals, &net->wd))) goto done;
    if ((rc = ci_csr_transpose(net->wd, &net->wdt))) goto done;
  }
done:
  free(rows); free(cols); free(vals); free(drows); free(dcols); free(dvals);
  return rc;
}

int ci_net_new(const ci_csr *w, const ci_net_spec *spec, ci_net **out) {
  if (!out) return ci_set_error(CI_EINVAL, "ci_net_new: out is NULL");
  *out = NULL;
  if (!w || !spec) return ci_set_error(CI_EINVAL, "ci_net_new: weights and spec are required");
  if (w->nrows != w->ncols)
    return ci_set_error(CI_EINVAL, "ci_net_new: all_weights must be square, got %d x %d",
                        w->nrows, w->ncols);
  int32_t n = w->nrows;
  if (spec->kind != CI_NET_MULTILAYERED && spec->kind != CI_NET_LINEAR)
    return ci_set_error(CI_EINVAL, "ci_net_new: unknown network kind %d", spec->kind);
  if (spec->num_layers < 1)
    return ci_set_error(CI_EINVAL, "ci_net_new: num_layers = %d, expected >= 1",
                        spec->num_layers);
  if (spec->n_sensory < 0 || (spec->n_sensory > 0 && !spec->sensory))
    return ci_set_error(CI_EINVAL, "ci_net_new: sensory_indices is missing");
  if (spec->n_groups < 0 || (spec->n_groups > 0 && !spec->group_of))
    return ci_set_error(CI_EINVAL, "ci_net_new: idx_to_group is missing");
  if (spec->div_pairs && spec->n_groups == 0)
    return ci_set_error(CI_EINVAL,
                        "ci_net_new: divisive_normalization needs idx_to_group (groups)");
  if (spec->n_groups > 0 && (!spec->init_slope || !spec->init_raw_bias || !spec->init_tau ||
                             !spec->init_div_strength))
    return ci_set_error(CI_EINVAL, "ci_net_new: per-group initial parameters are missing");

  ci_net *net = calloc(1, sizeof *net);
  if (!net) return ci_set_error(CI_ENOMEM, "ci_net_new: out of memory");
  net->refcount = 1;
  net->kind = spec->kind;
  net->n = n;
  net->num_layers = spec->num_layers;
  net->threshold = (float)spec->threshold;
  net->n_sensory = spec->n_sensory;
  net->n_groups = spec->n_groups;
  net->slope0 = (float)spec->slope;
  net->bias0 = (float)spec->bias;
  net->tau0 = (float)spec->tau;
  int rc = CI_OK;
  net->sensory = malloc(sizeof(int32_t) * (size_t)(spec->n_sensory ? spec->n_sensory : 1));
  net->slot_of = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!net->sensory || !net->slot_of) { rc = ci_set_error(CI_ENOMEM, "ci_net_new: out of memory"); goto fail; }
  for (int32_t i = 0; i < n; i++) net->slot_of[i] = -1;
  for (int32_t s = 0; s < spec->n_sensory; s++) {
    int32_t i = spec->sensory[s];
    if (i < 0 || i >= n) {
      rc = ci_set_error(CI_EINVAL, "ci_net_new: sensory_indices[%d] = %d is out of range 1..%d",
                        s + 1, i + 1, n);
      goto fail;
    }
    if (net->slot_of[i] >= 0) {
      rc = ci_set_error(CI_EINVAL,
                        "ci_net_new: sensory_indices[%d] = %d repeats sensory_indices[%d]",
                        s + 1, i + 1, net->slot_of[i] + 1);
      goto fail;
    }
    net->slot_of[i] = s;
    net->sensory[s] = i;
  }
  if (spec->n_groups > 0) {
    net->group_of = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
    if (!net->group_of) { rc = ci_set_error(CI_ENOMEM, "ci_net_new: out of memory"); goto fail; }
    for (int32_t i = 0; i < n; i++) {
      int32_t g = spec->group_of[i];
      if (g < 0 || g >= spec->n_groups) {
        rc = ci_set_error(CI_EINVAL, "ci_net_new: idx_to_group[%d] = group %d is out of range 1..%d",
                          i + 1, g + 1, spec->n_groups);
        goto fail;
      }
      net->group_of[i] = g;
    }
    int64_t gshape[1] = {spec->n_groups};
    const float *init[4] = {spec->init_slope, spec->init_raw_bias, spec->init_tau,
                            spec->init_div_strength};
    for (int k = 0; k < 4; k++)
      if ((rc = ci_tensor_from_floats(1, gshape, init[k], &net->param[k]))) goto fail;
  }
  if ((rc = split_weights(net, w, spec->div_pairs))) goto fail;
  *out = net;
  return CI_OK;
fail:
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
  ci_csr_release(net->w);
  ci_csr_release(net->wt);
  ci_csr_release(net->wd);
  ci_csr_release(net->wdt);
  for (int k = 0; k < 4; k++) ci_tensor_release(net->param[k]);
  ci_net_to_device(net, CI_DEVICE_CPU); /* frees the GPU copy, if any */
  for (int32_t k = 0; k < net->n_pooled; k++) ci_free_aligned(net->pool_ptr[k]);
  free(net);
}

void *net_buf_get(ci_net *net, size_t bytes, int *ok) {
  for (int32_t k = net->n_pooled - 1; k >= 0; k--)
    if (net->pool_bytes[k] == bytes) {
      void *p = net->pool_ptr[k];
      net->n_pooled--;
      net->pool_ptr[k] = net->pool_ptr[net->n_pooled];
      net->pool_bytes[k] = net->pool_bytes[net->n_pooled];
      *ok = 1;
      return p;
    }
  return ci_alloc_aligned(bytes, ok);
}

void net_buf_put(ci_net *net, void *p, size_t bytes) {
  if (!p) return;
  if (net->n_pooled < 64) {
    net->pool_ptr[net->n_pooled] = p;
    net->pool_bytes[net->n_pooled] = bytes;
    net->n_pooled++;
  } else {
    ci_free_aligned(p);
  }
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

int net_product_is_sparse(const ci_csr *A, const float *X, int64_t B) {
  /* nonzero rows of X, counted with an early exit past 10 % */
  const int64_t ncols = A->ncols, limit = ncols / 10;
  int64_t active = 0;
  for (int64_t j = 0; j < ncols && active <= limit; j++) {
    const float *xr = X + j * B;
    for (int64_t b = 0; b < B; b++)
      if (xr[b] != 0.0f) { active++; break; }
  }
  return active <= limit;
}

int net_product(const ci_csr *A, const ci_csr *At, const float *X, int64_t B, float *Y,
                int accumulate) {
  const int64_t ncols = A->ncols, nrows = A->nrows;
  if (!At || !net_product_is_sparse(A, X, B)) return ci_csr_spmm(A, X, B, Y, accumulate);
  if (!accumulate) memset(Y, 0, sizeof(float) * (size_t)nrows * (size_t)B);
  for (int64_t j = 0; j < ncols; j++) {
    const float *xr = X + j * B;
    int nz = 0;
    for (int64_t b = 0; b < B; b++) nz |= xr[b] != 0.0f;
    if (!nz) continue;
    for (int64_t e = At->rowptr[j]; e < At->rowptr[j + 1]; e++) {
      float *yr = Y + (int64_t)At->colidx[e] * B;
      const float w = At->vals[e];
      for (int64_t b = 0; b < B; b++) yr[b] += w * xr[b];
    }
  }
  return CI_OK;
}
