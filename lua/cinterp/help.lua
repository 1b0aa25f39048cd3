-- help.lua: ci.help, the help at the prompt, and the Markdown API reference
-- (docs/API.md, `make docs`), both rendered from the declarations of
-- options.lua. help(f) takes a function, a name ("activation_maximisation",
-- "ci.saliency", "frame:filter", "f:filter" for a global frame f), an object
-- (its methods) or a topic; help() alone lists the library by topic.
local O = require "cinterp.options"

local fmt, concat, rep = string.format, table.concat, string.rep

local H = {}

-- Topics in the order help() and docs/API.md list them; others follow in the
-- order they first appear.
local TOPIC_ORDER = {
  "Tensors", "Autodiff", "Sparse matrices", "Frames", "CSV", "Connectomes", "Models",
  "Targets", "Recipes", "Data helpers", "Paths", "Figures", "Devices", "Command line", "Help",
}

local function topics()
  local order, seen, by = {}, {}, {}
  for _, t in ipairs(TOPIC_ORDER) do by[t] = {} end
  for _, d in ipairs(O.list) do
    if not by[d.topic] then by[d.topic] = {}; order[#order + 1] = d.topic end
    table.insert(by[d.topic], d)
  end
  local list = {}
  for _, t in ipairs(TOPIC_ORDER) do
    if #by[t] > 0 then list[#list + 1] = t; seen[t] = true end
  end
  for _, t in ipairs(order) do if not seen[t] then list[#list + 1] = t end end
  return list, by
end

------------------------------------------------------------------ pieces of a declaration

local function is_method(d) return d.name:find(":", 1, true) ~= nil end

-- The name as written in a call: "ci.read_csv", "f:filter".
local function call_name(d)
  local prefix, method = d.name:match("^([%w_]+):([%w_]+)$")
  if prefix then
    local c = O.classes[prefix]
    return ((c and c.var) or prefix) .. ":" .. method
  end
  return d.name
end

local function signature(d)
  if d.signature then return d.signature end
  local parts = {}
  for _, a in ipairs(d.args) do parts[#parts + 1] = a[1] .. (a.optional and "?" or "") end
  if d.opts and #d.opts > 0 or d.extends then
    local pos = d.opts_position or (#parts + 1)
    table.insert(parts, pos, (d.opts_name or "opts") .. "?")
  end
  local s = call_name(d) .. "(" .. concat(parts, ", ") .. ")"
  if #d.returns > 0 then
    local r = {}
    for k, x in ipairs(d.returns) do r[k] = x[1] end
    s = s .. " -> " .. concat(r, ", ")
  end
  return s
end
H.signature = signature

-- The first sentence of the paragraph (it ends at a full stop before a capital
-- letter, or at the end), cut to `width` characters (for listings).
local function summary(d, width)
  local doc = d.doc:gsub("%s+", " ")
  local s = doc:match("^(.-%.) %u") or doc
  width = width or 90
  if #s > width then s = s:sub(1, width - 3):gsub("%s*%S*$", ""):gsub("[%s,;:%.]*$", "") .. "..." end
  return s
end
H.summary = summary

local function value_text(v)
  if type(v) == "string" then return fmt("%q", v) end
  if type(v) == "table" then
    local parts = {}
    for _, x in ipairs(v) do parts[#parts + 1] = value_text(x) end
    local keys = {}
    for k in pairs(v) do if type(k) ~= "number" then keys[#keys + 1] = k end end
    table.sort(keys, function(a, b) return tostring(a) < tostring(b) end)
    for _, k in ipairs(keys) do parts[#parts + 1] = tostring(k) .. " = " .. value_text(v[k]) end
    return "{" .. concat(parts, ", ") .. "}"
  end
  return tostring(v)
end

local function default_text(o)
  if o.default_text then return o.default_text end
  if o[3] == nil then return "nil" end
  return value_text(o[3])
end

local function type_text(ty)
  if type(ty) == "table" and not ty.checker then
    local q = {}
    for k, v in ipairs(ty) do q[k] = value_text(v) end
    return concat(q, "|")
  end
  return O.type_text(ty)
end

-- Words wrapped to `width` columns, each line starting with `indent`.
local function wrap(text, width, indent)
  local lines, line = {}, indent
  for word in text:gmatch("%S+") do
    if #line > #indent and #line + 1 + #word > width then
      lines[#lines + 1] = line
      line = indent .. word
    else
      line = (#line > #indent) and (line .. " " .. word) or (line .. word)
    end
  end
  if #line > #indent then lines[#lines + 1] = line end
  return concat(lines, "\n")
end

-- Paragraphs (separated by blank lines) wrapped one by one.
local function paragraphs(text, width, indent)
  local out = {}
  for p in (text .. "\n\n"):gmatch("(.-)\n%s*\n") do
    if p:find("%S") then out[#out + 1] = wrap(p, width, indent) end
  end
  return concat(out, "\n\n")
end

-- Rows of cells aligned in columns (the last one left free).
local function columns(rows, indent)
  local widths = {}
  for _, r in ipairs(rows) do
    for k = 1, #r - 1 do widths[k] = math.max(widths[k] or 0, #r[k]) end
  end
  local out = {}
  for i, r in ipairs(rows) do
    local cells = {}
    for k = 1, #r - 1 do cells[k] = r[k] .. rep(" ", widths[k] - #r[k]) end
    cells[#r] = r[#r]
    out[i] = (indent .. concat(cells, "  ")):gsub("%s+$", "")
  end
  return concat(out, "\n")
end

local function option_rows(d)
  local rows = {}
  for _, o in ipairs(d.opts or {}) do
    local name = o[1]
    if #o.aliases > 0 then name = name .. " (or " .. concat(o.aliases, ", ") .. ")" end
    rows[#rows + 1] = { name, type_text(o[2]), default_text(o), o[4] }
  end
  return rows
end

-- Whether a list of args or returns says more than their names.
local function described(list)
  for _, a in ipairs(list) do
    if (a[2] and a[2] ~= "") or (a[3] and a[3] ~= "") then return true end
  end
  return false
end

------------------------------------------------------------------ help text

local function class_methods_text(c, indent)
  local rows = {}
  for _, d in ipairs(O.list) do
    local prefix = d.name:match("^([%w_]+):")
    if prefix == c.prefix then rows[#rows + 1] = { signature(d), summary(d, 72) } end
  end
  if #rows == 0 then return nil end
  local lines = {}
  for _, r in ipairs(rows) do lines[#lines + 1] = indent .. r[1] .. "\n" .. indent .. "    " .. r[2] end
  return concat(lines, "\n")
end

-- The help text of one declaration.
function H.text_of(d)
  local out = { signature(d), "", paragraphs(d.doc, 78, "  ") }
  if described(d.args) then
    local rows = {}
    for _, a in ipairs(d.args) do
      rows[#rows + 1] = { a[1] .. (a.optional and "?" or ""), a[2] or "", a[3] or "" }
    end
    out[#out + 1] = "\nArguments"
    out[#out + 1] = columns(rows, "  ")
  end
  if d.opts and #d.opts > 0 then
    out[#out + 1] = "\nOptions (" .. (d.opts_name or "opts") .. " = {name = value, ...}: name, type, default)"
    local rows, docs = {}, {}
    for k, r in ipairs(option_rows(d)) do rows[k], docs[k] = { r[1], r[2], r[3] }, r[4] end
    local k = 0
    out[#out + 1] = (columns(rows, "  "):gsub("[^\n]+", function(line)
      k = k + 1
      return line .. "\n" .. wrap(docs[k], 78, "      ")
    end))
  end
  if d.extends then
    out[#out + 1] = "  ... and the options of " .. d.extends .. " (help\"" .. d.extends .. "\"), passed on"
  end
  if described(d.returns) then
    local rows = {}
    for _, r in ipairs(d.returns) do rows[#rows + 1] = { r[1], r[2] or "", r[3] or "" } end
    out[#out + 1] = "\nReturns"
    out[#out + 1] = columns(rows, "  ")
  end
  out[#out + 1] = "\nExample"
  out[#out + 1] = ("  " .. d.example:gsub("%s+$", "")):gsub("\n", "\n  ")
  for _, c in pairs(O.classes) do
    if c.name == d.name then
      local m = class_methods_text(c, "  ")
      if m then out[#out + 1] = "\nMethods\n" .. m end
    end
  end
  if d.see then out[#out + 1] = "\nSee also: " .. concat(d.see, ", ") end
  return concat(out, "\n") .. "\n"
end

-- The help text of a class (an object's methods).
function H.class_text(c)
  local out = { (c.name or c.prefix) .. " (" .. c.prefix .. ")", "" }
  if c.doc then out[#out + 1] = paragraphs(c.doc, 78, "  ") end
  local m = class_methods_text(c, "  ")
  if m then out[#out + 1] = "\nMethods (help\"" .. c.prefix .. ":name\" tells more)\n" .. m end
  return concat(out, "\n") .. "\n"
end

-- The topic listing: one line per function.
local function topic_text(t, by)
  local rows, methods, width = {}, {}, 0
  for _, d in ipairs(by[t]) do
    if not is_method(d) then width = math.max(width, #d.name) end
  end
  for _, d in ipairs(by[t]) do
    if is_method(d) then
      methods[#methods + 1] = call_name(d)
    else
      rows[#rows + 1] = { d.name, summary(d, math.max(30, 78 - 4 - width)) }
    end
  end
  local out = { t }
  if #rows > 0 then out[#out + 1] = columns(rows, "  ") end
  if #methods > 0 then out[#out + 1] = wrap("methods: " .. concat(methods, ", "), 78, "  ") end
  return concat(out, "\n")
end

function H.listing()
  local list, by = topics()
  local out = {
    "cinterp " .. tostring(O.ci and O.ci.version or "") .. ": the library by topic. help(f) or help\"name\" " ..
    "prints a function's signature, options, returns and an example, e.g. help\"ci.read_csv\", " ..
    "help(ci.saliency), help\"frame:filter\"; help(x) of an object lists its methods; " ..
    "help\"Frames\" lists a topic.",
  }
  out[1] = wrap(out[1], 78, "")
  for _, t in ipairs(list) do out[#out + 1] = "\n" .. topic_text(t, by) end
  return concat(out, "\n") .. "\n"
end

------------------------------------------------------------------ looking names up

local function all_names()
  local names = {}
  for _, d in ipairs(O.list) do
    names[#names + 1] = d.name
    for _, a in ipairs(d.aliases) do names[#names + 1] = a end
  end
  return names
end

local function lookup_name(s)
  local by = O.by_name
  if by[s] then return by[s] end
  if by["ci." .. s] then return by["ci." .. s] end
  local bare = s:gsub("^ci%.", "")
  local prefix, method = bare:match("^([%w_]+)[:%.]([%w_]+)$")
  if prefix then
    if by[prefix .. ":" .. method] then return by[prefix .. ":" .. method] end
    -- a global variable holding an object: "f:filter"
    local c = O.class_of(rawget(_G, prefix))
    if c and by[c.prefix .. ":" .. method] then return by[c.prefix .. ":" .. method] end
  end
  return nil
end

-- The text help prints for x (a string, a function, an object, ci itself).
function H.text(x, given)
  if given == 0 or (O.ci and x == O.ci) then return H.listing() end
  if x == nil then
    error("help: got nil (is the name defined? help\"name\" looks a name up)", 3)
  end
  if type(x) == "string" then
    local s = x:gsub("^%s+", ""):gsub("[%s%(%)]+$", "")
    local d = lookup_name(s)
    if d then return H.text_of(d) end
    local c = O.classes[s] or O.classes[(s:gsub("^ci%.", ""))]
    if c then return H.class_text(c) end
    local list, by = topics()
    for _, t in ipairs(list) do
      if t:lower() == s:lower() then return topic_text(t, by) .. "\n" end
    end
    -- a bare method name: frame:select, tensor:select, ...
    local found = {}
    for _, d in ipairs(O.list) do
      if d.name:match(":([%w_]+)$") == s then found[#found + 1] = d end
    end
    if #found == 1 then return H.text_of(found[1]) end
    if #found > 1 then
      local names = {}
      for k, d in ipairs(found) do names[k] = d.name end
      return fmt("'%s' is a method of several objects: %s\n", s, concat(names, ", "))
    end
    local short = {}
    for _, n in ipairs(all_names()) do short[#short + 1] = (n:gsub("^ci%.", "")) end
    for _, t in ipairs(list) do short[#short + 1] = t end
    local close = O.closest((s:gsub("^ci%.", "")), short, 3)
    local q = {}
    for k, n in ipairs(close) do
      q[k] = "'" .. (O.by_name["ci." .. n] and ("ci." .. n) or n) .. "'"
    end
    error(fmt("help: unknown name '%s'%s", s,
              #q > 0 and (" (did you mean " .. O.either(q) .. "?)") or " (help() lists the library)"), 3)
  end
  local d = O.declaration_of(x)
  if d then return H.text_of(d) end
  local c = O.class_of(x)
  if c then return H.class_text(c) end
  if type(x) == "function" then
    local info = debug.getinfo(x, "S")
    local where = info.what == "C" and "a C function" or
      fmt("defined at %s:%d", (info.source or "?"):gsub("^@", ""), info.linedefined or 0)
    return "help: this function has no declaration (it is not part of the documented API; " .. where .. ")\n"
  end
  return fmt("help: no help for %s\n", O.describe(x))
end

------------------------------------------------------------------ Markdown

local function md_escape(s) return (tostring(s):gsub("|", "\\|")) end

-- Paragraphs (split at blank lines) each on one line.
local function md_paragraphs(text)
  local out = {}
  for p in (text .. "\n\n"):gmatch("(.-)\n%s*\n") do
    if p:find("%S") then out[#out + 1] = (p:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")) end
  end
  return concat(out, "\n\n")
end

local function anchor(s)
  return (s:lower():gsub("[^%w%s%-_]", ""):gsub("%s", "-"))
end

local function md_of(d)
  local out = { "### `" .. signature(d) .. "`", "", md_paragraphs(d.doc) }
  if #d.aliases > 0 then out[#out + 1] = "\nAlso: " .. concat(d.aliases, ", ") .. "." end
  if described(d.args) then
    out[#out + 1] = "\n| argument | type | |\n|---|---|---|"
    for _, a in ipairs(d.args) do
      out[#out + 1] = fmt("| `%s%s` | %s | %s |", a[1], a.optional and "?" or "", md_escape(a[2] or ""),
                          md_escape(a[3] or ""))
    end
  end
  if d.opts and #d.opts > 0 then
    out[#out + 1] = "\n| option | type | default | |\n|---|---|---|---|"
    for _, r in ipairs(option_rows(d)) do
      out[#out + 1] = fmt("| `%s` | %s | `%s` | %s |", r[1], md_escape(r[2]), md_escape(r[3]), md_escape(r[4]))
    end
  end
  if d.extends then out[#out + 1] = "\nOther options are those of `" .. d.extends .. "`, passed on." end
  if described(d.returns) then
    out[#out + 1] = "\n| returns | type | |\n|---|---|---|"
    for _, r in ipairs(d.returns) do
      out[#out + 1] = fmt("| `%s` | %s | %s |", r[1], md_escape(r[2] or ""), md_escape(r[3] or ""))
    end
  end
  out[#out + 1] = "\n```lua\n" .. d.example:gsub("%s+$", "") .. "\n```"
  return concat(out, "\n")
end

function H.markdown()
  local list, by = topics()
  local out = {
    "# cinterp API reference",
    "",
    "Generated from the declarations in `lua/cinterp/*.lua` by `make docs`: do not edit by hand " ..
    "(`tests/help_spec.lua` fails when this file is out of date). At the prompt, `help(f)` or " ..
    "`help\"name\"` prints the same text. Option tables are checked: an unknown option or a " ..
    "value of the wrong type is an error that names the function and the option.",
    "",
  }
  for _, t in ipairs(list) do
    local names = {}
    for _, d in ipairs(by[t]) do names[#names + 1] = "`" .. call_name(d) .. "`" end
    out[#out + 1] = fmt("- [%s](#%s): %s", t, anchor(t), concat(names, ", "))
  end
  for _, t in ipairs(list) do
    out[#out + 1] = "\n## " .. t
    for _, p in ipairs(O.class_list) do
      local c = O.classes[p]
      if c.topic == t and c.doc then
        out[#out + 1] = "\n" .. md_paragraphs(c.doc)
      end
    end
    for _, d in ipairs(by[t]) do out[#out + 1] = "\n" .. md_of(d) end
  end
  return concat(out, "\n") .. "\n"
end

------------------------------------------------------------------ install

local HELP = O.declare{
  name = "ci.help", topic = "Help",
  doc = [[Prints help at the prompt: the signature of a function, one paragraph about
what it does, its arguments, its options (type, default, one line each), what it
returns and a runnable example. x is a function (help(ci.saliency)), a name
("activation_maximisation", "ci.read_csv", "frame:filter", or "f:filter" for a
global frame f), an object (help(t) lists a tensor's methods) or a topic
("Frames"); help() alone lists the library by topic. An unknown name is an error
that gives the closest names. In the REPL, help is also the global `help`, and
`?name` means help"name".]],
  args = { { "x", "function|string|object", "what to explain; nothing for the whole library", optional = true } },
  example = [[ci.help("ci.zeros")
ci.help(ci.frame)]],
}

return function(ci)
  O.ci = ci
  function ci.help(...)
    local n = select("#", ...)
    local text = H.text((...), n)
    io.stdout:write(text)
    io.stdout:flush()
  end
  ci._help = H
  H.declaration = HELP
end
