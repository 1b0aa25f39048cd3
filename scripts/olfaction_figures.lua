-- olfaction_figures.lua: every figure kind of lua/cinterp/plot.lua for the
-- olfaction recipe (scripts/olfaction.lua: DoOR odours onto the uniglomerular
-- projection neurons of the FlyWire mushroom body), written as PNG into OUT:
--   timeseries_by_odour.png   ci.get_neuron_activation -> ci.plot_timeseries:
--                             PNs, Kenyon cells and three MBON types over
--                             time, one panel per odour (the odour is on at
--                             every step; the PN rows of the last step hold
--                             no input, as in the seed, where the input of
--                             step t+1 is added to the state of step t)
--   timeseries_by_group.png   the same frame, one panel per cell group
--   pn_by_glomerulus.png      ci.activity_by_column -> ci.plot_activity_by_column:
--                             PN activity with the glomerulus as the column
--                             (glomeruli in alphabetical order), one odour
--   actmax_losses.png         ci.plot_losses of an activation maximisation for
--                             an MBON type (log scale)
--   actmax_input.png          ci.plot_heatmap of its optimised input, mean per
--                             glomerulus x timestep
--   saliency.png              ci.plot_heatmap of ci.saliency for the MBON type,
--                             mean per glomerulus x odour (input at timestep 1)
--   train_losses.png          ci.plot_losses of ci.train_model fitting the
--                             slopes so that the MBON's responses match a
--                             made-up target
--   cinterp scripts/olfaction_figures.lua [--data DIR] [--out DIR] [--mbon TYPE] (--help)
local ci = rawget(_G, "ci") or require "cinterp"

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local olf = dofile(here .. "/olfaction_common.lua")(ci)

local opts = ci.cli.parse(arg, {
  usage = "usage: olfaction_figures.lua [options]",
  ci.cli.DATA_OPTION,
  { "--out DIR", "out/olfaction", "folder for the PNG figures (default out/olfaction; created)" },
  olf.ODOURS_OPTION,
  { "--layers L", 6, "timesteps of the time-series run, the odour on at every step (default 6)" },
  { "--tau X", 3, "time constant of the time-series run (default 3; activation\n" ..
                  "maximisation, saliency and training use tau = 1, 2 layers)" },
  { "--mbon TYPE", "MBON01", "output neuron type for activation maximisation, saliency and training (MBON01)" },
  { "--iterations N", 150, "activation maximisation iterations (default 150)" },
  { "--epochs N", 40, "train_model epochs (default 40)" },
})

local mb, door = olf.files("olfaction_figures.lua", ci.cli.data_dir(opts.data))
ci.cli.mkdir(opts.out)
local written = {}
local function save(fig, name)
  local path = opts.out .. "/" .. name .. ".png"
  fig:save(path)
  written[#written + 1] = path
  print("written: " .. path)
end

-- the recipe (as in olfaction.lua) ------------------------------------------
local rec = olf.load(mb, door)
local c, types, class, group, sensory = rec.c, rec.types, rec.class, rec.group, rec.sensory
local S = #sensory
local glom_list, glom_index = rec.glomeruli, rec.glom_index
local df, names = olf.odours(rec.resp, opts.odours, false)
-- the time-series run: the odour on at every timestep, tau > 1 so activity builds up
local L = opts.layers
local net = c:model { sensory = sensory, num_layers = L, tau = opts.tau }
local every = {}
for t = 1, L do every[t] = t end
local x = ci.input_from_df(df, sensory, group, L, every)
local out = net:forward(x)
-- the two-layer run (tau = 1) of activation maximisation, saliency and training:
-- the odour at timestep 1 reaches the KCs at layer 1 and the MBONs at layer 2
local AL, TL = 2, 2
local anet = c:model { sensory = sensory, num_layers = AL, tau = 1 }
local x2 = ci.input_from_df(df, sensory, group, AL, 1)
local target_idx = c:select { type = opts.mbon, allow_empty = true }
if #target_idx == 0 then print("no neuron of type " .. opts.mbon) os.exit(1) end

-- 1. time series of selected cell groups per odour ---------------------------
local show_mbons = { [opts.mbon] = true, MBON11 = true, MBON18 = true }
local tsgroup, tsidx = {}, {}
for i = 1, c.n do
  local g
  if glom_index[group[i]] and class[i] == "ALPN" then g = "PNs (uniglomerular)"
  elseif class[i] == "Kenyon_Cell" then g = "Kenyon cells"
  elseif class[i] == "MBON" and show_mbons[types[i]] then g = types[i] end
  if g then tsgroup[i] = g; tsidx[#tsidx + 1] = i end
end
local ts = ci.get_neuron_activation(out, tsidx, { idx_to_group = tsgroup, batch_names = names })
save(ci.plot_timeseries(ts, { slider_dim = "batch",
                              title = "Mean activation per odour (odour on at every step, tau = " .. opts.tau .. ")",
                              x_label = "Time step", y_label = "Mean activation", ymin = 0,
                              scatter_mode = "lines+markers" }),
     "timeseries_by_odour")
save(ci.plot_timeseries(ts, { slider_dim = "group", title = "Mean activation per cell group (tau = " .. opts.tau .. ")",
                              x_label = "Time step", y_label = "Mean activation", ymin = 0,
                              scatter_mode = "lines+markers" }),
     "timeseries_by_group")

-- 2. PN activity by column, the glomerulus as the column ---------------------
-- (there is no spatial column in the mushroom body; the glomeruli, numbered in
-- alphabetical order, are the nearest thing to a column for the PNs)
local pn_group, pn_col = {}, {}
for _, i in ipairs(sensory) do pn_group[i] = "PN"; pn_col[i] = glom_index[group[i]] end
local b1 = 1
-- the first 3 timesteps (at the last one the PNs get no input: nothing follows it)
local abc = ci.activity_by_column(out:select(1, b1):narrow(2, 1, 3):clone(), pn_group, pn_col, "PN",
                                  { model_input = x:select(1, b1), sensory_indices = sensory })
save(ci.plot_activity_by_column(abc, { plot_type = "line",
       title = "PN activity by glomerulus (alphabetical, normalised), " .. names[b1] }),
     "pn_by_glomerulus")

-- 3. activation maximisation for the MBON: losses and optimised input ---------
-- settings and reasons: see scripts/olfaction.lua
local tgt = olf.target(target_idx, TL)
local input, _, act_loss, out_reg, in_reg = ci.activation_maximisation(anet, tgt, {
  num_iterations = opts.iterations, in_reg_lambda = 1e-3, out_reg_lambda = 1e-4,
  input_tensor = ci.zeros(1, S, AL) + 0.02, quiet = true })
print(string.format("activation maximisation for %s: activation loss %.4g -> %.4g", opts.mbon, act_loss[1],
                    act_loss[#act_loss]))
save(ci.plot_losses({ act_loss = act_loss, out_reg_losses = out_reg, in_reg_losses = in_reg },
                    { log = true, title = "Activation maximisation for " .. opts.mbon .. " (layer 2)" }),
     "actmax_losses")
local function per_glomerulus(t, base, T, cols_)   -- mean over each glomerulus' PNs -> (G, #cols_)
  local G = #glom_list
  local m = ci.zeros(G, #cols_)
  local cnt = {}
  for s, i in ipairs(sensory) do
    local r = glom_index[group[i]]
    cnt[r] = (cnt[r] or 0) + 1
    for j, cc in ipairs(cols_) do
      m:set(m:get(r, j) + t.data[base(s, cc)], r, j)
    end
  end
  for r = 1, G do for j = 1, #cols_ do m:set(m:get(r, j) / cnt[r], r, j) end end
  return m
end
local opt_g = per_glomerulus(input, function(s, t) return (s - 1) * AL + (t - 1) end, AL, { 1, 2 })
save(ci.plot_heatmap(opt_g, { row_labels = glom_list, title = "Optimal stimulus for " .. opts.mbon,
                              ylabel = "Glomerulus", cblabel = "input (mean over PNs)" }),
     "actmax_input")

-- 4. saliency of the MBON (layer 2) for each odour, per glomerulus ----------
local sal = ci.saliency(anet, x2, { [TL] = target_idx })     -- (B, S, AL)
local sg = ci.zeros(#glom_list, #names)
for b = 1, #names do
  local one = per_glomerulus(sal, function(s) return ((b - 1) * S + (s - 1)) * AL end, AL, { 1 })
  for r = 1, #glom_list do sg:set(one:get(r, 1), r, b) end
end
save(ci.plot_heatmap(sg, { row_labels = glom_list, col_labels = names, xlabel = "Odour",
                           ylabel = "Glomerulus", cblabel = "d " .. opts.mbon .. " / d input",
                           title = opts.mbon .. " saliency, input at timestep 1" }),
     "saliency")

-- 5. train_model: slopes fitted so that the MBON matches a made-up target ------
-- target: the MBON at layer 2 responds 0.9 to the first odour(s) and 0.2 to the others
local tnet = c:model { sensory = sensory, num_layers = AL, tau = 1, idx_to_group = group }
local trows = {}
for b = 1, #names do
  for _, i in ipairs(target_idx) do trows[#trows + 1] = { b, i, 2, b <= 2 and 0.9 or 0.2 } end
end
local targets = ci.frame.from_rows({ "batch", "neuron_idx", "layer", "value" }, trows)
local _, history = ci.train_model(tnet, x2, targets, {
  num_epochs = opts.epochs, learning_rate = 0.1, train_biases = false, train_tau = false,
  train_fraction = 1, quiet = true })
print(string.format("train_model: loss %.4g -> %.4g over %d epochs", history.loss[1], history.loss[#history.loss],
                    #history.loss))
save(ci.plot_losses({ mse_loss = history.mse_loss, param_reg_loss = history.param_reg_loss },
                    { title = "train_model: slopes fitted to a made-up " .. opts.mbon .. " response",
                      xlabel = "Epoch", log = true }),
     "train_losses")
print(string.format("%d figures in %s", #written, opts.out))
