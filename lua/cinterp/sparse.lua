-- cinterp.sparse: the Lua face of CSR sparse matrices (core/csr.c): ci.sparse,
-- ci.sparse.from_dense, ci.is_sparse and the methods of a matrix (size, nnz, get,
-- transpose, todense, triplets, scale_rows, scale_cols, m * t, tostring).
-- Indices are 1-based here and 0-based in C. A matrix is a ci_csr* cdata owned
-- by Lua's GC (ffi.gc with ci_csr_release).
local engine = require "cinterp.ffi"
local O = require "cinterp.options"
local util = require "cinterp.util"
local ffi, C = engine.ffi, engine.C

local fmt = string.format
local type, tostring, tonumber = type, tostring, tonumber

local csr_ptr = ffi.typeof("ci_csr*")
local fields_ptr = ffi.typeof("ci_csr_fields*")
local cast = ffi.cast
-- The fields of a matrix (ci_csr is incomplete to LuaJIT, see core/cinterp.h).
local function F(m) return cast(fields_ptr, m) end
local box = ffi.new("ci_csr*[1]")
local tbox = ffi.new("ci_tensor*[1]")
local fbox = ffi.new("float[1]")
local INT32_MAX = 2147483647
local is_int = util.is_int

-- Wraps a new matrix from C so that Lua's GC releases it.
local function wrap(p)
  local f = F(p)
  return util.gc_owned(p, tonumber(f.nnz) * 8 + (f.nrows + 1) * 8, C.ci_csr_release)
end

local function is_sparse(x) return type(x) == "cdata" and ffi.istype(csr_ptr, x) end

local fail = util.fail

local function check_sparse(m, where)
  if not is_sparse(m) then
    error(fmt("%s: expected a sparse matrix, got %s", where, type(m)), 3)
  end
end

return function(ci)
  local T = ci._tensor
  local is_tensor = T and T.is_tensor or function() return false end

  local function what(x)
    if is_tensor(x) then return "tensor" end
    if is_sparse(x) then return "sparse matrix" end
    return type(x)
  end

  -- Reads a 1-d input (Lua array or tensor) as an accessor get(k) for k = 1..n.
  local function vector(x, where, argname)
    if is_tensor(x) then
      if x.ndim > 1 then
        error(fmt("%s: %s must be a 1-d tensor or a Lua array, got a tensor of shape %s",
                  where, argname, T.shape_string(x)), 3)
      end
      local data, n = x.data, tonumber(x.nel)
      return function(k) return data[k - 1] end, n
    elseif type(x) == "table" then
      return function(k) return x[k] end, #x
    end
    error(fmt("%s: %s must be a Lua array or a tensor, got %s", where, argname, what(x)), 3)
  end

  local function check_dim(v, where, argname)
    if not is_int(v) or v < 0 or v > INT32_MAX then
      error(fmt("%s: %s must be a non-negative integer, got %s", where, argname, tostring(v)), 3)
    end
    return v
  end

  ---------------------------------------------------------------- construction

  -- ci.sparse(rows, cols, vals, nrows, ncols): 1-based COO triplets, duplicates
  -- summed. nrows / ncols default to the largest row / column index.
  local function from_coo(rows, cols, vals, nrows, ncols)
    local where = "ci.sparse"
    local getr, n = vector(rows, where, "rows")
    local getc, nc = vector(cols, where, "cols")
    local getv, nv = vector(vals, where, "vals")
    if nc ~= n then
      error(fmt("%s: rows has %d entries but cols has %d", where, n, nc), 2)
    end
    if nv ~= n then
      error(fmt("%s: rows has %d entries but vals has %d", where, n, nv), 2)
    end
    if nrows ~= nil then check_dim(nrows, where, "nrows") end
    if ncols ~= nil then check_dim(ncols, where, "ncols") end
    local r = ffi.new("int64_t[?]", n > 0 and n or 1)
    local c = ffi.new("int64_t[?]", n > 0 and n or 1)
    local v = ffi.new("double[?]", n > 0 and n or 1)
    local maxr, maxc = 0, 0
    for k = 1, n do
      local i, j, x = getr(k), getc(k), getv(k)
      if not is_int(i) then
        error(fmt("%s: rows[%d] = %s is not an integer", where, k, tostring(i)), 2)
      end
      if not is_int(j) then
        error(fmt("%s: cols[%d] = %s is not an integer", where, k, tostring(j)), 2)
      end
      if type(x) ~= "number" then
        error(fmt("%s: vals[%d] = %s is not a number", where, k, tostring(x)), 2)
      end
      if i < 1 or (nrows and i > nrows) or i > INT32_MAX then
        error(fmt("%s: rows[%d] = %d is out of range 1..%d", where, k, i,
                  nrows or INT32_MAX), 2)
      end
      if j < 1 or (ncols and j > ncols) or j > INT32_MAX then
        error(fmt("%s: cols[%d] = %d is out of range 1..%d", where, k, j,
                  ncols or INT32_MAX), 2)
      end
      if i > maxr then maxr = i end
      if j > maxc then maxc = j end
      r[k - 1], c[k - 1], v[k - 1] = i - 1, j - 1, x
    end
    local rc = C.ci_csr_from_coo64(nrows or maxr, ncols or maxc, n, r, c, v, box)
    if rc ~= 0 then fail(where) end
    return wrap(box[0])
  end

  -- ci.sparse.from_dense(t): CSR of a 2-d tensor (exact zeros are not stored).
  local function from_dense(t)
    if not is_tensor(t) then
      error("ci.sparse.from_dense: t must be a tensor, got " .. what(t), 2)
    end
    if t.ndim ~= 2 then
      error(fmt("ci.sparse.from_dense: t must be 2-d, got shape %s", T.shape_string(t)), 2)
    end
    if C.ci_csr_from_dense(t, box) ~= 0 then fail("ci.sparse.from_dense") end
    return wrap(box[0])
  end

  ---------------------------------------------------------------- methods

  local methods = {}

  function methods.size(m, k)
    local f = F(m)
    if k == nil then return { f.nrows, f.ncols } end
    if k == 1 then return f.nrows end
    if k == 2 then return f.ncols end
    error(fmt("sparse:size: dimension %s is out of range 1..2", tostring(k)), 2)
  end

  function methods.nnz(m) return tonumber(F(m).nnz) end
  function methods.dim() return 2 end

  local function index_arg(v, hi, where, argname)
    if not is_int(v) then
      error(fmt("%s: %s = %s is not an integer", where, argname, tostring(v)), 3)
    end
    if v < 1 or v > hi then
      error(fmt("%s: %s = %d is out of range 1..%d", where, argname, v, hi), 3)
    end
    return v - 1
  end

  function methods.get(m, i, j)
    local f = F(m)
    local i0 = index_arg(i, f.nrows, "sparse:get", "i")
    local j0 = index_arg(j, f.ncols, "sparse:get", "j")
    if C.ci_csr_get(m, i0, j0, fbox) ~= 0 then fail("sparse:get") end
    return tonumber(fbox[0])
  end

  function methods.transpose(m)
    if C.ci_csr_transpose(m, box) ~= 0 then fail("sparse:transpose") end
    return wrap(box[0])
  end
  methods.t = methods.transpose

  function methods.todense(m)
    if not T then error("sparse:todense: the tensor module is not loaded", 2) end
    if C.ci_csr_to_dense(m, tbox) ~= 0 then fail("sparse:todense") end
    return T.wrap(tbox[0])
  end

  -- rows, cols, vals as Lua arrays, 1-based, sorted by row then column.
  function methods.triplets(m)
    local rows, cols, vals = {}, {}, {}
    local f = F(m)
    local rp, ci_, v = f.rowptr, f.colidx, f.vals
    local o = 0
    for i = 0, f.nrows - 1 do
      for k = tonumber(rp[i]), tonumber(rp[i + 1]) - 1 do
        o = o + 1
        rows[o], cols[o], vals[o] = i + 1, ci_[k] + 1, tonumber(v[k])
      end
    end
    return rows, cols, vals
  end

  -- A float array of n values from a Lua array, a tensor or a number (constant).
  -- Returns the pointer and the object to keep alive during the call.
  local function scale_vector(s, n, where)
    if type(s) == "number" then
      local buf = ffi.new("float[?]", n > 0 and n or 1)
      for k = 0, n - 1 do buf[k] = s end
      return buf, buf
    end
    local get, len = vector(s, where, "v")
    if len ~= n then
      error(fmt("%s: v has %d entries, expected %d", where, len, n), 3)
    end
    if is_tensor(s) then return s.data, s end
    local buf = ffi.new("float[?]", n > 0 and n or 1)
    for k = 1, n do
      local x = get(k)
      if type(x) ~= "number" then
        error(fmt("%s: v[%d] = %s is not a number", where, k, tostring(x)), 3)
      end
      buf[k - 1] = x
    end
    return buf, buf
  end

  function methods.scale_rows(m, v)
    local p, keep = scale_vector(v, F(m).nrows, "sparse:scale_rows")
    local rc = C.ci_csr_scale_rows(m, p, box)
    keep = nil -- luacheck: ignore (kept alive until here)
    if rc ~= 0 then fail("sparse:scale_rows") end
    return wrap(box[0])
  end

  function methods.scale_cols(m, v)
    local p, keep = scale_vector(v, F(m).ncols, "sparse:scale_cols")
    local rc = C.ci_csr_scale_cols(m, p, box)
    keep = nil -- luacheck: ignore
    if rc ~= 0 then fail("sparse:scale_cols") end
    return wrap(box[0])
  end

  -- m * t: t a tensor of shape (ncols) or (ncols, B) (recorded on the tape), or a number.
  local function mul(a, b)
    local where = "sparse *"
    if is_sparse(a) and is_tensor(b) then
      local f = F(a)
      if (b.ndim ~= 1 and b.ndim ~= 2) or b.shape[0] ~= f.ncols then
        error(fmt("%s: matrix of size %dx%d cannot multiply a tensor of shape %s, expected (%d) or (%dxB)",
                  where, f.nrows, f.ncols, T.shape_string(b), f.ncols, f.ncols), 2)
      end
      if C.ci_sparse_mm(a, b, tbox) ~= 0 then fail(where) end
      return T.wrap(tbox[0])
    elseif is_sparse(a) and type(b) == "number" then
      return methods.scale_rows(a, b)
    elseif type(a) == "number" and is_sparse(b) then
      return methods.scale_rows(b, a)
    end
    local other = is_sparse(a) and b or a
    error(fmt("%s: expected a tensor or a number on the right, got %s", where, what(other)), 2)
  end

  local function num_str(x)
    if x == math.floor(x) and math.abs(x) < 1e15 then return fmt("%d", x) end
    return fmt("%.6g", x)
  end

  local SHOW = 8
  local function tostring_sparse(m)
    local f = F(m)
    local nnz = tonumber(f.nnz)
    local out = { fmt("ci.sparse %dx%d, %d nonzero%s", f.nrows, f.ncols, nnz,
                      nnz == 1 and "" or "s") }
    local rp, cidx, v = f.rowptr, f.colidx, f.vals
    local shown = 0
    for i = 0, f.nrows - 1 do
      if shown >= SHOW then break end
      for k = tonumber(rp[i]), tonumber(rp[i + 1]) - 1 do
        if shown >= SHOW then break end
        out[#out + 1] = fmt("  (%d, %d)  %s", i + 1, cidx[k] + 1, num_str(tonumber(v[k])))
        shown = shown + 1
      end
    end
    if nnz > shown then out[#out + 1] = fmt("  ... (%d more)", nnz - shown) end
    return table.concat(out, "\n")
  end

  -- m.nrows, m.ncols, m.rowptr, m.colidx, m.vals read the C fields (m:nnz() is
  -- the method; the field is F(m).nnz).
  local FIELDS = { nrows = true, ncols = true, rowptr = true, colidx = true, vals = true }
  -- every method checks its self: m.nnz(tensor) must not read a tensor as a matrix
  util.guard_methods(methods, is_sparse, { prefix = "sparse", what = "a ci.sparse matrix", var = "m" })
  ffi.metatype("ci_csr", {
    __index = function(m, k)
      local f = methods[k]
      if f ~= nil then return f end
      if FIELDS[k] then return F(m)[k] end
      return nil
    end,
    __mul = mul,
    __tostring = tostring_sparse,
  })

  ---------------------------------------------------------------- declarations (help, docs/API.md)

  local TOPIC = "Sparse matrices"
  O.add_describer(function(v)
    if is_sparse(v) then return fmt("a sparse matrix (%dx%d)", F(v).nrows, F(v).ncols) end
  end)
  O.class { prefix = "sparse", var = "m", name = "ci.sparse", methods = methods, is = is_sparse,
    topic = TOPIC, doc = [[A sparse matrix (ci.sparse) is a CSR matrix of float32 values with
    1-based row and column indices: the weights of a network (post in rows) or an inprop
    matrix (pre in rows). `m * t` multiplies it with a dense tensor (n) or (n, B), recorded on
    the tape; `m.nrows`, `m.ncols` read its size.]] }
  O.declare { name = "ci.sparse", topic = TOPIC,
    doc = [[A sparse matrix from 1-based COO triplets (row i, column j, value v); duplicate
    pairs are summed. nrows and ncols default to the largest index given.]],
    args = { { "rows", "array|tensor", "the row of each entry" },
             { "cols", "array|tensor", "the column of each entry" },
             { "vals", "array|tensor", "the values" },
             { "nrows", "integer", "the number of rows", optional = true },
             { "ncols", "integer", "the number of columns", optional = true } },
    returns = { { "m", "sparse", "the matrix" } },
    example = [[local W = ci.sparse({2, 3, 2}, {1, 2, 1}, {0.5, 0.8, 0.25}, 3, 3)
print(W:nnz(), W:get(2, 1))  --> 2 0.75]] }
  O.declare { name = "ci.sparse.from_dense", topic = TOPIC,
    doc = "The sparse matrix of a 2-d tensor (exact zeros are not stored).",
    args = { { "t", "tensor", "a 2-d tensor" } }, returns = "m",
    example = [[print(ci.sparse.from_dense(ci.tensor{{0, 1}, {2, 0}}):nnz())  --> 2]] }
  O.declare { name = "ci.is_sparse", topic = TOPIC, doc = "Whether x is a sparse matrix.",
    args = "x", returns = "boolean",
    example = [[print(ci.is_sparse(ci.sparse({1}, {1}, {1})), ci.is_sparse(ci.zeros(1, 1)))  --> true false]] }
  O.declare_methods("sparse", TOPIC, {
    { "size", "k?", "array|integer", "{nrows, ncols}, or the size of dimension k (1 or 2).",
      [[print(ci.sparse({1}, {3}, {1}, 2, 4):size(2))  --> 4]] },
    { "nnz", "", "integer", "The number of stored entries.", [[print(ci.sparse({1, 2}, {1, 2}, {1, 1}):nnz())  --> 2]] },
    { "dim", "", "integer", "2, as for a 2-d tensor.", [[print(ci.sparse({1}, {1}, {1}):dim())  --> 2]] },
    { "get", "i, j", "number", "The value at row i, column j (0 when not stored).",
      [[local m = ci.sparse({1}, {2}, {5}, 2, 2)
print(m:get(1, 2), m:get(2, 1))  --> 5 0]] },
    { "transpose", "", "sparse", "The transpose (a new matrix); m:t() is the same.",
      [[print(ci.sparse({1}, {2}, {5}, 2, 2):transpose():get(2, 1))  --> 5]], { "sparse:t" } },
    { "todense", "", "tensor", "The matrix as a dense 2-d tensor.",
      [[print(ci.sparse({2}, {1}, {3}, 2, 2):todense():get(2, 1))  --> 3]] },
    { "triplets", "", "rows, cols, vals",
      "The stored entries as three Lua arrays (1-based rows and columns, sorted by row then column).",
      [[local r, c, v = ci.sparse({2, 1}, {1, 2}, {3, 4}):triplets()
print(r[1], c[1], v[1])  --> 1 2 4]] },
    { "scale_rows", "v", "sparse",
      "A new matrix with row i multiplied by v[i] (v a Lua array, a tensor or a number); m * number is the same.",
      [[print(ci.sparse({1, 2}, {1, 1}, {1, 1}):scale_rows{2, -1}:get(2, 1))  --> -1]] },
    { "scale_cols", "v", "sparse", "A new matrix with column j multiplied by v[j].",
      [[print(ci.sparse({1, 1}, {1, 2}, {1, 1}):scale_cols{3, 4}:get(1, 2))  --> 4]] },
  })

  ci._sparse = { methods = methods, wrap = wrap, is_sparse = is_sparse, fields = F }
  ci.sparse = setmetatable({ from_dense = from_dense }, {
    __call = function(_, ...) return from_coo(...) end,
  })
  ci.is_sparse = is_sparse
  ci._register_methods("sparse", is_sparse, methods)
end
