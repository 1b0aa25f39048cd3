/* test_net_step.c: the elementwise step of core/net_step.h (the one the CPU
 * loops and the CUDA kernels call) against ../shared/DESIGN.md's formulas
 * written out here in double: the forward's value, the backward against
 * central finite differences of that double forward away from the kinks, and
 * at the kinks the derivative conventions DESIGN.md states (threshold [a > th]
 * also with a = th exactly and th = 0, divisive normalisation's max(0, .),
 * the clamp at 1), plus manipulated entries (the last write wins, no gradient
 * passes). Exits non-zero on failure. */
#include "check.h"
#include "net_step.h"

#include <math.h>

/* One element's inputs, in the order of ci_step_forward. */
enum { P, D, K, C, TAU, XPREV, U, NVAR };
static const char *VAR[NVAR] = {"p", "d", "k", "c", "tau", "x_prev", "u"};

/* DESIGN.md, Forward, for one element, in double. */
static double design_forward(const double *v, ci_step_mode m) {
  const double s = m.div ? fmax(0.0, v[K] * (1.0 + v[D])) : v[K];
  const double a = s * v[P] + v[C];
  const double tau = v[TAU];
  double y;
  if (m.ml) {
    const double h = a >= m.th ? a : 0.0;
    y = tanh(h) / tau + (tau - 1.0) / tau * v[XPREV];
  } else {
    y = a / tau + (tau - 1.0) / tau * v[XPREV];
  }
  if (m.last) return y;
  const double z = y + v[U];
  if (!m.ml) return z;
  return fmin(z >= m.th ? z : 0.0, 1.0);
}

static float fwd(const double *v, ci_step_mode m) {
  return ci_step_forward((float)v[P], (float)v[D], (float)v[K], (float)v[C],
                         ci_step_rates((float)v[TAU]), (float)v[XPREV], (float)v[U], m);
}

static ci_step_grads bwd(float g, const double *v, ci_step_mode m) {
  return ci_step_backward(g, (float)v[P], (float)v[D], (float)v[K], (float)v[C],
                          ci_step_rates((float)v[TAU]), (float)v[XPREV], (float)v[U], m);
}

/* The header's derivative of x_t with respect to each input, for g = dLoss/dx_t. */
static void header_grads(float g, const double *v, ci_step_mode m, double *out) {
  const ci_step_grads r = bwd(g, v, m);
  out[P] = r.gp;
  out[D] = r.gd;
  out[K] = r.gk;
  out[C] = r.gc;
  out[TAU] = r.gtau;
  out[XPREV] = r.carried;
  out[U] = r.gz;
}

/* Distances of the point from every kink of the forward. */
static double kink_distance(const double *v, ci_step_mode m) {
  const double sraw = v[K] * (1.0 + v[D]);
  const double s = m.div ? fmax(0.0, sraw) : v[K];
  const double a = s * v[P] + v[C];
  const double act = m.ml ? tanh(a >= m.th ? a : 0.0) : a;
  const double z = act / v[TAU] + (v[TAU] - 1.0) / v[TAU] * v[XPREV] + v[U];
  double dist = m.ml ? fabs(a - m.th) : 1.0;
  if (m.div) dist = fmin(dist, fabs(sraw));
  if (m.ml && !m.last) dist = fmin(dist, fmin(fabs(z - m.th), fabs(z - 1.0)));
  return dist;
}

static void random_point(double *v, int div) {
  v[P] = runif() * 2.0 - 0.6;
  v[D] = div ? runif() * 1.6 - 1.3 : 0.0;
  v[K] = 0.3 + runif() * 1.5;
  v[C] = runif() * 0.4;
  v[TAU] = 1.0 + runif() * 3.0;
  v[XPREV] = runif();
  v[U] = runif() < 0.5 ? 0.0 : runif() * 0.8;
}

/* Forward values and the backward against central differences of the double
 * forward, over random points of every mode, away from the kinks. */
static void test_against_design(void) {
  int tested = 0;
  for (int mode = 0; mode < 16; mode++) {
    ci_step_mode m = {mode & 8 ? 0.0f : 0.05f, mode & 1, (mode >> 1) & 1, (mode >> 2) & 1};
    for (int trial = 0; trial < 400; trial++) {
      double v[NVAR];
      random_point(v, m.div);
      for (int q = 0; q < NVAR; q++) v[q] = (float)v[q]; /* the header sees floats */
      const double want = design_forward(v, m);
      const float got = fwd(v, m);
      CHECK(fabs(got - want) <= 2e-6 * (1.0 + fabs(want)), "forward (ml %d div %d last %d): %.9g vs %.9g",
            m.ml, m.div, m.last, (double)got, want);
      if (kink_distance(v, m) < 1e-3) continue;
      const float g = 0.75f;
      double hg[NVAR];
      header_grads(g, v, m, hg);
      for (int q = 0; q < NVAR; q++) {
        if (q == D && !m.div) continue;
        if (q == U && m.last) continue;
        const double h = 1e-6;
        double vp[NVAR], vm[NVAR];
        for (int r = 0; r < NVAR; r++) vp[r] = vm[r] = v[r];
        vp[q] += h;
        vm[q] -= h;
        const double fd = g * (design_forward(vp, m) - design_forward(vm, m)) / (2 * h);
        CHECK(fabs(hg[q] - fd) <= 1e-4 * (1.0 + fabs(fd)),
              "d x / d %s (ml %d div %d last %d th %g): header %.9g, finite differences %.9g",
              VAR[q], m.ml, m.div, m.last, (double)m.th, hg[q], fd);
      }
      tested++;
    }
  }
  CHECK(tested > 3000, "only %d points away from the kinks", tested);
}

/* a = th exactly: the threshold passes the value (h = a) but not the
 * gradient ([a > th] = 0); also with th = 0 and a = 0 (a silent neuron). */
static void test_threshold_kink(void) {
  const ci_step_mode last = {0.5f, 1, 0, 1};
  double v[NVAR] = {0.25, 0, 1.0, 0.25, 2.0, 0.3, 0};
  CHECK(fabs(fwd(v, last) - design_forward(v, last)) < 1e-7, "forward at a = th = 0.5");
  CHECK(fwd(v, last) > 0.2f, "a = th keeps its value: x = %g", (double)fwd(v, last));
  ci_step_grads r = bwd(1.0f, v, last);
  CHECK(r.gp == 0.0f && r.gc == 0.0 && r.gk == 0.0,
        "a = th = 0.5: no gradient through the threshold (gp %g gc %g gk %g)", (double)r.gp,
        r.gc, r.gk);
  CHECK(r.carried == 0.5f, "the tau mixing still carries (tau - 1) / tau = 0.5: %g",
        (double)r.carried);
  /* just above the threshold the gradient passes */
  v[C] = 0.2501;
  r = bwd(1.0f, v, last);
  CHECK(r.gc > 0.1, "a just above th: gc = %g", r.gc);

  const ci_step_mode zero_th = {0.0f, 1, 0, 0};
  double s[NVAR] = {0.0, 0, 1.0, 0.0, 1.0, 0.0, 0.4};
  r = bwd(1.0f, s, zero_th);
  CHECK(r.gc == 0.0 && r.gp == 0.0f, "th = 0, a = 0: gc %g gp %g", r.gc, (double)r.gp);
  CHECK(r.gz == 1.0f, "th = 0: the input of the next layer passes (z = 0.4): gz = %g", (double)r.gz);
  s[P] = -0.5; /* a < 0 = th */
  r = bwd(1.0f, s, zero_th);
  CHECK(r.gc == 0.0, "th = 0, a < 0: gc %g", r.gc);
}

/* z at the clamp: z = 1 passes ([z <= 1] is 1 at equality), z > 1 does not;
 * z = th exactly does not ([z > th]). */
static void test_clamp_and_input_threshold(void) {
  const ci_step_mode m = {0.5f, 1, 0, 0};
  double v[NVAR] = {0.0, 0, 1.0, 0.0, 1.0, 0.0, 1.0}; /* act = 0, tau = 1: z = u */
  CHECK(fwd(v, m) == 1.0f, "z = 1 -> x = 1");
  ci_step_grads r = bwd(0.5f, v, m);
  CHECK(r.gz == 0.5f, "z = 1: the clamp passes the gradient: gz = %g", (double)r.gz);
  v[U] = 1.5;
  CHECK(fwd(v, m) == 1.0f, "z = 1.5 -> x = 1");
  r = bwd(0.5f, v, m);
  CHECK(r.gz == 0.0f && r.carried == 0.0f, "z > 1: no gradient: gz %g carried %g", (double)r.gz,
        (double)r.carried);
  v[U] = 0.5;
  CHECK(fwd(v, m) == 0.5f, "z = th keeps its value");
  r = bwd(0.5f, v, m);
  CHECK(r.gz == 0.0f, "z = th: no gradient: gz = %g", (double)r.gz);
}

/* Divisive normalisation: s = max(0, k (1 + d)); at k (1 + d) < 0 nothing
 * passes to k or d; at k (1 + d) = 0 exactly, q = [. >= 0] = 1. */
static void test_divisive(void) {
  const ci_step_mode m = {0.0f, 1, 1, 1};
  double v[NVAR] = {0.8, -1.5, 1.0, 0.1, 1.0, 0.0, 0};
  ci_step_grads r = bwd(1.0f, v, m);
  CHECK(fwd(v, m) == tanhf(0.1f), "k (1 + d) < 0: s = 0, x = tanh(c)");
  CHECK(r.gk == 0.0 && r.gd == 0.0f && r.gp == 0.0f, "k (1 + d) < 0: gk %g gd %g gp %g", r.gk,
        (double)r.gd, (double)r.gp);
  CHECK(r.gc > 0.9, "the bias still gets its gradient: %g", r.gc);
  v[D] = -1.0; /* k (1 + d) = 0 */
  r = bwd(1.0f, v, m);
  const double gs = (1.0 - tanh(0.1) * tanh(0.1)) * 0.8; /* dLoss/ds at s = 0 */
  CHECK(fabs(r.gd - gs * 1.0) < 1e-6, "k (1 + d) = 0: gd = gs k = %g, got %g", gs, (double)r.gd);
  CHECK(r.gk == 0.0, "k (1 + d) = 0: gk = gs (1 + d) = 0, got %g", r.gk);
}

/* Manipulations: applied in order (the later entry wins), whatever the
 * number of workers sharing the batch columns; with zero = 1 they cut the
 * gradient, and a cut gradient passes nothing back. */
static void test_manipulate(void) {
  enum { N = 3, B = 5 };
  const ci_manip list[4] = {
      {0, -1, 1, 0.7f},  /* every batch column of neuron 1 */
      {0, 2, 1, 0.2f},   /* then batch 2 of neuron 1 (wins) */
      {0, 3, 2, 0.9f},
      {0, 3, 2, 0.4f},   /* the same element again: this one wins */
  };
  for (int nlanes = 1; nlanes <= 4; nlanes++) {
    float x[N * B], gx[N * B];
    for (int e = 0; e < N * B; e++) x[e] = gx[e] = (float)e;
    for (int lane = 0; lane < nlanes; lane++) {
      ci_step_manip(list, 0, 4, x, B, 0, lane, nlanes);
      ci_step_manip(list, 0, 4, gx, B, 1, lane, nlanes);
    }
    for (int i = 0; i < N; i++)
      for (int b = 0; b < B; b++) {
        float want = (float)(i * B + b), wantg = want;
        if (i == 1) { want = b == 2 ? 0.2f : 0.7f; wantg = 0.0f; }
        if (i == 2 && b == 3) { want = 0.4f; wantg = 0.0f; }
        CHECK(x[i * B + b] == want && gx[i * B + b] == wantg,
              "%d workers: x[%d, %d] = %g (want %g), g = %g (want %g)", nlanes, i, b,
              (double)x[i * B + b], (double)want, (double)gx[i * B + b], (double)wantg);
      }
  }
  const ci_step_mode m = {0.05f, 1, 1, 0};
  double v[NVAR] = {0.6, -0.2, 1.2, 0.1, 2.0, 0.4, 0.3};
  const ci_step_grads r = bwd(0.0f, v, m);
  CHECK(r.gp == 0.0f && r.gd == 0.0f && r.gz == 0.0f && r.carried == 0.0f && r.gk == 0.0 &&
            r.gc == 0.0 && r.gtau == 0.0,
        "a manipulated entry (g = 0) passes no gradient");
}

int main(void) {
  rs = 777;
  test_against_design();
  test_threshold_kink();
  test_clamp_and_input_threshold();
  test_divisive();
  test_manipulate();
  return CHECK_SUMMARY();
}
