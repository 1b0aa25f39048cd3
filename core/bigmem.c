/* bigmem.c: big buffers straight from the system (mmap), so that freeing them
 * really returns their pages whatever malloc's heuristics. A buffer that the
 * sparse product gathers from at random (the network's state slabs,
 * net_pool.c) is, with ci_tune.hugepages, aligned to
 * 2 MiB and marked for transparent huge pages (madvise), so that the gather
 * misses the TLB far less; one about to be written whole (a tensor, tensor.c)
 * is populated by the mmap itself, which in a VM costs far less than a fault
 * per 4 KiB page (huge pages there only cost: zeroing them, compaction). */
#include "internal.h"

#include <stdint.h>
#include <sys/mman.h>

#define HUGE_BYTES ((size_t)2 << 20)

#define PAGE_BYTES ((size_t)4096)

/* Whole 4 KiB pages: a buffer just over a multiple of 2 MiB keeps its tail in
 * small pages rather than a whole huge page (up to 2 MiB each of the ~25 state
 * slabs of a pass would otherwise sit unused). */
size_t ci_big_len(size_t bytes) { return (bytes + PAGE_BYTES - 1) & ~(PAGE_BYTES - 1); }

void *ci_big_alloc(size_t bytes, int use) {
  const size_t len = ci_big_len(bytes);
  if (len < bytes) return NULL; /* overflow */
  const int huge = use == CI_BIG_GATHERED && ci_tune.hugepages && bytes >= HUGE_BYTES;
  const size_t extra = huge ? HUGE_BYTES : 0;
  const int populate = use == CI_BIG_WRITTEN ? MAP_POPULATE : 0;
  char *m = mmap(NULL, len + extra, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | populate, -1, 0);
  if (m == MAP_FAILED) return NULL;
  if (!huge) return m;
  char *a = (char *)(((uintptr_t)m + HUGE_BYTES - 1) & ~(uintptr_t)(HUGE_BYTES - 1));
  if (a > m) munmap(m, (size_t)(a - m));
  if (m + extra > a) munmap(a + len, (size_t)(m + extra - a));
  madvise(a, len, MADV_HUGEPAGE); /* advice only: without THP the pages stay small */
  return a;
}

void ci_big_free(void *p, size_t bytes) {
  if (p) munmap(p, ci_big_len(bytes));
}
