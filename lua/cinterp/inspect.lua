-- inspect.lua: Lua values as text for the REPL, after torch's trepl: a table is shown
-- nested with its keys sorted (`key : value`, one per line), a short array of plain
-- values on one line (`{2, 3}`), long tables abbreviated (`... (N more)`), tables
-- deeper than a limit as `{...}` and a table inside itself as `<cycle>`. Values with
-- a __tostring (tensors, frames, sparse matrices, networks, figures) show themselves.
--   local inspect = require "cinterp.inspect"
--   inspect.format(value [, limits]) -> string  (a string at the top is shown as is)
--   inspect.limits: the defaults, { depth = 4, items = 50, width = 80 }
local M = {}

M.limits = { depth = 4, items = 50, width = 80 }

local fmt, concat, rep, sort = string.format, table.concat, string.rep, table.sort

local ESCAPES = { ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t", ['"'] = '\\"', ["\\"] = "\\\\" }

-- A string as a Lua literal, cut to `max` characters.
local function quote(s, max)
  local cut = #s > max
  if cut then s = s:sub(1, max) end
  s = s:gsub('[%c"\\]', function(c) return ESCAPES[c] or fmt("\\%d", c:byte()) end)
  return '"' .. s .. (cut and '..."' or '"')
end

-- tostring(v) when v defines its own text (a __tostring), else nil.
local function own_text(v)
  local t = type(v)
  if t == "table" or t == "userdata" then
    local mt = getmetatable(v)
    if type(mt) ~= "table" or rawget(mt, "__tostring") == nil then return nil end
  elseif t ~= "cdata" then
    return nil
  end
  local ok, s = pcall(tostring, v)
  if ok and type(s) == "string" then return s end
  return fmt("<%s: its __tostring failed: %s>", t, tostring(s))
end

local function is_identifier(s)
  return type(s) == "string" and s:match("^[%a_][%w_]*$") ~= nil
end

-- A string whose byte order is the natural order of s ("k2" before "k10").
local function natural(s)
  return (s:gsub("%d+", function(d) return fmt("%03d", #d) .. d end))
end

-- Keys in display order: numbers ascending, then strings in natural order, then
-- the rest by their text.
local function sorted_keys(t)
  local keys, order = {}, {}
  for k in pairs(t) do
    keys[#keys + 1] = k
    order[k] = type(k) == "number" and k or natural(tostring(k))
  end
  local rank = { number = 1, string = 2 }
  sort(keys, function(a, b)
    local ra, rb = rank[type(a)] or 3, rank[type(b)] or 3
    if ra ~= rb then return ra < rb end
    if order[a] ~= order[b] then return order[a] < order[b] end
    return tostring(a) < tostring(b)
  end)
  return keys
end

-- The number of keys and whether they are exactly 1..n.
local function array_length(t)
  local count = 0
  for _ in pairs(t) do count = count + 1 end
  local n = 0
  while rawget(t, n + 1) ~= nil do n = n + 1 end
  return count, n == count
end

local function key_text(k, lim)
  if is_identifier(k) then return k end
  if type(k) == "string" then return quote(k, lim.width) end
  if type(k) == "number" then return tostring(k) end
  return "[" .. tostring(k) .. "]"
end

local format_value

-- A plain value (no table without a __tostring): one line, or nil.
local function plain_text(v, lim)
  local t = type(v)
  if t == "string" then return quote(v, lim.width) end
  if t == "table" and own_text(v) == nil then
    return next(v) == nil and "{}" or nil
  end
  local s = own_text(v)
  if s then return not s:find("\n") and s or nil end
  return tostring(v)
end

-- An array of plain values on one line, wrapped at the width; nil if it is not one.
local function inline_array(t, n, indent, lim)
  local items = {}
  for i = 1, math.min(n, lim.items) do
    local s = plain_text(t[i], lim)
    if s == nil then return nil end
    items[i] = s
  end
  if n > lim.items then items[#items + 1] = fmt("... (%d more)", n - lim.items) end
  local lines, line = {}, "{"
  for i, s in ipairs(items) do
    local piece = s .. (i < #items and "," or "}")
    if #line > 1 and indent + #line + 1 + #piece > lim.width then
      lines[#lines + 1] = line
      line = rep(" ", indent + 1) .. piece
    else
      line = line .. (#line > 1 and " " or "") .. piece
    end
  end
  lines[#lines + 1] = line
  return concat(lines, "\n")
end

-- A table with one `key : value` line per entry; nested tables indented by 2.
local function block(t, indent, depth, ancestors, lim)
  local keys = sorted_keys(t)
  local pad = rep(" ", indent + 2)
  local lines = { "{" }
  for i = 1, math.min(#keys, lim.items) do
    local k = keys[i]
    local head = pad .. key_text(k, lim) .. " : "
    lines[#lines + 1] = head .. format_value(rawget(t, k), indent + 2, depth + 1, ancestors, lim)
  end
  if #keys > lim.items then lines[#lines + 1] = pad .. fmt("... (%d more)", #keys - lim.items) end
  lines[#lines + 1] = rep(" ", indent) .. "}"
  return concat(lines, "\n")
end

-- v as text at column `indent`, nested `depth` tables deep; later lines of a
-- multi-line text start with the indentation they need.
function format_value(v, indent, depth, ancestors, lim)
  local own = own_text(v)
  if own then
    return depth == 0 and own or (own:gsub("\n", "\n" .. rep(" ", indent + 2)))
  end
  if type(v) ~= "table" then return plain_text(v, lim) end
  if ancestors[v] then return "<cycle>" end
  if next(v) == nil then return "{}" end
  if depth >= lim.depth then return "{...}" end
  local count, is_array = array_length(v)
  local s = is_array and inline_array(v, count, indent, lim)
  if s then return s end
  ancestors[v] = true
  s = block(v, indent, depth, ancestors, lim)
  ancestors[v] = nil
  return s
end

-- The text of v; `limits` overrides fields of M.limits.
function M.format(v, limits)
  local lim = {}
  for k, v in pairs(M.limits) do lim[k] = v end
  for k, v in pairs(limits or {}) do lim[k] = v end
  if type(v) == "string" then return v end
  return format_value(v, 0, 0, {}, lim)
end

return M
