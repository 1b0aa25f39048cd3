-- screen_check.lua: the fields of a screen spec, declared once (FIELDS, the
-- declaration of ci.screen in cinterp.options: help, docs/API.md, names and
-- types) and checked: check(spec) refuses an unknown field with the closest
-- valid names (a misspelled field is never ignored), a value of the wrong type, a
-- field of another kind, a missing field the kind needs, and unknown keys of the
-- nested option tables (spec.actmax, spec.model, spec.grid: against the
-- declarations of activation_maximisation, c:model and make_grid_inputs); it
-- returns a copy with the defaults of the kind filled in.
local O = require "cinterp.options"

local M = {}

local fmt, concat = string.format, table.concat
local WHERE = "ci.screen"

local ALL = { actmax = true, restarts = true, silence = true, activate = true, grid = true }
local AM = { actmax = true, restarts = true }
local MANIP = { silence = true, activate = true }
local READ = { silence = true, activate = true, grid = true }
local TASKS = { actmax = true, silence = true, activate = true }
M.KINDS = { "actmax", "silence", "activate", "grid", "restarts" }

-- ===== the fields, declared once =====================================================
-- { name, kinds, type (options.lua's syntax), default, doc, default_text = ... }:
-- FIELDS feeds the declaration of ci.screen (help, docs/API.md, the check of
-- names and types) and the per-kind rules below, which the declaration cannot
-- say (a field of another kind, a default that depends on the kind, a field a
-- kind requires). A default given here applies to every kind that has the field.
local REQUIRED = "required"
M.FIELDS = {
  { "kind", ALL, { "actmax", "silence", "activate", "grid", "restarts" }, nil, "the recipe", default_text = REQUIRED },
  { "edges", ALL, "string", nil, "the edge table (CSV or .csv.gz) for ci.connectome.read",
    default_text = "required unless connectome" },
  { "neurons", ALL, "string", nil, "the neuron table for ci.connectome.read" },
  { "read", ALL, "table", nil, "more options of ci.connectome.read (threshold, sign, nt, ...)" },
  { "connectome", ALL, "any", nil, "instead of edges: a ci.connectome, or {weights = W (post in rows), " ..
                                   "neurons = frame}" },
  { "sensory", ALL, "table", nil, "the input neurons: a selection {column = value} or indices",
    default_text = REQUIRED },
  { "model", ALL, "table", nil, "options of c:model (num_layers, threshold, tau, group, ...)" },
  { "batch", ALL, "integer >= 1", 1, "tasks run together in the batch dimension (results do not depend on it)" },
  { "shard", ALL, "table|string", nil, "{i, N} or \"i/N\": every N-th task of the sorted list from the i-th",
    default_text = "SLURM_ARRAY_TASK_ID/_COUNT, else {1, 1}" },
  { "out", ALL, "string", "screen_out", "the results folder (resumable)" },
  { "limit", ALL, "integer >= 1", nil, "only the first N tasks of the sorted list (a trial run)",
    default_text = "all" },
  { "quiet", ALL, "boolean", false, "no progress line on stderr" },
  { "figures", ALL, "boolean", true, "draw the figures once the screen is complete" },
  { "tasks", TASKS, "string", nil, "a neuron column: one task per distinct value",
    default_text = "required (actmax, silence, activate)" },
  { "match", TASKS, "string", nil, "keep only the task values whose text matches this Lua pattern",
    default_text = "all" },
  { "layers", ALL, "array", nil, "actmax / restarts: the target layers; silence / activate: the " ..
                                 "manipulated layers; grid: the layers reported",
    default_text = "actmax: the last; others: all" },
  { "value", AM, "number", nil, "the target activation of the task's neurons", default_text = "1" },
  { "actmax", AM, "table", nil, "options of ci.activation_maximisation (functions included); seed " ..
                                "(default 1) seeds each task's random start" },
  { "input_groups", AM, "string", nil, "the neuron column summarising the optimised input",
    default_text = "tasks, else type, else id" },
  { "top", AM, "integer >= 1", nil, "the input groups top_inputs lists", default_text = "5" },
  { "target", { restarts = true }, "table", nil, "the target neurons: a selection or indices",
    default_text = "required (restarts)" },
  { "restarts", { restarts = true }, "integer >= 1", nil, "the number of random starts (seeds 1..N)" },
  { "seeds", { restarts = true }, "array", nil, "the seeds of the random starts (instead of restarts)" },
  { "input", MANIP, "number|tensor|table", nil, "the network input: a number (every input neuron, every " ..
                    "step), a tensor (S, L) or a selection of input neurons set to 1",
    default_text = "required (silence); 0 (activate)" },
  { "readout", READ, "string", nil, "a neuron column: the read-out groups", default_text = "tasks" },
  { "readout_match", READ, "string", nil, "keep only the read-out groups matching this Lua pattern" },
  { "readout_layers", MANIP, "array", nil, "the layers a read-out averages", default_text = "all" },
  { "v1", { grid = true }, "table", nil, "the first input: a selection of input neurons, or a vector over them",
    default_text = "required (grid)" },
  { "v2", { grid = true }, "table", nil, "the second input, as v1", default_text = "required (grid)" },
  { "grid", { grid = true }, "table", nil, "options of ci.make_grid_inputs (grid_size, timepoints, cap, cap_value)" },
}
local BY_NAME = {}
for _, f in ipairs(M.FIELDS) do BY_NAME[f[1]] = f end
-- the fields each kind requires, and the defaults that depend on the kind
local REQUIRES = {
  actmax = { "sensory", "tasks" }, silence = { "sensory", "tasks", "input" },
  activate = { "sensory", "tasks" }, grid = { "sensory", "v1", "v2", "readout" },
  restarts = { "sensory", "target" },
}
local KIND_DEFAULTS = { actmax = { value = 1, top = 5 }, restarts = { value = 1, top = 5 } }

local DECL = O.declare {
  name = "ci.screen", topic = "Screens", opts_name = "spec", signature = "ci.screen(spec) -> results",
  doc = [[Runs one recipe over every task of a screen and returns a frame with one row per task
  (per task and read-out group for silence / activate) of this shard: actmax drives each task's
  neurons (one task per value of a neuron column) to a value by activation maximisation;
  silence / activate sets them to 0 / 1 through manipulate and reads out groups; grid sweeps two
  inputs over ci.make_grid_inputs' grid; restarts optimises one target from N random starts.
  Tasks run `batch` at a time in the batch dimension, each stored in `out` as soon as it ends (a
  rerun skips what is done); the last shard to finish writes out/results.csv and the figures.
  Each field belongs to the kinds the README's Screens table gives; one of another kind is an
  error.]],
  opts = (function()
    local list = {}
    for k, f in ipairs(M.FIELDS) do
      list[k] = { f[1], f[3], f[4], f[5], default_text = f.default_text }
    end
    return list
  end)(),
  returns = { { "results", "frame", "this shard's rows (the columns of the kind, README Screens)" } },
  example = [[local W, sensory = ci.random_connectome(300, 6000, {seed = 3})
  local types = {}
  for i = 1, 300 do types[i] = "t" .. i % 3 end
  local out = os.tmpname(); os.remove(out)
  local r = ci.screen{kind = "silence", connectome = {weights = W, neurons = ci.frame{type = types}},
                      sensory = sensory, tasks = "type", input = 1, out = out, quiet = true}
  print(r:nrow(), r:columns()[5])  --> 9 delta
  os.execute("rm -rf " .. out)]],
}
M.DECL = DECL

-- the option names of a declared function, or the fallback list while it (or
-- the function whose options it passes on) is not declared
local function names_of(fname, fallback)
  local d = O.by_name[fname]
  if not d or (d.extends and not O.by_name[d.extends]) then return fallback end
  return O.option_names(d)
end

local function is_int(v) return type(v) == "number" and v == math.floor(v) and v == v end

-- options of ci.activation_maximisation that a screen passes on (it sets
-- targets, batch_size and the starting input itself); used until that function
-- is declared
local ACTMAX_OPTIONS = {
  "num_iterations", "learning_rate", "in_reg_lambda", "out_reg_lambda", "custom_reg_functions",
  "early_stopping", "stopping_threshold", "n_runs", "normalize_gradients", "seed", "input_tensor",
  "quiet", "print_output", "use_tqdm", "progress", "log", "device",
}
-- options of c:model, until ci.MultilayeredNetwork is declared
local MODEL_OPTIONS = {
  "num_layers", "threshold", "tanh_steepness", "tau", "idx_to_group", "group", "linear",
  "bias_dict", "slope_dict", "tau_dict", "default_bias", "divisive_normalization",
  "divisive_strength", "activation_function", "device", "biases_full", "slopes_full", "taus_full",
  "train_biases", "train_slopes", "train_tau",
}
-- ===================================================================================

--- Refuses unknown keys of a nested options table (spec[field]).
local function check_options(field, t, names, level)
  local valid = {}
  for _, n in ipairs(names) do valid[n] = true end
  for k in pairs(t) do
    if not valid[k] and not (type(k) == "string" and k:sub(1, 1) == "_") then
      error(fmt("%s: unknown option '%s' in spec.%s%s", WHERE, tostring(k), field,
                O.suggestion(k, names, "options")), level + 1)
    end
  end
end

--- check(spec, level) -> a copy of spec, checked, with the defaults of its kind.
function M.check(spec, level)
  level = (level or 1) + 1
  if type(spec) ~= "table" or getmetatable(spec) ~= nil then
    error(fmt("%s: spec must be a table {kind = ..., ...}, got %s", WHERE, O.describe(spec)), level)
  end
  local kind = spec.kind
  if kind == nil then error(WHERE .. ": spec.kind is required (" .. concat(M.KINDS, ", ") .. ")", level) end
  if not ALL[kind] then
    error(fmt("%s: unknown kind '%s'%s", WHERE, tostring(kind), O.suggestion(kind, M.KINDS, "kinds")), level)
  end
  local out = O.check(DECL, spec, level) -- unknown fields (with the closest names) and types
  for k in pairs(spec) do
    local f = BY_NAME[k]
    if f and not f[2][kind] then
      local kinds = {}
      for _, kk in ipairs(M.KINDS) do if f[2][kk] then kinds[#kinds + 1] = kk end end
      error(fmt("%s: spec field '%s' does not apply to kind '%s' (it is for %s)", WHERE, k, kind,
                concat(kinds, ", ")), level)
    end
  end
  for k in pairs(out) do
    if BY_NAME[k] and not BY_NAME[k][2][kind] then out[k] = nil end -- a default of another kind
  end
  for k, v in pairs(KIND_DEFAULTS[kind] or {}) do
    if out[k] == nil then out[k] = v end
  end
  for _, k in ipairs(REQUIRES[kind]) do
    if out[k] == nil and not (k == "readout" and out.tasks) then
      error(fmt("%s: spec.%s is required for kind '%s' (%s)", WHERE, k, kind, BY_NAME[k][5]), level)
    end
  end
  if (out.connectome == nil) == (out.edges == nil) then
    error(WHERE .. ": give either spec.edges (with spec.neurons) or spec.connectome", level)
  end
  if out.connectome ~= nil and (out.neurons ~= nil or out.read ~= nil) then
    error(WHERE .. ": spec.neurons and spec.read go with spec.edges, not with spec.connectome", level)
  end
  if out.actmax ~= nil then
    check_options("actmax", out.actmax, names_of("ci.activation_maximisation", ACTMAX_OPTIONS), level)
  end
  if out.model ~= nil then
    if out.model.sensory ~= nil or out.model.sensory_indices ~= nil then
      error(WHERE .. ": give the input neurons as spec.sensory, not in spec.model", level)
    end
    check_options("model", out.model, names_of("connectome:model", MODEL_OPTIONS), level)
  end
  if out.grid ~= nil then check_options("grid", out.grid, names_of("ci.make_grid_inputs", {}), level) end
  if kind == "restarts" then
    if (out.restarts == nil) == (out.seeds == nil) then
      error(WHERE .. ": kind 'restarts' needs either spec.restarts (a count) or spec.seeds (a list)", level)
    end
    for _, k in ipairs { "seed", "input_tensor" } do
      if out.actmax and out.actmax[k] ~= nil then
        error(WHERE .. ": spec.actmax." .. k .. " does not apply to kind 'restarts' (each task starts " ..
              "from its own seed)", level)
      end
    end
  end
  if out.actmax and type(out.actmax.log) == "string" then
    error(WHERE .. ": spec.actmax.log must be a function (a CSV path would be rewritten by every batch)", level)
  end
  out.shard = M.shard(out.shard, level)
  return out
end

--- The shard {i, N}: from spec (a table {i, N} or text "i/N"), else from Slurm's
--- job-array variables (SLURM_ARRAY_TASK_ID, _MIN, _STEP, _COUNT), else {1, 1}.
function M.shard(s, level, getenv)
  level = (level or 1) + 1
  getenv = getenv or os.getenv
  local i, n
  if s == nil then
    local id = tonumber(getenv("SLURM_ARRAY_TASK_ID") or "")
    local count = tonumber(getenv("SLURM_ARRAY_TASK_COUNT") or "")
    if id and count then
      local min = tonumber(getenv("SLURM_ARRAY_TASK_MIN") or "") or 1
      local step = tonumber(getenv("SLURM_ARRAY_TASK_STEP") or "") or 1
      i, n = (id - min) / step + 1, count
    else
      return { 1, 1 }
    end
  elseif type(s) == "string" then
    local a, b = s:match("^%s*(%d+)%s*/%s*(%d+)%s*$")
    if not a then error(fmt("%s: shard must be \"i/N\", got '%s'", WHERE, s), level) end
    i, n = tonumber(a), tonumber(b)
  elseif type(s) == "table" then
    i, n = s[1], s[2]
  else
    error(fmt("%s: shard must be {i, N} or \"i/N\", got %s", WHERE, type(s)), level)
  end
  if not is_int(n) or n < 1 then error(fmt("%s: shard: N = %s must be an integer >= 1", WHERE, tostring(n)), level) end
  if not is_int(i) or i < 1 or i > n then
    error(fmt("%s: shard %s is outside 1..%d", WHERE, tostring(i), n), level)
  end
  return { i, n }
end

return M
