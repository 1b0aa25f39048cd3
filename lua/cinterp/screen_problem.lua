-- screen_problem.lua: a checked screen spec resolved into the problem it poses:
-- the connectome and its network, the input neurons, the sorted task list (each
-- task with its label, its neurons or seed or grid point, and a file name), the
-- read-out groups, the inputs, and the spec's fingerprint. Every selection is
-- resolved here, before any work starts, so that a column or selection that
-- matches nothing, or a layer beyond num_layers, is an error up front.
--
-- The fingerprint (P.hash) covers what determines the results, resolved: the
-- network's signed weights (their data, not the file names, so that the same
-- data read from another path is the same screen), the model options, the input
-- neurons, every task with its neurons, the targets, the optimiser's options (its
-- functions by their bytecode and upvalues, see screen_hash.lua), the read-out
-- groups and inputs. It leaves out what cannot change a result: batch, shard,
-- out, quiet, figures, and the display options of activation_maximisation
-- (quiet, print_output, use_tqdm, progress, log). P.description is the text it
-- hashes, one line per part (written as <out>/spec.txt, to compare two specs).
local H = require "cinterp.screen_hash"

local M = {}
local fmt, concat = string.format, table.concat
local WHERE = "ci.screen"

local DISPLAY_OPTIONS = { quiet = true, print_output = true, use_tqdm = true, progress = true, log = true }

local function is_missing(v) return v == nil or v ~= v or v == "" end

--- The text of a column value, as it names a task or a group.
function M.label_text(v)
  if type(v) == "number" then
    if v == math.floor(v) and math.abs(v) < 2 ^ 53 then return fmt("%d", v) end
    return fmt("%.17g", v)
  end
  return tostring(v)
end
local label_text = M.label_text

--- A file name for a task label: its safe characters (at most 60) and a hash of
--- the whole label, so that two labels never share a file.
function M.file_name(label)
  local text = label_text(label)
  local safe = text:gsub("[^%w%-_%.]", "_"):sub(1, 60)
  return safe .. "." .. H.hash(text):sub(1, 8)
end

local function is_list(t)
  if next(t) == nil then return true end
  for k in pairs(t) do
    if type(k) ~= "number" then return false end
  end
  return true
end

-- neuron indices of a selection table {column = value} or a list of indices
local function selection(c, sel, what)
  local idx
  if is_list(sel) then
    for k, i in ipairs(sel) do
      if type(i) ~= "number" or i ~= math.floor(i) or i < 1 or i > c.n then
        error(fmt("%s: %s[%d] = %s is not a neuron index 1..%d", WHERE, what, k, tostring(i), c.n), 0)
      end
    end
    idx = sel
  else
    local ok, r = pcall(c.select, c, sel)
    if not ok then error(fmt("%s: %s: %s", WHERE, what, tostring(r):gsub("^.-connectome:select: ", "")), 0) end
    idx = r
  end
  if #idx == 0 then
    error(fmt("%s: %s selects no neuron (%s)", WHERE, what, H.describe(sel)), 0)
  end
  return idx
end

local function column(c, name, what)
  if name == "id" then return c.ids end
  if not c.neurons then
    error(fmt("%s: %s = '%s' needs a neuron table (spec.neurons)", WHERE, what, name), 0)
  end
  if not c.neurons:has_column(name) then
    error(fmt("%s: %s: the neuron table has no column '%s' (columns: %s)", WHERE, what, name,
              concat(c.neurons:columns(), ", ")), 0)
  end
  return c.neurons:col(name)
end

-- the groups of a column: sorted by text, each {label = value, text =, neurons = {...}}
local function groups_of(c, name, pattern, what, among)
  local col = column(c, name, what)
  local by, list = {}, {}
  local function add(i)
    local v = col[i]
    if not is_missing(v) then
      local text = label_text(v)
      if text:find("[\r\n]") then
        error(fmt("%s: %s: value '%s' of column '%s' holds a line break", WHERE, what, text, name), 0)
      end
      local ok, m = true, true
      if pattern then ok, m = pcall(string.find, text, pattern) end
      if not ok then error(fmt("%s: %s: bad Lua pattern '%s': %s", WHERE, what, pattern, m), 0) end
      if m then
        local g = by[text]
        if not g then
          g = { label = v, text = text, neurons = {} }
          by[text] = g
          list[#list + 1] = g
        end
        g.neurons[#g.neurons + 1] = i
      end
    end
  end
  if among then
    for _, i in ipairs(among) do add(i) end
  else
    for i = 1, c.n do add(i) end
  end
  if #list == 0 then
    local seen, some = {}, {}
    for i = 1, c.n do
      local v = col[i]
      if not is_missing(v) and not seen[v] and #some < 8 then seen[v] = true; some[#some + 1] = label_text(v) end
    end
    error(fmt("%s: %s: no value of column '%s'%s (values include: %s)", WHERE, what, name,
              pattern and (" matches '" .. pattern .. "'") or " is present",
              concat(some, ", ")), 0)
  end
  table.sort(list, function(a, b) return a.text < b.text end)
  return list
end

local function layer_list(v, L, what, default)
  if v == nil then return default end
  if #v == 0 then error(fmt("%s: %s is empty", WHERE, what), 0) end
  local seen = {}
  for k, l in ipairs(v) do
    if type(l) ~= "number" or l ~= math.floor(l) or l < 1 then
      error(fmt("%s: %s[%d] = %s is not a layer (layers are 1-based)", WHERE, what, k, tostring(l)), 0)
    end
    if l > L then
      error(fmt("%s: %s[%d] = %d is beyond num_layers = %d", WHERE, what, k, l, L), 0)
    end
    if seen[l] then error(fmt("%s: %s lists layer %d twice", WHERE, what, l), 0) end
    seen[l] = true
  end
  local out = {}
  for k, l in ipairs(v) do out[k] = l end
  table.sort(out)
  return out
end

local function all_layers(L)
  local t = {}
  for l = 1, L do t[l] = l end
  return t
end

-- a vector over the input slots: a selection of input neurons {column = value}
-- (1 there, 0 elsewhere; `input` also takes a list of neuron indices), or, when
-- vector_ok, a Lua array of S numbers (the vector itself)
local function slot_vector(c, P, v, what, vector_ok)
  local S = #P.sensory
  if vector_ok and is_list(v) then
    if #v ~= S then
      error(fmt("%s: %s must be a selection {column = value} or a vector of %d numbers (one per " ..
                "input neuron), got a list of %d", WHERE, what, S, #v), 0)
    end
    local out = {}
    for k = 1, S do
      if type(v[k]) ~= "number" then
        error(fmt("%s: %s[%d] is %s, expected a number", WHERE, what, k, type(v[k])), 0)
      end
      out[k] = v[k]
    end
    return out
  end
  local idx = selection(c, v, what)
  local out = {}
  for k = 1, S do out[k] = 0 end
  local outside = 0
  for _, i in ipairs(idx) do
    local s = P.slot[i]
    if s then out[s] = 1 else outside = outside + 1 end
  end
  if outside > 0 then
    error(fmt("%s: %s selects %d neuron(s) that are not input neurons (spec.sensory)", WHERE, what, outside), 0)
  end
  return out
end

-- the network input (S, L) of silence / activate
local function manip_input(ci, c, P, v)
  local S, L = #P.sensory, P.L
  if v == nil then return ci.zeros(S, L) end
  if type(v) == "number" then return ci.full(v, S, L) end
  if ci.is_tensor(v) then
    if v:dim() ~= 2 or v:size(1) ~= S or v:size(2) ~= L then
      error(fmt("%s: spec.input must be a tensor (input neurons, num_layers) = (%d, %d), got (%s)",
                WHERE, S, L, concat(v:size(), "x")), 0)
    end
    return v:clone()
  end
  if type(v) == "table" then
    local vec = slot_vector(c, P, v, "spec.input", false)
    local x = ci.zeros(S, L)
    for s = 1, S do
      if vec[s] ~= 0 then for l = 1, L do x:set(vec[s], s, l) end end
    end
    return x
  end
  error(fmt("%s: spec.input must be a number, a tensor (S, L) or a selection, got %s", WHERE, type(v)), 0)
end

-- {weights = W, neurons = frame} as a connectome: W a ci.sparse (n x n, post in
-- rows, as ci.random_connectome gives), frame one row per neuron (an id column
-- is optional). It answers what a screen asks of a ci.connectome (n, nnz, ids,
-- neurons, select, groups, model, weights).
local function weights_connectome(ci, t)
  local W, f = t.weights, t.neurons
  if not ci.is_sparse(W) then
    error(fmt("%s: spec.connectome.weights must be a ci.sparse (post in rows), got %s", WHERE, type(W)), 0)
  end
  local n = W:size()[1]
  if W:size()[2] ~= n then error(fmt("%s: spec.connectome.weights must be square, got %dx%d", WHERE, n, W:size()[2]), 0) end
  if not ci.is_frame(f) or f:nrow() ~= n then
    error(fmt("%s: spec.connectome.neurons must be a ci.frame with one row per neuron (%d)", WHERE, n), 0)
  end
  for k in pairs(t) do
    if k ~= "weights" and k ~= "neurons" then
      error(fmt("%s: spec.connectome: unknown field '%s' (a ci.connectome, or {weights = W, neurons = frame})",
                WHERE, tostring(k)), 0)
    end
  end
  local ids = {}
  if f:has_column("id") then ids = f:col("id") else for i = 1, n do ids[i] = i end end
  local c = setmetatable({ n = n, nnz = W:nnz(), ids = ids, neurons = f }, ci.connectome.Connectome)
  c.weights = function() return W end
  return c
end

-- the connectome of the spec: read from its tables, given, or built from {weights, neurons}
local function spec_connectome(ci, s)
  local c = s.connectome
  if c == nil then
    local o = {}
    for k, v in pairs(s.read or {}) do o[k] = v end
    if o.edges ~= nil or o.neurons ~= nil then
      error(WHERE .. ": give edges and neurons as spec.edges / spec.neurons, not inside spec.read", 0)
    end
    o.edges, o.neurons = s.edges, s.neurons
    return ci.connectome.read(o)
  elseif getmetatable(c) ~= ci.connectome.Connectome then
    if type(c) ~= "table" or c.weights == nil then
      error(fmt("%s: spec.connectome must be a ci.connectome (from ci.connectome.read) or a table " ..
                "{weights = W, neurons = frame}, got %s", WHERE, type(c)), 0)
    end
    return weights_connectome(ci, c)
  end
  return c
end

-- the input neurons, their slots, and the network over them
local function network_part(ci, s, P, part)
  local c = P.c
  P.sensory = selection(c, s.sensory, "spec.sensory")
  P.slot = {}
  for k, i in ipairs(P.sensory) do
    if P.slot[i] then error(fmt("%s: spec.sensory lists neuron %d twice", WHERE, i), 0) end
    P.slot[i] = k
  end
  local mopts = { sensory = P.sensory }
  for k, v in pairs(s.model or {}) do mopts[k] = v end
  P.net = c:model(mopts)
  P.n, P.L, P.S = P.net.n, P.net.num_layers, #P.sensory
  part("kind", s.kind)
  part("network", fmt("n=%d nnz=%d weights=%s", c.n, c.nnz, H.describe(c:weights(), ci)))
  local model_desc = {}
  for k, v in pairs(s.model or {}) do model_desc[k] = v end
  if model_desc.group then model_desc.group_values = c:groups(model_desc.group) end
  part("model", H.describe(model_desc, ci) .. fmt(" num_layers=%d", P.L))
  part("sensory", fmt("%d neurons %s", P.S, H.hash(concat(P.sensory, ","))))
end

-- one task per distinct value of spec.tasks (actmax, silence, activate)
local function tasks_by_group(s, P, part)
  local groups = groups_of(P.c, s.tasks, s.match, "spec.tasks")
  P.tasks = {}
  local desc = {}
  for k, g in ipairs(groups) do
    P.tasks[k] = { label = g.text, value = g.label, neurons = g.neurons, file = M.file_name(g.text) }
    desc[k] = g.text .. "=" .. concat(g.neurons, " ")
  end
  part("tasks", fmt("%s match=%s: %d tasks %s", s.tasks, tostring(s.match), #groups,
                    H.hash(concat(desc, "\n"))))
end

-- one task per seed, all driving the same target (restarts)
local function tasks_by_seed(s, P, part)
  P.target = selection(P.c, s.target, "spec.target")
  local seeds = s.seeds
  if seeds == nil then
    seeds = {}
    for k = 1, s.restarts do seeds[k] = k end
  end
  local seen, list = {}, {}
  for k, v in ipairs(seeds) do
    if type(v) ~= "number" or v ~= math.floor(v) or v < 0 then
      error(fmt("%s: spec.seeds[%d] = %s is not an integer >= 0", WHERE, k, tostring(v)), 0)
    end
    if seen[v] then error(fmt("%s: spec.seeds lists seed %d twice", WHERE, v), 0) end
    seen[v] = true
    list[#list + 1] = v
  end
  if #list == 0 then error(WHERE .. ": spec.seeds is empty", 0) end
  table.sort(list)
  P.tasks = {}
  for k, seed in ipairs(list) do
    P.tasks[k] = { label = seed, value = seed, seed = seed, neurons = P.target, file = M.file_name(seed) }
  end
  part("tasks", fmt("target %s, seeds %s", H.hash(concat(P.target, ",")), concat(list, ",")))
end

-- the targets, the optimiser's options and the groups summarising the input (actmax, restarts)
local function actmax_part(ci, s, P, part)
  local c = P.c
  P.layers = layer_list(s.layers, P.L, "spec.layers", { P.L })
  P.value = s.value
  local am = {}
  for k, v in pairs(s.actmax or {}) do
    if not DISPLAY_OPTIONS[k] then am[k] = v end
  end
  part("targets", fmt("layers=%s value=%s", concat(P.layers, ","), H.describe(P.value)))
  part("actmax", H.describe(am, ci))
  local ig = s.input_groups
  if ig == nil then
    ig = s.tasks
    if ig == nil then ig = (c.neurons and c.neurons:has_column("type")) and "type" or "id" end
  end
  local col = column(c, ig, "spec.input_groups")
  P.input_groups_column = ig
  P.input_group = {}
  for k, i in ipairs(P.sensory) do
    local v = col[i]
    P.input_group[k] = is_missing(v) and "unknown" or label_text(v)
  end
  P.top = s.top
  part("inputs", fmt("groups=%s top=%d", ig, P.top))
end

-- the manipulated and read-out layers, the input and the value set (silence, activate)
local function manipulation_part(ci, s, P, part)
  local L = P.L
  P.layers = layer_list(s.layers, L, "spec.layers", all_layers(L))
  P.readout_layers = layer_list(s.readout_layers, L, "spec.readout_layers", all_layers(L))
  P.input = manip_input(ci, P.c, P, s.input)
  P.manip_value = s.kind == "silence" and 0 or 1
  if P.net.groups then
    if (s.model or {}).group ~= s.tasks then
      error(fmt("%s: kind '%s' with a grouped model (model.group / idx_to_group) needs model.group = " ..
                "spec.tasks ('%s'), as manipulate then names groups", WHERE, s.kind, s.tasks), 0)
    end
    P.manip_by_group = true
  end
  part("manipulation", fmt("value=%d layers=%s readout_layers=%s input=%s", P.manip_value,
                           concat(P.layers, ","), concat(P.readout_layers, ","), H.describe(P.input, ci)))
end

-- the read-out groups (silence, activate, grid)
local function readout_part(s, P, part)
  local rcol = s.readout or s.tasks
  if rcol == nil then error(WHERE .. ": kind 'grid' needs spec.readout (a neuron column)", 0) end
  P.readouts = groups_of(P.c, rcol, s.readout_match, "spec.readout")
  local desc = {}
  for k, g in ipairs(P.readouts) do desc[k] = g.text .. "=" .. concat(g.neurons, " ") end
  part("readout", fmt("%s match=%s: %d groups %s", rcol, tostring(s.readout_match), #P.readouts,
                      H.hash(concat(desc, "\n"))))
end

-- the two inputs, the grid of their mixtures and one task per grid point (grid)
local function grid_part(ci, s, P, part)
  if type(ci.make_grid_inputs) ~= "function" then
    error(WHERE .. ": kind 'grid' needs ci.make_grid_inputs (lua/cinterp/grid.lua), absent from this build", 0)
  end
  local c, L = P.c, P.L
  P.layers = layer_list(s.layers, L, "spec.layers", all_layers(L))
  P.v1 = slot_vector(c, P, s.v1, "spec.v1", true)
  P.v2 = slot_vector(c, P, s.v2, "spec.v2", true)
  local gopts = {}
  for k, v in pairs(s.grid or {}) do gopts[k] = v end
  local x, coords = ci.make_grid_inputs(P.v1, P.v2, L, gopts)
  P.grid_input, P.coords = x, coords
  P.grid_size = math.floor(math.sqrt(#coords) + 0.5)
  P.tasks = {}
  for k = 1, #coords do
    P.tasks[k] = { label = k, value = k, point = k, file = M.file_name(k) }
  end
  part("grid", fmt("%s v1=%s v2=%s layers=%s", H.describe(gopts, ci), H.describe(P.v1),
                   H.describe(P.v2), concat(P.layers, ",")))
end

--- build(ci, spec) -> P (see the header). spec is screen_check.check's result.
-- Each step resolves one part of the spec into P and adds its line to the
-- description the fingerprint hashes; the order of the lines is the order here.
function M.build(ci, s)
  local P = { kind = s.kind, spec = s }
  local parts = {}
  local function part(name, text)
    -- a long part (a group per neuron, say) is kept as its hash, so spec.txt stays readable
    if #text > 400 then text = fmt("%s... (%d characters, hash %s)", text:sub(1, 120), #text, H.hash(text)) end
    parts[#parts + 1] = name .. ": " .. text
  end
  local kind = s.kind
  P.c = spec_connectome(ci, s)
  network_part(ci, s, P, part)
  if kind == "actmax" or kind == "silence" or kind == "activate" then tasks_by_group(s, P, part) end
  if kind == "restarts" then tasks_by_seed(s, P, part) end
  if kind == "actmax" or kind == "restarts" then actmax_part(ci, s, P, part) end
  if kind == "silence" or kind == "activate" then manipulation_part(ci, s, P, part) end
  if kind == "silence" or kind == "activate" or kind == "grid" then readout_part(s, P, part) end
  if kind == "grid" then grid_part(ci, s, P, part) end
  if s.limit and s.limit < #P.tasks then
    for k = #P.tasks, s.limit + 1, -1 do P.tasks[k] = nil end
    part("limit", tostring(s.limit))
  end
  P.description = concat(parts, "\n") .. "\n"
  P.hash = H.hash(P.description)
  return P
end

return M
