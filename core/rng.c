/* rng.c: the engine's one seedable random generator (xoshiro256**, seeded by splitmix64). */
#include "internal.h"

#include <math.h>

static uint64_t state[4] = {0x9E3779B97F4A7C15ull, 0xBF58476D1CE4E5B9ull,
                            0x94D049BB133111EBull, 0x2545F4914F6CDD1Dull};
static int have_spare;
static double spare;

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(void) {
  uint64_t result = rotl(state[1] * 5, 7) * 9;
  uint64_t t = state[1] << 17;
  state[2] ^= state[0];
  state[3] ^= state[1];
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = rotl(state[3], 45);
  return result;
}

void ci_manual_seed(uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) state[i] = splitmix64(&x);
  have_spare = 0;
}

double ci_rng_uniform(void) { return (double)(next_u64() >> 11) * 0x1.0p-53; }

double ci_rng_normal(void) {
  if (have_spare) { have_spare = 0; return spare; }
  double u, v, s;
  do {
    u = 2.0 * ci_rng_uniform() - 1.0;
    v = 2.0 * ci_rng_uniform() - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  double m = sqrt(-2.0 * log(s) / s);
  spare = v * m;
  have_spare = 1;
  return u * m;
}
