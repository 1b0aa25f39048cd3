-- util.lua: the small helpers every module of cinterp shares, written once:
-- integer and finiteness checks, the group order (numbers before strings),
-- labels and shapes as text, the self check of a class's methods, tensor
-- release and flat views for the engine, the `log` option (a function or a CSV
-- path), warnings, and the recognition of a Ctrl-C interrupt.
-- A plain module (not installed into ci): local util = require "cinterp.util".
local engine = require "cinterp.ffi"
local ffi, C = engine.ffi, engine.C

local fmt, floor, huge = string.format, math.floor, math.huge
local type, tostring, pairs = type, tostring, pairs

local M = {}

--- util.is_int(v): v is a finite integer (a number; NaN and +-inf are not).
function M.is_int(v)
  return type(v) == "number" and v == floor(v) and v ~= huge and v ~= -huge
end

--- util.is_finite(v): v is a number other than NaN and +-inf.
function M.is_finite(v)
  return type(v) == "number" and v == v and v ~= huge and v ~= -huge
end

--- util.pack(...): the values as an array with their count in field n (nils kept);
--- unpack(t, 1, t.n) gives them back.
function M.pack(...) return { n = select("#", ...), ... } end

-- ------------------------------------------------------------ ordering

local function rank(v)
  local t = type(v)
  if t == "number" then return 0 end
  if t == "string" then return 1 end
  return 2
end

--- util.less(a, b): the API's order of groups and keys: numbers before strings,
--- each ascending (NaN after the numbers), anything else by its text.
function M.less(a, b)
  local ra, rb = rank(a), rank(b)
  if ra ~= rb then return ra < rb end
  if ra == 2 then return tostring(a) < tostring(b) end
  if a ~= a then return false end
  if b ~= b then return true end
  return a < b
end

--- util.sorted_keys(t): the keys of t in util.less order.
function M.sorted_keys(t)
  local ks = {}
  for k in pairs(t) do ks[#ks + 1] = k end
  table.sort(ks, M.less)
  return ks
end

--- util.sorted_unique(values): the distinct values of a table (any keys), in util.less order.
function M.sorted_unique(values)
  local seen, out = {}, {}
  for _, v in pairs(values) do
    if not seen[v] then seen[v] = true; out[#out + 1] = v end
  end
  table.sort(out, M.less)
  return out
end

-- ------------------------------------------------------------ text

--- util.label_text(v): a group or key as text, integers without ".0" (the reference's str()).
function M.label_text(v)
  if M.is_int(v) and math.abs(v) < 2 ^ 53 then return fmt("%d", v) end
  return tostring(v)
end

--- util.shape_str(t): "(2x3x4)" for a tensor of that shape.
function M.shape_str(t)
  return "(" .. table.concat(t:size(), "x") .. ")"
end

--- util.type_name(x): "tensor", "sparse matrix", a table's metatable __name, or type(x).
local tensor_ptr, csr_ptr = ffi.typeof("ci_tensor*"), ffi.typeof("ci_csr*")
function M.type_name(x)
  if type(x) == "cdata" then
    if ffi.istype(tensor_ptr, x) then return "tensor" end
    if ffi.istype(csr_ptr, x) then return "sparse matrix" end
  elseif type(x) == "table" then
    local mt = getmetatable(x)
    if type(mt) == "table" and rawget(mt, "__name") then return rawget(mt, "__name") end
  end
  return type(x)
end

-- ------------------------------------------------------------ classes

--- util.guard_methods(methods, is_self, spec): every function of the method table
--- checks its self first, so that f.nrow(tensor) is an error naming the method:
--- "<spec.prefix>:<name>: self must be <spec.what> (call it as <spec.var>:<name>(...)), got <type>".
--- With spec.later, methods added to the table afterwards are checked too.
function M.guard_methods(methods, is_self, spec)
  local function guard(name, fn)
    if type(fn) ~= "function" then return fn end
    return function(self, ...)
      if not is_self(self) then
        error(fmt("%s:%s: self must be %s (call it as %s:%s(...)), got %s", spec.prefix, name,
                  spec.what, spec.var, name, M.type_name(self)), 2)
      end
      return fn(self, ...)
    end
  end
  for name, fn in pairs(methods) do methods[name] = guard(name, fn) end
  if spec.later then
    setmetatable(methods, { __newindex = function(t, name, fn) rawset(t, name, guard(name, fn)) end })
  end
  return methods
end

-- ------------------------------------------------------------ the engine

-- Memory pressure: Lua's GC does not see the C buffers behind tensors and
-- matrices, so the bytes handed to Lua are counted and a collection runs
-- every GC_BYTES of them.
local GC_BYTES = 512 * 1024 * 1024
local gc_pending = 0

--- util.gc_owned(p, bytes, release): p (a new reference from the engine) owned by
--- Lua's GC, which calls release(p); `bytes` counts toward the next collection.
function M.gc_owned(p, bytes, release)
  gc_pending = gc_pending + bytes
  if gc_pending > GC_BYTES then
    gc_pending = 0
    collectgarbage()
  end
  return ffi.gc(p, release)
end

--- util.fail(where, level): raises the engine's last error under the Lua name
--- `where` (the C function's name is replaced by it).
function M.fail(where, level)
  local msg = ffi.string(C.ci_last_error()):gsub("^ci_[%w_]+: ", "")
  error(where .. ": " .. msg, (level or 2) + 1)
end

--- util.release(t): drops our reference to a tensor now instead of at Lua's next
--- collection (the forward node behind an output holds the network's stored states).
function M.release(t)
  if t ~= nil then
    ffi.gc(t, nil)
    C.ci_tensor_release(t)
  end
end

-- Each view's fields, kept alive for as long as the view itself (weak keys).
local view_fields = setmetatable({}, { __mode = "k" })

--- util.flat_view(t, first, count): a 1-d ci_tensor* over elements first ..
--- first + count - 1 (0-based) of t's data, for engine functions that read and
--- write data in place (ci_l1l2_regulariser, ci_tensor_copy_, ...). It borrows
--- t's data: keep t alive while it is used, and never hand the view to anything
--- that keeps a reference.
function M.flat_view(t, first, count)
  local f = ffi.new("ci_tensor_fields")
  f.data = t.data + first
  f.nel, f.ndim, f.refcount, f.on_device = count, 1, 1, t.on_device
  f.shape[0] = count
  local view = ffi.cast("ci_tensor*", ffi.cast("ci_tensor_fields*", f))
  view_fields[view] = f
  return view
end

-- ------------------------------------------------------------ reporting

--- util.warn(where, msg): one line on stderr.
function M.warn(where, msg)
  io.stderr:write(where, ": ", msg, "\n")
  io.stderr:flush()
end

--- util.is_interrupt(err): whether an error is a Ctrl-C interrupt (the host's SIGINT
--- hook raises "interrupted!", as the stock luajit does).
function M.is_interrupt(err)
  return type(err) == "string" and err:match("interrupted!%s*$") ~= nil
end

--- util.open_log(where, log, fields) -> write(row), close(): the `log` option of the
--- optimisers. A function is called with each row (a table); a string is a CSV path
--- that gets the header `fields` and one line per row (numbers as %.9g); nil logs nothing.
function M.open_log(where, log, fields)
  local function nothing() end
  if log == nil then return nothing, nothing end
  if type(log) == "function" then return log, nothing end
  if type(log) ~= "string" then
    error(fmt("%s: log must be a function (called with a table per step) or a CSV path, got %s",
              where, type(log)), 3)
  end
  local f, err = io.open(log, "w")
  if not f then error(fmt("%s: log: cannot open '%s' for writing: %s", where, log, tostring(err)), 3) end
  f:write(table.concat(fields, ","), "\n")
  local function write(row)
    local vals = {}
    for k, name in ipairs(fields) do vals[k] = fmt("%.9g", row[name]) end
    f:write(table.concat(vals, ","), "\n")
    f:flush()
  end
  return write, function() f:close() end
end

return M
