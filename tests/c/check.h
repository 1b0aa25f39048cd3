/* check.h: what the C tests share: CHECK (count a check, report a failure
 * with a printf-style message and go on), OK (an engine call that must
 * succeed, else stop), and an independent random generator (splitmix64) so
 * that the tests do not depend on the engine's own. Each test includes it
 * once and ends with CHECK_SUMMARY(). */
#ifndef CI_TESTS_CHECK_H
#define CI_TESTS_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static int failures = 0, checks = 0;

#define CHECK(cond, ...)                                              \
  do {                                                                \
    checks++;                                                         \
    if (!(cond)) {                                                    \
      failures++;                                                     \
      printf("FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);          \
      printf(__VA_ARGS__);                                            \
      printf("\n");                                                   \
    }                                                                 \
  } while (0)

#define OK(call)                                                                  \
  do {                                                                            \
    if ((call) != CI_OK) {                                                        \
      printf("FAIL %s:%d: %s: %s\n", __FILE__, __LINE__, #call, ci_last_error()); \
      exit(1);                                                                    \
    }                                                                             \
  } while (0)

/* Prints the counts; the exit status of main. */
#define CHECK_SUMMARY() (printf("%d checks, %d failures\n", checks, failures), failures ? 1 : 0)

static uint64_t rs = 12345;
static inline uint64_t rnext(void) {
  uint64_t z = (rs += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}
/* Uniform in [0, 1). */
static inline double runif(void) { return (rnext() >> 11) * (1.0 / 9007199254740992.0); }

#endif
