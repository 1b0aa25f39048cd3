/* net_internal.h: the network object and the state a recorded forward keeps
 * for its backward; shared by net.c, net_forward.c and net_backward.c. */
#ifndef CI_NET_INTERNAL_H
#define CI_NET_INTERNAL_H

#include "internal.h"

struct ci_net {
  int32_t refcount;
  int32_t kind;            /* CI_NET_MULTILAYERED / CI_NET_LINEAR */
  int32_t n;               /* neurons */
  int32_t num_layers;
  float threshold;
  int32_t n_sensory;
  int32_t *sensory;        /* slot -> neuron */
  int32_t *slot_of;        /* neuron -> slot or -1 */
  int32_t n_groups;        /* 0 = no groups */
  int32_t *group_of;       /* neuron -> group (n_groups > 0) */
  float slope0, bias0, tau0;  /* scalars used without groups */
  ci_csr *w, *wt;          /* ordinary weights and their transpose */
  ci_csr *wd, *wdt;        /* divisive weights (post x pre) and transpose, or NULL */
  ci_tensor *param[4];     /* slope, raw_bias, tau_param, div_strength (n_groups each) */
  int64_t last_stored_bytes;
  int32_t on_device;       /* 1: the weights also live on the GPU (ci_net_to_device) */
  void *dev;               /* the device copy (kernels/net.cu), NULL on the CPU */
  /* buffers of finished passes, reused by the next ones (no page faults per
   * iteration of an optimisation loop); freed with the network */
  int32_t n_pooled;
  void *pool_ptr[64];
  size_t pool_bytes[64];
};

/* Per-neuron parameters expanded for one pass (a snapshot at forward time). */
typedef struct net_coeffs {
  float *k;      /* slope */
  float *c;      /* bias */
  float *tau;    /* effective tau */
  float *sig;    /* divisive strength of each neuron's group (as a pre), or NULL */
} net_coeffs;

/* Everything a pass needs: the network, the snapshot, the input, the
 * manipulations sorted by layer. */
typedef struct net_pass {
  ci_net *net;
  int64_t B;
  int32_t L;
  const float *u;          /* input (B, S, L) */
  net_coeffs co;
  ci_manip *manip;         /* copy, sorted by layer */
  int64_t n_manip;
  int64_t *manip_start;    /* L + 1 offsets into manip per layer */
  float *pbuf;             /* scratch slab for p_t when it is not kept */
} net_pass;

/* The state a recorded forward keeps (the tape node's ctx). */
typedef struct net_state {
  net_pass pass;
  int32_t ck;              /* checkpoint interval (0 = keep everything) */
  float **x;               /* L + 1 slabs n x B (NULL where not kept) */
  float **p;               /* L slabs (index t-1 for step t), NULL where not kept */
  ci_tensor *input;        /* retained */
} net_state;

/* Y (+)= A X for n x B slabs. When few rows of X are nonzero (the input step,
 * the first steps of a backward from a few target neurons) the product is
 * pushed through the transpose At over the nonzero rows only (sequential,
 * so deterministic); otherwise it is the row-parallel pull of ci_csr_spmm. */
int net_product(const ci_csr *A, const ci_csr *At, const float *X, int64_t B, float *Y,
                int accumulate);
/* 1 when at most 10 % of the rows of X (ncols x B) have a nonzero entry. */
int net_product_is_sparse(const ci_csr *A, const float *X, int64_t B);

/* A buffer of `bytes` (64-byte aligned) from the network's pool or fresh;
 * *ok = 0 on allocation failure. net_buf_put gives it back (NULL is ignored). */
void *net_buf_get(ci_net *net, size_t bytes, int *ok);
void net_buf_put(ci_net *net, void *p, size_t bytes);

int net_pass_init(net_pass *ps, ci_net *net, const ci_tensor *input, const ci_manip *manip,
                  int64_t n_manip, const char *where);
void net_pass_free(net_pass *ps);
/* x0 (n x B) from the input's first layer. */
void net_place_input(const net_pass *ps, float *x0);
/* One step t (1-based): x_prev -> x (and p, if p != NULL). */
void net_step_forward(const net_pass *ps, int32_t t, const float *x_prev, float *x, float *p);
void net_state_free(net_state *st);
/* Backward over a state: grad_out (B, n, L) -> grads (each optional). */
int net_backward(net_state *st, const float *grad_out, float *grad_u, float *grad_x,
                 double *g_k, double *g_c, double *g_tau, double *g_sig);
/* Reduces per-neuron gradient sums into parameter gradients (double -> tensor grads). */
int net_accumulate_param_grads(ci_net *net, const net_coeffs *co, double *g_k, double *g_c,
                               double *g_tau, double *g_sig, ci_tensor **grads_out);

#endif
