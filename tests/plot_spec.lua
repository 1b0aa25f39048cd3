-- plot_spec.lua: figures rendered through gnuplot (lua/cinterp/plot.lua): every
-- figure kind renders to PNG and SVG of the requested size, its script holds the
-- expected panels and traces, NaN values render, the dumb terminal gives text,
-- and a missing folder or a missing gnuplot is a clear error.
local ci = require "cinterp"

local function tmpbase()
  local p = os.tmpname()
  os.remove(p)
  return p
end

local function slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function be32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

-- PNG: signature, then the IHDR chunk: width at bytes 17..20, height at 21..24
local function png_size(path)
  local s = slurp(path)
  assert.are.equal("\137PNG\r\n\26\n", s:sub(1, 8))
  assert.are.equal("IHDR", s:sub(13, 16))
  return be32(s, 17), be32(s, 21)
end

local function svg_size(path)
  local s = slurp(path)
  local root = s:match("<svg[^>]*>")
  assert.is_truthy(root, "no <svg> root element")
  return tonumber(root:match('%swidth="(%d+)')), tonumber(root:match('%sheight="(%d+)'))
end

local function count(s, pat)
  local n = 0
  for _ in s:gmatch(pat) do n = n + 1 end
  return n
end

-- panels: "# panel k" markers; traces: data blocks $PkTj
local function panels_of(script) return count(script, "\n# panel %d+\n") end
local function traces_of(script) return count(script, "\n%$P%d+T%d+ << EOD\n") end

-- render to PNG and SVG; check sizes against the figure's own request
local function check_renders(fig, w, h)
  local base = tmpbase()
  local png, svg = base .. ".png", base .. ".svg"
  fig:save(png)
  fig:save(svg)
  local pw, ph = png_size(png)
  local sw, sh = svg_size(svg)
  os.remove(png)
  os.remove(svg)
  assert.are.equal(w, pw)
  assert.are.equal(h, ph)
  assert.are.equal(w, sw)
  assert.are.equal(h, sh)
end

local function err_of(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

-- a get_neuron_activation-like frame: 2 batches x 3 groups x 5 time steps
local function ts_frame(with_nan)
  local cols = { "batch_name", "group", "time_1", "time_2", "time_3", "time_4", "time_5" }
  local rows = {}
  for _, b in ipairs { "odour_a", "odour_b" } do
    for g, grp in ipairs { "ORN", "PN", "KC" } do
      local row = { b, grp }
      for t = 1, 5 do row[#row + 1] = math.sin(t * g) * (b == "odour_a" and 1 or 0.5) end
      rows[#rows + 1] = row
    end
  end
  if with_nan then rows[2][4] = 0 / 0; rows[5][7] = 0 / 0 end
  return ci.frame.from_rows(cols, rows)
end

describe("ci.plot_timeseries", function()
  it("one panel per batch, traces coloured by group, renders PNG and SVG of 2x1 panels", function()
    local fig = ci.plot_timeseries(ts_frame(), { sizing = { fig_width = 400, fig_height = 300 }, title = "t" })
    local s = fig:script()
    assert.are.equal(2, panels_of(s))
    assert.are.equal(6, traces_of(s))
    -- legend: one entry per group (keyentry), shared by the panels
    assert.are.equal(3, count(s, "keyentry"))
    check_renders(fig, 800, 300)
  end)

  it("slider_dim = 'group': one panel per group, traces per batch", function()
    local fig = ci.plot_timeseries(ts_frame(), { slider_dim = "group", scatter_mode = "lines+markers",
                                                 sizing = { fig_width = 300, fig_height = 200 } })
    local s = fig:script()
    assert.are.equal(3, panels_of(s))
    assert.are.equal(6, traces_of(s))
    assert.are.equal(2, count(s, "keyentry"))
    assert.is_truthy(s:find("with linespoints", 1, true))
    check_renders(fig, 900, 200)      -- 3 panels in one row
  end)

  it("slider_dim = false (the seed's None) puts every trace in one panel", function()
    local fig = ci.plot_timeseries(ts_frame(), { slider_dim = false, ymin = -2, ymax = 2 })
    local s = fig:script()
    assert.are.equal(1, panels_of(s))
    assert.are.equal(6, traces_of(s))
    assert.is_truthy(s:find("set yrange [-2:2]", 1, true))
    -- x axis: the time column numbers 1..5
    assert.is_truthy(s:find("set xrange [1:5]", 1, true))
    check_renders(fig, fig.width, fig.height)
    assert.are.equal(600, fig.width)
  end)

  it("a frame without batch_name: one panel, one trace per row", function()
    local df = ci.frame.from_rows({ "group", "time_1", "time_2" }, { { "a", 1, 2 }, { "b", 2, 1 } })
    local fig = ci.plot_timeseries(df)
    assert.are.equal(1, panels_of(fig:script()))
    assert.are.equal(2, traces_of(fig:script()))
  end)

  it("NaN values render (written as NaN, declared missing)", function()
    local fig = ci.plot_timeseries(ts_frame(true), { sizing = { fig_width = 300, fig_height = 200 } })
    local s = fig:script()
    assert.is_truthy(s:find("set datafile missing NaN", 1, true))
    assert.are.equal(2, count(s, "\n%d NaN\n"))
    check_renders(fig, 600, 200)
  end)

  it("y range defaults to the data range, padded", function()
    local df = ci.frame.from_rows({ "group", "time_1", "time_2" }, { { "a", 0, 1 } })
    local s = ci.plot_timeseries(df):script()
    local lo, hi = s:match("set yrange %[([^:]+):([^%]]+)%]")
    assert.is_true(tonumber(lo) < 0 and tonumber(lo) > -0.1)
    assert.is_true(tonumber(hi) > 1 and tonumber(hi) < 1.1)
  end)

  it("errors name the function and the argument", function()
    assert.matches("ci.plot_timeseries: df has no 'time_%*' columns",
                   err_of(ci.plot_timeseries, ci.frame.from_rows({ "group", "x" }, { { "a", 1 } })))
    assert.matches("needs a 'group' column",
                   err_of(ci.plot_timeseries, ci.frame.from_rows({ "time_1" }, { { 1 } })))
    assert.matches("slider_dim must be", err_of(ci.plot_timeseries, ts_frame(), { slider_dim = "neuron" }))
    assert.matches("scatter_mode must be", err_of(ci.plot_timeseries, ts_frame(), { scatter_mode = "bars" }))
  end)
end)

-- activity_by_column's frame, computed here by hand: 2 groups x 4 columns x 3 steps
local function abc_frame(nan)
  local f = { normalised_column = {}, cell_group = {}, time_point = {}, activation = {}, time_step = {} }
  for t = 1, 3 do
    for _, g in ipairs { "EPG", "PEN" } do
      for c = 4, 1, -1 do    -- unsorted columns: the plot sorts each trace by x
        local n = #f.activation + 1
        f.normalised_column[n], f.cell_group[n] = c / 4, g
        f.time_point[n], f.time_step[n] = "time_" .. (t - 1), t
        f.activation[n] = 0.1 * c * t
      end
    end
  end
  if nan then f.activation[3] = 0 / 0 end
  return ci.frame(f, { "normalised_column", "cell_group", "time_point", "activation", "time_step" })
end

describe("ci.plot_activity_by_column", function()
  it("one panel per time step, one trace per group over the normalised column", function()
    local fig = ci.plot_activity_by_column(abc_frame(), nil, nil, nil, { figsize = { 400, 300 } })
    local s = fig:script()
    assert.are.equal(3, panels_of(s))
    assert.are.equal(6, traces_of(s))
    assert.is_truthy(s:find("Time step: 3", 1, true))
    -- the first trace (EPG at step 1, activation 0.1 * column) is sorted by column
    local block = s:match("%$P1T1 << EOD\n(.-)EOD")
    assert.are.same({ "0.25 0.1", "0.5 0.2", "0.75 0.3", "1 0.4" },
                    { block:match("([^\n]+)\n([^\n]+)\n([^\n]+)\n([^\n]+)") })
    -- y range: [min(0, min), max(1, max)] as the seed (max here 1.2), padded 3%
    local lo, hi = s:match("set yrange %[([^:]+):([^%]]+)%]")
    assert.is_true(math.abs(tonumber(lo) + 0.036) < 1e-6)
    assert.is_true(math.abs(tonumber(hi) - 1.236) < 1e-6)
    check_renders(fig, fig.width, fig.height)
    assert.are.equal(3, fig.cols)   -- three panels: one row
    assert.are.equal(1, fig.rows)
  end)

  it("scatter with global_min / global_max and NaN renders", function()
    local fig = ci.plot_activity_by_column(abc_frame(true), nil, nil, nil,
                                           { plot_type = "scatter", global_min = -1, global_max = 2 })
    local s = fig:script()
    assert.is_truthy(s:find("set yrange [-1:2]", 1, true))
    assert.is_truthy(s:find("with points", 1, true))
    assert.is_nil(s:find("with linespoints", 1, true))
    check_renders(fig, fig.width, fig.height)
  end)

  it("from the activity tensor when ci.activity_by_column exists", function()
    if not ci.activity_by_column then
      pending("ci.activity_by_column is not installed yet")
      return
    end
    -- 4 neurons (2 groups x 2 columns), 2 time steps
    local act = ci.tensor { { 0.1, 0.2 }, { 0.3, 0.4 }, { 0.5, 0.6 }, { 0.7, 0.8 } }
    local fig = ci.plot_activity_by_column(act, { "A", "A", "B", "B" }, { 1, 2, 1, 2 }, { "A", "B" })
    local s = fig:script()
    assert.are.equal(2, panels_of(s))
    assert.are.equal(4, traces_of(s))
  end)

  it("rejects a bad plot_type and a frame without the columns", function()
    assert.matches("plot_type must be 'line' or 'scatter'",
                   err_of(ci.plot_activity_by_column, abc_frame(), nil, nil, nil, { plot_type = "bar" }))
    assert.matches("needs a 'cell_group' column",
                   err_of(ci.plot_activity_by_column, ci.frame { normalised_column = { 1 } }, nil, nil, nil, {}))
  end)
end)

describe("ci.plot_losses", function()
  it("activation maximisation losses: three traces, linear and log scale", function()
    local r = { act_loss = { 4, 2, 1, 0.5 }, out_reg_losses = { 0, 0.1, 0.2, 0.2 }, in_reg_losses = { 1, 0.9, 0.8, 0.7 } }
    local fig = ci.plot_losses(r, { width = 500, height = 300 })
    local s = fig:script()
    assert.are.equal(1, panels_of(s))
    assert.are.equal(3, traces_of(s))
    assert.is_nil(s:find("logscale", 1, true))
    check_renders(fig, fig.width, fig.height)
    assert.are.equal(500, fig.width)
    local lg = ci.plot_losses(r, { log = true })
    local ls = lg:script()
    assert.is_truthy(ls:find("set logscale y", 1, true))
    -- a zero can't go on a log axis: written as NaN
    assert.is_truthy(ls:match("%$P1T2 << EOD\n1 NaN\n"))
    check_renders(lg, lg.width, lg.height)
  end)

  it("a train_model history; an all-NaN val_loss is left out", function()
    local nan = 0 / 0
    local h = { loss = { 1, 0.5, 0.3 }, mse_loss = { 0.9, 0.4, 0.2 }, param_reg_loss = { 0.1, 0.1, 0.1 },
                val_loss = { nan, nan, nan } }
    local fig = ci.plot_losses(h)
    assert.are.equal(3, traces_of(fig:script()))
    assert.are.same({ "val_loss" }, fig.dropped)
    check_renders(fig, fig.width, fig.height)
  end)

  it("rejects a table without loss lists", function()
    assert.matches("ci.plot_losses: no loss lists", err_of(ci.plot_losses, { x = 1 }))
  end)
end)

describe("ci.plot_heatmap", function()
  it("a 2-d tensor: one panel, the values as a matrix block, row labels as tics", function()
    local t = ci.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
    local fig = ci.plot_heatmap(t, { row_labels = { "ORN_a", "ORN_b" }, panel_width = 400, panel_height = 300 })
    local s = fig:script()
    assert.are.equal(1, panels_of(s))
    assert.is_truthy(s:find("$P1IMG << EOD\n1 2 3\n4 5 6\nEOD", 1, true))
    assert.is_truthy(s:find("'ORN_a' 1", 1, true))
    assert.is_truthy(s:find("set cbrange [1:6]", 1, true))
    check_renders(fig, 400, 300)
  end)

  it("a 3-d tensor: one panel per batch, a symmetric range for signed values, NaN renders", function()
    local nan = 0 / 0
    local x = { { { 1, -2 }, { 0.5, nan } }, { { -1, 3 }, { 0, 0 } } }
    local fig = ci.plot_heatmap(x, { panel_width = 300, panel_height = 250, batch_names = { "a", "b" } })
    local s = fig:script()
    assert.are.equal(2, panels_of(s))
    assert.are.equal(2, count(s, "with image"))
    assert.is_truthy(s:find("set cbrange [-3:3]", 1, true))
    assert.is_truthy(s:find("0.5 NaN", 1, true))
    check_renders(fig, 600, 250)
  end)

  it("rejects a 1-d tensor and wrong row labels", function()
    assert.matches("ci.plot_heatmap: expected a 2%-d", err_of(ci.plot_heatmap, ci.tensor { 1, 2, 3 }))
    assert.matches("row_labels has 1 labels, expected 2",
                   err_of(ci.plot_heatmap, { { 1, 2 }, { 3, 4 } }, { row_labels = { "a" } }))
  end)
end)

describe("ci.plot figure", function()
  it("renders a PDF", function()
    local base = tmpbase()
    ci.plot_losses({ act_loss = { 3, 2, 1 } }):save(base .. ".pdf")
    assert.are.equal("%PDF", slurp(base .. ".pdf"):sub(1, 4))
    os.remove(base .. ".pdf")
  end)

  it("the dumb terminal gives non-empty text of the requested size", function()
    local fig = ci.plot_timeseries(ts_frame(true))
    local txt = fig:text { width = 100, height = 30 }
    assert.is_true(#txt > 0)
    assert.is_truthy(txt:find("odour_a", 1, true))
    local lines, widest = 0, 0
    for l in txt:gmatch("[^\n]*\n") do lines = lines + 1; widest = math.max(widest, #l - 1) end
    assert.are.equal(30, lines)
    assert.are.equal(100, widest)
  end)

  it("show() without a display prints the text plot, sized from COLUMNS/LINES", function()
    local fig = ci.plot_losses({ act_loss = { 3, 2, 1 } })
    local c, l = ci._plot.terminal_size()
    assert.is_true(c >= 20 and l >= 10)
    local script = fig:script { dumb = true, width = 80, height = 24 }
    assert.is_truthy(script:find("set multiplot", 1, true))
  end)

  it("a missing output folder is a clear error, and nothing is written", function()
    local dir = tmpbase() .. "_no_such_dir"
    local e = err_of(function() ci.plot_losses({ act_loss = { 1, 2 } }):save(dir .. "/f.png") end)
    assert.matches("ci.plot:save: the output folder '" .. dir:gsub("%p", "%%%0") .. "' does not exist", e)
  end)

  it("an unknown extension is an error", function()
    assert.matches("cannot tell the format", err_of(function()
      ci.plot_losses({ act_loss = { 1, 2 } }):save(tmpbase() .. ".jpg")
    end))
  end)

  it("a missing gnuplot says which package to install", function()
    local saved = ci.plot.config.gnuplot
    ci.plot.config.gnuplot = "gnuplot-that-does-not-exist"
    local ok, e = pcall(function() ci.plot_losses({ act_loss = { 1, 2 } }):save(tmpbase() .. ".png") end)
    ci.plot.config.gnuplot = saved
    assert.is_false(ok)
    assert.matches("install the Debian package gnuplot%-nox", tostring(e))
  end)

  it("a gnuplot error surfaces with gnuplot's message", function()
    assert.matches("gnuplot failed", err_of(ci._plot._run_gnuplot, "plot $nosuchblock\n", "x"))
  end)

  it("leaves no temporary files behind", function()
    -- record every temporary name the plot module asks for, then check that
    -- none of them exists after rendering (other processes' files don't matter)
    local names, real = {}, os.tmpname
    os.tmpname = function() local n = real(); names[#names + 1] = n; return n end
    local ok, e = pcall(function()
      ci.plot_losses({ act_loss = { 3, 2, 1 } }):text { width = 60, height = 20 }
    end)
    os.tmpname = real
    assert(ok, e)
    assert.is_true(#names > 0)
    local left = {}
    for _, n in ipairs(names) do
      local f = io.open(n, "r")
      if f then f:close(); left[#left + 1] = n end
    end
    assert.are.same({}, left)
  end)
end)
