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
local O = require "cinterp.options"

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

  local function sep_arg(sep)
    if sep == nil then return 0 end
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

  -- Reads the file at path, or the string text (path then names it), with
  -- checked options; errors are raised at the public function's caller.
  local function read(where, path, opts, text)
    local o = ffi.new("ci_csv_options")
    o.sep = sep_arg(opts.sep)
    o.header = opts.header and 1 or 0
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
    if text then
      rc = C.ci_csv_parse(text, #text, path, o, out)
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

  local READ_OPTS = {
    { "sep", "char", nil, "the field separator", default_text = "\",\" (a tab for .tsv and .tab files)" },
    { "header", "boolean", true, "the first record names the columns (else col1 .. colN)" },
    { "na_values", "string|array", nil, "cell texts read as missing, besides the empty cell", default_text = "none" },
    { "names", "array", nil, "the column names to use instead of the file's", default_text = "the header's" },
    { "usecols", "array", nil, "the columns to keep (by name)", default_text = "all" },
  }
  local READ = O.declare{ name = "ci.read_csv", topic = "CSV",
    doc = [[Reads a CSV file (plain or gzip, told by its first bytes) into a frame: RFC 4180
    quoting, typed columns (numeric when every non-empty cell is a number, else text; integers
    beyond 2^53 such as FlyWire ids stay text so they survive exactly). Empty cells are missing
    (NaN or ""); a header-only file gives 0 rows; duplicate header names get .1, .2 as in
    pandas. Errors name the file and the line.]],
    args = { { "path", "string", "the file" } },
    opts = READ_OPTS,
    returns = { { "frame", "frame", "one column per field" } },
    example = [[local p = os.tmpname()
    ci.frame{glom = {"DA1", "DL5"}, odour = {0.5, -0.1}}:write_csv(p)
    local f = ci.read_csv(p)
    os.remove(p)
    print(f:nrow(), f.glom[2], f.odour[1])  --> 2 DL5 0.5]] }

  function ci.read_csv(path, opts)
    if type(path) ~= "string" then
      error("ci.read_csv: path must be a string, got " .. type(path), 2)
    end
    return read("ci.read_csv", path, O.check(READ, opts))
  end

  local STRING_OPTS = { { "name", "string", "<string>", "the name of the text in error messages" } }
  for _, o in ipairs(READ_OPTS) do STRING_OPTS[#STRING_OPTS + 1] = o end
  local READ_STRING = O.declare{ name = "ci.read_csv_string", topic = "CSV",
    doc = "Reads CSV text held in a string into a frame, as ci.read_csv reads a file.",
    args = { { "text", "string", "the CSV text" } },
    opts = STRING_OPTS,
    returns = "frame",
    example = [[local f = ci.read_csv_string("a;b\n1;x\n", {sep = ";"})
    print(f.a[1], f.b[1])  --> 1 x]] }

  function ci.read_csv_string(text, opts)
    if type(text) ~= "string" then
      error("ci.read_csv_string: text must be a string, got " .. type(text), 2)
    end
    opts = O.check(READ_STRING, opts)
    return read("ci.read_csv_string", opts.name, opts, text)
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
  local WRITE = O.declare{ name = "frame:write_csv", where = "ci.frame:write_csv", topic = "CSV",
    aliases = { "frame:to_csv", "ci.write_csv" },
    doc = [[Writes the frame as CSV (RFC 4180: fields quoted when they hold the separator, a
    quote, a newline or edge spaces); numbers round-trip exactly, NaN becomes an empty cell. A
    path ending in .gz is written gzipped. ci.write_csv(f, path, opts) is the same.]],
    args = { { "path", "string", "the file to write" } },
    opts = { { "sep", "char", nil, "the field separator", default_text = "\",\" (a tab for .tsv files)" },
             { "header", "boolean", true, "write the column names first" },
             { "gzip", "boolean", nil, "compress with gzip", default_text = "path ends in .gz" } },
    returns = { { "f", "frame", "the frame itself" } },
    example = [[local p = os.tmpname() .. ".csv.gz"
    ci.frame{x = {1.5, 0 / 0}}:write_csv(p)
    local back = ci.read_csv(p)
    os.remove(p)
    print(back.x[1], back.x[2] ~= back.x[2])  --> 1.5 true]] }

  function F.Frame.write_csv(f, path, opts)
    local where = "ci.frame:write_csv"
    if not F.is_frame(f) then error(where .. ": call it as f:write_csv(path)", 2) end
    if type(path) ~= "string" then
      error(where .. ": path must be a string, got " .. type(path), 2)
    end
    opts = O.check(WRITE, opts)
    local sep = opts.sep or ((path:match("%.tsv$") or path:match("%.tsv%.gz$")) and "\t" or ",")
    local sepb = sep_arg(sep)
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
    local rc = C.ci_csv_write(path, wcols, nc, nrow, sepb, opts.header and 1 or 0,
                              gz and 1 or 0)
    keep = nil
    if rc ~= 0 then raise(where, 2) end
    return f
  end

  ci.write_csv = function(f, path, opts) return F.Frame.write_csv(f, path, opts) end
  F.Frame.to_csv = F.Frame.write_csv
end
