-- grid.lua: two inputs swept over a grid of strengths, the reference's utils
-- functions make_grid_inputs, output_grid_data and plot_output_grid, 1-based.
--
--   ci.make_grid_inputs(v1, v2, num_layers, {grid_size = 10, timepoints = 1, cap = true,
--                       cap_value = 1})  -> inputs (grid_size^2, #v1, num_layers), coords
--   ci.output_grid_data(outputs, coords, selected) -> {num_layers tensors (grid_size, grid_size)}
--   ci.plot_output_grid(outputs, coords, selected, {xlab =, ylab =, title =, show_values =,
--                       layer =})  -> a heat-map figure, one panel per layer
--
-- The grid: sc = linspace(0, 1, grid_size) (sc[i] = (i - 1) / (grid_size - 1)); batch
-- k = (j - 1) * grid_size + i holds s1 = sc[i], s2 = sc[j] (numpy's meshgrid of
-- (sc, sc) flattened row-major: s1 varies fastest), and coords[k] = {s1, s2}. At
-- each listed timepoint the input is v1 * s1 + v2 * s2 (0 at the others); with
-- cap, every element above cap_value becomes cap_value (as the reference, the
-- whole tensor). In output_grid_data's matrices row j is s2 = sc[j] and column i
-- is s1 = sc[i]; the figure draws row 1 at the bottom, so s2 grows upwards.
local O = require "cinterp.options"
local TOPIC = "Grid inputs"

local MAKE = O.declare{ name = "ci.make_grid_inputs", topic = TOPIC,
  doc = [[Two input patterns swept over a grid of strengths (the reference's make_grid_inputs,
1-based): s1 and s2 each run over linspace(0, 1, grid_size); batch k = (j - 1) * grid_size + i
holds s1 = s[i], s2 = s[j] (s1 varies fastest) and, at each listed timepoint, the input
v1 * s1 + v2 * s2 (0 at the other timepoints); with cap, values above cap_value become
cap_value.]],
  args = { { "v1", "array|tensor", "the first pattern, one value per sensory neuron" },
           { "v2", "array|tensor", "the second pattern, as long as v1" },
           { "num_layers", "integer >= 1", "the model's number of layers" } },
  opts = { { "grid_size", "integer >= 2", 10, "strengths per axis (the grid has grid_size^2 points)" },
           { "timepoints", "integer|array", 1, "the timestep(s) that get the input (1-based)" },
           { "cap", "boolean", true, "cap the input at cap_value" },
           { "cap_value", "number", 1, "the largest input value when cap is on" } },
  returns = { { "inputs", "tensor", "(grid_size^2, #v1, num_layers)" },
              { "coords", "array", "coords[k] = {s1, s2} of batch k" } },
  example = [[local x, coords = ci.make_grid_inputs({1, 0}, {0, 1}, 2, {grid_size = 3})
print(x:size(1), coords[2][1], coords[2][2], x:get(6, 2, 1))  --> 9 0.5 0 0.5]] }

O.declare{ name = "ci.output_grid_data", topic = TOPIC,
  doc = [[The mean activation of the selected neurons at each grid point, one matrix per
layer (the reference's output_grid_data): row j is s2 = s[j], column i is s1 = s[i].]],
  args = { { "outputs", "tensor", "(grid_size^2, n, num_layers), the forward of make_grid_inputs' inputs" },
           { "coords", "array", "the coordinates from make_grid_inputs" },
           { "selected", "integer|array", "the neuron(s) to average (1-based)" } },
  returns = { { "maps", "array", "num_layers tensors (grid_size, grid_size)" } },
  example = [[local x, coords = ci.make_grid_inputs({1}, {0.5}, 1, {grid_size = 2})
local maps = ci.output_grid_data(x, coords, 1)       -- the input itself as the "output"
print(maps[1]:get(2, 2), maps[1]:get(1, 2))  --> 1 1]] }

local PLOT = O.declare{ name = "ci.plot_output_grid", topic = TOPIC,
  doc = [[A heat map of output_grid_data (the reference's plot_output_grid): v1's strength
across, v2's upwards, one panel per layer unless layer is given.]],
  args = { { "outputs", "tensor", "(grid_size^2, n, num_layers)" },
           { "coords", "array", "the coordinates from make_grid_inputs" },
           { "selected", "integer|array", "the neuron(s) to average (1-based)" } },
  opts = { { "xlab", "string", "v1 Activation", "the x axis label" },
           { "ylab", "string", "v2 Activation", "the y axis label" },
           { "title", "string", nil, "the figure's title", default_text = "names the selected neurons" },
           { "show_values", "boolean", false, "print each cell's value" },
           { "layer", "integer >= 1", nil, "draw only this layer", default_text = "every layer" } },
  returns = "figure",
  example = [[local x, coords = ci.make_grid_inputs({1}, {0.5}, 2, {grid_size = 3})
local fig = ci.plot_output_grid(x, coords, 1, {layer = 1})
print(fig.kind)  --> output_grid]] }

return function(ci)
  local fmt, floor = string.format, math.floor

  local is_int = require("cinterp.util").is_int

  local function describe(x)
    if ci.is_tensor(x) then return "a " .. tonumber(x.ndim) .. "-d tensor" end
    return type(x)
  end

  -- a host tensor (moved from the GPU when it lives there)
  local function host(where, name, t)
    if t.on_device ~= 0 then
      if t.cpu then return t:cpu() end
      error(fmt("%s: %s lives on the GPU; move it to the host first", where, name), 4)
    end
    return t
  end

  -- v1 / v2: a 1-d tensor or a Lua array of numbers -> Lua array
  local function vector(where, name, v)
    local out = {}
    if ci.is_tensor(v) then
      if v.ndim ~= 1 then error(fmt("%s: %s must be a 1-d tensor or a Lua array, got %s", where, name, describe(v)), 3) end
      v = host(where, name, v)
      for k = 1, tonumber(v.nel) do out[k] = tonumber(v.data[k - 1]) end
    elseif type(v) == "table" then
      local n = #v
      for k, x in pairs(v) do
        if not is_int(k) or k < 1 or k > n then
          error(fmt("%s: %s must be a Lua array of numbers (keys 1..n), found the key %s", where, name, tostring(k)), 3)
        end
        if type(x) ~= "number" then
          error(fmt("%s: %s[%d] must be a number, got %s", where, name, k, type(x)), 3)
        end
        out[k] = x
      end
    else
      error(fmt("%s: %s must be a 1-d tensor or a Lua array of numbers, got %s", where, name, describe(v)), 3)
    end
    if #out == 0 then error(fmt("%s: %s is empty", where, name), 3) end
    return out
  end

  -- numpy's linspace(0, 1, n): k * (1 / (n - 1)), the last point exactly 1
  local function linspace01(n)
    local sc, step = {}, 1 / (n - 1)
    for k = 0, n - 1 do sc[k + 1] = k * step end
    sc[n] = 1
    return sc
  end

  --- ci.make_grid_inputs(v1, v2, num_layers, opts) -> inputs, coords
  function ci.make_grid_inputs(v1, v2, num_layers, opts)
    local where = "ci.make_grid_inputs"
    opts = O.check(MAKE, opts)
    local G, timepoints, cap, cap_value = opts.grid_size, opts.timepoints, opts.cap, opts.cap_value
    if cap_value ~= cap_value then error(where .. ": cap_value must be a number, got nan", 2) end
    local a, b = vector(where, "v1", v1), vector(where, "v2", v2)
    if #a ~= #b then
      error(fmt("%s: v1 and v2 must have the same length, got %d and %d", where, #a, #b), 2)
    end
    if not is_int(num_layers) or num_layers < 1 then
      error(fmt("%s: num_layers must be a whole number >= 1, got %s", where, tostring(num_layers)), 2)
    end
    if type(timepoints) ~= "number" and type(timepoints) ~= "table" then
      error(fmt("%s: timepoints must be a timepoint 1..%d or a Lua array of them, got %s", where, num_layers,
                type(timepoints)), 2)
    end
    local tlist = type(timepoints) == "table" and timepoints or { timepoints }
    if #tlist == 0 then error(where .. ": timepoints is empty (give a timepoint 1..num_layers or a list)", 2) end
    for k, t in pairs(tlist) do
      if not is_int(k) or k < 1 or k > #tlist then
        error(fmt("%s: timepoints must be a number or a Lua array of numbers, found the key %s", where, tostring(k)), 2)
      end
      if not is_int(t) or t < 1 or t > num_layers then
        error(fmt("%s: timepoints[%d] = %s is out of range 1..%d (num_layers; timepoints are 1-based)",
                  where, k, tostring(t), num_layers), 2)
      end
    end

    local S, L = #a, num_layers
    local sc = linspace01(G)
    local x = ci.zeros(G * G, S, L)
    local d = x.data
    local coords = {}
    for j = 1, G do
      for i = 1, G do
        local k = (j - 1) * G + i
        local s1, s2 = sc[i], sc[j]
        coords[k] = { s1, s2 }
        for s = 1, S do
          local v = a[s] * s1 + b[s] * s2
          local base = ((k - 1) * S + (s - 1)) * L
          for _, t in ipairs(tlist) do d[base + t - 1] = v end
        end
      end
    end
    if cap then
      for e = 0, tonumber(x.nel) - 1 do
        if d[e] > cap_value then d[e] = cap_value end
      end
    end
    return x, coords
  end

  -- checks outputs (3-d, batch = #coords = G^2) and coords; returns outputs, G
  local function check_grid(where, outputs, coords)
    if not ci.is_tensor(outputs) or outputs.ndim ~= 3 then
      error(fmt("%s: outputs must be a 3-d tensor (grid_size^2, neurons, layers), got %s", where, describe(outputs)), 3)
    end
    outputs = host(where, "outputs", outputs)
    if type(coords) ~= "table" or #coords == 0 then
      error(fmt("%s: coords must be the Lua array of {s1, s2} pairs from ci.make_grid_inputs, got %s", where,
                type(coords) == "table" and "an empty table" or type(coords)), 3)
    end
    for k = 1, #coords do
      local c = coords[k]
      if type(c) ~= "table" or type(c[1]) ~= "number" or type(c[2]) ~= "number" then
        error(fmt("%s: coords[%d] must be a pair {s1, s2} of numbers", where, k), 3)
      end
    end
    local n = #coords
    local G = floor(math.sqrt(n) + 0.5)
    if G * G ~= n or G < 2 then
      error(fmt("%s: coords has %d points; a grid has grid_size^2 of them (grid_size >= 2)", where, n), 3)
    end
    local B = tonumber(outputs.shape[0])
    if B ~= n then
      error(fmt("%s: outputs has %d batches but coords has %d points (one batch per grid point)", where, B, n), 3)
    end
    return outputs, G
  end

  -- selected: a neuron index or a Lua array of them -> sorted unique list (the
  -- reference's np.unique)
  local function selection(where, selected, n)
    local list = type(selected) == "table" and selected or { selected }
    if type(selected) ~= "table" and type(selected) ~= "number" then
      error(fmt("%s: selected must be a neuron index or a Lua array of them, got %s", where, describe(selected)), 3)
    end
    local seen, out = {}, {}
    for k, i in pairs(list) do
      if not is_int(k) or k < 1 or k > #list then
        error(fmt("%s: selected must be a Lua array of neuron indices, found the key %s", where, tostring(k)), 3)
      end
      if not is_int(i) or i < 1 or i > n then
        error(fmt("%s: selected[%d] = %s is out of range 1..%d (neurons of outputs)", where, k, tostring(i), n), 3)
      end
      if not seen[i] then seen[i] = true; out[#out + 1] = i end
    end
    if #out == 0 then error(where .. ": selected is empty", 3) end
    table.sort(out)
    return out
  end

  local function grid_data(where, outputs, coords, selected)
    local G
    outputs, G = check_grid(where, outputs, coords)
    local n, L = tonumber(outputs.shape[1]), tonumber(outputs.shape[2])
    local sel = selection(where, selected, n)
    local d = outputs.data
    local maps = {}
    for l = 1, L do
      local m = ci.zeros(G, G)
      local md = m.data
      for k = 1, G * G do      -- batch k: row j = s2 index, column i = s1 index, row-major
        local acc = 0
        for _, i in ipairs(sel) do acc = acc + d[((k - 1) * n + (i - 1)) * L + (l - 1)] end
        md[k - 1] = acc / #sel
      end
      maps[l] = m
    end
    return maps, G, sel
  end

  --- ci.output_grid_data(outputs, coords, selected) -> Lua array of num_layers tensors
  --- (grid_size, grid_size): the mean activation of the selected neurons, row j = s2,
  --- column i = s1.
  function ci.output_grid_data(outputs, coords, selected)
    return (grid_data("ci.output_grid_data", outputs, coords, selected))
  end

  local function list_text(sel)
    local parts = {}
    for k = 1, math.min(#sel, 8) do parts[k] = tostring(sel[k]) end
    if #sel > 8 then parts[#parts + 1] = fmt("... (%d neurons)", #sel) end
    return table.concat(parts, ", ")
  end

  --- ci.plot_output_grid(outputs, coords, selected, opts) -> figure: a heat map of
  --- output_grid_data per layer (or of one layer), v1's strength across, v2's upwards.
  function ci.plot_output_grid(outputs, coords, selected, opts)
    local where = "ci.plot_output_grid"
    opts = O.check(PLOT, opts)
    local xlab, ylab, show_values = opts.xlab, opts.ylab, opts.show_values
    local maps, G, sel = grid_data(where, outputs, coords, selected)
    local layers = {}
    if opts.layer ~= nil then
      if not is_int(opts.layer) or opts.layer < 1 or opts.layer > #maps then
        error(fmt("%s: layer = %s is out of range 1..%d (the layers of outputs)", where, tostring(opts.layer), #maps), 2)
      end
      layers[1] = opts.layer
    else
      for l = 1, #maps do layers[l] = l end
    end
    -- tick labels: the strengths s of the grid (0 .. 1)
    local sc, ticks = linspace01(G), {}
    for i = 1, G do ticks[i] = fmt("%.2g", sc[i]) end
    local panels = {}
    for p, l in ipairs(layers) do
      local m = maps[l]
      local vals, lo, hi = {}, math.huge, -math.huge
      for e = 1, G * G do
        local v = tonumber(m.data[e - 1])
        vals[e] = v
        if v == v and v < lo then lo = v end
        if v == v and v > hi then hi = v end
      end
      if lo > hi then lo, hi = 0, 1 end
      if hi <= lo then hi = lo + 1 end
      panels[p] = { title = "Layer " .. l, xlabel = xlab, ylabel = ylab,
                    image = { values = vals, nrow = G, ncol = G, rowlabels = ticks, collabels = ticks, yup = true,
                              cbrange = { lo, hi }, palette = "sequential", cblabel = "Mean activation",
                              show_values = show_values } }
    end
    local fig = ci.plot { title = opts.title or ("Output grid for neuron" .. (#sel > 1 and "s " or " ") .. list_text(sel)),
                          panels = panels,
                          -- room for the strengths under each column (and the values in the cells)
                          panel_width = math.max(440, 200 + G * (show_values and 48 or 36)),
                          panel_height = math.max(360, 140 + G * (show_values and 30 or 26)),
                          fonts = { base = 11, title = 15 } }
    fig.kind = "output_grid"
    return fig
  end
end
