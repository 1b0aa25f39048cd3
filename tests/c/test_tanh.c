/* test_tanh.c: ci_tanhf (core/fast_tanh.h), the network's tanh, on a dense
 * subset of the floats (every 257th bit pattern, every float of [0.9, 1.1]
 * where its two halves meet, the subnormals' edge) against tanh in double,
 * within the bound fast_tanh.h states (0.96 ulp; `make tanh-exhaustive`
 * checks all 2^32 floats); the special values (+-0 with their sign, +-inf,
 * NaNs, the largest float); and the vectorised loop gcc makes of it against
 * the same function kept scalar, bit for bit. */
#include "check.h"
#include "tanh_scan.h"

#include <math.h>

__attribute__((noinline)) static void tanh_loop(const float *restrict x, float *restrict y, int n) {
  for (int i = 0; i < n; i++) y[i] = ci_tanhf(x[i]);
}

__attribute__((noinline, optimize("no-tree-vectorize"))) static float tanh_scalar(float x) {
  return ci_tanhf(x);
}

static void check_scan(const char *what, const tanh_scan *s) {
  printf("%s: %lld floats, max error %.4f ulp at %.9g\n", what, (long long)s->points, s->max_ulp,
         s->worst_x);
  CHECK(s->max_ulp <= 0.96, "%s: %.4f ulp at x = %.9g", what, s->max_ulp, s->worst_x);
  CHECK(s->over_one == 0, "%s: %lld results above 1 in magnitude", what, (long long)s->over_one);
  CHECK(s->not_odd == 0, "%s: %lld x with tanh(-x) != -tanh(x)", what, (long long)s->not_odd);
  CHECK(s->nan_wrong == 0, "%s: %lld wrong NaN results", what, (long long)s->nan_wrong);
  CHECK(s->not_monotone == 0, "%s: %lld decreasing steps", what, (long long)s->not_monotone);
}

int main(void) {
  tanh_scan s;
  memset(&s, 0, sizeof s);
  tanh_scan_range(0, 0x80000000u, 257, &s); /* every 257th positive float, NaNs included */
  check_scan("every 257th float", &s);
  memset(&s, 0, sizeof s);
  tanh_scan_range(tanh_scan_bits(0.9f), tanh_scan_bits(1.1f), 1, &s);
  check_scan("every float in [0.9, 1.1]", &s);
  memset(&s, 0, sizeof s);
  tanh_scan_range(0x007ff000u, 0x00801000u, 1, &s); /* the subnormals' edge */
  check_scan("around the smallest normal float", &s);

  /* special values */
  const float pz = ci_tanhf(0.0f), nz = ci_tanhf(-0.0f);
  CHECK(pz == 0.0f && !signbit(pz), "tanh(+0) = %g", pz);
  CHECK(nz == 0.0f && signbit(nz), "tanh(-0) = %g (sign %d)", nz, signbit(nz) != 0);
  CHECK(ci_tanhf(INFINITY) == 1.0f && ci_tanhf(-INFINITY) == -1.0f, "tanh(+-inf)");
  CHECK(ci_tanhf(3.4028235e38f) == 1.0f && ci_tanhf(-3.4028235e38f) == -1.0f, "tanh(+-FLT_MAX)");
  CHECK(isnan(ci_tanhf(NAN)) && isnan(ci_tanhf(-NAN)) && isnan(ci_tanhf(tanh_scan_float(0x7f800001u))),
        "tanh(NaN) is NaN");
  CHECK(ci_tanhf(1e-30f) == 1e-30f && ci_tanhf(1.4e-45f) == 1.4e-45f, "tanh(x) = x for tiny x");

  /* the vectorised loop and the scalar function agree bit for bit */
  enum { N = 4099 };
  static float x[N], y[N];
  for (int i = 0; i < N; i++) x[i] = (float)((runif() - 0.5) * (i % 3 ? 6.0 : 60.0));
  x[7] = -0.0f; x[8] = INFINITY; x[9] = NAN; x[10] = 1.0f; x[11] = 0.99999994f;
  tanh_loop(x, y, N);
  int differ = 0;
  for (int i = 0; i < N; i++) {
    const float ys = tanh_scalar(x[i]);
    differ += tanh_scan_bits(ys) != tanh_scan_bits(y[i]);
  }
  CHECK(differ == 0, "%d of %d vectorised results differ from the scalar ones", differ, N);
  return CHECK_SUMMARY();
}
