-- screen_check.lua: the fields of a screen spec, checked by hand in this one
-- place until lua/cinterp/options.lua's declarations can hold them. FIELDS
-- declares every spec field once (the kinds it applies to, its type, its default,
-- one line of doc); check(spec) refuses an unknown field with the closest valid
-- names (a misspelled field is never ignored), a field of another kind, a value
-- of the wrong type, and unknown keys of the nested option tables (spec.actmax,
-- spec.model, spec.grid); it returns a copy with the defaults filled in.
local M = {}

local fmt, concat = string.format, table.concat
local WHERE = "ci.screen"

local ALL = { actmax = true, restarts = true, silence = true, activate = true, grid = true }
local AM = { actmax = true, restarts = true }
local MANIP = { silence = true, activate = true }
local READ = { silence = true, activate = true, grid = true }
local TASKS = { actmax = true, silence = true, activate = true }
M.KINDS = { "actmax", "silence", "activate", "grid", "restarts" }

-- ===== the declarations (move to options.lua) =====================================
-- name = { kinds, type, default, doc }; type: "string" | "number" | "integer" |
-- "boolean" | "table" | "any"; a default of REQUIRED means the field must be given.
local REQUIRED = {}
M.FIELDS = {
  kind = { ALL, "string", REQUIRED, "actmax | silence | activate | grid | restarts" },
  edges = { ALL, "string", nil, "edge table (CSV, .gz) for ci.connectome.read" },
  neurons = { ALL, "string", nil, "neuron table for ci.connectome.read" },
  read = { ALL, "table", nil, "more options of ci.connectome.read (threshold, sign, nt, ...)" },
  connectome = { ALL, "any", nil, "a ci.connectome, or {weights = W, neurons = frame}, instead of edges/neurons" },
  sensory = { ALL, "table", REQUIRED, "the input neurons: a selection {column = value} or indices" },
  model = { ALL, "table", nil, "options of c:model (num_layers, threshold, tau, group, ...)" },
  batch = { ALL, "integer", 1, "tasks optimised together (results do not depend on it)" },
  shard = { ALL, "any", nil, "{i, N} or \"i/N\": every N-th task from the i-th; default from Slurm, else 1/1" },
  out = { ALL, "string", "screen_out", "results folder (resumable)" },
  quiet = { ALL, "boolean", false, "no progress line on stderr" },
  limit = { ALL, "integer", nil, "only the first N tasks of the sorted list (a trial run)" },
  figures = { ALL, "boolean", true, "write the figures when the screen is complete" },
  tasks = { TASKS, "string", REQUIRED, "neuron column: one task per distinct value" },
  match = { TASKS, "string", nil, "keep only task values whose text matches this Lua pattern" },
  layers = { ALL, "table", nil, "actmax/restarts: target layers (default: the last); " ..
                                "silence/activate: manipulated layers (default: all)" },
  value = { AM, "number", 1, "target activation of the task's neurons" },
  actmax = { AM, "table", nil, "options of ci.activation_maximisation" },
  input_groups = { AM, "string", nil, "neuron column grouping the inputs (default: tasks, else type, else id)" },
  top = { AM, "integer", 5, "input groups listed in top_inputs" },
  target = { { restarts = true }, "table", REQUIRED, "the target neurons: a selection {column = value} or indices" },
  restarts = { { restarts = true }, "integer", nil, "number of random starts (seeds 1..N)" },
  seeds = { { restarts = true }, "table", nil, "the seeds of the random starts (instead of restarts)" },
  input = { MANIP, "any", nil, "network input: a number (every input neuron, every step), " ..
                               "a tensor (S, L) or a selection of input neurons set to 1" },
  readout = { READ, "string", nil, "neuron column of the read-out groups (default: tasks)" },
  readout_match = { READ, "string", nil, "keep only read-out groups matching this Lua pattern" },
  readout_layers = { MANIP, "table", nil, "layers averaged in a read-out (default: all)" },
  v1 = { { grid = true }, "table", REQUIRED, "first input: a selection of input neurons or a vector over them" },
  v2 = { { grid = true }, "table", REQUIRED, "second input, as v1" },
  grid = { { grid = true }, "table", nil, "options of ci.make_grid_inputs (grid_size, timepoints, cap, cap_value)" },
}

-- options of ci.activation_maximisation that a screen passes on (it sets
-- targets, batch_size and the starting input itself)
M.ACTMAX_OPTIONS = {
  "num_iterations", "learning_rate", "in_reg_lambda", "out_reg_lambda", "custom_reg_functions",
  "early_stopping", "stopping_threshold", "n_runs", "normalize_gradients", "seed", "input_tensor",
  "quiet", "print_output", "use_tqdm", "progress", "log", "device",
}
-- options of c:model / ci.MultilayeredNetwork
M.MODEL_OPTIONS = {
  "num_layers", "threshold", "tanh_steepness", "tau", "idx_to_group", "group", "linear",
  "bias_dict", "slope_dict", "tau_dict", "default_bias", "divisive_normalization",
  "divisive_strength", "activation_function", "device", "biases_full", "slopes_full", "taus_full",
  "train_biases", "train_slopes", "train_tau",
}
M.GRID_OPTIONS = { "grid_size", "timepoints", "cap", "cap_value" }
-- ===================================================================================

-- edit distance (for "did you mean")
local function distance(a, b)
  local prev = {}
  for j = 0, #b do prev[j] = j end
  for i = 1, #a do
    local cur = { [0] = i }
    for j = 1, #b do
      local cost = a:sub(i, i) == b:sub(j, j) and 0 or 1
      cur[j] = math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
    end
    prev = cur
  end
  return prev[#b]
end

--- The names closest to name (edit distance, then shared prefix), at most 3.
function M.closest(name, names)
  name = tostring(name)
  local scored = {}
  for _, n in ipairs(names) do
    local d = distance(name:lower(), n:lower())
    if n:find(name, 1, true) or name:find(n, 1, true) then d = math.min(d, 1) end
    scored[#scored + 1] = { n = n, d = d }
  end
  table.sort(scored, function(x, y) if x.d ~= y.d then return x.d < y.d end return x.n < y.n end)
  local out = {}
  for k = 1, math.min(3, #scored) do
    if scored[k].d <= math.max(2, math.floor(#name / 3)) then out[#out + 1] = scored[k].n end
  end
  return out
end

local function did_you_mean(name, names)
  local c = M.closest(name, names)
  if #c == 0 then
    local all = {}
    for _, n in ipairs(names) do all[#all + 1] = n end
    table.sort(all)
    return " (valid: " .. concat(all, ", ") .. ")"
  end
  return " (did you mean '" .. concat(c, "', '") .. "'?)"
end

local function is_int(v) return type(v) == "number" and v == math.floor(v) and v == v end

local function type_ok(v, t)
  if t == "any" then return true end
  if t == "integer" then return is_int(v) end
  return type(v) == t
end

--- Refuses unknown keys of a nested options table (spec[field]).
function M.check_options(field, t, names, level)
  if type(t) ~= "table" then
    error(fmt("%s: spec.%s must be a table of options, got %s", WHERE, field, type(t)), level + 1)
  end
  local valid = {}
  for _, n in ipairs(names) do valid[n] = true end
  for k in pairs(t) do
    if not valid[k] then
      error(fmt("%s: unknown option '%s' in spec.%s%s", WHERE, tostring(k), field,
                did_you_mean(k, names)), level + 1)
    end
  end
end

--- check(spec) -> a copy of spec with defaults filled in (see the header).
function M.check(spec, level)
  level = (level or 1) + 1
  if type(spec) ~= "table" then
    error(fmt("%s: spec must be a table {kind = ..., ...}, got %s", WHERE, type(spec)), level)
  end
  local kind = spec.kind
  if kind == nil then error(WHERE .. ": spec.kind is required (" .. concat(M.KINDS, ", ") .. ")", level) end
  if not ALL[kind] then
    error(fmt("%s: unknown kind '%s'%s", WHERE, tostring(kind), did_you_mean(kind, M.KINDS)), level)
  end
  local names = {}
  for n in pairs(M.FIELDS) do names[#names + 1] = n end
  table.sort(names)
  for k in pairs(spec) do
    local f = M.FIELDS[k]
    if not f then
      local mine = {}
      for _, n in ipairs(names) do if M.FIELDS[n][1][kind] then mine[#mine + 1] = n end end
      error(fmt("%s: unknown spec field '%s'%s", WHERE, tostring(k), did_you_mean(k, mine)), level)
    end
    if not f[1][kind] then
      local kinds = {}
      for _, kk in ipairs(M.KINDS) do if f[1][kk] then kinds[#kinds + 1] = kk end end
      error(fmt("%s: spec field '%s' does not apply to kind '%s' (it is for %s)", WHERE, k, kind,
                concat(kinds, ", ")), level)
    end
  end
  local out = {}
  for _, n in ipairs(names) do
    local f = M.FIELDS[n]
    if f[1][kind] then
      local v = spec[n]
      if v == nil then
        if f[3] == REQUIRED then
          error(fmt("%s: spec.%s is required for kind '%s' (%s)", WHERE, n, kind, f[4]), level)
        end
        v = f[3]
      elseif not type_ok(v, f[2]) then
        error(fmt("%s: spec.%s must be %s, got %s", WHERE, n, f[2] == "integer" and "an integer" or
                  ("a " .. f[2]), type(v) == "number" and tostring(v) or type(v)), level)
      end
      out[n] = v
    end
  end
  if (out.connectome == nil) == (out.edges == nil) then
    error(WHERE .. ": give either spec.edges (with spec.neurons) or spec.connectome", level)
  end
  if out.connectome ~= nil and (out.neurons ~= nil or out.read ~= nil) then
    error(WHERE .. ": spec.neurons and spec.read go with spec.edges, not with spec.connectome", level)
  end
  if out.batch < 1 then error(fmt("%s: spec.batch must be >= 1, got %d", WHERE, out.batch), level) end
  if out.limit and out.limit < 1 then error(fmt("%s: spec.limit must be >= 1, got %d", WHERE, out.limit), level) end
  if out.top and out.top < 1 then error(fmt("%s: spec.top must be >= 1, got %d", WHERE, out.top), level) end
  if out.actmax ~= nil then M.check_options("actmax", out.actmax, M.ACTMAX_OPTIONS, level) end
  if out.model ~= nil then M.check_options("model", out.model, M.MODEL_OPTIONS, level) end
  if out.grid ~= nil then M.check_options("grid", out.grid, M.GRID_OPTIONS, level) end
  if kind == "restarts" then
    if (out.restarts == nil) == (out.seeds == nil) then
      error(WHERE .. ": kind 'restarts' needs either spec.restarts (a count) or spec.seeds (a list)", level)
    end
    if out.restarts ~= nil and out.restarts < 1 then
      error(fmt("%s: spec.restarts must be >= 1, got %d", WHERE, out.restarts), level)
    end
    for _, k in ipairs { "seed", "input_tensor" } do
      if out.actmax and out.actmax[k] ~= nil then
        error(WHERE .. ": spec.actmax." .. k .. " does not apply to kind 'restarts' (each task starts " ..
              "from its own seed)", level)
      end
    end
  end
  if kind == "silence" and out.input == nil then
    error(WHERE .. ": kind 'silence' needs spec.input (a network input; without one nothing is " ..
          "active to silence)", level)
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
