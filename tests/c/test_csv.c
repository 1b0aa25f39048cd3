/* test_csv.c: the C CSV reader: types, quoting, missing cells, errors with file
 * and line, gzip input, the sink and field quoting. Exits non-zero on failure. */
#include "cinterp.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;
#define CHECK(cond, ...) do { if (!(cond)) { failures++; \
  fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
  fprintf(stderr, __VA_ARGS__); fprintf(stderr, "\n"); } } while (0)

static int str_eq(const ci_csv_column *c, int64_t i, const char *want) {
  if (!want) return c->len[i] == -1;
  return c->len[i] == (int64_t)strlen(want) && memcmp(c->chars + c->off[i], want, strlen(want)) == 0;
}

static ci_csv_table *parse(const char *text, const ci_csv_options *o) {
  ci_csv_table *t = NULL;
  int rc = ci_csv_parse(text, strlen(text), "mem.csv", o, &t);
  CHECK(rc == CI_OK, "parse failed: %s", ci_last_error());
  return t;
}

static void expect_error(const char *text, const char *want) {
  ci_csv_table *t = NULL;
  int rc = ci_csv_parse(text, strlen(text), "bad.csv", NULL, &t);
  CHECK(rc == CI_EIO && t == NULL, "expected an error for [%s]", text);
  CHECK(strstr(ci_last_error(), want) != NULL, "message [%s] lacks [%s]", ci_last_error(), want);
}

int main(void) {
  /* types, quoting, missing cells */
  ci_csv_table *t = parse("a,b,c,d\n1,\"x,y\",2.5,\n-3,\"he said \"\"hi\"\"\",nan,7\n"
                          "1e3,\"two\nlines\",,\"\"\n", NULL);
  if (t) {
    CHECK(t->nrow == 3 && t->ncol == 4, "shape %lld x %d", (long long)t->nrow, t->ncol);
    CHECK(strcmp(t->cols[0].name, "a") == 0 && strcmp(t->cols[3].name, "d") == 0, "names");
    CHECK(t->cols[0].type == CI_CSV_NUM, "a numeric");
    CHECK(t->cols[0].num[0] == 1 && t->cols[0].num[1] == -3 && t->cols[0].num[2] == 1000, "a values");
    CHECK(t->cols[1].type == CI_CSV_STR, "b string");
    CHECK(str_eq(&t->cols[1], 0, "x,y"), "b[0]");
    CHECK(str_eq(&t->cols[1], 1, "he said \"hi\""), "b[1]");
    CHECK(str_eq(&t->cols[1], 2, "two\nlines"), "b[2]");
    CHECK(t->cols[2].type == CI_CSV_NUM && t->cols[2].num[0] == 2.5 && isnan(t->cols[2].num[1]) &&
          isnan(t->cols[2].num[2]), "c values");
    CHECK(t->cols[3].type == CI_CSV_NUM && isnan(t->cols[3].num[0]) && t->cols[3].num[1] == 7 &&
          isnan(t->cols[3].num[2]), "d values (quoted empty is missing in a numeric column)");
    ci_csv_free(t);
  }
  /* exact decimals (fast path vs strtod), big ids become strings, tsv, no header */
  t = parse("x\n0.1\n0.270577395577396\n123456789012345678\n", NULL);
  if (t) {
    CHECK(t->cols[0].type == CI_CSV_STR, "an 18-digit id makes the column a string column");
    CHECK(str_eq(&t->cols[0], 2, "123456789012345678"), "id kept exactly");
    ci_csv_free(t);
  }
  t = parse("x\n0.1\n0.270577395577396\n1.7976931348623157e308\n-0\ninf\n", NULL);
  if (t) {
    CHECK(t->cols[0].type == CI_CSV_NUM, "numeric");
    CHECK(t->cols[0].num[0] == 0.1 && t->cols[0].num[1] == strtod("0.270577395577396", NULL) &&
          t->cols[0].num[2] == 1.7976931348623157e308 && signbit(t->cols[0].num[3]) &&
          isinf(t->cols[0].num[4]), "values");
    ci_csv_free(t);
  }
  ci_csv_options o = {'\t', 0, NULL, 0};
  t = parse("1\ta b\n2\t\n", &o);
  if (t) {
    CHECK(t->nrow == 2 && t->ncol == 2 && strcmp(t->cols[1].name, "col2") == 0, "no header");
    CHECK(str_eq(&t->cols[1], 0, "a b") && str_eq(&t->cols[1], 1, NULL), "tsv strings");
    ci_csv_free(t);
  }
  const char *na[] = {"NA"};
  ci_csv_options o2 = {0, 1, na, 1};
  t = parse("a,b\nNA,NA\n2,x\n", &o2);
  if (t) {
    CHECK(t->cols[0].type == CI_CSV_NUM && isnan(t->cols[0].num[0]) && t->cols[0].num[1] == 2, "NA numeric");
    CHECK(str_eq(&t->cols[1], 0, NULL) && str_eq(&t->cols[1], 1, "x"), "NA string");
    ci_csv_free(t);
  }
  /* header only, blank lines, CRLF */
  t = parse("a,b\r\n", NULL);
  if (t) { CHECK(t->nrow == 0 && t->ncol == 2, "header only"); ci_csv_free(t); }
  t = parse("a,b\r\n1,2\r\n\r\n3,4\r\n", NULL);
  if (t) { CHECK(t->nrow == 2 && t->cols[1].num[1] == 4, "crlf + blank"); ci_csv_free(t); }

  /* errors */
  expect_error("", "bad.csv: empty file");
  expect_error("a,b,c,d\n1,2,3,4\n1,2,3,4,5\n", "bad.csv line 3: 5 fields, expected 4 (header has 4)");
  expect_error("a,b\n\"x\ny\",1\n\n3\n", "bad.csv line 5: 1 fields, expected 2");
  expect_error("a,b\n1,2\n3,\"ab\"x\n", "bad.csv line 3: malformed quoting in field 2");
  expect_error("a,b\n1,\"open\n", "end of file inside a quoted field");
  t = NULL;
  CHECK(ci_csv_read("/nonexistent/missing.csv", NULL, &t) == CI_EIO && t == NULL, "missing file");
  CHECK(strstr(ci_last_error(), "/nonexistent/missing.csv: No such file or directory") != NULL,
        "%s", ci_last_error());

  /* sink + gzip round trip, then a truncated gzip */
  const char *gz = "/tmp/ci_test_csv.csv.gz";
  ci_csv_sink *s = NULL;
  CHECK(ci_csv_sink_open(gz, 1, &s) == CI_OK, "%s", ci_last_error());
  if (s) {
    char line[64];
    ci_csv_sink_write(s, "k,v\n", 4);
    for (int i = 0; i < 20000; i++) {
      int n = snprintf(line, sizeof line, "%d,%d.5\n", i, i);
      ci_csv_sink_write(s, line, (size_t)n);
    }
    CHECK(ci_csv_sink_close(s) == CI_OK, "%s", ci_last_error());
    t = NULL;
    CHECK(ci_csv_read(gz, NULL, &t) == CI_OK, "%s", ci_last_error());
    if (t) {
      CHECK(t->nrow == 20000 && t->cols[1].num[19999] == 19999.5, "gzip read back");
      ci_csv_free(t);
    }
    FILE *f = fopen(gz, "rb");
    static char buf[1 << 20];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    f = fopen("/tmp/ci_test_trunc.csv", "wb");  /* gzip content, misleading name */
    if (f) { fwrite(buf, 1, n / 2, f); fclose(f); }
    t = NULL;
    CHECK(ci_csv_read("/tmp/ci_test_trunc.csv", NULL, &t) == CI_EIO && t == NULL, "truncated gzip");
    CHECK(strstr(ci_last_error(), "/tmp/ci_test_trunc.csv") != NULL, "%s", ci_last_error());
    remove(gz);
    remove("/tmp/ci_test_trunc.csv");
  }
  /* ci_csv_write round trip */
  {
    double nums[3] = {1.0, 0.1, NAN};
    const char *strs[3] = {"a,b", NULL, "q\"x"};
    int64_t lens[3] = {3, 0, 3};
    ci_csv_wcol wc[2] = {{"n", CI_CSV_NUM, nums, NULL, NULL}, {"s", CI_CSV_STR, NULL, strs, lens}};
    const char *wp = "/tmp/ci_test_write.csv";
    CHECK(ci_csv_write(wp, wc, 2, 3, ',', 1, 0) == CI_OK, "%s", ci_last_error());
    FILE *f = fopen(wp, "rb");
    char text[128] = {0};
    if (f) { size_t r = fread(text, 1, sizeof text - 1, f); text[r] = 0; fclose(f); }
    CHECK(strcmp(text, "n,s\n1,\"a,b\"\n0.1,\n,\"q\"\"x\"\n") == 0, "written: [%s]", text);
    t = NULL;
    CHECK(ci_csv_read(wp, NULL, &t) == CI_OK, "%s", ci_last_error());
    if (t) {
      CHECK(t->cols[0].num[1] == 0.1 && isnan(t->cols[0].num[2]), "n back");
      CHECK(str_eq(&t->cols[1], 0, "a,b") && str_eq(&t->cols[1], 1, NULL) &&
            str_eq(&t->cols[1], 2, "q\"x"), "s back");
      ci_csv_free(t);
    }
    remove(wp);
    CHECK(ci_csv_write("/nonexistent/d/x.csv", wc, 2, 3, ',', 1, 0) == CI_EIO, "bad path");
    CHECK(strcmp(ci_last_error(), "ci_csv_write: /nonexistent/d/x.csv: No such file or directory") == 0,
          "%s", ci_last_error());
  }
  /* quoting */
  char q[64];
  size_t n = ci_csv_quote(q, sizeof q, "a\"b,c", 5, ',');
  CHECK(n == 8 && memcmp(q, "\"a\"\"b,c\"", 8) == 0, "quote: %.*s", (int)n, q);
  n = ci_csv_quote(q, sizeof q, "plain", 5, ',');
  CHECK(n == 5 && memcmp(q, "plain", 5) == 0, "no quote");
  n = ci_csv_quote(q, sizeof q, "a,b", 3, '\t');
  CHECK(n == 3, "comma is fine in tsv");

  if (failures) { fprintf(stderr, "%d failures\n", failures); return 1; }
  puts("test_csv: all passed");
  return 0;
}
