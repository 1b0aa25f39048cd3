/* net_step.cuh: the kernels of one timestep on the GPU (kernels/net_step.cu),
 * launched by the pass drivers of kernels/net.cu. Every pointer here is
 * device memory; slabs are n x B row-major with the batch innermost, as on
 * the CPU. Each launcher checks the launch and returns CI_OK or CI_EDEVICE
 * naming `where` and the kernel. */
#ifndef CI_KERNELS_NET_STEP_CUH
#define CI_KERNELS_NET_STEP_CUH

#include "check.cuh"
#include "net_step.h"

/* What every elementwise kernel of a pass reads (device pointers). */
typedef struct cu_step {
  int64_t n, B, S, L;
  float th;
  int ml, div;             /* MultilayeredNetwork; divisive normalisation */
  const float *k, *c, *tau;  /* per-neuron coefficients */
  const float *sig;        /* divisive strength per neuron (div only) */
  const int32_t *slot_of;  /* neuron -> sensory slot or -1 */
  const int32_t *sensory;  /* slot -> neuron */
  const int32_t *perm;     /* neuron -> the caller's index in (B, n, L) tensors, or NULL */
  const float *u;          /* input (B, S, L) */
} cu_step;

/* x0 = 0 except x0[sensory[s], b] = u[b, s, 0]. */
int cu_place_input(const cu_step *s, float *x0, const char *where);
/* out[i, b] = sig[i] * x[i, b]: the divisive product's operand. */
int cu_scale_rows(const cu_step *s, const float *x, float *out, const char *where);
/* x_t from p_t (P), the divisive term (D, div only) and x_{t-1}: ci_step_forward. */
int cu_act_forward(const cu_step *s, int32_t t, const float *P, const float *D, const float *xp,
                   float *x, const char *where);
/* The manipulations m[m0 .. m1) of one step on x (zero: the backward's cut). */
int cu_manip(const cu_step *s, const ci_manip *m, int64_t m0, int64_t m1, float *x, int zero,
             const char *where);
/* out[b, perm[i], t - 1] = x[i, b] (perm NULL: the identity). */
int cu_store_output(const cu_step *s, int32_t t, const float *x, float *out, const char *where);
/* gx = carried + grad_out[:, perm, t - 1] (grad_out may be NULL); grad_x (may be
 * NULL) gets the same values in (B, n, L) (perm NULL: the identity). */
int cu_gather_grad(const cu_step *s, int32_t t, const float *carried, const float *grad_out,
                   float *gx, float *grad_x, const char *where);

/* Where the elementwise backward of a step writes. */
typedef struct cu_step_grads {
  float *gp, *gd, *carried;  /* slabs (gd: div only) */
  float *grad_u;             /* (B, S, L) or NULL */
  double *g_k, *g_c, *g_tau; /* per-neuron sums or NULL (all three) */
} cu_step_grads;

/* ci_step_backward for every element of step t; each row's sums are reduced
 * by the lanes that handled it, in a fixed order (deterministic). */
int cu_act_backward(const cu_step *s, int32_t t, const float *xp, const float *P,
                    const float *D, const float *gx, const cu_step_grads *g, const char *where);
/* g_sig[e] += sum_b gd[i, b] w[e] x_prev[j, b] for each divisive edge e = (i <- j). */
int cu_grad_sig(const cu_step *s, const ci_cuda_csr *wd, const int32_t *wd_rows, const float *gd,
                const float *xp, double *g_sig, const char *where);
/* carried[j, b] += sig[j] * tmp[j, b]. */
int cu_add_scaled_rows(const cu_step *s, const float *tmp, float *carried, const char *where);
/* grad_u[b, s, 0] += carried[sensory[s], b]. */
int cu_input_grad_layer1(const cu_step *s, const float *carried, float *grad_u,
                         const char *where);

#endif
