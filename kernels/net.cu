/* net.cu: the network engine on the GPU. The weights (ordinary and divisive,
 * each with its transpose) live on the device from ci_net_to_device on; a pass
 * copies the input once, keeps every state slab on the device, runs each
 * timestep as a cuSPARSE SpMM plus one fused activation kernel (slopes,
 * biases, tau mixing, threshold, tanh, clamp, divisive normalisation,
 * manipulate), and copies back only the (B, n, L) output, or for a backward
 * the input gradient, grad_x and the per-neuron parameter sums. The
 * equations mirror core/net_forward.c and core/net_backward.c line by line
 * (see ../shared/DESIGN.md); slabs are n x B row-major with the batch
 * innermost, as on the CPU. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.cuh"

/* ------------------------------------------------------------------ */
/* The device copy of a network's structure (ci_net.dev).              */
/* ------------------------------------------------------------------ */

struct dnet {
  ci_cuda_spmm_ctx sp;
  ci_cuda_csr w, wt, wd, wdt;
  int has_wd;
  int32_t *wd_rows;   /* post neuron of each divisive edge (row of wd) */
  int32_t *sensory;   /* S: slot -> neuron */
  int32_t *slot_of;   /* n: neuron -> slot or -1 */
};

static void dnet_free(dnet *d) {
  if (!d) return;
  ci_cuda_csr_free(&d->w);
  ci_cuda_csr_free(&d->wt);
  ci_cuda_csr_free(&d->wd);
  ci_cuda_csr_free(&d->wdt);
  ci_cuda_free(d->wd_rows);
  ci_cuda_free(d->sensory);
  ci_cuda_free(d->slot_of);
  ci_cuda_spmm_ctx_free(&d->sp);
  free(d);
}

extern "C" void ci_cuda_net_free(void *dev) { dnet_free((dnet *)dev); }

static int upload_ints(int32_t **dst, const int32_t *src, int64_t cnt, const char *where) {
  size_t bytes = (size_t)cnt * sizeof(int32_t);
  int rc = ci_cuda_malloc((void **)dst, bytes, where);
  if (!rc) rc = ci_cuda_memcpy(*dst, src, bytes, CI_H2D, where);
  return rc;
}

static int dnet_build(ci_net *net, dnet *d, const char *where) {
  int rc;
  if ((rc = ci_cuda_spmm_ctx_init(&d->sp, where))) return rc;
  if ((rc = ci_cuda_csr_upload(net->w, &d->w, where))) return rc;
  if ((rc = ci_cuda_csr_upload(net->wt, &d->wt, where))) return rc;
  if (net->wd) {
    d->has_wd = 1;
    if ((rc = ci_cuda_csr_upload(net->wd, &d->wd, where))) return rc;
    if ((rc = ci_cuda_csr_upload(net->wdt, &d->wdt, where))) return rc;
    int64_t nd = net->wd->nnz;
    int32_t *rows = (int32_t *)malloc(sizeof(int32_t) * (size_t)(nd ? nd : 1));
    if (!rows) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
    for (int32_t i = 0; i < net->wd->nrows; i++)
      for (int64_t e = net->wd->rowptr[i]; e < net->wd->rowptr[i + 1]; e++) rows[e] = i;
    rc = upload_ints(&d->wd_rows, rows, nd, where);
    free(rows);
    if (rc) return rc;
  }
  if ((rc = upload_ints(&d->sensory, net->sensory, net->n_sensory, where))) return rc;
  if ((rc = upload_ints(&d->slot_of, net->slot_of, net->n, where))) return rc;
  return CI_OK;
}

extern "C" int ci_cuda_net_upload(ci_net *net, const char *where) {
  dnet *d = (dnet *)calloc(1, sizeof *d);
  if (!d) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  int rc = dnet_build(net, d, where);
  if (rc) { dnet_free(d); return rc; }
  net->dev = d;
  return CI_OK;
}

/* ------------------------------------------------------------------ */
/* Kernels                                                             */
/* ------------------------------------------------------------------ */

/* x0[sensory[s], b] = u[b, s, 0] (x0 zeroed before). */
__global__ void k_place_input(float *x0, const float *u, const int32_t *sensory, int64_t S,
                              int64_t B, int64_t L) {
  int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; q < S * B; q += (int64_t)gridDim.x * blockDim.x) {
    int64_t s = q / B, b = q % B;
    x0[(int64_t)sensory[s] * B + b] = u[(b * S + s) * L + 0];
  }
}

/* out[i, b] = sig[i] * x[i, b] (the divisive product's operand). */
__global__ void k_scale_rows(float *out, const float *x, const float *sig, int64_t n, int64_t B) {
  int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; q < n * B; q += (int64_t)gridDim.x * blockDim.x) out[q] = sig[q / B] * x[q];
}

/* The fused activation of step t (1-based), as net_step_forward. */
__global__ void k_act_forward(int64_t n, int64_t B, int64_t S, int64_t L, int32_t t, int ml,
                              float th, const float *P, const float *D, const float *kk,
                              const float *cc, const float *tt, const int32_t *slot_of,
                              const float *u, const float *xp, float *x) {
  const int last = t == L;
  int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; q < n * B; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = q / B, b = q % B;
    const float k = kk[i], c = cc[i], tau = tt[i];
    const float decay = (tau - 1.0f) / tau;
    const float p = P[q];
    float s = k;
    if (D) {
      float sv = k * (1.0f + D[q]);
      s = sv < 0.0f ? 0.0f : sv;
    }
    const float a = s * p + c;
    const float xprev = xp[q];
    float y;
    if (ml) {
      const float h = a < th ? 0.0f : a;
      y = tanhf(h) / tau + decay * xprev;
    } else {
      y = a / tau + decay * xprev;
    }
    if (!last) {
      const int32_t slot = slot_of[i];
      if (slot >= 0) y += u[(b * S + slot) * L + t];
      if (ml) {
        y = y < th ? 0.0f : y;
        y = y > 1.0f ? 1.0f : y;
      }
    }
    x[q] = y;
  }
}

/* Manipulations m0..m1-1 in order (a later entry wins), one block: x[neuron, b]
 * = value (or 0 when zero != 0, for the backward's cut). */
__global__ void k_manip(const ci_manip *m, int64_t m0, int64_t m1, float *x, int64_t B, int zero) {
  for (int64_t e = m0; e < m1; e++) {
    const ci_manip mp = m[e];
    const float v = zero ? 0.0f : mp.value;
    if (mp.batch < 0) {
      for (int64_t b = threadIdx.x; b < B; b += blockDim.x) x[(int64_t)mp.neuron * B + b] = v;
    } else if (threadIdx.x == 0) {
      x[(int64_t)mp.neuron * B + mp.batch] = v;
    }
    __syncthreads();
  }
}

/* out[b, i, t-1] = x[i, b]. */
__global__ void k_store_output(float *out, const float *x, int64_t n, int64_t B, int64_t L,
                               int32_t t) {
  int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; q < n * B; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = q / B, b = q % B;
    out[(b * n + i) * L + (t - 1)] = x[q];
  }
}

/* gx = carried + grad_out[:, :, t-1] (slab layout); grad_x gets the same. */
__global__ void k_gather_grad(float *gx, const float *carried, const float *grad_out,
                              float *grad_x, int64_t n, int64_t B, int64_t L, int32_t t) {
  int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; q < n * B; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = q / B, b = q % B;
    float v = carried[q];
    if (grad_out) v += grad_out[(b * n + i) * L + (t - 1)];
    gx[q] = v;
    if (grad_x) grad_x[(b * n + i) * L + (t - 1)] = v;
  }
}

/* The elementwise backward of step t, one thread per neuron (its parameter
 * sums stay in that thread: deterministic, no atomics); as step_backward_rows. */
__global__ void k_act_backward(int64_t n, int64_t B, int64_t S, int64_t L, int32_t t, int ml,
                               float th, const float *xp, const float *P, const float *D,
                               const float *gx, const float *kk, const float *cc,
                               const float *tt, const int32_t *slot_of, const float *u,
                               float *gp, float *gd, float *carried, float *grad_u, double *g_k,
                               double *g_c, double *g_tau) {
  const int last = t == L;
  int64_t i = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    const float k = kk[i], c = cc[i], tau = tt[i];
    const float decay = (tau - 1.0f) / tau;
    const int32_t slot = slot_of[i];
    double sk = 0, sc = 0, stau = 0;
    for (int64_t b = 0; b < B; b++) {
      const int64_t ib = i * B + b;
      const float d = D ? D[ib] : 0.0f;
      float s = k, sraw = 0.0f;
      if (D) {
        sraw = k * (1.0f + d);
        s = sraw < 0.0f ? 0.0f : sraw;
      }
      const float a = s * P[ib] + c;
      const float xprev = xp[ib];
      const float g = gx[ib];
      float gy, ga, act;
      if (ml) {
        const float h = a < th ? 0.0f : a;
        act = tanhf(h);
      } else {
        act = a;
      }
      if (!last) {
        float z = act / tau + decay * xprev;
        if (slot >= 0) z += u[(b * S + slot) * L + t];
        float gz = g;
        if (ml) {
          const float zt = z < th ? 0.0f : z;
          gz = (z > th && zt <= 1.0f) ? g : 0.0f;
        }
        if (grad_u && slot >= 0) grad_u[(b * S + slot) * L + t] += gz;
        gy = gz;
      } else {
        gy = g;
      }
      if (ml) {
        const float gh = gy * (1.0f - act * act) / tau;
        ga = a > th ? gh : 0.0f;
      } else {
        ga = gy / tau;
      }
      stau += (double)gy * (double)(xprev - act) / ((double)tau * (double)tau);
      sc += ga;
      const float gs = ga * P[ib];
      gp[ib] = ga * s;
      if (D) {
        const float qq = sraw >= 0.0f ? 1.0f : 0.0f;
        sk += (double)gs * qq * (1.0f + d);
        gd[ib] = gs * qq * k;
      } else {
        sk += gs;
      }
      carried[ib] = gy * decay;
    }
    if (g_k) { g_k[i] += sk; g_c[i] += sc; g_tau[i] += stau; }
  }
}

/* g_sig[e] += sum_b gd[i, b] * w[e] * x_prev[j, b] for divisive edge e = (i <- j). */
__global__ void k_grad_sig(int64_t nd, const int32_t *rows, const void *colidx, int idx64,
                           const float *w, const float *gd, const float *xp, int64_t B,
                           double *g_sig) {
  int64_t e = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; e < nd; e += (int64_t)gridDim.x * blockDim.x) {
    const int64_t i = rows[e];
    const int64_t j = idx64 ? ((const int64_t *)colidx)[e] : ((const int32_t *)colidx)[e];
    double acc = 0;
    for (int64_t b = 0; b < B; b++) acc += (double)gd[i * B + b] * w[e] * xp[j * B + b];
    g_sig[e] += acc;
  }
}

/* carried[j, b] += sig[j] * tmp[j, b]. */
__global__ void k_add_scaled_rows(float *carried, const float *tmp, const float *sig, int64_t n,
                                  int64_t B) {
  int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; q < n * B; q += (int64_t)gridDim.x * blockDim.x) carried[q] += sig[q / B] * tmp[q];
}

/* grad_u[b, s, 0] += carried[sensory[s], b]. */
__global__ void k_input_grad0(float *grad_u, const float *carried, const int32_t *sensory,
                              int64_t S, int64_t B, int64_t L) {
  int64_t q = (int64_t)blockIdx.x * blockDim.x + threadIdx.x;
  for (; q < S * B; q += (int64_t)gridDim.x * blockDim.x) {
    const int64_t s = q / B, b = q % B;
    grad_u[(b * S + s) * L + 0] += carried[(int64_t)sensory[s] * B + b];
  }
}

/* ------------------------------------------------------------------ */
/* A pass: the host-side pass (validation, sorted manipulations, the   */
/* coefficient snapshot) plus its device buffers.                      */
/* ------------------------------------------------------------------ */

struct dstate {
  net_pass pass;        /* host: checks, manipulations sorted by layer, coefficients */
  ci_net *net;          /* retained */
  dnet *d;              /* net->dev at forward time */
  int64_t B, n, S;
  int32_t L, ck;
  float *u;             /* device input (B, S, L) */
  int own_u;
  float *k, *c, *tau, *sig;  /* device coefficients (snapshot), sig only with wd */
  ci_manip *manip;      /* device copy of pass.manip */
  float **x;            /* L + 1 slabs; kept ones own memory, the others point at scratch */
  int8_t *x_own;
  float **p;            /* L slabs when kept (ck == 0 and grad), else NULL entries */
  float *scratch[2], *pbuf, *scaled, *dterm;
  ci_tensor *input;     /* retained */
};

static void dfree(void *p) { ci_cuda_free(p); }

static void dstate_free(dstate *st) {
  if (!st) return;
  if (st->x) {
    for (int32_t t = 0; t <= st->L; t++)
      if (st->x_own && st->x_own[t]) dfree(st->x[t]);
    free(st->x);
  }
  free(st->x_own);
  if (st->p) {
    for (int32_t t = 0; t < st->L; t++) dfree(st->p[t]);
    free(st->p);
  }
  dfree(st->scratch[0]); dfree(st->scratch[1]); dfree(st->pbuf);
  dfree(st->scaled); dfree(st->dterm);
  if (st->own_u) dfree(st->u);
  dfree(st->k); dfree(st->c); dfree(st->tau); dfree(st->sig);
  dfree(st->manip);
  ci_tensor_release(st->input);
  net_pass_free(&st->pass);
  ci_net_release(st->net);
  free(st);
}

static void dstate_free_ctx(void *ctx) { dstate_free((dstate *)ctx); }

static int dalloc_slab(float **p, size_t bytes, const char *where) {
  return ci_cuda_malloc((void **)p, bytes, where);
}

/* One timestep t (1-based): x_prev -> x, with p = W x_prev. */
static int dev_step(dstate *st, int32_t t, const float *xp, float *x, float *p,
                    const char *where) {
  dnet *d = st->d;
  const int64_t n = st->n, B = st->B;
  if (n * B == 0) return CI_OK;
  const unsigned g = ci_blocks(n * B);
  int rc;
  if ((rc = ci_cuda_csr_spmm(&d->sp, &d->w, xp, B, p, 0, where))) return rc;
  const float *D = NULL;
  if (d->has_wd) {
    k_scale_rows<<<g, CI_TPB>>>(st->scaled, xp, st->sig, n, B);
    CI_LAUNCHED(where, "k_scale_rows");
    if ((rc = ci_cuda_csr_spmm(&d->sp, &d->wd, st->scaled, B, st->dterm, 0, where))) return rc;
    D = st->dterm;
  }
  const ci_net *net = st->net;
  k_act_forward<<<g, CI_TPB>>>(n, B, st->S, st->L, t, net->kind == CI_NET_MULTILAYERED,
                               net->threshold, p, D, st->k, st->c, st->tau, d->slot_of, st->u,
                               xp, x);
  CI_LAUNCHED(where, "k_act_forward");
  const int64_t m0 = st->pass.manip_start[t - 1], m1 = st->pass.manip_start[t];
  if (m1 > m0) {
    k_manip<<<1, CI_TPB>>>(st->manip, m0, m1, x, B, 0);
    CI_LAUNCHED(where, "k_manip");
  }
  return CI_OK;
}

static int upload_floats(float **dst, const float *src, int64_t cnt, const char *where) {
  size_t bytes = (size_t)cnt * sizeof(float);
  int rc = ci_cuda_malloc((void **)dst, bytes, where);
  if (!rc) rc = ci_cuda_memcpy(*dst, src, bytes, CI_H2D, where);
  return rc;
}

/* Runs the forward on the device; keeps the state the backward needs when
 * keep_for_grad (x_t for the kept steps, p_t when ck == 0), writes the
 * (B, n, L) output to a host tensor when out != NULL. */
static int dev_run_forward(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                           int32_t ck, int keep_for_grad, ci_tensor **out, dstate **state_out,
                           const char *where) {
  if (ck < 0)
    return ci_set_error(CI_EINVAL, "%s: checkpoint_steps = %d, expected >= 0", where, ck);
  if (!input) return ci_set_error(CI_EINVAL, "%s: inputs is NULL", where);
  if (!net->dev) return ci_set_error(CI_ESTATE, "%s: the network has no GPU copy", where);
  if (input->on_device && keep_for_grad && input->grad_on)
    return ci_set_error(CI_EDEVICE,
                        "%s: gradients of inputs that live on the GPU are not supported; pass "
                        "the inputs as a CPU tensor",
                        where);
  dstate *st = (dstate *)calloc(1, sizeof *st);
  if (!st) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  /* the host pass checks shapes and manipulations and snapshots the
   * coefficients; it never reads the input's data */
  struct ci_tensor hdr = *input;
  hdr.on_device = 0;
  int rc = net_pass_init(&st->pass, net, &hdr, manip, n_manip, where);
  if (rc) { free(st); return rc; }
  st->net = net;
  ci_net_retain(net);
  st->d = (dnet *)net->dev;
  st->input = input;
  ci_tensor_retain(input);
  const int64_t B = st->pass.B, n = net->n, S = net->n_sensory;
  const int32_t L = st->pass.L;
  st->B = B; st->n = n; st->S = S; st->L = L; st->ck = ck;
  size_t slab, outb;
  float *out_d = NULL;
  ci_tensor *o = NULL;
  if (ci_mul_size((size_t)n, (size_t)B, &slab) || ci_mul_size(slab, sizeof(float), &slab) ||
      ci_mul_size(slab, (size_t)L, &outb)) {
    dstate_free(st);
    return ci_set_error(CI_ENOMEM, "%s: state size overflows", where);
  }
  /* input, coefficients, manipulations: copied once */
  if (input->on_device) {
    st->u = input->data;
  } else {
    st->own_u = 1;
    if ((rc = upload_floats(&st->u, input->data, input->nel, where))) goto fail;
  }
  if ((rc = upload_floats(&st->k, st->pass.co.k, n, where))) goto fail;
  if ((rc = upload_floats(&st->c, st->pass.co.c, n, where))) goto fail;
  if ((rc = upload_floats(&st->tau, st->pass.co.tau, n, where))) goto fail;
  if (st->d->has_wd) {
    if ((rc = upload_floats(&st->sig, st->pass.co.sig, n, where))) goto fail;
    if ((rc = dalloc_slab(&st->scaled, slab, where))) goto fail;
    if ((rc = dalloc_slab(&st->dterm, slab, where))) goto fail;
  }
  if (st->pass.n_manip > 0) {
    size_t mb = sizeof(ci_manip) * (size_t)st->pass.n_manip;
    if ((rc = ci_cuda_malloc((void **)&st->manip, mb, where))) goto fail;
    if ((rc = ci_cuda_memcpy(st->manip, st->pass.manip, mb, CI_H2D, where))) goto fail;
  }
  /* slabs: x_t is kept (own memory) when the backward needs it */
  st->x = (float **)calloc((size_t)L + 1, sizeof(float *));
  st->x_own = (int8_t *)calloc((size_t)L + 1, 1);
  st->p = (float **)calloc((size_t)L, sizeof(float *));
  if (!st->x || !st->x_own || !st->p) {
    rc = ci_set_error(CI_ENOMEM, "%s: out of memory", where);
    goto fail;
  }
  if ((rc = dalloc_slab(&st->scratch[0], slab, where))) goto fail;
  if ((rc = dalloc_slab(&st->scratch[1], slab, where))) goto fail;
  if ((rc = dalloc_slab(&st->pbuf, slab, where))) goto fail;
  for (int32_t t = 0; t <= L; t++) {
    int keep = keep_for_grad && t < L && (ck == 0 || t % ck == 0);
    if (keep) {
      if ((rc = dalloc_slab(&st->x[t], slab, where))) goto fail;
      st->x_own[t] = 1;
    } else {
      st->x[t] = st->scratch[t % 2];
    }
  }
  if (keep_for_grad && ck == 0)
    for (int32_t t = 0; t < L; t++)
      if ((rc = dalloc_slab(&st->p[t], slab, where))) goto fail;
  if (out && (rc = ci_cuda_malloc((void **)&out_d, outb, where))) goto fail;
  /* the loop */
  if ((rc = ci_cuda_memset0(st->x[0], slab, where))) goto fail;
  if (S * B > 0) {
    k_place_input<<<ci_blocks(S * B), CI_TPB>>>(st->x[0], st->u, st->d->sensory, S, B, L);
    rc = CI_OK;
    {
      cudaError_t e = cudaGetLastError();
      if (e != cudaSuccess) {
        rc = ci_set_error(CI_EDEVICE, "%s: k_place_input failed: %s", where, cudaGetErrorString(e));
        goto fail;
      }
    }
  }
  for (int32_t t = 1; t <= L; t++) {
    float *p = st->p[t - 1] ? st->p[t - 1] : st->pbuf;
    if ((rc = dev_step(st, t, st->x[t - 1], st->x[t], p, where))) goto fail;
    if (out_d && n * B > 0) {
      k_store_output<<<ci_blocks(n * B), CI_TPB>>>(out_d, st->x[t], n, B, L, t);
      cudaError_t e = cudaGetLastError();
      if (e != cudaSuccess) {
        rc = ci_set_error(CI_EDEVICE, "%s: k_store_output failed: %s", where, cudaGetErrorString(e));
        goto fail;
      }
    }
  }
  if (out) {
    int64_t shape[3] = {B, n, L};
    if ((rc = ci_tensor_new(3, shape, &o))) goto fail;
    if ((rc = ci_cuda_memcpy(o->data, out_d, outb, CI_D2H, where))) goto fail;
    ci_cuda_free(out_d);
    out_d = NULL;
  } else {
    /* surface any asynchronous failure of the loop now */
    cudaError_t e = cudaDeviceSynchronize();
    if (e != cudaSuccess) {
      rc = ci_set_error(CI_EDEVICE, "%s: cudaDeviceSynchronize failed: %s", where,
                        cudaGetErrorString(e));
      goto fail;
    }
  }
  if (keep_for_grad) {
    int64_t kept = 0;
    for (int32_t t = 0; t <= L; t++) {
      if (st->x_own[t]) kept += (int64_t)slab;
      if (t < L && st->p[t]) kept += (int64_t)slab;
    }
    net->last_stored_bytes = kept;
    *state_out = st;
  } else {
    dstate_free(st);
  }
  if (out) *out = o;
  return CI_OK;
fail:
  ci_cuda_free(out_d);
  ci_tensor_release(o);
  dstate_free(st);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Backward                                                            */
/* ------------------------------------------------------------------ */

/* grad_out_d (B, n, L) on the device or NULL; grad_u_d (B, S, L) zeroed or
 * NULL; grad_x_d (B, n, L) or NULL; g_* per-neuron / per-divisive-edge
 * double sums on the device (zeroed) or NULL. */
static int dev_backward(dstate *st, const float *grad_out_d, float *grad_u_d, float *grad_x_d,
                        double *g_k, double *g_c, double *g_tau, double *g_sig,
                        const char *where) {
  dnet *d = st->d;
  const ci_net *net = st->net;
  const int64_t B = st->B, n = st->n, S = st->S;
  const int32_t L = st->L, ck = st->ck;
  const int ml = net->kind == CI_NET_MULTILAYERED;
  size_t slab = (size_t)n * (size_t)B * sizeof(float);
  float *gx = NULL, *gp = NULL, *carried = NULL, *gd = NULL, *tmp = NULL;
  float **xs = NULL, **pch = NULL;
  int32_t chunk_c0 = -1;
  int rc;
  if (n * B == 0) return CI_OK;
  const unsigned g = ci_blocks(n * B), gn = ci_blocks(n);
  if ((rc = dalloc_slab(&gx, slab, where))) goto done;
  if ((rc = dalloc_slab(&gp, slab, where))) goto done;
  if ((rc = dalloc_slab(&carried, slab, where))) goto done;
  if (d->has_wd) {
    if ((rc = dalloc_slab(&gd, slab, where))) goto done;
    if ((rc = dalloc_slab(&tmp, slab, where))) goto done;
  }
  if (ck > 0) {
    xs = (float **)calloc((size_t)ck + 1, sizeof(float *));
    pch = (float **)calloc((size_t)ck, sizeof(float *));
    if (!xs || !pch) { rc = ci_set_error(CI_ENOMEM, "%s: out of memory", where); goto done; }
    for (int32_t c = 1; c <= ck; c++)
      if ((rc = dalloc_slab(&xs[c], slab, where))) goto done;
    for (int32_t c = 0; c < ck; c++)
      if ((rc = dalloc_slab(&pch[c], slab, where))) goto done;
  }
  if ((rc = ci_cuda_memset0(carried, slab, where))) goto done;
  for (int32_t t = L; t >= 1; t--) {
    const float *xprev, *pt;
    if (ck == 0) {
      xprev = st->x[t - 1];
      pt = st->p[t - 1];
    } else {
      int32_t c0 = ((t - 1) / ck) * ck;
      if (c0 != chunk_c0) { /* recompute steps c0+1 .. c1 from the kept x_c0 */
        int32_t c1 = c0 + ck < L ? c0 + ck : L;
        xs[0] = st->x[c0];
        for (int32_t s = c0 + 1; s <= c1; s++)
          if ((rc = dev_step(st, s, xs[s - 1 - c0], xs[s - c0], pch[s - 1 - c0], where)))
            goto done;
        chunk_c0 = c0;
      }
      xprev = xs[t - 1 - c0];
      pt = pch[t - 1 - c0];
    }
    k_gather_grad<<<g, CI_TPB>>>(gx, carried, grad_out_d, grad_x_d, n, B, L, t);
    if (cudaPeekAtLastError() != cudaSuccess) break;
    const int64_t m0 = st->pass.manip_start[t - 1], m1 = st->pass.manip_start[t];
    if (m1 > m0) k_manip<<<1, CI_TPB>>>(st->manip, m0, m1, gx, B, 1);
    const float *D = NULL;
    if (d->has_wd) { /* the divisive term of step t, as the forward computed it */
      k_scale_rows<<<g, CI_TPB>>>(st->scaled, xprev, st->sig, n, B);
      if (cudaPeekAtLastError() != cudaSuccess) break;
      if ((rc = ci_cuda_csr_spmm(&d->sp, &d->wd, st->scaled, B, st->dterm, 0, where))) goto done;
      D = st->dterm;
    }
    k_act_backward<<<gn, CI_TPB>>>(n, B, S, L, t, ml, net->threshold, xprev, pt, D, gx, st->k,
                                   st->c, st->tau, d->slot_of, st->u, gp, gd, carried, grad_u_d,
                                   g_k, g_c, g_tau);
    if (cudaPeekAtLastError() != cudaSuccess) break;
    if (d->has_wd && g_sig && d->wd.nnz > 0) {
      k_grad_sig<<<ci_blocks(d->wd.nnz), CI_TPB>>>(d->wd.nnz, d->wd_rows, d->wd.colidx,
                                                   d->wd.idx64, d->wd.vals, gd, xprev, B, g_sig);
      if (cudaPeekAtLastError() != cudaSuccess) break;
    }
    /* carried_{t-1} += W^T gp (+ the divisive path) */
    if ((rc = ci_cuda_csr_spmm(&d->sp, &d->wt, gp, B, carried, 1, where))) goto done;
    if (d->has_wd) {
      if ((rc = ci_cuda_csr_spmm(&d->sp, &d->wdt, gd, B, tmp, 0, where))) goto done;
      k_add_scaled_rows<<<g, CI_TPB>>>(carried, tmp, st->sig, n, B);
      if (cudaPeekAtLastError() != cudaSuccess) break;
    }
  }
  if (grad_u_d && S * B > 0 && cudaPeekAtLastError() == cudaSuccess)
    k_input_grad0<<<ci_blocks(S * B), CI_TPB>>>(grad_u_d, carried, d->sensory, S, B, L);
  {
    cudaError_t e = cudaGetLastError();
    if (e == cudaSuccess) e = cudaDeviceSynchronize();
    if (e != cudaSuccess)
      rc = ci_set_error(CI_EDEVICE, "%s: a backward kernel failed: %s", where,
                        cudaGetErrorString(e));
  }
done:
  dfree(gx); dfree(gp); dfree(carried); dfree(gd); dfree(tmp);
  if (xs) for (int32_t c = 1; c <= ck; c++) dfree(xs[c]);
  if (pch) for (int32_t c = 0; c < ck; c++) dfree(pch[c]);
  free(xs); free(pch);
  return rc;
}

/* Runs dev_backward with host grad_out and returns host results: grad_u
 * (host, input's shape) and grad_x (host, (B, n, L)) when wanted, and the
 * parameter gradients through net_accumulate_param_grads (g[k] non-NULL
 * marks a wanted parameter, as on the CPU). */
static int dev_backward_host(dstate *st, const ci_tensor *grad_out, ci_tensor *gu,
                             ci_tensor *gxt, int any, ci_tensor **g, const char *where) {
  const int64_t n = st->n;
  const int64_t nd = st->d->has_wd ? st->d->wd.nnz : 0;
  float *go_d = NULL, *gu_d = NULL, *gx_d = NULL;
  double *sums_d = NULL, *sums = NULL;
  size_t nsums = (size_t)n * 3 + (size_t)nd;
  int rc = CI_OK;
  if (grad_out && (rc = upload_floats(&go_d, grad_out->data, grad_out->nel, where))) goto done;
  if (gu) {
    size_t b = (size_t)gu->nel * sizeof(float);
    if ((rc = ci_cuda_malloc((void **)&gu_d, b, where))) goto done;
    if ((rc = ci_cuda_memset0(gu_d, b, where))) goto done;
  }
  if (gxt) {
    size_t b = (size_t)gxt->nel * sizeof(float);
    if ((rc = ci_cuda_malloc((void **)&gx_d, b, where))) goto done;
    if ((rc = ci_cuda_memset0(gx_d, b, where))) goto done;
  }
  if (any) {
    if ((rc = ci_cuda_malloc((void **)&sums_d, nsums * sizeof(double), where))) goto done;
    if ((rc = ci_cuda_memset0(sums_d, nsums * sizeof(double), where))) goto done;
  }
  rc = dev_backward(st, go_d, gu_d, gx_d, any ? sums_d : NULL, any ? sums_d + n : NULL,
                    any ? sums_d + 2 * n : NULL, any && nd ? sums_d + 3 * n : NULL, where);
  if (rc) goto done;
  if (gu && (rc = ci_cuda_memcpy(gu->data, gu_d, (size_t)gu->nel * sizeof(float), CI_D2H, where)))
    goto done;
  if (gxt &&
      (rc = ci_cuda_memcpy(gxt->data, gx_d, (size_t)gxt->nel * sizeof(float), CI_D2H, where)))
    goto done;
  if (any) {
    sums = (double *)malloc(nsums * sizeof(double) + 1);
    if (!sums) { rc = ci_set_error(CI_ENOMEM, "%s: out of memory", where); goto done; }
    if ((rc = ci_cuda_memcpy(sums, sums_d, nsums * sizeof(double), CI_D2H, where))) goto done;
    rc = net_accumulate_param_grads(st->net, &st->pass.co, sums, sums + n, sums + 2 * n,
                                    nd ? sums + 3 * n : NULL, g);
  }
done:
  dfree(go_d); dfree(gu_d); dfree(gx_d); dfree(sums_d);
  free(sums);
  return rc;
}

/* A state whose network has since left the GPU cannot be differentiated. */
static int check_state(const dstate *st, const char *where) {
  if (st->net->dev != st->d)
    return ci_set_error(CI_ESTATE,
                        "%s: the network was moved off the GPU after this forward pass", where);
  return CI_OK;
}

static int dev_node_backward(ci_node *node, const ci_tensor *grad_out, ci_tensor **grad_in) {
  const char *where = "network backward (cuda)";
  dstate *st = (dstate *)node->ctx;
  ci_net *net = st->net;
  ci_tensor *input = node->inputs[0];
  ci_tensor *gu = NULL;
  int rc = check_state(st, where);
  if (rc) return rc;
  if (input->grad_on && (rc = ci_tensor_new(3, input->shape, &gu))) return rc;
  int want[4] = {0, 0, 0, 0}, any = 0;
  for (int k = 0; k < 4 && net->n_groups > 0; k++) any |= want[k] = node->inputs[k + 1]->grad_on;
  ci_tensor *g[4];
  for (int k = 0; k < 4; k++) g[k] = want[k] ? (ci_tensor *)1 : NULL;
  rc = dev_backward_host(st, grad_out, gu, NULL, any, g, where);
  for (int k = 0; k < 4; k++) {
    if (g[k] == (ci_tensor *)1) g[k] = NULL;
    if (rc) ci_tensor_release(g[k]);
    else grad_in[k + 1] = g[k];
  }
  if (rc) { ci_tensor_release(gu); return rc; }
  grad_in[0] = gu;
  return CI_OK;
}

extern "C" int ci_cuda_net_forward(ci_net *net, ci_tensor *input, const ci_manip *manip,
                                   int64_t n_manip, int32_t checkpoint_steps, ci_tensor **out) {
  const char *where = "ci_net_forward";
  int need = ci_needs_grad(input);
  for (int k = 0; k < 4; k++) need |= ci_needs_grad(net->param[k]);
  dstate *st = NULL;
  ci_tensor *o = NULL;
  int rc = dev_run_forward(net, input, manip, n_manip, checkpoint_steps, need, &o, &st, where);
  if (rc) return rc;
  if (need) {
    ci_tensor *inputs[5] = {input, net->param[0], net->param[1], net->param[2], net->param[3]};
    ci_node *node = ci_node_attach(o, "network forward (cuda)", net->n_groups > 0 ? 5 : 1,
                                   inputs, dev_node_backward);
    if (!node) { dstate_free(st); ci_tensor_release(o); return CI_ENOMEM; }
    node->ctx = st;
    node->free_ctx = dstate_free_ctx;
  }
  *out = o;
  return CI_OK;
}

/* Adds g into t's accumulated gradient (as the CPU's ci_net_vjp does). */
static void accumulate_grad(ci_tensor *t, ci_tensor *g) {
  if (!t->grad_t) {
    t->grad_t = g;
    ci_tensor_retain(g);
    return;
  }
  for (int64_t i = 0; i < g->nel; i++) t->grad_t->data[i] += g->data[i];
}

extern "C" int ci_cuda_net_vjp(ci_net *net, ci_tensor *input, const ci_manip *manip,
                               int64_t n_manip, int32_t checkpoint_steps,
                               const ci_tensor *grad_out, ci_tensor **grad_input,
                               ci_tensor **grad_x) {
  const char *where = "ci_net_vjp";
  dstate *st = NULL;
  if (input && input->on_device && grad_input)
    return ci_set_error(CI_EDEVICE,
                        "%s: gradients of inputs that live on the GPU are not supported; pass "
                        "the inputs as a CPU tensor",
                        where);
  int rc = dev_run_forward(net, input, manip, n_manip, checkpoint_steps, 1, NULL, &st, where);
  if (rc) return rc;
  const int64_t B = st->B, n = st->n;
  const int32_t L = st->L;
  if (grad_out && (grad_out->on_device || grad_out->ndim != 3 || grad_out->shape[0] != B ||
                   grad_out->shape[1] != n || grad_out->shape[2] != L)) {
    dstate_free(st);
    return ci_set_error(CI_EINVAL, "%s: grad_out must be a CPU tensor of shape (%lld, %lld, %d)",
                        where, (long long)B, (long long)n, L);
  }
  ci_tensor *gu = NULL, *gxt = NULL;
  int want[4] = {0, 0, 0, 0}, any = 0;
  for (int k = 0; k < 4 && net->n_groups > 0; k++) any |= want[k] = net->param[k]->grad_on;
  ci_tensor *g[4];
  for (int k = 0; k < 4; k++) g[k] = want[k] ? (ci_tensor *)1 : NULL;
  if (grad_input && (rc = ci_tensor_new(3, input->shape, &gu))) goto done;
  if (grad_x) {
    int64_t shape[3] = {B, n, L};
    if ((rc = ci_tensor_new(3, shape, &gxt))) goto done;
  }
  rc = dev_backward_host(st, grad_out, gu, gxt, any, g, where);
  for (int k = 0; k < 4; k++) {
    if (g[k] && g[k] != (ci_tensor *)1) {
      if (!rc) accumulate_grad(net->param[k], g[k]);
      ci_tensor_release(g[k]);
    }
  }
done:
  dstate_free(st);
  if (rc) { ci_tensor_release(gu); ci_tensor_release(gxt); return rc; }
  if (grad_input) *grad_input = gu;
  if (grad_x) *grad_x = gxt;
  return CI_OK;
}
