-- cinterp.tensor: the Lua face of the engine's dense float32 tensors (core/tensor*.c):
-- constructors (ci.tensor, ci.zeros, ...), the metatype of ci_tensor* (methods,
-- arithmetic operators with broadcasting, printing) and ci.cat / ci.stack / ci.where.
-- Indices and dims are 1-based here; the C layer is 0-based.
local engine = require "cinterp.ffi"
local util = require "cinterp.util"
local ffi, C = engine.ffi, engine.C

local M = {}               -- internals shared with the other modules (ci._tensor)
local methods = {}         -- t:method(...)
M.methods = methods

local box = ffi.new("ci_tensor*[1]")
local box2 = ffi.new("ci_tensor*[1]")
local shape_buf = ffi.new("int64_t[4]")
local tensor_ptr = ffi.typeof("ci_tensor*")

local floor, huge = math.floor, math.huge
local is_int = util.is_int
local fmt = string.format
local select, type, tonumber = select, type, tonumber

-- Wraps a new reference from C so that Lua's GC releases it.
local function wrap(p) return util.gc_owned(p, tonumber(p.nel) * 4, C.ci_tensor_release) end
M.wrap = wrap

local fail = util.fail
M.fail = fail

local function is_tensor(x) return type(x) == "cdata" and ffi.istype(tensor_ptr, x) end
M.is_tensor = is_tensor

local typename = util.type_name

local function check_tensor(x, where, what)
  if not is_tensor(x) then
    error(fmt("%s: %s must be a tensor, got %s", where, what, typename(x)), 3)
  end
  return x
end

-- Runs f(args..., box) and returns the new tensor in box.
local function call1(where, rc)
  if rc ~= 0 then fail(where, 3) end
  return wrap(box[0])
end

local function shape_of(t)
  local s = {}
  for i = 0, t.ndim - 1 do s[i + 1] = tonumber(t.shape[i]) end
  return s
end

local function shape_string(t)
  local s = shape_of(t)
  return "(" .. table.concat(s, "x") .. ")"
end
M.shape_string = shape_string

-- Sizes given as numbers or as one table; checked.
local function sizes(where, ...)
  local n = select("#", ...)
  local list = { ... }
  if n == 1 and type(list[1]) == "table" then
    list = list[1]
    n = #list
  end
  if n > 4 then error(fmt("%s: at most 4 dimensions, got %d sizes", where, n), 3) end
  for i = 1, n do
    local s = list[i]
    if not is_int(s) or s < 0 then
      error(fmt("%s: size %d = %s must be a non-negative integer", where, i, tostring(s)), 3)
    end
    shape_buf[i - 1] = s
  end
  return n
end

local function new_zeros(where, n)
  return call1(where, C.ci_tensor_new(n, shape_buf, box))
end

-- dim argument (1-based, negative counts from the end) -> 0-based C dim.
local function cdim(t, dim, where, argname)
  local nd = t.ndim
  if not is_int(dim) then
    error(fmt("%s: %s must be an integer, got %s", where, argname or "dim", tostring(dim)), 3)
  end
  if dim < 0 then dim = nd + dim + 1 end
  if dim < 1 or dim > nd then
    error(fmt("%s: %s = %d is out of range 1..%d", where, argname or "dim", dim, nd), 3)
  end
  return dim - 1
end

----------------------------------------------------------------------- constructors

-- ci.tensor(nested table | number | tensor)
local function from_table(x)
  local where = "ci.tensor"
  if type(x) == "number" then
    return call1(where, C.ci_tensor_full(0, nil, x, box))
  end
  if is_tensor(x) then return x:detach() end
  if type(x) ~= "table" or getmetatable(x) ~= nil then  -- a frame, a network, ... is no table of numbers
    error(fmt("%s: expected a (nested) table of numbers or a number, got %s", where,
              type(x) == "table" and "a table with a metatable (a ci.frame or other object)" or type(x)), 2)
  end
  local shape, v = {}, x
  while type(v) == "table" do
    shape[#shape + 1] = #v
    if #shape > 4 then error(where .. ": at most 4 dimensions", 2) end
    if #v == 0 then break end
    v = v[1]
  end
  local nd = #shape
  for i = 1, nd do shape_buf[i - 1] = shape[i] end
  local t = new_zeros(where, nd)
  local data, k = t.data, 0
  local path = {}
  local function pos(d)
    local p = {}
    for i = 1, d do p[i] = "[" .. path[i] .. "]" end
    return table.concat(p)
  end
  local function walk(v, d)
    if d > nd then
      if type(v) ~= "number" then
        error(fmt("%s: element %s is a %s, expected a number", where, pos(d - 1), typename(v)), 0)
      end
      data[k] = v
      k = k + 1
      return
    end
    local label = d == 2 and ("row " .. path[1]) or ("entry " .. pos(d - 1))
    if type(v) ~= "table" then
      error(fmt("%s: %s is a %s, expected a table of %d elements", where, label, typename(v),
                shape[d]), 0)
    end
    if #v ~= shape[d] then
      error(fmt("%s: %s has %d elements, expected %d", where, label, #v, shape[d]), 0)
    end
    for i = 1, #v do
      path[d] = i
      walk(v[i], d + 1)
    end
  end
  local ok, err = pcall(walk, x, 1)
  if not ok then error(err, 2) end
  return t
end

local function filled(where, v, ...)
  local n = sizes(where, ...)
  return call1(where, C.ci_tensor_full(n, shape_buf, v, box))
end

local function zeros(...) return filled("ci.zeros", 0, ...) end
local function ones(...) return filled("ci.ones", 1, ...) end
local function full(v, ...)
  if type(v) ~= "number" then error("ci.full: v must be a number, got " .. typename(v), 2) end
  return filled("ci.full", v, ...)
end
local function rand(...)
  local n = sizes("ci.rand", ...)
  return call1("ci.rand", C.ci_tensor_rand(n, shape_buf, box))
end
local function randn(...)
  local n = sizes("ci.randn", ...)
  return call1("ci.randn", C.ci_tensor_randn(n, shape_buf, box))
end

-- ci.arange(stop) = 0..stop-1, ci.arange(start, stop, step?) as torch (values, not indices).
local function arange(a, b, step)
  if b == nil then a, b = 0, a end
  step = step or 1
  for i, v in ipairs { a, b, step } do
    if type(v) ~= "number" then error(fmt("ci.arange: argument %d must be a number", i), 2) end
  end
  if step == 0 then error("ci.arange: step must not be 0", 2) end
  local n = math.max(0, math.ceil((b - a) / step))
  shape_buf[0] = n
  local t = new_zeros("ci.arange", 1)
  for i = 0, n - 1 do t.data[i] = a + i * step end
  return t
end

----------------------------------------------------------------------- inspection

function methods.dim(t) return t.ndim end
function methods.numel(t) return tonumber(t.nel) end

function methods.size(t, k)
  if k == nil then return shape_of(t) end
  return tonumber(t.shape[cdim(t, k, "tensor:size", "k")])
end

function methods.float_ptr(t) return t.data end

-- flat 0-based offset of 1-based indices, checked.
local function offset(t, where, ...)
  local nd = t.ndim
  local n = select("#", ...)
  if n ~= nd then
    error(fmt("%s: the tensor has %d dimensions, got %d indices", where, nd, n), 3)
  end
  local off = 0
  for k = 1, nd do
    local i = select(k, ...)
    local s = tonumber(t.shape[k - 1])
    if not is_int(i) or i < 1 or i > s then
      error(fmt("%s: index %d = %s is out of range 1..%d", where, k, tostring(i), s), 3)
    end
    off = off * s + (i - 1)
  end
  return off
end

function methods.get(t, ...) return t.data[offset(t, "tensor:get", ...)] end

function methods.set(t, v, ...)
  if type(v) ~= "number" then error("tensor:set: v must be a number, got " .. typename(v), 2) end
  t.data[offset(t, "tensor:set", ...)] = v
  return t
end

function methods.item(t)
  if t.nel ~= 1 then
    error(fmt("tensor:item: the tensor has %d elements, expected 1", tonumber(t.nel)), 2)
  end
  return t.data[0]
end

function methods.totable(t)
  local nd, data = t.ndim, t.data
  if nd == 0 then return data[0] end
  local s = shape_of(t)
  local k = 0
  local function build(d)
    local r = {}
    if d == nd then
      for i = 1, s[d] do r[i] = data[k]; k = k + 1 end
    else
      for i = 1, s[d] do r[i] = build(d + 1) end
    end
    return r
  end
  -- not a tail call: t must stay on the stack (alive) while build reads its data;
  -- `return build(1)` let the GC free a temporary tensor mid-read (ci.rand(n, 3):totable())
  local res = build(1)
  if t == nil then error("unreachable") end  -- a use of t after build(1)
  return res
end

----------------------------------------------------------------------- copies, in place

function methods.clone(t) return call1("tensor:clone", C.ci_tensor_clone(t, box)) end
function methods.detach(t) return call1("tensor:detach", C.ci_tensor_detach(t, box)) end

function methods.fill(t, v)
  if type(v) ~= "number" then error("tensor:fill: v must be a number, got " .. typename(v), 2) end
  if C.ci_tensor_fill_(t, v) ~= 0 then fail("tensor:fill") end
  return t
end
function methods.zero(t) return methods.fill(t, 0) end

function methods.copy(t, src)
  if type(src) == "table" then src = from_table(src) end
  check_tensor(src, "tensor:copy", "src")
  if C.ci_tensor_copy_(t, src) ~= 0 then fail("tensor:copy") end
  return t
end

-- t:add_(u, alpha?): t += alpha * u in place (not recorded; for optimisers).
function methods.add_(t, u, alpha)
  check_tensor(u, "tensor:add_", "u")
  if C.ci_tensor_add_(t, u, alpha or 1) ~= 0 then fail("tensor:add_") end
  return t
end

----------------------------------------------------------------------- arithmetic

local OP = { add = 0, sub = 1, mul = 2, div = 3, pow = 4, rsub = 5, rdiv = 6, rpow = 7,
             gt = 8, ge = 9, lt = 10, le = 11, eq = 12, ne = 13, maximum = 14, minimum = 15 }

local function binop(op, rop, where)
  return function(a, b)
    if type(b) == "number" and is_tensor(a) then
      return call1(where, C.ci_tensor_scalar_op(op, a, b, box))
    elseif type(a) == "number" and is_tensor(b) then
      return call1(where, C.ci_tensor_scalar_op(rop, b, a, box))
    elseif is_tensor(a) and is_tensor(b) then
      return call1(where, C.ci_tensor_binary(op, a, b, box))
    end
    local bad = is_tensor(a) and b or a
    error(fmt("%s: expected tensors or numbers, got %s", where, typename(bad)), 2)
  end
end

local add = binop(OP.add, OP.add, "tensor +")
local sub = binop(OP.sub, OP.rsub, "tensor -")
local mul = binop(OP.mul, OP.mul, "tensor *")
local div = binop(OP.div, OP.rdiv, "tensor /")
local pow = binop(OP.pow, OP.rpow, "tensor:pow")
methods.add, methods.sub, methods.mul, methods.div, methods.pow = add, sub, mul, div, pow
methods.maximum = binop(OP.maximum, OP.maximum, "tensor:maximum")
methods.minimum = binop(OP.minimum, OP.minimum, "tensor:minimum")
for _, name in ipairs { "gt", "ge", "lt", "le", "eq", "ne" } do
  methods[name] = binop(OP[name], OP[name], "tensor:" .. name)
end
-- with a number on the left the comparison flips
methods.gt = binop(OP.gt, OP.lt, "tensor:gt")
methods.ge = binop(OP.ge, OP.le, "tensor:ge")
methods.lt = binop(OP.lt, OP.gt, "tensor:lt")
methods.le = binop(OP.le, OP.ge, "tensor:le")

local UN = { neg = 0, abs = 1, sqrt = 2, exp = 3, log = 4, tanh = 5, relu = 6, sign = 7,
             sigmoid = 8 }
for name, code in pairs(UN) do
  local where = "tensor:" .. name
  methods[name] = function(t)
    check_tensor(t, where, "self")
    return call1(where, C.ci_tensor_unary(code, t, box))
  end
end

function methods.clamp(t, lo, hi)
  if lo ~= nil and type(lo) ~= "number" then error("tensor:clamp: lo must be a number or nil", 2) end
  if hi ~= nil and type(hi) ~= "number" then error("tensor:clamp: hi must be a number or nil", 2) end
  return call1("tensor:clamp", C.ci_tensor_clamp(t, lo or -huge, hi or huge, box))
end

function methods.matmul(a, b)
  check_tensor(b, "tensor:matmul", "other")
  return call1("tensor:matmul", C.ci_tensor_matmul(a, b, box))
end

----------------------------------------------------------------------- reductions

local function reducer(name, cfn)
  local where = "tensor:" .. name
  return function(t, dim)
    local d = dim == nil and -1 or cdim(t, dim, where)
    return call1(where, cfn(t, d, box))
  end
end
methods.sum = reducer("sum", C.ci_tensor_sum)
methods.mean = reducer("mean", C.ci_tensor_mean)

-- t:max() -> 0-d tensor; t:max(dim) -> values, indices (1-based, a float tensor)
local function extreme(name, cfn)
  local where = "tensor:" .. name
  return function(t, dim)
    if dim == nil then
      if cfn(t, -1, box, nil) ~= 0 then fail(where) end
      return wrap(box[0])
    end
    local d = cdim(t, dim, where)
    if cfn(t, d, box, box2) ~= 0 then fail(where) end
    local v, i = wrap(box[0]), wrap(box2[0])
    local data = i.data
    for k = 0, tonumber(i.nel) - 1 do data[k] = data[k] + 1 end
    return v, i
  end
end
methods.max = extreme("max", C.ci_tensor_max)
methods.min = extreme("min", C.ci_tensor_min)

function methods.norm(t, p)
  p = p or 2
  if type(p) ~= "number" then error("tensor:norm: p must be a number", 2) end
  return call1("tensor:norm", C.ci_tensor_norm(t, p, box))
end

----------------------------------------------------------------------- indexing, shapes

function methods.select(t, dim, i)
  local d = cdim(t, dim, "tensor:select")
  local s = tonumber(t.shape[d])
  if not is_int(i) or i < 1 or i > s then
    error(fmt("tensor:select: index %s is out of range 1..%d of dim %d", tostring(i), s, d + 1), 2)
  end
  return call1("tensor:select", C.ci_tensor_select(t, d, i - 1, box))
end

function methods.narrow(t, dim, i, len)
  local d = cdim(t, dim, "tensor:narrow")
  local s = tonumber(t.shape[d])
  if not is_int(i) or i < 1 or i > s + 1 then
    error(fmt("tensor:narrow: start %s is out of range 1..%d of dim %d", tostring(i), s, d + 1), 2)
  end
  if not is_int(len) or len < 0 or i - 1 + len > s then
    error(fmt("tensor:narrow: length %s from %d exceeds size %d of dim %d", tostring(len), i, s,
              d + 1), 2)
  end
  return call1("tensor:narrow", C.ci_tensor_narrow(t, d, i - 1, len, box))
end

function methods.index(t, dim, idx)
  local where = "tensor:index"
  local d = cdim(t, dim, where)
  local s = tonumber(t.shape[d])
  local n, get
  if is_tensor(idx) then
    if idx.ndim > 1 then error(where .. ": idx must be 1-d", 2) end
    n = tonumber(idx.nel)
    get = function(k) return idx.data[k - 1] end
  elseif type(idx) == "table" then
    n = #idx
    get = function(k) return idx[k] end
  else
    error(where .. ": idx must be a Lua array or a tensor of 1-based indices, got " .. typename(idx), 2)
  end
  local buf = ffi.new("int64_t[?]", math.max(n, 1))
  for k = 1, n do
    local v = get(k)
    if not is_int(v) or v < 1 or v > s then
      error(fmt("%s: idx[%d] = %s is out of range 1..%d", where, k, tostring(v), s), 2)
    end
    buf[k - 1] = v - 1
  end
  return call1(where, C.ci_tensor_index_select(t, d, buf, n, box))
end

local function reshape(t, ...)
  local where = "tensor:reshape"
  local n = select("#", ...)
  local list = { ... }
  if n == 1 and type(list[1]) == "table" then list = list[1]; n = #list end
  if n > 4 then error(where .. ": at most 4 dimensions", 2) end
  for i = 1, n do
    local s = list[i]
    if not is_int(s) or s < -1 then
      error(fmt("%s: size %d = %s must be a non-negative integer or -1", where, i, tostring(s)), 2)
    end
    shape_buf[i - 1] = s
  end
  return call1(where, C.ci_tensor_reshape(t, n, shape_buf, box))
end
methods.reshape, methods.view = reshape, reshape

function methods.flatten(t) return reshape(t, -1) end

function methods.unsqueeze(t, dim)
  local nd = t.ndim
  if not is_int(dim) then error("tensor:unsqueeze: dim must be an integer", 2) end
  if dim < 0 then dim = nd + dim + 2 end
  if dim < 1 or dim > nd + 1 then
    error(fmt("tensor:unsqueeze: dim = %d is out of range 1..%d", dim, nd + 1), 2)
  end
  local s = shape_of(t)
  table.insert(s, dim, 1)
  return reshape(t, s)
end

function methods.squeeze(t, dim)
  local s, r = shape_of(t), {}
  if dim ~= nil then
    local d = cdim(t, dim, "tensor:squeeze") + 1
    for i = 1, #s do if i ~= d or s[i] ~= 1 then r[#r + 1] = s[i] end end
  else
    for i = 1, #s do if s[i] ~= 1 then r[#r + 1] = s[i] end end
  end
  return reshape(t, r)
end

local perm_buf = ffi.new("int32_t[4]")
function methods.permute(t, ...)
  local where = "tensor:permute"
  local list = { ... }
  if #list == 1 and type(list[1]) == "table" then list = list[1] end
  if #list ~= t.ndim then
    error(fmt("%s: the tensor has %d dimensions, got %d", where, t.ndim, #list), 2)
  end
  for k = 1, #list do perm_buf[k - 1] = cdim(t, list[k], where, "dims[" .. k .. "]") end
  return call1(where, C.ci_tensor_permute(t, perm_buf, box))
end

function methods.transpose(t, d1, d2)
  local where = "tensor:transpose"
  local a, b = cdim(t, d1, where, "dim1"), cdim(t, d2, where, "dim2")
  for k = 0, t.ndim - 1 do perm_buf[k] = k end
  perm_buf[a], perm_buf[b] = b, a
  return call1(where, C.ci_tensor_permute(t, perm_buf, box))
end

function methods.t(t)
  if t.ndim ~= 2 then error("tensor:t: expects a 2-d tensor, got " .. shape_string(t), 2) end
  return methods.transpose(t, 1, 2)
end

-- ci.cat(list, dim = 1)
local function cat(list, dim)
  local where = "ci.cat"
  if type(list) ~= "table" or #list == 0 then
    error(where .. ": list must be a non-empty Lua array of tensors", 2)
  end
  local n = #list
  local arr = ffi.new("ci_tensor*[?]", n)
  for k = 1, n do
    if not is_tensor(list[k]) then
      error(fmt("%s: list[%d] is a %s, expected a tensor", where, k, typename(list[k])), 2)
    end
    arr[k - 1] = list[k]
  end
  local d = cdim(list[1], dim or 1, where)
  local rc = C.ci_tensor_cat(n, arr, d, box)
  local _ = list   -- keeps the tensors alive across the call
  if rc ~= 0 then fail(where) end
  return wrap(box[0])
end

-- ci.stack(list, dim = 1): a new dimension at dim.
local function stack(list, dim)
  local where = "ci.stack"
  if type(list) ~= "table" or #list == 0 then
    error(where .. ": list must be a non-empty Lua array of tensors", 2)
  end
  dim = dim or 1
  local parts = {}
  for k = 1, #list do
    if not is_tensor(list[k]) then
      error(fmt("%s: list[%d] is a %s, expected a tensor", where, k, typename(list[k])), 2)
    end
    local s1, sk = shape_string(list[1]), shape_string(list[k])
    if s1 ~= sk then
      error(fmt("%s: list[%d] has shape %s, list[1] has %s", where, k, sk, s1), 2)
    end
    parts[k] = methods.unsqueeze(list[k], dim)
  end
  return cat(parts, dim)
end

local function as_tensor(x, where, what)
  if type(x) == "number" then return call1(where, C.ci_tensor_full(0, nil, x, box)) end
  return check_tensor(x, where, what)
end

-- ci.where(mask, a, b): a where mask ~= 0, else b (numbers allowed).
local function where_(mask, a, b)
  local w = "ci.where"
  mask = check_tensor(mask, w, "mask")
  a, b = as_tensor(a, w, "a"), as_tensor(b, w, "b")
  return call1(w, C.ci_tensor_where(mask, a, b, box))
end

----------------------------------------------------------------------- printing

local MAX_ROWS, MAX_COLS, MAX_SLICES, EDGE = 10, 10, 6, 3

local function num_str(v)
  if v ~= v then return "nan" end
  if v == huge then return "inf" end
  if v == -huge then return "-inf" end
  return fmt("%.4g", v)
end

-- indices shown of a dimension of size n (a 0 entry stands for "...").
local function shown(n, limit)
  local r = {}
  if n <= limit then
    for i = 1, n do r[i] = i end
  else
    for i = 1, EDGE do r[#r + 1] = i end
    r[#r + 1] = 0
    for i = n - EDGE + 1, n do r[#r + 1] = i end
  end
  return r
end

local function tostring_tensor(t)
  local s = shape_of(t)
  local nd = #s
  local head = fmt("ci.tensor %s float32", "(" .. table.concat(s, "x") .. ")")
  local fn = C.ci_tensor_grad_fn_name(t)
  if t.grad_fn ~= nil then
    head = head .. ", grad_fn=" .. ffi.string(fn)
  elseif t.grad_on ~= 0 then
    head = head .. ", requires_grad"
  end
  if t.on_device ~= 0 then return head .. ", on the GPU" end
  local data = t.data
  if nd == 0 then return head .. "\n" .. num_str(data[0]) end
  if t.nel == 0 then return head .. "\n[]" end
  -- the rows x cols matrix of a slice: 1-d is one row
  local rows = nd >= 2 and s[nd - 1] or 1
  local cols = s[nd]
  local ri, ci = shown(rows, MAX_ROWS), shown(cols, MAX_COLS)
  -- the slices of the leading dims
  local lead = {}
  if nd == 3 then
    for _, i in ipairs(shown(s[1], MAX_SLICES)) do lead[#lead + 1] = { i } end
  elseif nd == 4 then
    for _, i in ipairs(shown(s[1], MAX_SLICES)) do
      if i == 0 then lead[#lead + 1] = { 0 }
      else
        for _, j in ipairs(shown(s[2], MAX_SLICES)) do lead[#lead + 1] = { i, j } end
      end
    end
  else
    lead[1] = {}
  end
  -- format every shown element first, for one column width
  local cells, width = {}, 1
  for li, l in ipairs(lead) do
    local skip = false
    for _, v in ipairs(l) do if v == 0 then skip = true end end
    if not skip then
      local base = 0
      if nd == 3 then base = (l[1] - 1) * rows * cols
      elseif nd == 4 then base = ((l[1] - 1) * s[2] + (l[2] - 1)) * rows * cols end
      cells[li] = {}
      for a, r in ipairs(ri) do
        cells[li][a] = {}
        for b, c in ipairs(ci) do
          local str = "..."
          if r ~= 0 and c ~= 0 then str = num_str(data[base + (r - 1) * cols + (c - 1)]) end
          if r == 0 then str = (b == 1) and "..." or "" end
          cells[li][a][b] = str
          if #str > width then width = #str end
        end
      end
    end
  end
  local out = { head }
  for li, l in ipairs(lead) do
    if not cells[li] then
      out[#out + 1] = "..."
    else
      if nd == 3 then out[#out + 1] = fmt("[%d,:,:]", l[1]) end
      if nd == 4 then out[#out + 1] = fmt("[%d,%d,:,:]", l[1], l[2]) end
      for a, r in ipairs(ri) do
        if r == 0 then
          out[#out + 1] = "  " .. fmt("%" .. width .. "s", "...")
        else
          local line = {}
          for b = 1, #ci do line[b] = fmt("%" .. width .. "s", cells[li][a][b]) end
          out[#out + 1] = "  " .. table.concat(line, "  ")
        end
      end
    end
  end
  return table.concat(out, "\n")
end
M.tostring = tostring_tensor

----------------------------------------------------------------------- the metatype

-- ci_tensor is an incomplete type to LuaJIT (see core/cinterp.h): its fields are
-- read and written through a cast to ci_tensor_fields*.
local fields_ptr = ffi.typeof("ci_tensor_fields*")
local FIELD = { data = true, nel = true, shape = true, ndim = true, refcount = true,
                grad_on = true, on_device = true, grad_t = true, grad_fn = true }
local cast = ffi.cast

local mt = {
  __add = add, __sub = sub, __mul = mul, __div = div, __pow = pow,
  __unm = function(t) return methods.neg(t) end,
  __tostring = tostring_tensor,
  __index = function(t, k)
    if FIELD[k] then return cast(fields_ptr, t)[k] end
    local m = methods[k]
    if m ~= nil then return m end
    if k == "grad" then
      local g = t.grad_t
      if g == nil then return nil end
      C.ci_tensor_retain(g)
      return wrap(g)
    end
    return nil
  end,
  __newindex = function(t, k, v)
    if FIELD[k] then
      cast(fields_ptr, t)[k] = v
      return
    end
    if k == "grad" and v == nil then
      C.ci_tensor_zero_grad(t)
      return
    end
    error("tensor: cannot assign the field '" .. tostring(k) .. "'", 2)
  end,
}
-- Every method checks its self (t.sum(frame) is an error naming the method, not a
-- crash inside the FFI); methods added later (tape.lua, ...) are checked the same way.
util.guard_methods(methods, is_tensor, { prefix = "tensor", what = "a tensor", var = "t", later = true })
ffi.metatype("ci_tensor", mt)

----------------------------------------------------------------------- declarations (help, docs/API.md)

local O = require "cinterp.options"
local TOPIC = "Tensors"

O.add_describer(function(v) if is_tensor(v) then return "a tensor " .. shape_string(v) end end)

O.class{ prefix = "tensor", var = "t", name = "ci.tensor", methods = methods, is = is_tensor,
  topic = TOPIC, doc = [[A tensor holds float32 values, dense and row-major, in 0 to 4
dimensions; every index and dimension is 1-based and a negative dim counts from the end.
The operators + - * / and ^ take tensors or numbers and broadcast as in torch; ops on a
tensor that requires grad are recorded on the tape (see Autodiff). `tostring(t)` prints
an abbreviated view; `t.grad` is the accumulated gradient of a leaf.]] }

O.declare{ name = "ci.tensor", topic = TOPIC,
  doc = [[A new tensor from a nested Lua table of numbers (up to 4 levels, every row of
the same length), from a number (a 0-d tensor) or from a tensor (a copy off the tape).]],
  args = { { "x", "table|number|tensor", "the values: {{1, 2}, {3, 4}} is 2x2" } },
  returns = { { "t", "tensor", "a new tensor" } },
  example = [[local t = ci.tensor{{1, 2, 3}, {4, 5, 6}}
print(t:size(1), t:size(2))  --> 2 3
print(t:get(2, 3))  --> 6]] }

local SIZES = { "...", "integer|array", "the sizes d1, d2, ... (at most 4), or one Lua array of them" }
O.declare{ name = "ci.zeros", topic = TOPIC, doc = "A tensor of the given sizes filled with 0.",
  args = { SIZES }, returns = "t",
  example = [[local z = ci.zeros(2, 3)
print(z:numel(), z:sum():item())  --> 6 0]] }
O.declare{ name = "ci.ones", topic = TOPIC, doc = "A tensor of the given sizes filled with 1.",
  args = { SIZES }, returns = "t",
  example = [[print(ci.ones{2, 2}:sum():item())  --> 4]] }
O.declare{ name = "ci.full", topic = TOPIC, doc = "A tensor of the given sizes filled with v.",
  args = { { "v", "number", "the value" }, SIZES }, returns = "t",
  example = [[print(ci.full(0.5, 4):sum():item())  --> 2]] }
O.declare{ name = "ci.rand", topic = TOPIC,
  doc = "A tensor of uniform random values in [0, 1); ci.manual_seed makes the draw reproducible.",
  args = { SIZES }, returns = "t",
  example = [[ci.manual_seed(1)
local r = ci.rand(2, 3)
print(r:min():item() >= 0, r:max():item() < 1)  --> true true]] }
O.declare{ name = "ci.randn", topic = TOPIC,
  doc = "A tensor of standard normal random values; ci.manual_seed makes the draw reproducible.",
  args = { SIZES }, returns = "t",
  example = [[ci.manual_seed(1)
print(math.abs(ci.randn(10000):mean():item()) < 0.05)  --> true]] }
O.declare{ name = "ci.arange", topic = TOPIC,
  doc = [[A 1-d tensor of the values start, start + step, ... below stop, as torch.arange:
ci.arange(n) is 0 .. n-1 (values, not indices).]],
  args = { { "start", "number", "the first value (the stop when it is the only argument)" },
           { "stop", "number", "the end (excluded)", optional = true },
           { "step", "number", "the increment, default 1", optional = true } },
  returns = "t",
  example = [[print(ci.arange(4):sum():item())  --> 6
print(ci.arange(1, 7, 2):totable()[3])  --> 5]] }
O.declare{ name = "ci.is_tensor", topic = TOPIC, doc = "Whether x is a tensor.",
  args = "x", returns = "boolean",
  example = [[print(ci.is_tensor(ci.zeros(1)), ci.is_tensor{1})  --> true false]] }
O.declare{ name = "ci.cat", topic = TOPIC,
  doc = "Joins tensors of equal shape except along dim into one (torch.cat).",
  args = { { "list", "array", "a Lua array of tensors" }, { "dim", "integer", "default 1", optional = true } },
  returns = "t",
  example = [[print(ci.cat({ci.ones(2, 3), ci.zeros(1, 3)}):size(1))  --> 3]] }
O.declare{ name = "ci.stack", topic = TOPIC,
  doc = "Stacks tensors of one shape along a new dimension dim (torch.stack).",
  args = { { "list", "array", "a Lua array of tensors of one shape" },
           { "dim", "integer", "default 1", optional = true } },
  returns = "t",
  example = [[local s = ci.stack({ci.ones(3), ci.zeros(3)}, 2)
print(s:size(1), s:size(2))  --> 3 2]] }
O.declare{ name = "ci.where", topic = TOPIC,
  doc = "Elementwise a where mask is nonzero, else b (numbers allowed for a and b; broadcasting).",
  args = { { "mask", "tensor", "nonzero where a is taken" }, { "a", "tensor|number", "" },
           { "b", "tensor|number", "" } },
  returns = "t",
  example = [[local x = ci.tensor{-1, 2, -3}
print(ci.where(x:gt(0), x, 0):sum():item())  --> 2]] }
O.declare{ name = "ci.manual_seed", topic = TOPIC,
  doc = [[Seeds the engine's random generator: every later random draw (ci.rand, ci.randn,
the random start of activation maximisation, the training split) is reproducible.]],
  args = { { "seed", "integer", "the seed" } },
  example = [[ci.manual_seed(7)
local a = ci.rand(3)
ci.manual_seed(7)
print(ci.rand(3):get(2) == a:get(2))  --> true]] }

-- The methods, one entry each: name, arguments, returns, paragraph, example.
local METHODS = {
  { "dim", "", "integer", "The number of dimensions (0 to 4).", [[print(ci.zeros(2, 3):dim())  --> 2]] },
  { "numel", "", "integer", "The number of elements.", [[print(ci.zeros(2, 3):numel())  --> 6]] },
  { "size", "k?", "array|integer",
    "The sizes as a Lua array, or the size of dimension k (1-based, negative from the end).",
    [[local t = ci.zeros(2, 3)
print(t:size()[2], t:size(1), t:size(-1))  --> 3 2 3]] },
  { "float_ptr", "", "cdata",
    "The float* of the data, for FFI code (the tensor must stay alive while it is used).",
    [[local t = ci.tensor{1, 2}
print(t:float_ptr()[1])  --> 2]] },
  { "get", "i, j, ...", "number", "The element at the 1-based indices (one per dimension).",
    [[print(ci.tensor{{1, 2}, {3, 4}}:get(2, 1))  --> 3]] },
  { "set", "v, i, j, ...", "t", "Sets the element at the 1-based indices to v, in place; returns t.",
    [[local t = ci.zeros(2, 2):set(5, 1, 2)
print(t:get(1, 2))  --> 5]] },
  { "item", "", "number", "The value of a one-element tensor.", [[print(ci.tensor{{7}}:item())  --> 7]] },
  { "totable", "", "table", "The values as a nested Lua table (a number for a 0-d tensor).",
    [[print(ci.tensor{{1, 2}, {3, 4}}:totable()[2][1])  --> 3]] },
  { "clone", "", "tensor", "A copy (recorded on the tape when t requires grad).",
    [[local a = ci.ones(2)
local b = a:clone():fill(3)
print(a:get(1), b:get(1))  --> 1 3]] },
  { "detach", "", "tensor", "A copy off the tape (no gradient flows through it).",
    [[local a = ci.ones(2):requires_grad(true)
print((a * 2):detach():requires_grad())  --> false]] },
  { "fill", "v", "t", "Fills t with v in place (not recorded); returns t.",
    [[print(ci.zeros(3):fill(2):sum():item())  --> 6]] },
  { "zero", "", "t", "Fills t with 0 in place; returns t.", [[print(ci.ones(3):zero():sum():item())  --> 0]] },
  { "copy", "src", "t", "Copies the values of src (a tensor or nested table of as many elements) into t, in place.",
    [[print(ci.zeros(2):copy{4, 5}:get(2))  --> 5]] },
  { "add_", "u, alpha?", "t", "t += alpha * u in place (alpha default 1; not recorded, for optimisers).",
    [[print(ci.ones(2):add_(ci.ones(2), 0.5):get(1))  --> 1.5]] },
  { "add", "u", "tensor", "t + u (u a tensor or a number; broadcasting), the same as the operator.",
    [[print(ci.ones(2):add(2):get(1))  --> 3]] },
  { "sub", "u", "tensor", "t - u.", [[print(ci.ones(2):sub(3):get(1))  --> -2]] },
  { "mul", "u", "tensor", "t * u elementwise (use matmul for matrix products).",
    [[print(ci.full(2, 2):mul(ci.tensor{3, 4}):get(2))  --> 8]] },
  { "div", "u", "tensor", "t / u elementwise.", [[print(ci.full(3, 2):div(2):get(1))  --> 1.5]] },
  { "pow", "p", "tensor", "t ^ p elementwise (p a number or a tensor).", [[print(ci.full(3, 1):pow(2):item())  --> 9]] },
  { "maximum", "u", "tensor", "The elementwise maximum of t and u.",
    [[print(ci.tensor{1, 5}:maximum(ci.tensor{3, 2}):sum():item())  --> 8]] },
  { "minimum", "u", "tensor", "The elementwise minimum of t and u.",
    [[print(ci.tensor{1, 5}:minimum(ci.tensor{3, 2}):sum():item())  --> 3]] },
  { "gt", "u", "tensor", "1 where t > u, else 0 (u a tensor or a number).", [[print(ci.tensor{1, 2, 3}:gt(1):sum():item())  --> 2]] },
  { "ge", "u", "tensor", "1 where t >= u, else 0.", [[print(ci.tensor{1, 2, 3}:ge(2):sum():item())  --> 2]] },
  { "lt", "u", "tensor", "1 where t < u, else 0.", [[print(ci.tensor{1, 2, 3}:lt(2):sum():item())  --> 1]] },
  { "le", "u", "tensor", "1 where t <= u, else 0.", [[print(ci.tensor{1, 2, 3}:le(2):sum():item())  --> 2]] },
  { "eq", "u", "tensor", "1 where t == u, else 0.", [[print(ci.tensor{1, 2, 2}:eq(2):sum():item())  --> 2]] },
  { "ne", "u", "tensor", "1 where t ~= u, else 0.", [[print(ci.tensor{1, 2, 2}:ne(2):sum():item())  --> 1]] },
  { "neg", "", "tensor", "-t (the same as the unary operator).", [[print(ci.ones(1):neg():item())  --> -1]] },
  { "abs", "", "tensor", "|t| elementwise.", [[print(ci.tensor{-2, 3}:abs():sum():item())  --> 5]] },
  { "sqrt", "", "tensor", "The square root elementwise.", [[print(ci.tensor{4, 9}:sqrt():get(2))  --> 3]] },
  { "exp", "", "tensor", "e^t elementwise.", [[print(ci.zeros(1):exp():item())  --> 1]] },
  { "log", "", "tensor", "The natural logarithm elementwise.", [[print(ci.ones(1):log():item())  --> 0]] },
  { "tanh", "", "tensor", "tanh elementwise.", [[print(ci.zeros(1):tanh():item())  --> 0]] },
  { "relu", "", "tensor", "max(t, 0) elementwise.", [[print(ci.tensor{-1, 2}:relu():sum():item())  --> 2]] },
  { "sign", "", "tensor", "-1, 0 or 1 elementwise.", [[print(ci.tensor{-3, 0, 2}:sign():sum():item())  --> 0]] },
  { "sigmoid", "", "tensor", "1 / (1 + e^-t) elementwise.", [[print(ci.zeros(1):sigmoid():item())  --> 0.5]] },
  { "clamp", "lo?, hi?", "tensor", "t limited to [lo, hi] elementwise (nil leaves that side open).",
    [[print(ci.tensor{-1, 0.5, 3}:clamp(0, 1):sum():item())  --> 1.5]] },
  { "matmul", "u", "tensor", "The matrix product of 2-d tensors (or a matrix and a vector).",
    [[print(ci.tensor{{1, 2}, {3, 4}}:matmul(ci.tensor{1, 1}):get(2))  --> 7]] },
  { "sum", "dim?", "tensor", "The sum of all elements (a 0-d tensor), or along dim (that dimension removed).",
    [[local t = ci.tensor{{1, 2}, {3, 4}}
print(t:sum():item(), t:sum(1):get(2))  --> 10 6]] },
  { "mean", "dim?", "tensor", "The mean of all elements, or along dim.",
    [[print(ci.tensor{{1, 2}, {3, 4}}:mean(2):get(1))  --> 1.5]] },
  { "max", "dim?", "tensor, indices",
    "The largest element (a 0-d tensor); with dim, the largest values along dim and their 1-based positions.",
    [[local v, i = ci.tensor{{1, 5}, {7, 2}}:max(2)
print(v:get(2), i:get(1))  --> 7 2]] },
  { "min", "dim?", "tensor, indices", "The smallest element; with dim, the values along dim and their 1-based positions.",
    [[print(ci.tensor{3, 1, 2}:min():item())  --> 1]] },
  { "norm", "p?", "tensor", "The p-norm of the whole tensor (p = 1 or 2, default 2), a 0-d tensor.",
    [[print(ci.tensor{3, 4}:norm():item(), ci.tensor{3, -4}:norm(1):item())  --> 5 7]] },
  { "select", "dim, i", "tensor", "The slice at index i of dimension dim (that dimension removed).",
    [[print(ci.tensor{{1, 2}, {3, 4}}:select(1, 2):get(1))  --> 3]] },
  { "narrow", "dim, i, len", "tensor", "The len entries of dimension dim from index i.",
    [[print(ci.arange(10):narrow(1, 3, 2):sum():item())  --> 5]] },
  { "index", "dim, idx", "tensor", "The entries of dimension dim at the 1-based indices idx (a Lua array or a tensor), in order.",
    [[print(ci.tensor{10, 20, 30}:index(1, {3, 1}):get(1))  --> 30]] },
  { "reshape", "d1, ...", "tensor", "The same values in another shape (-1 infers one size); view is the same.",
    [[print(ci.arange(6):reshape(2, -1):size(2))  --> 3]], { "tensor:view" } },
  { "flatten", "", "tensor", "The values as a 1-d tensor.", [[print(ci.zeros(2, 3):flatten():size(1))  --> 6]] },
  { "unsqueeze", "dim", "tensor", "A new dimension of size 1 at dim.", [[print(ci.zeros(3):unsqueeze(1):size(1))  --> 1]] },
  { "squeeze", "dim?", "tensor", "Dimensions of size 1 removed (only dim when given).",
    [[print(ci.zeros(1, 3, 1):squeeze():dim())  --> 1]] },
  { "permute", "d1, d2, ...", "tensor", "The dimensions reordered (a new contiguous tensor).",
    [[print(ci.zeros(2, 3, 4):permute(3, 1, 2):size(1))  --> 4]] },
  { "transpose", "dim1, dim2", "tensor", "Dimensions dim1 and dim2 swapped.",
    [[print(ci.zeros(2, 3):transpose(1, 2):size(1))  --> 3]] },
  { "t", "", "tensor", "The transpose of a 2-d tensor.", [[print(ci.tensor{{1, 2}}:t():size(1))  --> 2]] },
}

O.declare_methods("tensor", TOPIC, METHODS)

return function(ci)
  ci._tensor = M
  ci.tensor = from_table
  ci.zeros, ci.ones, ci.full, ci.rand, ci.randn, ci.arange = zeros, ones, full, rand, randn, arange
  ci.is_tensor = is_tensor
  ci._register_methods("tensor", is_tensor, methods)
  ci.cat, ci.stack, ci.where = cat, stack, where_
  function ci.manual_seed(s)
    if not is_int(s) then
      error("ci.manual_seed: seed must be an integer, got " .. tostring(s), 2)
    end
    C.ci_manual_seed(s < 0 and s + 2 ^ 64 or s)
  end
end
