-- grid_spec.lua: two inputs swept over a grid (lua/cinterp/grid.lua): which batch
-- holds which (s1, s2), the input values written out by hand for a 3 x 3 grid,
-- capping, timepoints as a number or a list, the mean over the selected neurons
-- and its row / column orientation, the figure (y upwards, one panel per layer),
-- and the errors for bad arguments.
local ci = require "cinterp"
local H = require "plothelp"

local function err_of(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

local function close(a, b, tol)
  assert.is_true(math.abs(a - b) <= (tol or 1e-6), ("expected %.9g, got %.9g"):format(b, a))
end

-- v1, v2 over 3 sensory slots
local V1, V2 = { 1, 0, 0.5 }, { 0, 1, 0.75 }

-- the 3 x 3 grid by hand: s = 0, 0.5, 1; batch k = (j - 1) * 3 + i has s1 = s[i],
-- s2 = s[j]; input = v1 * s1 + v2 * s2, capped at 1
local COORDS = { { 0, 0 }, { 0.5, 0 }, { 1, 0 },
                 { 0, 0.5 }, { 0.5, 0.5 }, { 1, 0.5 },
                 { 0, 1 }, { 0.5, 1 }, { 1, 1 } }
local INPUT = {   -- [k] = values of slots 1..3 (uncapped in comments where the cap bites)
  { 0, 0, 0 },
  { 0.5, 0, 0.25 },
  { 1, 0, 0.5 },
  { 0, 0.5, 0.375 },
  { 0.5, 0.5, 0.625 },
  { 1, 0.5, 0.875 },
  { 0, 1, 0.75 },
  { 0.5, 1, 1 },      -- 0.25 + 0.75
  { 1, 1, 1 },        -- 0.5 + 0.75 = 1.25
}

describe("ci.make_grid_inputs", function()
  it("a 3 x 3 grid: shape, coordinates (s1 fastest) and every input value", function()
    local x, coords = ci.make_grid_inputs(V1, V2, 2, { grid_size = 3 })
    assert.are.same({ 9, 3, 2 }, x:size())
    assert.are.same(COORDS, coords)
    for k = 1, 9 do
      for s = 1, 3 do
        close(x:get(k, s, 1), INPUT[k][s])
        assert.are.equal(0, x:get(k, s, 2))    -- timepoint 1 only, by default
      end
    end
  end)

  it("cap = false keeps the sums; cap_value caps at another value", function()
    local x = ci.make_grid_inputs(V1, V2, 1, { grid_size = 3, cap = false })
    close(x:get(9, 3, 1), 1.25)
    close(x:get(8, 3, 1), 1.0)
    local y = ci.make_grid_inputs(V1, V2, 1, { grid_size = 3, cap_value = 0.6 })
    close(y:get(5, 3, 1), 0.6)       -- 0.625
    close(y:get(4, 3, 1), 0.375)
    close(y:get(9, 1, 1), 0.6)       -- 1
    close(y:get(2, 1, 1), 0.5)
  end)

  it("timepoints: a number or a list, 1-based; the other timepoints stay 0", function()
    local x = ci.make_grid_inputs(V1, V2, 3, { grid_size = 3, timepoints = 2 })
    close(x:get(6, 3, 2), 0.875)
    assert.are.equal(0, x:get(6, 3, 1))
    assert.are.equal(0, x:get(6, 3, 3))
    local y = ci.make_grid_inputs(V1, V2, 3, { grid_size = 3, timepoints = { 1, 3 } })
    close(y:get(6, 3, 1), 0.875)
    assert.are.equal(0, y:get(6, 3, 2))
    close(y:get(6, 3, 3), 0.875)
  end)

  it("defaults: grid_size 10 over linspace(0, 1, 10); tensors as v1 and v2", function()
    local x, coords = ci.make_grid_inputs(ci.tensor { 0.2, 0.4 }, ci.tensor { 0.3, 0 }, 4)
    assert.are.same({ 100, 2, 4 }, x:size())
    assert.are.equal(100, #coords)
    close(coords[2][1], 1 / 9, 1e-15); assert.are.equal(0, coords[2][2])
    assert.are.equal(0, coords[11][1]); close(coords[11][2], 1 / 9, 1e-15)
    assert.are.same({ 1, 1 }, coords[100])
    -- batch 23: i = 3, j = 3: s1 = s2 = 2/9
    close(x:get(23, 1, 1), 0.2 * 2 / 9 + 0.3 * 2 / 9)
    close(x:get(23, 2, 1), 0.4 * 2 / 9)
  end)

  it("bad arguments are errors naming the argument", function()
    assert.matches("ci.make_grid_inputs: v1 and v2 must have the same length, got 3 and 2",
                   err_of(ci.make_grid_inputs, V1, { 1, 2 }, 2))
    assert.matches("option 'grid_size' must be an integer >= 2, got a number %(1%)",
                   err_of(ci.make_grid_inputs, V1, V2, 2, { grid_size = 1 }))
    assert.matches("option 'grid_size' must be an integer >= 2, got a number %(2.5%)",
                   err_of(ci.make_grid_inputs, V1, V2, 2, { grid_size = 2.5 }))
    assert.matches("timepoints%[1%] = 0 is out of range 1..2",
                   err_of(ci.make_grid_inputs, V1, V2, 2, { timepoints = 0 }))
    assert.matches("timepoints%[2%] = 3 is out of range 1..2",
                   err_of(ci.make_grid_inputs, V1, V2, 2, { timepoints = { 1, 3 } }))
    assert.matches("timepoints is empty", err_of(ci.make_grid_inputs, V1, V2, 2, { timepoints = {} }))
    assert.matches("option 'timepoints' must be an integer or a Lua array", err_of(ci.make_grid_inputs, V1, V2, 2, { timepoints = "1" }))
    assert.matches("num_layers must be a whole number >= 1", err_of(ci.make_grid_inputs, V1, V2, 0))
    assert.matches("v1 must be a 1%-d tensor", err_of(ci.make_grid_inputs, ci.zeros(2, 2), V2, 2))
    assert.matches("v2%[2%] must be a number", err_of(ci.make_grid_inputs, V1, { 1, "a", 2 }, 2))
    assert.matches("v1 is empty", err_of(ci.make_grid_inputs, {}, {}, 2))
    assert.matches("option 'cap' must be a boolean", err_of(ci.make_grid_inputs, V1, V2, 2, { cap = 1 }))
    assert.matches("unknown option 'grid_sze' %(did you mean 'grid_size'%?%)",
                   err_of(ci.make_grid_inputs, V1, V2, 2, { grid_sze = 3 }))
    assert.matches("opts is a Lua array {3}, but options are named fields",
                   err_of(ci.make_grid_inputs, V1, V2, 2, { 3 }))
  end)
end)

-- outputs of a 3 x 3 grid by hand: 9 batches x 3 neurons x 2 layers, value
-- 100 k + 10 neuron + layer
local function hand_outputs()
  local t = ci.zeros(9, 3, 2)
  for k = 1, 9 do for n = 1, 3 do for l = 1, 2 do t:set(100 * k + 10 * n + l, k, n, l) end end end
  return t
end

describe("ci.output_grid_data", function()
  it("the mean over the selected neurons, row j = s2, column i = s1", function()
    local maps = ci.output_grid_data(hand_outputs(), COORDS, { 1, 3 })
    assert.are.equal(2, #maps)
    for l = 1, 2 do
      assert.are.same({ 3, 3 }, maps[l]:size())
      for j = 1, 3 do
        for i = 1, 3 do
          local k = (j - 1) * 3 + i
          close(maps[l]:get(j, i), 100 * k + 20 + l, 1e-3)   -- mean of neurons 1 and 3
        end
      end
    end
    -- (s1, s2) = (1, 0) is batch 3: row 1, column 3; (0, 1) is batch 7: row 3, column 1
    close(maps[1]:get(1, 3), 321, 1e-3)
    close(maps[1]:get(3, 1), 721, 1e-3)
  end)

  it("one index, or a list with repeats (counted once, as the reference's np.unique)", function()
    close(ci.output_grid_data(hand_outputs(), COORDS, 2)[2]:get(2, 2), 522, 1e-3)
    close(ci.output_grid_data(hand_outputs(), COORDS, { 3, 1, 3 })[1]:get(2, 3), 621, 1e-3)
  end)

  it("from make_grid_inputs through a network: batch (j - 1) * 3 + i lands in row j, column i", function()
    local W = ci.sparse({ 4, 4, 5 }, { 1, 3, 2 }, { 0.8, 0.5, 0.9 }, 5, 5)
    local net = ci.MultilayeredNetwork(W, { 1, 2, 3 }, { num_layers = 2 })
    local x, coords = ci.make_grid_inputs(V1, V2, 2, { grid_size = 3 })
    local out = net:forward(x)
    local maps = ci.output_grid_data(out, coords, { 4, 5 })
    for l = 1, 2 do for j = 1, 3 do for i = 1, 3 do
      local k = (j - 1) * 3 + i
      close(maps[l]:get(j, i), (out:get(k, 4, l) + out:get(k, 5, l)) / 2, 1e-6)
    end end end
    -- neuron 4 follows v1 (slots 1 and 3), neuron 5 only v2 (slot 2): the grid grows both ways
    assert.is_true(maps[2]:get(1, 3) > maps[2]:get(1, 1))
    assert.is_true(maps[2]:get(3, 1) > maps[2]:get(1, 1))
  end)

  it("bad arguments are errors", function()
    assert.matches("ci.output_grid_data: outputs must be a 3%-d tensor",
                   err_of(ci.output_grid_data, ci.zeros(9, 3), COORDS, 1))
    assert.matches("outputs has 9 batches but coords has 4 points",
                   err_of(ci.output_grid_data, hand_outputs(), { { 0, 0 }, { 1, 0 }, { 0, 1 }, { 1, 1 } }, 1))
    local eight = {}
    for k = 1, 8 do eight[k] = COORDS[k] end
    assert.matches("coords has 8 points; a grid has grid_size%^2",
                   err_of(ci.output_grid_data, hand_outputs(), eight, 1))
    assert.matches("coords%[2%] must be a pair", err_of(ci.output_grid_data, hand_outputs(), { { 0, 0 }, 5 }, 1))
    assert.matches("selected%[2%] = 4 is out of range 1..3",
                   err_of(ci.output_grid_data, hand_outputs(), COORDS, { 1, 4 }))
    assert.matches("selected is empty", err_of(ci.output_grid_data, hand_outputs(), COORDS, {}))
  end)
end)

describe("ci.plot_output_grid", function()
  it("one heat-map panel per layer, v1 across, v2 upwards, labelled", function()
    local fig = ci.plot_output_grid(hand_outputs(), COORDS, { 1, 3 })
    local s = fig:script()
    assert.are.equal(2, #fig.panels)
    assert.is_truthy(s:find("set title 'Layer 1'", 1, true))
    assert.is_truthy(s:find("set title 'Layer 2'", 1, true))
    assert.is_truthy(s:find("set multiplot title 'Output grid for neurons 1, 3'", 1, true))
    assert.is_truthy(s:find("\nset xlabel 'v1 Activation'\n", 1, true))
    assert.is_truthy(s:find("\nset ylabel 'v2 Activation'\n", 1, true))
    assert.is_truthy(s:find("\nset cblabel 'Mean activation'\n", 1, true))
    assert.is_truthy(s:find("\nset yrange [0.5:3.5]\n", 1, true))           -- row 1 (s2 = 0) at the bottom
    assert.is_truthy(s:find("set xtics ('0' 1, '0.5' 2, '1' 3)", 1, true))  -- the strengths
    assert.is_truthy(s:find("set ytics ('0' 1, '0.5' 2, '1' 3)", 1, true))
    -- the first matrix row is s2 = 0: batches 1, 2, 3 of layer 1 (mean of neurons 1, 3)
    assert.is_truthy(s:find("$P1IMG << EOD\n121 221 321\n421 521 621\n721 821 921\nEOD", 1, true))
  end)

  it("layer, labels, title and show_values", function()
    local fig = ci.plot_output_grid(hand_outputs(), COORDS, 2, { layer = 2, xlab = "odour A", ylab = "odour B",
                                                                title = "grid", show_values = true })
    local s = fig:script()
    assert.are.equal(1, #fig.panels)
    assert.is_truthy(s:find("set title 'Layer 2'", 1, true))
    assert.is_truthy(s:find("\nset xlabel 'odour A'\n", 1, true))
    assert.is_truthy(s:find("\nset ylabel 'odour B'\n", 1, true))
    assert.is_truthy(s:find("set multiplot title 'grid'", 1, true))
    assert.is_truthy(s:find('\n3 1 "322.00" ', 1, true))   -- column 3, row 1: batch 3, neuron 2, layer 2
    assert.is_truthy(s:find("with labels", 1, true))
  end)

  it("renders a valid PNG, text labels that do not overlap, and a text plot with s2 upwards", function()
    local x, coords = ci.make_grid_inputs({ 1 }, { 1 }, 1, { grid_size = 10, cap = false })
    -- the read-out is s2 itself (input slot 1 minus s1): low at the bottom, high on top
    local out = ci.zeros(100, 1, 1)
    for k = 1, 100 do out:set(x:get(k, 1, 1) - coords[k][1], k, 1, 1) end
    local fig = ci.plot_output_grid(out, coords, 1, { show_values = true })
    local png = H.tmpbase() .. ".png"
    fig:save(png)
    local w, h = H.png_size(png)
    os.remove(png)
    assert.are.equal(fig.width, w)
    assert.are.equal(fig.height, h)
    H.no_overlap(fig)
    local rows = {}
    for line in ci.plot_output_grid(out, coords, 1):text { width = 70, height = 30 }:gmatch("[^\n]*") do
      local inside = line:match("|([^|]*)|")
      if inside then rows[#rows + 1] = inside end
    end
    assert.matches("^@+$", rows[1])
    assert.matches("^ +$", rows[#rows])
  end)

  it("bad options are errors", function()
    assert.matches("ci.plot_output_grid: layer = 3 is out of range 1..2",
                   err_of(ci.plot_output_grid, hand_outputs(), COORDS, 1, { layer = 3 }))
    assert.matches("unknown option 'show_value' %(did you mean 'show_values'%?%)",
                   err_of(ci.plot_output_grid, hand_outputs(), COORDS, 1, { show_value = true }))
    assert.matches("option 'show_values' must be a boolean",
                   err_of(ci.plot_output_grid, hand_outputs(), COORDS, 1, { show_values = "yes" }))
    assert.matches("option .xlab. must be a string", err_of(ci.plot_output_grid, hand_outputs(), COORDS, 1, { xlab = 1 }))
  end)
end)
