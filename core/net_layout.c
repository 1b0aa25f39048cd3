/* net_layout.c: between the user's (B, n, L) tensors and the engine's L slabs
 * of n x B (neuron rows, batch innermost): the forward's output, the
 * backward's incoming gradient and grad_x. A transpose of this shape read or
 * written one element per cache line thrashes (each (b, i) touches L slabs,
 * each slab line B times over the whole pass), so it runs over blocks of rows
 * whose L slab pieces fit the first-level cache: each slab line is fetched
 * once, each (b, i) run of L floats written once. With a neuron order (the
 * engine's reordering) neuron j of the tensor is row inv[j] of the slabs: the
 * blocks then follow the tensor (its runs written in order, the slab rows
 * gathered, each read once per batch column while the block is in cache).
 * The input (B, S, L) and its gradient go to and from an (L, S, B) block the
 * same way (the step reads a sensory row's B columns contiguously). */
#include "net_internal.h"

/* Rows per block: the block's L slab pieces about 32 KiB. */
static int64_t block_rows(int64_t B, int32_t L) {
  const int64_t r = 8192 / (B * (L > 0 ? L : 1));
  return r < 8 ? 8 : r;
}

void cn_layout_copy(cn_slabs slabs, float *bnl, int64_t n, int64_t B, int32_t L,
                    const int32_t *inv, int to_bnl) {
  const int64_t R = block_rows(B, L);
#pragma omp parallel for schedule(static)
  for (int64_t j0 = 0; j0 < n; j0 += R) {
    const int64_t j1 = j0 + R < n ? j0 + R : n;
    for (int64_t b = 0; b < B; b++)
      for (int64_t j = j0; j < j1; j++) {
        float *run = bnl + (b * n + j) * L; /* (b, j, 0 .. L-1) */
        const int64_t at = (inv ? inv[j] : j) * B + b;
        if (to_bnl)
          for (int32_t t = 0; t < L; t++) run[t] = cn_slab(slabs, t)[at];
        else
          for (int32_t t = 0; t < L; t++) cn_slab(slabs, t)[at] = run[t];
      }
  }
}

void cn_input_to_lsb(const cn_state *st, const float *bsl, float *lsb) {
  const int64_t B = st->pass.B, S = st->pass.net->n_sensory, L = st->pass.L;
  for (int64_t b = 0; b < B; b++)
    for (int64_t s = 0; s < S; s++)
      for (int64_t t = 0; t < L; t++) lsb[(t * S + s) * B + b] = bsl[(b * S + s) * L + t];
}

void cn_input_add_to_bsl(const cn_state *st, const float *lsb, float *bsl) {
  const int64_t B = st->pass.B, S = st->pass.net->n_sensory, L = st->pass.L;
  for (int64_t b = 0; b < B; b++)
    for (int64_t s = 0; s < S; s++)
      for (int64_t t = 0; t < L; t++) bsl[(b * S + s) * L + t] += lsb[(t * S + s) * B + b];
}
