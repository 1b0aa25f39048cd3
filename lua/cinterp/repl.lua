-- repl.lua: what the `cinterp` prompt does with an entry (the host, bindings/host.c,
-- reads the lines, keeps the history and turns Ctrl-C into the error "interrupted!").
--   M.eval(entry)     runs one entry; returns true when it is incomplete (the host
--                     then reads another line and calls eval with both)
--   M.compile(entry)  -> function, quiet | nil, "incomplete" | nil, message
--   M.complete(word)  -> sorted completions of a name, a.b.c<field>, a.b:<method>
--   M.help(...)       the global `help`: calls ci.help, looked up at each call
--   M.show(...)       prints values as an expression typed alone does; _ = the first
-- An entry is a Lua expression (its values are printed, see cinterp.inspect), else
-- statements; a trailing `;` prints nothing; `=expr` as in lua 5.1; `?name`, `?expr`
-- or `name?` asks help; `:trace` prints the full traceback of the last error
-- (`:trace on` shows it for every error, `:trace off` the short form again).
-- Errors show the message and the user's own frames only: frames in the cinterp
-- library, this file and C functions are left out.
local inspect = require "cinterp.inspect"

local M = {}

M.full_traceback = false   -- `:trace on`
M.last_traceback = nil     -- the full traceback of the last error

local CHUNKNAME = "=ci"

local function trim(s) return (s:gsub("^%s+", ""):gsub("%s+$", "")) end
local function pack(...) return { n = select("#", ...), ... } end

---------------------------------------------------------------- values and names

-- The library's registry of methods (see cinterp/init.lua), if it is loaded.
local function methods_of(v)
  local ci = package.loaded["cinterp"]
  local f = type(ci) == "table" and rawget(ci, "_methods_of")
  if type(f) ~= "function" then return nil end
  local ok, methods, kind = pcall(f, v)
  if ok and type(methods) == "table" then return methods, kind end
  return nil
end

-- Calls f(t) for t and each table of its __index chain, until f returns true.
local function each_index_table(t, f)
  for _ = 1, 16 do
    if type(t) ~= "table" or f(t) then return end
    local mt = getmetatable(t)
    t = type(mt) == "table" and rawget(mt, "__index") or nil
  end
end

-- v[k] as the completion sees it: methods from the registry, tables through their
-- __index tables, an __index function or cdata through a protected index.
local function field(v, k)
  if type(v) == "string" then return string[k] end
  local methods = methods_of(v)
  if methods and methods[k] ~= nil then return methods[k] end
  local found
  if type(v) == "table" then
    each_index_table(v, function(t) found = rawget(t, k); return found ~= nil end)
    local mt = getmetatable(v)
    if found ~= nil or type(mt) ~= "table" or type(rawget(mt, "__index")) ~= "function" then
      return found
    end
  elseif type(v) ~= "cdata" and type(v) ~= "userdata" then
    return nil
  end
  local ok, r = pcall(function() return v[k] end)
  if ok then return r end
  return nil
end

-- The value at a dotted path ("ci.plot") from the globals; nil if a step is missing.
local function resolve(path)
  local v = _G
  for seg in path:gmatch("[^%.]+") do
    v = field(v, seg)
    if v == nil then return nil end
  end
  return v
end

-- The names v offers: its fields, those of its __index tables, its registered
-- methods (and a frame's columns).
local function names_of(v)
  local out = {}
  if type(v) == "string" then v = string end
  local methods, kind = methods_of(v)
  if methods then
    for k in pairs(methods) do out[k] = true end
  end
  if kind == "frame" then
    local ok, cols = pcall(function() return v:columns() end)
    if ok and type(cols) == "table" then
      for _, c in ipairs(cols) do out[c] = true end
    end
  end
  if type(v) == "userdata" then
    local mt = getmetatable(v)
    v = type(mt) == "table" and rawget(mt, "__index") or nil
  end
  if type(v) == "table" then
    each_index_table(v, function(t) for k in pairs(t) do out[k] = true end end)
  end
  return out
end

local function callable(f)
  if type(f) == "function" then return true end
  local mt = getmetatable(f)
  return type(mt) == "table" and rawget(mt, "__call") ~= nil
end

local KEYWORDS = { "and", "break", "do", "else", "elseif", "end", "false", "for", "function",
  "goto", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until",
  "while" }

-- Completions of word: a global name or keyword, a.b.c.<field> or a.b:<method>.
-- Names starting with `_` are offered only once the word's last part starts with `_`.
function M.complete(word)
  local res = {}
  local head, sep, last = word:match("^(.-)([%.:])([%w_]*)$")
  if not head then head, sep, last = "", "", word end
  if not last:match("^[%w_]*$") then return res end
  local v = _G
  if sep ~= "" then
    if not head:match("^[%a_][%w_]*$") and not head:match("^[%a_][%w_%.]*[%w_]$") then return res end
    v = resolve(head)
    if v == nil then return res end
  end
  local names = names_of(v)
  if sep == "" then
    for _, k in ipairs(KEYWORDS) do names[k] = true end
  end
  local private_ok = last:sub(1, 1) == "_"
  for k in pairs(names) do
    if type(k) == "string" and k:match("^[%a_][%w_]*$") and k:sub(1, #last) == last
        and (private_ok or k:sub(1, 1) ~= "_")
        and (sep ~= ":" or callable(field(v, k))) then
      res[#res + 1] = head .. sep .. k
    end
  end
  table.sort(res)
  return res
end

---------------------------------------------------------------- help

-- The global `help`: ci.help, looked up at each call (a library loaded or changed
-- after start-up is seen).
function M.help(...)
  local ci = rawget(_G, "ci")
  if type(ci) ~= "table" then ci = package.loaded["cinterp"] end
  local h = type(ci) == "table" and ci.help
  if callable(h) then return h(...) end
  local here = debug.getinfo(1, "S").source:match("^@(.*)lua/cinterp/repl%.lua$")
  io.stdout:write("help: this cinterp library has no ci.help; its manual is ",
                  here and here .. "README.md" or "README.md in the source tree", "\n")
end

-- The Lua code of a `?topic`: help(<value>) for a name that exists or an expression,
-- help("<name>") for a name that does not (a topic such as activation_maximisation).
local function help_code(topic)
  topic = trim(topic)
  if topic == "" then return "help()" end
  if topic:match("^[%a_][%w_]*$") or topic:match("^[%a_][%w_%.:]*[%w_]$") then
    local dotted = topic:gsub(":", ".")
    if resolve(dotted) ~= nil then return "help(" .. dotted .. ")" end
    return ("help(%q)"):format(topic)
  end
  return "help(" .. topic .. ")"
end

---------------------------------------------------------------- compiling an entry

-- Syntax errors at the end of the input that more lines could not fix: an
-- expression left where a statement must end (`x = f(); x[2]`), a short string
-- running into the end of the line, a method name without arguments.
local NOT_INCOMPLETE = {
  "'=' expected near '<eof>'",
  "unfinished string near '<eof>'",
  "function arguments expected near '<eof>'",
}

-- Whether a syntax error only says that the entry stops too early.
local function is_incomplete(msg)
  if not msg:find("'<eof>'$") then return false end
  for _, s in ipairs(NOT_INCOMPLETE) do
    if msg:sub(-#s) == s then return false end
  end
  return true
end

local commands = {}

-- :trace             the full traceback of the last error
-- :trace on | off    show the full traceback for every error | the short form
function commands.trace(arg)
  if arg == "on" or arg == "off" then
    M.full_traceback = arg == "on"
    io.stdout:write("full tracebacks ", arg, "\n")
  elseif arg == "" then
    io.stdout:write(M.last_traceback or "no error yet", "\n")
  else
    error(":trace takes nothing, 'on' or 'off', got '" .. arg .. "'", 0)
  end
end

-- Compiles an entry. Returns the function and whether its values stay unprinted, or
-- nil and "incomplete", or nil and the syntax error's message.
function M.compile(entry)
  local cmd, arg = entry:match("^%s*:(%a+)%s*(.-)%s*$")
  if cmd then
    local run = commands[cmd]
    if not run then
      return nil, "unknown REPL command ':" .. cmd .. "' (there is :trace, :trace on, :trace off)"
    end
    return function() run(arg) end, true
  end
  local topic = entry:match("^%s*%?(.*)$") or entry:match("^%s*([%a_][%w_%.:]*)%s*%?%s*$")
  if topic then
    local f, err = loadstring(help_code(topic), CHUNKNAME)
    return f, f and true or err
  end
  local code = entry:gsub("^=", "")          -- lua 5.1's "=expr"
  code = code:gsub("%s+$", "")
  local quiet = code:sub(-1) == ";"
  if quiet then code = code:sub(1, -2) end
  -- An expression first; evaluated as an argument (not a tail call) so that
  -- error("x") typed alone still reports its position. A comment needs the newline.
  local f = loadstring("return (function(...) return ... end)(" .. code ..
                       (code:find("--", 1, true) and "\n)" or ")"), CHUNKNAME)
  if f then return f, quiet end
  local err
  f, err = loadstring(code, CHUNKNAME)
  if f then return f, quiet end
  if is_incomplete(err) then return nil, "incomplete" end
  if err:sub(-#NOT_INCOMPLETE[1]) == NOT_INCOMPLETE[1] then
    err = err .. "\n(a statement cannot end with an expression: type the expression alone, or print() it)"
  end
  return nil, err
end

---------------------------------------------------------------- errors

local function dirname(path) return path and path:match("^(.*[/\\])") end

-- Folders of the library's Lua files (lua/cinterp/, bindings/cinterp/), as the
-- chunk names of their functions spell them.
local library_dirs = {}
for _, mod in ipairs({ "cinterp.repl", "cinterp.ffi", "cinterp.tensor" }) do
  local dir = dirname(package.searchpath(mod, package.path))
  if dir then library_dirs[#library_dirs + 1] = dir end
end
library_dirs[#library_dirs + 1] = dirname(debug.getinfo(1, "S").source:sub(2))

local function is_library(source)
  if source:sub(1, 1) ~= "@" then return false end
  local path = source:sub(2)
  for _, dir in ipairs(library_dirs) do
    if path:sub(1, #dir) == dir and not path:find("/", #dir + 1, true) then return true end
  end
  return false
end

local function error_text(e)
  if type(e) == "string" or type(e) == "number" then return tostring(e) end
  if e == nil then return "(error object is nil)" end
  local mt = getmetatable(e)
  if type(mt) == "table" and rawget(mt, "__tostring") then
    local ok, s = pcall(tostring, e)
    if ok and type(s) == "string" then return s end
  end
  return "(error object is a " .. type(e) .. " value)"
end

-- One traceback line for a frame (as debug.traceback writes it).
local function frame_line(info)
  local where = info.short_src .. ":" .. (info.currentline or "?") .. ": in "
  if info.what == "main" then return where .. "main chunk" end
  if info.name then return where .. "function '" .. info.name .. "'" end
  return where .. "function <" .. info.short_src .. ":" .. info.linedefined .. ">"
end

-- The message handler of an entry: keeps the full traceback for :trace and returns
-- the message with the user's frames (none when the error is in the entry itself).
local function on_error(e)
  local msg = error_text(e)
  M.last_traceback = debug.traceback(msg, 2)
  if M.full_traceback then return M.last_traceback end
  local frames = {}
  for level = 2, 200 do
    local info = debug.getinfo(level, "Slnf")
    if not info or info.func == xpcall then break end   -- the entry's frames end there
    if info.what ~= "C" and not is_library(info.source) then frames[#frames + 1] = info end
  end
  if #frames == 0 or (#frames == 1 and frames[1].what == "main" and frames[1].source == CHUNKNAME) then
    return msg
  end
  local lines = { msg }
  for _, info in ipairs(frames) do lines[#lines + 1] = "  " .. frame_line(info) end
  return table.concat(lines, "\n")
end

---------------------------------------------------------------- running an entry

-- Prints the values of an expression typed alone, tab-separated (one per line when
-- one takes several lines); nothing for no value or a single nil. Sets _ to the first.
function M.show(...)
  local n = select("#", ...)
  if n == 0 or (n == 1 and (...) == nil) then return end
  _G._ = (...)
  local out, multiline = {}, false
  for i = 1, n do
    out[i] = inspect.format((select(i, ...)))
    multiline = multiline or out[i]:find("\n") ~= nil
  end
  io.stdout:write(table.concat(out, multiline and "\n" or "\t"), "\n")
  io.stdout:flush()
end

local function report(msg)
  io.stdout:flush()
  io.stderr:write(msg, "\n")
  io.stderr:flush()
end

---------------------------------------------------------------- the session

-- The host interrupts compiled loops with LuaJIT's profiler (M.watch_interrupts and
-- M.unwatch_interrupts, set by the host). There is one profiler: jit.profile.start
-- takes it over, and jit.profile.stop gives it back.
local function give_back_on_stop(profile)
  local stop = profile.stop
  profile.stop = function(...)
    stop(...)
    if M.watch_interrupts then M.watch_interrupts() end
  end
  return profile
end

-- Called by the host when the prompt starts and ends.
function M.start()
  local loaded = package.loaded["jit.profile"]
  if loaded then   -- profiling may be under way (-jp): leave the profiler to it
    give_back_on_stop(loaded)
    return
  end
  local load = package.preload["jit.profile"]
  if load then
    package.preload["jit.profile"] = function(...) return give_back_on_stop(load(...)) end
  end
  if M.watch_interrupts then M.watch_interrupts() end
end

function M.stop()
  if M.unwatch_interrupts then M.unwatch_interrupts() end
end

-- Runs one entry (see the top of the file); true when it needs more lines.
function M.eval(entry)
  local f, quiet = M.compile(entry)
  if not f then
    if quiet == "incomplete" then return true end
    report(quiet)
    return false
  end
  local res = pack(xpcall(f, on_error))
  if not res[1] then
    report(res[2])
  elseif not quiet then
    M.show(unpack(res, 2, res.n))
  end
  return false
end

return M
