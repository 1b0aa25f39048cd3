-- plot_spec.lua: figures rendered through gnuplot (lua/cinterp/plot.lua): every
-- figure kind renders to PNG and SVG of the requested size, its script holds the
-- expected panels and traces, NaN values render, the dumb terminal gives text,
-- and a missing folder or a missing gnuplot is a clear error.
local ci = require "cinterp"
local H = require "plothelp"
local tmpbase, slurp, png_size, no_overlap = H.tmpbase, H.slurp, H.png_size, H.no_overlap

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

local ts_frame = H.ts_frame   -- 2 batches x 3 groups x 5 time steps

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
    assert.matches("option 'slider_dim' must be one of", err_of(ci.plot_timeseries, ts_frame(), { slider_dim = "neuron" }))
    assert.matches("option 'scatter_mode' must be one of", err_of(ci.plot_timeseries, ts_frame(), { scatter_mode = "bars" }))
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
    assert.is_truthy(s:find("set title 'Layer 3'", 1, true))
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
    assert.matches("option 'plot_type' must be one of \"line\" or \"scatter\"",
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

  -- the longest run of coloured pixels along row y (or column x) of a PNG: first, last
  local function colour_run(img, fixed, along_x)
    local best0, best1, start = 0, -1, nil
    local n = along_x and img.w or img.h
    for k = 0, n do
      local coloured = false
      if k < n then
        local r, g, b = img.rgb(along_x and k or fixed, along_x and fixed or k)
        coloured = math.max(r, g, b) - math.min(r, g, b) >= 50
      end
      if coloured and not start then start = k end
      if not coloured and start then
        if k - 1 - start > best1 - best0 then best0, best1 = start, k - 1 end
        start = nil
      end
    end
    return best0, best1
  end
  local function dark(r, g, b) return r + g + b < 250 end              -- the palette's low end (#440154)
  local function yellow(r, g, b) return r > 200 and g > 200 and b < 100 end   -- its high end (#fde725)

  it("a single row, a single column or one cell fills the plot with its colours", function()
    local base = tmpbase()
    -- one row: 4 cells from dark (1) to yellow (4), left to right
    local fig = ci.plot_heatmap(ci.tensor { { 1, 2, 3, 4 } }, { row_labels = { "only" }, palette = "sequential" })
    assert.is_truthy(fig:script():find("$P1IMG << EOD\n1 2 3 4\n1 2 3 4\nEOD", 1, true))
    fig:save(base .. ".png")
    local img = H.png_pixels(base .. ".png")
    local x0, x1 = colour_run(img, math.floor(img.h / 2), true)
    assert.is_true(x1 - x0 > img.w / 3, "no coloured plot along the middle row")
    assert.is_true(dark(img.rgb(math.floor(x0 + (x1 - x0) / 8), math.floor(img.h / 2))))
    assert.is_true(yellow(img.rgb(math.floor(x0 + (x1 - x0) * 7 / 8), math.floor(img.h / 2))))
    -- one column: 3 cells, row 1 (dark) on top, row 3 (yellow) at the bottom
    fig = ci.plot_heatmap(ci.tensor { { 1 }, { 2 }, { 3 } }, { col_labels = { "only" }, palette = "sequential" })
    fig:save(base .. ".png")
    img = H.png_pixels(base .. ".png")
    x0, x1 = colour_run(img, math.floor(img.h / 2), true)
    assert.is_true(x1 - x0 > img.w / 3, "no coloured plot along the middle row")
    local xm = math.floor((x0 + x1) / 2)
    local y0, y1 = colour_run(img, xm, false)
    assert.is_true(y1 - y0 > img.h / 3, "no coloured plot down the middle")
    assert.is_true(dark(img.rgb(xm, math.floor(y0 + (y1 - y0) / 6))))
    assert.is_true(yellow(img.rgb(xm, math.floor(y0 + (y1 - y0) * 5 / 6))))
    -- one cell, and one row in the SVG and PDF terminals
    fig = ci.plot_heatmap(ci.tensor { { 5 } }, { palette = "sequential" })
    fig:save(base .. ".png")
    img = H.png_pixels(base .. ".png")
    x0, x1 = colour_run(img, math.floor(img.h / 2), true)
    assert.is_true(x1 - x0 > img.w / 3, "the one cell is not drawn")
    check_renders(ci.plot_heatmap(ci.tensor { { 1, 2 } }, { panel_width = 300, panel_height = 200 }), 300, 200)
    os.remove(base .. ".png")
  end)

  it("turned column labels stay inside the figure and their panel, apart, with equal panels", function()
    local base = tmpbase()
    local cols = {}
    for i = 1, 8 do cols[i] = "quite_a_long_column_label_" .. i end
    local function turned(svg, angle)
      local out = {}
      for _, t in ipairs(H.svg_turned_texts(svg)) do
        if math.abs(t.angle - angle) < 1e-6 then out[#out + 1] = t end
      end
      return out
    end
    -- short row labels (a narrow left margin) and long column labels, turned by 30 degrees
    local fig = ci.plot_heatmap(ci.rand(2, 3, 8), { row_labels = { "x", "y", "z" }, col_labels = cols,
                                                    batch_names = { "a", "b" } })
    assert.is_truthy(fig:script():find("set xtics rotate by 30 right", 1, true))
    fig:save(base .. ".png")
    fig:save(base .. ".svg")
    local img = H.png_pixels(base .. ".png")
    local boxes = {}
    for _, b in ipairs(H.svg_plot_boxes(base .. ".svg")) do
      if b.x1 - b.x0 > 50 and (#boxes == 0 or b.x0 ~= boxes[#boxes].x0) then boxes[#boxes + 1] = b end
    end
    assert.are.equal(2, #boxes)
    -- nothing drawn at the figure's left edge (a clipped label would be)
    assert.are.equal(0, (H.drawn_pixels(img, { left = 0, top = 0, width = 2, height = img.h })))
    -- panel b's labels stay right of its left edge (W / 2), below its plot
    local band = { left = img.w / 2 - 12, top = math.ceil(boxes[2].y1) + 8, width = 12, height = 60 }
    assert.are.equal(0, (H.drawn_pixels(img, band)), "a label of panel b reaches into panel a")
    -- both panels' plots are as wide (gnuplot narrows the right one for labels it thinks run right)
    assert.is_true(math.abs((boxes[1].x1 - boxes[1].x0) - (boxes[2].x1 - boxes[2].x0)) < 1,
                   string.format("plot widths %.1f and %.1f", boxes[1].x1 - boxes[1].x0, boxes[2].x1 - boxes[2].x0))
    -- adjacent labels stand at least a line apart (perpendicular to the text)
    local t30 = turned(base .. ".svg", 30)
    assert.is_true(#t30 >= 4)
    for k = 2, #t30 do
      local gap = (t30[k].x - t30[k - 1].x) * math.sin(math.rad(30))
      if gap > 0 then assert.is_true(gap >= t30[k].size * 1.2, "turned labels " .. gap .. " apart") end
    end
    -- 40 columns in a tall panel: upright, every label shown, a line apart
    local many = {}
    for i = 1, 40 do many[i] = "a_rather_long_label_" .. i end
    fig = ci.plot_heatmap(ci.rand(3, 40), { col_labels = many, panel_height = 600 })
    fig:save(base .. ".svg")
    local t90 = turned(base .. ".svg", 90)
    assert.are.equal(40, #t90)
    for k = 2, 40 do assert.is_true(t90[k].x - t90[k - 1].x >= t90[k].size * 1.2) end
    os.remove(base .. ".png")
    os.remove(base .. ".svg")
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

-- ------------------------------------------------------------------ labels, ticks, text
-- (issue 13: unlabelled axes and colour bars, 0-based ticks, overlapping tick
-- labels, an empty text heat map, a legend repeating a single batch name)

-- the positions of a "set <axis>tics (...)" list in a script (the first such line)
local function tick_list(script, axis)
  local body = script:match("\nset " .. axis .. "tics[^\n]-%(([^\n]*)%)\n")
  assert.is_truthy(body, "no explicit " .. axis .. "tics list")
  local pos = {}
  for item in body:gmatch("[^,]+") do pos[#pos + 1] = tonumber(item:match("(%S+)%s*$")) end
  return pos
end

describe("figures: labels and ticks", function()
  it("heat maps label both axes and the colour bar, by default and as given", function()
    local s = ci.plot_heatmap(ci.tensor { { 1, 2 }, { 3, 4 } }):script()
    assert.is_truthy(s:find("\nset xlabel 'Time step'\n", 1, true))
    assert.is_truthy(s:find("\nset ylabel 'Row'\n", 1, true))
    assert.is_truthy(s:find("\nset cblabel 'Value'\n", 1, true))
    s = ci.plot_heatmap(ci.tensor { { 1, 2 }, { 3, 4 } }, { xlabel = "Layer", ylabel = "Neuron",
                                                             cblabel = "Activation" }):script()
    assert.is_truthy(s:find("\nset xlabel 'Layer'\n", 1, true))
    assert.is_truthy(s:find("\nset ylabel 'Neuron'\n", 1, true))
    assert.is_truthy(s:find("\nset cblabel 'Activation'\n", 1, true))
  end)

  it("numbered heat-map rows and columns have 1-based ticks, thinned to fit", function()
    local t = ci.zeros(120, 40)
    local s = ci.plot_heatmap(t):script()
    for _, axis in ipairs { "y", "x" } do
      local pos = tick_list(s, axis)
      local n = axis == "y" and 120 or 40
      assert.are.equal(1, pos[1])
      assert.is_true(#pos >= 3 and #pos < n, axis .. ": " .. #pos .. " ticks for " .. n .. " cells")
      for k, v in ipairs(pos) do
        assert.is_true(v == math.floor(v) and v >= 1 and v <= n)
        if k > 1 then assert.is_true(v > pos[k - 1]) end
      end
    end
    -- a few cells: every one numbered
    assert.are.same({ 1, 2, 3 }, tick_list(ci.plot_heatmap(ci.zeros(3, 2)):script(), "y"))
    assert.are.same({ 1, 2 }, tick_list(ci.plot_heatmap(ci.zeros(3, 2)):script(), "x"))
  end)

  it("time and iteration axes tick from 1, never 0, with whole numbers", function()
    local h = {}
    for i = 1, 150 do h[i] = 1 / i end
    local pos = tick_list(ci.plot_losses({ act_loss = h }):script(), "x")
    assert.are.equal(1, pos[1])
    for _, v in ipairs(pos) do assert.is_true(v >= 1 and v == math.floor(v)) end
    assert.is_true(#pos <= 16)
    pos = tick_list(ci.plot_timeseries(ts_frame()):script(), "x")
    assert.are.same({ 1, 2, 3, 4, 5 }, pos)
  end)

  it("tick labels do not overlap in narrow panels (rendered SVG, measured)", function()
    -- the scatter demo's layout: 4 panels in 600 x 400, x over 0..1
    local abc = { normalised_column = {}, cell_group = {}, time_point = {}, activation = {}, time_step = {} }
    for t = 1, 4 do
      for c = 1, 8 do
        local n = #abc.activation + 1
        abc.normalised_column[n], abc.cell_group[n], abc.time_point[n] = c / 8, "EPG", "time_" .. t
        abc.activation[n], abc.time_step[n] = (c * t % 7) / 7, t
      end
    end
    local f = ci.frame(abc, { "normalised_column", "cell_group", "time_point", "activation", "time_step" })
    local fig = ci.plot_activity_by_column(f, nil, nil, nil, { plot_type = "scatter", figsize = { 600, 400 } })
    no_overlap(fig)
    assert.is_true(#tick_list(fig:script(), "x") <= 5)
    -- 40 time steps in 300-pixel panels
    local cols, row = { "batch_name", "group" }, { "b", "g" }
    for t = 1, 40 do cols[#cols + 1] = "time_" .. t; row[#row + 1] = math.sin(t) end
    no_overlap(ci.plot_timeseries(ci.frame.from_rows(cols, { row }), { sizing = { fig_width = 300, fig_height = 250 } }))
    -- a 120 x 40 heat map and the losses of 150 iterations
    no_overlap(ci.plot_heatmap(ci.rand(120, 40)))
    local h = {}
    for i = 1, 150 do h[i] = 1 / i end
    no_overlap(ci.plot_losses({ act_loss = h, in_reg_losses = h }))
  end)

  it("activity-by-column panels are titled Input (time step 0) and Layer 1..L", function()
    local f = ci.frame({ normalised_column = { 0.5, 1, 0.5, 1 }, cell_group = { "PN", "PN", "PN", "PN" },
                         time_point = { "time_0", "time_0", "time_1", "time_1" }, activation = { 0.1, 0.2, 0.3, 0.4 },
                         time_step = { 0, 0, 1, 1 } },
                       { "normalised_column", "cell_group", "time_point", "activation", "time_step" })
    local s = ci.plot_activity_by_column(f, nil, nil, nil, {}):script()
    assert.is_truthy(s:find("\nset title 'Input'", 1, true))
    assert.is_truthy(s:find("\nset title 'Layer 1'", 1, true))
    assert.is_nil(s:find("Time step: ", 1, true))
  end)

  it("one batch in one panel: the batch names the panel, not every legend entry", function()
    local df = ci.frame.from_rows({ "batch_name", "group", "time_1", "time_2" },
                                  { { "batch_1", "KC", 0.1, 0.2 }, { "batch_1", "PN", 0.3, 0.1 } })
    local s = ci.plot_timeseries(df, { slider_dim = false }):script()
    assert.is_nil(s:find("batch_1 /", 1, true))
    assert.is_truthy(s:find("set title 'batch_1'", 1, true))
    assert.is_truthy(s:find("title 'KC'", 1, true))
    -- two batches: the entries need both names
    local two = ci.plot_timeseries(ts_frame(), { slider_dim = false }):script()
    assert.is_truthy(two:find("title 'odour_a / ORN'", 1, true))
  end)

  it("a text containing ' or \" stays one gnuplot string", function()
    local fig = ci.plot_heatmap(ci.tensor { { 1, 2 } }, { title = "'quoted' \"twice\" \\ ok", ylabel = "it's" })
    local txt = fig:text { width = 60, height = 12 }
    assert.is_truthy(txt:find("'quoted' \"twice\" \\ ok", 1, true))
    check_renders(fig, fig.width, fig.height)
  end)
end)

describe("figures: heat maps in the text terminal", function()
  -- the lines of the plot area (between the box's | borders) of a text figure
  local function area(txt)
    local rows = {}
    for line in txt:gmatch("[^\n]*") do
      local inside = line:match("|([^|]*)|")
      if inside then rows[#rows + 1] = inside end
    end
    return rows
  end

  it("draws every cell as a shade, row 1 on top, low ' ' to high '@'", function()
    -- 2 x 2, values 0..1 (sequential): row 1 = {0, 1}, row 2 = {1, 0}
    local txt = ci.plot_heatmap(ci.tensor { { 0, 1 }, { 1, 0 } }):text { width = 60, height = 20 }
    local rows = area(txt)
    assert.is_true(#rows >= 6)
    local top, bottom = rows[1], rows[#rows]
    local half = math.floor(#top / 2)
    assert.matches("^ +$", top:sub(1, half - 1))
    assert.matches("^@+$", top:sub(half + 2))
    assert.matches("^@+$", bottom:sub(1, half - 1))
    assert.matches("^ +$", bottom:sub(half + 2))
    -- the key gives each character's value; the labels are there
    assert.is_truthy(txt:find("@ 0.95", 1, true))
    assert.is_truthy(txt:find("Value", 1, true))
    assert.is_truthy(txt:find("Row", 1, true))
    assert.is_truthy(txt:find("Time step", 1, true))
  end)

  it("signed values use the diverging characters; NaN shows as '?'", function()
    local txt = ci.plot_heatmap(ci.tensor { { -1, 0, 1, 0 / 0 } }):text { width = 60, height = 12 }
    local row = area(txt)[1]
    local q = math.floor(#row / 4)
    assert.matches("^=+$", row:sub(1, q - 1))
    assert.matches("^ +$", row:sub(q + 2, 2 * q - 1))
    assert.matches("^#+$", row:sub(2 * q + 2, 3 * q - 1))
    assert.matches("^%?+$", row:sub(3 * q + 2))
  end)

  it("a matrix larger than the terminal is averaged into the characters", function()
    -- 200 rows: the first 100 are 0, the last 100 are 1
    local t = ci.zeros(200, 3)
    for r = 101, 200 do for c = 1, 3 do t:set(1, r, c) end end
    local rows = area(ci.plot_heatmap(t):text { width = 50, height = 24 })
    assert.is_true(#rows < 200)
    assert.matches("^ +$", rows[1])
    assert.matches("^@+$", rows[#rows])
  end)

  it("show_values writes the values when they fit", function()
    local fig = ci.plot { panels = { { xlabel = "x", ylabel = "y", image = { values = { 0.25, 0.75 }, nrow = 1, ncol = 2,
                          cbrange = { 0, 1 }, palette = "sequential", show_values = true } } } }
    local txt = fig:text { width = 60, height = 12 }
    assert.is_truthy(txt:find("0.25", 1, true))
    assert.is_truthy(txt:find("0.75", 1, true))
  end)
end)

describe("figures: options are checked", function()
  it("an unknown option is an error naming the closest valid one", function()
    assert.matches("ci.plot_heatmap: unknown option 'cb_label' %(did you mean 'cblabel' or 'col_labels'%?%)",
                   err_of(ci.plot_heatmap, { { 1 } }, { cb_label = "x" }))
    assert.matches("ci.plot_losses: unknown option 'titel'", err_of(ci.plot_losses, { act_loss = { 1 } }, { titel = "x" }))
    assert.matches("ci.plot_timeseries: unknown option 'slider'",
                   err_of(ci.plot_timeseries, ts_frame(), { slider = false }))
    assert.matches("unknown key of opts.sizing 'fig_widht' %(did you mean 'fig_width' or 'fig_height'%?%)",
                   err_of(ci.plot_timeseries, ts_frame(), { sizing = { fig_widht = 3 } }))
    assert.matches("ci.plot_activity_by_column: unknown option 'plottype'",
                   err_of(ci.plot_activity_by_column, abc_frame(), nil, nil, nil, { plottype = "line" }))
    assert.matches("ci.plot:text: unknown option 'widht'",
                   err_of(function() ci.plot_losses({ act_loss = { 1 } }):text { widht = 3 } end))
  end)

  it("checks the types of options and of the tables inside them", function()
    assert.matches("ci.plot_timeseries: option 'sizing.fig_width' must be a finite number >= 0, got a number %(%-1%)",
                   err_of(ci.plot_timeseries, ts_frame(), { sizing = { fig_width = -1 } }))
    assert.matches("ci.plot_timeseries: unknown key of opts.style 'font'",
                   err_of(ci.plot_timeseries, ts_frame(), { style = { font = "x" } }))
    assert.matches("ci.plot_losses: option 'width' must be an integer >= 50, got a number %(10%)",
                   err_of(ci.plot_losses, { act_loss = { 1 } }, { width = 10 }))
    assert.matches("ci.plot_heatmap: option 'palette' must be one of \"diverging\" or \"sequential\"",
                   err_of(ci.plot_heatmap, { { 1 } }, { palette = "viridis" }))
    assert.matches("ci.plot: unknown key of spec.fonts 'bas' %(did you mean 'base'%?%)",
                   err_of(ci.plot, { panels = { {} }, fonts = { bas = 3 } }))
    assert.matches("ci.plot: unknown option 'mode'", err_of(ci.plot, { panels = { {} }, mode = "x" }))
  end)

  it("ci.plot checks its panels and traces, and gives a trace without colour its position's", function()
    assert.matches("ci.plot: panels%[1%]%.traces%[1%]%.x must be a Lua array of numbers, got nil",
                   err_of(ci.plot, { panels = { { traces = { { y = { 1 } } } } } }))
    assert.matches("ci.plot: panels%[1%]%.traces%[1%] has 2 x values and 1 y values",
                   err_of(ci.plot, { panels = { { traces = { { x = { 1, 2 }, y = { 1 } } } } } }))
    assert.matches("ci.plot: panels%[1%]%.traces%[2%]%.color must be an integer >= 1",
                   err_of(ci.plot, { panels = { { traces = { { x = { 1 }, y = { 1 } }, { x = { 1 }, y = { 2 }, color = "red" } } } } }))
    assert.matches("ci.plot: panels%[2%]%.image needs nrow and ncol",
                   err_of(ci.plot, { panels = { {}, { image = { values = { 1, 2, 3 }, nrow = 2, ncol = 2 } } } }))
    assert.matches("ci.plot: a figure needs at least one panel", err_of(ci.plot, { panels = {} }))
    -- was "attempt to perform arithmetic on a nil value" inside plot.lua
    local fig = ci.plot { panels = { { traces = { { x = { 1, 2 }, y = { 1, 2 } }, { x = { 1, 2 }, y = { 2, 1 } } } } },
                          legend = { { name = "first" }, { name = "second" } } }
    local script = fig:script()
    assert.is_truthy(script:find("$P1T1 using 1:2 with lines lw 2 dt 1 lt 1 lc rgb '#1f77b4'", 1, true), script)
    assert.is_truthy(script:find("$P1T2 using 1:2 with lines lw 2 dt 1 lt 2 lc rgb '#ff7f0e'", 1, true), script)
    assert.is_truthy(script:find("keyentry with lines lw 2 dt 1 lt 2 lc rgb '#ff7f0e' title 'second'", 1, true), script)
  end)

  it("a Lua array where the options belong is an error", function()
    assert.matches("ci.plot_heatmap: opts is a Lua array {\"title\"}, but options are named fields",
                   err_of(ci.plot_heatmap, { { 1 } }, { "title" }))
  end)

  it("the seed's style and sizing keys reach the terminal and the axes", function()
    -- a gnuplot stand-in that keeps the script it was given, then runs gnuplot
    local keep, wrapper = tmpbase() .. ".gp", tmpbase() .. ".sh"
    local f = assert(io.open(wrapper, "w"))
    f:write("#!/bin/sh\ncp \"$1\" '" .. keep .. "'\nexec gnuplot \"$@\"\n")
    f:close()
    os.execute("chmod +x '" .. wrapper .. "'")
    local saved = ci.plot.config.gnuplot
    ci.plot.config.gnuplot = wrapper
    local png = tmpbase() .. ".png"
    local ok, e = pcall(function()
      ci.plot_timeseries(ts_frame(), { style = { papercolor = "rgba(255,250,240,255)", linecolor = "rgb(0,0,128)",
                                                 font_type = "DejaVu Serif" },
                                       sizing = { ticklen = 10, axislinewidth = 2.5, fig_margin = 20 } }):save(png)
    end)
    ci.plot.config.gnuplot = saved
    assert(ok, e)
    local gp = slurp(keep)
    os.remove(keep); os.remove(wrapper); os.remove(png)
    assert.is_truthy(gp:find("font 'DejaVu Serif,12' background '#fffaf0'", 1, true))
    assert.is_truthy(gp:find("set border lw 2 lc rgb '#000080'", 1, true))
    assert.is_truthy(gp:find("set tics nomirror out scale 1.2", 1, true))
    -- the margin: the first panel starts 20 pixels in (1200 px wide)
    assert.is_truthy(gp:find(string.format("set origin %.5f,", 20 / 1200), 1, true))
    assert.matches("sizing.tickwidth cannot be drawn",
                   err_of(ci.plot_timeseries, ts_frame(), { sizing = { tickwidth = 2 } }))
  end)
end)
