-- csv.lua: ci.read_csv(path, opts) -> frame and f:write_csv(path, opts), the Lua
-- face of core/csv.c (libcsv + zlib). Reading: plain or gzip (told by magic bytes),
-- RFC 4180 quoting, typed columns (numeric when every non-empty cell is a number,
-- else string; 18-digit ids stay strings so they survive exactly). Empty cells
-- become NaN (numeric) or "" (string); a header-only file gives 0 rows; a file
-- with no record at all is an error. Duplicate header names get ".1", ".2", ...
-- as pandas does. Writing: RFC 4180 (fields quoted when they hold the separator,
-- a quote, CR/LF or edge spaces), numbers as %.15g or %.17g when that is needed
-- to round-trip, NaN as an empty cell; a path ending ".gz" is written gzipped.
-- A string column whose every value looks like a number reads back numeric.
local ffi = require "ffi"

local fmt, concat = string.format, table.concat
local ok_new, table_new = pcall(require, "table.new")
if not ok_new then table_new = function() return {} end end

return function(ci)
  local engine = ci._engine
  local C = engine.C
  local F = ci.frame._M

  -- raises the engine's error as "where: ..." (the C prefix replaced)
  local function raise(where, level)
    local msg = ffi.string(C.ci_last_error()):gsub("^ci_csv_[%w_]+: ", "")
    error(where .. ": " .. msg, level + 1)
  end

  local function sep_arg(sep, where)
    if sep == nil then return 0 end
    if type(sep) ~= "string" or #sep ~= 1 then
      error(fmt("%s: sep must be a one-character string, got %s", where, tostring(sep)), 3)
    end
    return sep:byte()
  end

  -- column of a C table -> Lua array
  local function to_lua(col, n)
    local out = table_new(n, 0)
    if col.type == C.CI_CSV_NUM then
      local num = col.num
      for i = 0, n - 1 do out[i + 1] = num[i] end
    else
      local chars, off, len = col.chars, col.off, col.len
      local fstring = ffi.string
      for i = 0, n - 1 do
        local l = len[i]
        out[i + 1] = l > 0 and fstring(chars + off[i], l) or ""
      end
    end
    return out
  end

  local function table_to_frame(t, opts, where)
    local n = tonumber(t.nrow)
    local names, cols, seen = {}, {}, {}
    local want
    if opts.usecols then
      want = {}
      for _, c in ipairs(opts.usecols) do want[c] = true end
    end
    if opts.names and #opts.names ~= t.ncol then
      error(fmt("%s: names has %d entries, the file has %d columns", where, #opts.names,
                t.ncol), 3)
    end
    for j = 0, t.ncol - 1 do
      local col = t.cols[j]
      local name = opts.names and opts.names[j + 1] or ffi.string(col.name)
      if seen[name] then              -- pandas: a, a.1, a.2
        local k = seen[name]
        while seen[name .. "." .. k] do k = k + 1 end
        seen[name] = k + 1
        name = name .. "." .. k
      end
      seen[name] = seen[name] or 1
      if not want or want[name] then
        names[#names + 1] = name
        cols[name] = to_lua(col, n)
        if want then want[name] = nil end
      end
    end
    if want and next(want) then
      local missing = next(want)
      local all = {}
      for j = 0, t.ncol - 1 do all[#all + 1] = ffi.string(t.cols[j].name) end
      error(fmt("%s: usecols names unknown column '%s' (columns: %s)", where, missing,
                concat(all, ", ")), 3)
    end
    return F.make(names, cols, n)
  end

  -- ci.read_csv(path, {sep =, header = true, na_values = {...}, names = {...}, usecols = {...}})
  function ci.read_csv(path, opts)
    local where = "ci.read_csv"
    if type(path) ~= "string" then
      error(where .. ": path must be a string, got " .. type(path), 2)
    end
    opts = opts or {}
    if type(opts) ~= "table" then error(where .. ": opts must be a table, got " .. type(opts), 2) end
    local o = ffi.new("ci_csv_options")
    o.sep = sep_arg(opts.sep, where)
    o.header = opts.header == false and 0 or 1
    local na = opts.na_values
    local na_arr
    if na ~= nil then
      if type(na) == "string" then na = {na} end
      na_arr = ffi.new("const char *[?]", #na + 1)
      for i, s in ipairs(na) do na_arr[i - 1] = s end   -- `na` keeps the strings alive
      o.na_values, o.n_na = na_arr, #na
    end
    local out = ffi.new("ci_csv_table *[1]")
    local rc
    if opts.text then
      rc = C.ci_csv_parse(opts.text, #opts.text, path, o, out)
    else
      rc = C.ci_csv_read(path, o, out)
    end
    if rc ~= 0 then raise(where, 2) end
    local t = ffi.gc(out[0], C.ci_csv_free)
    local f = table_to_frame(t, opts, where)
    ffi.gc(t, nil)
    C.ci_csv_free(t)
    return f
  end

  -- ci.read_csv_string(text, opts): the same from a string
  function ci.read_csv_string(text, opts)
    if type(text) ~= "string" then
      error("ci.read_csv_string: text must be a string, got " .. type(text), 2)
    end
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.text = text
    return (ci.read_csv((opts and opts.name) or "<string>", o))
  end

  local function num_text(v)
    if v ~= v then return "" end
    local s = fmt("%.15g", v)
    if tonumber(s) ~= v then s = fmt("%.17g", v) end
    if (v > 2 ^ 53 or v < -2 ^ 53) and s:find("^%-?%d+$") then s = fmt("%.16e", v) end
    return s
  end

  -- f:write_csv(path, {sep = ",", header = true, gzip = <path ends .gz>})
  -- Numeric columns go to C as doubles, string columns as pointers to the Lua
  -- strings (alive in the frame during the call); a mixed column is turned
  -- into text first (numbers as num_text, booleans as true/false).
  function F.Frame.write_csv(f, path, opts)
    local where = "ci.frame:write_csv"
    if not F.is_frame(f) then error(where .. ": call it as f:write_csv(path)", 2) end
    if type(path) ~= "string" then
      error(where .. ": path must be a string, got " .. type(path), 2)
    end
    opts = opts or {}
    if type(opts) ~= "table" then error(where .. ": opts must be a table, got " .. type(opts), 2) end
    local sep = opts.sep or ((path:match("%.tsv$") or path:match("%.tsv%.gz$")) and "\t" or ",")
    local sepb = sep_arg(sep, where)
    local gz = opts.gzip
    if gz == nil then gz = path:match("%.gz$") ~= nil end
    local names, cols, nrow = f._names, f._cols, f._nrow
    local nc = #names
    local wcols = ffi.new("ci_csv_wcol[?]", math.max(nc, 1))
    local keep = {}
    for j = 1, nc do
      local name, src = names[j], cols[names[j]]
      local w = wcols[j - 1]
      w.name = name
      local allnum, allstr = true, true
      for i = 1, nrow do
        local t = type(src[i])
        if t ~= "number" then allnum = false end
        if t ~= "string" then allstr = false end
        if not allnum and not allstr then break end
      end
      if allnum then
        local a = ffi.new("double[?]", math.max(nrow, 1))
        for i = 1, nrow do a[i - 1] = src[i] end
        w.type, w.num = C.CI_CSV_NUM, a
        keep[#keep + 1] = a
      else
        local text = src
        if not allstr then
          text = table_new(nrow, 0)
          for i = 1, nrow do
            local v = src[i]
            if type(v) == "number" then v = num_text(v)
            elseif v == nil then v = ""
            else v = tostring(v) end
            text[i] = v
          end
        end
        local p = ffi.new("const char *[?]", math.max(nrow, 1))
        local l = ffi.new("int64_t[?]", math.max(nrow, 1))
        for i = 1, nrow do
          local v = text[i]
          p[i - 1] = v
          l[i - 1] = #v
        end
        w.type, w.str, w.slen = C.CI_CSV_STR, p, l
        keep[#keep + 1] = {p, l, text}
      end
    end
    local rc = C.ci_csv_write(path, wcols, nc, nrow, sepb, opts.header == false and 0 or 1,
                              gz and 1 or 0)
    keep = nil
    if rc ~= 0 then raise(where, 2) end
    return f
  end
  F.Frame.to_csv = F.Frame.write_csv

  ci.write_csv = function(f, path, opts) return F.Frame.write_csv(f, path, opts) end
end
