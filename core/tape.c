/* tape.c: reverse-mode autodiff: grad mode, tape nodes, backward. */
#include "internal.h"

#include <stdio.h>

#include <string.h>

static _Thread_local int grad_mode = 1;
/* 1 while ci_tensor_backward runs: recording is then off (grad_mode = 0), but the
 * backward functions still ask ci_needs_grad which inputs want a gradient. */
static _Thread_local int in_backward = 0;
static _Thread_local int64_t visit_gen = 0;

int ci_grad_enabled(void) { return grad_mode; }

int ci_set_grad_enabled(int on) {
  int old = grad_mode;
  grad_mode = on ? 1 : 0;
  return old;
}

int ci_needs_grad(const ci_tensor *t) { return (grad_mode || in_backward) && t && t->grad_on; }

ci_node *ci_node_attach(ci_tensor *out, const char *name, int n_inputs,
                        ci_tensor *const *inputs, ci_backward_fn backward) {
  if (n_inputs < 0 || n_inputs > CI_NODE_MAX_INPUTS) {
    ci_set_error(CI_EINVAL, "%s: too many tape inputs (%d)", name, n_inputs);
    return NULL;
  }
  ci_node *node = calloc(1, sizeof *node);
  if (!node) {
    ci_set_error(CI_ENOMEM, "%s: out of memory for a tape node", name);
    return NULL;
  }
  node->refcount = 1;
  node->name = name;
  node->n_inputs = n_inputs;
  for (int i = 0; i < n_inputs; i++) {
    node->inputs[i] = inputs[i];
    ci_tensor_retain(inputs[i]);
  }
  node->out_ndim = out->ndim;
  for (int i = 0; i < 4; i++) node->out_shape[i] = out->shape[i];
  node->backward = backward;
  if (out->grad_fn) ci_node_release(out->grad_fn);
  out->grad_fn = node;
  out->grad_on = 1;
  return node;
}

void ci_node_release(ci_node *node) {
  if (!node || --node->refcount > 0) return;
  for (int i = 0; i < node->n_inputs; i++) ci_tensor_release(node->inputs[i]);
  for (int i = 0; i < 4; i++) ci_tensor_release(node->saved[i]);
  if (node->free_ctx) node->free_ctx(node->ctx);
  ci_tensor_release(node->grad_accum);
  free(node);
}

/* ---------------------------------------------------------------- leaves */

int ci_tensor_requires_grad(ci_tensor *t, int on) {
  if (!t) return ci_set_error(CI_EINVAL, "ci_tensor_requires_grad: t is NULL");
  if (t->grad_fn) {
    if (on) return CI_OK;
    return ci_set_error(CI_ESTATE,
                        "ci_tensor_requires_grad: only leaves can be changed; this tensor was "
                        "computed by '%s' (use detach())", t->grad_fn->name);
  }
  t->grad_on = on ? 1 : 0;
  return CI_OK;
}

void ci_tensor_zero_grad(ci_tensor *t) {
  if (!t || !t->grad_t) return;
  ci_tensor_release(t->grad_t);
  t->grad_t = NULL;
}

const char *ci_tensor_grad_fn_name(const ci_tensor *t) {
  return (t && t->grad_fn && t->grad_fn->name) ? t->grad_fn->name : "";
}

/* ---------------------------------------------------------------- backward */

/* *slot += g, where the slot belongs to a tensor shaped like `like`. Takes g over
 * when it is uniquely owned and already has that shape; copies otherwise. */
static int accumulate(ci_tensor **slot, ci_tensor *g, const ci_tensor *like, const char *what) {
  if (g->nel != like->nel)
    return ci_set_error(CI_EINVAL, "ci_tensor_backward: %s produced a gradient of %lld elements "
                        "for an input of %lld", what, (long long)g->nel, (long long)like->nel);
  if (!*slot) {
    int same = g->ndim == like->ndim && g->refcount == 1 && !g->grad_fn && !g->grad_on;
    for (int i = 0; same && i < like->ndim; i++) same = g->shape[i] == like->shape[i];
    if (same) {
      ci_tensor_retain(g);
      *slot = g;
      return CI_OK;
    }
    return ci_tensor_from_floats(like->ndim, like->shape, g->data, slot);
  }
  float *d = (*slot)->data;
  const float *s = g->data;
  for (int64_t i = 0; i < g->nel; i++) d[i] += s[i];
  return CI_OK;
}

typedef struct {
  ci_node *node;
  int next;
} frame_t;

/* Nodes reachable from root in post order (inputs before the node). */
static int collect(ci_node *root, ci_node ***order_out, int64_t *n_out) {
  int64_t cap = 64, n = 0, scap = 64, sp = 0;
  ci_node **order = malloc((size_t)cap * sizeof *order);
  frame_t *stack = malloc((size_t)scap * sizeof *stack);
  if (!order || !stack) goto oom;
  int64_t gen = ++visit_gen;
  root->visit = gen;
  stack[sp++] = (frame_t){root, 0};
  while (sp) {
    frame_t *f = &stack[sp - 1];
    if (f->next < f->node->n_inputs) {
      ci_tensor *in = f->node->inputs[f->next++];
      if (in && in->grad_fn && in->grad_fn->visit != gen) {
        in->grad_fn->visit = gen;
        if (sp == scap) {
          frame_t *ns = realloc(stack, (size_t)(scap * 2) * sizeof *stack);
          if (!ns) goto oom;
          stack = ns; scap *= 2;
        }
        stack[sp++] = (frame_t){in->grad_fn, 0};
      }
    } else {
      if (n == cap) {
        ci_node **no = realloc(order, (size_t)(cap * 2) * sizeof *order);
        if (!no) goto oom;
        order = no; cap *= 2;
      }
      order[n++] = f->node;
      sp--;
    }
  }
  free(stack);
  *order_out = order;
  *n_out = n;
  return CI_OK;
oom:
  free(order);
  free(stack);
  return ci_set_error(CI_ENOMEM, "ci_tensor_backward: out of memory for the graph walk");
}

/* Drops the accumulated output gradients of the nodes (left by an earlier
 * failed pass, or by this one). */
static void release_accums(ci_node **order, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    ci_tensor_release(order[i]->grad_accum);
    order[i]->grad_accum = NULL;
  }
}

/* One node's backward: its inputs' gradients from its accumulated output
 * gradient, added to their own nodes' accumulators (or, for leaves, to their
 * grad). An error is reported as arising in that node. */
static int run_node(ci_node *node, const char *W) {
  ci_tensor *g = node->grad_accum;
  if (!g) return CI_OK;
  ci_tensor *gin[CI_NODE_MAX_INPUTS] = {0};
  int rc = node->backward(node, g, gin);
  const char *name = node->name ? node->name : "?";
  if (rc && !strstr(ci_last_error(), name)) {
    char msg[900];
    snprintf(msg, sizeof msg, "%s", ci_last_error());
    ci_set_error(rc, "%s: in the backward of '%s': %s", W, name, msg);
  }
  for (int i = 0; i < node->n_inputs; i++) {
    if (!gin[i]) continue;
    ci_tensor *in = node->inputs[i];
    if (!rc && in && in->grad_on) {
      if (in->grad_fn) rc = accumulate(&in->grad_fn->grad_accum, gin[i], in, node->name);
      else rc = accumulate(&in->grad_t, gin[i], in, node->name);
    }
    ci_tensor_release(gin[i]);
  }
  ci_tensor_release(node->grad_accum);
  node->grad_accum = NULL;
  return rc;
}

/* The gradient that starts the walk: grad, or 1 for a one-element tensor. */
static int backward_seed(ci_tensor *t, const ci_tensor *grad, ci_tensor **seed, const char *W) {
  if (!t->grad_on)
    return ci_set_error(CI_ESTATE, "%s: the tensor does not require grad (no leaf it was "
                        "computed from has requires_grad set, or it was computed under no_grad)", W);
  if (grad && grad->nel != t->nel)
    return ci_set_error(CI_EINVAL, "%s: grad has %lld elements, the tensor has %lld", W,
                        (long long)grad->nel, (long long)t->nel);
  if (!grad && t->nel != 1)
    return ci_set_error(CI_EINVAL, "%s: grad can be omitted only for a one-element tensor "
                        "(this one has %lld elements); pass grad", W, (long long)t->nel);
  return grad ? ci_tensor_from_floats(t->ndim, t->shape, grad->data, seed)
              : ci_tensor_full(t->ndim, t->shape, 1.0, seed);
}

int ci_tensor_backward(ci_tensor *t, const ci_tensor *grad) {
  const char *W = "ci_tensor_backward";
  if (!t) return ci_set_error(CI_EINVAL, "%s: t is NULL", W);
  ci_tensor *seed = NULL;
  int rc = backward_seed(t, grad, &seed, W);
  if (rc) return rc;
  if (!t->grad_fn) {   /* a leaf */
    rc = accumulate(&t->grad_t, seed, t, "backward");
    ci_tensor_release(seed);
    return rc;
  }
  ci_node **order = NULL;
  int64_t n = 0;
  if ((rc = collect(t->grad_fn, &order, &n))) { ci_tensor_release(seed); return rc; }
  release_accums(order, n);
  t->grad_fn->grad_accum = seed;
  const int old_mode = grad_mode, old_in = in_backward;
  grad_mode = 0;
  in_backward = 1;
  for (int64_t k = n - 1; k >= 0 && !rc; k--) rc = run_node(order[k], W);
  release_accums(order, n);
  grad_mode = old_mode;
  in_backward = old_in;
  free(order);
  return rc;
}
