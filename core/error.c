/* error.c: the engine's thread-local last-error message and status helpers. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static _Thread_local char last_error[1024];

const char *ci_last_error(void) { return last_error; }

void ci_clear_error(void) { last_error[0] = '\0'; }

const char *ci_version(void) { return CI_VERSION_STRING; }

int ci_set_error(int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(last_error, sizeof last_error, fmt, ap);
  va_end(ap);
  return code;
}

int ci_num_threads(void) {
#ifdef _OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void ci_set_num_threads(int n) {
#ifdef _OPENMP
  if (n >= 1) omp_set_num_threads(n);
#else
  (void)n;
#endif
}
