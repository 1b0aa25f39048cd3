/* net_step.cu: the kernels of one timestep on the GPU. The maths of an element
 * is core/net_step.h, the same code the CPU row loops run; these kernels only
 * map elements to threads. Elementwise kernels take one thread per element
 * (consecutive threads, consecutive batch columns). Kernels that reduce over
 * the batch give each row (or divisive edge) a group of `lanes` threads, a
 * power of two up to a warp, that walk its batch columns side by side
 * (coalesced) and then sum with warp shuffles in a fixed order. */
#include "net_step.cuh"

/* Threads per group for a batch of B columns: the smallest power of two >= B, at most 32. */
static int group_lanes(int64_t B) {
  int w = 1;
  while (w < 32 && w < B) w *= 2;
  return w;
}

/* The sum of v over the `lanes` threads of a group (lanes divides 32); lane
 * 0 of the group gets it. Every thread of the warp must call it. */
__device__ static double group_sum(double v, int lanes) {
  for (int off = lanes / 2; off > 0; off /= 2) v += __shfl_down_sync(0xffffffffu, v, off, lanes);
  return v;
}

/* Every thread of a grid-stride loop over n items. */
#define CU_FOR(q, count) \
  for (int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x; q < (count); \
       q += (int64_t)gridDim.x * blockDim.x)

/* ---------- forward ---------- */

__global__ static void k_place_input(cu_step s, float *x0) {
  CU_FOR(q, s.S * s.B) {
    const int64_t slot = q / s.B, b = q % s.B;
    x0[(int64_t)s.sensory[slot] * s.B + b] = s.u[ci_step_input_index(b, slot, s.S, s.L, 0)];
  }
}

int cu_place_input(const cu_step *s, float *x0, const char *where) {
  if (s->n * s->B == 0) return CI_OK;
  CI_CU(where, "cudaMemset", cudaMemset(x0, 0, sizeof(float) * (size_t)(s->n * s->B)));
  if (s->S * s->B == 0) return CI_OK;
  k_place_input<<<ci_blocks(s->S * s->B), CI_TPB>>>(*s, x0);
  CI_LAUNCHED(where, "k_place_input");
  return CI_OK;
}

__global__ static void k_scale_rows(cu_step s, const float *x, float *out) {
  CU_FOR(q, s.n * s.B) out[q] = s.sig[q / s.B] * x[q];
}

int cu_scale_rows(const cu_step *s, const float *x, float *out, const char *where) {
  if (s->n * s->B == 0) return CI_OK;
  k_scale_rows<<<ci_blocks(s->n * s->B), CI_TPB>>>(*s, x, out);
  CI_LAUNCHED(where, "k_scale_rows");
  return CI_OK;
}

/* The input of layer t + 1 to element (i, b), 0 when i is not sensory or t = L. */
__device__ static float input_of(const cu_step &s, int64_t i, int64_t b, int32_t t) {
  const int32_t slot = s.slot_of[i];
  return slot < 0 || t >= s.L ? 0.0f : s.u[ci_step_input_index(b, slot, s.S, s.L, t)];
}

__global__ static void k_act_forward(cu_step s, int32_t t, const float *P, const float *D,
                                     const float *xp, float *x) {
  const ci_step_mode m = {s.th, s.ml, s.div, t == s.L};
  CU_FOR(q, s.n * s.B) {
    const int64_t i = q / s.B, b = q % s.B;
    x[q] = ci_step_forward(P[q], m.div ? D[q] : 0.0f, s.k[i], s.c[i], ci_step_rates(s.tau[i]),
                           xp[q], input_of(s, i, b, t), m);
  }
}

int cu_act_forward(const cu_step *s, int32_t t, const float *P, const float *D, const float *xp,
                   float *x, const char *where) {
  if (s->n * s->B == 0) return CI_OK;
  k_act_forward<<<ci_blocks(s->n * s->B), CI_TPB>>>(*s, t, P, D, xp, x);
  CI_LAUNCHED(where, "k_act_forward");
  return CI_OK;
}

/* One block: thread `lane` of nlanes writes the batch columns b = lane mod nlanes. */
__global__ static void k_manip(const ci_manip *m, int64_t m0, int64_t m1, float *x, int64_t B,
                               int zero) {
  ci_step_manip(m, m0, m1, x, B, zero, threadIdx.x, blockDim.x);
}

int cu_manip(const cu_step *s, const ci_manip *m, int64_t m0, int64_t m1, float *x, int zero,
             const char *where) {
  if (m1 <= m0 || s->B == 0) return CI_OK;
  k_manip<<<1, CI_TPB>>>(m, m0, m1, x, s->B, zero);
  CI_LAUNCHED(where, "k_manip");
  return CI_OK;
}

/* The caller's index of neuron i in the (B, n, L) tensors. */
__device__ static int64_t user_index(const cu_step &s, int64_t i) { return s.perm ? s.perm[i] : i; }

__global__ static void k_store_output(cu_step s, int32_t t, const float *x, float *out) {
  CU_FOR(q, s.n * s.B) {
    const int64_t i = q / s.B, b = q % s.B;
    out[(b * s.n + user_index(s, i)) * s.L + (t - 1)] = x[q];
  }
}

int cu_store_output(const cu_step *s, int32_t t, const float *x, float *out, const char *where) {
  if (s->n * s->B == 0) return CI_OK;
  k_store_output<<<ci_blocks(s->n * s->B), CI_TPB>>>(*s, t, x, out);
  CI_LAUNCHED(where, "k_store_output");
  return CI_OK;
}

/* ---------- backward ---------- */

__global__ static void k_gather_grad(cu_step s, int32_t t, const float *carried,
                                     const float *grad_out, float *gx, float *grad_x) {
  CU_FOR(q, s.n * s.B) {
    const int64_t i = q / s.B, b = q % s.B;
    const int64_t o = (b * s.n + user_index(s, i)) * s.L + (t - 1);
    float v = carried[q];
    if (grad_out) v += grad_out[o];
    gx[q] = v;
    if (grad_x) grad_x[o] = v;
  }
}

int cu_gather_grad(const cu_step *s, int32_t t, const float *carried, const float *grad_out,
                   float *gx, float *grad_x, const char *where) {
  if (s->n * s->B == 0) return CI_OK;
  k_gather_grad<<<ci_blocks(s->n * s->B), CI_TPB>>>(*s, t, carried, grad_out, gx, grad_x);
  CI_LAUNCHED(where, "k_gather_grad");
  return CI_OK;
}

/* Group of `lanes` threads per row i; lane walks b = lane, lane + lanes, ... */
__global__ static void k_act_backward(cu_step s, int32_t t, int lanes, const float *xp,
                                      const float *P, const float *D, const float *gx,
                                      cu_step_grads g) {
  const ci_step_mode m = {s.th, s.ml, s.div, t == s.L};
  const int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t i = q / lanes;
  const int lane = (int)(q % lanes);
  double sk = 0, sc = 0, stau = 0;
  if (i < s.n) {
    const float k = s.k[i], c = s.c[i];
    const ci_step_tau tau = ci_step_rates(s.tau[i]);
    const int32_t slot = s.slot_of[i];
    for (int64_t b = lane; b < s.B; b += lanes) {
      const int64_t ib = i * s.B + b;
      const ci_step_grads r = ci_step_backward(gx[ib], P[ib], m.div ? D[ib] : 0.0f, k, c, tau,
                                               xp[ib], input_of(s, i, b, t), m);
      if (g.grad_u && slot >= 0 && t < s.L)
        g.grad_u[ci_step_input_index(b, slot, s.S, s.L, t)] += r.gz;
      sk += r.gk;
      sc += r.gc;
      stau += r.gtau;
      g.gp[ib] = r.gp;
      if (m.div) g.gd[ib] = r.gd;
      g.carried[ib] = r.carried;
    }
  }
  /* every thread of the warp takes part in the shuffles, rows past n with 0 */
  sk = group_sum(sk, lanes);
  sc = group_sum(sc, lanes);
  stau = group_sum(stau, lanes);
  if (i < s.n && lane == 0 && g.g_k) {
    g.g_k[i] += sk;
    g.g_c[i] += sc;
    g.g_tau[i] += stau;
  }
}

int cu_act_backward(const cu_step *s, int32_t t, const float *xp, const float *P,
                    const float *D, const float *gx, const cu_step_grads *g, const char *where) {
  if (s->n * s->B == 0) return CI_OK;
  const int lanes = group_lanes(s->B);
  k_act_backward<<<ci_blocks(s->n * lanes), CI_TPB>>>(*s, t, lanes, xp, P, D, gx, *g);
  CI_LAUNCHED(where, "k_act_backward");
  return CI_OK;
}

/* Group of `lanes` threads per divisive edge e = (i <- j). */
__global__ static void k_grad_sig(int64_t nd, int64_t B, int lanes, const int32_t *rows,
                                  const void *colidx, int idx64, const float *w, const float *gd,
                                  const float *xp, double *g_sig) {
  const int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  const int64_t e = q / lanes;
  const int lane = (int)(q % lanes);
  double acc = 0;
  if (e < nd) {
    const int64_t i = rows[e];
    const int64_t j = idx64 ? ((const int64_t *)colidx)[e] : ((const int32_t *)colidx)[e];
    for (int64_t b = lane; b < B; b += lanes) acc += (double)gd[i * B + b] * w[e] * xp[j * B + b];
  }
  acc = group_sum(acc, lanes);
  if (e < nd && lane == 0) g_sig[e] += acc;
}

int cu_grad_sig(const cu_step *s, const ci_cuda_csr *wd, const int32_t *wd_rows, const float *gd,
                const float *xp, double *g_sig, const char *where) {
  if (wd->nnz == 0 || s->B == 0) return CI_OK;
  const int lanes = group_lanes(s->B);
  k_grad_sig<<<ci_blocks(wd->nnz * lanes), CI_TPB>>>(wd->nnz, s->B, lanes, wd_rows, wd->colidx,
                                                    wd->idx64, wd->vals, gd, xp, g_sig);
  CI_LAUNCHED(where, "k_grad_sig");
  return CI_OK;
}

__global__ static void k_add_scaled_rows(cu_step s, const float *tmp, float *carried) {
  CU_FOR(q, s.n * s.B) carried[q] += s.sig[q / s.B] * tmp[q];
}

int cu_add_scaled_rows(const cu_step *s, const float *tmp, float *carried, const char *where) {
  if (s->n * s->B == 0) return CI_OK;
  k_add_scaled_rows<<<ci_blocks(s->n * s->B), CI_TPB>>>(*s, tmp, carried);
  CI_LAUNCHED(where, "k_add_scaled_rows");
  return CI_OK;
}

__global__ static void k_input_grad_layer1(cu_step s, const float *carried, float *grad_u) {
  CU_FOR(q, s.S * s.B) {
    const int64_t slot = q / s.B, b = q % s.B;
    grad_u[ci_step_input_index(b, slot, s.S, s.L, 0)] += carried[(int64_t)s.sensory[slot] * s.B + b];
  }
}

int cu_input_grad_layer1(const cu_step *s, const float *carried, float *grad_u,
                         const char *where) {
  if (s->S * s->B == 0) return CI_OK;
  k_input_grad_layer1<<<ci_blocks(s->S * s->B), CI_TPB>>>(*s, carried, grad_u);
  CI_LAUNCHED(where, "k_input_grad_layer1");
  return CI_OK;
}
