/* reorder.c: neuron orders for locality. A real brain is organised in
 * neuropils: neurons connect mostly within their own. Numbered so that the
 * neurons of a neuropil sit together, the sparse product's rows gather from a
 * narrow band of X (cache lines and pages used many times before they leave);
 * numbered as the data come (ids in any order), every gather lands anywhere.
 * Reverse Cuthill-McKee finds such a numbering from the connections alone:
 * a breadth-first walk of the connection graph (both directions), from a
 * least-connected neuron, each neuron's unvisited neighbours taken least
 * connected first, the whole order reversed. A random graph has no such
 * structure and no order helps it: ci_csr_spread measures what an order gives
 * (the mean distance between the two ends of a connection), so the network's
 * reorder = "auto" can keep the data's own order when RCM does not shorten it. */
#include "csr_internal.h"

#include <string.h>

/* A square matrix and an order to fill; with mt, its transpose into *mt. */
static int order_args(const ci_csr *m, const int32_t *perm, ci_csr **mt, const char *where) {
  if (!m || !perm) return ci_set_error(CI_EINVAL, "%s: matrix and perm are required", where);
  if (m->nrows != m->ncols)
    return ci_set_error(CI_EINVAL, "%s: the matrix must be square, got %d x %d", where, m->nrows,
                        m->ncols);
  return mt ? ci_csr_transpose(m, mt) : CI_OK;
}

/* Connections at each neuron, in or out (self-connections count once each way). */
static void degrees(const ci_csr *m, const ci_csr *mt, int32_t *deg) {
  for (int32_t v = 0; v < m->nrows; v++)
    deg[v] = (int32_t)(m->rowptr[v + 1] - m->rowptr[v] + mt->rowptr[v + 1] - mt->rowptr[v]);
}

/* Sorts q[0 .. len) by deg ascending, ties by index (insertion sort: the
 * neighbours newly reached from one neuron, a short run). */
static void sort_by_degree(int32_t *q, int64_t len, const int32_t *deg) {
  for (int64_t a = 1; a < len; a++) {
    const int32_t v = q[a];
    int64_t b = a;
    while (b > 0 && (deg[q[b - 1]] > deg[v] || (deg[q[b - 1]] == deg[v] && q[b - 1] > v))) {
      q[b] = q[b - 1];
      b--;
    }
    q[b] = v;
  }
}

/* Appends the unvisited neighbours of u in row u of a (either direction). */
static int64_t reach(const ci_csr *a, int32_t u, uint8_t *seen, int32_t *order, int64_t tail) {
  for (int64_t e = a->rowptr[u]; e < a->rowptr[u + 1]; e++) {
    const int32_t j = a->colidx[e];
    if (!seen[j]) {
      seen[j] = 1;
      order[tail++] = j;
    }
  }
  return tail;
}

/* Cuthill-McKee into order[0 .. n): each connected part from its least
 * connected neuron (`starts`: every neuron by degree ascending). */
static void cuthill_mckee(const ci_csr *m, const ci_csr *mt, const int32_t *deg,
                          const int32_t *starts, uint8_t *seen, int32_t *order) {
  const int32_t n = m->nrows;
  int64_t head = 0, tail = 0;
  for (int32_t k = 0; k < n; k++) {
    const int32_t s = starts[k];
    if (seen[s]) continue;
    seen[s] = 1;
    order[tail++] = s;
    while (head < tail) {
      const int32_t u = order[head++];
      const int64_t first = tail;
      tail = reach(m, u, seen, order, tail);
      tail = reach(mt, u, seen, order, tail);
      sort_by_degree(order + first, tail - first, deg);
    }
  }
}

/* Every neuron by degree ascending (a counting sort: stable, so ties by index). */
static int by_degree(const int32_t *deg, int32_t n, int32_t *out) {
  int32_t maxd = 0;
  for (int32_t v = 0; v < n; v++) if (deg[v] > maxd) maxd = deg[v];
  int64_t *count = calloc((size_t)maxd + 2, sizeof(int64_t));
  if (!count) return ci_set_error(CI_ENOMEM, "ci_csr_rcm: out of memory");
  for (int32_t v = 0; v < n; v++) count[deg[v] + 1]++;
  for (int32_t d = 0; d <= maxd; d++) count[d + 1] += count[d];
  for (int32_t v = 0; v < n; v++) out[count[deg[v]]++] = v;
  free(count);
  return CI_OK;
}

int ci_csr_rcm(const ci_csr *m, int32_t *perm) {
  ci_csr *mt = NULL;
  int rc = order_args(m, perm, &mt, "ci_csr_rcm");
  if (rc) return rc;
  const int32_t n = m->nrows;
  int32_t *deg = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  int32_t *starts = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  int32_t *order = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  uint8_t *seen = calloc((size_t)(n ? n : 1), 1);
  if (!deg || !starts || !order || !seen) {
    rc = ci_set_error(CI_ENOMEM, "ci_csr_rcm: out of memory for %d neurons", n);
  } else {
    degrees(m, mt, deg);
    if (!(rc = by_degree(deg, n, starts))) {
      cuthill_mckee(m, mt, deg, starts, seen, order);
      for (int32_t k = 0; k < n; k++) perm[k] = order[n - 1 - k]; /* reversed */
    }
  }
  free(deg); free(starts); free(order); free(seen);
  ci_csr_release(mt);
  return rc;
}

/* ---------- clusters by label propagation ---------- */

/* The label most frequent among v's partners (both directions; ties: v's own
 * label if it is among the most frequent, else the smallest), counted in the
 * open-addressing table key/count of cap slots (cap a power of two above
 * twice v's partners), left empty again. */
static int32_t vote(const ci_csr *m, const ci_csr *mt, int32_t v, const int32_t *label,
                    int32_t *key, int32_t *count, int64_t cap) {
  const ci_csr *sides[2] = {m, mt};
  int32_t best = label[v], best_n = 0;
  for (int s = 0; s < 2; s++)
    for (int64_t e = sides[s]->rowptr[v]; e < sides[s]->rowptr[v + 1]; e++) {
      const int32_t l = label[sides[s]->colidx[e]];
      int64_t h = ((uint32_t)l * 2654435761u) & (cap - 1);
      while (key[h] >= 0 && key[h] != l) h = (h + 1) & (cap - 1);
      key[h] = l;
      const int32_t c = ++count[h];
      const int tie_wins = l != best && (l == label[v] || (best != label[v] && l < best));
      if (c > best_n || (c == best_n && tie_wins)) {
        best = l;
        best_n = c;
      }
    }
  for (int s = 0; s < 2; s++) /* empty the table: the slots this vote used */
    for (int64_t e = sides[s]->rowptr[v]; e < sides[s]->rowptr[v + 1]; e++) {
      int64_t h = ((uint32_t)label[sides[s]->colidx[e]] * 2654435761u) & (cap - 1);
      while (key[h] >= 0) { key[h] = -1; count[h] = 0; h = (h + 1) & (cap - 1); }
    }
  return best_n ? best : label[v];
}

/* Label propagation: sweeps over the neurons in order, each taking its vote
 * at once, until fewer than 1 in 1000 change (at most 30 sweeps). */
static int propagate(const ci_csr *m, const ci_csr *mt, int32_t *label) {
  const int32_t n = m->nrows;
  int64_t maxdeg = 0;
  for (int32_t v = 0; v < n; v++) {
    const int64_t d = m->rowptr[v + 1] - m->rowptr[v] + mt->rowptr[v + 1] - mt->rowptr[v];
    if (d > maxdeg) maxdeg = d;
  }
  int64_t cap = 16;
  while (cap < 2 * maxdeg + 2) cap *= 2;
  int32_t *key = malloc(sizeof(int32_t) * (size_t)cap);
  int32_t *count = calloc((size_t)cap, sizeof(int32_t));
  if (!key || !count) {
    free(key);
    free(count);
    return ci_set_error(CI_ENOMEM, "ci_csr_clusters: out of memory");
  }
  for (int64_t h = 0; h < cap; h++) key[h] = -1;
  for (int32_t v = 0; v < n; v++) label[v] = v;
  for (int sweep = 0; sweep < 30; sweep++) {
    int64_t changed = 0;
    for (int32_t v = 0; v < n; v++) {
      const int32_t l = vote(m, mt, v, label, key, count, cap);
      changed += l != label[v];
      label[v] = l;
    }
    if (changed * 1000 < n) break;
  }
  free(key);
  free(count);
  return CI_OK;
}

int ci_csr_clusters(const ci_csr *m, int32_t *perm) {
  ci_csr *mt = NULL;
  int rc = order_args(m, perm, &mt, "ci_csr_clusters");
  if (rc) return rc;
  const int32_t n = m->nrows;
  int32_t *label = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  int64_t *start = calloc((size_t)n + 1, sizeof(int64_t));
  if (!label || !start) rc = ci_set_error(CI_ENOMEM, "ci_csr_clusters: out of memory");
  if (!rc) rc = propagate(m, mt, label);
  if (!rc) { /* block by block (a label is a neuron index), in index order within */
    for (int32_t v = 0; v < n; v++) start[label[v] + 1]++;
    for (int32_t l = 0; l < n; l++) start[l + 1] += start[l];
    for (int32_t v = 0; v < n; v++) perm[start[label[v]]++] = v;
  }
  free(label);
  free(start);
  ci_csr_release(mt);
  return rc;
}

/* inv[perm[k]] = k, checking that perm is a permutation of 0 .. n-1. */
static int inverse_of(const int32_t *perm, int32_t n, int32_t *inv, const char *where) {
  for (int32_t k = 0; k < n; k++) inv[k] = -1;
  for (int32_t k = 0; k < n; k++) {
    const int32_t v = perm[k];
    if (v < 0 || v >= n || inv[v] >= 0)
      return ci_set_error(CI_EINVAL, "%s: perm is not a permutation of 0..%d (perm[%d] = %d)",
                          where, n - 1, k, v);
    inv[v] = k;
  }
  return CI_OK;
}

static int cmp_u64(const void *a, const void *b) {
  const uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return (x > y) - (x < y);
}

/* Row a of p = row perm[a] of m, its columns renumbered by inv and sorted
 * (keys: new column << 32 | position in the row). */
static void permute_row(const ci_csr *m, const int32_t *perm, const int32_t *inv, ci_csr *p,
                        int32_t a, uint64_t *keys) {
  const int64_t src = m->rowptr[perm[a]], len = m->rowptr[perm[a] + 1] - src;
  for (int64_t e = 0; e < len; e++)
    keys[e] = (uint64_t)(uint32_t)inv[m->colidx[src + e]] << 32 | (uint64_t)e;
  qsort(keys, (size_t)len, sizeof *keys, cmp_u64);
  int32_t *c = p->colidx + p->rowptr[a];
  float *v = p->vals + p->rowptr[a];
  for (int64_t e = 0; e < len; e++) {
    c[e] = (int32_t)(keys[e] >> 32);
    v[e] = m->vals[src + (int64_t)(keys[e] & 0xffffffffu)];
  }
}

int ci_csr_permuted(const ci_csr *m, const int32_t *perm, ci_csr **out) {
  const char *where = "ci_csr_permuted";
  if (!out) return ci_set_error(CI_EINVAL, "%s: out is NULL", where);
  *out = NULL;
  int rc = order_args(m, perm, NULL, where);
  if (rc) return rc;
  const int32_t n = m->nrows;
  int32_t *inv = malloc(sizeof(int32_t) * (size_t)(n ? n : 1));
  if (!inv) return ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  rc = inverse_of(perm, n, inv, where);
  ci_csr *p = NULL;
  if (!rc) rc = ci_csr_alloc(n, n, m->nnz, &p, where);
  int64_t longest = 0;
  for (int32_t a = 0; !rc && a < n; a++) { /* row a = old row perm[a] */
    const int64_t len = m->rowptr[perm[a] + 1] - m->rowptr[perm[a]];
    p->rowptr[a + 1] = p->rowptr[a] + len;
    if (len > longest) longest = len;
  }
  int failed = 0;
  if (!rc) {
#pragma omp parallel reduction(| : failed)
    {
      uint64_t *keys = malloc(sizeof(uint64_t) * (size_t)(longest ? longest : 1));
      failed = !keys;
#pragma omp for schedule(dynamic, 256)
      for (int32_t a = 0; a < n; a++)
        if (keys) permute_row(m, perm, inv, p, a, keys);
      free(keys);
    }
    if (failed) rc = ci_set_error(CI_ENOMEM, "%s: out of memory", where);
  }
  free(inv);
  if (rc) {
    ci_csr_release(p);
    return rc;
  }
  *out = p;
  return CI_OK;
}

double ci_csr_spread(const ci_csr *m, const int32_t *perm) {
  if (!m || m->nrows != m->ncols || m->nnz == 0) return 0.0;
  const int32_t n = m->nrows;
  int32_t *inv = NULL;
  if (perm) {
    inv = malloc(sizeof(int32_t) * (size_t)n);
    if (!inv || inverse_of(perm, n, inv, "ci_csr_spread")) {
      free(inv);
      return -1.0;
    }
  }
  double sum = 0.0;
#pragma omp parallel for reduction(+ : sum) schedule(static)
  for (int32_t i = 0; i < n; i++) {
    const int64_t pi = inv ? inv[i] : i;
    for (int64_t e = m->rowptr[i]; e < m->rowptr[i + 1]; e++) {
      const int64_t pj = inv ? inv[m->colidx[e]] : m->colidx[e];
      sum += (double)(pi > pj ? pi - pj : pj - pi);
    }
  }
  free(inv);
  return sum / (double)m->nnz / (double)n;
}
