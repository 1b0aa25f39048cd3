-- datahelp.lua: helpers shared by data_spec.lua and paths_spec.lua: golden
-- frames and matrices translated to the 1-based Lua API, and frame comparison
-- with the golden README's tolerances (numbers: rel 1e-4, abs 1e-6; integers
-- and strings exactly).
local H = {}

-- ci.sparse from a golden "pre_post" edge list {{pre, post, w}} (0-based).
function H.inprop(ci, m)
  assert(m.orientation == "pre_post", "expected a pre_post matrix")
  local r, c, v = {}, {}, {}
  for k, e in ipairs(m.edges) do r[k], c[k], v[k] = e[1] + 1, e[2] + 1, e[3] end
  return ci.sparse(r, c, v, m.shape[1], m.shape[2])
end

function H.plus1(list)
  if list == nil then return nil end
  local out = {}
  for k, v in ipairs(list) do out[k] = v + 1 end
  return out
end

-- A golden frame {columns, rows} as a ci.frame; fix(name, value) translates
-- cell values (default: unchanged). index (if any) becomes a first column.
function H.frame(ci, g, fix, index_name)
  local names, rows = {}, {}
  if g.index then names[1] = index_name or "group" end
  for _, c in ipairs(g.columns) do names[#names + 1] = c end
  for r, row in ipairs(g.rows) do
    local out = {}
    if g.index then out[1] = g.index[r] end
    for k, c in ipairs(g.columns) do
      local v = row[k]
      if fix then v = fix(c, v) end
      out[#out + 1] = v
    end
    rows[r] = out
  end
  return ci.frame.from_rows(names, rows)
end

local function close(a, b)
  if type(b) == "number" and type(a) == "number" then
    if b ~= b then return a ~= a end
    if b % 1 == 0 and math.abs(b) < 1e6 and a % 1 == 0 then return a == b end
    return math.abs(a - b) <= 1e-6 + 1e-4 * math.abs(b)
  end
  return a == b
end
H.close = close

local function cell(v)
  if type(v) == "number" then return string.format("%.9g", v) end
  return string.format("%q", tostring(v))
end

-- Compares frame f with golden g (columns translated by rename(name) and
-- cells by fix(name, value)). keys = list of column names: rows are matched
-- as a set keyed by those columns; nil: rows compared in order.
function H.compare_frame(f, g, opts)
  opts = opts or {}
  local rename = opts.rename or function(c) return c end
  local fix = opts.fix or function(_, v) return v end
  local gcols = {}
  for k, c in ipairs(g.columns) do gcols[k] = rename(c) end
  local fcols = f:columns()
  if #fcols ~= #gcols then
    return false, ("columns %s, expected %s"):format(table.concat(fcols, ","), table.concat(gcols, ","))
  end
  for k = 1, #gcols do
    if fcols[k] ~= gcols[k] then
      return false, ("column %d is '%s', expected '%s'"):format(k, fcols[k], gcols[k])
    end
  end
  if f:nrow() ~= #g.rows then
    return false, ("%d rows, expected %d"):format(f:nrow(), #g.rows)
  end
  local exp = {}
  for r, row in ipairs(g.rows) do
    local e = {}
    for k, c in ipairs(g.columns) do e[gcols[k]] = fix(c, row[k]) end
    exp[r] = e
  end
  local function key_of(get)
    local parts = {}
    for _, c in ipairs(opts.keys) do parts[#parts + 1] = cell(get(c)) end
    return table.concat(parts, "|")
  end
  local got_rows = {}
  for r = 1, f:nrow() do got_rows[r] = f:row(r) end
  local pairs_ = {}
  if opts.keys then
    local index = {}
    for r, row in ipairs(got_rows) do
      local k = key_of(function(c) return row[c] end)
      if index[k] then return false, "duplicate key " .. k end
      index[k] = r
    end
    for r, e in ipairs(exp) do
      local k = key_of(function(c) return e[c] end)
      if not index[k] then return false, "missing row " .. k end
      pairs_[#pairs_ + 1] = { got_rows[index[k]], e, r }
    end
  else
    for r = 1, #exp do pairs_[r] = { got_rows[r], exp[r], r } end
  end
  for _, p in ipairs(pairs_) do
    for _, c in ipairs(gcols) do
      if not close(p[1][c], p[2][c]) then
        return false, ("row %d, column %s: got %s, expected %s"):format(p[3], c, cell(p[1][c]), cell(p[2][c]))
      end
    end
  end
  return true
end

-- time_k -> time_{k+1}
function H.time_plus1(c)
  local k = c:match("^time_(%d+)$")
  if k then return "time_" .. (tonumber(k) + 1) end
  return c
end

return H
