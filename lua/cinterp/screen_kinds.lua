-- screen_kinds.lua: what one batch of a screen computes, per kind. run(ci, P,
-- tasks) takes up to spec.batch tasks of the problem P (screen_problem.lua),
-- packs them into the batch dimension, and returns one result per task:
-- { rows = {row, ...} (values in COLUMNS[kind] order), input = tensor (S, L) or
-- nil (the optimised input, actmax / restarts) }.
--
--   actmax, restarts  one ci.activation_maximisation call for the batch, task b
--                     in batch column b with its own targets (its neurons at
--                     P.value at P.layers) and its own random start (drawn from
--                     its seed alone: never from its place in the batch); the
--                     call uses independent_batches, so each task's losses,
--                     regularisers and early stopping are its own
--   silence, activate one forward of the batch, task b's neurons set to 0 / 1
--                     at P.layers in batch b (manipulate per batch), against one
--                     baseline forward without manipulation
--   grid              one forward of the batch's grid points (rows of
--                     ci.make_grid_inputs' input)
-- Read-outs are means over the group's neurons (and, for silence / activate,
-- over P.readout_layers) of the forward's activations.
local M = {}

local fmt = string.format

M.COLUMNS = {
  actmax = { "task", "n_targets", "act_loss_first", "act_loss_final", "target_activation",
             "top_inputs", "iterations", "seconds" },
  silence = { "task", "readout", "baseline", "manipulated", "delta" },
  grid = { "v1", "v2", "layer", "readout", "activation" },
}
M.COLUMNS.restarts = M.COLUMNS.actmax
M.COLUMNS.activate = M.COLUMNS.silence
-- columns holding text (the others are numbers)
M.TEXT_COLUMNS = { task = true, readout = true, top_inputs = true }

local ffi = require "ffi"
local clock = require("cinterp.progress").now

-- copies tensor src's floats into dst's data from float offset off
local function ffi_copy(dst, off, src)
  ffi.copy(dst.data + off, src.data, 4 * src:numel())
end

-- mean of out[b, i, l] over neurons i and layers l (out: (B, n, L) floats)
local function mean_activation(out, b, n, L, neurons, layers)
  local d = out.data
  local s = 0
  for _, i in ipairs(neurons) do
    local base = ((b - 1) * n + (i - 1)) * L - 1
    for _, l in ipairs(layers) do s = s + d[base + l] end
  end
  return s / (#neurons * #layers)
end

local function host(out, where)
  if out.on_device ~= 0 then error(where .. ": the forward's output is on the device", 0) end
  return out
end

-- as a (B, a, b) tensor: a (a, b) result of a one-batch call gains its batch dimension
local function batched(t, B)
  if t:dim() == 2 then return t:reshape(1, t:size(1), t:size(2)) end
  assert(t:size(1) == B)
  return t
end

-- the top input groups of an optimised input x (S, L): "group:mean;..." by mean
-- over the group's input neurons and timesteps, largest first, ties by name
local function top_inputs(x, group_of, top)
  local S, L = x:size(1), x:size(2)
  local d = x.data
  local sum, cnt, names = {}, {}, {}
  for s = 1, S do
    local g = group_of[s]
    if not sum[g] then sum[g], cnt[g] = 0, 0; names[#names + 1] = g end
    for l = 1, L do sum[g] = sum[g] + d[(s - 1) * L + l - 1] end
    cnt[g] = cnt[g] + L
  end
  local mean = {}
  for _, g in ipairs(names) do mean[g] = sum[g] / cnt[g] end
  table.sort(names, function(a, b)
    if mean[a] ~= mean[b] then return mean[a] > mean[b] end
    return a < b
  end)
  local parts = {}
  for k = 1, math.min(top, #names) do parts[k] = fmt("%s:%.4g", names[k], mean[names[k]]) end
  return table.concat(parts, ";")
end
M.top_inputs = top_inputs

-- the starting input of a task: uniform [0, 1) drawn after seeding with the
-- task's seed (restarts) or spec.actmax.seed (default 1), or spec.actmax.input_tensor
local function start_of(ci, P, task)
  local am = P.spec.actmax or {}
  if am.input_tensor ~= nil then
    local x = am.input_tensor
    if type(x) == "table" and getmetatable(x) == nil then x = ci.tensor(x) end
    if not ci.is_tensor(x) or x:dim() ~= 2 or x:size(1) ~= P.S or x:size(2) ~= P.L then
      error(fmt("ci.screen: spec.actmax.input_tensor must be a tensor (input neurons, num_layers) = (%d, %d)",
                P.S, P.L), 0)
    end
    return x
  end
  ci.manual_seed(task.seed or am.seed or 1)
  return ci.rand(P.S, P.L)
end

local function run_actmax(ci, P, tasks)
  local K = #tasks
  local S, L, n = P.S, P.L, P.n
  local b_, l_, i_, v_ = {}, {}, {}, {}
  local x0 = ci.zeros(K, S, L)
  for b, task in ipairs(tasks) do
    for _, l in ipairs(P.layers) do
      for _, i in ipairs(task.neurons) do
        b_[#b_ + 1], l_[#l_ + 1], i_[#i_ + 1], v_[#v_ + 1] = b, l, i, P.value
      end
    end
    local start = start_of(ci, P, task)
    ffi_copy(x0, (b - 1) * S * L, start)
  end
  local targets = ci.TargetActivation { targets = ci.frame { batch = b_, layer = l_, neuron = i_, value = v_ },
                                        batch_size = K }
  local opts = { quiet = true }
  for k, v in pairs(P.spec.actmax or {}) do opts[k] = v end
  opts.seed = nil
  opts.input_tensor = x0
  opts.independent_batches = true
  local t0 = clock()
  local input, output, act_loss = ci.activation_maximisation(P.net, targets, opts)
  local seconds = (clock() - t0) / K
  input, output = batched(input, K), host(batched(output, K), "ci.screen")
  local results = {}
  for b, task in ipairs(tasks) do
    local al = act_loss[b]
    local x = input:select(1, b):clone()
    results[b] = {
      rows = { { task.label, #task.neurons, al[1] or 0 / 0, al[#al] or 0 / 0,
                 mean_activation(output, b, n, L, task.neurons, P.layers),
                 top_inputs(x, P.input_group, P.top), #al, seconds } },
      input = x,
    }
  end
  return results
end

-- the baseline read-outs (no manipulation), once per problem
local function baseline(ci, P)
  if not P.baseline then
    local x = P.input:reshape(1, P.S, P.L)
    local out = host(ci.no_grad(function() return P.net:forward(x) end), "ci.screen")
    P.net.activations = nil
    P.baseline = {}
    for r, g in ipairs(P.readouts) do
      P.baseline[r] = mean_activation(out, 1, P.n, P.L, g.neurons, P.readout_layers)
    end
  end
  return P.baseline
end

local function run_manipulation(ci, P, tasks)
  local K, S, L, n = #tasks, P.S, P.L, P.n
  local base = baseline(ci, P)
  local x = ci.zeros(K, S, L)
  local manipulate = {}
  for b, task in ipairs(tasks) do
    ffi_copy(x, (b - 1) * S * L, P.input)
    local set = {}
    if P.manip_by_group then
      set[task.value] = P.manip_value
    else
      for _, i in ipairs(task.neurons) do set[i] = P.manip_value end
    end
    local per_layer = {}
    for _, l in ipairs(P.layers) do per_layer[l] = set end
    manipulate[b] = per_layer
  end
  local out = host(ci.no_grad(function() return P.net:forward(x, { manipulate = manipulate }) end), "ci.screen")
  P.net.activations = nil
  local results = {}
  for b, task in ipairs(tasks) do
    local rows = {}
    for r, g in ipairs(P.readouts) do
      local m = mean_activation(out, b, n, L, g.neurons, P.readout_layers)
      rows[r] = { task.label, g.text, base[r], m, m - base[r] }
    end
    results[b] = { rows = rows }
  end
  return results
end

local function run_grid(ci, P, tasks)
  local K, n, L = #tasks, P.n, P.L
  local idx = {}
  for b, task in ipairs(tasks) do idx[b] = task.point end
  local x = P.grid_input:index(1, idx)
  local out = host(ci.no_grad(function() return P.net:forward(x) end), "ci.screen")
  P.net.activations = nil
  local results = {}
  for b, task in ipairs(tasks) do
    local s1, s2 = P.coords[task.point][1], P.coords[task.point][2]
    local rows = {}
    for _, l in ipairs(P.layers) do
      for _, g in ipairs(P.readouts) do
        rows[#rows + 1] = { s1, s2, l, g.text, mean_activation(out, b, n, L, g.neurons, { l }) }
      end
    end
    results[b] = { rows = rows }
  end
  return results
end

local RUN = { actmax = run_actmax, restarts = run_actmax, silence = run_manipulation,
              activate = run_manipulation, grid = run_grid }

--- run(ci, P, tasks) -> one result per task (see the header).
function M.run(ci, P, tasks)
  return RUN[P.kind](ci, P, tasks)
end

return M
