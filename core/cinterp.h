/* cinterp.h: the one public header of the cinterp engine (libcinterp).
 *
 * The engine is a C11 library with no Lua in it. LuaJIT reads the part of this
 * header between the two CI_FFI marker comments with ffi.cdef (the
 * Makefile extracts it into build/lua/cinterp/cdef.lua), so that part holds no
 * preprocessor directives.
 *
 * Tutorial
 * --------
 *   ci_tensor *x = NULL, *y = NULL;
 *   int64_t shape[2] = {2, 3};
 *   if (ci_tensor_new(2, shape, &x) != CI_OK) puts(ci_last_error());
 *   ci_tensor_scalar_op(CI_OP_MUL, x, 2.0, &y);   // y = x * 2, a new tensor
 *   ci_tensor_release(y); ci_tensor_release(x);
 *
 * Conventions
 * -----------
 * - Every fallible function returns an int status: CI_OK (0) or a negative
 *   CI_E* code; the message (naming the argument) is then in ci_last_error(),
 *   which is thread-local and valid until the next failing call.
 * - Indices in the C API are 0-based; the Lua layer converts from 1-based.
 * - Ownership words: _new (caller owns one reference), _retain (adds one),
 *   _release (drops one, frees at zero). Out-parameters of type T** receive a
 *   new reference that the caller must release. Arguments are borrowed.
 * - On error nothing the caller passed in is modified and out-params are left
 *   NULL.
 * - Tensors are dense, contiguous, row-major float32, 0..4 dimensions.
 */
#ifndef CINTERP_H
#define CINTERP_H

#include <stdint.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* The library is compiled with -fvisibility=hidden: only the functions
 * declared between the markers below are exported. */
#pragma GCC visibility push(default)

/* CI_FFI_BEGIN */

/* ===== errors (core/error.c) ===== */

enum {
  CI_OK = 0,
  CI_EINVAL = -1,    /* bad argument: wrong shape, out-of-range index, ... */
  CI_ENOMEM = -2,    /* allocation failed or size overflow */
  CI_EIO = -3,       /* file missing, unreadable, malformed */
  CI_ESTATE = -4,    /* object in the wrong state for this call */
  CI_EDEVICE = -5    /* CUDA requested but unavailable, or a CUDA failure */
};

/* The message of the last failing call on this thread ("" if none). */
const char *ci_last_error(void);
/* Clears the last error message. */
void ci_clear_error(void);
/* Engine version string, e.g. "0.1.0". */
const char *ci_version(void);
/* Number of OpenMP threads the engine uses (1 without OpenMP). */
int ci_num_threads(void);
void ci_set_num_threads(int n);

/* ===== random numbers (core/rng.c) ===== */

/* One global seedable generator (xoshiro256**) drives every random draw. */
void ci_manual_seed(uint64_t seed);
/* Uniform double in [0, 1). */
double ci_rng_uniform(void);
/* Standard normal double. */
double ci_rng_normal(void);

/* ===== tensors (core/tensor.c, core/tensor_ops.c) ===== */

typedef struct ci_node ci_node;
typedef struct ci_tensor ci_tensor;

/* The fields of a tensor. Field names differ from the Lua method names on purpose
 * (t:numel(), t.grad, t:requires_grad(...) are methods/properties of the Lua
 * metatype). C sees them as struct ci_tensor (defined after the FFI part, same
 * layout, checked in core/tensor.c); to LuaJIT ci_tensor stays an incomplete type,
 * so that `t + 1` and `t - u` reach the metatype's __add / __sub instead of
 * LuaJIT's pointer arithmetic, and the metatype's __index reads these fields
 * through a cast to ci_tensor_fields* (t.data, t.nel, t.shape[0], ... work). */
typedef struct ci_tensor_fields {
  float *data;             /* nel floats, owned, 64-byte aligned (NULL if nel == 0) */
  int64_t nel;             /* number of elements: product of shape (1 for a 0-d scalar) */
  int64_t shape[4];        /* sizes of the first ndim dimensions, rest 1 */
  int32_t ndim;            /* 0..4 */
  int32_t refcount;        /* references held; freed when it drops to 0 */
  int32_t grad_on;         /* 1: a leaf that collects a gradient, or a result on the tape */
  int32_t on_device;       /* 0 = cpu; 1 = cuda (data then lives on the GPU) */
  ci_tensor *grad_t;       /* accumulated gradient (same shape) or NULL */
  ci_node *grad_fn;        /* tape node that produced it, NULL for leaves */
} ci_tensor_fields;

/* Creates a zero-filled tensor of ndim (0..4) dimensions. */
int ci_tensor_new(int ndim, const int64_t *shape, ci_tensor **out);
/* Creates a tensor and copies numel floats / doubles from src. */
int ci_tensor_from_floats(int ndim, const int64_t *shape, const float *src, ci_tensor **out);
int ci_tensor_from_doubles(int ndim, const int64_t *shape, const double *src, ci_tensor **out);
/* Tensor filled with value v. */
int ci_tensor_full(int ndim, const int64_t *shape, double v, ci_tensor **out);
/* Uniform [0,1) / standard normal draws from the global generator. */
int ci_tensor_rand(int ndim, const int64_t *shape, ci_tensor **out);
int ci_tensor_randn(int ndim, const int64_t *shape, ci_tensor **out);
void ci_tensor_retain(ci_tensor *t);
void ci_tensor_release(ci_tensor *t);

/* ===== CI_TENSOR_OPS: elementwise, reductions, indexing (core/tensor_ops.c) =====
 * Every op returns a NEW tensor in *out (caller releases) and, when grad mode is
 * on and an input has grad_on, records a tape node so that ci_tensor_backward
 * can differentiate through it. Inputs are never modified (except by the
 * in-place functions ending in _, which are never recorded). Binary ops
 * broadcast as torch does (shapes aligned on the right, size-1 dims expand). */

enum {
  CI_OP_ADD = 0, CI_OP_SUB = 1, CI_OP_MUL = 2, CI_OP_DIV = 3, CI_OP_POW = 4,
  CI_OP_RSUB = 5, CI_OP_RDIV = 6, CI_OP_RPOW = 7,  /* scalar ops only: s-a, s/a, s^a */
  CI_OP_GT = 8, CI_OP_GE = 9, CI_OP_LT = 10, CI_OP_LE = 11, CI_OP_EQ = 12,
  CI_OP_NE = 13,                                   /* comparisons: 0/1 floats, no grad */
  CI_OP_MAXIMUM = 14, CI_OP_MINIMUM = 15           /* elementwise max/min */
};
enum {
  CI_UN_NEG = 0, CI_UN_ABS = 1, CI_UN_SQRT = 2, CI_UN_EXP = 3, CI_UN_LOG = 4,
  CI_UN_TANH = 5, CI_UN_RELU = 6, CI_UN_SIGN = 7, CI_UN_SIGMOID = 8
};

/* out = a (op) b with broadcasting; EINVAL naming both shapes on mismatch. */
int ci_tensor_binary(int op, ci_tensor *a, ci_tensor *b, ci_tensor **out);
/* out = a (op) s for a number s (CI_OP_RSUB/RDIV/RPOW put s on the left). */
int ci_tensor_scalar_op(int op, ci_tensor *a, double s, ci_tensor **out);
/* Elementwise function (CI_UN_*). Derivatives as torch: relu'(0) = abs'(0) = 0, sign' = 0. */
int ci_tensor_unary(int op, ci_tensor *a, ci_tensor **out);
/* Clamps into [lo, hi] (pass -inf / inf for no bound); the gradient passes where lo <= a <= hi. */
int ci_tensor_clamp(ci_tensor *a, double lo, double hi, ci_tensor **out);
/* out = mask != 0 ? a : b, all three broadcast; gradient to a and b (not to mask). */
int ci_tensor_where(ci_tensor *mask, ci_tensor *a, ci_tensor *b, ci_tensor **out);
/* Sum / mean over dimension dim (0-based; the dim is removed), or over everything
 * (dim = -1, result 0-d). Accumulated in double, deterministic. */
int ci_tensor_sum(ci_tensor *a, int dim, ci_tensor **out);
int ci_tensor_mean(ci_tensor *a, int dim, ci_tensor **out);
/* Max / min over everything (dim = -1: 0-d value, *indices gets the flat 0-based
 * position of the first extreme) or over dim (values and 0-based positions along dim,
 * as floats, dim removed). indices may be NULL. Gradient goes to the (first) argmax. */
int ci_tensor_max(ci_tensor *a, int dim, ci_tensor **values, ci_tensor **indices);
int ci_tensor_min(ci_tensor *a, int dim, ci_tensor **values, ci_tensor **indices);
/* p-norm of the whole tensor (p > 0; 1 and 2 are the usual ones), 0-d result. */
int ci_tensor_norm(ci_tensor *a, double p, ci_tensor **out);
/* Slice at 0-based index i of dim (dim removed). */
int ci_tensor_select(ci_tensor *a, int dim, int64_t i, ci_tensor **out);
/* len entries of dim starting at 0-based start. */
int ci_tensor_narrow(ci_tensor *a, int dim, int64_t start, int64_t len, ci_tensor **out);
/* Entries idx[0..n-1] (0-based, repeats allowed) of dim; gradient scatter-adds. */
int ci_tensor_index_select(ci_tensor *a, int dim, const int64_t *idx, int64_t n, ci_tensor **out);
/* Same data in a new shape (a copy); at most one size may be -1 (inferred). */
int ci_tensor_reshape(ci_tensor *a, int ndim, const int64_t *shape, ci_tensor **out);
/* Dimensions reordered: out dim k is a's dim perm[k] (a copy). */
int ci_tensor_permute(ci_tensor *a, const int32_t *perm, ci_tensor **out);
/* Concatenation of n tensors along dim (other sizes equal). */
int ci_tensor_cat(int n, ci_tensor *const *list, int dim, ci_tensor **out);
/* Matrix product through OpenBLAS sgemm: 2-D x 2-D, 2-D x 1-D, 1-D x 2-D, 1-D x 1-D. */
int ci_tensor_matmul(ci_tensor *a, ci_tensor *b, ci_tensor **out);
/* Differentiable copy. */
int ci_tensor_clone(ci_tensor *a, ci_tensor **out);
/* Copy that is off the tape (grad_on = 0, no grad_fn). */
int ci_tensor_detach(ci_tensor *a, ci_tensor **out);
/* In place, not recorded: fill with v; copy src (same numel) into dst; dst += alpha * src (same numel). */
int ci_tensor_fill_(ci_tensor *t, double v);
int ci_tensor_copy_(ci_tensor *dst, const ci_tensor *src);
int ci_tensor_add_(ci_tensor *dst, const ci_tensor *src, double alpha);

/* ===== CI_TAPE: reverse-mode autodiff (core/tape.c) ===== */

/* Grad mode: when off (inside no_grad) no op is recorded. Returns the old mode. */
int ci_grad_enabled(void);
int ci_set_grad_enabled(int on);
/* Marks a leaf (on = 1) as collecting a gradient, or unmarks it; ESTATE for a
 * non-leaf (a tensor with a grad_fn) when on = 0. */
int ci_tensor_requires_grad(ci_tensor *t, int on);
/* Reverse pass from t: grad is dL/dt (same numel as t), or NULL for a one-element t
 * (then 1). Accumulates into t->grad_t of every leaf reached (grad_on, no grad_fn),
 * like torch; the graph is kept (backward may run again) but its buffers freed.
 * ESTATE when t does not take part in the tape. */
int ci_tensor_backward(ci_tensor *t, const ci_tensor *grad);
/* Drops the accumulated gradient (grad_t = NULL). */
void ci_tensor_zero_grad(ci_tensor *t);
/* Name of the op that produced t ("" for leaves and untracked tensors). */
const char *ci_tensor_grad_fn_name(const ci_tensor *t);

/* ===== CI_SPARSE: CSR matrices (core/csr.c, core/csr_spmm.c) =====
 * Compressed sparse rows, float32 values, 0-based. Columns are sorted and
 * unique within each row. Reference counted like tensors. Lua reads the size
 * fields and the three arrays directly (rowptr has nrows + 1 entries). */

typedef struct ci_csr ci_csr;
/* The fields of a matrix. As with tensors, C sees them as struct ci_csr
 * (defined after the FFI part, same layout, checked in core/csr.c); to LuaJIT
 * ci_csr stays incomplete so that m:nnz() reaches the metatype's method rather
 * than the field, and Lua reads the fields through a cast to ci_csr_fields*. */
typedef struct ci_csr_fields {
  int32_t nrows, ncols;
  int64_t nnz;
  int64_t *rowptr;         /* nrows + 1 offsets into colidx / vals */
  int32_t *colidx;         /* nnz column indices, ascending within a row */
  float *vals;             /* nnz values */
  int32_t refcount;
  int32_t flags;           /* reserved */
  ci_csr *tcache;          /* lazily built transpose (owned), or NULL */
  void *bcache;            /* lazily built column blocks for wide products (owned), or NULL */
} ci_csr_fields;

/* Builds a CSR matrix from COO triplets (0-based). Duplicates are summed (in
 * double, in input order), columns sorted within each row. An out-of-range
 * index is CI_EINVAL naming the entry. */
int ci_csr_from_coo(int32_t nrows, int32_t ncols, int64_t nnz, const int32_t *rows,
                    const int32_t *cols, const float *vals, ci_csr **out);
/* Same with 64-bit indices and double values (what Lua arrays convert to). */
int ci_csr_from_coo64(int32_t nrows, int32_t ncols, int64_t nnz, const int64_t *rows,
                      const int64_t *cols, const double *vals, ci_csr **out);
void ci_csr_retain(ci_csr *m);
void ci_csr_release(ci_csr *m);
/* A new matrix, the transpose (counting sort, O(nnz + n), parallel). */
int ci_csr_transpose(const ci_csr *m, ci_csr **out);
/* The transpose, built once and cached in m (new reference to the cache). */
int ci_csr_transposed(ci_csr *m, ci_csr **out);
/* *out = m[i, j] (0 when not stored); binary search in row i. */
int ci_csr_get(const ci_csr *m, int32_t i, int32_t j, float *out);
/* Dense (nrows, ncols) tensor of m. */
int ci_csr_to_dense(const ci_csr *m, ci_tensor **out);
/* CSR of a 2-d tensor (1-d: one row); exact zeros are not stored. */
int ci_csr_from_dense(const ci_tensor *t, ci_csr **out);
/* New matrices: row i multiplied by s[i] (nrows values) / column j by s[j]. */
int ci_csr_scale_rows(const ci_csr *m, const float *s, ci_csr **out);
int ci_csr_scale_cols(const ci_csr *m, const float *s, ci_csr **out);
/* Neuron orders for locality (core/reorder.c). ci_csr_rcm: the reverse
 * Cuthill-McKee order of a square matrix's connection graph (both directions)
 * into perm (n entries: perm[new] = old). ci_csr_clusters: the neurons block
 * by block, the blocks found by label propagation on that graph (deterministic:
 * sweeps in index order). ci_csr_permuted: out[a, b] =
 * m[perm[a], perm[b]] (perm must be a permutation). ci_csr_spread: the mean
 * |a - b| / n over the nonzeros numbered by perm (NULL: as they are): ~1/3 for
 * a random order, small when connected neurons sit close; -1 on a bad perm. */
int ci_csr_rcm(const ci_csr *m, int32_t *perm);
int ci_csr_clusters(const ci_csr *m, int32_t *perm);
int ci_csr_permuted(const ci_csr *m, const int32_t *perm, ci_csr **out);
double ci_csr_spread(const ci_csr *m, const int32_t *perm);
/* Y (nrows x B) = A (nrows x ncols) * X (ncols x B), row-major slabs with the
 * batch innermost; accumulate != 0 adds to Y instead. OpenMP over rows,
 * deterministic (independent of the thread count), no allocation. */
int ci_csr_spmm(const ci_csr *A, const float *X, int64_t B, float *Y, int accumulate);
/* The same product with an epilogue: epilogue(ctx, i, Y + i*B) is called once
 * per row as soon as the row's B outputs are final (while they are in cache),
 * on the thread that computed them: the network fuses its activation there.
 * The epilogue must only touch row i's outputs (and data no other row writes). */
typedef void (*ci_row_epilogue)(void *ctx, int32_t row, float *y);
int ci_csr_spmm_fused(const ci_csr *A, const float *X, int64_t B, float *Y, int accumulate,
                      ci_row_epilogue epilogue, void *ctx);
/* Tensor-level product, recorded on the tape: X of shape (ncols) or (ncols, B),
 * out of shape (nrows) or (nrows, B). Backward: dX = A^T dY. */
int ci_sparse_mm(ci_csr *A, ci_tensor *X, ci_tensor **out);

/* ===== CI_CSV: CSV tables (core/csv.c) =====
 * ci_csv_read parses a whole CSV file (plain or gzip, told apart by the magic
 * bytes 1f 8b, not the name) through libcsv into a column-oriented table.
 * RFC 4180 quoting (separators, doubled quotes and newlines inside quotes),
 * strict: a stray quote is an error. Blank lines are skipped; a UTF-8 BOM is
 * dropped. Each column is numeric when every non-empty cell parses fully as a
 * number (strtod syntax without hex: "1", "-2.5e3", "nan", "inf"), else
 * string. An integer literal beyond +-2^53 (e.g. an 18-digit FlyWire id) makes
 * its column a string column, so ids survive exactly. Empty cells (and the
 * option's na_values) are missing: NaN in numeric columns, len -1 in string
 * columns (a quoted "" is an empty string, len 0). A header-only file gives 0
 * rows (all columns numeric); a file with no record at all is an error.
 * Errors (CI_EIO) name the file and the line: "ci_csv_read: d.csv line 17:
 * 5 fields, expected 4 (header has 4)". */
enum { CI_CSV_NUM = 0, CI_CSV_STR = 1 };

typedef struct ci_csv_column {
  char *name;       /* NUL-terminated; an empty header cell becomes "col<j>" (1-based) */
  int32_t type;     /* CI_CSV_NUM or CI_CSV_STR */
  double *num;      /* NUM: nrow values, NaN where missing; NULL for STR (or nrow 0) */
  char *chars;      /* STR: the cells' bytes back to back (not NUL-terminated) */
  int64_t *off;     /* STR: nrow offsets into chars */
  int64_t *len;     /* STR: nrow lengths in bytes, -1 where missing */
} ci_csv_column;

typedef struct ci_csv_table {
  int64_t nrow;           /* data rows (the header is not counted) */
  int32_t ncol;
  ci_csv_column *cols;    /* ncol columns, in file order */
} ci_csv_table;

typedef struct ci_csv_options {
  char sep;                      /* 0: '\t' when the path ends .tsv/.tab(.gz), else ',' */
  int32_t header;                /* 1: first record names the columns; 0: names col1..colN */
  const char *const *na_values;  /* n_na extra cell texts read as missing (may be NULL) */
  int32_t n_na;
} ci_csv_options;

/* Reads the CSV at path (opts may be NULL: header, auto separator). *out is a
 * new table, free it with ci_csv_free. CI_EIO: missing/unreadable file,
 * truncated or corrupt gzip, malformed quoting, ragged row, empty file. */
int ci_csv_read(const char *path, const ci_csv_options *opts, ci_csv_table **out);
/* Same from len bytes in memory; name is used in messages. */
int ci_csv_parse(const char *text, size_t len, const char *name,
                 const ci_csv_options *opts, ci_csv_table **out);
void ci_csv_free(ci_csv_table *t);

/* Byte sink for writers: a plain file, or gzip when gzip != 0. Writing is
 * buffered; close flushes, frees and reports any write error (CI_EIO). */
typedef struct ci_csv_sink ci_csv_sink;
int ci_csv_sink_open(const char *path, int32_t gzip, ci_csv_sink **out);
int ci_csv_sink_write(ci_csv_sink *s, const char *buf, size_t len);
int ci_csv_sink_close(ci_csv_sink *s);
/* Writes src (len bytes) as one CSV field into dst (capacity cap) quoting it
 * when it holds sep, a quote, CR or LF, or starts/ends with a space (RFC 4180,
 * via libcsv). Returns the bytes needed (write again with a bigger buffer when
 * that exceeds cap). */
size_t ci_csv_quote(char *dst, size_t cap, const char *src, size_t len, char sep);

/* One column for ci_csv_write. Numbers are written as %.15g, or %.17g when
 * %.15g does not read back equal; NaN as an empty cell. */
typedef struct ci_csv_wcol {
  const char *name;
  int32_t type;               /* CI_CSV_NUM: num is read; CI_CSV_STR: str + slen */
  const double *num;          /* nrow values */
  const char *const *str;     /* nrow pointers; NULL = missing (empty cell) */
  const int64_t *slen;        /* nrow byte lengths */
} ci_csv_wcol;
/* Writes ncol columns of nrow rows to path (gzip when gzip != 0) with sep
 * (0 = ','), a header line of the names when header != 0, fields quoted as
 * ci_csv_quote does, "\n" line ends. CI_EIO names the file on failure. */
int ci_csv_write(const char *path, const ci_csv_wcol *cols, int32_t ncol, int64_t nrow,
                 char sep, int32_t header, int32_t gzip);

/* ===== CI_CONNECTOME: real connectomes from edge tables (core/connectome.c) =====
 * ci_connectome_read streams an edge CSV (plain or gzip; one row per
 * connection: pre id, post id, synapse count; other columns ignored) and,
 * when opts->neurons is set, first the id column of a neuron table. Ids are
 * compared as their exact text (an 18-digit FlyWire id never passes through a
 * double). With a neuron table, neuron i is its i-th data row and an edge
 * naming an id absent from it is an error; without, neurons are numbered in
 * order of first appearance in the edges (pre before post). Duplicate
 * (pre, post) rows are summed; pairs whose total is 0 or below threshold are
 * dropped; inprop (n x n, pre in rows) holds each kept total divided by the
 * post neuron's total input over the kept pairs, so every column with input
 * sums to 1. Peak memory is about 12 bytes per edge row plus the ids.
 * Errors (CI_EIO) name the file, the line and the column:
 * "ci_connectome_read: e.csv line 7, column weight: 'x' is not a finite number",
 * "... line 1: no column 'weight' in the header", "... column post: id '42' is
 * not in the neuron table", a duplicate id in the neuron table, an empty id
 * or weight cell, a negative weight, a row too short. */
typedef struct ci_connectome_options {
  const char *pre;        /* presynaptic id column (NULL: "pre") */
  const char *post;       /* postsynaptic id column (NULL: "post") */
  const char *weight;     /* synapse-count column (NULL: "weight"; "": each row counts 1) */
  const char *neurons;    /* neuron table path, or NULL */
  const char *id;         /* id column of the neuron table (NULL: "id") */
  double threshold;       /* pairs with a summed weight below it are dropped */
  char sep;               /* 0: '\t' for names ending .tsv/.tab(.gz), else ',' */
} ci_connectome_options;

typedef struct ci_connectome {
  int32_t n;              /* neurons */
  int64_t n_rows;         /* data rows of the edge table */
  int64_t nnz;            /* distinct (pre, post) pairs kept */
  char *id_chars;         /* the ids' bytes back to back (not NUL-terminated) */
  int64_t *id_off;        /* n offsets into id_chars */
  int64_t *id_len;        /* n lengths */
  double *in_total;       /* n: summed weight into each neuron (kept pairs) */
  double *out_total;      /* n: summed weight out of each neuron (kept pairs) */
  ci_csr *inprop;         /* owned by the connectome; retain to keep it longer */
  void *priv;             /* the id hash */
} ci_connectome;

int ci_connectome_read(const char *edges, const ci_connectome_options *opts,
                       ci_connectome **out);
/* 0-based index of the id with these len bytes, or -1 when absent. */
int32_t ci_connectome_find(const ci_connectome *c, const char *id, size_t len);
void ci_connectome_free(ci_connectome *c);

/* ===== CI_NET: the network engine (core/net.c, net_forward.c, net_backward.c) =====
 * A rate model unrolled over num_layers timesteps in which every neuron is
 * present at every step (see ../shared/DESIGN.md for the equations). The
 * weights (post in rows, pre in columns) are copied into the network, split
 * into the ordinary part and the divisive part, each stored with its transpose
 * so that forward and backward are both row-parallel products. */

typedef struct ci_net ci_net;

enum { CI_NET_MULTILAYERED = 0, CI_NET_LINEAR = 1 };
enum { CI_PARAM_SLOPE = 0, CI_PARAM_RAW_BIAS = 1, CI_PARAM_TAU = 2, CI_PARAM_DIV_STRENGTH = 3 };

typedef struct ci_net_spec {
  int32_t kind;              /* CI_NET_MULTILAYERED or CI_NET_LINEAR */
  int32_t num_layers;        /* timesteps L >= 1 */
  double threshold;
  int32_t n_sensory;
  const int32_t *sensory;    /* n_sensory distinct neuron indices, 0-based */
  int32_t n_groups;          /* 0: no groups, the scalars below are used as they are */
  const int32_t *group_of;   /* n entries in 0..n_groups-1 (n_groups > 0) */
  double slope, bias, tau;   /* without groups: slope, bias (not abs) and tau (unclamped) */
  const float *init_slope;   /* n_groups values each (n_groups > 0) */
  const float *init_raw_bias;
  const float *init_tau;
  const float *init_div_strength;
  const uint8_t *div_pairs;  /* n_groups*n_groups flags [pre*G + post]: divisive connections, or NULL */
  int32_t reorder;           /* CI_REORDER_*: the engine's internal neuron order */
} ci_net_spec;

/* The order the engine keeps its neurons in (every index the API takes or
 * gives stays the caller's), so that neurons connected to each other sit close
 * and the product gathers from a narrow band: NONE as given; RCM reverse
 * Cuthill-McKee (ci_csr_rcm); CLUSTER block by block (ci_csr_clusters); AUTO:
 * CLUSTER when it shortens the mean connection distance (ci_csr_spread) to at
 * most half and the network has more than CI_REORDER_AUTO_MIN neurons (below,
 * the whole state stays in cache anyway), else NONE. */
enum { CI_REORDER_NONE = 0, CI_REORDER_RCM = 1, CI_REORDER_AUTO = 2, CI_REORDER_CLUSTER = 3 };
enum { CI_REORDER_AUTO_MIN = 16384 };

/* One manipulation: pin the activation of neuron at layer (both 0-based) to
 * value, in batch `batch` (0-based) or in every batch when batch < 0. A layer
 * outside 0..num_layers-1 is an error here; the Lua layer drops layers past
 * num_layers first, as the reference ignores them. */
typedef struct ci_manip {
  int32_t layer;
  int32_t batch;
  int32_t neuron;
  float value;
} ci_manip;

/* Builds a network over a copy of W (n x n). Errors: W not square, sensory
 * index out of range or repeated, group id out of range, a positive weight
 * among the divisive connections, a divisive spec without groups. */
int ci_net_new(const ci_csr *weights, const ci_net_spec *spec, ci_net **out);
void ci_net_retain(ci_net *net);
void ci_net_release(ci_net *net);
int32_t ci_net_num_neurons(const ci_net *net);
int32_t ci_net_num_layers(const ci_net *net);
int ci_net_set_num_layers(ci_net *net, int32_t num_layers);
int64_t ci_net_num_divisive_edges(const ci_net *net);
/* The live parameter tensor (n_groups values, shared with the network: an
 * optimiser updates it in place); a new reference, NULL without groups. */
int ci_net_param(ci_net *net, int which, ci_tensor **out);
/* Forward pass. input: (B, S, L) with S = n_sensory and L = num_layers.
 * out: (B, n, L). When grad recording is on and the input or a parameter
 * requires grad, the pass is recorded as ONE tape node whose backward gives
 * the gradients of the input and of every parameter that requires grad.
 * checkpoint_steps = k > 0 keeps only every k-th state for the backward and
 * recomputes the rest. */
int ci_net_forward(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
                   int32_t checkpoint_steps, ci_tensor **out);
/* Forward then backward without the tape: given grad_out (B, n, L) = dLoss/d
 * output, returns (each optional, NULL to skip) grad_input (B, S, L) and
 * grad_x (B, n, L) = the total dLoss/dx_t at every step (what flows into each
 * layer's output, before manipulation cuts it), and accumulates parameter
 * gradients into the parameters' .grad when they require grad. */
int ci_net_vjp(ci_net *net, ci_tensor *input, const ci_manip *manip, int64_t n_manip,
               int32_t checkpoint_steps, const ci_tensor *grad_out,
               ci_tensor **grad_input, ci_tensor **grad_x);
/* Bytes held by the state stored for the backward by the last recorded forward
 * (for memory reports). */
int64_t ci_net_last_stored_bytes(const ci_net *net);
/* The order the network runs in: CI_REORDER_NONE, _RCM or _CLUSTER (what AUTO
 * chose); with perm != NULL, perm[k] = the caller's index of the engine's k-th
 * neuron (n entries). */
int ci_net_order(const ci_net *net, int32_t *perm);

/* ===== CI_REG: the activation-maximisation regulariser (core/regularise.c) =====
 * *value = lambda * (||x||_1 + ||x||_2) over the whole tensor; when grad is not
 * NULL (same number of elements) it is overwritten with the gradient
 * lambda * (sign(x) + x / ||x||_2) (0 where x = 0; no L2 term when x = 0). */
int ci_l1l2_regulariser(const ci_tensor *x, double lambda, ci_tensor *grad, double *value);

/* ===== CI_GEN: the benchmark's random connectomes (core/generator.c) =====
 * Statistics of ../shared/bench/REFERENCE.md, from a seeded xoshiro256**
 * stream of its own (the global generator is not touched): lognormal(0,1)
 * in-degrees scaled to nnz (each >= 1, <= n-1), presynaptic partners uniform,
 * lognormal(0,1) synapse counts, duplicates summed, rows normalised to sum 1,
 * a sign per presynaptic neuron (30 % -1). Post in rows. */
int ci_random_connectome(int32_t n, int64_t nnz, uint64_t seed, ci_csr **out);
/* The same statistics with neuropil-like locality (bench/README.md): nblocks
 * blocks of lognormal(0, 0.5) sizes on a ring; each partner from the neuron's
 * own block with probability p_local, from a block 1 or 2 steps away with
 * p_near, else uniform; the neurons then renumbered at random. */
int ci_brain_connectome(int32_t n, int64_t nnz, int32_t nblocks, double p_local, double p_near,
                        uint64_t seed, ci_csr **out);
/* count distinct neurons drawn uniformly without replacement, sorted (0-based). */
int ci_random_sensory(int32_t n, int32_t count, uint64_t seed, int32_t *out);

/* ===== CI_BENCH: the machine's memory bandwidth (core/membench.c) =====
 * STREAM-style, OpenMP over the default team (both cores here), best of
 * `repeats` passes after a warm-up pass. Return GB/s (1e9 bytes/s), or a
 * negative value with the error set (n_floats < 1024, repeats < 1, no memory).
 * triad: a[i] = b[i] + s*c[i] over three n_floats arrays, 12 bytes/element;
 * read: a float sum over one array, 4 bytes/element. Use arrays well beyond
 * the last-level cache (e.g. 2e7 floats = 80 MB each). */
double ci_membench_triad(size_t n_floats, int repeats);
double ci_membench_read(size_t n_floats, int repeats);

/* The sparse product's floor on a real matrix (core/floorbench.c,
 * ../shared/bench/FLOORS.md's method). X is ncols x B (batch innermost). Each of
 * `rounds` rounds times every variant once, in turn: CI_FLOOR_STREAM (read the
 * values and column indices), CI_FLOOR_GATHER (the floor: each nonzero's value
 * and the X row at its column, prefetched `prefetch` nonzeros ahead through a
 * padded index copy; nothing written), CI_FLOOR_PLAIN (a plain SpMM with the
 * same prefetch, two accumulator chains) and CI_FLOOR_CSR_SPMM (ci_csr_spmm).
 * Fills seconds per product (median, min, max over rounds). Fails with
 * CI_EINVAL for B outside 1..4096, rounds outside 1..1000, prefetch outside
 * 0..4096; CI_ESTATE if the plain product disagrees with ci_csr_spmm. */
enum { CI_FLOOR_STREAM = 0, CI_FLOOR_GATHER = 1, CI_FLOOR_PLAIN = 2, CI_FLOOR_CSR_SPMM = 3,
       CI_FLOOR_NVARIANTS = 4 };
typedef struct ci_floorbench_result {
  double median_s[4], min_s[4], max_s[4]; /* indexed by CI_FLOOR_* */
  int64_t B, nnz;
  int rounds;
} ci_floorbench_result;
int ci_floorbench(const ci_csr *W, int64_t B, int rounds, int prefetch,
                  ci_floorbench_result *out);
/* "stream", "gather", "plain", "csr_spmm"; NULL outside 0..CI_FLOOR_NVARIANTS-1. */
const char *ci_floorbench_variant(int variant);

/* ===== CI_TUNE: the engine's speed knobs and per-phase timers (core/tuning.c,
 * core/profile.c), for benchmarks. Knobs change speed only (results stay
 * bitwise the same for any thread count under each setting):
 *   act_fused          1: the forward's activation runs in the product's row
 *                      loop while the row is in cache; 0: as a pass of its own
 *   spmm_prefetch      nonzeros ahead whose X row the product prefetches
 *   spmm_prefetch_far  the same when X is split into column blocks (X out of cache)
 *   spmm_block_above   X (ncols x B floats) larger than this many bytes: the
 *                      product runs over column blocks of the matrix, each
 *                      touching an X panel of about spmm_block_bytes (0: never)
 *   spmm_block_bytes   that panel's bytes
 *   hugepages          1: the network's big state buffers ask for 2 MiB pages
 * ci_tune_set fails (CI_EINVAL) for an unknown name or a value out of range. */
int ci_tune_set(const char *name, int64_t value);
int ci_tune_get(const char *name, int64_t *value);
/* Seconds spent in each phase of the network engine on the CPU since
 * ci_profile_enable(1) (which resets them; 2: the calling thread's CPU time
 * instead of the wall clock, for one OpenMP thread on a busy machine);
 * ci_profile_enable(0) stops the clocks (the default: then no clock is read).
 * A backward's recomputed checkpoint steps count as forward steps. */
typedef struct ci_profile {
  double fwd_product_s;     /* the sparse products W x_{t-1} (with the fused activation) */
  double fwd_activation_s;  /* the activation as a pass of its own (act_fused = 0, sparse x) */
  double fwd_output_s;      /* the (B, n, L) output from the slabs */
  double fwd_total_s;       /* whole forwards (setup, input, steps, output, bookkeeping) */
  double bwd_elementwise_s; /* the backward's elementwise passes (incoming gradient, step) */
  double bwd_product_s;     /* the products over the transpose W^T gp */
  double bwd_layout_s;      /* the gradients between (B, n, L) and slabs */
  double bwd_total_s;       /* whole backwards */
  int64_t fwd_steps, bwd_steps, forwards, backwards;
} ci_profile;
void ci_profile_enable(int on);
void ci_profile_read(ci_profile *out);

/* ===== CI_DEVICE: the CUDA path (core/device.c, core/adam.c, kernels/) =====
 * Built with `make CUDA=1`. Without that build, or without a usable GPU, every
 * function here that needs one fails with CI_EDEVICE and a message saying why:
 * "cinterp was built without CUDA (make CUDA=1)" or "no usable GPU: <CUDA's
 * message>". Nothing ever falls back to the CPU silently. A tensor with
 * on_device = 1 holds a device pointer in data: only ci_tensor_to, ci_adam_step,
 * ci_net_forward / ci_net_vjp (as the input of a GPU network) and release accept it. */
enum { CI_DEVICE_CPU = 0, CI_DEVICE_CUDA = 1 };

/* 1 when CUDA is built in and a GPU is usable; 0 otherwise, with the reason as
 * the last error (ci_last_error). The probe runs once per process. */
int ci_cuda_available(void);
/* Writes one line about the device (name, compute capability, memory,
 * versions) into buf (n bytes, NUL-terminated, truncated); when no GPU is
 * usable writes the reason instead and returns CI_EDEVICE (error set too). */
int ci_device_info(char *buf, size_t n);
/* A new tensor with t's shape and values on device (CI_DEVICE_CPU or
 * CI_DEVICE_CUDA), always a copy, off the tape. */
int ci_tensor_to(const ci_tensor *t, int device, ci_tensor **out);
/* Moves a network's weights to the GPU (CI_DEVICE_CUDA: every later
 * ci_net_forward / ci_net_vjp runs the whole loop there, inputs copied once,
 * state kept on the device, results copied back to host tensors) or back to
 * the CPU (CI_DEVICE_CPU). */
int ci_net_to_device(ci_net *net, int device);
/* CI_DEVICE_CPU or CI_DEVICE_CUDA (CI_DEVICE_CPU for NULL). */
int ci_net_device(const ci_net *net);
/* One Adam step as torch.optim.Adam (no weight decay), step >= 1, on the
 * elements first .. first + count - 1 (0-based) of a flat parameter block:
 * m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
 * param -= lr / (1 - b1^step) * m / (sqrt(v) / sqrt(1 - b2^step) + eps).
 * The four tensors have the same numel and live on one device (CPU: a host
 * loop; CUDA: a kernel; both apply core/adam.h). Elements outside the range
 * are left alone (a frozen part of the block, e.g. a finished task). */
int ci_adam_step(ci_tensor *param, const ci_tensor *grad, ci_tensor *m, ci_tensor *v,
                 int64_t first, int64_t count, int64_t step, double lr, double beta1,
                 double beta2, double eps);

/* CI_FFI_END */

#pragma GCC visibility pop

/* The tensor struct for C (same layout as ci_tensor_fields above). */
struct ci_tensor {
  float *data;
  int64_t nel;
  int64_t shape[4];
  int32_t ndim;
  int32_t refcount;
  int32_t grad_on;
  int32_t on_device;
  ci_tensor *grad_t;
  ci_node *grad_fn;
};

/* The CSR matrix struct for C (same layout as ci_csr_fields above). */
struct ci_csr {
  int32_t nrows, ncols;
  int64_t nnz;
  int64_t *rowptr;
  int32_t *colidx;
  float *vals;
  int32_t refcount;
  int32_t flags;
  ci_csr *tcache;
  void *bcache;
};

#ifdef __cplusplus
}
#endif
#endif /* CINTERP_H */
