-- olfaction.lua: odours through the FlyWire mushroom body (a real recipe).
--   cinterp scripts/olfaction.lua [--data DIR] [--out DIR] [--odours a,b,...] ... (--help)
-- Loads ../shared/data/flywire_783_mushroom_body with ci.connectome.read (signs
-- from the nt_type column), makes the uniglomerular projection neurons (ALPN,
-- cell type "<glomerulus>_<lineage>PN", e.g. DA1_lPN) the sensory neurons
-- grouped by glomerulus, turns DoOR odour responses (../shared/data/door,
-- glomerulus x odour) into model input with ci.input_from_df, runs the
-- network forward and writes, into OUT:
--   olfaction_top_types.csv          the most activated Kenyon-cell and MBON
--                                    types per odour and layer
--   olfaction_paths.csv              the activated paths per odour, by cell type
--                                    (glomerulus for the PNs), from
--                                    ci.activations_to_df with activation and
--                                    connectivity thresholds
--   olfaction_optimal_glomeruli.csv  activation maximisation for one MBON type:
--                                    the optimised input per glomerulus, next to
--                                    the signed effective connectivity
--                                    glomerulus -> MBON (ci.guess_optimal_stimulus)
--   olfaction_optimal_paths.csv      the paths of the first odour re-read with
--                                    the optimal stimulus' activations
--                                    (ci.get_activations_for_path)
--   olfaction_actmax_losses.csv      the losses per iteration
--
-- Activation-maximisation settings, and why (the seed's defaults end with every
-- input negative on this circuit):
--  * tau = 1: with the seed's tau = 10 a neuron moves by at most 1/10 per step,
--    so an MBON two synapses from the PNs cannot get near a target of 1;
--  * target layer 2 = the path length PN -> KC -> MBON (input at timestep 1
--    reaches the KCs at layer 1 and the MBONs at layer 2);
--  * out_reg_lambda 1e-4, in_reg_lambda 1e-3: the output regulariser is summed
--    over all 5,966 neurons x layers (mostly Kenyon cells), so at 0.01 it
--    outweighs the activation loss (at most 1) by 30-100x and the optimum is
--    "silence everything": every input pushed below threshold;
--  * a positive initial input (0.02 everywhere): inputs below the threshold
--    leave every Kenyon cell under threshold, and thresholded units pass no
--    gradient, so an all-zero or all-negative start never moves ("dead units").
local ci = rawget(_G, "ci") or require "cinterp"

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local olf = dofile(here .. "/olfaction_common.lua")(ci)

local opts = ci.cli.parse(arg, {
  usage = "usage: olfaction.lua [options]",
  ci.cli.DATA_OPTION,
  { "--out DIR", "olfaction_out", "folder for the CSV outputs (default: olfaction_out)" },
  olf.ODOURS_OPTION,
  { "--layers L", 3, "timesteps of the forward run (default 3)" },
  { "--tau X", 1, "time constant of the model (default 1; the seed's 10 lets an\n" ..
                  "activation grow by at most 0.1 per step)" },
  { "--top K", 5, "cell types shown per layer and class (default 5)" },
  { "--act-threshold X", 0.3, "activated paths: minimum mean activation of a cell type (0.3)" },
  { "--conn-threshold X", 0.02, "activated paths: minimum connectivity between types (0.02)" },
  { "--mbon TYPE", "MBON01", "output neuron type for activation maximisation (default MBON01)" },
  { "--target-layer N", 2, "layer of the MBON target (default 2 = PN -> KC -> MBON)" },
  { "--iterations N", 200, "activation maximisation iterations (default 200)" },
  { "--lr X", 0.1, "its learning rate (0.1)" },
  { "--in-reg X", 1e-3, "input regularisation lambda (1e-3)" },
  { "--out-reg X", 1e-4, "output regularisation lambda (1e-4)" },
  { "--init X", 0.02, "initial input of every projection neuron (0.02)" },
})

local data = ci.cli.data_dir(opts.data)
local mb, door = olf.files("olfaction.lua", data)
local rec = olf.load(mb, door)
local c, resp, types, class, group, sensory = rec.c, rec.resp, rec.types, rec.class, rec.group, rec.sensory
print(string.format("%s (%.2f s)", tostring(c), rec.read_s))
print(string.format("sensory: %d uniglomerular projection neurons in %d DoOR glomeruli", #sensory,
                    #rec.glomeruli))

-- the odours asked for
local df, names = olf.odours(resp, opts.odours, true)

local L = opts.layers
local net = c:model { sensory = sensory, num_layers = L, tau = opts.tau }
local x = ci.input_from_df(df, sensory, group, L, 1)       -- odour at the first timestep
local out = net:forward(x)                                 -- (B, n, L)
print(string.format("forward: %d odours, %d layers, tau = %g", #names, L, opts.tau))

-- mean activation per (class, type) for each odour and layer; top K per class
local members = {}
for i = 1, c.n do
  local cl = class[i]
  if cl == "Kenyon_Cell" or cl == "MBON" then
    local key = cl .. "\0" .. types[i]
    members[key] = members[key] or { class = cl, type = types[i] }
    table.insert(members[key], i)
  end
end
local rows = {}
local data_ptr, n = out.data, c.n
for b = 1, #names do
  for l = 1, L do
    for _, cl in ipairs({ "Kenyon_Cell", "MBON" }) do
      local list = {}
      for _, m in pairs(members) do
        if m.class == cl then
          local s = 0
          for _, i in ipairs(m) do s = s + data_ptr[((b - 1) * n + (i - 1)) * L + (l - 1)] end
          list[#list + 1] = { m.type, s / #m, #m }
        end
      end
      table.sort(list, function(p, q) if p[2] ~= q[2] then return p[2] > q[2] end return p[1] < q[1] end)
      for r = 1, math.min(opts.top, #list) do
        rows[#rows + 1] = { names[b], l, cl, list[r][1], list[r][3], list[r][2], r }
      end
    end
  end
end
local top = ci.frame.from_rows({ "odour", "layer", "class", "type", "neurons", "mean_activation", "rank" }, rows)
print(top)
ci.cli.mkdir(opts.out)
top:write_csv(opts.out .. "/olfaction_top_types.csv")
print("written: " .. opts.out .. "/olfaction_top_types.csv")

-- activated paths per odour, by cell type (glomerulus for the PNs): types
-- whose members' mean activation (over those above the threshold) passes
-- act_threshold, joined where their connectivity passes conn_threshold
local paths = {}
local first_path
for b = 1, #names do
  local p = ci.activations_to_df(c.inprop, x:select(1, b), out:select(1, b), sensory, {
    inidx_mapping = group, activation_threshold = opts.act_threshold,
    connectivity_threshold = opts.conn_threshold })
  if b == 1 then first_path = p end
  paths[b] = p:add_column("odour", names[b])
  print(string.format("activated paths of %s: %d rows", names[b], p:nrow()))
end
local allpaths = paths[1]:concat({ unpack(paths, 2) })
allpaths:write_csv(opts.out .. "/olfaction_paths.csv")
print("written: " .. opts.out .. "/olfaction_paths.csv")

-- activation maximisation: the stimulus that drives one MBON type
local target_idx = c:select { type = opts.mbon, allow_empty = true }
local TL = opts.target_layer
if #target_idx == 0 then
  print("no neuron of type " .. opts.mbon .. "; skipping activation maximisation")
  os.exit(0)
end
local AL = math.max(TL, 2)
local anet = c:model { sensory = sensory, num_layers = AL, tau = opts.tau }
local tgt = olf.target(target_idx, TL)
local S = #sensory
local x0 = ci.zeros(1, S, AL) + opts.init
local input, aout, act_loss, out_reg, in_reg = ci.activation_maximisation(anet, tgt, {
  num_iterations = opts.iterations, learning_rate = opts.lr, in_reg_lambda = opts.in_reg,
  out_reg_lambda = opts.out_reg, input_tensor = x0, quiet = true })
local function target_mean(o, l)
  local s = 0
  for _, i in ipairs(target_idx) do s = s + o.data[(i - 1) * AL + (l - 1)] end
  return s / #target_idx
end
local mbons = c:select { class = "MBON" }
local is_target = {}
for _, i in ipairs(target_idx) do is_target[i] = true end
local function others_mean(o, l)
  local s, cnt = 0, 0
  for _, i in ipairs(mbons) do
    if not is_target[i] then s = s + o.data[(i - 1) * AL + (l - 1)]; cnt = cnt + 1 end
  end
  return s / math.max(cnt, 1)
end
local before = ci.no_grad(function() return anet:forward(x0):select(1, 1):clone() end)
print(string.format("activation maximisation for %s (%d neurons) at layer %d: tau = %g, %d layers, " ..
                    "in_reg %g, out_reg %g, lr %g, %d iterations run",
                    opts.mbon, #target_idx, TL, opts.tau, AL, opts.in_reg, opts.out_reg, opts.lr, #act_loss))
print(string.format("  activation loss: %.4g (first iteration) -> %.4g (last)", act_loss[1], act_loss[#act_loss]))
print(string.format("  %s mean activation: %.3f (initial input) -> %.3f (optimised); other MBONs %.3f -> %.3f",
                    opts.mbon, target_mean(before, TL), target_mean(aout, TL), others_mean(before, TL),
                    others_mean(aout, TL)))
local lrows = {}
for it = 1, #act_loss do lrows[it] = { it, act_loss[it], out_reg[it], in_reg[it] } end
ci.frame.from_rows({ "iteration", "activation_loss", "out_regularisation_loss", "in_regularisation_loss" }, lrows)
  :write_csv(opts.out .. "/olfaction_actmax_losses.csv")

-- the input that reaches the target: timestep TL - 1 (PN -> KC -> MBON);
-- mean per glomerulus, next to the signed effective connectivity of path
-- length TL - 1 + 1 from the glomerulus to the target (guess_optimal_stimulus)
local tcol = TL - 1
local guess = ci.guess_optimal_stimulus(c.inprop, sensory, c.sign, tgt, { longest_plen = TL })
local gL = guess:size(3)
local d, gd = input.data, guess.data
local sum, cnt, gsum = {}, {}, {}
for s, i in ipairs(sensory) do
  local g = group[i]
  sum[g] = (sum[g] or 0) + d[(s - 1) * AL + (tcol - 1)]
  -- the guess's columns: path length TL first; column tcol = length TL - tcol + 1
  gsum[g] = (gsum[g] or 0) + gd[(s - 1) * gL + (tcol - 1)]
  cnt[g] = (cnt[g] or 0) + 1
end
local rows2 = {}
for g, s in pairs(sum) do rows2[#rows2 + 1] = { g, s / cnt[g], gsum[g] / cnt[g], cnt[g] } end
table.sort(rows2, function(p, q) if p[2] ~= q[2] then return p[2] > q[2] end return p[1] < q[1] end)
for r, row in ipairs(rows2) do row[5] = r end
local f = ci.frame.from_rows({ "glomerulus", "mean_input", "effective_connectivity", "projection_neurons", "rank" },
                             rows2)
local driven, suppressed = {}, {}
for _, row in ipairs(rows2) do
  if row[2] >= anet.threshold then driven[#driven + 1] = string.format("%s (%.2f)", row[1], row[2])
  elseif row[2] < -anet.threshold then suppressed[#suppressed + 1] = row[1] end
end
-- rank agreement between the optimised input and the effective connectivity
local function ranks(col)
  local idx = {}
  for r = 1, #rows2 do idx[r] = r end
  table.sort(idx, function(p, q) return rows2[p][col] < rows2[q][col] end)
  local rk = {}
  for pos, r in ipairs(idx) do rk[r] = pos end
  return rk
end
local ra, rb = ranks(2), ranks(3)
local m = (#rows2 + 1) / 2
local sab, saa, sbb = 0, 0, 0
for r = 1, #rows2 do
  sab = sab + (ra[r] - m) * (rb[r] - m); saa = saa + (ra[r] - m) ^ 2; sbb = sbb + (rb[r] - m) ^ 2
end
local rho = (saa > 0 and sbb > 0) and sab / math.sqrt(saa * sbb) or 0 / 0
print(string.format("optimal stimulus for %s (input at timestep %d): %d of %d glomeruli driven (input >= %g), %d suppressed",
                    opts.mbon, tcol, #driven, #rows2, anet.threshold, #suppressed))
print("  driven most: " .. table.concat(driven, ", ", 1, math.min(10, #driven)))
print(string.format("  Spearman rank correlation with the effective connectivity glomerulus -> %s: %.2f", opts.mbon, rho))
print(f:head(10))
f:write_csv(opts.out .. "/olfaction_optimal_glomeruli.csv")
print("written: " .. opts.out .. "/olfaction_optimal_glomeruli.csv")

-- the first odour's paths (up to the target layer), read with the optimal
-- stimulus' activations
local keep = first_path:filter(function(row) return row.layer <= AL end)
local op = ci.get_activations_for_path(keep:select { "pre", "post", "weight", "layer" }, aout, {
  model_in = input, sensory_indices = sensory, idx_to_group = group })
op:write_csv(opts.out .. "/olfaction_optimal_paths.csv")
print(string.format("written: %s/olfaction_optimal_paths.csv (%d rows: the paths of %s under the optimal stimulus)",
                    opts.out, op:nrow(), names[1]))
