/* tensor_ops.c: the ops on dense float32 tensors (elementwise with torch broadcasting,
 * reductions, indexing, reshaping, matmul), each with its backward function for the
 * tape (core/tape.c). Forward and backward of an op sit side by side. */
#include "fast_tanh.h"
#include "internal.h"

#include <cblas.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define PAR_MIN (1 << 16)   /* below this many elements loops stay serial */
#define SUM_CHUNK 4096      /* fixed chunk size of parallel reductions (deterministic) */

/* ---------------------------------------------------------------- helpers */

static void shape_str(int ndim, const int64_t *shape, char *buf, size_t n) {
  size_t k = 0;
  k += (size_t)snprintf(buf + k, n - k, "(");
  for (int i = 0; i < ndim && k < n; i++)
    k += (size_t)snprintf(buf + k, n - k, i ? "x%lld" : "%lld", (long long)shape[i]);
  if (k < n) snprintf(buf + k, n - k, ")");
}

static int same_shape(const ci_tensor *a, int ndim, const int64_t *shape) {
  if (a->ndim != ndim) return 0;
  for (int i = 0; i < ndim; i++)
    if (a->shape[i] != shape[i]) return 0;
  return 1;
}

static int check_arg(const ci_tensor *t, const char *where, const char *name) {
  if (!t) return ci_set_error(CI_EINVAL, "%s: %s is NULL", where, name);
  if (t->on_device)
    return ci_set_error(CI_EDEVICE, "%s: %s lives on the GPU; this op runs on the cpu", where,
                        name);
  return CI_OK;
}

static int check_dim(const ci_tensor *a, int dim, const char *where) {
  if (dim < 0 || dim >= a->ndim)
    return ci_set_error(CI_EINVAL, "%s: dim %d is out of range 0..%d", where, dim, a->ndim - 1);
  return CI_OK;
}

/* outer x n x inner view of a around dim. */
static void split_dim(const ci_tensor *a, int dim, int64_t *outer, int64_t *n, int64_t *inner) {
  int64_t o = 1, in = 1;
  for (int i = 0; i < dim; i++) o *= a->shape[i];
  for (int i = dim + 1; i < a->ndim; i++) in *= a->shape[i];
  *outer = o; *n = a->shape[dim]; *inner = in;
}

static int records(int n, ci_tensor *const *in) {
  if (!ci_grad_enabled()) return 0;
  for (int i = 0; i < n; i++)
    if (in[i] && in[i]->grad_on) return 1;
  return 0;
}

/* Attaches a node when needed; on failure releases *out. Returns the node via *node
 * (NULL when nothing was recorded). */
static int record(ci_tensor **out, const char *name, int n, ci_tensor *const *in,
                  ci_backward_fn bw, ci_node **node) {
  if (node) *node = NULL;
  if (!records(n, in)) return CI_OK;
  ci_node *nd = ci_node_attach(*out, name, n, in, bw);
  if (!nd) { ci_tensor_release(*out); *out = NULL; return CI_ENOMEM; }
  if (node) *node = nd;
  return CI_OK;
}

static int new_tensor(int ndim, const int64_t *shape, ci_tensor **out) {
  *out = NULL;
  return ci_tensor_new(ndim, shape, out);
}

/* ------------------------------------------------------- broadcasting */

typedef struct {
  int64_t shape[4];      /* output shape padded to 4 dims on the left */
  int64_t st[3][4];      /* per input strides (0 where broadcast) */
  int same;              /* every input has the output's shape: flat loop */
  int64_t n;
} bcast_t;

static int bcast_shape(int nin, const ci_tensor *const *in, int *ndim, int64_t *shape,
                       const char *where) {
  int nd = 0;
  for (int k = 0; k < nin; k++)
    if (in[k]->ndim > nd) nd = in[k]->ndim;
  for (int d = 0; d < nd; d++) {
    int64_t s = 1;
    for (int k = 0; k < nin; k++) {
      int off = nd - in[k]->ndim;
      int64_t sk = d < off ? 1 : in[k]->shape[d - off];
      if (sk == s || sk == 1) continue;
      if (s == 1) { s = sk; continue; }
      char b1[96], b2[96];
      shape_str(in[0]->ndim, in[0]->shape, b1, sizeof b1);
      shape_str(in[k]->ndim, in[k]->shape, b2, sizeof b2);
      return ci_set_error(CI_EINVAL, "%s: shapes %s and %s cannot be broadcast together",
                          where, b1, b2);
    }
    shape[d] = s;
  }
  *ndim = nd;
  return CI_OK;
}

static void bcast_setup(bcast_t *it, int ndim, const int64_t *shape, int nin,
                        const ci_tensor *const *in) {
  int off = 4 - ndim;
  it->n = 1;
  for (int d = 0; d < 4; d++) {
    it->shape[d] = d < off ? 1 : shape[d - off];
    it->n *= it->shape[d];
  }
  it->same = 1;
  for (int k = 0; k < 3; k++)
    for (int d = 0; d < 4; d++) it->st[k][d] = 0;
  for (int k = 0; k < nin; k++) {
    if (!same_shape(in[k], ndim, shape)) it->same = 0;
    int o = 4 - in[k]->ndim;
    int64_t stride = 1;
    for (int d = 3; d >= 0; d--) {
      int64_t s = d < o ? 1 : in[k]->shape[d - o];
      it->st[k][d] = (s == 1) ? 0 : stride;
      stride *= s;
    }
  }
}

/* Runs BODY for every output element o_ with input offsets x0, x1, x2. */
#define BCAST_FOR(it, BODY)                                                              \
  do {                                                                                   \
    if ((it).same) {                                                                     \
      int64_t n_ = (it).n;                                                               \
      _Pragma("omp parallel for if(n_ > PAR_MIN) schedule(static)")                      \
      for (int64_t o_ = 0; o_ < n_; o_++) {                                              \
        int64_t x0 = o_, x1 = o_, x2 = o_;                                               \
        (void)x0; (void)x1; (void)x2;                                                    \
        BODY;                                                                            \
      }                                                                                  \
    } else {                                                                             \
      int64_t o_ = 0;                                                                    \
      for (int64_t i0 = 0; i0 < (it).shape[0]; i0++)                                     \
        for (int64_t i1 = 0; i1 < (it).shape[1]; i1++)                                   \
          for (int64_t i2 = 0; i2 < (it).shape[2]; i2++) {                               \
            int64_t b0 = i0 * (it).st[0][0] + i1 * (it).st[0][1] + i2 * (it).st[0][2];   \
            int64_t b1 = i0 * (it).st[1][0] + i1 * (it).st[1][1] + i2 * (it).st[1][2];   \
            int64_t b2 = i0 * (it).st[2][0] + i1 * (it).st[2][1] + i2 * (it).st[2][2];   \
            int64_t s0 = (it).st[0][3], s1 = (it).st[1][3], s2 = (it).st[2][3];          \
            for (int64_t i3 = 0; i3 < (it).shape[3]; i3++, o_++) {                       \
              int64_t x0 = b0 + i3 * s0, x1 = b1 + i3 * s1, x2 = b2 + i3 * s2;           \
              (void)x0; (void)x1; (void)x2;                                              \
              BODY;                                                                      \
            }                                                                            \
          }                                                                              \
    }                                                                                    \
  } while (0)

/* Sums g (of the broadcast shape) down to shape (ndim, shape): the backward of
 * broadcasting. Returns a new tensor. */
static int reduce_to(const ci_tensor *g, int ndim, const int64_t *shape, ci_tensor **out) {
  int rc = new_tensor(ndim, shape, out);
  if (rc) return rc;
  if (same_shape(g, ndim, shape)) {
    if (g->nel) memcpy((*out)->data, g->data, (size_t)g->nel * sizeof(float));
    return CI_OK;
  }
  int ok;
  double *acc = ci_alloc_aligned((size_t)(*out)->nel * sizeof(double), &ok);
  if (!ok) {
    ci_tensor_release(*out); *out = NULL;
    return ci_set_error(CI_ENOMEM, "backward: out of memory");
  }
  for (int64_t i = 0; i < (*out)->nel; i++) acc[i] = 0;
  const ci_tensor *ins[2] = {g, *out};
  bcast_t it;
  bcast_setup(&it, g->ndim, g->shape, 2, ins);
  it.same = 0;
  const float *gd = g->data;
  BCAST_FOR(it, acc[x1] += gd[x0]);
  for (int64_t i = 0; i < (*out)->nel; i++) (*out)->data[i] = (float)acc[i];
  ci_free_aligned(acc);
  return CI_OK;
}

/* ------------------------------------------------------- binary ops */

static inline float bin_apply(int op, float a, float b) {
  switch (op) {
    case CI_OP_ADD: return a + b;
    case CI_OP_SUB: return a - b;
    case CI_OP_MUL: return a * b;
    case CI_OP_DIV: return a / b;
    case CI_OP_POW: return powf(a, b);
    case CI_OP_GT: return a > b ? 1.0f : 0.0f;
    case CI_OP_GE: return a >= b ? 1.0f : 0.0f;
    case CI_OP_LT: return a < b ? 1.0f : 0.0f;
    case CI_OP_LE: return a <= b ? 1.0f : 0.0f;
    case CI_OP_EQ: return a == b ? 1.0f : 0.0f;
    case CI_OP_NE: return a != b ? 1.0f : 0.0f;
    case CI_OP_MAXIMUM: return (a >= b || isnan(a)) ? a : b;
    case CI_OP_MINIMUM: return (a <= b || isnan(a)) ? a : b;
  }
  return 0;
}

static const char *bin_name(int op) {
  static const char *names[] = {"add", "sub", "mul", "div", "pow", "rsub", "rdiv", "rpow",
                                "gt", "ge", "lt", "le", "eq", "ne", "maximum", "minimum"};
  return (op >= 0 && op <= CI_OP_MINIMUM) ? names[op] : "?";
}

/* grad wrt a (which = 0) or b (which = 1) of one element. */
static inline float bin_grad(int op, int which, float g, float a, float b) {
  switch (op) {
    case CI_OP_ADD: return g;
    case CI_OP_SUB: return which ? -g : g;
    case CI_OP_MUL: return which ? g * a : g * b;
    case CI_OP_DIV: return which ? -g * a / (b * b) : g / b;
    case CI_OP_POW:
      if (!which) return b == 0.0f ? 0.0f : g * b * powf(a, b - 1.0f);
      return (a == 0.0f && b >= 0.0f) ? 0.0f : g * powf(a, b) * logf(a);
    case CI_OP_MAXIMUM:   /* ties split the gradient evenly, as torch */
      if (a == b) return 0.5f * g;
      return ((a > b) != (which == 1)) ? g : 0.0f;
    case CI_OP_MINIMUM:
      if (a == b) return 0.5f * g;
      return ((a < b) != (which == 1)) ? g : 0.0f;
  }
  return 0;
}

static int binary_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  int op = (int)node->ints[0];
  ci_tensor *a = node->inputs[0], *b = node->inputs[1];
  for (int which = 0; which < 2; which++) {
    ci_tensor *x = node->inputs[which];
    if (!ci_needs_grad(x)) continue;
    ci_tensor *full = NULL;
    int rc = new_tensor(g->ndim, g->shape, &full);
    if (rc) return rc;
    const ci_tensor *ins[3] = {g, a, b};
    bcast_t it;
    bcast_setup(&it, g->ndim, g->shape, 3, ins);
    float *fd = full->data;
    const float *gd = g->data, *ad = a->data, *bd = b->data;
    BCAST_FOR(it, fd[o_] = bin_grad(op, which, gd[x0], ad[x1], bd[x2]));
    if (same_shape(x, g->ndim, g->shape)) {
      gin[which] = full;
    } else {
      rc = reduce_to(full, x->ndim, x->shape, &gin[which]);
      ci_tensor_release(full);
      if (rc) return rc;
    }
  }
  return CI_OK;
}

int ci_tensor_binary(int op, ci_tensor *a, ci_tensor *b, ci_tensor **out) {
  const char *W = "ci_tensor_binary";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a")) || (rc = check_arg(b, W, "b"))) return rc;
  if (op < 0 || op > CI_OP_MINIMUM || op == CI_OP_RSUB || op == CI_OP_RDIV || op == CI_OP_RPOW)
    return ci_set_error(CI_EINVAL, "%s: op = %d is not a binary op", W, op);
  const ci_tensor *ins[2] = {a, b};
  int ndim = 0;
  int64_t shape[4] = {1, 1, 1, 1};
  if ((rc = bcast_shape(2, ins, &ndim, shape, W))) return rc;
  if ((rc = new_tensor(ndim, shape, out))) return rc;
  bcast_t it;
  bcast_setup(&it, ndim, shape, 2, ins);
  float *od = (*out)->data;
  const float *ad = a->data, *bd = b->data;
  switch (op) {  /* the common ones get their own loops */
    case CI_OP_ADD: BCAST_FOR(it, od[o_] = ad[x0] + bd[x1]); break;
    case CI_OP_SUB: BCAST_FOR(it, od[o_] = ad[x0] - bd[x1]); break;
    case CI_OP_MUL: BCAST_FOR(it, od[o_] = ad[x0] * bd[x1]); break;
    case CI_OP_DIV: BCAST_FOR(it, od[o_] = ad[x0] / bd[x1]); break;
    default: BCAST_FOR(it, od[o_] = bin_apply(op, ad[x0], bd[x1])); break;
  }
  if (op >= CI_OP_GT && op <= CI_OP_NE) return CI_OK;   /* masks: no gradient */
  ci_tensor *in[2] = {a, b};
  ci_node *node;
  if ((rc = record(out, bin_name(op), 2, in, binary_backward, &node))) return rc;
  if (node) node->ints[0] = op;
  return CI_OK;
}

int ci_tensor_scalar_op(int op, ci_tensor *a, double s, ci_tensor **out) {
  const char *W = "ci_tensor_scalar_op";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a"))) return rc;
  ci_tensor *c = NULL;
  if ((rc = ci_tensor_full(0, NULL, s, &c))) return rc;
  switch (op) {
    case CI_OP_RSUB: rc = ci_tensor_binary(CI_OP_SUB, c, a, out); break;
    case CI_OP_RDIV: rc = ci_tensor_binary(CI_OP_DIV, c, a, out); break;
    case CI_OP_RPOW: rc = ci_tensor_binary(CI_OP_POW, c, a, out); break;
    default:
      if (op < 0 || op > CI_OP_MINIMUM) {
        rc = ci_set_error(CI_EINVAL, "%s: op = %d is not an op", W, op);
        break;
      }
      rc = ci_tensor_binary(op, a, c, out);
  }
  ci_tensor_release(c);
  if (rc && !strncmp(ci_last_error(), "ci_tensor_binary", 16)) {
    /* keep the message but name this function */
    char msg[1024];
    snprintf(msg, sizeof msg, "%s", ci_last_error() + 16);
    ci_set_error(rc, "%s%s", W, msg);
  }
  return rc;
}

/* ------------------------------------------------------- unary ops */

static int unary_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  ci_tensor *a = node->inputs[0];
  int rc = ci_tensor_new_like(a, &gin[0]);
  if (rc) return rc;
  float *o = gin[0]->data;
  const float *x = a->data, *gd = g->data;
  int64_t n = a->nel;
  switch ((int)node->ints[0]) {
    case CI_UN_NEG: for (int64_t i = 0; i < n; i++) o[i] = -gd[i]; break;
    case CI_UN_ABS:
      for (int64_t i = 0; i < n; i++) o[i] = x[i] > 0 ? gd[i] : (x[i] < 0 ? -gd[i] : 0.0f);
      break;
    case CI_UN_SQRT: for (int64_t i = 0; i < n; i++) o[i] = gd[i] / (2.0f * sqrtf(x[i])); break;
    case CI_UN_EXP: for (int64_t i = 0; i < n; i++) o[i] = gd[i] * expf(x[i]); break;
    case CI_UN_LOG: for (int64_t i = 0; i < n; i++) o[i] = gd[i] / x[i]; break;
    case CI_UN_TANH:
      for (int64_t i = 0; i < n; i++) { float t = ci_tanhf(x[i]); o[i] = gd[i] * (1.0f - t * t); }
      break;
    case CI_UN_RELU: for (int64_t i = 0; i < n; i++) o[i] = x[i] > 0 ? gd[i] : 0.0f; break;
    case CI_UN_SIGN: break;   /* zero */
    case CI_UN_SIGMOID:
      for (int64_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-x[i]));
        o[i] = gd[i] * s * (1.0f - s);
      }
      break;
  }
  return CI_OK;
}

int ci_tensor_unary(int op, ci_tensor *a, ci_tensor **out) {
  const char *W = "ci_tensor_unary";
  static const char *names[] = {"neg", "abs", "sqrt", "exp", "log", "tanh", "relu", "sign",
                                "sigmoid"};
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a"))) return rc;
  if (op < 0 || op > CI_UN_SIGMOID) return ci_set_error(CI_EINVAL, "%s: op = %d is unknown", W, op);
  if ((rc = new_tensor(a->ndim, a->shape, out))) return rc;
  float *o = (*out)->data;
  const float *x = a->data;
  int64_t n = a->nel;
#define UN_LOOP(EXPR)                                                  \
  _Pragma("omp parallel for if(n > PAR_MIN) schedule(static)")         \
  for (int64_t i = 0; i < n; i++) { float v = x[i]; o[i] = (EXPR); }
  switch (op) {
    case CI_UN_NEG: UN_LOOP(-v); break;
    case CI_UN_ABS: UN_LOOP(fabsf(v)); break;
    case CI_UN_SQRT: UN_LOOP(sqrtf(v)); break;
    case CI_UN_EXP: UN_LOOP(expf(v)); break;
    case CI_UN_LOG: UN_LOOP(logf(v)); break;
    case CI_UN_TANH: UN_LOOP(ci_tanhf(v)); break; /* fast_tanh.h: vectorised, 0.96 ulp */
    case CI_UN_RELU: UN_LOOP(v > 0 ? v : (isnan(v) ? v : 0.0f)); break;
    case CI_UN_SIGN: UN_LOOP(v > 0 ? 1.0f : (v < 0 ? -1.0f : (isnan(v) ? v : 0.0f))); break;
    case CI_UN_SIGMOID: UN_LOOP(1.0f / (1.0f + expf(-v))); break;
  }
#undef UN_LOOP
  ci_node *node;
  if ((rc = record(out, names[op], 1, &a, unary_backward, &node))) return rc;
  if (node) node->ints[0] = op;
  return CI_OK;
}

static int clamp_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  ci_tensor *a = node->inputs[0];
  int rc = ci_tensor_new_like(a, &gin[0]);
  if (rc) return rc;
  double lo = node->scalars[0], hi = node->scalars[1];
  for (int64_t i = 0; i < a->nel; i++)
    gin[0]->data[i] = (a->data[i] >= lo && a->data[i] <= hi) ? g->data[i] : 0.0f;
  return CI_OK;
}

int ci_tensor_clamp(ci_tensor *a, double lo, double hi, ci_tensor **out) {
  const char *W = "ci_tensor_clamp";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a"))) return rc;
  if ((rc = new_tensor(a->ndim, a->shape, out))) return rc;
  float flo = (float)lo, fhi = (float)hi;
  float *o = (*out)->data;
  const float *x = a->data;
  int64_t n = a->nel;
#pragma omp parallel for if(n > PAR_MIN) schedule(static)
  for (int64_t i = 0; i < n; i++) {
    float v = x[i];
    o[i] = v < flo ? flo : (v > fhi ? fhi : v);   /* NaN stays NaN */
  }
  ci_node *node;
  if ((rc = record(out, "clamp", 1, &a, clamp_backward, &node))) return rc;
  if (node) { node->scalars[0] = flo; node->scalars[1] = fhi; }
  return CI_OK;
}

static int where_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  ci_tensor *m = node->inputs[0];
  for (int which = 1; which <= 2; which++) {
    ci_tensor *x = node->inputs[which];
    if (!ci_needs_grad(x)) continue;
    ci_tensor *full = NULL;
    int rc = new_tensor(g->ndim, g->shape, &full);
    if (rc) return rc;
    const ci_tensor *ins[2] = {g, m};
    bcast_t it;
    bcast_setup(&it, g->ndim, g->shape, 2, ins);
    float *fd = full->data;
    const float *gd = g->data, *md = m->data;
    if (which == 1) BCAST_FOR(it, fd[o_] = md[x1] != 0.0f ? gd[x0] : 0.0f);
    else BCAST_FOR(it, fd[o_] = md[x1] != 0.0f ? 0.0f : gd[x0]);
    rc = reduce_to(full, x->ndim, x->shape, &gin[which]);
    ci_tensor_release(full);
    if (rc) return rc;
  }
  return CI_OK;
}

int ci_tensor_where(ci_tensor *mask, ci_tensor *a, ci_tensor *b, ci_tensor **out) {
  const char *W = "ci_tensor_where";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(mask, W, "mask")) || (rc = check_arg(a, W, "a")) ||
      (rc = check_arg(b, W, "b")))
    return rc;
  const ci_tensor *ins[3] = {mask, a, b};
  int ndim = 0;
  int64_t shape[4] = {1, 1, 1, 1};
  if ((rc = bcast_shape(3, ins, &ndim, shape, W))) return rc;
  if ((rc = new_tensor(ndim, shape, out))) return rc;
  bcast_t it;
  bcast_setup(&it, ndim, shape, 3, ins);
  float *od = (*out)->data;
  const float *md = mask->data, *ad = a->data, *bd = b->data;
  BCAST_FOR(it, od[o_] = md[x0] != 0.0f ? ad[x1] : bd[x2]);
  ci_tensor *in[3] = {mask, a, b};
  if (!records(2, in + 1)) return CI_OK;   /* the mask alone carries no gradient */
  return record(out, "where", 3, in, where_backward, NULL);
}

/* ------------------------------------------------------- reductions */

/* Deterministic double sum of x[0..n-1] (fixed chunks, independent of thread count). */
static double sum_all(const float *x, int64_t n, int absval, double p) {
  int64_t nch = (n + SUM_CHUNK - 1) / SUM_CHUNK;
  double partial_small[64];
  int ok = 1;
  double *part = nch <= 64 ? partial_small : ci_alloc_aligned((size_t)nch * sizeof(double), &ok);
  if (!ok) {   /* serial fallback, same chunking */
    double s = 0;
    for (int64_t c = 0; c < nch; c++) {
      double cs = 0;
      int64_t e = (c + 1) * SUM_CHUNK < n ? (c + 1) * SUM_CHUNK : n;
      for (int64_t i = c * SUM_CHUNK; i < e; i++)
        cs += p == 1.0 ? (absval ? fabs((double)x[i]) : x[i]) : pow(fabs((double)x[i]), p);
      s += cs;
    }
    return s;
  }
#pragma omp parallel for if(n > PAR_MIN) schedule(static)
  for (int64_t c = 0; c < nch; c++) {
    double cs = 0;
    int64_t e = (c + 1) * SUM_CHUNK < n ? (c + 1) * SUM_CHUNK : n;
    if (p == 1.0) {
      if (absval) for (int64_t i = c * SUM_CHUNK; i < e; i++) cs += fabs((double)x[i]);
      else for (int64_t i = c * SUM_CHUNK; i < e; i++) cs += x[i];
    } else if (p == 2.0) {
      for (int64_t i = c * SUM_CHUNK; i < e; i++) cs += (double)x[i] * x[i];
    } else {
      for (int64_t i = c * SUM_CHUNK; i < e; i++) cs += pow(fabs((double)x[i]), p);
    }
    part[c] = cs;
  }
  double s = 0;
  for (int64_t c = 0; c < nch; c++) s += part[c];
  if (part != partial_small) ci_free_aligned(part);
  return s;
}

/* Reduced shape: a's without dim. */
static void drop_dim(const ci_tensor *a, int dim, int *ndim, int64_t *shape) {
  int k = 0;
  for (int i = 0; i < a->ndim; i++)
    if (i != dim) shape[k++] = a->shape[i];
  *ndim = k;
}

/* ints[0] = dim (-1 all); scalars[0] = scale (1 or 1/n). */
static int sum_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  ci_tensor *a = node->inputs[0];
  int rc = ci_tensor_new_like(a, &gin[0]);
  if (rc) return rc;
  float *o = gin[0]->data;
  float scale = (float)node->scalars[0];
  int dim = (int)node->ints[0];
  if (dim < 0) {
    float v = g->data[0] * scale;
    for (int64_t i = 0; i < a->nel; i++) o[i] = v;
    return CI_OK;
  }
  int64_t outer, n, inner;
  split_dim(a, dim, &outer, &n, &inner);
  for (int64_t p = 0; p < outer; p++)
    for (int64_t k = 0; k < n; k++)
      for (int64_t i = 0; i < inner; i++) o[(p * n + k) * inner + i] = g->data[p * inner + i] * scale;
  return CI_OK;
}

static int sum_mean(ci_tensor *a, int dim, int mean, ci_tensor **out, const char *W) {
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a"))) return rc;
  if (dim < -1) return ci_set_error(CI_EINVAL, "%s: dim %d is out of range -1..%d", W, dim, a->ndim - 1);
  double scale = 1.0;
  if (dim < 0) {
    if ((rc = new_tensor(0, NULL, out))) return rc;
    double s = sum_all(a->data, a->nel, 0, 1.0);
    if (mean) scale = 1.0 / (double)a->nel;
    (*out)->data[0] = (float)(mean ? s / (double)a->nel : s);
  } else {
    if ((rc = check_dim(a, dim, W))) return rc;
    int nd;
    int64_t shape[4];
    drop_dim(a, dim, &nd, shape);
    if ((rc = new_tensor(nd, shape, out))) return rc;
    int64_t outer, n, inner;
    split_dim(a, dim, &outer, &n, &inner);
    if (mean) scale = 1.0 / (double)n;
    int ok;
    double *acc = ci_alloc_aligned((size_t)(inner ? inner : 1) * sizeof(double), &ok);
    if (!ok) {
      ci_tensor_release(*out); *out = NULL;
      return ci_set_error(CI_ENOMEM, "%s: out of memory", W);
    }
    for (int64_t p = 0; p < outer; p++) {
      for (int64_t i = 0; i < inner; i++) acc[i] = 0;
      for (int64_t k = 0; k < n; k++) {
        const float *row = a->data + (p * n + k) * inner;
        for (int64_t i = 0; i < inner; i++) acc[i] += row[i];
      }
      for (int64_t i = 0; i < inner; i++) (*out)->data[p * inner + i] = (float)(acc[i] * scale);
    }
    ci_free_aligned(acc);
  }
  ci_node *node;
  if ((rc = record(out, mean ? "mean" : "sum", 1, &a, sum_backward, &node))) return rc;
  if (node) { node->ints[0] = dim < 0 ? -1 : dim; node->scalars[0] = scale; }
  return CI_OK;
}

int ci_tensor_sum(ci_tensor *a, int dim, ci_tensor **out) {
  return sum_mean(a, dim, 0, out, "ci_tensor_sum");
}
int ci_tensor_mean(ci_tensor *a, int dim, ci_tensor **out) {
  return sum_mean(a, dim, 1, out, "ci_tensor_mean");
}

/* ints[0] = dim (-1: all, ints[1] = flat argmax); ctx = int64 positions along dim. */
static int extreme_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  ci_tensor *a = node->inputs[0];
  int rc = ci_tensor_new_like(a, &gin[0]);
  if (rc) return rc;
  int dim = (int)node->ints[0];
  if (dim < 0) {
    if (a->nel) gin[0]->data[node->ints[1]] = g->data[0];
    return CI_OK;
  }
  const int64_t *pos = node->ctx;
  int64_t outer, n, inner;
  split_dim(a, dim, &outer, &n, &inner);
  for (int64_t p = 0; p < outer; p++)
    for (int64_t i = 0; i < inner; i++)
      gin[0]->data[(p * n + pos[p * inner + i]) * inner + i] = g->data[p * inner + i];
  return CI_OK;
}

static inline int better(int want_max, float v, float best) {
  if (isnan(best)) return 0;
  if (isnan(v)) return 1;
  return want_max ? v > best : v < best;
}

/* The maximum / minimum over the whole tensor: 0-d value and flat index. */
static int extreme_all(ci_tensor *a, int want_max, ci_tensor **values, ci_tensor **indices,
                       const char *W) {
  if (a->nel == 0) return ci_set_error(CI_EINVAL, "%s: the tensor is empty (no maximum/minimum)", W);
  int64_t best = 0;
  for (int64_t i = 1; i < a->nel; i++)
    if (better(want_max, a->data[i], a->data[best])) best = i;
  int rc;
  if ((rc = ci_tensor_full(0, NULL, a->data[best], values))) return rc;
  if (indices && (rc = ci_tensor_full(0, NULL, (double)best, indices))) {
    ci_tensor_release(*values); *values = NULL;
    return rc;
  }
  ci_node *node;
  if ((rc = record(values, want_max ? "max" : "min", 1, &a, extreme_backward, &node))) {
    if (indices) { ci_tensor_release(*indices); *indices = NULL; }
    return rc;
  }
  if (node) { node->ints[0] = -1; node->ints[1] = best; }
  return CI_OK;
}

/* The maximum / minimum along dim: values and indices with dim dropped; the
 * positions stay with the tape node for the backward. */
static int extreme_dim(ci_tensor *a, int dim, int want_max, ci_tensor **values,
                       ci_tensor **indices, const char *W) {
  int rc;
  if ((rc = check_dim(a, dim, W))) return rc;
  if (a->shape[dim] == 0)
    return ci_set_error(CI_EINVAL, "%s: dim %d has size 0 (no maximum/minimum)", W, dim);
  int nd;
  int64_t shape[4], outer, n, inner;
  drop_dim(a, dim, &nd, shape);
  split_dim(a, dim, &outer, &n, &inner);
  int64_t *pos = malloc((size_t)(outer * inner > 0 ? outer * inner : 1) * sizeof(int64_t));
  if (!pos) return ci_set_error(CI_ENOMEM, "%s: out of memory", W);
  if ((rc = new_tensor(nd, shape, values))) { free(pos); return rc; }
  if (indices && (rc = new_tensor(nd, shape, indices))) {
    free(pos);
    ci_tensor_release(*values); *values = NULL;
    return rc;
  }
  for (int64_t p = 0; p < outer; p++)
    for (int64_t i = 0; i < inner; i++) {
      const float *x = a->data + p * n * inner + i;
      int64_t best = 0;
      for (int64_t k = 1; k < n; k++)
        if (better(want_max, x[k * inner], x[best * inner])) best = k;
      pos[p * inner + i] = best;
      (*values)->data[p * inner + i] = x[best * inner];
      if (indices) (*indices)->data[p * inner + i] = (float)best;
    }
  ci_node *node;
  if ((rc = record(values, want_max ? "max" : "min", 1, &a, extreme_backward, &node))) {
    free(pos);
    if (indices) { ci_tensor_release(*indices); *indices = NULL; }
    return rc;
  }
  if (node) {
    node->ints[0] = dim;
    node->ctx = pos;
    node->free_ctx = free;
  } else {
    free(pos);
  }
  return CI_OK;
}

static int extreme(ci_tensor *a, int dim, int want_max, ci_tensor **values, ci_tensor **indices,
                   const char *W) {
  if (!values) return ci_set_error(CI_EINVAL, "%s: values is NULL", W);
  *values = NULL;
  if (indices) *indices = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a"))) return rc;
  if (dim < -1) return ci_set_error(CI_EINVAL, "%s: dim %d is out of range -1..%d", W, dim, a->ndim - 1);
  return dim < 0 ? extreme_all(a, want_max, values, indices, W)
                 : extreme_dim(a, dim, want_max, values, indices, W);
}

int ci_tensor_max(ci_tensor *a, int dim, ci_tensor **values, ci_tensor **indices) {
  return extreme(a, dim, 1, values, indices, "ci_tensor_max");
}
int ci_tensor_min(ci_tensor *a, int dim, ci_tensor **values, ci_tensor **indices) {
  return extreme(a, dim, 0, values, indices, "ci_tensor_min");
}

/* scalars[0] = p, scalars[1] = the norm. */
static int norm_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  ci_tensor *a = node->inputs[0];
  int rc = ci_tensor_new_like(a, &gin[0]);
  if (rc) return rc;
  double p = node->scalars[0], nrm = node->scalars[1], gv = g->data[0];
  float *o = gin[0]->data;
  const float *x = a->data;
  for (int64_t i = 0; i < a->nel; i++) {
    double v = x[i], sg = v > 0 ? 1.0 : (v < 0 ? -1.0 : 0.0);
    if (p == 1.0) o[i] = (float)(gv * sg);
    else if (nrm == 0.0) o[i] = 0.0f;
    else if (p == 2.0) o[i] = (float)(gv * v / nrm);
    else o[i] = (float)(gv * sg * pow(fabs(v), p - 1.0) / pow(nrm, p - 1.0));
  }
  return CI_OK;
}

int ci_tensor_norm(ci_tensor *a, double p, ci_tensor **out) {
  const char *W = "ci_tensor_norm";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a"))) return rc;
  if (!(p > 0) || isinf(p)) return ci_set_error(CI_EINVAL, "%s: p = %g must be > 0 and finite", W, p);
  double s = sum_all(a->data, a->nel, 1, p);
  double nrm = p == 1.0 ? s : (p == 2.0 ? sqrt(s) : pow(s, 1.0 / p));
  if ((rc = ci_tensor_full(0, NULL, nrm, out))) return rc;
  ci_node *node;
  if ((rc = record(out, "norm", 1, &a, norm_backward, &node))) return rc;
  if (node) { node->scalars[0] = p; node->scalars[1] = nrm; }
  return CI_OK;
}

/* ------------------------------------------------------- indexing */

typedef struct {
  int64_t n;
  int64_t idx[];
} idx_ctx;

/* ints[0] = dim; ctx = idx_ctx. Scatter-adds g (outer x n x inner) into a's shape. */
static int gather_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  ci_tensor *a = node->inputs[0];
  int rc = ci_tensor_new_like(a, &gin[0]);
  if (rc) return rc;
  const idx_ctx *c = node->ctx;
  int64_t outer, n, inner;
  split_dim(a, (int)node->ints[0], &outer, &n, &inner);
  for (int64_t p = 0; p < outer; p++)
    for (int64_t k = 0; k < c->n; k++) {
      float *dst = gin[0]->data + (p * n + c->idx[k]) * inner;
      const float *src = g->data + (p * c->n + k) * inner;
      for (int64_t i = 0; i < inner; i++) dst[i] += src[i];
    }
  return CI_OK;
}

/* Gathers entries idx of dim; drop = 1 removes dim (select, one index). */
static int gather(ci_tensor *a, int dim, const int64_t *idx, int64_t m, int drop,
                  const char *name, ci_tensor **out, const char *W) {
  int64_t outer, n, inner;
  split_dim(a, dim, &outer, &n, &inner);
  int nd = a->ndim;
  int64_t shape[4];
  for (int i = 0; i < 4; i++) shape[i] = a->shape[i];
  shape[dim] = m;
  if (drop) drop_dim(a, dim, &nd, shape);
  int rc = new_tensor(nd, shape, out);
  if (rc) return rc;
  for (int64_t p = 0; p < outer; p++)
    for (int64_t k = 0; k < m; k++)
      if (inner)
        memcpy((*out)->data + (p * m + k) * inner, a->data + (p * n + idx[k]) * inner,
               (size_t)inner * sizeof(float));
  if (!records(1, &a)) return CI_OK;
  size_t sz;
  if (ci_mul_size((size_t)m, sizeof(int64_t), &sz) || sz > SIZE_MAX - sizeof(idx_ctx)) {
    ci_tensor_release(*out); *out = NULL;
    return ci_set_error(CI_ENOMEM, "%s: index list too long", W);
  }
  idx_ctx *c = malloc(sizeof(idx_ctx) + sz);
  if (!c) {
    ci_tensor_release(*out); *out = NULL;
    return ci_set_error(CI_ENOMEM, "%s: out of memory", W);
  }
  c->n = m;
  if (m) memcpy(c->idx, idx, sz);
  ci_node *node;
  if ((rc = record(out, name, 1, &a, gather_backward, &node))) { free(c); return rc; }
  node->ints[0] = dim;
  node->ctx = c;
  node->free_ctx = free;
  return CI_OK;
}

int ci_tensor_select(ci_tensor *a, int dim, int64_t i, ci_tensor **out) {
  const char *W = "ci_tensor_select";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a")) || (rc = check_dim(a, dim, W))) return rc;
  if (i < 0 || i >= a->shape[dim])
    return ci_set_error(CI_EINVAL, "%s: index %lld is out of range 0..%lld of dim %d", W,
                        (long long)i, (long long)a->shape[dim] - 1, dim);
  return gather(a, dim, &i, 1, 1, "select", out, W);
}

int ci_tensor_narrow(ci_tensor *a, int dim, int64_t start, int64_t len, ci_tensor **out) {
  const char *W = "ci_tensor_narrow";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a")) || (rc = check_dim(a, dim, W))) return rc;
  if (start < 0 || len < 0 || start > a->shape[dim] || len > a->shape[dim] - start)
    return ci_set_error(CI_EINVAL, "%s: start %lld and length %lld do not fit dim %d of size %lld",
                        W, (long long)start, (long long)len, dim, (long long)a->shape[dim]);
  int64_t *idx = malloc((size_t)(len ? len : 1) * sizeof(int64_t));
  if (!idx) return ci_set_error(CI_ENOMEM, "%s: out of memory", W);
  for (int64_t k = 0; k < len; k++) idx[k] = start + k;
  rc = gather(a, dim, idx, len, 0, "narrow", out, W);
  free(idx);
  return rc;
}

int ci_tensor_index_select(ci_tensor *a, int dim, const int64_t *idx, int64_t n, ci_tensor **out) {
  const char *W = "ci_tensor_index_select";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a")) || (rc = check_dim(a, dim, W))) return rc;
  if (n < 0 || (n > 0 && !idx)) return ci_set_error(CI_EINVAL, "%s: bad index list", W);
  for (int64_t k = 0; k < n; k++)
    if (idx[k] < 0 || idx[k] >= a->shape[dim])
      return ci_set_error(CI_EINVAL, "%s: idx[%lld] = %lld is out of range 0..%lld", W,
                          (long long)k, (long long)idx[k], (long long)a->shape[dim] - 1);
  return gather(a, dim, idx, n, 0, "index", out, W);
}

/* ------------------------------------------------------- shape ops */

static int copy_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  ci_tensor *a = node->inputs[0];
  int rc = ci_tensor_new_like(a, &gin[0]);
  if (rc) return rc;
  if (a->nel) memcpy(gin[0]->data, g->data, (size_t)a->nel * sizeof(float));
  return CI_OK;
}

int ci_tensor_reshape(ci_tensor *a, int ndim, const int64_t *shape, ci_tensor **out) {
  const char *W = "ci_tensor_reshape";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a"))) return rc;
  if (ndim < 0 || ndim > 4) return ci_set_error(CI_EINVAL, "%s: ndim = %d is out of range 0..4", W, ndim);
  if (ndim > 0 && !shape) return ci_set_error(CI_EINVAL, "%s: shape is NULL", W);
  int64_t s[4] = {1, 1, 1, 1}, known = 1;
  int infer = -1;
  for (int i = 0; i < ndim; i++) {
    s[i] = shape[i];
    if (s[i] == -1) {
      if (infer >= 0) return ci_set_error(CI_EINVAL, "%s: only one size may be -1", W);
      infer = i;
    } else if (s[i] < 0) {
      return ci_set_error(CI_EINVAL, "%s: size %lld of dim %d is negative", W, (long long)s[i], i);
    } else if (ci_mul_i64(known, s[i], &known)) {
      return ci_set_error(CI_ENOMEM, "%s: size overflows", W);
    }
  }
  if (infer >= 0) {
    if (known == 0 || a->nel % known)
      return ci_set_error(CI_EINVAL, "%s: cannot infer the -1 size for %lld elements", W,
                          (long long)a->nel);
    s[infer] = a->nel / known;
    known = a->nel;
  }
  if (known != a->nel) {
    char b1[96], b2[96];
    shape_str(a->ndim, a->shape, b1, sizeof b1);
    shape_str(ndim, s, b2, sizeof b2);
    return ci_set_error(CI_EINVAL, "%s: cannot reshape %s (%lld elements) into %s", W, b1,
                        (long long)a->nel, b2);
  }
  if ((rc = new_tensor(ndim, s, out))) return rc;
  if (a->nel) memcpy((*out)->data, a->data, (size_t)a->nel * sizeof(float));
  return record(out, "reshape", 1, &a, copy_backward, NULL);
}

int ci_tensor_clone(ci_tensor *a, ci_tensor **out) {
  const char *W = "ci_tensor_clone";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a"))) return rc;
  if ((rc = ci_tensor_from_floats(a->ndim, a->shape, a->data, out))) return rc;
  return record(out, "clone", 1, &a, copy_backward, NULL);
}

int ci_tensor_detach(ci_tensor *a, ci_tensor **out) {
  const char *W = "ci_tensor_detach";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a"))) return rc;
  return ci_tensor_from_floats(a->ndim, a->shape, a->data, out);
}

/* Copies a permuted: out dim k = a dim perm[k]. */
static void permute_copy(const ci_tensor *a, const int32_t *perm, float *dst) {
  int nd = a->ndim;
  int64_t st[4], sh[4] = {1, 1, 1, 1}, ps[4] = {0, 0, 0, 0};
  int64_t s = 1;
  for (int d = nd - 1; d >= 0; d--) { st[d] = s; s *= a->shape[d]; }
  int off = 4 - nd;
  for (int k = 0; k < nd; k++) { sh[off + k] = a->shape[perm[k]]; ps[off + k] = st[perm[k]]; }
  int64_t o = 0;
  for (int64_t i0 = 0; i0 < sh[0]; i0++)
    for (int64_t i1 = 0; i1 < sh[1]; i1++)
      for (int64_t i2 = 0; i2 < sh[2]; i2++) {
        const float *src = a->data + i0 * ps[0] + i1 * ps[1] + i2 * ps[2];
        for (int64_t i3 = 0; i3 < sh[3]; i3++) dst[o++] = src[i3 * ps[3]];
      }
}

static int permute_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  ci_tensor *a = node->inputs[0];
  int32_t inv[4];
  for (int k = 0; k < a->ndim; k++) inv[node->ints[k]] = k;
  int rc = ci_tensor_new_like(a, &gin[0]);
  if (rc) return rc;
  permute_copy(g, inv, gin[0]->data);
  return CI_OK;
}

int ci_tensor_permute(ci_tensor *a, const int32_t *perm, ci_tensor **out) {
  const char *W = "ci_tensor_permute";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a"))) return rc;
  if (a->ndim > 0 && !perm) return ci_set_error(CI_EINVAL, "%s: perm is NULL", W);
  int seen[4] = {0, 0, 0, 0};
  int64_t shape[4];
  for (int k = 0; k < a->ndim; k++) {
    if (perm[k] < 0 || perm[k] >= a->ndim || seen[perm[k]]++)
      return ci_set_error(CI_EINVAL, "%s: perm is not a permutation of 0..%d", W, a->ndim - 1);
    shape[k] = a->shape[perm[k]];
  }
  if ((rc = new_tensor(a->ndim, shape, out))) return rc;
  if (a->nel) permute_copy(a, perm, (*out)->data);
  ci_node *node;
  if ((rc = record(out, "permute", 1, &a, permute_backward, &node))) return rc;
  if (node)
    for (int k = 0; k < a->ndim; k++) node->ints[k] = perm[k];
  return CI_OK;
}

/* ints[0] = dim. Splits g back into the inputs' pieces along dim. */
static int cat_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  int dim = (int)node->ints[0];
  int64_t outer, ng, inner;
  split_dim(g, dim, &outer, &ng, &inner);
  int64_t off = 0;
  for (int j = 0; j < node->n_inputs; j++) {
    ci_tensor *x = node->inputs[j];
    int64_t nj = x->shape[dim];
    if (ci_needs_grad(x)) {
      int rc = ci_tensor_new_like(x, &gin[j]);
      if (rc) return rc;
      for (int64_t p = 0; p < outer; p++)
        if (nj * inner > 0)
          memcpy(gin[j]->data + p * nj * inner, g->data + (p * ng + off) * inner,
                 (size_t)(nj * inner) * sizeof(float));
    }
    off += nj;
  }
  return CI_OK;
}

/* The shape of the concatenation of list[0 .. n) along dim, after checking
 * that every tensor matches the first one elsewhere. */
static int cat_shape(int n, ci_tensor *const *list, int dim, int64_t shape[4], const char *W) {
  const ci_tensor *a = list[0];
  for (int i = 0; i < 4; i++) shape[i] = a->shape[i];
  shape[dim] = 0;
  for (int j = 0; j < n; j++) {
    const ci_tensor *x = list[j];
    int ok = x->ndim == a->ndim;
    for (int i = 0; ok && i < a->ndim; i++)
      if (i != dim && x->shape[i] != a->shape[i]) ok = 0;
    if (!ok) {
      char b1[96], b2[96];
      shape_str(a->ndim, a->shape, b1, sizeof b1);
      shape_str(x->ndim, x->shape, b2, sizeof b2);
      return ci_set_error(CI_EINVAL, "%s: list[%d] has shape %s, not compatible with %s along dim %d",
                          W, j, b2, b1, dim);
    }
    shape[dim] += x->shape[dim];
  }
  return CI_OK;
}

/* The tape takes at most CI_NODE_MAX_INPUTS inputs per node: a recorded cat
 * of more tensors concatenates groups, then the groups. */
static int cat_in_groups(int n, ci_tensor *const *list, int dim, ci_tensor **out, const char *W) {
  const int ng = (n + CI_NODE_MAX_INPUTS - 1) / CI_NODE_MAX_INPUTS;
  ci_tensor **parts = calloc((size_t)ng, sizeof *parts);
  if (!parts) return ci_set_error(CI_ENOMEM, "%s: out of memory", W);
  int rc = CI_OK;
  for (int k = 0; k < ng && !rc; k++) {
    const int lo = k * CI_NODE_MAX_INPUTS;
    const int cnt = n - lo < CI_NODE_MAX_INPUTS ? n - lo : CI_NODE_MAX_INPUTS;
    rc = ci_tensor_cat(cnt, list + lo, dim, &parts[k]);
  }
  if (!rc) rc = ci_tensor_cat(ng, parts, dim, out);
  for (int k = 0; k < ng; k++) ci_tensor_release(parts[k]);
  free(parts);
  return rc;
}

int ci_tensor_cat(int n, ci_tensor *const *list, int dim, ci_tensor **out) {
  const char *W = "ci_tensor_cat";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  if (n < 1 || !list) return ci_set_error(CI_EINVAL, "%s: needs at least one tensor", W);
  int rc;
  for (int j = 0; j < n; j++) {
    char nm[32];
    snprintf(nm, sizeof nm, "list[%d]", j);
    if ((rc = check_arg(list[j], W, nm))) return rc;
  }
  const ci_tensor *a = list[0];
  if (dim < 0 || dim >= a->ndim)
    return ci_set_error(CI_EINVAL, "%s: dim %d is out of range 0..%d", W, dim, a->ndim - 1);
  int64_t shape[4];
  if ((rc = cat_shape(n, list, dim, shape, W))) return rc;
  if (n > CI_NODE_MAX_INPUTS && records(n, list)) return cat_in_groups(n, list, dim, out, W);
  if ((rc = new_tensor(a->ndim, shape, out))) return rc;
  int64_t outer = 1, inner = 1;
  for (int i = 0; i < dim; i++) outer *= shape[i];
  for (int i = dim + 1; i < a->ndim; i++) inner *= shape[i];
  int64_t off = 0;
  for (int j = 0; j < n; j++) {
    const int64_t nj = list[j]->shape[dim];
    for (int64_t p = 0; p < outer; p++)
      if (nj * inner > 0)
        memcpy((*out)->data + (p * shape[dim] + off) * inner, list[j]->data + p * nj * inner,
               (size_t)(nj * inner) * sizeof(float));
    off += nj;
  }
  ci_node *node;
  if ((rc = record(out, "cat", n, list, cat_backward, &node))) return rc;
  if (node) node->ints[0] = dim;
  return CI_OK;
}

/* ------------------------------------------------------- matmul */

/* C (m x n) = op(A) op(B) with row-major contiguous operands.
 * Deterministic whatever the thread count: OpenBLAS runs single-threaded (its own
 * threading splits work by thread count, which changed results between
 * OMP_NUM_THREADS=1 and 2), and the rows of C are cut into fixed blocks of
 * GEMM_BLOCK rows, each one sgemm call, spread over OpenMP threads. A block's
 * result does not depend on which thread computes it. */
#define GEMM_BLOCK 64
static void gemm(int ta, int tb, int64_t m, int64_t n, int64_t k, const float *A, const float *B,
                 float *Cm) {
  if (m == 0 || n == 0) return;
  if (k == 0) { memset(Cm, 0, (size_t)(m * n) * sizeof(float)); return; }
  static int blas_single = 0;
  if (!__atomic_load_n(&blas_single, __ATOMIC_ACQUIRE)) {
    openblas_set_num_threads(1);
    __atomic_store_n(&blas_single, 1, __ATOMIC_RELEASE);
  }
  int lda = (int)(ta ? m : k), ldb = (int)(tb ? k : n);
  int64_t nblk = (m + GEMM_BLOCK - 1) / GEMM_BLOCK;
  int par = nblk > 1 && (double)m * (double)n * (double)k > 4e6;
  (void)par;
#pragma omp parallel for schedule(dynamic, 1) if (par)
  for (int64_t q = 0; q < nblk; q++) {
    int64_t i0 = q * GEMM_BLOCK, mb = m - i0 < GEMM_BLOCK ? m - i0 : GEMM_BLOCK;
    const float *Ab = ta ? A + i0 : A + i0 * k;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)mb, (int)n, (int)k, 1.0f, Ab, lda > 0 ? lda : 1, B, ldb > 0 ? ldb : 1, 0.0f,
                Cm + i0 * n, (int)n);
  }
}

static void mm_dims(const ci_tensor *a, const ci_tensor *b, int64_t *m, int64_t *k, int64_t *n) {
  *m = a->ndim == 2 ? a->shape[0] : 1;
  *k = a->ndim == 2 ? a->shape[1] : a->shape[0];
  *n = b->ndim == 2 ? b->shape[1] : 1;
}

static int matmul_backward(ci_node *node, const ci_tensor *g, ci_tensor **gin) {
  ci_tensor *a = node->inputs[0], *b = node->inputs[1];
  int64_t m, k, n;
  mm_dims(a, b, &m, &k, &n);
  int rc;
  if (ci_needs_grad(a)) {   /* dA (m x k) = G (m x n) B^T */
    if ((rc = ci_tensor_new_like(a, &gin[0]))) return rc;
    gemm(0, 1, m, k, n, g->data, b->data, gin[0]->data);
  }
  if (ci_needs_grad(b)) {   /* dB (k x n) = A^T G */
    if ((rc = ci_tensor_new_like(b, &gin[1]))) return rc;
    gemm(1, 0, k, n, m, a->data, g->data, gin[1]->data);
  }
  return CI_OK;
}

int ci_tensor_matmul(ci_tensor *a, ci_tensor *b, ci_tensor **out) {
  const char *W = "ci_tensor_matmul";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", W);
  *out = NULL;
  int rc;
  if ((rc = check_arg(a, W, "a")) || (rc = check_arg(b, W, "b"))) return rc;
  char b1[96], b2[96];
  shape_str(a->ndim, a->shape, b1, sizeof b1);
  shape_str(b->ndim, b->shape, b2, sizeof b2);
  if (a->ndim < 1 || a->ndim > 2 || b->ndim < 1 || b->ndim > 2)
    return ci_set_error(CI_EINVAL, "%s: needs 1-d or 2-d tensors, got %s and %s", W, b1, b2);
  int64_t m, k, n;
  mm_dims(a, b, &m, &k, &n);
  int64_t kb = b->shape[0];
  if (k != kb)
    return ci_set_error(CI_EINVAL, "%s: shapes %s and %s do not match (%lld vs %lld)", W, b1, b2,
                        (long long)k, (long long)kb);
  if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
    return ci_set_error(CI_EINVAL, "%s: sizes beyond the BLAS int range", W);
  int64_t shape[2];
  int nd = 0;
  if (a->ndim == 2) shape[nd++] = m;
  if (b->ndim == 2) shape[nd++] = n;
  if ((rc = new_tensor(nd, shape, out))) return rc;
  gemm(0, 0, m, n, k, a->data, b->data, (*out)->data);
  ci_tensor *in[2] = {a, b};
  return record(out, "matmul", 2, in, matmul_backward, NULL);
}

/* ------------------------------------------------------- in place */

int ci_tensor_fill_(ci_tensor *t, double v) {
  int rc;
  if ((rc = check_arg(t, "ci_tensor_fill_", "t"))) return rc;
  float f = (float)v;
  for (int64_t i = 0; i < t->nel; i++) t->data[i] = f;
  return CI_OK;
}

int ci_tensor_copy_(ci_tensor *dst, const ci_tensor *src) {
  const char *W = "ci_tensor_copy_";
  int rc;
  if ((rc = check_arg(dst, W, "dst")) || (rc = check_arg(src, W, "src"))) return rc;
  if (dst->nel != src->nel)
    return ci_set_error(CI_EINVAL, "%s: src has %lld elements, dst has %lld", W,
                        (long long)src->nel, (long long)dst->nel);
  if (dst->nel && dst->data != src->data)
    memmove(dst->data, src->data, (size_t)dst->nel * sizeof(float));
  return CI_OK;
}

int ci_tensor_add_(ci_tensor *dst, const ci_tensor *src, double alpha) {
  const char *W = "ci_tensor_add_";
  int rc;
  if ((rc = check_arg(dst, W, "dst")) || (rc = check_arg(src, W, "src"))) return rc;
  if (dst->nel != src->nel)
    return ci_set_error(CI_EINVAL, "%s: src has %lld elements, dst has %lld", W,
                        (long long)src->nel, (long long)dst->nel);
  float al = (float)alpha;
  float *d = dst->data;
  const float *s = src->data;
  int64_t n = dst->nel;
#pragma omp parallel for if(n > PAR_MIN) schedule(static)
  for (int64_t i = 0; i < n; i++) d[i] += al * s[i];
  return CI_OK;
}
