/* connectome.c: real connectomes in: streams an edge table (pre id, post id,
 * synapse count; plain or gzip CSV through zlib + libcsv) and optionally a
 * neuron table's id column, hashes the ids (as their exact text) to 0-based
 * indices, sums duplicate (pre, post) pairs, drops pairs below a threshold,
 * and builds inprop (CSR, pre in rows, each post column divided by that
 * neuron's total input). Memory: the edges are kept as one COO triple array
 * (12 bytes a row), sorted into rows in place (an in-place counting sort), so
 * the peak stays near the size of the final CSR arrays. */
#include "csr_internal.h"

#include <csv.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <zlib.h>

#define WHERE "ci_connectome_read"
#define CHUNK (1u << 20)

/* ---------------------------------------------------------------- id index */

/* Interned ids: bytes back to back in an arena, an open-addressing hash of
 * 0-based indices (-1 empty), capacity a power of two, load <= 1/2. */
typedef struct {
  char *chars;
  size_t nchars, capchars;
  int64_t *off, *len;
  int32_t n, capn;
  uint64_t *slots;         /* (hash >> 32) << 32 | (index + 1); 0 = empty */
  uint64_t mask;
} idindex;

static inline uint64_t mix64(uint64_t h) {
  h ^= h >> 33; h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53ull;
  return h ^ (h >> 33);
}

/* 8 bytes at a time, then a murmur3 finaliser */
static uint64_t hash_bytes(const char *s, size_t n) {
  uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0x100000001b3ull;
    h ^= h >> 29;
    s += 8; n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0x100000001b3ull;
  }
  return mix64(h);
}

static void idx_free(idindex *x) {
  free(x->chars); free(x->off); free(x->len); free(x->slots);
  memset(x, 0, sizeof *x);
}

static int idx_init(idindex *x) {
  memset(x, 0, sizeof *x);
  x->mask = 1023;
  x->slots = calloc(1024, sizeof *x->slots);
  if (!x->slots) return -1;
  return 0;
}

static int32_t idx_find_h(const idindex *x, const char *s, size_t n, uint64_t hv) {
  uint64_t h = hv & x->mask, tag = hv >> 32;
  for (;;) {
    uint64_t e = x->slots[h];
    if (e == 0) return -1;
    if ((e >> 32) == tag) {
      int32_t k = (int32_t)(uint32_t)e - 1;
      if ((size_t)x->len[k] == n && memcmp(x->chars + x->off[k], s, n) == 0) return k;
    }
    h = (h + 1) & x->mask;
  }
}

static int32_t idx_find(const idindex *x, const char *s, size_t n) {
  return idx_find_h(x, s, n, hash_bytes(s, n));
}

static int idx_rehash(idindex *x) {
  uint64_t cap = (x->mask + 1) * 2;
  if (cap > ((uint64_t)1 << 33)) return -1;
  uint64_t *s = calloc(cap, sizeof *s);
  if (!s) return -1;
  for (uint64_t i = 0; i <= x->mask; i++) {
    uint64_t e = x->slots[i];
    if (!e) continue;
    int32_t k = (int32_t)(uint32_t)e - 1;
    uint64_t hv = hash_bytes(x->chars + x->off[k], (size_t)x->len[k]);
    uint64_t h = hv & (cap - 1);
    while (s[h]) h = (h + 1) & (cap - 1);
    s[h] = e;
  }
  free(x->slots);
  x->slots = s;
  x->mask = cap - 1;
  return 0;
}

/* Adds id s (must be absent); returns its index or -1 (out of memory / too many). */
static int32_t idx_add(idindex *x, const char *s, size_t n) {
  if (x->n == INT32_MAX - 1) return -1;
  if (x->n >= x->capn) {
    int32_t cap = x->capn ? (x->capn > INT32_MAX / 2 ? INT32_MAX - 1 : x->capn * 2) : 1024;
    int64_t *o = realloc(x->off, (size_t)cap * sizeof *o);
    if (!o) return -1;
    x->off = o;
    int64_t *l = realloc(x->len, (size_t)cap * sizeof *l);
    if (!l) return -1;
    x->len = l;
    x->capn = cap;
  }
  if (x->nchars + n + 1 > x->capchars) {
    size_t cap = x->capchars ? x->capchars : 4096;
    while (cap < x->nchars + n + 1) {
      if (cap > SIZE_MAX / 2) return -1;
      cap *= 2;
    }
    char *c = realloc(x->chars, cap);
    if (!c) return -1;
    x->chars = c;
    x->capchars = cap;
  }
  if ((uint64_t)(x->n + 1) * 2 > x->mask + 1 && idx_rehash(x) != 0) return -1;
  memcpy(x->chars + x->nchars, s, n);
  int32_t k = x->n++;
  x->off[k] = (int64_t)x->nchars;
  x->len[k] = (int64_t)n;
  x->nchars += n;
  uint64_t hv = hash_bytes(s, n), h = hv & x->mask;
  while (x->slots[h]) h = (h + 1) & x->mask;
  x->slots[h] = ((hv >> 32) << 32) | (uint64_t)(uint32_t)(k + 1);
  return k;
}

/* ---------------------------------------------------------------- streaming */

enum { MODE_NEURONS = 0, MODE_EDGES = 1 };

typedef struct {
  int mode;
  const char *path;
  int64_t line;            /* line being fed (1-based) */
  int64_t rec_line;        /* line where the current record started */
  int32_t field;           /* 0-based field number in the current record */
  int header_done;
  int ncols_header;
  /* wanted columns: 0 = pre / id, 1 = post, 2 = weight; -1 not used */
  const char *want[3];
  int32_t col[3];
  int32_t nwant;
  int32_t maxcol;
  int32_t cur[2];          /* indices of the current record's pre/post */
  char last[2][48];        /* the previous row's pre/post id (tables are often sorted) */
  size_t lastlen[2];
  int32_t lastidx[2];
  float curw;
  int seen;                /* bit k: wanted column k was seen in this record */
  int add_ids;             /* edges: add unknown ids (no neuron table) */
  idindex *ids;
  /* edges */
  int32_t *pre, *post;
  float *w;
  int64_t m, cap;
  int rc;                  /* first error, CI_OK while fine */
} pstate;

static int fail_at(pstate *st, int code, int32_t colno, const char *fmt, const char *a,
                   const char *b) {
  if (st->rc != CI_OK) return st->rc;
  const char *cname = colno >= 0 && colno < 3 && st->want[colno] ? st->want[colno] : "?";
  char msg[512];
  snprintf(msg, sizeof msg, fmt, a ? a : "", b ? b : "");
  st->rc = ci_set_error(code, WHERE ": %s line %lld, column %s: %s", st->path,
                        (long long)st->line, cname, msg);
  return st->rc;
}

static void printable(char *dst, size_t cap, const char *s, size_t n) {
  size_t k = n < cap - 4 ? n : cap - 4;
  memcpy(dst, s, k);
  if (k < n) memcpy(dst + k, "...", 4); else dst[k] = 0;
}

/* weight cell -> value >= 0 (plain digits fast, else strtod) */
static int parse_weight(pstate *st, const char *s, size_t n) {
  char txt[80];
  if (n == 0) return fail_at(st, CI_EIO, 2, "missing value (empty cell)%s%s", NULL, NULL);
  if (n <= 15) {
    uint64_t v = 0;
    size_t i = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9'; i++) v = v * 10 + (uint64_t)(s[i] - '0');
    if (i == n) { st->curw = (float)v; return CI_OK; }
  }
  char buf[64];
  if (n < sizeof buf) {
    memcpy(buf, s, n);
    buf[n] = 0;
    char *end = NULL;
    errno = 0;
    double v = strtod(buf, &end);
    int hex = memchr(buf, 'x', n) || memchr(buf, 'X', n);
    if (end == buf + n && !hex && isfinite(v)) {
      if (v < 0) {
        printable(txt, sizeof txt, s, n);
        return fail_at(st, CI_EIO, 2, "negative weight '%s'%s (synapse counts are >= 0; "
                       "give the sign through the neuron table)", txt, NULL);
      }
      st->curw = (float)v;
      return CI_OK;
    }
  }
  printable(txt, sizeof txt, s, n);
  return fail_at(st, CI_EIO, 2, "'%s' is not a finite number%s", txt, NULL);
}

static int push_edge(pstate *st) {
  if (st->m == st->cap) {
    int64_t cap = st->cap ? st->cap + st->cap / 2 : (1 << 20);
    size_t b4, b4f;
    if (ci_mul_size((size_t)cap, 4, &b4) || ci_mul_size((size_t)cap, sizeof(float), &b4f))
      return st->rc = ci_set_error(CI_ENOMEM, WHERE ": %s: too many rows", st->path);
    int32_t *p = realloc(st->pre, b4);
    if (!p) goto oom;
    st->pre = p;
    p = realloc(st->post, b4);
    if (!p) goto oom;
    st->post = p;
    float *f = realloc(st->w, b4f);
    if (!f) goto oom;
    st->w = f;
    st->cap = cap;
  }
  st->pre[st->m] = st->cur[0];
  st->post[st->m] = st->cur[1];
  st->w[st->m] = st->curw;
  st->m++;
  return CI_OK;
oom:
  return st->rc = ci_set_error(CI_ENOMEM, WHERE ": %s: out of memory after %lld rows",
                               st->path, (long long)st->m);
}

static void on_field(void *sv, size_t len, void *data) {
  pstate *st = data;
  const char *s = sv;
  if (st->rc != CI_OK) return;
  if (st->field == 0) st->rec_line = st->line;
  int32_t f = st->field++;
  if (!st->header_done) {
    for (int k = 0; k < st->nwant; k++)
      if (st->col[k] < 0 && strlen(st->want[k]) == len && memcmp(st->want[k], s, len) == 0)
        st->col[k] = f;
    return;
  }
  if (f > st->maxcol) return;
  for (int k = 0; k < st->nwant; k++) {
    if (st->col[k] != f) continue;
    st->seen |= 1 << k;
    if (k == 2) { parse_weight(st, s, len); continue; }
    char txt[80];
    if (len == 0) {
      fail_at(st, CI_EIO, k, "missing id (empty cell)%s%s", NULL, NULL);
      return;
    }
    if (st->mode == MODE_EDGES && len == st->lastlen[k] && memcmp(st->last[k], s, len) == 0) {
      st->cur[k] = st->lastidx[k];
      continue;
    }
    int32_t i = idx_find(st->ids, s, len);
    if (st->mode == MODE_NEURONS) {
      if (i >= 0) {
        printable(txt, sizeof txt, s, len);
        fail_at(st, CI_EIO, k, "duplicate id '%s'%s", txt, NULL);
        return;
      }
      if (idx_add(st->ids, s, len) < 0) {
        st->rc = ci_set_error(CI_ENOMEM, WHERE ": %s: out of memory for the ids", st->path);
        return;
      }
    } else {
      if (i < 0) {
        if (!st->add_ids) {
          printable(txt, sizeof txt, s, len);
          fail_at(st, CI_EIO, k, "id '%s' is not in the neuron table%s", txt, NULL);
          return;
        }
        i = idx_add(st->ids, s, len);
        if (i < 0) {
          st->rc = ci_set_error(CI_ENOMEM, WHERE ": %s: out of memory for the ids", st->path);
          return;
        }
      }
      st->cur[k] = i;
      if (len <= sizeof st->last[k]) {
        memcpy(st->last[k], s, len);
        st->lastlen[k] = len;
        st->lastidx[k] = i;
      }
    }
  }
}

static void on_row(int term, void *data) {
  pstate *st = data;
  (void)term;
  if (st->rc != CI_OK) return;
  int32_t nf = st->field;
  st->field = 0;
  if (!st->header_done) {
    st->header_done = 1;
    st->ncols_header = nf;
    st->maxcol = -1;
    for (int k = 0; k < st->nwant; k++) {
      if (st->col[k] < 0) {
        st->rc = ci_set_error(CI_EIO, WHERE ": %s line %lld: no column '%s' in the header "
                              "(%d columns)", st->path, (long long)st->line, st->want[k], (int)nf);
        return;
      }
      if (st->col[k] > st->maxcol) st->maxcol = st->col[k];
    }
    return;
  }
  int all = (1 << st->nwant) - 1;
  if ((st->seen & all) != all) {
    for (int k = 0; k < st->nwant; k++)
      if (!(st->seen & (1 << k))) {
        char nb[32];
        snprintf(nb, sizeof nb, "%d", (int)nf);
        fail_at(st, CI_EIO, k, "the row has %s fields, the column is missing%s", nb, NULL);
        return;
      }
  }
  st->seen = 0;
  if (st->mode == MODE_EDGES) {
    if (st->nwant == 2) st->curw = 1.0f;
    push_edge(st);
  }
}

static int has_suffix(const char *s, const char *suf) {
  size_t a = strlen(s), b = strlen(suf);
  return a >= b && strcmp(s + a - b, suf) == 0;
}

static unsigned char sep_for(const char *path, char sep) {
  if (sep) return (unsigned char)sep;
  if (has_suffix(path, ".tsv") || has_suffix(path, ".tab") || has_suffix(path, ".tsv.gz") ||
      has_suffix(path, ".tab.gz"))
    return '\t';
  return ',';
}

static int space_none(unsigned char c) { (void)c; return 0; }

/* Feeds one chunk of the file to the parser a line at a time (so that the
 * callbacks know the line); the first chunk loses its UTF-8 byte-order mark. */
static void feed_chunk(pstate *st, struct csv_parser *p, const char *s, const char *end,
                       int first) {
  if (first && end - s >= 3 && (unsigned char)s[0] == 0xef && (unsigned char)s[1] == 0xbb &&
      (unsigned char)s[2] == 0xbf)
    s += 3;
  while (s < end && st->rc == CI_OK) {
    const char *nl = memchr(s, '\n', (size_t)(end - s));
    const size_t k = nl ? (size_t)(nl - s) + 1 : (size_t)(end - s);
    if (csv_parse(p, s, k, on_field, on_row, st) != k && st->rc == CI_OK)
      st->rc = ci_set_error(CI_EIO, WHERE ": %s line %lld: %s", st->path, (long long)st->line,
                            csv_strerror(csv_error(p)));
    s += k;
    if (nl) st->line++;
  }
}

/* After the last chunk: a gzip stream cut short, the last record, no header. */
static void finish_stream(pstate *st, struct csv_parser *p, gzFile gz) {
  if (st->rc == CI_OK) {
    int errnum = Z_OK;
    const char *msg = gzerror(gz, &errnum);
    if (errnum != Z_OK && errnum != Z_STREAM_END)
      st->rc = ci_set_error(CI_EIO, WHERE ": %s: gzip data: %s", st->path,
                            errnum == Z_BUF_ERROR ? "unexpected end of file (truncated?)" : msg);
  }
  if (st->rc == CI_OK && csv_fini(p, on_field, on_row, st) != 0 && st->rc == CI_OK)
    st->rc = ci_set_error(CI_EIO, WHERE ": %s line %lld: %s", st->path, (long long)st->line,
                          csv_strerror(csv_error(p)));
  if (st->rc == CI_OK && !st->header_done)
    st->rc = ci_set_error(CI_EIO, WHERE ": %s: empty file (no header)", st->path);
}

/* Streams the file (plain or gzip) through libcsv. */
static int stream_file(pstate *st, char sep) {
  errno = 0;
  gzFile gz = gzopen(st->path, "rb");
  if (!gz)
    return ci_set_error(CI_EIO, WHERE ": %s: %s", st->path, errno ? strerror(errno) : "cannot open");
  gzbuffer(gz, 1u << 20);
  struct csv_parser p;
  char *buf = NULL;
  if (csv_init(&p, CSV_STRICT | CSV_APPEND_NULL) != 0) {
    gzclose(gz);
    return ci_set_error(CI_ENOMEM, WHERE ": out of memory");
  }
  csv_set_delim(&p, sep_for(st->path, sep));
  csv_set_space_func(&p, space_none);
  if (!(buf = malloc(CHUNK))) st->rc = ci_set_error(CI_ENOMEM, WHERE ": out of memory");
  st->line = 1;
  for (int first = 1; st->rc == CI_OK; first = 0) {
    const int n = gzread(gz, buf, CHUNK);
    if (n < 0) {
      int errnum = 0;
      const char *msg = gzerror(gz, &errnum);
      st->rc = ci_set_error(CI_EIO, WHERE ": %s: %s%s", st->path,
                            gzdirect(gz) ? "" : "gzip data: ",
                            errnum == Z_ERRNO ? strerror(errno) : msg);
    }
    if (n <= 0) break;
    feed_chunk(st, &p, buf, buf + n, first);
  }
  if (buf) finish_stream(st, &p, gz);
  free(buf);
  csv_free(&p);
  gzclose(gz);
  return st->rc;
}

/* ---------------------------------------------------------------- building */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Groups the triples by pre in place (a counting sort that follows cycles, no
 * second copy); rowptr (n + 1, zeroed) gets each row's start. */
static int group_by_pre(int32_t n, int64_t m, int32_t *pre, int32_t *post, float *w,
                        int64_t *rowptr) {
  int64_t *next = calloc((size_t)n + 1, sizeof *next);
  if (!next) return -1;
  for (int64_t k = 0; k < m; k++) rowptr[pre[k] + 1]++;
  for (int32_t i = 0; i < n; i++) rowptr[i + 1] += rowptr[i];
  for (int32_t i = 0; i < n; i++) next[i] = rowptr[i];
  for (int32_t b = 0; b < n; b++) {
    const int64_t endb = rowptr[b + 1];
    while (next[b] < endb) {
      const int64_t i = next[b];
      const int32_t p = pre[i];
      if (p == b) { next[b]++; continue; }
      const int64_t j = next[p]++;
      int32_t tp = pre[j]; pre[j] = p; pre[i] = tp;
      int32_t tq = post[j]; post[j] = post[i]; post[i] = tq;
      float tw = w[j]; w[j] = w[i]; w[i] = tw;
    }
  }
  free(next);
  return 0;
}

/* One row's len entries (post, w): sorted by post, duplicates summed, pairs
 * below the threshold (or not positive) dropped, written back compacted.
 * key holds len slots. Returns the number kept. */
static int64_t merge_row(int32_t *post, float *w, int64_t len, double threshold, uint64_t *key) {
  for (int64_t k = 0; k < len; k++) {
    uint32_t bits;
    memcpy(&bits, &w[k], 4);
    key[k] = ((uint64_t)(uint32_t)post[k] << 32) | bits;
  }
  if (len <= 24) {
    for (int64_t a = 1; a < len; a++) {
      uint64_t x = key[a];
      int64_t b = a;
      while (b > 0 && key[b - 1] > x) { key[b] = key[b - 1]; b--; }
      key[b] = x;
    }
  } else {
    qsort(key, (size_t)len, sizeof *key, cmp_u64);
  }
  int64_t o = 0;
  for (int64_t k = 0; k < len;) {
    const uint32_t c = (uint32_t)(key[k] >> 32);
    double sum = 0;
    for (; k < len && (uint32_t)(key[k] >> 32) == c; k++) {
      uint32_t bits = (uint32_t)key[k];
      float v;
      memcpy(&v, &bits, 4);
      sum += v;
    }
    if (sum > 0 && sum >= threshold) {
      post[o] = (int32_t)c;
      w[o] = (float)sum;
      o++;
    }
  }
  return o;
}

/* Moves the kept entries of every row together; rowptr becomes the CSR's. */
static int64_t compact_rows(int32_t n, int64_t *rowptr, const int64_t *kept, int32_t *post,
                            float *w) {
  int64_t o = 0;
  for (int32_t r = 0; r < n; r++) {
    const int64_t s = rowptr[r];
    if (s != o && kept[r]) {
      memmove(post + o, post + s, (size_t)kept[r] * sizeof *post);
      memmove(w + o, w + s, (size_t)kept[r] * sizeof *w);
    }
    rowptr[r] = o;
    o += kept[r];
  }
  rowptr[n] = o;
  return o;
}

/* Sorts the triples by pre, then each row by post, sums duplicates, applies
 * the threshold and compacts. On return rowptr (n + 1) is filled and post/w
 * hold the nnz kept entries. -1: out of memory. */
static int build_rows(int32_t n, int64_t m, int32_t *pre, int32_t *post, float *w,
                      double threshold, int64_t *rowptr, int64_t *nnz_out) {
  int64_t *kept = calloc((size_t)n + 1, sizeof *kept);
  if (!kept || group_by_pre(n, m, pre, post, w, rowptr) != 0) { free(kept); return -1; }
  int err = 0;
#pragma omp parallel
  {
    size_t cap = 0;
    uint64_t *key = NULL; /* this thread's sort keys, grown to the longest row */
#pragma omp for schedule(dynamic, 256)
    for (int32_t r = 0; r < n; r++) {
      const int64_t s = rowptr[r], len = rowptr[r + 1] - s;
      if (len == 0) continue;
      if ((size_t)len > cap) {
        free(key);
        cap = (size_t)len * 2;
        key = malloc(cap * sizeof *key);
        if (!key) {
          cap = 0;
#pragma omp atomic write
          err = 1;
          continue;
        }
      }
      kept[r] = merge_row(post + s, w + s, len, threshold, key);
    }
    free(key);
  }
  if (!err) *nnz_out = compact_rows(n, rowptr, kept, post, w);
  free(kept);
  return err ? -1 : 0;
}

void ci_connectome_free(ci_connectome *c) {
  if (!c) return;
  free(c->id_chars); free(c->id_off); free(c->id_len);
  free(c->in_total); free(c->out_total);
  ci_csr_release(c->inprop);
  idindex *x = c->priv;
  if (x) { free(x->slots); free(x); }
  free(c);
}

int32_t ci_connectome_find(const ci_connectome *c, const char *id, size_t len) {
  if (!c || !c->priv || (!id && len)) return -1;
  return idx_find(c->priv, id ? id : "", len);
}

/* Streams one table (the neurons' id column, or the edges' pre, post and
 * optional weight columns) through a fresh st. */
static int read_table(pstate *st, int mode, const char *path, const char *const *want,
                      int32_t nwant, int add_ids, idindex *ids, char sep) {
  memset(st, 0, sizeof *st);
  st->mode = mode;
  st->path = path;
  for (int k = 0; k < 3; k++) {
    st->want[k] = k < nwant ? want[k] : NULL;
    st->col[k] = -1;
  }
  st->nwant = nwant;
  st->add_ids = add_ids;
  st->ids = ids;
  return stream_file(st, sep);
}

/* inprop from the edge triples of st (pre rows, each post column divided by
 * that neuron's total input) and the totals, into c. The triple arrays end up
 * in the matrix or freed; on error they stay in st for the caller to free. */
static int build_inprop(pstate *st, int32_t n, double threshold, const char *edges,
                        ci_connectome *c) {
  ci_csr *m = NULL;
  int rc = ci_csr_alloc(n, n, 0, &m, WHERE);
  if (rc != CI_OK) return rc;
  memset(m->rowptr, 0, ((size_t)n + 1) * sizeof *m->rowptr);
  int64_t nnz = 0;
  if (build_rows(n, st->m, st->pre, st->post, st->w, threshold, m->rowptr, &nnz) != 0)
    rc = ci_set_error(CI_ENOMEM, WHERE ": out of memory sorting %lld rows", (long long)st->m);
  else if (nnz > INT32_MAX) /* the network engine indexes connections with 32 bits */
    rc = ci_set_error(CI_ENOMEM, WHERE ": %s has %lld distinct connections, more than the limit "
                      "of 2147483647", edges, (long long)nnz);
  if (!rc) {
    c->in_total = calloc((size_t)n + 1, sizeof(double));
    c->out_total = calloc((size_t)n + 1, sizeof(double));
    if (!c->in_total || !c->out_total) rc = ci_set_error(CI_ENOMEM, WHERE ": out of memory");
  }
  if (rc) {
    ci_csr_release(m);
    return rc;
  }
  free(st->pre);
  st->pre = NULL;
  for (int32_t r = 0; r < n; r++)
    for (int64_t k = m->rowptr[r]; k < m->rowptr[r + 1]; k++) {
      c->in_total[st->post[k]] += st->w[k];
      c->out_total[r] += st->w[k];
    }
  for (int64_t k = 0; k < nnz; k++) st->w[k] = (float)(st->w[k] / c->in_total[st->post[k]]);
  /* hand the arrays over to the matrix (plain malloc memory, freed with free) */
  if (nnz > 0) {
    int32_t *pc = realloc(st->post, (size_t)nnz * sizeof *pc);
    float *pw = realloc(st->w, (size_t)nnz * sizeof *pw);
    if (pc) st->post = pc;
    if (pw) st->w = pw;
    m->colidx = st->post;
    m->vals = st->w;
  } else {
    free(st->post); free(st->w);
  }
  st->post = NULL; st->w = NULL;
  m->nnz = nnz;
  c->n = n;
  c->n_rows = st->m;
  c->nnz = nnz;
  c->inprop = m;
  return CI_OK;
}

/* Moves the id index into c (its arrays and the hash, for ci_connectome_find). */
static int keep_ids(ci_connectome *c, idindex *ids) {
  idindex *keep = malloc(sizeof *keep);
  if (!keep) return ci_set_error(CI_ENOMEM, WHERE ": out of memory");
  *keep = *ids;
  c->id_chars = keep->chars; c->id_off = keep->off; c->id_len = keep->len;
  c->priv = keep;
  memset(ids, 0, sizeof *ids);
  return CI_OK;
}

int ci_connectome_read(const char *edges, const ci_connectome_options *opts,
                       ci_connectome **out) {
  if (!out) return ci_set_error(CI_EINVAL, WHERE ": out is NULL");
  *out = NULL;
  if (!edges) return ci_set_error(CI_EINVAL, WHERE ": edges path is NULL");
  ci_connectome_options o = {0};
  if (opts) o = *opts;
  if (!o.pre) o.pre = "pre";
  if (!o.post) o.post = "post";
  if (!o.weight) o.weight = "weight";
  if (!o.id) o.id = "id";
  if (!(o.threshold == o.threshold))
    return ci_set_error(CI_EINVAL, WHERE ": threshold is NaN");
  idindex ids;
  if (idx_init(&ids) != 0) return ci_set_error(CI_ENOMEM, WHERE ": out of memory");
  pstate st;
  memset(&st, 0, sizeof st);
  int rc = CI_OK;
  if (o.neurons) rc = read_table(&st, MODE_NEURONS, o.neurons, &o.id, 1, 0, &ids, o.sep);
  const char *cols[3] = {o.pre, o.post, o.weight};
  if (!rc)
    rc = read_table(&st, MODE_EDGES, edges, cols, o.weight[0] ? 3 : 2, o.neurons == NULL, &ids,
                    o.sep);
  ci_connectome *c = rc ? NULL : calloc(1, sizeof *c);
  if (!rc && !c) rc = ci_set_error(CI_ENOMEM, WHERE ": out of memory");
  if (!rc) rc = build_inprop(&st, ids.n, o.threshold, edges, c);
  if (!rc) rc = keep_ids(c, &ids);
  free(st.pre); free(st.post); free(st.w);
  idx_free(&ids);
  if (rc) {
    ci_connectome_free(c);
    return rc;
  }
  *out = c;
  return CI_OK;
}
