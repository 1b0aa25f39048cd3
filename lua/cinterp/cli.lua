-- cli.lua: the command line of the scripts in scripts/: ci.cli.parse (options
-- `--name value`, `--name=value`, flags, --help and usage text) and the small file
-- helpers the scripts share (ci.cli.DATA_OPTION and ci.cli.data_dir, ci.cli.exists,
-- ci.cli.mkdir).
--
--   local o = ci.cli.parse(arg, {
--     usage = "usage: olfaction.lua [options]",      -- header line(s) of --help
--     { "--out DIR", "olfaction_out", "folder for the CSV outputs (default: olfaction_out)" },
--     { "--layers L", 3, "timesteps of the forward run (default 3)" },
--     { "--target-layer N", nil, "its layer", type = "number" },
--     { "--quiet", false, "no progress bar" },
--     "  free text: a line printed as is among the option lines",
--   })
--   o.out, o.layers, o.target_layer, o.quiet        -- dashes in names become _
--
-- An option entry is { "--name META", default, help, type = ..., ... }:
--   type      "number" | "string" | "flag" | "list"; when left out: "flag" for a
--             name without META, else "number" for a number default, else "string".
--             A "list" option may repeat; its values collect in a table ({} default).
--   help      its usage line (a "\n" continues it on the next line, aligned);
--             false or nil: a hidden option (documented by a free-text line).
-- Other spec fields: script (the name in messages; default: arg[0]'s file name),
-- positional = true (keep non-option arguments, in order, in o[1], o[2], ...),
-- status (the exit status of a usage error; 1).
-- --help / -h prints the usage (a "--help  this text" line added) and exits 0; an
-- unknown option, a missing or non-numeric value prints "<script>: <problem>" and
-- the usage to stderr and exits with the usage error status. ci.cli.usage(spec)
-- returns that usage text.
local O = require "cinterp.options"
local TOPIC = "Command line"

local SPEC_OPTS = {
  { "usage", "string", nil, "the header line(s) of --help", default_text = "\"usage: <script> [options]\"" },
  { "script", "string", nil, "the script's name in messages", default_text = "arg[0]'s file name" },
  { "positional", "boolean", false, "keep non-option arguments, in order, in o[1], o[2], ..." },
  { "status", "integer", 1, "the exit status of a usage error" },
}
local PARSE = O.declare{ name = "ci.cli.parse", topic = TOPIC, opts_name = "spec", array_ok = true,
  doc = [[Parses a script's command line (--name value, --name=value, flags) against a spec
whose array part lists the options, each { "--name META", default, help line, type = ... }
(type "number", "string", "flag" or "list"; left out: a flag without META, else a number for a
number default, else a string; a "list" may repeat) or a line of free text. Dashes in names
become _ in the result. --help prints the usage and exits 0; an unknown option or a missing or
non-numeric value prints the problem and the usage to stderr and exits with spec.status.]],
  args = { { "args", "array", "the arguments (the script's arg table)" } },
  opts = SPEC_OPTS,
  returns = { { "o", "table", "the values by name, defaults filled" } },
  example = [[local o = ci.cli.parse({"--layers", "4", "--quiet"}, {
  script = "demo.lua",
  { "--layers N", 3, "timesteps of the forward run" },
  { "--out DIR", "out", "folder for the outputs" },
  { "--quiet", false, "no progress bar" },
})
print(o.layers, o.out, o.quiet)  --> 4 out true]] }
local USAGE = O.declare{ name = "ci.cli.usage", topic = TOPIC, opts_name = "spec", array_ok = true,
  doc = "The usage text ci.cli.parse prints for --help: the header, then one aligned line per option.",
  opts = SPEC_OPTS, returns = "string",
  example = [[print(ci.cli.usage{usage = "usage: x.lua", { "--n N", 1, "a number" }}:match("%-%-n N%s+a number"))  --> --n N    a number]] }
O.declare{ name = "ci.cli.data_dir", topic = TOPIC,
  doc = [[The data folder of a script: the given one, else ../shared/data next to the repository
that holds the calling script (a file under <repository>/scripts/), else ../shared/data.]],
  args = { { "given", "string", "the value of --data", optional = true } }, returns = "string",
  example = [[print(ci.cli.data_dir("/data/x"))  --> /data/x]] }
O.declare{ name = "ci.cli.exists", topic = TOPIC, doc = "Whether a file can be opened for reading.",
  args = "path", returns = "boolean",
  example = [[print(ci.cli.exists("/nonexistent/file"))  --> false]] }
O.declare{ name = "ci.cli.mkdir", topic = TOPIC, doc = "Makes a folder and its parents (mkdir -p).",
  args = "path", returns = "ok",
  example = [[local d = os.tmpname()
os.remove(d)
ci.cli.mkdir(d .. "/a/b")
print(ci.cli.exists(d .. "/a/b/."))  --> true
os.execute("rm -r '" .. d .. "'")]] }

return function(ci)
  local cli = {}
  ci.cli = cli

  local function key(name) return (name:gsub("%-", "_")) end

  -- the options of a spec: list in order, and by name
  local function options(spec)
    local list, by = {}, {}
    for _, e in ipairs(spec) do
      if type(e) == "table" then
        local name, meta = e[1]:match("^%-%-([%w%-]+)%s*(.*)$")
        if not name then error("ci.cli.parse: bad option entry '" .. tostring(e[1]) .. "'", 3) end
        local t = e.type or (meta == "" and "flag") or (type(e[2]) == "number" and "number") or "string"
        local o = { name = name, key = key(name), default = e[2], help = e[3], type = t, sig = e[1] }
        list[#list + 1], by[name] = o, o
      end
    end
    return list, by
  end

  -- the usage text: the header, then one line per option (help aligned), free text as is
  function cli.usage(spec)
    spec = O.check(USAGE, spec)
    local list = options(spec)
    local width = #"--help"
    for _, o in ipairs(list) do if o.help and #o.sig > width then width = #o.sig end end
    local pad = string.rep(" ", width + 6)
    local lines = { spec.usage or ("usage: " .. (spec.script or "script") .. " [options]") }
    local k = 0
    for _, e in ipairs(spec) do
      if type(e) == "string" then
        lines[#lines + 1] = e
      else
        k = k + 1
        local o = list[k]
        if o.help then
          local help = tostring(o.help):gsub("\n", "\n" .. pad)
          lines[#lines + 1] = "  " .. o.sig .. string.rep(" ", width + 4 - #o.sig) .. help
        end
      end
    end
    lines[#lines + 1] = "  --help" .. string.rep(" ", width + 4 - #"--help") .. "this text"
    return table.concat(lines, "\n") .. "\n"
  end

  local function script_name(args, spec)
    return spec.script or (tostring(args[0] or "script"):match("([^/]*)$"))
  end

  function cli.parse(args, spec)
    args = args or {}
    spec = O.check(PARSE, spec)
    local list, by = options(spec)
    local o = {}
    for _, opt in ipairs(list) do
      if opt.type == "list" then o[opt.key] = {}
      elseif opt.type == "flag" and opt.default == nil then o[opt.key] = false
      else o[opt.key] = opt.default end
    end
    local function fail(msg)
      io.stderr:write(script_name(args, spec) .. ": " .. msg .. "\n" .. cli.usage(spec))
      os.exit(spec.status or 1)
    end
    local k = 1
    while k <= #args do
      local a = args[k]
      if a == "--help" or a == "-h" then io.write(cli.usage(spec)) os.exit(0) end
      local name, inline = a:match("^%-%-([%w%-]+)=(.*)$")
      name = name or a:match("^%-%-([%w%-]+)$")
      local opt = name and by[name]
      if not name and spec.positional and a:sub(1, 1) ~= "-" then
        o[#o + 1] = a
      elseif not opt then
        fail((name and "unknown option " or "unexpected argument ") .. a)
      elseif opt.type == "flag" then
        if inline then fail("--" .. name .. " takes no value") end
        o[opt.key] = true
      else
        local v = inline
        if v == nil then
          v = args[k + 1]
          if v == nil then fail("--" .. name .. " needs a value") end
          k = k + 1
        end
        if opt.type == "number" then
          local x = tonumber(v)
          if not x then fail("--" .. name .. " needs a number, got '" .. v .. "'") end
          v = x
        end
        if opt.type == "list" then table.insert(o[opt.key], v) else o[opt.key] = v end
      end
      k = k + 1
    end
    return o
  end

  -- the --data option of the scripts on real data; its value goes to cli.data_dir
  cli.DATA_OPTION = { "--data DIR", nil, "data folder (default ../shared/data, relative to the repository root)" }

  -- the data folder: the given one, else ../shared/data next to the repository that
  -- holds the calling script (a file under <repository>/scripts/), else ../shared/data
  function cli.data_dir(given)
    if given then return given end
    local level = 2
    while true do
      local info = debug.getinfo(level, "S")
      if not info then break end
      local src = info.source:match("^@(.*)$")
      if src then
        local root = src:match("^(.*)/scripts/[^/]*$") or (src:match("^scripts/[^/]*$") and ".")
        if root then return root .. "/../shared/data" end
      end
      level = level + 1
    end
    return "../shared/data"
  end

  function cli.exists(path)
    local f = io.open(path, "rb")
    if f then f:close() end
    return f ~= nil
  end

  -- mkdir -p
  function cli.mkdir(path)
    return os.execute("mkdir -p '" .. tostring(path):gsub("'", "'\\''") .. "'")
  end
end
