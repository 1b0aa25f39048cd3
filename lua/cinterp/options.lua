-- options.lua: the declarations of the public API, and the checking of option
-- tables against them. A declaration names a function once (signature, one
-- paragraph, positional arguments, options with type, default and one line of
-- doc, returns, a runnable example); from it O.check checks and completes an
-- options table, help.lua prints `help`, and docs/API.md is generated.
--
--   local O = require "cinterp.options"
--   local READ = O.declare{
--     name = "ci.read_csv", topic = "Frames and CSV",
--     doc = "Reads a CSV file into a frame. ...",
--     args = { { "path", "string", "the file (plain or gzip)" } },
--     opts = {                                 -- { name, type, default, doc, ... }
--       { "sep", "string", ",", "the field separator" },
--       { "header", "boolean", true, "the first line names the columns" },
--     },
--     returns = { { "frame", "frame", "one column per field" } },
--     example = [[print(ci.read_csv_string("a,b\n1,2\n"):nrow())  --> 1]],
--   }
--   function ci.read_csv(path, opts)
--     opts = O.check(READ, opts)     -- a new table: checked, defaults filled
--
-- Types: "number", "integer", "boolean", "string", "char" (one character), "table" (a plain table),
-- "array" (a plain table with keys 1..n only), "function", "tensor", "sparse",
-- "false", "any", and those modules add with O.define_type ("frame", ...);
-- a bound may follow a numeric type ("integer >= 1", "number > 0",
-- "number 0..1"); alternatives are joined with "|" ("string|false"). A type may
-- also be a Lua array of the allowed values ({ "inner", "left" }) or a checker
-- O.checker(text, test).
-- Option entry fields besides the four positional ones: alias (another
-- accepted name, or a list of them), default_text (how a computed default
-- reads in help: "20240601 + n").
-- Declaration fields: name, topic, doc, args ({ name, type text, doc,
-- optional = true }; "..." for a variadic tail), opts, returns ({ name, type
-- text, doc }), example, and optionally where (the function's name in error
-- messages; default name), opts_name ("opts"), opts_position (default: after
-- the args), signature (overrides the generated one), aliases (other names of
-- the same function), extends (the name of a declaration whose options are
-- also accepted and passed on, checked for type only), array_ok = true (the
-- options table may also hold an array part, e.g. ci.cli.parse's entries).
-- Keys that start with "_" are internal (a test's switch): they pass unchecked.
local M = {}

local fmt, concat, sort = string.format, table.concat, table.sort
local ffi = require "ffi"
require "cinterp.ffi"      -- the ci_tensor / ci_csr types the type tests name

M.list = {}        -- the declarations, in the order they were made
M.by_name = {}     -- name (and alias) -> declaration
M.classes = {}     -- prefix ("frame") -> class, see M.class
M.class_list = {}

------------------------------------------------------------------ describing values

local function is_plain_table(v) return type(v) == "table" and getmetatable(v) == nil end

-- "a number (3)", "a string ("yes")", "a Lua array of 2 values", "a tensor (2x3)"
local describers = {}
function M.describe(v)
  for _, d in ipairs(describers) do
    local s = d(v)
    if s then return s end
  end
  local t = type(v)
  if t == "number" then return fmt("a number (%s)", tostring(v)) end
  if t == "string" then
    local s = #v > 30 and (v:sub(1, 27) .. "...") or v
    return fmt("a string (%q)", s)
  end
  if t == "boolean" then return tostring(v) end
  if t == "nil" then return "nil" end
  if t == "table" then
    local n, named = 0, 0
    for k in pairs(v) do
      if type(k) == "number" then n = n + 1 else named = named + 1 end
    end
    if getmetatable(v) ~= nil then return "a table with a metatable (an object)" end
    if n > 0 and named == 0 then return fmt("a Lua array of %d value%s", n, n == 1 and "" or "s") end
    return "a table"
  end
  if t == "cdata" then return "a cdata (" .. tostring(ffi.typeof(v)) .. ")" end
  return "a " .. t
end

-- A module may teach describe its objects: fn(v) -> text or nil.
function M.add_describer(fn) describers[#describers + 1] = fn end

------------------------------------------------------------------ types

local TYPES = {}

-- O.define_type(name, text, test): a type name usable in declarations.
function M.define_type(name, text, test)
  TYPES[name] = { text = text, test = test }
end

local tensor_ptr, csr_ptr = ffi.typeof("ci_tensor*"), ffi.typeof("ci_csr*")
M.define_type("any", "any value", function() return true end)
M.define_type("number", "a number", function(v) return type(v) == "number" end)
M.define_type("integer", "an integer", require("cinterp.util").is_int)
M.define_type("boolean", "a boolean", function(v) return type(v) == "boolean" end)
M.define_type("string", "a string", function(v) return type(v) == "string" end)
M.define_type("function", "a function", function(v) return type(v) == "function" end)
M.define_type("table", "a table", is_plain_table)
M.define_type("array", "a Lua array", function(v)
  if not is_plain_table(v) then return false end
  local n = #v
  for k in pairs(v) do
    if type(k) ~= "number" or k < 1 or k > n or k % 1 ~= 0 then return false end
  end
  return true
end)
M.define_type("false", "false", function(v) return v == false end)
M.define_type("char", "a one-character string", function(v) return type(v) == "string" and #v == 1 end)
M.define_type("tensor", "a tensor", function(v) return type(v) == "cdata" and ffi.istype(tensor_ptr, v) end)
M.define_type("sparse", "a sparse matrix", function(v) return type(v) == "cdata" and ffi.istype(csr_ptr, v) end)

-- O.checker(text, test): a type given by a test function (test(v) -> boolean).
function M.checker(text, test) return { checker = true, text = text, test = test } end

local function quote(v)
  if type(v) == "string" then return fmt("%q", v) end
  return tostring(v)
end

-- "a", "a or b", "a, b or c"
local function either(list, word)
  word = word or "or"
  if #list <= 1 then return list[1] or "" end
  return concat(list, ", ", 1, #list - 1) .. " " .. word .. " " .. list[#list]
end
M.either = either

-- One alternative of a type string: "integer >= 1", "number 0..1", "tensor".
local function parse_alternative(s)
  s = s:match("^%s*(.-)%s*$")
  local base, op, num = s:match("^([%a_]+)%s*([<>]=?)%s*(%-?[%d%.]+[eE]?%-?%d*)$")
  if base then
    return { base = base, op = op, bound = tonumber(num) }
  end
  local b2, lo, hi = s:match("^([%a_]+)%s+(%-?[%d%.]+)%.%.(%-?[%d%.]+)$")
  if b2 then return { base = b2, lo = tonumber(lo), hi = tonumber(hi) } end
  return { base = s }
end

-- The compiled form of a declared type: { text = ..., test = fn, names = {...} }.
local compiled = {}                                     -- type string -> compiled
local compiled_lists = setmetatable({}, { __mode = "k" }) -- list of values -> compiled
local function compile(ty)
  if type(ty) == "table" and ty.checker then return ty end
  if type(ty) == "table" then   -- one of a list of values
    if compiled_lists[ty] then return compiled_lists[ty] end
    local words, set = {}, {}
    for i, v in ipairs(ty) do words[i] = quote(v); set[v] = true end
    local c = { text = "one of " .. either(words), test = function(v) return set[v] == true end, values = ty }
    compiled_lists[ty] = c
    return c
  end
  if compiled[ty] then return compiled[ty] end
  local alts = {}
  for part in tostring(ty):gmatch("[^|]+") do alts[#alts + 1] = parse_alternative(part) end
  local texts, names, all_known = {}, {}, true
  for k, a in ipairs(alts) do
    names[k] = a.base
    local base = TYPES[a.base]
    if not base then all_known = false end
    local t = base and base.text or a.base
    if a.op then t = fmt("%s %s %s", t, a.op, tostring(a.bound))
    elseif a.lo then t = fmt("%s in %s..%s", t, tostring(a.lo), tostring(a.hi)) end
    texts[k] = t
  end
  local c = { text = either(texts), names = names }
  c.test = function(v)
    for _, a in ipairs(alts) do
      local base = TYPES[a.base]
      if not base then error("options: unknown type '" .. a.base .. "'", 0) end
      if base.test(v) then
        local ok = true
        if a.op == ">=" then ok = v >= a.bound
        elseif a.op == ">" then ok = v > a.bound
        elseif a.op == "<=" then ok = v <= a.bound
        elseif a.op == "<" then ok = v < a.bound
        elseif a.lo then ok = v >= a.lo and v <= a.hi end
        if ok then return true end
      end
    end
    return false
  end
  if all_known then compiled[ty] = c end   -- a type defined later must not keep its bare name
  return c
end
M.compile_type = compile

-- The type names a declared type uses (for the test that every one is known).
function M.type_names(ty)
  local c = compile(ty)
  return c.names or {}
end
function M.known_type(name) return TYPES[name] ~= nil end

-- How a type reads in help and docs.
function M.type_text(ty)
  if type(ty) == "string" then return ty end
  return compile(ty).text
end

------------------------------------------------------------------ closest names

-- Edit distance (insertions, deletions, substitutions, adjacent transpositions).
local function distance(a, b)
  local la, lb = #a, #b
  if la == 0 then return lb end
  if lb == 0 then return la end
  local prev2, prev, cur = {}, {}, {}
  for j = 0, lb do prev[j] = j end
  for i = 1, la do
    cur = { [0] = i }
    local ai = a:byte(i)
    for j = 1, lb do
      local bj = b:byte(j)
      local cost = ai == bj and 0 or 1
      local d = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
      if i > 1 and j > 1 and ai == b:byte(j - 1) and a:byte(i - 1) == bj then
        d = math.min(d, prev2[j - 2] + 1)
      end
      cur[j] = d
    end
    prev2, prev = prev, cur
  end
  return prev[lb]
end
M.distance = distance

-- The candidates closest to `word` (at most `max`, best first): within an edit
-- distance of about a third of the word, or sharing a prefix of 3+ characters
-- with one being the start of the other.
function M.closest(word, candidates, max)
  word = tostring(word)
  local lw = word:lower()
  local scored = {}
  for _, c in ipairs(candidates) do
    local s = tostring(c)
    local lc = s:lower()
    local d = distance(lw, lc)
    local limit = math.max(1, math.floor(math.max(#lw, #lc) / 3))
    local prefix = math.min(#lw, #lc) >= 3 and (lc:sub(1, #lw) == lw or lw:sub(1, #lc) == lc)
    if d <= limit or prefix then
      scored[#scored + 1] = { c = c, d = prefix and math.min(d, limit) or d }
    end
  end
  sort(scored, function(x, y)
    if x.d ~= y.d then return x.d < y.d end
    return tostring(x.c) < tostring(y.c)
  end)
  local out = {}
  for k = 1, math.min(max or 3, #scored) do out[k] = scored[k].c end
  return out
end

-- " (did you mean 'a' or 'b'?)", or " (<what>: a, b, c)" when nothing is close.
function M.suggestion(word, candidates, what)
  local close = M.closest(word, candidates, 3)
  if #close > 0 then
    local q = {}
    for k, c in ipairs(close) do q[k] = "'" .. tostring(c) .. "'" end
    return " (did you mean " .. either(q) .. "?)"
  end
  local all = {}
  for k, c in ipairs(candidates) do all[k] = tostring(c) end
  sort(all)
  if #all > 25 then
    local n = #all
    all = { unpack(all, 1, 20) }
    all[#all + 1] = fmt("... (%d in all)", n)
  end
  if #all == 0 then return "" end
  return " (" .. (what or "options") .. ": " .. concat(all, ", ") .. ")"
end

------------------------------------------------------------------ declarations

-- "dim?, i" -> { {"dim", optional = true}, {"i"} }: args or returns given as a
-- string of names (no type or doc of their own: the paragraph tells them).
function M.name_list(x)
  if x == nil then return {} end
  if type(x) ~= "string" then return x end
  local out = {}
  for part in x:gmatch("[^,]+") do
    local name = part:match("^%s*(.-)%s*$")
    local opt = name:sub(-1) == "?" and name ~= "?"
    out[#out + 1] = { opt and name:sub(1, -2) or name, optional = opt or nil }
  end
  return out
end

-- A long string written inside indented code: its lines after the first lose
-- the indentation they share (the first line starts right after the [[).
local function dedent(s)
  local first, rest = s:match("^([^\n]*)\n(.*)$")
  if not first then return s end
  local min
  for line in (rest .. "\n"):gmatch("(.-)\n") do
    if line:find("%S") then
      local w = #line:match("^ *")
      if not min or w < min then min = w end
    end
  end
  if not min or min == 0 then return s end
  local out = { first }
  for line in (rest .. "\n"):gmatch("(.-)\n") do out[#out + 1] = line:sub(min + 1) end
  return table.concat(out, "\n")
end
M.dedent = dedent

local function fail_decl(name, msg) error("options.declare(" .. tostring(name) .. "): " .. msg, 3) end

-- Builds the option index of a declaration (checked for well-formedness).
local function index_options(d)
  d.opt_by_key = {}
  for k, o in ipairs(d.opts or {}) do
    if type(o) ~= "table" or type(o[1]) ~= "string" then
      fail_decl(d.name, "opts[" .. k .. "] must be { name, type, default, doc }")
    end
    if o[2] == nil then fail_decl(d.name, "option '" .. o[1] .. "' has no type") end
    if type(o[4]) ~= "string" or o[4] == "" then
      fail_decl(d.name, "option '" .. o[1] .. "' has no doc line")
    end
    if d.opt_by_key[o[1]] then fail_decl(d.name, "option '" .. o[1] .. "' is declared twice") end
    d.opt_by_key[o[1]] = o
    local aliases = o.alias
    if type(aliases) == "string" then aliases = { aliases } end
    o.aliases = aliases or {}
    for _, a in ipairs(o.aliases) do d.opt_by_key[a] = o end
  end
end

-- O.declare(spec) -> the declaration (spec itself, completed and registered).
function M.declare(d)
  if type(d) ~= "table" or type(d.name) ~= "string" then
    fail_decl(d and d.name, "expected a table with a name")
  end
  for _, field in ipairs { "topic", "doc", "example" } do
    if type(d[field]) ~= "string" or d[field] == "" then fail_decl(d.name, "no " .. field) end
  end
  d.where = d.where or d.name
  d.doc, d.example = dedent(d.doc), dedent(d.example)
  d.args = M.name_list(d.args)
  d.returns = M.name_list(d.returns)
  d.aliases = d.aliases or {}
  index_options(d)
  local old = M.by_name[d.name]
  if old then          -- a module installed again: replace in place
    for k, x in ipairs(M.list) do if x == old then M.list[k] = d end end
  else
    M.list[#M.list + 1] = d
  end
  M.by_name[d.name] = d
  for _, a in ipairs(d.aliases) do M.by_name[a] = d end
  return d
end

-- O.declare_methods(prefix, topic, list): methods from compact entries
-- { name, args, returns, paragraph, example, aliases? } (args and returns as
-- strings of names: "dim?, i").
function M.declare_methods(prefix, topic, list)
  for _, m in ipairs(list) do
    M.declare{ name = prefix .. ":" .. m[1], topic = topic, args = m[2], returns = m[3], doc = m[4],
               example = m[5], aliases = m[6] }
  end
end

-- O.class{prefix = "frame", name = "ci.frame", methods = Frame, is = is_frame,
-- topic = ..., doc = ...}: method declarations "frame:filter" resolve into
-- `methods`, and help(x) of an object x with is(x) lists its methods.
function M.class(c)
  assert(type(c.prefix) == "string" and type(c.methods) == "table" and type(c.is) == "function")
  if not M.classes[c.prefix] then M.class_list[#M.class_list + 1] = c.prefix end
  M.classes[c.prefix] = c
  return c
end

-- The class of a value, or nil.
function M.class_of(v)
  for _, p in ipairs(M.class_list) do
    local c = M.classes[p]
    local ok, yes = pcall(c.is, v)
    if ok and yes then return c end
  end
  return nil
end

-- The value a declared name stands for ("ci.read_csv", "frame:filter"), or nil.
function M.resolve(name)
  local prefix, method = name:match("^([%w_]+):([%w_]+)$")
  if prefix then
    local c = M.classes[prefix]
    return c and c.methods[method] or nil
  end
  local v = M.ci
  if not v then return nil end
  local first = true
  for part in name:gmatch("[^%.]+") do
    if first and part == "ci" then
      first = false
    else
      if type(v) ~= "table" then return nil end
      v = rawget(v, part)
      if v == nil then return nil end
      first = false
    end
  end
  return v
end

-- The declaration of a function value (or callable table), or nil.
function M.declaration_of(value)
  if value == nil then return nil end
  for _, d in ipairs(M.list) do
    if M.resolve(d.name) == value then return d end
    for _, a in ipairs(d.aliases) do
      if M.resolve(a) == value then return d end
    end
  end
  return nil
end

------------------------------------------------------------------ checking

local function copy_default(v)
  if type(v) ~= "table" then return v end
  local c = {}
  for k, x in pairs(v) do c[k] = copy_default(x) end
  return c
end

local function option_names(d)
  local names = {}
  for _, o in ipairs(d.opts or {}) do names[#names + 1] = o[1] end
  local ext = d.extends and M.by_name[d.extends]
  if ext then
    for _, o in ipairs(ext.opts or {}) do
      if not d.opt_by_key[o[1]] then names[#names + 1] = o[1] end
    end
  end
  return names
end
M.option_names = option_names

local function type_error(d, o, key, v, level)
  local c = compile(o[2])
  local given = key ~= o[1] and fmt("'%s' (%s)", key, o[1]) or fmt("'%s'", key)
  error(fmt("%s: option %s must be %s, got %s", d.where, given, c.text, M.describe(v)), level + 1)
end

-- "{"odour_a", "odour_b"}" for the message about an array given as options
local function array_text(t)
  local parts = {}
  for k = 1, math.min(#t, 4) do
    local v = t[k]
    parts[k] = type(v) == "string" and fmt("%q", v) or (type(v) == "number" and tostring(v) or M.describe(v))
  end
  if #t > 4 then parts[#parts + 1] = "..." end
  return "{" .. concat(parts, ", ") .. "}"
end

-- O.check(decl, opts, level) -> a new table: opts checked against the
-- declaration, with the declared defaults filled in (the caller's table is not
-- changed). Errors are raised at `level` (default 2: the caller of the function
-- that calls check).
function M.check(d, opts, level)
  level = (level or 2) + 1
  local out = {}
  if opts ~= nil then
    if not is_plain_table(opts) then
      error(fmt("%s: %s must be a table of named options, got %s", d.where, d.opts_name or "opts",
                M.describe(opts)), level)
    end
    if not d.array_ok and next(opts) ~= nil then
      local positional = false
      for k in pairs(opts) do if type(k) == "number" then positional = true; break end end
      if positional then
        local names = option_names(d)
        local shown = {}
        for k = 1, math.min(#names, 3) do shown[k] = names[k] .. " = ..." end
        local hint = #names > 0 and ("{" .. concat(shown, ", ") .. (#names > 3 and ", ..." or "") .. "}")
          or "no options"
        error(fmt("%s: %s is a Lua array %s, but options are named fields: %s", d.where,
                  d.opts_name or "opts", array_text(opts), hint), level)
      end
    end
    local ext = d.extends and M.by_name[d.extends]
    local given_as = {}
    for k, v in pairs(opts) do
      local o = d.opt_by_key[k]
      if o then
        if given_as[o[1]] then
          local a, b = given_as[o[1]], k          -- the option's own name first
          if b == o[1] or (a ~= o[1] and b < a) then a, b = b, a end
          error(fmt("%s: give either '%s' or '%s', not both", d.where, a, b), level)
        end
        given_as[o[1]] = k
        if not compile(o[2]).test(v) then type_error(d, o, k, v, level) end
        out[o[1]] = v
      elseif type(k) == "number" and d.array_ok then
        out[k] = v
      elseif type(k) == "string" and k:sub(1, 1) == "_" then
        out[k] = v          -- an internal key (tests, private paths): not part of the API
      elseif ext and ext.opt_by_key[k] then
        local eo = ext.opt_by_key[k]
        if not compile(eo[2]).test(v) then type_error(d, eo, k, v, level) end
        out[k] = v
      elseif d.extends and not ext then
        out[k] = v          -- passed on to a function not declared (yet): it checks them
      else
        error(fmt("%s: unknown option '%s'%s", d.where, tostring(k),
                  M.suggestion(k, option_names(d), "options")), level)
      end
    end
  end
  for _, o in ipairs(d.opts or {}) do
    if out[o[1]] == nil and o[3] ~= nil then out[o[1]] = copy_default(o[3]) end
  end
  return out
end

-- The declared default of an option (a copy), for code that fills it itself.
function M.default(d, name)
  local o = d.opt_by_key[name]
  assert(o, "options.default: " .. d.name .. " has no option " .. tostring(name))
  return copy_default(o[3])
end

return M
