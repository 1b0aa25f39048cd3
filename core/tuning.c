/* tuning.c: the engine's performance knobs, one process-wide table with the
 * defaults `make bench` measured best on the benchmark machine (bench/README.md
 * says how to see each one's effect). They change speed only, never results
 * beyond float rounding: the same inputs give bitwise the same outputs for any
 * thread count under every setting. ci_tune_set / ci_tune_get (cinterp.h) read
 * and write them by name, for A/B measurements in one process. */
#include "internal.h"

#include <string.h>

ci_tuning ci_tune = {
    .act_fused = 0,
    .spmm_prefetch = 32,
    .spmm_prefetch_far = 64,
    .spmm_block_above = (int64_t)8 << 20,
    .spmm_block_bytes = (int64_t)4 << 20,
    .hugepages = 1,
};

typedef struct knob {
  const char *name;
  int64_t *value;
  int64_t lo, hi;
} knob;

static const knob KNOBS[] = {
    {"act_fused", &ci_tune.act_fused, 0, 1},
    {"spmm_prefetch", &ci_tune.spmm_prefetch, 0, 1024},
    {"spmm_prefetch_far", &ci_tune.spmm_prefetch_far, 0, 1024},
    {"spmm_block_above", &ci_tune.spmm_block_above, 0, INT64_MAX},
    {"spmm_block_bytes", &ci_tune.spmm_block_bytes, 4096, INT64_MAX},
    {"hugepages", &ci_tune.hugepages, 0, 1},
};
enum { NKNOBS = sizeof KNOBS / sizeof KNOBS[0] };

static const knob *find(const char *name) {
  for (int k = 0; name && k < NKNOBS; k++)
    if (strcmp(KNOBS[k].name, name) == 0) return &KNOBS[k];
  return NULL;
}

int ci_tune_set(const char *name, int64_t value) {
  const knob *k = find(name);
  if (!k)
    return ci_set_error(CI_EINVAL, "ci_tune_set: unknown knob '%s' (known: act_fused, "
                        "spmm_prefetch, spmm_prefetch_far, spmm_block_above, "
                        "spmm_block_bytes, hugepages)", name ? name : "(null)");
  if (value < k->lo || value > k->hi)
    return ci_set_error(CI_EINVAL, "ci_tune_set: %s = %lld is out of range %lld..%lld", name,
                        (long long)value, (long long)k->lo, (long long)k->hi);
  *k->value = value;
  return CI_OK;
}

int ci_tune_get(const char *name, int64_t *value) {
  const knob *k = find(name);
  if (!k || !value)
    return ci_set_error(CI_EINVAL, "ci_tune_get: unknown knob '%s'", name ? name : "(null)");
  *value = *k->value;
  return CI_OK;
}
