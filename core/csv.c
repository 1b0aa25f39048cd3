/* csv.c: CSV tables: the reader (libcsv callbacks filling per-column arenas,
 * plain or gzip input through zlib, type inference, errors with file + line)
 * and a buffered plain/gzip byte sink plus RFC 4180 field quoting for writers. */
#include "internal.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define CHUNK (4u << 20)            /* bytes read per call */
#define TWO53 9007199254740992.0    /* integers beyond this are not all exact */

/* ---------------------------------------------------------------- sources */

/* Input: a gzip/plain file through zlib (gzread passes plain files through),
 * or a buffer in memory. */
typedef struct {
  gzFile gz;
  const char *mem;
  size_t memlen, mempos;
  const char *name;
} source;

static int source_open(source *src, const char *path) {
  memset(src, 0, sizeof *src);
  src->name = path;
  errno = 0;
  src->gz = gzopen(path, "rb");
  if (!src->gz) {
    return ci_set_error(CI_EIO, "ci_csv_read: %s: %s", path,
                        errno ? strerror(errno) : "cannot open");
  }
  gzbuffer(src->gz, 1u << 20);
  return CI_OK;
}

/* Reads up to cap bytes; returns the count (0 at the end) or -1 with the error set. */
static long source_read(source *src, char *buf, size_t cap) {
  if (!src->gz) {
    size_t n = src->memlen - src->mempos;
    if (n > cap) n = cap;
    memcpy(buf, src->mem + src->mempos, n);
    src->mempos += n;
    return (long)n;
  }
  int n = gzread(src->gz, buf, (unsigned)cap);
  int errnum = Z_OK;
  const char *msg = gzerror(src->gz, &errnum);
  if (n < 0 || (errnum != Z_OK && errnum != Z_STREAM_END)) {
    if (errnum == Z_ERRNO) msg = strerror(errno);
    ci_set_error(CI_EIO, "ci_csv_read: %s: %s%s", src->name,
                 gzdirect(src->gz) ? "" : "gzip data: ",
                 errnum == Z_BUF_ERROR ? "unexpected end of file (truncated?)" : msg);
    return -1;
  }
  return n;
}

static void source_close(source *src) {
  if (src->gz) gzclose(src->gz);
  src->gz = NULL;
}

static int source_reopen(source *src) {
  if (!src->gz) { src->mempos = 0; return CI_OK; }
  return gzrewind(src->gz) == 0 ? CI_OK : CI_EIO;
}

/* Line (1-based) where record `rec` (0-based, blank lines not counted) starts,
 * or, with rec < 0, the line holding byte `pos`. Rescans the input: only used
 * on the error path. Returns 0 when it cannot tell. */
static int64_t locate_line(source *src, char *buf, int64_t rec, int64_t pos) {
  if (source_reopen(src) != CI_OK) return 0;
  int64_t line = 1, seen = 0, at = 0;
  int in_record = 0, in_quote = 0;
  long n;
  while ((n = source_read(src, buf, CHUNK)) > 0) {
    for (long i = 0; i < n; i++, at++) {
      char c = buf[i];
      if (rec < 0 && at == pos) return line;
      if (!in_record) {
        if (c == '\n') { line++; continue; }
        if (c == '\r') continue;
        if (rec >= 0 && seen == rec) return line;
        in_record = 1;
        seen++;
      }
      if (c == '"') in_quote = !in_quote;
      else if (c == '\n') { line++; if (!in_quote) in_record = 0; }
      else if (c == '\r' && !in_quote) in_record = 0;
    }
  }
  return rec < 0 ? line : 0;
}

/* ---------------------------------------------------------------- parsing */

/* A column being read. While every non-empty cell is a number it keeps the
 * numbers alone (8 bytes a cell); a text column keeps its bytes, offsets and
 * lengths. A numeric column whose cell k > 0 turns out to be text after a
 * number (or a quoted empty string) has lost the text of cells 0..k-1: it is
 * marked lost, and once the pass ends the source is read once more with every
 * lost column read as text from the start (pstate.text_cols). At most two
 * passes, the second only for such files; every numeric column is spared two
 * thirds of its memory (a 15-million-row edge table: 360 MB of offsets and
 * lengths). Cells that were all missing before the first text need no second
 * pass: they become missing text cells. */
typedef struct {
  char *chars;            /* string arena (text columns) */
  size_t clen, ccap;
  int64_t *off, *len;     /* per cell (text columns) */
  double *num;            /* per cell (numeric columns) */
  size_t cap;             /* cells allocated */
  int numeric;            /* 1 while every non-empty cell was a number */
  int had_value;          /* numeric: a number or a quoted empty string seen */
  int lost;               /* turned to text too late: read again in the next pass */
} colbuf;

typedef struct {
  colbuf *cols;
  char **names;
  int32_t ncol, capcols;
  int64_t nrow;           /* data rows completed */
  int64_t rec;            /* records completed (header included) */
  int64_t field;          /* fields seen in the current record */
  int header;
  const ci_csv_options *opts;
  int err;                /* first error code raised inside a callback */
  int64_t bad_rec, bad_fields;
  int64_t long_field;     /* > 0: the length of a field over CI_CSV_MAX_FIELD */
  const unsigned char *text_cols; /* [ncol_known]: columns known to be text (from the pass before) */
  int32_t ncol_known;
} pstate;

/* The longest field a table may hold: well under what a Lua string can be. */
#define CI_CSV_MAX_FIELD ((size_t)1 << 30)

static int grow(void **p, size_t *cap, size_t need, size_t elem) {
  if (need <= *cap) return 0;
  size_t nc = *cap ? *cap : 1024;
  while (nc < need) {
    if (nc > SIZE_MAX / 2) return -1;
    nc *= 2;
  }
  size_t bytes;
  if (ci_mul_size(nc, elem, &bytes)) return -1;
  void *q = realloc(*p, bytes);
  if (!q) return -1;
  *p = q;
  *cap = nc;
  return 0;
}

/* Grows a column's per-cell arrays: num while numeric, else off and len. */
static int grow_cells(colbuf *c, size_t need) {
  size_t nc = c->cap ? c->cap : 1024;
  while (nc < need) {
    if (nc > SIZE_MAX / 16) return -1;
    nc *= 2;
  }
  size_t bytes;
  if (ci_mul_size(nc, sizeof(int64_t), &bytes)) return -1;
  if (c->numeric) {
    double *v = realloc(c->num, bytes);
    if (!v) return -1;
    c->num = v;
  } else {
    int64_t *o = realloc(c->off, bytes);
    if (!o) return -1;
    c->off = o;
    int64_t *l = realloc(c->len, bytes);
    if (!l) return -1;
    c->len = l;
  }
  c->cap = nc;
  return 0;
}

/* A numeric column becomes text at cell `cell`, its cells before it all
 * missing; or, with lost, stops keeping anything until the next pass. */
static int column_to_text(colbuf *c, size_t cell, int lost) {
  free(c->num);
  c->num = NULL;
  c->cap = 0;
  c->numeric = 0;
  c->lost = lost;
  if (lost || grow_cells(c, cell + 1)) return lost ? 0 : -1;
  for (size_t k = 0; k < cell; k++) {
    c->off[k] = 0;
    c->len[k] = -1;
  }
  return 0;
}

static const double pow10_tab[23] = {
  1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
  1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Parses s (NUL-terminated, n bytes) as a number. Returns 1 and sets *v when the
 * whole text is a number, 0 otherwise; *big = 1 for an integer literal that
 * 2^53 does not bound. Fast exact path for short decimals (Clinger), strtod
 * for the rest. */
static int parse_number(const char *s, size_t n, double *v, int *big) {
  *big = 0;
  const char *p = s, *end = s + n;
  int neg = 0;
  if (p < end && (*p == '-' || *p == '+')) { neg = *p == '-'; p++; }
  uint64_t m = 0;
  int digits = 0, frac = 0, dot = 0;
  const char *q = p;
  for (; q < end; q++) {
    char c = *q;
    if (c >= '0' && c <= '9') {
      if (digits < 19) { m = m * 10 + (uint64_t)(c - '0'); if (m) digits++; }
      else { digits = 99; }
      if (dot) frac++;
    } else if (c == '.' && !dot) {
      dot = 1;
    } else {
      break;
    }
  }
  if (q == end && q > p && !(dot && q == p + 1) && digits <= 15 && frac <= 22) {
    double d = (double)m / pow10_tab[frac];
    *v = neg ? -d : d;
    return 1;
  }
  /* general path */
  if (memchr(s, 'x', n) || memchr(s, 'X', n)) return 0;
  char *e = NULL;
  double d = strtod(s, &e);
  if (e == s) return 0;
  while (e < end && (*e == ' ' || *e == '\t')) e++;
  if (e != end) return 0;
  if (q == end && !dot && fabs(d) > TWO53) *big = 1;
  *v = d;
  return 1;
}

static int is_na(const pstate *st, const char *s, size_t len) {
  for (int32_t i = 0; i < st->opts->n_na; i++) {
    const char *na = st->opts->na_values[i];
    if (na && strlen(na) == len && memcmp(na, s, len) == 0) return 1;
  }
  return 0;
}

static int add_column(pstate *st) {
  if (st->ncol == st->capcols) {
    int32_t nc = st->capcols ? st->capcols * 2 : 16;
    if (nc > (1 << 24)) return -1;
    colbuf *c = realloc(st->cols, (size_t)nc * sizeof *c);
    if (!c) return -1;
    st->cols = c;
    char **nm = realloc(st->names, (size_t)nc * sizeof *nm);
    if (!nm) return -1;
    st->names = nm;
    st->capcols = nc;
  }
  memset(&st->cols[st->ncol], 0, sizeof(colbuf));
  st->cols[st->ncol].numeric = !(st->ncol < st->ncol_known && st->text_cols[st->ncol]);
  st->names[st->ncol] = NULL;
  st->ncol++;
  return 0;
}

static void on_field(void *sv, size_t len, void *data) {
  pstate *st = data;
  const char *s = sv;
  if (st->err) return;
  if (len > CI_CSV_MAX_FIELD) {
    st->err = CI_EIO;
    st->bad_rec = st->rec;
    st->bad_fields = st->field + 1;
    st->long_field = (int64_t)len;
    return;
  }
  int64_t j = st->field++;
  if (st->rec == 0) {                       /* first record: defines the columns */
    if (add_column(st)) { st->err = CI_ENOMEM; return; }
    if (st->header) {
      char *nm;
      if (!s || len == 0) {
        nm = malloc(32);
        if (nm) snprintf(nm, 32, "col%lld", (long long)j + 1);
      } else {
        nm = malloc(len + 1);
        if (nm) { memcpy(nm, s, len); nm[len] = '\0'; }
      }
      if (!nm) { st->err = CI_ENOMEM; return; }
      st->names[j] = nm;
      return;
    }
  }
  if (j >= st->ncol) return;                /* ragged: reported at the row end */
  colbuf *c = &st->cols[j];
  if (c->lost) return;
  size_t cell = (size_t)st->nrow;
  if (cell >= c->cap && grow_cells(c, cell + 1)) { st->err = CI_ENOMEM; return; }
  int missing = !s || (st->opts->n_na > 0 && is_na(st, s, len));
  if (missing || len == 0) {             /* missing, or a quoted empty string */
    if (c->numeric) {
      c->num[cell] = NAN;
      if (!missing) c->had_value = 1;
    } else {
      c->off[cell] = (int64_t)c->clen;
      c->len[cell] = missing ? -1 : 0;
    }
    return;
  }
  if (c->numeric) {
    double v;
    int big;
    if (parse_number(s, len, &v, &big) && !big) {
      c->num[cell] = v;
      c->had_value = 1;
      return;
    }
    const int lost = c->had_value; /* the text of cells 0..cell-1 is gone */
    if (column_to_text(c, cell, lost)) { st->err = CI_ENOMEM; return; }
    if (lost) return;
  }
  if (grow((void **)&c->chars, &c->ccap, c->clen + len, 1)) { st->err = CI_ENOMEM; return; }
  memcpy(c->chars + c->clen, s, len);
  c->off[cell] = (int64_t)c->clen;
  c->len[cell] = (int64_t)len;
  c->clen += len;
}

static void on_row(int term, void *data) {
  pstate *st = data;
  if (st->err) return;
  if (st->rec > 0 || !st->header) {
    if (st->field != st->ncol) {
      st->err = CI_EIO;
      st->bad_rec = st->rec;
      st->bad_fields = st->field;
      return;
    }
    st->nrow++;
  }
  st->rec++;
  st->field = 0;
}

static void free_state(pstate *st) {
  for (int32_t j = 0; j < st->ncol; j++) {
    colbuf *c = &st->cols[j];
    free(c->chars); free(c->off); free(c->len); free(c->num);
    free(st->names[j]);
  }
  free(st->cols);
  free(st->names);
}

void ci_csv_free(ci_csv_table *t) {
  if (!t) return;
  for (int32_t j = 0; j < t->ncol; j++) {
    ci_csv_column *c = &t->cols[j];
    free(c->name); free(c->num); free(c->chars); free(c->off); free(c->len);
  }
  free(t->cols);
  free(t);
}

static int space_none(unsigned char c) { (void)c; return 0; }

static int has_suffix(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

/* Moves the parse state into a table; on success st's buffers belong to *out. */
static int build_table(pstate *st, ci_csv_table **out) {
  ci_csv_table *t = calloc(1, sizeof *t);
  if (!t) return ci_set_error(CI_ENOMEM, "ci_csv_read: out of memory");
  t->cols = calloc((size_t)st->ncol ? (size_t)st->ncol : 1, sizeof *t->cols);
  if (!t->cols) { free(t); return ci_set_error(CI_ENOMEM, "ci_csv_read: out of memory"); }
  t->nrow = st->nrow;
  t->ncol = st->ncol;
  for (int32_t j = 0; j < st->ncol; j++) {
    colbuf *c = &st->cols[j];
    ci_csv_column *d = &t->cols[j];
    if (!st->names[j]) {
      st->names[j] = malloc(32);
      if (!st->names[j]) { ci_csv_free(t); return ci_set_error(CI_ENOMEM, "ci_csv_read: out of memory"); }
      snprintf(st->names[j], 32, "col%d", (int)j + 1);
    }
    d->name = st->names[j];
    st->names[j] = NULL;
    if (c->numeric) {
      d->type = CI_CSV_NUM;
      d->num = c->num;
      c->num = NULL;
    } else {
      d->type = CI_CSV_STR;
      d->chars = c->chars; d->off = c->off; d->len = c->len;
      c->chars = NULL; c->off = NULL; c->len = NULL;
    }
  }
  *out = t;
  return CI_OK;
}

/* The parser for the options: the separator (from the file name when not
 * given: tab for .tsv / .tab, else comma) and the NA list checked. */
static int parser_init(struct csv_parser *p, const char *name, const ci_csv_options *opts) {
  char sep = opts->sep;
  if (sep == 0)
    sep = (has_suffix(name, ".tsv") || has_suffix(name, ".tsv.gz") ||
           has_suffix(name, ".tab") || has_suffix(name, ".tab.gz")) ? '\t' : ',';
  if (sep == '"' || sep == '\n' || sep == '\r')
    return ci_set_error(CI_EINVAL, "ci_csv_read: sep must not be a quote or a newline");
  if (opts->n_na < 0 || (opts->n_na > 0 && !opts->na_values))
    return ci_set_error(CI_EINVAL, "ci_csv_read: na_values is NULL with n_na = %d", (int)opts->n_na);
  if (csv_init(p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL | CSV_EMPTY_IS_NULL) != 0)
    return ci_set_error(CI_ENOMEM, "ci_csv_read: out of memory");
  csv_set_delim(p, (unsigned char)sep);
  csv_set_space_func(p, space_none);
  csv_set_blk_size(p, 1024);
  return CI_OK;
}

/* Feeds the whole source to the parser, CHUNK bytes at a time (the first
 * loses its UTF-8 byte-order mark); stops at the first error of the
 * callbacks (left in st) or of the parser (returned). */
static int feed_source(source *src, struct csv_parser *p, pstate *st, char *buf) {
  int64_t total = 0; /* bytes fed before this chunk */
  long n;
  for (int first = 1; (n = source_read(src, buf, CHUNK)) > 0; first = 0) {
    const char *data = buf;
    size_t len = (size_t)n;
    if (first && len >= 3 && (unsigned char)data[0] == 0xEF && (unsigned char)data[1] == 0xBB &&
        (unsigned char)data[2] == 0xBF) {
      data += 3; len -= 3; total += 3;
    }
    const size_t used = csv_parse(p, data, len, on_field, on_row, st);
    if (st->err) return CI_OK;
    if (used != len) {
      const int64_t line = locate_line(src, buf, -1, total + (int64_t)used);
      if (csv_error(p) == CSV_EPARSE)
        return ci_set_error(CI_EIO, "ci_csv_read: %s line %lld: malformed quoting in field %lld "
                            "(a quote inside an unquoted field, or text after a closing quote)",
                            src->name, (long long)line, (long long)st->field + 1);
      return ci_set_error(CI_ENOMEM, "ci_csv_read: %s: %s", src->name, csv_strerror(csv_error(p)));
    }
    total += (int64_t)n;
  }
  return n < 0 ? CI_EIO : CI_OK; /* the source set the message */
}

/* After the whole source: the last record, then what the callbacks found
 * wrong (out of memory, a field too long, a row with another field count),
 * or a file without records. */
static int parse_end(source *src, struct csv_parser *p, pstate *st, char *buf) {
  const char *name = src->name;
  if (!st->err && csv_fini(p, on_field, on_row, st) != 0)
    return ci_set_error(CI_EIO, "ci_csv_read: %s line %lld: end of file inside a quoted field "
                        "(field %lld): a closing quote is missing", name,
                        (long long)locate_line(src, buf, st->rec, 0), (long long)st->field + 1);
  if (st->err == CI_ENOMEM) return ci_set_error(CI_ENOMEM, "ci_csv_read: %s: out of memory", name);
  if (st->err && st->long_field > 0)
    return ci_set_error(CI_EIO, "ci_csv_read: %s line %lld: field %lld is %lld bytes long, more "
                        "than the %lld a field may hold", name,
                        (long long)locate_line(src, buf, st->bad_rec, 0), (long long)st->bad_fields,
                        (long long)st->long_field, (long long)CI_CSV_MAX_FIELD);
  if (st->err)
    return ci_set_error(CI_EIO, "ci_csv_read: %s line %lld: %lld fields, expected %d (%s has %d)",
                        name, (long long)locate_line(src, buf, st->bad_rec, 0),
                        (long long)st->bad_fields, (int)st->ncol,
                        st->header ? "header" : "first row", (int)st->ncol);
  if (st->rec == 0)
    return ci_set_error(CI_EIO, "ci_csv_read: %s: empty file (no %s)", name,
                        st->header ? "header row" : "records");
  return CI_OK;
}

/* One pass over the source with the columns of text_cols read as text. When
 * a column was lost (see colbuf), *again is set, text_cols (grown to the
 * columns) marks it, and no table is made: the caller reads the source again. */
static int parse_pass(source *src, const ci_csv_options *opts, unsigned char **text_cols,
                      int32_t *ncol_known, int *again, ci_csv_table **out) {
  struct csv_parser p;
  *again = 0;
  int rc = parser_init(&p, src->name, opts);
  if (rc) return rc;
  pstate st;
  memset(&st, 0, sizeof st);
  st.header = opts->header != 0;
  st.opts = opts;
  st.text_cols = *text_cols;
  st.ncol_known = *ncol_known;
  char *buf = malloc(CHUNK);
  if (!buf) rc = ci_set_error(CI_ENOMEM, "ci_csv_read: out of memory");
  if (!rc) rc = feed_source(src, &p, &st, buf);
  if (!rc) rc = parse_end(src, &p, &st, buf);
  for (int32_t j = 0; !rc && j < st.ncol; j++) {
    if (!st.cols[j].lost) continue;
    if (j >= *ncol_known) {
      unsigned char *t = realloc(*text_cols, (size_t)st.ncol);
      if (!t) { rc = ci_set_error(CI_ENOMEM, "ci_csv_read: out of memory"); break; }
      memset(t + *ncol_known, 0, (size_t)(st.ncol - *ncol_known));
      *text_cols = t;
      *ncol_known = st.ncol;
    }
    (*text_cols)[j] = 1;
    *again = 1;
  }
  if (!rc && !*again) rc = build_table(&st, out);
  free(buf);
  csv_free(&p);
  free_state(&st);
  return rc;
}

static int run_parse(source *src, const ci_csv_options *opts_in, ci_csv_table **out) {
  ci_csv_options defaults = {0, 1, NULL, 0};
  const ci_csv_options *opts = opts_in ? opts_in : &defaults;
  unsigned char *text_cols = NULL;
  int32_t ncol_known = 0;
  int again;
  int rc = parse_pass(src, opts, &text_cols, &ncol_known, &again, out);
  if (!rc && again) { /* the lost columns now read as text from the start: none is lost again */
    if (source_reopen(src) != CI_OK)
      rc = ci_set_error(CI_EIO, "ci_csv_read: %s: cannot read it a second time", src->name);
    else
      rc = parse_pass(src, opts, &text_cols, &ncol_known, &again, out);
  }
  free(text_cols);
  return rc;
}

int ci_csv_read(const char *path, const ci_csv_options *opts, ci_csv_table **out) {
  if (!out) return ci_set_error(CI_EINVAL, "ci_csv_read: out is NULL");
  *out = NULL;
  if (!path) return ci_set_error(CI_EINVAL, "ci_csv_read: path is NULL");
  source src;
  int rc = source_open(&src, path);
  if (rc != CI_OK) return rc;
  rc = run_parse(&src, opts, out);
  source_close(&src);
  return rc;
}

int ci_csv_parse(const char *text, size_t len, const char *name,
                 const ci_csv_options *opts, ci_csv_table **out) {
  if (!out) return ci_set_error(CI_EINVAL, "ci_csv_parse: out is NULL");
  *out = NULL;
  if (!text && len > 0) return ci_set_error(CI_EINVAL, "ci_csv_parse: text is NULL");
  source src;
  memset(&src, 0, sizeof src);
  src.mem = text ? text : "";
  src.memlen = len;
  src.name = name ? name : "<string>";
  return run_parse(&src, opts, out);
}

/* ---------------------------------------------------------------- writing */

struct ci_csv_sink {
  FILE *fp;
  gzFile gz;
  char *path;
  int failed;
};

int ci_csv_sink_open(const char *path, int32_t gzip, ci_csv_sink **out) {
  if (!out) return ci_set_error(CI_EINVAL, "ci_csv_sink_open: out is NULL");
  *out = NULL;
  if (!path) return ci_set_error(CI_EINVAL, "ci_csv_sink_open: path is NULL");
  ci_csv_sink *s = calloc(1, sizeof *s);
  if (!s) return ci_set_error(CI_ENOMEM, "ci_csv_sink_open: out of memory");
  s->path = strdup(path);
  if (!s->path) { free(s); return ci_set_error(CI_ENOMEM, "ci_csv_sink_open: out of memory"); }
  errno = 0;
  if (gzip) {
    s->gz = gzopen(path, "wb6");
    if (s->gz) gzbuffer(s->gz, 1u << 20);
  } else {
    s->fp = fopen(path, "wb");
    if (s->fp) setvbuf(s->fp, NULL, _IOFBF, 1u << 20);
  }
  if (!s->gz && !s->fp) {
    int rc = ci_set_error(CI_EIO, "ci_csv_sink_open: %s: %s", path,
                          errno ? strerror(errno) : "cannot open");
    free(s->path);
    free(s);
    return rc;
  }
  *out = s;
  return CI_OK;
}

int ci_csv_sink_write(ci_csv_sink *s, const char *buf, size_t len) {
  if (!s) return ci_set_error(CI_EINVAL, "ci_csv_sink_write: sink is NULL");
  if (s->failed) return ci_set_error(CI_EIO, "ci_csv_sink_write: %s: an earlier write failed", s->path);
  while (len > 0) {
    size_t part = len > (1u << 30) ? (1u << 30) : len;
    int ok;
    if (s->gz) ok = gzwrite(s->gz, buf, (unsigned)part) == (int)part;
    else ok = fwrite(buf, 1, part, s->fp) == part;
    if (!ok) {
      s->failed = 1;
      return ci_set_error(CI_EIO, "ci_csv_sink_write: %s: %s", s->path,
                          errno ? strerror(errno) : "write failed");
    }
    buf += part;
    len -= part;
  }
  return CI_OK;
}

int ci_csv_sink_close(ci_csv_sink *s) {
  if (!s) return CI_OK;
  int rc = CI_OK;
  errno = 0;
  if (s->gz) {
    if (gzclose(s->gz) != Z_OK) rc = CI_EIO;
  } else if (s->fp) {
    if (fclose(s->fp) != 0) rc = CI_EIO;
  }
  if (rc == CI_OK && s->failed) rc = CI_EIO;
  if (rc != CI_OK)
    ci_set_error(CI_EIO, "ci_csv_sink_close: %s: %s", s->path,
                 errno ? strerror(errno) : "write failed");
  free(s->path);
  free(s);
  return rc;
}

size_t ci_csv_quote(char *dst, size_t cap, const char *src, size_t len, char sep) {
  int need = 0;
  if (len > 0 && (src[0] == ' ' || src[len - 1] == ' ' || src[0] == '\t' || src[len - 1] == '\t'))
    need = 1;
  for (size_t i = 0; i < len && !need; i++) {
    char c = src[i];
    if (c == sep || c == '"' || c == '\n' || c == '\r') need = 1;
  }
  if (!need) {
    if (len <= cap) memcpy(dst, src, len);
    return len;
  }
  return csv_write(dst, cap, src, len);
}

/* Appends v's text: integers exactly, others %.15g or %.17g (round trip). */
static size_t format_number(char *dst, double v) {
  if (v != v) return 0;
  if (v == floor(v) && fabs(v) < 1e15) {
    char tmp[24];
    int64_t x = (int64_t)v;
    int neg = x < 0 || (x == 0 && signbit(v));
    uint64_t u = x < 0 ? (uint64_t)(-x) : (uint64_t)x;
    size_t n = 0;
    do { tmp[n++] = (char)('0' + u % 10); u /= 10; } while (u);
    size_t k = 0;
    if (neg) dst[k++] = '-';
    while (n) dst[k++] = tmp[--n];
    return k;
  }
  int n = snprintf(dst, 32, "%.15g", v);
  if (strtod(dst, NULL) != v) n = snprintf(dst, 32, "%.17g", v);
  /* an all-digit text beyond 2^53 would read back as an id (a string column) */
  if (fabs(v) > TWO53 && strspn(dst, "-0123456789") == (size_t)n)
    n = snprintf(dst, 32, "%.16e", v);
  return (size_t)n;
}

static int needs_quote(const char *s, size_t len, char sep) {
  if (len == 0) return 0;
  if (s[0] == ' ' || s[0] == '\t' || s[len - 1] == ' ' || s[len - 1] == '\t') return 1;
  for (size_t i = 0; i < len; i++) {
    char c = s[i];
    if (c == sep || c == '"' || c == '\n' || c == '\r') return 1;
  }
  return 0;
}

typedef struct {
  ci_csv_sink *sink;
  char *buf;
  size_t len, cap;
} wbuf;

static int wflush(wbuf *w) {
  int rc = ci_csv_sink_write(w->sink, w->buf, w->len);
  w->len = 0;
  return rc;
}

/* Makes room for n more bytes (n may exceed the buffer: then it grows). */
static int wroom(wbuf *w, size_t n) {
  if (w->len + n <= w->cap) return CI_OK;
  if (w->len && wflush(w) != CI_OK) return CI_EIO;
  if (n > w->cap) {
    char *b = realloc(w->buf, n);
    if (!b) return ci_set_error(CI_ENOMEM, "ci_csv_write: out of memory");
    w->buf = b;
    w->cap = n;
  }
  return CI_OK;
}

static int wfield(wbuf *w, const char *s, size_t len, char sep) {
  if (!needs_quote(s, len, sep)) {
    if (wroom(w, len)) return CI_EIO;
    memcpy(w->buf + w->len, s, len);
    w->len += len;
    return CI_OK;
  }
  size_t need;
  if (ci_mul_size(len, 2, &need) || need > SIZE_MAX - 2) return ci_set_error(CI_ENOMEM, "ci_csv_write: field too long");
  if (wroom(w, need + 2)) return CI_EIO;
  w->len += csv_write(w->buf + w->len, w->cap - w->len, s, len);
  return CI_OK;
}

int ci_csv_write(const char *path, const ci_csv_wcol *cols, int32_t ncol, int64_t nrow,
                 char sep, int32_t header, int32_t gzip) {
  if (!path) return ci_set_error(CI_EINVAL, "ci_csv_write: path is NULL");
  if (ncol < 0 || nrow < 0 || (ncol > 0 && !cols))
    return ci_set_error(CI_EINVAL, "ci_csv_write: bad table (ncol %d, nrow %lld)", (int)ncol,
                        (long long)nrow);
  if (sep == 0) sep = ',';
  if (sep == '"' || sep == '\n' || sep == '\r')
    return ci_set_error(CI_EINVAL, "ci_csv_write: sep must not be a quote or a newline");
  for (int32_t j = 0; j < ncol; j++) {
    const ci_csv_wcol *c = &cols[j];
    if (!c->name) return ci_set_error(CI_EINVAL, "ci_csv_write: column %d has no name", (int)j + 1);
    if (nrow > 0 && ((c->type == CI_CSV_NUM && !c->num) ||
                     (c->type == CI_CSV_STR && (!c->str || !c->slen)) ||
                     (c->type != CI_CSV_NUM && c->type != CI_CSV_STR)))
      return ci_set_error(CI_EINVAL, "ci_csv_write: column '%s' has no data of its type", c->name);
  }
  wbuf w = {NULL, NULL, 0, 1u << 20};
  w.buf = malloc(w.cap);
  if (!w.buf) return ci_set_error(CI_ENOMEM, "ci_csv_write: out of memory");
  int rc = ci_csv_sink_open(path, gzip, &w.sink);
  if (rc == CI_OK && header && ncol > 0) {
    for (int32_t j = 0; j < ncol && rc == CI_OK; j++) {
      if (j && (rc = wroom(&w, 1)) == CI_OK) w.buf[w.len++] = sep;
      if (rc == CI_OK) rc = wfield(&w, cols[j].name, strlen(cols[j].name), sep);
    }
    if (rc == CI_OK && (rc = wroom(&w, 1)) == CI_OK) w.buf[w.len++] = '\n';
  }
  for (int64_t i = 0; i < nrow && rc == CI_OK; i++) {
    for (int32_t j = 0; j < ncol && rc == CI_OK; j++) {
      const ci_csv_wcol *c = &cols[j];
      if ((rc = wroom(&w, 40)) != CI_OK) break;
      if (j) w.buf[w.len++] = sep;
      if (c->type == CI_CSV_NUM) {
        w.len += format_number(w.buf + w.len, c->num[i]);
      } else if (c->str[i]) {
        rc = wfield(&w, c->str[i], (size_t)c->slen[i], sep);
      }
    }
    /* a lone empty field would make a blank line, which readers skip: quote it */
    if (rc == CI_OK && ncol == 1 &&
        (cols[0].type == CI_CSV_NUM ? cols[0].num[i] != cols[0].num[i]
                                    : (!cols[0].str[i] || cols[0].slen[i] == 0))) {
      memcpy(w.buf + w.len, "\"\"", 2);   /* room: the 40 bytes reserved above */
      w.len += 2;
    }
    if (rc == CI_OK && (rc = wroom(&w, 1)) == CI_OK) w.buf[w.len++] = '\n';
  }
  if (rc == CI_OK && w.len) rc = wflush(&w);
  if (w.sink) {
    int crc = ci_csv_sink_close(w.sink);
    if (rc == CI_OK) rc = crc;
  }
  free(w.buf);
  if (rc != CI_OK) {
    const char *m = ci_last_error();
    const char *p = strstr(m, ": ");
    char tmp[1024];
    snprintf(tmp, sizeof tmp, "%s", p && strncmp(m, "ci_csv_sink", 11) == 0 ? p + 2 : m);
    ci_set_error(rc, "ci_csv_write: %s", tmp);
  }
  return rc;
}
