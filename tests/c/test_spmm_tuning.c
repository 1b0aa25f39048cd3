/* test_spmm_tuning.c: the sparse product under every speed knob gives the
 * product (core/csr_spmm.c): the column-blocked walk (forced on a small
 * matrix through ci_tune_set) against the plain one to float rounding for
 * many batch widths and block counts, with accumulate and with an epilogue
 * that must see each row once, after its last block; bitwise the same with 1
 * and 2 threads; any prefetch distance (0 .. past the end of the matrix)
 * bitwise the same as the default; the push through the transpose for a
 * mostly-zero operand (csr_push.c) against the pull, and bitwise the same
 * with 1 and 2 threads; the knobs' range errors. Exits non-zero on failure. */
#include "check.h"
#include "cinterp.h"
/* the push is private to the library (hidden): compiled into this test */
#include "../../core/csr_push.c"

#include <math.h>
#include <omp.h>
#include <string.h>

enum { N = 3000 };
static const int64_t NNZ = 60000;

typedef struct seen {
  int32_t *calls;  /* epilogue calls per row */
  const float *Y;
  int64_t B;
  int bad;         /* calls whose row was not final */
  const float *ref;
} seen;

/* Counts the calls and checks the row is already the final product. */
static void epilogue(void *ctx, int32_t row, float *y) {
  seen *s = ctx;
  s->calls[row]++;
  for (int64_t b = 0; b < s->B; b++)
    if (fabsf(y[b] - s->ref[row * s->B + b]) > 1e-4f * (1.0f + fabsf(s->ref[row * s->B + b])))
      s->bad++;
}

static double max_rel(const float *a, const float *b, int64_t n) {
  double m = 0;
  for (int64_t k = 0; k < n; k++) {
    const double d = fabs((double)a[k] - b[k]) / (1.0 + fabs((double)b[k]));
    if (d > m) m = d;
  }
  return m;
}

static void set(const char *knob, int64_t v) { OK(ci_tune_set(knob, v)); }

int main(void) {
  ci_csr *A = NULL;
  OK(ci_random_connectome(N, NNZ, 7, &A));
  const int64_t widths[] = {1, 3, 8, 16, 33};
  for (size_t w = 0; w < sizeof widths / sizeof widths[0]; w++) {
    const int64_t B = widths[w], nb = (int64_t)N * B;
    float *X = malloc(sizeof(float) * nb), *ref = malloc(sizeof(float) * nb);
    float *Y = malloc(sizeof(float) * nb), *Y1 = malloc(sizeof(float) * nb);
    for (int64_t k = 0; k < nb; k++) X[k] = (float)(runif() * 2 - 1);
    set("spmm_block_above", 0); /* plain */
    OK(ci_csr_spmm(A, X, B, ref, 0));
    /* blocked: X of N * B * 4 bytes in panels of 8 KiB .. 64 KiB (2 .. 59 blocks) */
    const int64_t panels[] = {8192, 20000, 65536};
    for (size_t q = 0; q < 3; q++) {
      set("spmm_block_above", 1);
      set("spmm_block_bytes", panels[q]);
      OK(ci_csr_spmm(A, X, B, Y, 0));
      CHECK(max_rel(Y, ref, nb) < 1e-5, "B = %lld, panel %lld: blocked differs by %g", (long long)B,
            (long long)panels[q], max_rel(Y, ref, nb));
      omp_set_num_threads(1);
      OK(ci_csr_spmm(A, X, B, Y1, 0));
      omp_set_num_threads(2);
      CHECK(memcmp(Y, Y1, sizeof(float) * nb) == 0, "B = %lld: blocked, 1 vs 2 threads differ",
            (long long)B);
      /* accumulate: Y1 = ref + A X */
      memcpy(Y1, ref, sizeof(float) * nb);
      OK(ci_csr_spmm(A, X, B, Y1, 1));
      for (int64_t k = 0; k < nb; k++) Y1[k] -= ref[k];
      CHECK(max_rel(Y1, ref, nb) < 1e-4, "B = %lld: blocked accumulate differs", (long long)B);
      /* the epilogue: each row once, when final */
      seen s = {calloc(N, sizeof(int32_t)), Y, B, 0, ref};
      OK(ci_csr_spmm_fused(A, X, B, Y, 0, epilogue, &s));
      int once = 1;
      for (int32_t i = 0; i < N; i++) once &= s.calls[i] == 1;
      CHECK(once && s.bad == 0, "B = %lld: epilogue not once per final row (%d early)",
            (long long)B, s.bad);
      free(s.calls);
    }
    /* prefetch distances: the same bits as the default */
    set("spmm_block_above", 0);
    const int64_t dists[] = {0, 1, 7, 1024};
    for (size_t q = 0; q < 4; q++) {
      set("spmm_prefetch", dists[q]);
      OK(ci_csr_spmm(A, X, B, Y, 0));
      CHECK(memcmp(Y, ref, sizeof(float) * nb) == 0, "B = %lld: prefetch %lld changes the product",
            (long long)B, (long long)dists[q]);
    }
    set("spmm_prefetch", 32);
    /* a mostly-zero operand (5 % of its rows): pushed through the transpose */
    ci_csr *At = NULL;
    OK(ci_csr_transpose(A, &At));
    for (int64_t j = 0; j < N; j++)
      if (j % 20) memset(X + j * B, 0, sizeof(float) * B);
    OK(ci_csr_spmm(A, X, B, ref, 0));
    CHECK(ci_csr_operand_is_sparse(A, X, B), "B = %lld: the operand is not seen as sparse",
          (long long)B);
    for (int acc = 0; acc < 2; acc++) {
      for (int64_t k = 0; k < nb; k++) Y[k] = Y1[k] = acc ? 1.0f : -7.0f;
      OK(ci_csr_spmm_by_operand(A, At, X, B, Y, acc));
      omp_set_num_threads(1);
      OK(ci_csr_spmm_by_operand(A, At, X, B, Y1, acc));
      omp_set_num_threads(2);
      CHECK(memcmp(Y, Y1, sizeof(float) * nb) == 0, "B = %lld: push, 1 vs 2 threads differ",
            (long long)B);
      for (int64_t k = 0; acc && k < nb; k++) Y[k] -= 1.0f;
      CHECK(max_rel(Y, ref, nb) < 1e-5, "B = %lld, accumulate %d: push differs from pull by %g",
            (long long)B, acc, max_rel(Y, ref, nb));
    }
    ci_csr_release(At);
    free(X); free(ref); free(Y); free(Y1);
  }
  int64_t v = -1;
  CHECK(ci_tune_set("no_such_knob", 1) == CI_EINVAL && strstr(ci_last_error(), "no_such_knob"),
        "unknown knob: %s", ci_last_error());
  CHECK(ci_tune_set("act_fused", 2) == CI_EINVAL && strstr(ci_last_error(), "out of range"),
        "range: %s", ci_last_error());
  CHECK(ci_tune_get("spmm_prefetch", &v) == CI_OK && v == 32, "get: %lld", (long long)v);
  ci_csr_release(A);
  return CHECK_SUMMARY();
}
