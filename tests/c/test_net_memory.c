/* test_net_memory.c: the network's memory follows the work. One large batch
 * (B = 64, forward and backward, 20,000 neurons, 10 layers) raises the
 * resident set by the state it needs; the passes of batch 1 that follow must
 * bring it back near where it was (the buffer pool keeps only buffers of the
 * current batch size, and big buffers go back to the system), not hold the
 * large batch's buffers for the network's lifetime. Reads VmRSS from
 * /proc/self/status. Under AddressSanitizer (make asan sets
 * CINTERP_SANITIZED) or valgrind, whose allocators keep freed memory, it
 * says so and checks nothing. Exits non-zero on failure. */
#include "check.h"
#include "cinterp.h"

#include <string.h>

enum { N = 20000, L = 10, BIG = 64 };
static const int64_t NNZ = 1000000;

/* Resident set size in MB. */
static double rss_mb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kb = -1;
  while (f && fgets(line, sizeof line, f))
    if (strncmp(line, "VmRSS:", 6) == 0) kb = atof(line + 6);
  if (f) fclose(f);
  return kb / 1024.0;
}

static ci_tensor *input_of(int64_t B, int32_t S) {
  int64_t shape[3] = {B, S, L};
  ci_tensor *u = NULL;
  OK(ci_tensor_rand(3, shape, &u));
  return u;
}

/* n_passes forwards of batch 1 without gradients. */
static void small_passes(ci_net *net, int32_t S, int n_passes) {
  for (int k = 0; k < n_passes; k++) {
    ci_tensor *u = input_of(1, S), *out = NULL;
    OK(ci_net_forward(net, u, NULL, 0, 0, &out));
    ci_tensor_release(out);
    ci_tensor_release(u);
  }
}

int main(void) {
  const char *preload = getenv("LD_PRELOAD");
  if (getenv("CINTERP_SANITIZED") || (preload && strstr(preload, "vgpreload"))) {
    printf("skipped: the resident set means nothing under a sanitizer or valgrind\n");
    return 0;
  }
  ci_manual_seed(5);
  ci_csr *w = NULL;
  OK(ci_random_connectome(N, NNZ, 20240601 + N, &w));
  const int32_t S = N / 20;
  int32_t *sensory = malloc(sizeof(int32_t) * S);
  OK(ci_random_sensory(N, S, 20240601 + N, sensory));
  ci_net_spec spec;
  memset(&spec, 0, sizeof spec);
  spec.kind = CI_NET_MULTILAYERED;
  spec.num_layers = L;
  spec.threshold = 0.01;
  spec.n_sensory = S;
  spec.sensory = sensory;
  spec.slope = 1;
  spec.bias = 0.05;
  spec.tau = 1;
  ci_net *net = NULL;
  OK(ci_net_new(w, &spec, &net));
  small_passes(net, S, 3); /* threads and the small pool warmed up */
  const double start = rss_mb();

  /* one large batch, forward and backward */
  ci_tensor *u = input_of(BIG, S), *go = NULL, *gi = NULL;
  int64_t gshape[3] = {BIG, N, L};
  OK(ci_tensor_full(3, gshape, 0.01, &go));
  OK(ci_net_vjp(net, u, NULL, 0, 0, go, &gi, NULL));
  const double peak = rss_mb();
  ci_tensor_release(gi);
  ci_tensor_release(go);
  ci_tensor_release(u);

  small_passes(net, S, 5);
  const double after = rss_mb();
  printf("VmRSS: %.1f MB at the start, %.1f MB after B = %d forward + backward, %.1f MB "
         "during the B = 1 passes that follow\n",
         start, peak, BIG, after);
  /* the large batch needs > 200 MB (about 24 slabs of 5 MB plus grad_out in
   * two layouts): the test would prove nothing if it did not show */
  CHECK(peak - start > 150, "the large batch raised VmRSS by %.1f MB only", peak - start);
  CHECK(after - start < 25, "VmRSS stays %.1f MB above the start after the large batch",
        after - start);

  ci_net_release(net);
  ci_csr_release(w);
  free(sensory);
  return CHECK_SUMMARY();
}
