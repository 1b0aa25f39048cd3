/* net_internal.h: the network object, the state of a pass and the private
 * functions of the network engine (prefix cn_, hidden from the library's
 * exports like everything outside core/cinterp.h). Who holds what:
 *   net.c           the network object: build, accessors, release
 *   net_pool.c      buffer pools that follow the batch size of the work
 *   net_step.h      the elementwise maths of one timestep (CPU and GPU)
 *   net_forward.c   a pass on the CPU: setup, one step, the forward driver
 *   net_backward.c  the backward driver on the CPU (checkpointed chunks recomputed)
 *   net_layout.c    the (B, n, L) tensors from and to the L slabs (blocked)
 *   net_tape.c      ci_net_forward / ci_net_vjp: the tape node and the
 *                   parameter gradients, for either device
 *   kernels/net.cu  the pass on the GPU (the same interface, cn_backend) */
#ifndef CI_NET_INTERNAL_H
#define CI_NET_INTERNAL_H

#include "internal.h"
#include "net_step.h"

/* ---- buffer pools (net_pool.c) ---- */

#define CN_POOL_SLOTS 64

/* Buffers of finished passes kept for the next ones (no page faults, no
 * cudaMalloc per iteration of an optimisation loop). Every buffer belongs to
 * the pass shape (`key`, see cn_pass_key) it was taken for: a pass of another
 * shape releases what the pool holds, so the memory follows the work. */
typedef struct cn_pool {
  int (*alloc)(void **p, size_t bytes, const char *where); /* status; *p NULL for 0 bytes */
  void (*release)(void *p, size_t bytes);
  int64_t key;             /* shape of the buffers held; -1 for none yet */
  int32_t n;               /* buffers held */
  void *ptr[CN_POOL_SLOTS];
  size_t bytes[CN_POOL_SLOTS];
} cn_pool;

/* The key of a pass: batch size and number of layers. */
static inline int64_t cn_pass_key(int64_t B, int32_t L) { return B * 4096 + (L & 4095); }

/* An empty pool over the given allocator (status; *p NULL for 0 bytes) and
 * its release. */
void cn_pool_init(cn_pool *pool, int (*alloc)(void **p, size_t bytes, const char *where),
                  void (*release)(void *p, size_t bytes));
/* A pool over host memory (64-byte aligned; big buffers mapped straight from
 * the system so that releasing them returns them). */
void cn_pool_init_host(cn_pool *pool);
/* A buffer of `bytes` for a pass of shape `key` into *out: a held one of that
 * size, else a fresh one. A key other than the pool's releases every held
 * buffer first. Returns CI_OK or CI_ENOMEM (error set, naming where). */
int cn_pool_get(cn_pool *pool, int64_t key, size_t bytes, void **out, const char *where);
/* Gives a buffer back (NULL is ignored); kept when it belongs to the pool's
 * current key and a slot is free, else released. */
void cn_pool_put(cn_pool *pool, int64_t key, void *p, size_t bytes);
/* Releases every held buffer. */
void cn_pool_clear(cn_pool *pool);

/* ---- the network ---- */

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
  int32_t order;           /* CI_REORDER_NONE or CI_REORDER_RCM */
  int32_t *perm, *inv;     /* engine index -> caller's and back (RCM), NULL for NONE;
                            * every neuron index above is the engine's */
  float slope0, bias0, tau0;  /* scalars used without groups */
  ci_csr *w, *wt;          /* ordinary weights and their transpose */
  ci_csr *wd, *wdt;        /* divisive weights (post x pre) and transpose, or NULL */
  ci_tensor *param[4];     /* slope, raw_bias, tau_param, div_strength (n_groups each) */
  int64_t last_stored_bytes;
  int32_t on_device;       /* 1: the weights also live on the GPU (ci_net_to_device) */
  void *dev;               /* the device copy (kernels/net.cu), NULL on the CPU */
  cn_pool pool;            /* host buffers of finished passes */
};

/* Per-neuron parameters expanded for one pass (a snapshot at forward time). */
typedef struct cn_coeffs {
  float *k;      /* slope */
  float *c;      /* bias */
  float *tau;    /* effective tau */
  float *inv, *keep;  /* 1 / tau and (tau - 1) / tau (ci_step_rates) */
  float *sig;    /* divisive strength of each neuron's group (as a pre), or NULL */
} cn_coeffs;

/* What a pass needs on either device: the network, the shape, the coefficient
 * snapshot and the manipulations sorted by layer (all host memory). */
typedef struct cn_pass {
  ci_net *net;
  int64_t B;
  int32_t L;
  int64_t key;             /* cn_pass_key(B, L): its buffers' pool key */
  cn_coeffs co;
  ci_manip *manip;         /* copy, sorted by layer */
  int64_t n_manip;
  int64_t *manip_start;    /* L + 1 offsets into manip per layer */
} cn_pass;

/* Checks the input's shape (B, S, L) and the manipulations, snapshots the
 * coefficients and sorts the manipulations. Never reads the input's data. */
int cn_pass_init(cn_pass *ps, ci_net *net, const ci_tensor *input, const ci_manip *manip,
                 int64_t n_manip, const char *where);
void cn_pass_free(cn_pass *ps);

/* ---- a pass on the CPU (net_forward.c, net_backward.c) ---- */

/* The state a recorded forward keeps for its backward. */
typedef struct cn_state {
  cn_pass pass;
  int32_t ck;              /* checkpoint interval (0 = keep everything) */
  const float *u;          /* the input's data (B, S, L) */
  float *ut;               /* the input as L slabs of S x B (slot rows, batch innermost) */
  float **x;               /* L + 1 slabs n x B (NULL where not kept) */
  float **p;               /* L slabs (index t-1 for step t), NULL where not kept */
  float *pbuf;             /* scratch slab for p_t when it is not kept */
  ci_tensor *input;        /* retained */
} cn_state;

/* One step t (1-based): x_prev -> x, with p_t = W x_prev written to p. */
void cn_step_forward(const cn_state *st, int32_t t, const float *x_prev, float *x, float *p);

/* Where the input of layer t + 1 (0-based index t of the (B, S, L) input, t <
 * L) to neuron i sits in an (L, S, B) block such as st->ut: its B batch
 * columns from that offset on, contiguous; -1 when i is not sensory or t = L.
 * The backward's input gradient uses the same layout. */
static inline int64_t cn_input_offset(const cn_state *st, int32_t i, int32_t t) {
  const int32_t slot = st->pass.net->slot_of[i];
  if (slot < 0 || t >= st->pass.L) return -1;
  return ((int64_t)t * st->pass.net->n_sensory + slot) * st->pass.B;
}
/* The (B, S, L) input bsl copied into the (L, S, B) block lsb (net_layout.c),
 * and an (L, S, B) gradient added into the (B, S, L) one. */
void cn_input_to_lsb(const cn_state *st, const float *bsl, float *lsb);
void cn_input_add_to_bsl(const cn_state *st, const float *lsb, float *bsl);

/* The divisive term of row i, batch column b: the sum over the divisive
 * connections i <- j of w * sig[j] * x[j, b]. */
static inline float cn_row_divisive(const ci_csr *wd, const float *sig, int32_t i, const float *x,
                                    int64_t B, int64_t b) {
  float d = 0.0f;
  for (int64_t e = wd->rowptr[i]; e < wd->rowptr[i + 1]; e++) {
    const int32_t j = wd->colidx[e];
    d += wd->vals[e] * sig[j] * x[(int64_t)j * B + b];
  }
  return d;
}

/* ---- the (B, n, L) layout (net_layout.c) ---- */

/* L slabs of n x B: given as L pointers (ptr) or one block, slab t at base + t * stride. */
typedef struct cn_slabs {
  float *const *ptr;
  float *base;
  size_t stride;
} cn_slabs;
static inline float *cn_slab(cn_slabs s, int32_t t) {
  return s.ptr ? s.ptr[t] : s.base + (size_t)t * s.stride;
}
/* (B, n, L) tensor bnl <- slabs (to_bnl) or slabs <- bnl: element (b, j, t) is
 * slab t's [inv[j], b] (inv NULL: the identity). */
void cn_layout_copy(cn_slabs slabs, float *bnl, int64_t n, int64_t B, int32_t L,
                    const int32_t *inv, int to_bnl);

/* ---- the elementwise passes over flat blocks (net_forward.c, net_backward.c) ---- */

/* The elementwise passes run over blocks of whole rows as one flat loop of at
 * most CN_FLAT elements: at a small batch a row is too short a loop (one
 * vector at B = 8, whose long chain of dependent operations stalls the core),
 * so the block's per-neuron coefficients are laid out per element. A row of
 * CN_FLAT elements or more is a block alone, with its coefficients as scalars. */
enum { CN_FLAT = 512 };
typedef struct cn_flat {
  const float *k, *c, *inv, *keep; /* element e's coefficients at [e * stride] */
  int stride;                      /* 1: per element; 0: one row's */
  float kbuf[CN_FLAT], cbuf[CN_FLAT], invbuf[CN_FLAT], keepbuf[CN_FLAT];
} cn_flat;

/* CALL(args..., ml, last) with the flags of the step mode m as constants, so
 * that an always_inline loop behind CALL compiles to one branch-free loop per
 * kind of step. */
#define CN_WITH_MODE(m, CALL, ...)                                  \
  do {                                                              \
    if ((m).ml && !(m).last) CALL(__VA_ARGS__, 1, 0);               \
    else if ((m).ml) CALL(__VA_ARGS__, 1, 1);                       \
    else CALL(__VA_ARGS__, 0, (m).last);                            \
  } while (0)

/* Rows per block. */
static inline int32_t cn_flat_rows(int64_t B) {
  return B >= CN_FLAT ? 1 : (int32_t)(CN_FLAT / (B > 0 ? B : 1));
}

/* f's coefficients for the rows [i0, i1) (consecutive, B elements each). */
static inline void cn_flat_coeffs(cn_flat *f, const cn_coeffs *co, int32_t i0, int32_t i1,
                                  int64_t B) {
  if (B == 1 || i1 - i0 == 1) { /* already per element, or one row: no copy */
    f->k = co->k + i0; f->c = co->c + i0; f->inv = co->inv + i0; f->keep = co->keep + i0;
    f->stride = B == 1;
    return;
  }
  int64_t e = 0;
  for (int32_t i = i0; i < i1; i++)
    for (int64_t b = 0; b < B; b++, e++) {
      f->kbuf[e] = co->k[i];
      f->cbuf[e] = co->c[i];
      f->invbuf[e] = co->inv[i];
      f->keepbuf[e] = co->keep[i];
    }
  f->k = f->kbuf; f->c = f->cbuf; f->inv = f->invbuf; f->keep = f->keepbuf;
  f->stride = 1;
}

/* ---- either device: the interface the tape glue (net_tape.c) drives ---- */

/* Where a backward writes, all host memory, each optional (NULL). */
typedef struct cn_grads {
  float *u;                /* (B, S, L), zeroed: dLoss/du */
  float *x;                /* (B, n, L): dLoss/dx_t for every t */
  double *k, *c, *tau;     /* n each, zeroed: per-neuron sums (all three or none) */
  double *sig;             /* one per divisive edge, zeroed */
} cn_grads;

typedef struct cn_backend {
  const char *node_name;   /* the tape node's name */
  /* Runs the forward; writes the (B, n, L) output as a host tensor into *out
   * when out != NULL; keeps in a new *state what the backward needs when
   * keep_for_grad. */
  int (*forward)(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                 int32_t ck, int keep_for_grad, ci_tensor **out, void **state,
                 const char *where);
  /* The backward of a kept state for grad_out ((B, n, L), host, or NULL for 0). */
  int (*backward)(void *state, const float *grad_out, const cn_grads *g, const char *where);
  void (*free_state)(void *state);
} cn_backend;

/* The CPU's backend (net_forward.c, net_backward.c). */
int cn_cpu_forward(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                   int32_t ck, int keep_for_grad, ci_tensor **out, void **state,
                   const char *where);
int cn_cpu_backward(void *state, const float *grad_out, const cn_grads *g, const char *where);
void cn_cpu_free_state(void *state);

#endif
