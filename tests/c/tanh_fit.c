/* tanh_fit.c: derives the coefficients of ci_tanhf (core/fast_tanh.h) in long
 * double (`make tanh-fit` prints them): a weighted least-squares polynomial fit
 * on 400 Chebyshev nodes refined by Lawson's iteration (each node's weight
 * multiplied by its error, 200 rounds) towards the minimax of the RELATIVE
 * error of the final value:
 *   small half: P(s), degree 7, s = a^2 on [0, 1], so that a + a^3 P(a^2) ~ tanh(a);
 *   exp:        E(r), degree 6, r on [-ln2/2, ln2/2], so that E(r) ~ exp(r);
 *   large half: F(e), degree 5, e = exp(-2a) on [0, exp(-2)] (a >= 1), so
 *               that 1 - e F(e) ~ tanh(a) (weighted by e over tanh(a)).
 * Prints each coefficient (constant term first) and the fit's largest
 * relative error. */
#include <math.h>
#include <stdio.h>

typedef long double ld;
enum { NODES = 400, ROUNDS = 200, MAXC = 12 };

/* What a fit approximates at node z: the target g(z) of the polynomial and the
 * factor w(z) by which the polynomial's error scales into the relative error
 * of the final value. */
typedef void (*fit_target)(ld z, ld *g, ld *w);

static void small_half(ld s, ld *g, ld *w) {
  const ld a = sqrtl(s);
  /* (tanh a - a) / a^3, by its series where the difference cancels */
  *g = a < 1e-3L ? -1.0L / 3 + s * (2.0L / 15 + s * (-17.0L / 315 + s * 62.0L / 2835))
                 : (tanhl(a) - a) / (a * s);
  *w = a * s / tanhl(a);
}

/* 1 - tanh(a) = 2e / (1 + e) = e F(e), e = exp(-2a) on [0, exp(-2)] (a >= 1):
 * F's error times e is the error of tanh(a) = (1 - e) / (1 + e). */
static void large_half(ld e, ld *g, ld *w) {
  *g = 2.0L / (1.0L + e);
  *w = e * (1.0L + e) / (1.0L - e);
}

static void exp_half(ld r, ld *g, ld *w) {
  *g = expl(r);
  *w = 1.0L / expl(r);
}

/* Fits c[0..deg] on [lo, hi]; returns the largest relative error. */
static ld fit(fit_target f, ld lo, ld hi, int deg, ld *c) {
  const int m = deg + 1;
  const ld mid = (lo + hi) / 2, half = (hi - lo) / 2;
  ld z[NODES], lw[NODES], err[NODES], maxerr = 0;
  for (int i = 0; i < NODES; i++) {
    z[i] = mid + half * cosl(M_PI * (i + 0.5L) / NODES);
    lw[i] = 1;
  }
  for (int round = 0; round < ROUNDS; round++) {
    ld A[MAXC][MAXC + 1] = {{0}}; /* normal equations in u = z / max(|lo|, |hi|) */
    const ld scale = fmaxl(fabsl(lo), fabsl(hi));
    for (int i = 0; i < NODES; i++) {
      ld g, w, pw[MAXC];
      f(z[i], &g, &w);
      pw[0] = 1;
      for (int k = 1; k < m; k++) pw[k] = pw[k - 1] * z[i] / scale;
      for (int a = 0; a < m; a++) {
        for (int b = 0; b < m; b++) A[a][b] += lw[i] * w * w * pw[a] * pw[b];
        A[a][m] += lw[i] * w * w * pw[a] * g;
      }
    }
    for (int a = 0; a < m; a++) /* Gauss-Jordan (the system is positive definite) */
      for (int r = 0; r < m; r++)
        if (r != a) {
          const ld q = A[r][a] / A[a][a];
          for (int k = 0; k <= m; k++) A[r][k] -= q * A[a][k];
        }
    for (int a = 0; a < m; a++) c[a] = A[a][m] / A[a][a] / powl(scale, a);
    maxerr = 0;
    for (int i = 0; i < NODES; i++) {
      ld g, w, p = 0;
      f(z[i], &g, &w);
      for (int k = m - 1; k >= 0; k--) p = p * z[i] + c[k];
      err[i] = fabsl(w * (p - g));
      if (err[i] > maxerr) maxerr = err[i];
    }
    ld total = 0;
    for (int i = 0; i < NODES; i++) total += (lw[i] *= err[i] / maxerr + 1e-30L);
    for (int i = 0; i < NODES; i++) lw[i] /= total;
  }
  return maxerr;
}

static void show(const char *name, fit_target f, ld lo, ld hi, int deg) {
  ld c[MAXC];
  const ld e = fit(f, lo, hi, deg, c);
  printf("%s (degree %d), largest relative error %.3Le:\n", name, deg, e);
  for (int k = 0; k <= deg; k++) printf("  c%d = %.9e\n", k, (double)c[k]);
}

int main(void) {
  show("P: tanh(a) = a + a^3 P(a^2), a in [0, 1]", small_half, 0, 1, 7);
  show("E: exp(r), |r| <= ln2 / 2", exp_half, -0.5L * logl(2), 0.5L * logl(2), 6);
  show("F: 2 / (1 + e), e in [0, exp(-2)]", large_half, 0, expl(-2.0L), 5);
  return 0;
}
