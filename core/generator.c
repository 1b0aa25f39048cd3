/* generator.c: the seeded random connectome generator of the benchmark, with
 * the statistics of ../shared/bench/REFERENCE.md: lognormal in-degrees scaled
 * to the target number of connections, presynaptic partners uniform at random,
 * lognormal synapse counts, duplicates merged, rows normalised to sum 1, 30 %
 * of presynaptic neurons inhibitory; sensory neurons 5 % drawn uniformly.
 * ci_brain_connectome draws the same statistics with neuropil-like locality:
 * the neurons fall into blocks of lognormal sizes (neuropils) on a ring, a
 * partner comes from the neuron's own block with probability p_local, from one
 * of the two blocks either side with p_near, else from anywhere; then the
 * neurons are renumbered at random, as data ids come (bench/README.md). */
#include "internal.h"

#include <math.h>
#include <string.h>

typedef struct { uint64_t s[4]; } gen_rng;

static uint64_t gen_next(gen_rng *r) {
  uint64_t *s = r->s;
  uint64_t result = ((s[1] * 5) << 7 | (s[1] * 5) >> 57) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t;
  s[3] = (s[3] << 45) | (s[3] >> 19);
  return result;
}

static void gen_seed(gen_rng *r, uint64_t seed) {
  for (int i = 0; i < 4; i++) {
    uint64_t z = (seed += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    r->s[i] = z ^ (z >> 31);
  }
}

static double gen_uniform(gen_rng *r) { return (double)(gen_next(r) >> 11) * 0x1.0p-53; }

static double gen_normal(gen_rng *r) {
  double u1 = gen_uniform(r), u2 = gen_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300;
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

static int cmp_i32(const void *a, const void *b) {
  int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
  return (x > y) - (x < y);
}

/* In-degrees k_i = round(r_i / sum(r) * nnz), r_i = exp(normal), clamped to
 * 1..n-1, as row offsets: rowptr[i + 1] = rowptr[i] + k_i. */
static int draw_in_degrees(gen_rng *r, int32_t n, int64_t nnz, int64_t *rowptr) {
  double *deg = malloc(sizeof(double) * (size_t)n);
  if (!deg) return -1;
  double total = 0;
  for (int32_t i = 0; i < n; i++) { deg[i] = exp(gen_normal(r)); total += deg[i]; }
  for (int32_t i = 0; i < n; i++) {
    double k = floor(deg[i] / total * (double)nnz + 0.5);
    if (k < 1) k = 1;
    if (k > n - 1) k = n - 1;
    rowptr[i + 1] = rowptr[i] + (int64_t)k;
  }
  free(deg);
  return 0;
}

/* Blocks of neurons (neuropils) and where partners come from; NULL: uniform. */
typedef struct gen_blocks {
  int32_t nblocks;
  const int32_t *block_of;  /* neuron -> block */
  const int32_t *start;     /* nblocks + 1: block c is neurons start[c] .. start[c + 1] - 1 */
  double p_local, p_near;
} gen_blocks;

/* A presynaptic partner of neuron i. */
static int32_t draw_partner(gen_rng *r, int32_t n, int32_t i, const gen_blocks *g) {
  if (!g) return (int32_t)(gen_next(r) % (uint64_t)n);
  const double u = gen_uniform(r);
  int32_t c = g->block_of[i];
  if (u >= g->p_local + g->p_near) return (int32_t)(gen_next(r) % (uint64_t)n);
  if (u >= g->p_local) { /* a block at distance 1 or 2 on the ring, either side */
    const int32_t step = (int32_t)(gen_next(r) % 4);
    c = (c + (step < 2 ? 1 + step : g->nblocks - (step - 1))) % g->nblocks;
  }
  const int32_t size = g->start[c + 1] - g->start[c];
  return g->start[c] + (int32_t)(gen_next(r) % (uint64_t)size);
}

/* Row by row: k_i presynaptic partners (sorted), a count per partner drawn
 * in that order, duplicates merged, weights = count / the row's total times
 * the partner's sign. rowptr (the degrees on entry) becomes the CSR's;
 * returns the nonzeros written, -1 when out of memory. */
static int64_t draw_rows(gen_rng *r, int32_t n, int64_t *rowptr, const float *sign,
                         const gen_blocks *g, int32_t *col, float *val) {
  int64_t maxk = 0;
  for (int32_t i = 0; i < n; i++)
    if (rowptr[i + 1] - rowptr[i] > maxk) maxk = rowptr[i + 1] - rowptr[i];
  double *cnt = malloc(sizeof(double) * (size_t)(maxk ? maxk : 1));
  int32_t *tmp = malloc(sizeof(int32_t) * (size_t)(maxk ? maxk : 1));
  if (!cnt || !tmp) { free(cnt); free(tmp); return -1; }
  int64_t w = 0, start = 0;
  for (int32_t i = 0; i < n; i++) {
    const int64_t k = rowptr[i + 1] - start;
    for (int64_t e = 0; e < k; e++) tmp[e] = draw_partner(r, n, i, g);
    qsort(tmp, (size_t)k, sizeof(int32_t), cmp_i32);
    const int64_t row0 = w;
    int64_t m = 0;
    double sum = 0;
    for (int64_t e = 0; e < k; e++) {
      const double c = exp(gen_normal(r));
      sum += c;
      if (m > 0 && col[w - 1] == tmp[e]) { cnt[m - 1] += c; continue; }
      col[w] = tmp[e]; cnt[m] = c; w++; m++;
    }
    for (int64_t e = 0; e < m; e++) val[row0 + e] = (float)(cnt[e] / sum) * sign[col[row0 + e]];
    start = rowptr[i + 1];
    rowptr[i + 1] = w;
  }
  free(tmp);
  free(cnt);
  return w;
}

/* The generator's arguments. */
static int check_size(int32_t n, int64_t nnz, ci_csr **out, const char *where) {
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  if (n < 2) return ci_set_error(CI_EINVAL, "%s: n = %d, expected >= 2", where, n);
  if (nnz < 1 || nnz > (int64_t)INT32_MAX)
    return ci_set_error(CI_EINVAL, "%s: nnz = %lld is out of range 1..%d", where,
                        (long long)nnz, INT32_MAX);
  return CI_OK;
}

/* The connectome with partners drawn as g says (NULL: uniform). */
static int generate(int32_t n, int64_t nnz, uint64_t seed, const gen_blocks *g, ci_csr **out,
                    const char *where) {
  gen_rng r;
  gen_seed(&r, seed);
  int64_t *rowptr = calloc((size_t)n + 1, sizeof(int64_t));
  int32_t *col = NULL;
  float *val = NULL, *sign = NULL;
  ci_csr *m = NULL;
  int64_t w = -1;
  if (rowptr && draw_in_degrees(&r, n, nnz, rowptr) == 0) {
    col = malloc(sizeof(int32_t) * (size_t)rowptr[n]);
    val = malloc(sizeof(float) * (size_t)rowptr[n]);
    sign = malloc(sizeof(float) * (size_t)n);
  }
  if (col && val && sign) {
    for (int32_t j = 0; j < n; j++) sign[j] = gen_uniform(&r) < 0.3 ? -1.0f : 1.0f;
    w = draw_rows(&r, n, rowptr, sign, g, col, val);
  }
  free(sign);
  if (w >= 0) m = calloc(1, sizeof *m);
  if (!m) {
    free(rowptr); free(col); free(val);
    return ci_set_error(CI_ENOMEM, "%s: out of memory for %lld connections", where, (long long)nnz);
  }
  /* the arrays become the matrix's, shrunk to the nonzeros kept */
  int32_t *c2 = realloc(col, sizeof(int32_t) * (size_t)(w ? w : 1));
  float *v2 = realloc(val, sizeof(float) * (size_t)(w ? w : 1));
  m->nrows = m->ncols = n;
  m->nnz = w;
  m->rowptr = rowptr;
  m->colidx = c2 ? c2 : col;
  m->vals = v2 ? v2 : val;
  m->refcount = 1;
  *out = m;
  return CI_OK;
}

int ci_random_connectome(int32_t n, int64_t nnz, uint64_t seed, ci_csr **out) {
  const char *where = "ci_random_connectome";
  const int rc = check_size(n, nnz, out, where);
  return rc ? rc : generate(n, nnz, seed, NULL, out, where);
}

/* nblocks blocks of lognormal(0, 0.5) sizes (each >= 1) covering the n
 * neurons in order: g's arrays (block_of: n, start: nblocks + 1) filled;
 * block c starts at c + (n - nblocks) times the share of the blocks before it. */
static int draw_blocks(gen_rng *r, int32_t n, gen_blocks *g, int32_t *block_of, int32_t *start) {
  double *size = malloc(sizeof(double) * (size_t)g->nblocks), total = 0, before = 0;
  if (!size) return -1;
  for (int32_t c = 0; c < g->nblocks; c++) total += (size[c] = exp(0.5 * gen_normal(r)));
  for (int32_t c = 0; c <= g->nblocks; c++) {
    start[c] = c == g->nblocks ? n : c + (int32_t)floor(before / total * (n - g->nblocks));
    if (c < g->nblocks) before += size[c];
  }
  for (int32_t c = 0; c < g->nblocks; c++)
    for (int32_t i = start[c]; i < start[c + 1]; i++) block_of[i] = c;
  free(size);
  g->block_of = block_of;
  g->start = start;
  return 0;
}

int ci_brain_connectome(int32_t n, int64_t nnz, int32_t nblocks, double p_local, double p_near,
                        uint64_t seed, ci_csr **out) {
  const char *where = "ci_brain_connectome";
  int rc = check_size(n, nnz, out, where);
  if (rc) return rc;
  if (nblocks < 1 || nblocks > n)
    return ci_set_error(CI_EINVAL, "%s: blocks = %d is out of range 1..%d", where, nblocks, n);
  if (!(p_local >= 0 && p_near >= 0 && p_local + p_near <= 1))
    return ci_set_error(CI_EINVAL, "%s: p_local = %g and p_near = %g must be >= 0 with a sum "
                        "<= 1", where, p_local, p_near);
  gen_rng r;
  gen_seed(&r, seed ^ 0xB4A1Bull);
  gen_blocks g = {nblocks, NULL, NULL, p_local, p_near};
  int32_t *block_of = malloc(sizeof(int32_t) * (size_t)n);
  int32_t *start = malloc(sizeof(int32_t) * ((size_t)nblocks + 1));
  int32_t *ids = malloc(sizeof(int32_t) * (size_t)n);
  ci_csr *ordered = NULL;
  if (!block_of || !start || !ids) rc = ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  if (!rc && draw_blocks(&r, n, &g, block_of, start))
    rc = ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  if (!rc) rc = generate(n, nnz, seed, &g, &ordered, where);
  if (!rc) { /* the neurons renumbered at random: ids[new] = neuron in block order */
    for (int32_t i = 0; i < n; i++) ids[i] = i;
    for (int32_t i = n - 1; i > 0; i--) {
      const int32_t j = (int32_t)(gen_next(&r) % (uint64_t)(i + 1)), t = ids[i];
      ids[i] = ids[j];
      ids[j] = t;
    }
    rc = ci_csr_permuted(ordered, ids, out);
  }
  ci_csr_release(ordered);
  free(block_of); free(start); free(ids);
  return rc;
}

int ci_random_sensory(int32_t n, int32_t count, uint64_t seed, int32_t *out) {
  if (!out || count < 0 || count > n)
    return ci_set_error(CI_EINVAL, "ci_random_sensory: count = %d is out of range 0..%d", count, n);
  gen_rng r;
  gen_seed(&r, seed ^ 0x5EED5EEDull);
  int32_t *perm = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!perm) return ci_set_error(CI_ENOMEM, "ci_random_sensory: out of memory");
  for (int32_t i = 0; i < n; i++) perm[i] = i;
  for (int32_t i = 0; i < count; i++) {
    int32_t j = i + (int32_t)(gen_next(&r) % (uint64_t)(n - i));
    int32_t t = perm[i]; perm[i] = perm[j]; perm[j] = t;
  }
  memcpy(out, perm, sizeof(int32_t) * (size_t)count);
  free(perm);
  qsort(out, (size_t)count, sizeof(int32_t), cmp_i32);
  return CI_OK;
}
