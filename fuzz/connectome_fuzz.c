/* connectome_fuzz.c: libFuzzer harness for the connectome loader: writes the
 * input to a temporary file and loads it with ci_connectome_read (default
 * columns pre, post, weight), then checks the returned matrix's invariants
 * (row pointers monotone, columns in range and sorted) and looks up every id. */
#include "cinterp.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!path[0]) {
    snprintf(path, sizeof path, "/tmp/ci_connectome_fuzz_%d.csv", (int)getpid());
  }
  FILE *f = fopen(path, "wb");
  if (!f) return 0;
  if (size) fwrite(data, 1, size, f);
  fclose(f);
  ci_connectome *c = NULL;
  ci_connectome_options o = {0};
  o.threshold = 0;
  ci_clear_error();
  int rc = ci_connectome_read(path, &o, &c);
  if (rc == CI_OK) {
    const ci_csr *m = c->inprop;
    if (m->nrows != c->n || m->ncols != c->n || m->rowptr[0] != 0 || m->rowptr[c->n] != c->nnz)
      __builtin_trap();
    for (int32_t i = 0; i < m->nrows; i++) {
      if (m->rowptr[i + 1] < m->rowptr[i]) __builtin_trap();
      for (int64_t e = m->rowptr[i]; e < m->rowptr[i + 1]; e++) {
        if (m->colidx[e] < 0 || m->colidx[e] >= m->ncols) __builtin_trap();
        if (e > m->rowptr[i] && m->colidx[e] <= m->colidx[e - 1]) __builtin_trap();
      }
    }
    for (int32_t i = 0; i < c->n; i++)
      if (ci_connectome_find(c, c->id_chars + c->id_off[i], (size_t)c->id_len[i]) != i)
        __builtin_trap();
    ci_connectome_free(c);
  } else if (ci_last_error()[0] == '\0') {
    __builtin_trap();
  }
  return 0;
}
