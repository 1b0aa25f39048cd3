-- screen_cli.lua: the command `cinterp screen` (bindings/host.c hands it the
-- arguments after "screen"; `cinterp -e 'require("cinterp.screen_cli")(...)'` is
-- the same). Three forms:
--   cinterp screen SPEC.lua [--shard I/N] [--out DIR] [--batch K] [--quiet]
--       runs the screen SPEC.lua returns (a spec table; the flags override it)
--   cinterp screen merge DIR [--no-figures]
--       writes DIR/results.csv (and the figures), refusing missing, duplicated
--       or foreign results
--   cinterp screen sbatch SPEC.lua --array N [--out DIR] [--batch K] [--time T]
--       [--mem M] [--cpus-per-task C] [--partition P] [--job-name NAME]
--       prints a Slurm job-array script: array task i runs shard i of N with
--       this very cinterp (absolute path), the spec and the folder by absolute
--       paths; the last shard to finish merges. It creates DIR/slurm/ for the
--       jobs' logs (Slurm does not create the folder of --output).
-- Errors print their message (no traceback; CINTERP_DEBUG=1 adds it) and exit 1.
local ffi = require "ffi"

pcall(ffi.cdef, [[
char *realpath(const char *path, char *resolved);
char *getcwd(char *buf, size_t size);
long readlink(const char *path, char *buf, size_t size);
]])

local fmt, concat = string.format, table.concat

local USAGE = [[
usage: cinterp screen SPEC.lua [--shard I/N] [--out DIR] [--batch K] [--quiet]
       cinterp screen merge DIR [--no-figures]
       cinterp screen sbatch SPEC.lua --array N [--out DIR] [--batch K] [--time T]
                      [--mem M] [--cpus-per-task C] [--partition P] [--job-name NAME]

Runs one recipe over every task of a screen (README "Screens"). SPEC.lua returns
the spec table, e.g. return {kind = "actmax", edges = ..., neurons = ...,
sensory = {...}, tasks = "type", ...}; the flags override its fields. A shard
I/N runs every N-th task of the sorted task list from the I-th (default: from
SLURM_ARRAY_TASK_ID / SLURM_ARRAY_TASK_COUNT, else 1/1); finished tasks are
stored at once under the out folder and skipped by a rerun; the last shard to
finish writes DIR/results.csv and the figures.]]

local function ci_() return rawget(_G, "ci") or require "cinterp" end

local function fail(msg) error({ screen_usage = msg }, 0) end

local function absolute(path)
  if path:sub(1, 1) == "/" then return path end
  local buf = ffi.new("char[4096]")
  local r = ffi.C.realpath(path, buf)
  if r ~= nil then return ffi.string(r) end
  local cwd = ffi.C.getcwd(buf, 4096)
  if cwd == nil then return path end
  return ffi.string(cwd) .. "/" .. path
end

local function self_exe()
  local buf = ffi.new("char[4096]")
  local n = ffi.C.readlink("/proc/self/exe", buf, 4095)
  if n <= 0 then return "cinterp" end
  return ffi.string(buf, n)
end

-- the cinterp a job runs, by its absolute path: this process when it is the cinterp
-- host (it exports the engine, so ffi.C.ci_version resolves), else (the stock luajit
-- running this module) the installed host beside the Lua library, PREFIX/bin/cinterp
local function cinterp_exe()
  ci_()
  if pcall(function() return ffi.C.ci_version end) then return self_exe() end
  local prefix = debug.getinfo(1, "S").source:match("^@(.*)/share/lua/5%.1/cinterp/screen_cli%.lua$")
  local f = prefix and io.open(prefix .. "/bin/cinterp", "rb")
  if f then
    f:close()
    return absolute(prefix .. "/bin/cinterp")
  end
  fail(fmt("the job script must run the cinterp host, and this interpreter (%s) is not one: run " ..
           "`cinterp screen sbatch ...` with cinterp", self_exe()))
end

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- the flags of each form: name -> "value" | "flag"
local FLAGS = {
  run = { shard = "value", out = "value", batch = "value", quiet = "flag" },
  merge = { ["no-figures"] = "flag" },
  sbatch = { array = "value", out = "value", batch = "value", time = "value", mem = "value",
             ["cpus-per-task"] = "value", partition = "value", ["job-name"] = "value" },
}

local function parse(form, args)
  local o, pos, k = {}, {}, 1
  while k <= #args do
    local a = args[k]
    if a == "--help" or a == "-h" then io.write(USAGE, "\n"); os.exit(0) end
    local name, inline = a:match("^%-%-([%w%-]+)=(.*)$")
    name = name or a:match("^%-%-([%w%-]+)$")
    if name then
      local t = FLAGS[form][name]
      if not t then fail(fmt("unknown option --%s for `cinterp screen%s`", name, form == "run" and "" or (" " .. form))) end
      if t == "flag" then
        o[name] = true
      else
        local v = inline
        if v == nil then
          k = k + 1
          v = args[k]
          if v == nil then fail("--" .. name .. " needs a value") end
        end
        o[name] = v
      end
    else
      pos[#pos + 1] = a
    end
    k = k + 1
  end
  return o, pos
end

local function int_flag(o, name)
  if o[name] == nil then return nil end
  local v = tonumber(o[name])
  if not v or v ~= math.floor(v) or v < 1 then fail(fmt("--%s needs an integer >= 1, got '%s'", name, o[name])) end
  return v
end

local function load_spec(path)
  local chunk, err = loadfile(path)
  if not chunk then fail(fmt("cannot load the spec %s: %s", path, err)) end
  local spec = chunk()
  if type(spec) ~= "table" then fail(fmt("%s must return the spec table, it returned %s", path, type(spec))) end
  return spec
end

local function run(args)
  local o, pos = parse("run", args)
  if #pos ~= 1 then fail("give one SPEC.lua") end
  local spec = load_spec(pos[1])
  if o.shard then spec.shard = o.shard end
  if o.out then spec.out = o.out end
  if o.batch then spec.batch = int_flag(o, "batch") end
  if o.quiet then spec.quiet = true end
  local r = ci_().screen(spec)
  io.write(fmt("%d result rows of this shard stored under %s\n", r:nrow(), spec.out or "screen_out"))
end

local function merge(args)
  local o, pos = parse("merge", args)
  if #pos ~= 1 then fail("give one folder: cinterp screen merge DIR") end
  ci_().screen_merge(pos[1], { figures = not o["no-figures"] })
  io.write(fmt("merged: %s/results.csv\n", pos[1]))
end

--- The job-array script (a string) for spec_path with options o.
local function sbatch_script(spec_path, o)
  local N = int_flag(o, "array")
  if not N then fail("sbatch needs --array N (the number of shards)") end
  local spec = load_spec(spec_path)
  local out = o.out or spec.out or "screen_out"
  if o.batch then spec.batch = int_flag(o, "batch") end
  spec.out, spec.shard = out, nil
  require("cinterp.screen_check").check(spec) -- a bad spec fails now, not on the cluster
  local abs_out = absolute(out)
  require("cinterp.screen_store").mkdir_p(abs_out .. "/slurm", "cinterp screen sbatch")
  local abs_spec = absolute(spec_path)
  local name = o["job-name"] or ("screen-" .. (spec_path:match("([^/]+)%.lua$") or "spec"))
  local lines = {
    "#!/bin/bash",
    fmt("# A Slurm job array for the screen %s, written by `cinterp screen sbatch`.", abs_spec),
    fmt("# Array task i runs shard i of %d; finished tasks are stored at once under", N),
    fmt("# %s and skipped by a rerun (sbatch this file again, or --array=i for one", abs_out),
    "# shard); the last shard to finish writes results.csv and the figures.",
    "#SBATCH --job-name=" .. name,
    fmt("#SBATCH --array=1-%d", N),
    "#SBATCH --output=" .. abs_out .. "/slurm/shard-%a.out",
    "#SBATCH --open-mode=append",
  }
  for _, k in ipairs { "time", "mem", "cpus-per-task", "partition" } do
    if o[k] then lines[#lines + 1] = fmt("#SBATCH --%s=%s", k, o[k]) end
  end
  lines[#lines + 1] = "set -eu"
  lines[#lines + 1] = "cd " .. shell_quote(absolute("."))
  if o["cpus-per-task"] then lines[#lines + 1] = "export OMP_NUM_THREADS=\"$SLURM_CPUS_PER_TASK\"" end
  local cmd = fmt("exec %s screen %s --out %s --shard \"$SLURM_ARRAY_TASK_ID/%d\"", shell_quote(cinterp_exe()),
                  shell_quote(abs_spec), shell_quote(abs_out), N)
  if o.batch then cmd = cmd .. " --batch " .. int_flag(o, "batch") end
  lines[#lines + 1] = cmd
  return concat(lines, "\n") .. "\n"
end

local function sbatch(args)
  local o, pos = parse("sbatch", args)
  if #pos ~= 1 then fail("give one SPEC.lua: cinterp screen sbatch SPEC.lua --array N") end
  io.write(sbatch_script(pos[1], o))
end

--- main(...): the arguments after `cinterp screen`.
local function main(...)
  local args = { ... }
  local ok, err = xpcall(function()
    if #args == 0 then fail("nothing to do") end
    local rest = { unpack(args, 2) }
    if args[1] == "merge" then return merge(rest) end
    if args[1] == "sbatch" then return sbatch(rest) end
    return run(args)
  end, function(e)
    if type(e) == "table" and e.screen_usage then return e end
    local msg = tostring(e)
    if os.getenv("CINTERP_DEBUG") then return debug.traceback(msg, 2) end
    return (msg:gsub("^[^\n]-%.lua:%d+: ", "")) -- the message, without where Lua raised it
  end)
  if ok then return 0 end
  io.stdout:flush()
  if type(err) == "table" then
    io.stderr:write("cinterp screen: ", err.screen_usage, "\n", USAGE, "\n")
  else
    io.stderr:write(err, "\n")
  end
  io.stderr:flush()
  os.exit(1)
end

return main
