-- larva.lua: the whole larval Drosophila brain (Winding et al. 2023) driven from
-- its annotated sensory neurons, one modality at a time.
--   cinterp scripts/larva.lua [--data DIR] [--out DIR] ... (--help)
-- Loads ../shared/data/larva_winding2023 with ci.connectome.read (no
-- transmitter data: every neuron excitatory), makes the afferent neurons
-- (flow = afferent) the sensory neurons, stimulates each modality (their
-- super_class) in its own batch, and writes, into OUT:
--   larva_top_types.csv        for every modality and layer the cell types
--                              (super_class of the non-sensory neurons) with
--                              the highest mean activation
--   larva_paths.csv            the activated paths per modality, by cell type
--                              (modality for the sensory neurons), from
--                              ci.activations_to_df_batched with activation and
--                              connectivity thresholds
--   larva_optimal_modalities.csv  activation maximisation for one cell type
--                              (default MBON): the optimised input per
--                              modality (mean, and how many of its neurons
--                              are driven above threshold)
--   larva_actmax_losses.csv    the losses per iteration
-- Activation-maximisation settings as in olfaction.lua, for the same reasons:
-- tau = 1 (the seed's 10 keeps activity under 0.1 per step), the target layer
-- = the path length from the sensory neurons (ORN -> PN -> KC -> MBON = 3),
-- small regularisation (the output regulariser sums over 2,952 neurons x
-- layers) and a positive initial input (thresholded units pass no gradient).
local ci = rawget(_G, "ci") or require "cinterp"

local opts = ci.cli.parse(arg, {
  usage = "usage: larva.lua [options]",
  ci.cli.DATA_OPTION,
  { "--out DIR", "larva_out", "folder for the CSV output (default: larva_out)" },
  { "--layers L", 4, "number of timesteps (default 4)" },
  { "--tau X", 1, "time constant of the model (default 1)" },
  { "--top K", 5, "cell types shown per modality and layer (default 5)" },
  { "--act-threshold X", 0.3, "activated paths: minimum mean activation of a cell type (0.3)" },
  { "--conn-threshold X", 0.15, "activated paths: minimum connectivity between types (0.15)" },
  { "--target TYPE", "MBON", "cell type (super_class) for activation maximisation (MBON)" },
  { "--target-layer N", 3, "its layer (3 = ORN -> PN -> KC -> MBON)" },
  { "--iterations N", 150, "activation maximisation iterations (150)" },
  { "--lr X", 0.1, "its learning rate (0.1)" },
  { "--in-reg X", 1e-3, "input regularisation lambda (1e-3)" },
  { "--out-reg X", 1e-4, "output regularisation lambda (1e-4)" },
  { "--init X", 0.02, "initial input of every sensory neuron (0.02)" },
})

local data = ci.cli.data_dir(opts.data)
local dir = data .. "/larva_winding2023"
if not ci.cli.exists(dir .. "/edges.csv.gz") then
  print("larva.lua: skipped: the larval connectome is absent under " .. data .. " (give --data DIR)")
  os.exit(0)
end

local c = ci.connectome.read { edges = dir .. "/edges.csv.gz", neurons = dir .. "/neurons.csv.gz" }
print(tostring(c))
local sensory = c:select { flow = "afferent" }
local modality = c:groups("super_class")
local mods, seen = {}, {}
for _, i in ipairs(sensory) do
  if not seen[modality[i]] then seen[modality[i]] = true; mods[#mods + 1] = modality[i] end
end
table.sort(mods)
print(string.format("sensory: %d afferent neurons in %d modalities", #sensory, #mods))
-- group of every neuron: its super_class (the modality for sensory neurons)
local group = {}
for i = 1, c.n do group[i] = modality[i] ~= "" and modality[i] or "unknown" end

local L = opts.layers
local net = c:model { sensory = sensory, num_layers = L, tau = opts.tau }
-- one batch per modality: its neurons at 1 in the first timestep
local x = ci.zeros(#mods, #sensory, L)
for b, m in ipairs(mods) do
  for s, i in ipairs(sensory) do
    if modality[i] == m then x:set(1, b, s, 1) end
  end
end
local out = net:forward(x)

local flow = c:groups("flow")
local members, order = {}, {}
for i = 1, c.n do
  if flow[i] ~= "afferent" and modality[i] ~= "unknown" and modality[i] ~= "" then
    local g = modality[i]
    if not members[g] then members[g] = {}; order[#order + 1] = g end
    table.insert(members[g], i)
  end
end
local rows, d, n = {}, out.data, c.n
for b, m in ipairs(mods) do
  for l = 1, L do
    local list = {}
    for _, g in ipairs(order) do
      local s = 0
      for _, i in ipairs(members[g]) do s = s + d[((b - 1) * n + (i - 1)) * L + (l - 1)] end
      list[#list + 1] = { g, s / #members[g], #members[g] }
    end
    table.sort(list, function(p, q) if p[2] ~= q[2] then return p[2] > q[2] end return p[1] < q[1] end)
    for r = 1, math.min(opts.top, #list) do
      rows[#rows + 1] = { m, l, list[r][1], list[r][3], list[r][2], r }
    end
  end
end
local f = ci.frame.from_rows({ "modality", "layer", "cell_type", "neurons", "mean_activation", "rank" }, rows)
print(f)
ci.cli.mkdir(opts.out)
f:write_csv(opts.out .. "/larva_top_types.csv")
print("written: " .. opts.out .. "/larva_top_types.csv")

-- activated paths of every modality, by cell type
local paths = ci.activations_to_df_batched(c.inprop, x, out, sensory, {
  inidx_mapping = group, activation_threshold = opts.act_threshold,
  connectivity_threshold = opts.conn_threshold })
local mcol = {}
for r = 1, paths:nrow() do mcol[r] = mods[paths.batch[r]] end
paths = paths:add_column("modality", mcol)
paths:write_csv(opts.out .. "/larva_paths.csv")
print(string.format("written: %s/larva_paths.csv (%d rows)", opts.out, paths:nrow()))

-- activation maximisation for one cell type: which modalities drive it?
local target_idx = c:select { super_class = opts.target, allow_empty = true }
if #target_idx == 0 then
  print("no neuron of cell type " .. opts.target .. "; skipping activation maximisation")
  os.exit(0)
end
local TL = opts.target_layer
local AL = math.max(TL, 2)
local anet = c:model { sensory = sensory, num_layers = AL, tau = opts.tau }
local tgt = { [TL] = {} }
for _, i in ipairs(target_idx) do tgt[TL][i] = 1 end
local S = #sensory
local x0 = ci.zeros(1, S, AL) + opts.init
local input, aout, act_loss, out_reg, in_reg = ci.activation_maximisation(anet, tgt, {
  num_iterations = opts.iterations, learning_rate = opts.lr, in_reg_lambda = opts.in_reg,
  out_reg_lambda = opts.out_reg, input_tensor = x0, quiet = true })
local function target_mean(o)
  local s = 0
  for _, i in ipairs(target_idx) do s = s + o.data[(i - 1) * AL + (TL - 1)] end
  return s / #target_idx
end
local before = ci.no_grad(function() return anet:forward(x0):select(1, 1):clone() end)
print(string.format("activation maximisation for %s (%d neurons) at layer %d: tau = %g, in_reg %g, " ..
                    "out_reg %g, %d iterations run", opts.target, #target_idx, TL, opts.tau, opts.in_reg,
                    opts.out_reg, #act_loss))
print(string.format("  activation loss: %.4g (first iteration) -> %.4g (last)", act_loss[1], act_loss[#act_loss]))
print(string.format("  %s mean activation: %.3f (initial input) -> %.3f (optimised)", opts.target,
                    target_mean(before), target_mean(aout)))
local lrows = {}
for it = 1, #act_loss do lrows[it] = { it, act_loss[it], out_reg[it], in_reg[it] } end
ci.frame.from_rows({ "iteration", "activation_loss", "out_regularisation_loss", "in_regularisation_loss" }, lrows)
  :write_csv(opts.out .. "/larva_actmax_losses.csv")

-- the input at timestep 1 (it reaches layer TL through paths of length TL)
local id = input.data
local sum, cnt, on = {}, {}, {}
for s, i in ipairs(sensory) do
  local m = modality[i]
  local v = id[(s - 1) * AL]
  sum[m] = (sum[m] or 0) + v
  cnt[m] = (cnt[m] or 0) + 1
  on[m] = (on[m] or 0) + (v >= anet.threshold and 1 or 0)
end
local rows2 = {}
for _, m in ipairs(mods) do rows2[#rows2 + 1] = { m, sum[m] / cnt[m], on[m], cnt[m] } end
table.sort(rows2, function(p, q) if p[2] ~= q[2] then return p[2] > q[2] end return p[1] < q[1] end)
local g = ci.frame.from_rows({ "modality", "mean_input", "neurons_driven", "neurons" }, rows2)
print(string.format("optimal stimulus for %s (input at timestep 1), by modality:", opts.target))
print(g)
g:write_csv(opts.out .. "/larva_optimal_modalities.csv")
print("written: " .. opts.out .. "/larva_optimal_modalities.csv")
