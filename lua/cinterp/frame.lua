-- frame.lua: ci.frame, a column-oriented table (pandas DataFrame's stand-in) and its
-- verbs: filter, select, sort, groupby/agg, join, melt, pivot, concat, ...
--
-- A frame holds named columns of equal length; a column is a plain Lua array.
-- Missing values: NaN (0/0) in numeric columns, "" in string columns (a CSV
-- empty cell reads as one of those; there are no nil holes, so #col, ipairs and
-- f:nrow() agree). A column's kind is that of its first value ("number" or
-- "string"); an empty column counts as numeric.
--
-- Access: f.col / f[col] is the column's array (nil when absent); methods come
-- first, so a column named like a method ("sort", "filter") is read with
-- f:col(name), which raises for an unknown name. f[col] = array adds or
-- replaces a column in place; every verb returns a NEW frame with copied
-- columns and leaves its receiver untouched.
--
-- Construction: ci.frame{a = {...}, b = {...}} orders the columns by name;
-- ci.frame(cols, {"b", "a"}) gives the order; ci.frame.from_rows(names, rows)
-- takes rows as arrays (positional) or tables keyed by name.
--
-- groupby: f:groupby(keys):agg{new = {"mean", "col"}, col2 = "sum"} (a string
-- value aggregates the column of the same name); shortcut f:groupby(keys, spec).
-- Functions: mean, sum, count (non-missing), size (rows), min, max, first,
-- last (first/last non-missing), median, std (ddof 1), var, nunique. Missing
-- values are skipped. Output: key columns, then aggregates in name order, one
-- row per distinct key, sorted by key (numbers before strings, NaN last).
local O = require "cinterp.options"
local util = require "cinterp.util"
local M = {}

local nan = 0 / 0
local floor, huge = math.floor, math.huge
local fmt, concat, sort = string.format, table.concat, table.sort
local ok_new, table_new = pcall(require, "table.new")
if not ok_new then table_new = function() return {} end end

local Frame = {}          -- methods
local mt = {}             -- frame metatable
M.Frame, M.mt = Frame, mt

local function is_frame(x) return getmetatable(x) == mt end

local function missing_of(kind) return kind == "string" and "" or nan end

local function kind_of(col)
  local v = col[1]
  if type(v) == "string" then return "string" end
  return "number"
end

local function is_missing(v)
  return v == nil or v ~= v or v == ""
end

-- internal constructor: takes ownership of names/cols, no checks
local function make(names, cols, nrow)
  return setmetatable({_names = names, _cols = cols, _nrow = nrow}, mt)
end

local function list_columns(f)
  local names = f._names
  if #names <= 25 then return concat(names, ", ") end
  local t = {}
  for i = 1, 20 do t[i] = names[i] end
  return concat(t, ", ") .. fmt(", ... (%d in all)", #names)
end

local function unknown(where, f, name, level)
  local close = O.closest(tostring(name), f._names, 3)
  local hint
  if #close > 0 then
    for k, c in ipairs(close) do close[k] = "'" .. c .. "'" end
    hint = "did you mean " .. O.either(close) .. "?"
  else
    hint = "columns: " .. list_columns(f)
  end
  error(fmt("%s: unknown column '%s' (%s)", where, tostring(name), hint), (level or 2) + 1)
end

local function getcol(f, name, where)
  local c = f._cols[name]
  if c == nil then unknown(where, f, name, 2) end
  return c
end

-- a column name or an array of names -> array of names (checked)
local function namelist(f, names, where, what)
  if type(names) == "string" then names = {names} end
  if type(names) ~= "table" then
    error(fmt("%s: %s must be a column name or an array of names, got %s", where, what,
              type(names)), 3)
  end
  local out = {}
  for i, n in ipairs(names) do
    if f._cols[n] == nil then unknown(where, f, n, 2) end
    out[i] = n
  end
  return out
end

local function copy_array(a, n)
  local b = table_new(n, 0)
  for i = 1, n do b[i] = a[i] end
  return b
end

local function take(a, idx)   -- a[idx[k]] for k = 1..#idx (missing index -> nil)
  local n = #idx
  local b = table_new(n, 0)
  for k = 1, n do b[k] = a[idx[k]] end
  return b
end

-- ------------------------------------------------------------ ordering / keys

-- total order on cell values: numbers < strings < others; NaN after numbers.
local less = util.less

local NAN_KEY = {}
-- hashable key of one value (NaN cannot index a table)
local function key1(v)
  if v ~= v then return NAN_KEY end
  return v
end

-- hashable key of a row's values in several columns
local function keyn(cols, i)
  local parts = {}
  for k = 1, #cols do
    local v = cols[k][i]
    local t = type(v)
    if t == "number" then parts[k] = v ~= v and "nNaN" or fmt("n%.17g", v)
    elseif t == "string" then parts[k] = "s" .. v
    else parts[k] = "o" .. tostring(v) end
  end
  return concat(parts, "\0")
end

local function key_fn(cols)
  if #cols == 1 then
    local c = cols[1]
    return function(i) return key1(c[i]) end
  end
  return function(i) return keyn(cols, i) end
end

-- ------------------------------------------------------------ construction

local function check_column(where, name, values, nrow, first)
  if type(values) ~= "table" then
    error(fmt("%s: column '%s' must be a Lua array, got %s", where, tostring(name),
              type(values)), 3)
  end
  local n = #values
  if nrow and n ~= nrow then
    error(fmt("%s: column '%s' has %d values, expected %d (column '%s')", where,
              tostring(name), n, nrow, first), 3)
  end
  return n
end

local function new_from_columns(cols, order, where)
  where = where or "ci.frame"
  cols = cols or {}
  if type(cols) ~= "table" then
    error(fmt("%s: expected a table of columns, got %s", where, type(cols)), 3)
  end
  if is_frame(cols) then return cols:copy() end
  local names = {}
  if order ~= nil then
    if type(order) ~= "table" then
      error(fmt("%s: order must be an array of column names, got %s", where, type(order)), 3)
    end
    local seen = {}
    for i, n in ipairs(order) do
      if cols[n] == nil then
        error(fmt("%s: order[%d] = '%s' is not a column of the table", where, i, tostring(n)), 3)
      end
      if seen[n] then error(fmt("%s: order names column '%s' twice", where, n), 3) end
      seen[n] = true
      names[i] = n
    end
    for k in pairs(cols) do
      if not seen[k] then
        error(fmt("%s: column '%s' is missing from order", where, tostring(k)), 3)
      end
    end
  else
    for k in pairs(cols) do
      if type(k) ~= "string" then
        error(fmt("%s: column names must be strings, got %s %s", where, type(k),
                  tostring(k)), 3)
      end
      names[#names + 1] = k
    end
    sort(names)
  end
  local out, nrow = {}, nil
  for _, n in ipairs(names) do
    local c = cols[n]
    nrow = check_column(where, n, c, nrow, names[1])
    out[n] = copy_array(c, nrow)
  end
  return make(names, out, nrow or 0)
end

M.new = new_from_columns

function M.from_rows(names, rows)
  local where = "ci.frame.from_rows"
  if type(names) ~= "table" then
    error(where .. ": columns must be an array of names, got " .. type(names), 2)
  end
  if type(rows) ~= "table" then
    error(where .. ": rows must be an array of rows, got " .. type(rows), 2)
  end
  local cols, nm = {}, {}
  for j, n in ipairs(names) do
    if type(n) ~= "string" then error(fmt("%s: columns[%d] is not a string", where, j), 2) end
    if cols[n] then error(fmt("%s: column '%s' appears twice", where, n), 2) end
    cols[n] = table_new(#rows, 0)
    nm[j] = n
  end
  for i, r in ipairs(rows) do
    if type(r) ~= "table" then error(fmt("%s: rows[%d] is not a table", where, i), 2) end
    if r[1] ~= nil or next(r) == nil then
      if #r ~= #nm then
        error(fmt("%s: row %d has %d values, expected %d", where, i, #r, #nm), 2)
      end
      for j, n in ipairs(nm) do cols[n][i] = r[j] end
    else
      for k in pairs(r) do
        if cols[k] == nil then
          error(fmt("%s: row %d has a value for unknown column '%s'", where, i, tostring(k)), 2)
        end
      end
      for _, n in ipairs(nm) do
        local v = r[n]
        if v == nil then
          error(fmt("%s: row %d has no value for column '%s'", where, i, n), 2)
        end
        cols[n][i] = v
      end
    end
  end
  return make(nm, cols, #rows)
end

-- ------------------------------------------------------------ access

mt.__index = function(f, k)
  local m = Frame[k]
  if m ~= nil then return m end
  return rawget(f, "_cols")[k]
end

mt.__newindex = function(f, k, v)
  if type(k) ~= "string" then
    error("ci.frame: column names must be strings, got " .. type(k), 2)
  end
  if v == nil then
    if f._cols[k] == nil then unknown("ci.frame: removing a column", f, k) end
    f._cols[k] = nil
    for i, n in ipairs(f._names) do
      if n == k then table.remove(f._names, i) break end
    end
    return
  end
  if type(v) ~= "table" then
    error(fmt("ci.frame: f['%s'] must be set to a Lua array, got %s", k, type(v)), 2)
  end
  if #f._names > 0 and #v ~= f._nrow then
    error(fmt("ci.frame: column '%s' has %d values, expected %d", k, #v, f._nrow), 2)
  end
  if #f._names == 0 then rawset(f, "_nrow", #v) end
  if f._cols[k] == nil then f._names[#f._names + 1] = k end
  f._cols[k] = v
end

function Frame:nrow() return self._nrow end
function Frame:ncol() return #self._names end
function Frame:shape() return self._nrow, #self._names end
function Frame:columns() return copy_array(self._names, #self._names) end
function Frame:has_column(name) return self._cols[name] ~= nil end
function Frame:col(name) return getcol(self, name, "ci.frame:col") end

-- {name = "number" | "string"}
function Frame:dtypes()
  local t = {}
  for _, n in ipairs(self._names) do t[n] = kind_of(self._cols[n]) end
  return t
end

function Frame:row(i)
  if type(i) ~= "number" or i ~= floor(i) or i < 1 or i > self._nrow then
    error(fmt("ci.frame:row: index %s is out of range 1..%d", tostring(i), self._nrow), 2)
  end
  local r = {}
  for _, n in ipairs(self._names) do r[n] = self._cols[n][i] end
  return r
end

function Frame:to_rows()
  local rows = table_new(self._nrow, 0)
  local names, cols = self._names, self._cols
  for i = 1, self._nrow do
    local r = {}
    for _, n in ipairs(names) do r[n] = cols[n][i] end
    rows[i] = r
  end
  return rows
end

function Frame:iterrows()
  local i = 0
  return function()
    i = i + 1
    if i <= self._nrow then return i, self:row(i) end
  end
end

-- frame made of the rows idx (an array of row numbers)
local function take_rows(f, idx)
  local cols = {}
  for _, n in ipairs(f._names) do cols[n] = take(f._cols[n], idx) end
  return make(copy_array(f._names, #f._names), cols, #idx)
end
M.take_rows = take_rows

function Frame:copy()
  local cols = {}
  for _, n in ipairs(self._names) do cols[n] = copy_array(self._cols[n], self._nrow) end
  return make(copy_array(self._names, #self._names), cols, self._nrow)
end

local function count_arg(n, default, where)
  if n == nil then return default end
  if type(n) ~= "number" or n ~= floor(n) or n < 0 then
    error(fmt("%s: n must be a non-negative integer, got %s", where, tostring(n)), 3)
  end
  return n
end

function Frame:head(n)
  n = math.min(count_arg(n, 5, "ci.frame:head"), self._nrow)
  local idx = {}
  for i = 1, n do idx[i] = i end
  return take_rows(self, idx)
end

function Frame:tail(n)
  n = math.min(count_arg(n, 5, "ci.frame:tail"), self._nrow)
  local idx = {}
  for i = 1, n do idx[i] = self._nrow - n + i end
  return take_rows(self, idx)
end

-- ------------------------------------------------------------ verbs

-- f:filter(fn(row, i) -> bool) | f:filter{col = value | {v1, v2, ...}} | f:filter(mask)
function Frame:filter(pred)
  local where = "ci.frame:filter"
  local idx, n = {}, self._nrow
  if type(pred) == "function" then
    local names, cols = self._names, self._cols
    for i = 1, n do
      local r = {}
      for _, nm in ipairs(names) do r[nm] = cols[nm][i] end
      if pred(r, i) then idx[#idx + 1] = i end
    end
  elseif type(pred) == "table" and type(pred[1]) == "boolean" then
    if #pred ~= n then
      error(fmt("%s: mask has %d values, expected %d (rows)", where, #pred, n), 2)
    end
    for i = 1, n do if pred[i] then idx[#idx + 1] = i end end
  elseif type(pred) == "table" then
    local tests = {}
    for k, v in pairs(pred) do
      local c = self._cols[k]
      if c == nil then unknown(where, self, k) end
      if type(v) == "table" then
        local set = {}
        for _, x in ipairs(v) do set[key1(x)] = true end
        tests[#tests + 1] = function(i) return set[key1(c[i])] == true end
      else
        tests[#tests + 1] = function(i) return c[i] == v end
      end
    end
    for i = 1, n do
      local keep = true
      for t = 1, #tests do
        if not tests[t](i) then keep = false break end
      end
      if keep then idx[#idx + 1] = i end
    end
  else
    error(where .. ": expected a function, a table {column = value} or a boolean mask, got " ..
          type(pred), 2)
  end
  return take_rows(self, idx)
end

function Frame:select(names)
  names = namelist(self, names, "ci.frame:select", "columns")
  local cols, seen = {}, {}
  for _, n in ipairs(names) do
    if seen[n] then error(fmt("ci.frame:select: column '%s' selected twice", n), 2) end
    seen[n] = true
    cols[n] = copy_array(self._cols[n], self._nrow)
  end
  return make(names, cols, self._nrow)
end

function Frame:drop(names)
  names = namelist(self, names, "ci.frame:drop", "columns")
  local gone, keep = {}, {}
  for _, n in ipairs(names) do gone[n] = true end
  for _, n in ipairs(self._names) do if not gone[n] then keep[#keep + 1] = n end end
  return self:select(keep)
end

-- f:sort(cols, {descending = bool | {bool, ...}}): stable; NaN last either way.
local SORT -- the declarations are at the end of the file
function Frame:sort(names, opts)
  local where = "ci.frame:sort"
  names = namelist(self, names, where, "columns")
  opts = O.check(SORT, opts)
  local desc = opts.descending
  local cols, dsc = {}, {}
  for k, n in ipairs(names) do
    cols[k] = self._cols[n]
    if type(desc) == "table" then dsc[k] = desc[k] and true or false
    else dsc[k] = desc and true or false end
  end
  local idx = {}
  for i = 1, self._nrow do idx[i] = i end
  local nk = #cols
  sort(idx, function(i, j)
    for k = 1, nk do
      local a, b = cols[k][i], cols[k][j]
      local na, nb = a ~= a, b ~= b
      if na ~= nb then return nb end              -- NaN last
      if not na and a ~= b then
        if dsc[k] then return less(b, a) end
        return less(a, b)
      end
    end
    return i < j                                   -- stable
  end)
  return take_rows(self, idx)
end
Frame.sort_values = Frame.sort

-- ---- group-by

local AGG = {}
local function present(vals)
  local out = {}
  for _, v in ipairs(vals) do if not is_missing(v) then out[#out + 1] = v end end
  return out
end
function AGG.sum(v) local s = 0 for _, x in ipairs(present(v)) do s = s + x end return s end
function AGG.mean(v)
  local p = present(v)
  if #p == 0 then return nan end
  local s = 0
  for _, x in ipairs(p) do s = s + x end
  return s / #p
end
function AGG.count(v) return #present(v) end
function AGG.size(v, n) return n end
function AGG.min(v)
  local p = present(v)
  local m = p[1]
  for i = 2, #p do if less(p[i], m) then m = p[i] end end
  if m == nil then return nan end
  return m
end
function AGG.max(v)
  local p = present(v)
  local m = p[1]
  for i = 2, #p do if less(m, p[i]) then m = p[i] end end
  if m == nil then return nan end
  return m
end
function AGG.first(v) local p = present(v) if p[1] == nil then return nan end return p[1] end
function AGG.last(v) local p = present(v) if #p == 0 then return nan end return p[#p] end
function AGG.median(v)
  local p = present(v)
  if #p == 0 then return nan end
  sort(p)
  local m = #p
  if m % 2 == 1 then return p[(m + 1) / 2] end
  return (p[m / 2] + p[m / 2 + 1]) / 2
end
function AGG.var(v)
  local p = present(v)
  if #p < 2 then return nan end
  local mu = AGG.mean(p)
  local s = 0
  for _, x in ipairs(p) do s = s + (x - mu) ^ 2 end
  return s / (#p - 1)
end
function AGG.std(v) return math.sqrt(AGG.var(v)) end
function AGG.nunique(v)
  local seen, n = {}, 0
  for _, x in ipairs(present(v)) do if not seen[x] then seen[x] = true n = n + 1 end end
  return n
end
M.AGG = AGG

-- the aggregates that compute with the values (the others also take strings)
local NUMERIC_AGG = { sum = true, mean = true, median = true, var = true, std = true }

local GroupBy = {}
GroupBy.__index = GroupBy

-- groups: keys in sorted order, each with its row numbers in frame order
local function make_groups(f, keys)
  local kcols = {}
  for k, n in ipairs(keys) do kcols[k] = f._cols[n] end
  local kf = key_fn(kcols)
  local index, groups = {}, {}
  for i = 1, f._nrow do
    local key = kf(i)
    local g = index[key]
    if not g then
      g = {rows = {}, first = i}
      index[key] = g
      groups[#groups + 1] = g
    end
    g.rows[#g.rows + 1] = i
  end
  sort(groups, function(a, b)
    for k = 1, #kcols do
      local x, y = kcols[k][a.first], kcols[k][b.first]
      local nx, ny = x ~= x, y ~= y
      if nx ~= ny then return ny end
      if not nx and x ~= y then return less(x, y) end
    end
    return a.first < b.first
  end)
  return groups
end

function Frame:groupby(keys, spec)
  keys = namelist(self, keys, "ci.frame:groupby", "keys")
  local gb = setmetatable({frame = self, keys = keys, groups = make_groups(self, keys)}, GroupBy)
  if spec ~= nil then return gb:agg(spec) end
  return gb
end
Frame.group_by = Frame.groupby

function GroupBy:ngroups() return #self.groups end

function GroupBy:agg(spec)
  local where = "ci.frame:groupby():agg"
  local f = self.frame
  if type(spec) ~= "table" then
    error(where .. ": expected a table {newcol = {\"mean\", col}} or {col = \"mean\"}, got " ..
          type(spec), 2)
  end
  local outs = {}
  for name, s in pairs(spec) do
    local fn, src
    if type(s) == "string" then fn, src = s, name
    elseif type(s) == "table" then fn, src = s[1], s[2] or name
    else
      error(fmt("%s: spec for '%s' must be a function name or {function, column}", where,
                tostring(name)), 2)
    end
    local impl = type(fn) == "function" and fn or AGG[fn]
    if not impl then
      local avail = {}
      for k in pairs(AGG) do avail[#avail + 1] = k end
      sort(avail)
      error(fmt("%s: unknown aggregate '%s' for '%s' (use %s)", where, tostring(fn),
                tostring(name), concat(avail, ", ")), 2)
    end
    if f._cols[src] == nil then unknown(where, f, src) end
    if NUMERIC_AGG[fn] then
      for i, v in ipairs(f._cols[src]) do
        if type(v) ~= "number" and not is_missing(v) then
          error(fmt("%s: %s of column '%s' needs numbers, but row %d holds %s", where, fn, src, i,
                    O.describe(v)), 2)
        end
      end
    end
    for _, k in ipairs(self.keys) do
      if k == name then
        error(fmt("%s: output column '%s' is also a group key", where, name), 2)
      end
    end
    outs[#outs + 1] = {name = name, impl = impl, src = f._cols[src]}
  end
  sort(outs, function(a, b) return a.name < b.name end)
  local names, cols, ng = {}, {}, #self.groups
  for k, key in ipairs(self.keys) do
    local c, kc = table_new(ng, 0), f._cols[key]
    for g = 1, ng do c[g] = kc[self.groups[g].first] end
    names[k], cols[key] = key, c
  end
  for _, o in ipairs(outs) do
    local c = table_new(ng, 0)
    for g = 1, ng do
      local rows = self.groups[g].rows
      c[g] = o.impl(take(o.src, rows), #rows)
    end
    names[#names + 1], cols[o.name] = o.name, c
  end
  return make(names, cols, ng)
end

-- gb:mean(), gb:sum(), ...: that aggregate over every non-key column
for _, fname in ipairs({"mean", "sum", "count", "min", "max", "first", "last", "median",
                        "std", "var", "nunique"}) do
  GroupBy[fname] = function(self)
    local spec, iskey = {}, {}
    for _, k in ipairs(self.keys) do iskey[k] = true end
    for _, n in ipairs(self.frame._names) do
      if not iskey[n] then spec[n] = fname end
    end
    local out = self:agg(spec)
    -- keep the frame's column order rather than name order
    local order = copy_array(self.keys, #self.keys)
    for _, n in ipairs(self.frame._names) do if not iskey[n] then order[#order + 1] = n end end
    rawset(out, "_names", order)
    return out
  end
end

function GroupBy:size()
  local spec = {size = {"size", self.keys[1]}}
  return self:agg(spec)
end

-- ---- join

-- f:join(other, on, {how = "inner"|"left"|"right"|"outer", suffixes = {"_x", "_y"}})
-- Rows come in the order of the left frame (right frame for how = "right"),
-- each matched with the other frame's rows in their order; "outer" appends the
-- unmatched right rows. on = nil joins on the common columns.
local JOIN
function Frame:join(other, on, opts)
  local where = "ci.frame:join"
  if not is_frame(other) then error(where .. ": other must be a frame, got " .. type(other), 2) end
  if type(on) == "table" and on[1] == nil and opts == nil then on, opts = nil, on end
  opts = O.check(JOIN, opts)
  local how = opts.how
  if on == nil then
    on = {}
    for _, n in ipairs(self._names) do if other._cols[n] then on[#on + 1] = n end end
    if #on == 0 then error(where .. ": the frames share no column to join on", 2) end
  end
  on = namelist(self, on, where, "on")
  namelist(other, on, where .. " (right frame)", "on")
  local suffixes = opts.suffixes
  local iskey = {}
  for _, k in ipairs(on) do iskey[k] = true end

  local lk, rk = {}, {}
  for k, n in ipairs(on) do lk[k], rk[k] = self._cols[n], other._cols[n] end
  local lkey, rkey = key_fn(lk), key_fn(rk)
  local function index_of(keyf, nrow)
    local idx = {}
    for i = 1, nrow do
      local key = keyf(i)
      if key ~= NAN_KEY then
        local l = idx[key]
        if not l then l = {} idx[key] = l end
        l[#l + 1] = i
      end
    end
    return idx
  end
  local li, ri = {}, {}   -- matched row pairs (nil = no row)
  if how == "right" then
    local lidx = index_of(lkey, self._nrow)
    for j = 1, other._nrow do
      local m = lidx[rkey(j)]
      if m then for _, i in ipairs(m) do li[#li + 1], ri[#ri + 1] = i, j end
      else li[#li + 1], ri[#ri + 1] = false, j end
    end
  else
    local ridx = index_of(rkey, other._nrow)
    local used = {}
    for i = 1, self._nrow do
      local m = ridx[lkey(i)]
      if m then
        for _, j in ipairs(m) do li[#li + 1], ri[#ri + 1] = i, j; used[j] = true end
      elseif how ~= "inner" then
        li[#li + 1], ri[#ri + 1] = i, false
      end
    end
    if how == "outer" then
      for j = 1, other._nrow do
        if not used[j] then li[#li + 1], ri[#ri + 1] = false, j end
      end
    end
  end
  local n = #li
  local names, cols = {}, {}
  local function add(name, src, rows)
    local miss = missing_of(kind_of(src))
    local c = table_new(n, 0)
    for k = 1, n do
      local r = rows[k]
      if r then c[k] = src[r] else c[k] = miss end
    end
    if cols[name] then error(fmt("%s: output column '%s' appears twice", where, name), 3) end
    names[#names + 1], cols[name] = name, c
  end
  for _, nm in ipairs(self._names) do
    if iskey[nm] then
      local c, ls, rs = table_new(n, 0), self._cols[nm], other._cols[nm]
      for k = 1, n do
        if li[k] then c[k] = ls[li[k]] else c[k] = rs[ri[k]] end
      end
      names[#names + 1], cols[nm] = nm, c
    else
      add(other._cols[nm] and nm .. suffixes[1] or nm, self._cols[nm], li)
    end
  end
  for _, nm in ipairs(other._names) do
    if not iskey[nm] then
      add(self._cols[nm] and nm .. suffixes[2] or nm, other._cols[nm], ri)
    end
  end
  return make(names, cols, n)
end
Frame.merge = Frame.join

-- ---- columns

local function values_arg(f, values, where, name)
  if type(values) == "function" then
    local out = table_new(f._nrow, 0)
    for i = 1, f._nrow do out[i] = values(f:row(i), i) end
    return out
  elseif type(values) == "table" then
    if #values ~= f._nrow then
      error(fmt("%s: column '%s' has %d values, expected %d (rows)", where, name, #values,
                f._nrow), 3)
    end
    return copy_array(values, f._nrow)
  elseif values ~= nil then
    local out = table_new(f._nrow, 0)
    for i = 1, f._nrow do out[i] = values end
    return out
  end
  error(fmt("%s: no values for column '%s'", where, name), 3)
end

-- new frame with column `name` added at the end (or replaced in place of the old
-- one); values: an array, a function(row, i) or a scalar
function Frame:add_column(name, values)
  if type(name) ~= "string" then
    error("ci.frame:add_column: name must be a string, got " .. type(name), 2)
  end
  local out = self:copy()
  local v = values_arg(self, values, "ci.frame:add_column", name)
  if out._cols[name] == nil then out._names[#out._names + 1] = name end
  out._cols[name] = v
  if #self._names == 0 then rawset(out, "_nrow", #v) end
  return out
end
Frame.with_column = Frame.add_column

-- f:mutate{new = fn(row, i) | array | scalar, ...}: new columns in name order
function Frame:mutate(spec)
  if type(spec) ~= "table" then
    error("ci.frame:mutate: expected a table {name = values}, got " .. type(spec), 2)
  end
  local names = {}
  for k in pairs(spec) do names[#names + 1] = k end
  sort(names)
  local out = self
  for _, n in ipairs(names) do out = out:add_column(n, spec[n]) end
  if out == self then out = self:copy() end
  return out
end

-- array: col's values mapped through a table (absent keys give a missing value of
-- the mapping's kind) or a function(value, i)
function Frame:map(name, mapping)
  local c = getcol(self, name, "ci.frame:map")
  local out = table_new(self._nrow, 0)
  if type(mapping) == "function" then
    for i = 1, self._nrow do out[i] = mapping(c[i], i) end
  elseif type(mapping) == "table" then
    local miss = nan
    for _, v in pairs(mapping) do
      if type(v) == "string" then miss = "" end
      break
    end
    for i = 1, self._nrow do
      local v = mapping[c[i]]
      if v == nil then v = miss end
      out[i] = v
    end
  else
    error("ci.frame:map: mapping must be a table or a function, got " .. type(mapping), 2)
  end
  return out
end

function Frame:rename(map)
  local where = "ci.frame:rename"
  if type(map) ~= "table" then error(where .. ": expected a table {old = new}, got " .. type(map), 2) end
  for old, new in pairs(map) do
    if self._cols[old] == nil then unknown(where, self, old) end
    if type(new) ~= "string" then
      error(fmt("%s: new name for '%s' must be a string, got %s", where, old, type(new)), 2)
    end
  end
  local names, cols, seen = {}, {}, {}
  for i, n in ipairs(self._names) do
    local nn = map[n] or n
    if seen[nn] then error(fmt("%s: two columns would be named '%s'", where, nn), 2) end
    seen[nn] = true
    names[i], cols[nn] = nn, copy_array(self._cols[n], self._nrow)
  end
  return make(names, cols, self._nrow)
end

-- rows of self, then of each other frame; columns: union in order of appearance,
-- absent ones filled with missing values
function Frame:concat(...)
  local frames = {self}
  local args = {...}
  if #args == 1 and type(args[1]) == "table" and not is_frame(args[1]) then args = args[1] end
  for i, o in ipairs(args) do
    if not is_frame(o) then
      error(fmt("ci.frame:concat: argument %d must be a frame, got %s", i, type(o)), 2)
    end
    frames[#frames + 1] = o
  end
  local names, kinds, total = {}, {}, 0
  for _, fr in ipairs(frames) do
    total = total + fr._nrow
    for _, n in ipairs(fr._names) do
      if not kinds[n] then
        names[#names + 1] = n
        kinds[n] = kind_of(fr._cols[n])
      end
    end
  end
  local cols = {}
  for _, n in ipairs(names) do
    local c, k = table_new(total, 0), 0
    local miss = missing_of(kinds[n])
    for _, fr in ipairs(frames) do
      local src = fr._cols[n]
      for i = 1, fr._nrow do
        k = k + 1
        if src then c[k] = src[i] else c[k] = miss end
      end
    end
    cols[n] = c
  end
  return make(names, cols, total)
end

-- distinct values of a column, in order of first appearance
function Frame:unique(name)
  local c = getcol(self, name, "ci.frame:unique")
  local seen, out = {}, {}
  for i = 1, self._nrow do
    local k = key1(c[i])
    if not seen[k] then seen[k] = true out[#out + 1] = c[i] end
  end
  return out
end

-- {value = count}, and the distinct values sorted by count (desc) then value
function Frame:value_counts(name)
  local c = getcol(self, name, "ci.frame:value_counts")
  local counts, vals = {}, {}
  for i = 1, self._nrow do
    local k = key1(c[i])
    if not counts[k] then counts[k] = 0 vals[#vals + 1] = c[i] end
    counts[k] = counts[k] + 1
  end
  sort(vals, function(a, b)
    local ca, cb = counts[key1(a)], counts[key1(b)]
    if ca ~= cb then return ca > cb end
    return less(a, b)
  end)
  local out = {}
  for k, v in pairs(counts) do if k ~= NAN_KEY then out[k] = v end end
  return out, vals
end

-- ---- reshape

-- long format: for each value column (in order), every row: id columns, var, value
-- a table with named fields: the options form of melt and pivot
local function named_form(x)
  if type(x) ~= "table" or getmetatable(x) ~= nil then return false end
  for k in pairs(x) do if type(k) == "string" then return true end end
  return false
end

local MELT, PIVOT
function Frame:melt(id_vars, value_vars, var_name, value_name)
  local where = "ci.frame:melt"
  local o = named_form(id_vars) and O.check(MELT, id_vars) or   -- the table form
    O.check(MELT, { id_vars = id_vars, value_vars = value_vars, var_name = var_name, value_name = value_name })
  id_vars, value_vars, var_name, value_name = o.id_vars, o.value_vars, o.var_name, o.value_name
  id_vars = namelist(self, id_vars or {}, where, "id_vars")
  local isid = {}
  for _, n in ipairs(id_vars) do isid[n] = true end
  if value_vars == nil then
    value_vars = {}
    for _, n in ipairs(self._names) do if not isid[n] then value_vars[#value_vars + 1] = n end end
  else
    value_vars = namelist(self, value_vars, where, "value_vars")
  end
  local nr, nv = self._nrow, #value_vars
  local total = nr * nv
  local names, cols = {}, {}
  for _, n in ipairs(id_vars) do
    local src, c, k = self._cols[n], table_new(total, 0), 0
    for _ = 1, nv do for i = 1, nr do k = k + 1 c[k] = src[i] end end
    names[#names + 1], cols[n] = n, c
  end
  local vc, xc, k = table_new(total, 0), table_new(total, 0), 0
  for _, v in ipairs(value_vars) do
    local src = self._cols[v]
    for i = 1, nr do k = k + 1 vc[k] = v xc[k] = src[i] end
  end
  if cols[var_name] or var_name == value_name then
    error(fmt("%s: var_name '%s' clashes with another column", where, var_name), 2)
  end
  if cols[value_name] then
    error(fmt("%s: value_name '%s' clashes with an id column", where, value_name), 2)
  end
  names[#names + 1], cols[var_name] = var_name, vc
  names[#names + 1], cols[value_name] = value_name, xc
  return make(names, cols, total)
end

local label = util.label_text

-- wide format: one row per distinct index value (sorted), one column per
-- distinct `columns` value (sorted, named by its text); absent cells missing
function Frame:pivot(index, columns, values)
  local where = "ci.frame:pivot"
  local o = named_form(index) and O.check(PIVOT, index) or
    O.check(PIVOT, { index = index, columns = columns, values = values })
  index, columns, values = o.index, o.columns, o.values
  local ic = getcol(self, index, where)
  local cc = getcol(self, columns, where)
  if values == nil then
    for _, n in ipairs(self._names) do
      if n ~= index and n ~= columns then
        if values then error(where .. ": several value columns left: give values", 2) end
        values = n
      end
    end
    if not values then error(where .. ": no value column left", 2) end
  end
  local vc = getcol(self, values, where)
  local rows, rowlist, colsidx, collist = {}, {}, {}, {}
  for i = 1, self._nrow do
    local rk, ck = key1(ic[i]), key1(cc[i])
    if not rows[rk] then rows[rk] = true rowlist[#rowlist + 1] = ic[i] end
    if not colsidx[ck] then colsidx[ck] = true collist[#collist + 1] = cc[i] end
  end
  local function nsort(a, b)
    local na, nb = a ~= a, b ~= b
    if na ~= nb then return nb end
    return less(a, b)
  end
  sort(rowlist, nsort)
  sort(collist, nsort)
  local rpos, cname = {}, {}
  for r, v in ipairs(rowlist) do rpos[key1(v)] = r end
  local names, cols = {index}, {}
  cols[index] = rowlist
  local miss = missing_of(kind_of(vc))
  local nr = #rowlist
  for _, v in ipairs(collist) do
    local nm = label(v)
    if cols[nm] then error(fmt("%s: column label '%s' clashes with another column", where, nm), 2) end
    local c = table_new(nr, 0)
    for r = 1, nr do c[r] = miss end
    names[#names + 1], cols[nm], cname[key1(v)] = nm, c, nm
  end
  local filled = {}
  for i = 1, self._nrow do
    local r, nm = rpos[key1(ic[i])], cname[key1(cc[i])]
    local fk = nm .. "\0" .. r
    if filled[fk] then
      error(fmt("%s: index %s has two values for column %s", where, label(ic[i]), nm), 2)
    end
    filled[fk] = true
    cols[nm][r] = vc[i]
  end
  return make(names, cols, nr)
end

-- ---- comparison

local function same(a, b, tol)
  if a == b then return true end
  if type(a) == "number" and type(b) == "number" then
    if a ~= a and b ~= b then return true end
    if tol and math.abs(a - b) <= tol * math.max(1, math.abs(a), math.abs(b)) then return true end
  end
  return false
end

-- true when both frames have the same columns in the same order and equal cells
-- (NaN equals NaN); otherwise false and a reason. opts.tol: relative tolerance.
local EQUALS
function Frame:equals(other, opts)
  opts = O.check(EQUALS, opts)
  if not is_frame(other) then return false, "other is not a frame" end
  local tol = opts.tol
  if #self._names ~= #other._names then
    return false, fmt("%d columns vs %d", #self._names, #other._names)
  end
  for j, n in ipairs(self._names) do
    if other._names[j] ~= n then
      return false, fmt("column %d is '%s' vs '%s'", j, n, tostring(other._names[j]))
    end
  end
  if self._nrow ~= other._nrow then return false, fmt("%d rows vs %d", self._nrow, other._nrow) end
  for _, n in ipairs(self._names) do
    local a, b = self._cols[n], other._cols[n]
    for i = 1, self._nrow do
      if not same(a[i], b[i], tol) then
        return false, fmt("column '%s' row %d: %s vs %s", n, i, tostring(a[i]), tostring(b[i]))
      end
    end
  end
  return true
end

mt.__eq = function(a, b) return (Frame.equals(a, b)) end

-- ------------------------------------------------------------ printing

local function cell_text(v)
  local t = type(v)
  if t == "number" then
    if v ~= v then return "NaN" end
    if v == huge then return "inf" elseif v == -huge then return "-inf" end
    if v == floor(v) and math.abs(v) < 1e15 then return fmt("%d", v) end
    return fmt("%.6g", v)
  elseif t == "string" then
    local s = v:gsub("\n", "\\n"):gsub("\r", "\\r"):gsub("\t", "\\t")
    if #s > 30 then s = s:sub(1, 27) .. "..." end
    return s
  elseif v == nil then
    return "nil"
  end
  return tostring(v)
end

local TOSTRING
function Frame:tostring(opts)
  opts = O.check(TOSTRING, opts)
  local maxrows, maxcols = opts.max_rows, opts.max_cols
  local nr, nc = self._nrow, #self._names
  local ridx, cidx = {}, {}
  if nr > maxrows then
    local h = math.floor(maxrows / 2)
    for i = 1, h do ridx[#ridx + 1] = i end
    ridx[#ridx + 1] = false
    for i = nr - h + 1, nr do ridx[#ridx + 1] = i end
  else
    for i = 1, nr do ridx[i] = i end
  end
  if nc > maxcols then
    local h = math.floor(maxcols / 2)
    for j = 1, h do cidx[#cidx + 1] = j end
    cidx[#cidx + 1] = false
    for j = nc - (maxcols - h) + 1, nc do cidx[#cidx + 1] = j end
  else
    for j = 1, nc do cidx[j] = j end
  end
  -- columns of text: the row-number column first
  local textcols, right = {}, {}
  local rn = {""}
  for _, i in ipairs(ridx) do rn[#rn + 1] = i and tostring(i) or "..." end
  textcols[1], right[1] = rn, true
  for _, j in ipairs(cidx) do
    local t
    if j then
      local name = self._names[j]
      local c = self._cols[name]
      t = {cell_text(name)}
      for _, i in ipairs(ridx) do t[#t + 1] = i and cell_text(c[i]) or "..." end
      right[#textcols + 1] = kind_of(c) == "number"
    else
      t = {"..."}
      for _ = 1, #ridx do t[#t + 1] = "..." end
      right[#textcols + 1] = true
    end
    textcols[#textcols + 1] = t
  end
  local widths = {}
  for k, t in ipairs(textcols) do
    local w = 0
    for _, s in ipairs(t) do if #s > w then w = #s end end
    widths[k] = w
  end
  local lines = {}
  for r = 1, #ridx + 1 do
    local parts = {}
    for k, t in ipairs(textcols) do
      local s, pad = t[r], string.rep(" ", widths[k] - #t[r])
      parts[k] = right[k] and pad .. s or s .. pad
    end
    lines[r] = (concat(parts, "  "):gsub("%s+$", ""))
  end
  if nr > maxrows or nc > maxcols or nr == 0 then
    lines[#lines + 1] = fmt("[%d rows x %d columns]", nr, nc)
  end
  return concat(lines, "\n")
end

mt.__tostring = function(f) return f:tostring() end

-- Every method checks its self (f.nrow(tensor) is an error naming the method);
-- methods added later (csv.lua's write_csv, ...) are checked the same way.
util.guard_methods(Frame, is_frame, { prefix = "ci.frame", what = "a ci.frame", var = "f", later = true })

-- ------------------------------------------------------------ declarations (help, docs/API.md)

O.define_type("frame", "a frame", is_frame)
O.add_describer(function(v)
  if is_frame(v) then return fmt("a frame (%d rows x %d columns)", v._nrow, #v._names) end
end)

local TOPIC = "Frames"
O.class{ prefix = "frame", var = "f", name = "ci.frame", methods = Frame, is = is_frame, topic = TOPIC,
  doc = [[A frame (ci.frame) is a column-oriented table, the stand-in for a pandas
DataFrame: named columns of equal length, each a plain Lua array of numbers or strings.
Missing values are NaN in numeric columns and "" in string columns. f.col or f[col] is a
column's array (f:col(name) when the name is also a method's); f[col] = array adds or
replaces a column in place; every verb returns a new frame and leaves f untouched.]] }

O.declare{ name = "ci.frame", topic = TOPIC,
  doc = [[A new frame from a table of columns {name = array, ...} (copied); the columns
come in name order unless order lists them.]],
  args = { { "columns", "table", "{name = Lua array, ...}, all of one length" },
           { "order", "array", "the column names in the order wanted", optional = true } },
  returns = { { "f", "frame", "" } },
  example = [[local f = ci.frame({name = {"a", "b"}, score = {1, 2}}, {"score", "name"})
print(f:nrow(), f:columns()[1])  --> 2 score]] }
O.declare{ name = "ci.frame.from_rows", topic = TOPIC,
  doc = "A new frame from rows: arrays of values in column order, or tables keyed by column name.",
  args = { { "columns", "array", "the column names" }, { "rows", "array", "the rows" } },
  returns = "f",
  example = [[local f = ci.frame.from_rows({"x", "y"}, {{1, "a"}, {x = 2, y = "b"}})
print(f.y[2])  --> b]] }
O.declare{ name = "ci.is_frame", topic = TOPIC, doc = "Whether x is a frame.", args = "x", returns = "boolean",
  aliases = { "ci.frame.is_frame" },
  example = [[print(ci.is_frame(ci.frame{}), ci.is_frame({}))  --> true false]] }

local EX = [[local f = ci.frame{name = {"a", "b", "c"}, team = {"x", "y", "x"}, score = {3, 1, 2}}
]]
O.declare_methods("frame", TOPIC, {
  { "nrow", "", "integer", "The number of rows.", EX .. "print(f:nrow())  --> 3" },
  { "ncol", "", "integer", "The number of columns.", EX .. "print(f:ncol())  --> 3" },
  { "shape", "", "nrow, ncol", "The numbers of rows and columns.", EX .. "print(f:shape())  --> 3 3" },
  { "columns", "", "array", "The column names in order (a copy).", EX .. "print(f:columns()[1])  --> name" },
  { "has_column", "name", "boolean", "Whether f has a column of that name.", EX .. "print(f:has_column('team'))  --> true" },
  { "col", "name", "array", "The column's array (not a copy); an unknown name is an error.",
    EX .. "print(f:col('score')[3])  --> 2" },
  { "dtypes", "", "table", '{name = "number" | "string"} for every column.', EX .. "print(f:dtypes().score)  --> number" },
  { "row", "i", "table", "Row i as a table {column = value}.", EX .. "print(f:row(2).name)  --> b" },
  { "to_rows", "", "array", "Every row as a table {column = value}.", EX .. "print(#f:to_rows())  --> 3" },
  { "iterrows", "", "iterator", "for i, row in f:iterrows() do ... end: the rows in order.",
    EX .. "local total = 0\nfor _, r in f:iterrows() do total = total + r.score end\nprint(total)  --> 6" },
  { "copy", "", "frame", "A copy (columns copied).", EX .. "print(f:copy():equals(f))  --> true" },
  { "head", "n?", "frame", "The first n rows (default 5).", EX .. "print(f:head(2):nrow())  --> 2" },
  { "tail", "n?", "frame", "The last n rows (default 5).", EX .. "print(f:tail(1).name[1])  --> c" },
  { "filter", "pred", "frame",
    "The rows kept by pred: a function(row, i) -> boolean, a table {column = value or {values}} (every condition must hold) or a boolean mask.",
    EX .. [[print(f:filter{team = "x"}:nrow())  --> 2
print(f:filter(function(r) return r.score > 1 end):nrow())  --> 2]] },
  { "select", "columns", "frame", "The given columns (a name or an array of names), in that order.",
    EX .. "print(f:select{'score', 'name'}:columns()[1])  --> score" },
  { "drop", "columns", "frame", "f without the given columns.", EX .. "print(f:drop('team'):ncol())  --> 2" },
  { "groupby", "keys, spec?", "groupby|frame",
    "Groups the rows by the values of the key columns (sorted; NaN last); with spec, gb:agg(spec) at once. See help\"groupby\".",
    EX .. [[local g = f:groupby("team"):agg{best = {"max", "score"}}
print(g.team[1], g.best[1])  --> x 3]], { "frame:group_by" } },
  { "add_column", "name, values", "frame",
    "A new frame with the column added (or replaced): values an array, a function(row, i) or one value for every row.",
    EX .. "print(f:add_column('double', function(r) return 2 * r.score end).double[1])  --> 6", { "frame:with_column" } },
  { "mutate", "spec", "frame", "Several add_column at once: {name = array | function(row, i) | value}.",
    EX .. "print(f:mutate{one = 1}.one[3])  --> 1" },
  { "map", "name, mapping", "array",
    "The column's values mapped through a table (absent keys give a missing value) or a function(value, i).",
    EX .. "print(f:map('team', {x = 'home'})[1])  --> home" },
  { "rename", "map", "frame", "Columns renamed: {old = new}.", EX .. "print(f:rename{score = 'points'}:has_column('points'))  --> true" },
  { "concat", "...", "frame",
    "The rows of f, then of each other frame (or of one array of frames); columns are the union, absent ones missing.",
    EX .. "print(f:concat(f, f):nrow())  --> 9" },
  { "unique", "name", "array", "The distinct values of a column, in order of first appearance.",
    EX .. "print(#f:unique('team'))  --> 2" },
  { "value_counts", "name", "table, array", "{value = count} and the distinct values by count (most first).",
    EX .. "local counts, order = f:value_counts('team')\nprint(counts.x, order[1])  --> 2 x" },
})

SORT = O.declare{ name = "frame:sort", where = "ci.frame:sort", topic = TOPIC, aliases = { "frame:sort_values" },
  doc = "The rows sorted by the given columns (stable; NaN last either way).",
  args = { { "columns", "string|array", "the sort keys, most significant first" } },
  opts = { { "descending", "boolean|array", false, "descending order (one boolean per key, or one for all)",
             alias = "reverse" } },
  returns = "frame",
  example = EX .. [[print(f:sort("score").name[1])  --> b
print(f:sort({"team", "score"}, {descending = {false, true}}).name[1])  --> a]] }
JOIN = O.declare{ name = "frame:join", where = "ci.frame:join", topic = TOPIC, aliases = { "frame:merge" },
  doc = [[The rows of f matched with those of other on equal key values (pandas' merge): in
the order of f (of other for how = "right"), each with the matching rows of other in their
order; "outer" appends the unmatched rows of other. on defaults to the columns both share;
other columns of the same name get the suffixes.]],
  args = { { "other", "frame", "the right frame" },
           { "on", "string|array", "the key columns (default: the shared ones)", optional = true } },
  opts = { { "how", { "inner", "left", "right", "outer" }, "inner", "which unmatched rows are kept" },
           { "suffixes", "array", { "_x", "_y" }, "appended to clashing column names of f and of other" } },
  returns = "frame",
  example = EX .. [[local teams = ci.frame{team = {"x", "y"}, city = {"Oslo", "Rome"}}
print(f:join(teams, "team").city[2])  --> Rome
print(f:join(teams, {how = "left"}):nrow())  --> 3]] }
MELT = O.declare{ name = "frame:melt", where = "ci.frame:melt", topic = TOPIC,
  signature = "f:melt(id_vars?, value_vars?, var_name?, value_name?) or f:melt(opts) -> frame",
  doc = [[The long format: for each value column in turn, every row as the id columns, the
value column's name (var_name) and its value (value_name). The arguments may also come as one
table of named options.]],
  opts = { { "id_vars", "string|array", nil, "the columns kept as identifiers", default_text = "none" },
           { "value_vars", "string|array", nil, "the columns melted", default_text = "all others" },
           { "var_name", "string", "variable", "the name of the column of column names" },
           { "value_name", "string", "value", "the name of the column of values" } },
  returns = "frame",
  example = EX .. [[local long = f:melt{id_vars = "name", value_vars = {"score"}}
print(long:nrow(), long.variable[1], long.value[1])  --> 3 score 3]] }
PIVOT = O.declare{ name = "frame:pivot", where = "ci.frame:pivot", topic = TOPIC,
  signature = "f:pivot(index, columns, values?) or f:pivot(opts) -> frame",
  doc = [[The wide format: one row per distinct index value (sorted), one column per distinct
value of the columns column (sorted, named by its text), holding values (absent cells
missing). values defaults to the one column left.]],
  opts = { { "index", "string", nil, "the column whose values become rows", default_text = "required" },
           { "columns", "string", nil, "the column whose values become columns", default_text = "required" },
           { "values", "string", nil, "the column of the cells", default_text = "the one left" } },
  returns = "frame",
  example = [[local long = ci.frame{odour = {"a", "a", "b"}, glom = {"DA1", "DL5", "DA1"}, r = {1, 2, 3}}
local wide = long:pivot("glom", "odour", "r")
print(wide.glom[1], wide.a[1], wide.b[1])  --> DA1 1 3]] }
EQUALS = O.declare{ name = "frame:equals", where = "ci.frame:equals", topic = TOPIC,
  doc = [[Whether other has the same columns in the same order and equal cells (NaN equals
NaN); when not, false and the first difference. f == g is the same without tolerance.]],
  args = { { "other", "frame", "the frame to compare with" } },
  opts = { { "tol", "number >= 0", nil, "relative tolerance for numbers", default_text = "exact" } },
  returns = "boolean, reason",
  example = EX .. [[local g = f:copy()
g.score[1] = 3.0000001
print(f:equals(g))  --> false column 'score' row 1: 3 vs 3.0000001
print(f:equals(g, {tol = 1e-6}))  --> true]] }
TOSTRING = O.declare{ name = "frame:tostring", where = "ci.frame:tostring", topic = TOPIC,
  doc = "The frame as aligned text, long frames and wide ones abbreviated with ...; tostring(f) uses the defaults.",
  opts = { { "max_rows", "integer >= 1", 10, "rows shown before abbreviating" },
           { "max_cols", "integer >= 1", 8, "columns shown before abbreviating" } },
  returns = "string",
  example = EX .. [[print(f:tostring{max_rows = 2}:match("%[(.-)%]"))  --> 3 rows x 3 columns]] }

-- group-by objects
O.class{ prefix = "groupby", var = "gb", name = "frame:groupby", methods = GroupBy,
  is = function(v) return getmetatable(v) == GroupBy end, topic = TOPIC,
  doc = [[A group-by (f:groupby(keys)) holds the rows of a frame by the values of key
columns; gb:agg{...} or one of the aggregate methods makes a frame with one row per group
(sorted by key), missing values skipped.]] }
local GB = EX .. 'local gb = f:select{"team", "score"}:groupby("team")\n'
O.declare_methods("groupby", TOPIC, {
  { "agg", "spec", "frame",
    'Aggregates: spec maps an output column to {"function", "column"} or to a function name (the column of the same name). Functions: mean, sum, count (non-missing), size (rows), min, max, first, last, median, std (ddof 1), var, nunique, or a Lua function(values, n).',
    GB .. [[local g = gb:agg{mean_score = {"mean", "score"}, n = {"size", "score"}}
print(g.mean_score[1], g.n[2])  --> 2.5 1]] },
  { "ngroups", "", "integer", "The number of groups.", GB .. "print(gb:ngroups())  --> 2" },
  { "size", "", "frame", "The number of rows of each group (column size).", GB .. "print(gb:size().size[1])  --> 2" },
})
local AGG_METHODS = {}
for _, fname in ipairs { "mean", "sum", "count", "min", "max", "first", "last", "median", "std", "var", "nunique" } do
  AGG_METHODS[#AGG_METHODS + 1] = { fname, "", "frame",
    fmt("The %s of every non-key column per group (as gb:agg with \"%s\").", fname, fname),
    GB .. fmt("print(gb:%s():nrow())  --> 2", fname) }
end
O.declare_methods("groupby", TOPIC, AGG_METHODS)

M.is_frame = is_frame
M.kind_of = kind_of
M.missing_of = missing_of
M.make = make

return function(ci)
  ci.frame = setmetatable({
    from_rows = M.from_rows,
    is_frame = is_frame,
    methods = Frame,
    _M = M,
  }, {
    __call = function(_, cols, order) return new_from_columns(cols, order, "ci.frame") end,
  })
  ci.is_frame = is_frame
  ci._register_methods("frame", is_frame, Frame)
end
