-- screen_hash.lua: the fingerprint of a screen, so that results of different
-- specs never mix in one output folder. describe(v) writes any spec value as
-- canonical text (table keys sorted, numbers as %.17g, tensors and sparse
-- matrices as their shape and a hash of their data, Lua functions as a hash of
-- their stripped bytecode plus a description of their upvalues); hash(s) is
-- 64-bit FNV-1a of a string, as 16 hex digits; hash_words hashes a C array
-- without copying it into a Lua string.
--
-- Functions: string.dump(f, true) drops the chunk name and line numbers, so the
-- same function loaded from another path (the spec file named relatively on one
-- node, absolutely on another) hashes the same, while any change to its code
-- changes the hash. Upvalues are part of a function's meaning (a lambda held in a
-- local), so they are described too; a module table (anything in package.loaded,
-- e.g. ci) is described by its name only. A C function has no bytecode: it is
-- described by its name in the standard library when it has one.
local ffi = require "ffi"
local bit = require "bit"

local M = {}

local FNV_OFFSET = 14695981039346656037ULL
local FNV_PRIME = 1099511628211ULL
local fmt, concat = string.format, table.concat

--- 64-bit FNV-1a of a string, continuing from h (a uint64 cdata) when given.
local function fnv_string(s, h)
  h = h or FNV_OFFSET
  for i = 1, #s do
    h = bit.bxor(h, s:byte(i)) * FNV_PRIME
  end
  return h
end

--- The hash of a string as 16 hex digits.
function M.hash(s) return bit.tohex(fnv_string(s), 16) end

--- FNV-1a over n words at p of the C type word ("uint32_t" by default, or
--- "uint64_t"), as 16 hex digits: a C array hashed in place.
function M.hash_words(p, n, word)
  local w = ffi.cast("const " .. (word or "uint32_t") .. " *", p)
  local h = FNV_OFFSET
  for k = 0, tonumber(n) - 1 do
    h = bit.bxor(h, w[k]) * FNV_PRIME
  end
  return bit.tohex(h, 16)
end

-- the names of the standard library's C functions (for describing them)
local builtin_names
local function builtin_name(f)
  if not builtin_names then
    builtin_names = {}
    for _, lib in ipairs { "string", "table", "math", "io", "os", "bit", "coroutine" } do
      local t = rawget(_G, lib)
      if type(t) == "table" then
        for k, v in pairs(t) do
          if type(v) == "function" then builtin_names[v] = lib .. "." .. k end
        end
      end
    end
    for k, v in pairs(_G) do
      if type(v) == "function" then builtin_names[v] = k end
    end
  end
  return builtin_names[f]
end

local function module_name(t)
  for name, m in pairs(package.loaded) do
    if m == t then return name end
  end
  if t == rawget(_G, "ci") then return "cinterp" end
  return nil
end

local function sort_keys(t)
  local keys = {}
  for k in pairs(t) do keys[#keys + 1] = k end
  table.sort(keys, function(a, b)
    local ta, tb = type(a), type(b)
    if ta ~= tb then return ta < tb end
    if ta == "number" or ta == "string" then return a < b end
    return tostring(a) < tostring(b)
  end)
  return keys
end

--- describe(v, ci): the canonical text of a spec value (see the header).
function M.describe(v, ci)
  local seen = {}
  local function go(x, depth)
    local tx = type(x)
    if tx == "nil" or tx == "boolean" then return tostring(x) end
    if tx == "number" then
      if x ~= x then return "nan" end
      if x == math.floor(x) and math.abs(x) < 2 ^ 53 then return fmt("%d", x) end
      return fmt("%.17g", x)
    end
    if tx == "string" then return fmt("%q", x) end
    if depth > 8 then return "<deep>" end
    if tx == "function" then
      local ok, code = pcall(string.dump, x, true)
      if not ok then return "builtin:" .. (builtin_name(x) or "?") end
      if seen[x] then return "function<recursive>" end
      seen[x] = true
      local ups = {}
      for i = 1, 255 do
        local name, val = debug.getupvalue(x, i)
        if name == nil then break end
        ups[#ups + 1] = name .. "=" .. go(val, depth + 1)
      end
      seen[x] = nil
      return fmt("function<%s;%s>", M.hash(code), concat(ups, ","))
    end
    if ci and ci.is_tensor(x) then
      local shape = concat(x:size(), "x")
      if x.on_device ~= 0 then
        error("ci.screen: a tensor in the spec is on the device; give it on the cpu (the screen moves it)", 0)
      end
      return fmt("tensor(%s)<%s>", shape, M.hash_words(x.data, x:numel()))
    end
    if ci and ci.is_sparse(x) then
      local f = ci._sparse.fields(x)
      return fmt("sparse(%dx%d,%d)<%s,%s,%s>", f.nrows, f.ncols, tonumber(f.nnz),
                 M.hash_words(f.rowptr, f.nrows + 1, "uint64_t"), M.hash_words(f.colidx, f.nnz),
                 M.hash_words(f.vals, f.nnz))
    end
    if ci and ci.is_frame(x) then
      local cols = {}
      for _, name in ipairs(x:columns()) do cols[#cols + 1] = fmt("%q=%s", name, go(x:col(name), depth + 1)) end
      return "frame{" .. concat(cols, ",") .. "}"
    end
    if tx == "table" then
      local mod = module_name(x)
      if mod then return "module:" .. mod end
      if seen[x] then return "<cycle>" end
      seen[x] = true
      local parts = {}
      for _, k in ipairs(sort_keys(x)) do
        parts[#parts + 1] = "[" .. go(k, depth + 1) .. "]=" .. go(x[k], depth + 1)
      end
      seen[x] = nil
      return "{" .. concat(parts, ",") .. "}"
    end
    return "<" .. tx .. ">"
  end
  return go(v, 0)
end

return M
