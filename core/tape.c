/* tape.c: reverse-mode autodiff: grad mode, tape nodes, backward. */
#include "internal.h"

static _Thread_local int grad_mode = 1;

int ci_grad_enabled(void) { return grad_mode; }

int ci_set_grad_enabled(int on) {
  int old = grad_mode;
  grad_mode = on ? 1 : 0;
  return old;
}

int ci_needs_grad(const ci_tensor *t) { return grad_mode && t && t->grad_on; }

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
