/* profile.c: per-phase timers of the network engine on the CPU, for `make
 * bench`'s per-timestep breakdown. Off by default: then each phase costs one
 * test of a global flag and no clock is read. On (ci_profile_enable), the
 * master thread reads CLOCK_MONOTONIC around each phase (outside the parallel
 * loops) and adds the seconds here; nothing is allocated. Mode 2 reads the
 * calling thread's CPU time instead: with one OpenMP thread on a loaded
 * machine it leaves out the time spent waiting for a core. */
#include "internal.h"

#include <string.h>
#include <time.h>

int ci_prof_on = 0;
static ci_profile prof;
static clockid_t prof_clock = CLOCK_MONOTONIC;

double ci_prof_now(void) {
  struct timespec ts;
  clock_gettime(prof_clock, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void ci_prof_add(int phase, double t0) {
  const double dt = ci_prof_now() - t0;
  switch (phase) {
    case CI_PROF_FWD_PRODUCT: prof.fwd_product_s += dt; prof.fwd_steps++; break;
    case CI_PROF_FWD_ACTIVATION: prof.fwd_activation_s += dt; break;
    case CI_PROF_FWD_OUTPUT: prof.fwd_output_s += dt; break;
    case CI_PROF_FWD_TOTAL: prof.fwd_total_s += dt; prof.forwards++; break;
    case CI_PROF_BWD_ELEMENTWISE: prof.bwd_elementwise_s += dt; prof.bwd_steps++; break;
    case CI_PROF_BWD_PRODUCT: prof.bwd_product_s += dt; break;
    case CI_PROF_BWD_LAYOUT: prof.bwd_layout_s += dt; break;
    case CI_PROF_BWD_TOTAL: prof.bwd_total_s += dt; prof.backwards++; break;
    default: break;
  }
}

void ci_profile_enable(int on) {
  memset(&prof, 0, sizeof prof);
  ci_prof_on = on != 0;
  prof_clock = on == 2 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC;
}

void ci_profile_read(ci_profile *out) {
  if (out) *out = prof;
}
