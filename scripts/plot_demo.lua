-- plot_demo.lua: writes every figure kind of cinterp's plot module (lua/cinterp/plot.lua,
-- and plot_output_grid of lua/cinterp/grid.lua)
-- from small synthetic data, as PNG (and SVG / PDF for the first one).
--
--   build/cinterp scripts/plot_demo.lua [--out DIR] [--show]
--
-- DIR defaults to out/plots and must exist (mkdir -p it first, or pass --mkdir).
-- --show also draws each figure in the terminal (gnuplot's dumb terminal).
local ci = require "cinterp"

local o = ci.cli.parse(arg, {
  usage = "usage: plot_demo.lua [--out DIR] [--mkdir] [--show]",
  { "--out DIR", "out/plots", "folder for the figures (default out/plots; must exist unless --mkdir)" },
  { "--mkdir", false, "create the folder" },
  { "--show", false, "also draw each figure in the terminal" },
})
local out, show = o.out, o.show
if o.mkdir then ci.cli.mkdir(out) end

local sin, cos, exp, pi = math.sin, math.cos, math.exp, math.pi
local written = {}
local function save(fig, name, exts)
  for _, ext in ipairs(exts or { "png" }) do
    local path = out .. "/" .. name .. "." .. ext
    fig:save(path)
    written[#written + 1] = path
  end
  if show then fig:show() end
end

-- 1. timeseries: 3 odours (batches) x 4 groups x 8 time steps, like get_neuron_activation
local L = 8
local groups = { "ORN_DM1", "PN_DM1", "KC_ab", "MBON_a2sc" }
local odours = { "ethyl acetate", "benzaldehyde", "geosmin" }
local rows = {}
local cols = { "batch_name", "group" }
for t = 1, L do cols[#cols + 1] = "time_" .. t end
for b, odour in ipairs(odours) do
  for g, grp in ipairs(groups) do
    local row = { odour, grp }
    for t = 1, L do
      local v = math.tanh(0.8 * b * exp(-(t - g - 1) ^ 2 / (2 + b)) + 0.1 * sin(t * g))
      row[#row + 1] = math.max(0, v)
    end
    rows[#rows + 1] = row
  end
end
local df = ci.frame.from_rows(cols, rows)
save(ci.plot_timeseries(df, { title = "Activation by odour" }), "timeseries_by_batch", { "png", "svg", "pdf" })
save(ci.plot_timeseries(df, { slider_dim = "group", title = "Activation by group",
                              scatter_mode = "lines+markers" }), "timeseries_by_group")
save(ci.plot_timeseries(df, { slider_dim = false, title = "All traces", ymin = 0, ymax = 1 }),
     "timeseries_one_panel")

-- 2. activity by column: 3 groups over 8 columns, 4 time steps (the frame of activity_by_column)
local abc = { normalised_column = {}, cell_group = {}, time_point = {}, activation = {}, time_step = {} }
local function add(col, grp, t, v)
  local n = #abc.activation + 1
  abc.normalised_column[n], abc.cell_group[n], abc.time_point[n] = col, grp, "time_" .. t
  abc.activation[n], abc.time_step[n] = v, t
end
for t = 1, 4 do
  for g, grp in ipairs { "EPG", "PEN", "Delta7" } do
    for c = 1, 8 do
      add(c / 8, grp, t, 0.5 + 0.45 * cos(2 * pi * (c / 8 - 0.12 * t * g)))
    end
  end
end
local abc_frame = ci.frame(abc, { "normalised_column", "cell_group", "time_point", "activation", "time_step" })
save(ci.plot_activity_by_column(abc_frame, nil, nil, nil, { plot_type = "line" }), "activity_by_column_line")
save(ci.plot_activity_by_column(abc_frame, nil, nil, nil, { plot_type = "scatter", figsize = { 600, 400 } }),
     "activity_by_column_scatter")

-- 3. losses of an activation maximisation run and of a training run
local act, outr, inr = {}, {}, {}
for k = 1, 120 do
  act[k] = 2 * exp(-k / 15) + 0.01
  outr[k] = 0.05 * (1 - exp(-k / 30))
  inr[k] = 0.2 * exp(-k / 60) + 0.02
end
save(ci.plot_losses({ act_loss = act, out_reg_losses = outr, in_reg_losses = inr },
                    { title = "Activation maximisation" }), "losses_actmax")
save(ci.plot_losses({ act_loss = act, out_reg_losses = outr, in_reg_losses = inr },
                    { title = "Activation maximisation (log scale)", log = true }), "losses_actmax_log")
local hist = { loss = {}, mse_loss = {}, param_reg_loss = {}, val_loss = {} }
for e = 1, 40 do
  hist.mse_loss[e] = 0.5 * exp(-e / 8) + 0.02
  hist.param_reg_loss[e] = 0.001 * e
  hist.loss[e] = hist.mse_loss[e] + hist.param_reg_loss[e]
  hist.val_loss[e] = hist.mse_loss[e] * 1.2 + 0.01
end
save(ci.plot_losses(hist, { title = "Training", xlabel = "Epoch" }), "losses_train")

-- 4. heat maps: an input (sensory neurons x time) and a signed saliency (batch x rows x time)
local labels = {}
for r = 1, 12 do labels[r] = "ORN_" .. string.char(64 + r) .. r end
local input = {}
for r = 1, 12 do
  input[r] = {}
  for t = 1, 6 do input[r][t] = math.max(0, sin(r * 0.7 + t * 0.5)) end
end
save(ci.plot_heatmap(ci.tensor(input), { row_labels = labels, title = "Optimised input", ylabel = "Sensory neuron",
                                         cblabel = "Input" }),
     "heatmap_input")
local sal = {}
for b = 1, 2 do
  sal[b] = {}
  for r = 1, 12 do
    sal[b][r] = {}
    for t = 1, 6 do sal[b][r][t] = sin(r * b * 0.9 + t) * exp(-t / 4) end
  end
end
sal[1][3][2] = 0 / 0
save(ci.plot_heatmap(ci.tensor(sal), { row_labels = labels, batch_names = { "odour A", "odour B" },
                                       title = "Saliency", ylabel = "Sensory neuron", cblabel = "Saliency" }),
     "heatmap_saliency")
-- an unlabelled 60 x 30 matrix: numbered rows and columns, ticks from 1
local big = {}
for r = 1, 60 do
  big[r] = {}
  for c = 1, 30 do big[r][c] = exp(-((r - 20) ^ 2 + (c - 12) ^ 2) / 80) + 0.6 * exp(-((r - 45) ^ 2 + (c - 22) ^ 2) / 40) end
end
save(ci.plot_heatmap(ci.tensor(big), { title = "Activation (neurons x layers)", ylabel = "Neuron", xlabel = "Layer",
                                       cblabel = "Activation" }), "heatmap_numbered")

-- 5. an output grid (ci.make_grid_inputs / ci.plot_output_grid): two inputs swept over
-- a 6 x 6 grid of strengths, read out by a made-up neuron that saturates
if ci.make_grid_inputs then
  local x, coords = ci.make_grid_inputs({ 1, 0 }, { 0, 1 }, 2, { grid_size = 6 })
  local B = #coords
  local outputs = ci.zeros(B, 1, 2)
  for k = 1, B do
    local a, b = x:get(k, 1, 1), x:get(k, 2, 1)
    outputs:set(math.tanh(2 * a + b), k, 1, 1)
    outputs:set(math.tanh(2 * a * b), k, 1, 2)
  end
  save(ci.plot_output_grid(outputs, coords, 1, { show_values = true, title = "A made-up read-out over the grid" }),
       "output_grid")
end

for _, p in ipairs(written) do print(p) end
