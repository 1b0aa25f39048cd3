/* csv_fuzz.c: libFuzzer harness for the CSV reader: parses the input bytes with
 * ci_csv_parse (header on, then off with na_values and '\t'), walks every cell
 * of the table it returns, and frees it. A crash, leak or sanitizer report is a bug. */
#include "cinterp.h"

#include <stddef.h>
#include <stdint.h>

static void walk(const ci_csv_table *t) {
  volatile double acc = 0;
  for (int32_t j = 0; j < t->ncol; j++) {
    const ci_csv_column *c = &t->cols[j];
    for (const char *p = c->name; *p; p++) acc += *p;
    for (int64_t i = 0; i < t->nrow; i++) {
      if (c->type == CI_CSV_NUM) acc += c->num[i];
      else if (c->len[i] > 0) acc += c->chars[c->off[i] + c->len[i] - 1];
    }
  }
  (void)acc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  ci_csv_table *t = NULL;
  ci_clear_error();
  if (ci_csv_parse((const char *)data, size, "fuzz.csv", NULL, &t) == CI_OK) {
    walk(t);
    ci_csv_free(t);
  } else if (ci_last_error()[0] == '\0') {
    __builtin_trap(); /* an error must come with a message */
  }
  const char *na[] = {"NA", ""};
  ci_csv_options o = {'\t', 0, na, 2};
  t = NULL;
  if (ci_csv_parse((const char *)data, size, "fuzz.tsv", &o, &t) == CI_OK) {
    walk(t);
    ci_csv_free(t);
  }
  return 0;
}
