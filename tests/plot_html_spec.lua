-- plot_html_spec.lua: fig:save("f.html") (lua/cinterp/plot.lua, plot_html.lua)
-- loaded in headless Chromium. For every figure kind the page is saved, moved to
-- another folder (it must need no other file), screenshot, and every panel's
-- canvas (and the legend's) must hold gnuplot's drawing: many inked pixels and
-- many coloured ones (traces, markers, heat-map cells). The same page with its
-- drawing call removed (blank canvases) must fail that check. In a second page
-- the mouse is moved and dragged by script: each panel reads out its own axis
-- coordinates (a heat map also the cell's labels and value), and a right-drag
-- zooms the panel and Unzoom draws it as before.
local ci = require "cinterp"
local H = require "plothelp"
local html = require "cinterp.plot_html"

local fmt = string.format

local shell_quote = H.shell_quote

local function mkdir(path) assert(os.execute("mkdir -p " .. shell_quote(path)) == 0) end

local function write(path, s)
  local f = assert(io.open(path, "wb"))
  f:write(s)
  f:close()
end

-- the canvases of a saved page: {name =, left =, top =, width =, height =} in
-- page pixels (below the button bar), and the page's size
local function canvases_of(page)
  local out = {}
  for id, w, h, l, t in page:gmatch('<canvas id="(ci_[%w_]+)" width="(%d+)" height="(%d+)"[^>]-'
                                    .. 'style="left:(%d+)px;top:(%d+)px"') do
    out[#out + 1] = { name = id, width = tonumber(w), height = tonumber(h), left = tonumber(l),
                      top = tonumber(t) + html.BAR_H }
  end
  local W, Hh = page:match('class="ci%-figure" style="width:(%d+)px;height:(%d+)px"')
  return out, tonumber(W), tonumber(Hh) + html.BAR_H
end

-- saves fig as HTML in one folder, moves the file to another, checks that it
-- refers to no other file and returns its path, text and canvases
local function saved_and_moved(fig)
  local base = H.tmpbase()
  local a, b = base .. "_a", base .. "_b"
  mkdir(a)
  mkdir(b)
  local path = fig:save(a .. "/figure.html")
  assert.are.equal(a .. "/figure.html", path)
  assert.is_true(os.rename(path, b .. "/moved.html"))
  os.execute("rm -rf " .. shell_quote(a))
  local page = H.slurp(b .. "/moved.html")
  -- nothing outside the file: no linked script, style sheet, image or gnuplot's image file
  assert.is_nil(page:find("<script[^>]*src="), "a script is linked, not inlined")
  assert.is_nil(page:find("<link"), "a style sheet is linked")
  assert.is_nil(page:find("<img"), "an image is linked")
  assert.is_nil(page:find("gp_image", 1, true), "gnuplot wrote an image to an outside file")
  assert.is_nil(page:find("/usr/share/gnuplot", 1, true), "the page names gnuplot's folder")
  return b .. "/moved.html", page, b
end

-- screenshots the page and returns, per canvas, its inked and coloured pixels
local function drawn(path, page)
  local boxes, W, Hh = canvases_of(page)
  local png = H.tmpbase() .. ".png"
  H.run_chromium(path, fmt("--screenshot=%s --window-size=%d,%d", shell_quote(png), W, Hh))
  local img = H.png_pixels(png)
  os.remove(png)
  assert.are.equal(W, img.w)
  local res = {}
  for _, box in ipairs(boxes) do
    local ink, colour = H.drawn_pixels(img, box)
    res[#res + 1] = { name = box.name, ink = ink, colour = colour }
  end
  return res
end

-- every canvas drawn: the axes, ticks and labels (ink) and the data (colour)
local function assert_drawn(res, npanels)
  local panels = 0
  for _, r in ipairs(res) do
    if r.name:match("^ci_panel_") then panels = panels + 1 end
    assert.is_true(r.ink >= (r.name == "ci_legend" and 150 or 2500),
                   fmt("%s: only %d inked pixels (a blank canvas?)", r.name, r.ink))
    assert.is_true(r.colour >= (r.name == "ci_legend" and 20 or 250),
                   fmt("%s: only %d coloured pixels (no data drawn?)", r.name, r.colour))
  end
  assert.are.equal(npanels, panels)
end

-- data: a get_neuron_activation-like frame, activity_by_column's frame, a matrix
local ts_frame = H.ts_frame

local function abc_frame()
  local f = { normalised_column = {}, cell_group = {}, time_point = {}, activation = {}, time_step = {} }
  for t = 1, 3 do
    for g, grp in ipairs { "EPG", "PEN" } do
      for c = 1, 8 do
        local n = #f.activation + 1
        f.normalised_column[n], f.cell_group[n] = c / 8, grp
        f.time_point[n], f.time_step[n] = "time_" .. t, t
        f.activation[n] = 0.5 + 0.45 * math.cos(2 * math.pi * (c / 8 - 0.15 * t * g))
      end
    end
  end
  return ci.frame(f, { "normalised_column", "cell_group", "time_point", "activation", "time_step" })
end

local ROWS = { "ORN_a", "ORN_b", "ORN_c", "ORN_d", "ORN_e", "ORN_f", "ORN_g", "ORN_h" }
local function saliency()   -- 2 batches x 8 rows x 5 time steps, signed, one missing value
  local s = {}
  for b = 1, 2 do
    s[b] = {}
    for r = 1, 8 do
      s[b][r] = {}
      for t = 1, 5 do s[b][r][t] = math.sin(r * b * 0.9 + t) * math.exp(-t / 4) end
    end
  end
  s[1][2][3] = 0 / 0
  return s
end

local function heatmap_fig()
  return ci.plot_heatmap(ci.tensor(saliency()), { row_labels = ROWS, batch_names = { "odour A", "odour B" },
                                                  title = "Saliency", ylabel = "Sensory neuron",
                                                  cblabel = "Saliency" })
end

local function grid_fig()
  local x, coords = ci.make_grid_inputs({ 1, 0 }, { 0, 1 }, 2, { grid_size = 4 })
  local outputs = ci.zeros(#coords, 1, 2)
  for k = 1, #coords do
    local a, b = x:get(k, 1, 1), x:get(k, 2, 1)
    outputs:set(math.tanh(2 * a + b), k, 1, 1)
    outputs:set(math.tanh(2 * a * b), k, 1, 2)
  end
  return ci.plot_output_grid(outputs, coords, 1, { show_values = true })
end

local function multi_panel_fig()   -- ci.plot: 5 panels in 3 columns, lines, markers, a log axis
  local panels = {}
  for p = 1, 5 do
    local xs, ys = {}, {}
    for i = 1, 20 do xs[i], ys[i] = i, math.exp(-i / (2 * p)) + 0.01 end
    panels[p] = { title = "Panel " .. p, xlabel = "Step", ylabel = "Value", xint = true, logy = p == 5,
                  xrange = { 1, 20 }, yrange = p < 5 and { 0, 1.05 } or nil,
                  traces = { { name = "decay", x = xs, y = ys, mode = p % 2 == 0 and "markers" or "lines", color = p } } }
  end
  return ci.plot { title = "Five panels", panels = panels, cols = 3, panel_width = 320, panel_height = 240 }
end

local KINDS = {
  { "time series, one panel per batch, shared legend", 2, function()
      return ci.plot_timeseries(ts_frame(), { title = "Activation by odour", sizing = { fig_width = 420, fig_height = 300 } })
    end },
  { "activity by column, one panel per layer", 3, function()
      return ci.plot_activity_by_column(abc_frame(), { figsize = { 600, 420 } })
    end },
  { "scatter (activity by column, markers)", 3, function()
      return ci.plot_activity_by_column(abc_frame(), { plot_type = "scatter", figsize = { 600, 420 } })
    end },
  { "losses on a log scale, legend below", 1, function()
      local act, outr, inr = {}, {}, {}
      for k = 1, 60 do act[k], outr[k], inr[k] = 2 * math.exp(-k / 10) + 0.01, 0.05 * (1 - math.exp(-k / 20)), 0.1 end
      return ci.plot_losses({ act_loss = act, out_reg_losses = outr, in_reg_losses = inr }, { log = true })
    end },
  { "heat maps with row labels, two batches, a missing value", 2, heatmap_fig },
  { "grid figure with the values written on the cells", 2, grid_fig },
  { "multi-panel figure from ci.plot", 5, multi_panel_fig },
}

-- The mouse, driven by a script added to a copy of the page: it enters a panel,
-- moves to the data point (x, y) (placed through the panel's own axis scaling,
-- gnuplot.plot_*), and reads the panel's readout; then drags with the right
-- button from one point to another (a zoom), and presses Unzoom. The results go
-- into <pre id="ci_test"> as JSON, read back from Chromium's --dump-dom.
local MOUSE_JS = [==[
<pre id="ci_test"></pre>
<script>
window.addEventListener("load", function () {
  function pixels(cv) {   // a checksum of the canvas's pixels
    var d = cv.getContext("2d").getImageData(0, 0, cv.width, cv.height).data, h = 0;
    for (var i = 0; i < d.length; i += 7) h = (h * 31 + d[i]) % 1000000007;
    return h;
  }
  function at(cv, x, y) {   // data -> page coordinates in the active panel
    var g = gnuplot, r = cv.getBoundingClientRect();
    var px = g.plot_xmin + (x - g.plot_axis_xmin) / (g.plot_axis_xmax - g.plot_axis_xmin) * (g.plot_xmax - g.plot_xmin);
    var py = g.plot_ybot - (y - g.plot_axis_ymin) / (g.plot_axis_ymax - g.plot_axis_ymin) * (g.plot_ybot - g.plot_ytop);
    return { clientX: r.left + px, clientY: r.top + py, bubbles: true };
  }
  function ev(cv, type, p, button) {
    p.button = button || 0;
    cv.dispatchEvent(new MouseEvent(type, p));
  }
  function text(id) { var e = document.getElementById(id); return e ? e.textContent : null; }
  var res = { moves: [] };
  for (var k = 0; k < CI_MOVES.length; k++) {
    var m = CI_MOVES[k], name = "ci_panel_" + m[0], cv = document.getElementById(name);
    ev(cv, "mouseover", { bubbles: true });
    ev(cv, "mousemove", at(cv, m[1], m[2]));
    res.moves.push({ active: gnuplot.active_plot_name, x: text(name + "_x"), y: text(name + "_y"),
                     v: text(name + "_v") });
  }
  var z = CI_ZOOM, name = "ci_panel_" + z[0], cv = document.getElementById(name);
  ev(cv, "mouseover", { bubbles: true });
  var before = pixels(cv);
  ev(cv, "mousemove", at(cv, z[1], z[2]));
  ev(cv, "mousedown", at(cv, z[1], z[2]), 2);
  ev(cv, "mousemove", at(cv, z[3], z[4]), 2);
  ev(cv, "mouseup", at(cv, z[3], z[4]), 2);
  res.zoomed = gnuplot.zoomed;
  res.zoom = [gnuplot.zoom_axis_xmin, gnuplot.zoom_axis_xmax, gnuplot.zoom_axis_ymin, gnuplot.zoom_axis_ymax];
  res.zoom_redrew = pixels(cv) != before;
  document.querySelector(".ci-bar button").click();   // Unzoom
  res.unzoomed = !gnuplot.zoomed && pixels(cv) == before;
  document.getElementById("ci_test").textContent = JSON.stringify(res);
});
</script>
]==]

-- runs the mouse script on a copy of the page; moves = {{panel, x, y}...}, zoom =
-- {panel, x1, y1, x2, y2}; returns the JSON text
local function mouse_results(path, page, moves, zoom)
  local list = {}
  for i, m in ipairs(moves) do list[i] = fmt("[%d,%.9g,%.9g]", m[1], m[2], m[3]) end
  local js = fmt("<script>var CI_MOVES = [%s]; var CI_ZOOM = [%d,%.9g,%.9g,%.9g,%.9g];</script>",
                 table.concat(list, ","), zoom[1], zoom[2], zoom[3], zoom[4], zoom[5])
  local test_page = path:gsub("%.html$", "_mouse.html")
  write(test_page, (page:gsub("</body>", function() return js .. MOUSE_JS .. "</body>" end)))
  local dom = H.run_chromium(test_page, "--dump-dom")
  local json = dom:match('<pre id="ci_test">(.-)</pre>')
  assert.is_truthy(json and json ~= "", "the mouse script left no result (did the page run?)")
  return json:gsub("&quot;", '"'):gsub("&amp;", "&")
end

-- the readout is within a pixel or two of the point (Chromium rounds event
-- coordinates to whole pixels): tolerances of a few hundredths of the axis units
local function close(a, b, tol) return math.abs(a - b) <= tol end

-- the readouts of the mouse script's moves: {active =, x =, y =, v =}
local function moves_of(json)
  local moves = {}
  for active, x, y, v in json:gmatch('{"active":"([%w_]+)","x":"([^"]*)","y":"([^"]*)","v":"([^"]*)"}') do
    moves[#moves + 1] = { active = active, x = tonumber(x), y = tonumber(y), v = v }
  end
  return moves
end

describe("fig:save('f.html') without a browser", function()
  it("a missing canvas script names the Debian package, and no file is left", function()
    local saved = ci.plot.config.js_dir
    ci.plot.config.js_dir = "/no/such/gnuplot/js"
    local path = H.tmpbase() .. ".html"
    local ok, e = pcall(function() heatmap_fig():save(path) end)
    ci.plot.config.js_dir = saved
    assert.is_false(ok)
    assert.matches("ci.plot:save: gnuplot's canvas script '/no/such/gnuplot/js/canvasmath.js' is missing "
                   .. "%(install the Debian package gnuplot%-data", tostring(e))
    assert.is_nil(io.open(path, "rb"))
  end)

  it("one canvas per panel where the panel sits, the legend beside them, a readout under each", function()
    local fig = KINDS[1][3]()   -- 2 panels of 420 x 300 side by side, a legend on the right
    local path = H.tmpbase() .. ".html"
    fig:save(path)
    local page = H.slurp(path)
    os.remove(path)
    local boxes = canvases_of(page)
    assert.are.same({ "ci_panel_1", "ci_panel_2", "ci_legend" },
                    { boxes[1].name, boxes[2].name, boxes[3].name })
    local p1, p2, leg = boxes[1], boxes[2], boxes[3]
    assert.are.equal(p1.top, p2.top)
    assert.are.equal(p1.left + p1.width, p2.left)       -- side by side
    assert.is_true(leg.left >= p2.left + p2.width)      -- the legend on the right
    assert.are.equal(fig.width, leg.left + leg.width)
    for _, name in ipairs { "ci_panel_1_x", "ci_panel_1_y", "ci_panel_2_x", "ci_panel_2_y" } do
      assert.is_truthy(page:find('id="' .. name .. '"', 1, true), name)
    end
    assert.is_truthy(page:find("<title>Activation by odour</title>", 1, true))
    -- gnuplot drew each canvas: one function per canvas, called on load
    for _, name in ipairs { "ci_legend", "ci_panel_1", "ci_panel_2" } do
      assert.is_truthy(page:find("function " .. name .. "()", 1, true), name)
    end
  end)
end)

describe("fig:save('f.html') in headless Chromium", function()
  assert.is_truthy(H.chromium(), "chromium not found: `make deps` installs the Debian package chromium")

  for _, kind in ipairs(KINDS) do
    it(kind[1] .. ": every panel drawn, from a moved file", function()
      local fig = kind[3]()
      local path, page, dir = saved_and_moved(fig)
      assert.are.equal(kind[2], #fig.panels)
      assert_drawn(drawn(path, page), kind[2])
      os.execute("rm -rf " .. shell_quote(dir))
    end)
  end

  it("a page whose canvases stay blank fails the check", function()
    local path, page, dir = saved_and_moved(heatmap_fig())
    local blank = page:gsub('onload="ci_draw%(%)"', "")
    assert.are_not.equal(page, blank)
    write(path, blank)
    local res = drawn(path, blank)
    assert.are.equal(2, #res)   -- the two panels (a heat map has no legend)
    for _, r in ipairs(res) do
      assert.is_true(r.colour < 20 and r.ink < 100, fmt("%s: %d inked pixels on a blank canvas", r.name, r.ink))
    end
    assert.has_error(function() assert_drawn(res, 2) end)
    os.execute("rm -rf " .. shell_quote(dir))
  end)

  it("the mouse: each panel reads out its coordinates, a heat map its cell; right-drag zooms, Unzoom undoes", function()
    local path, page, dir = saved_and_moved(heatmap_fig())
    local sal = saliency()
    -- panel 2 (odour B) at cell row 3, column 4; panel 1 at its missing cell (row 2, column 3)
    local json = mouse_results(path, page, { { 2, 4, 3 }, { 1, 3, 2 } }, { 1, 1.5, 1.5, 4.5, 6.5 })
    local moves = moves_of(json)
    assert.are.equal(2, #moves, json)
    assert.are.equal("ci_panel_2", moves[1].active)
    assert.is_true(close(moves[1].x, 4, 0.06) and close(moves[1].y, 3, 0.06), json)
    local name, col, value = moves[1].v:match("^Sensory neuron (%S+), Time step (%d+): Saliency (%S+)$")
    assert.are.equal("ORN_c", name, moves[1].v)
    assert.are.equal("4", col)
    assert.is_true(close(tonumber(value), sal[2][3][4], 1e-3), moves[1].v)
    assert.are.equal("ci_panel_1", moves[2].active)
    assert.are.equal("Sensory neuron ORN_b, Time step 3: Saliency missing", moves[2].v)
    -- the zoom: x from 1.5 to 4.5, y (rows) from 1.5 to 6.5; the canvas redrawn, then back
    assert.is_truthy(json:find('"zoomed":true', 1, true), json)
    local z = { json:match('"zoom":%[([^,]+),([^,]+),([^,]+),([^%]]+)%]') }
    assert.are.equal(4, #z, json)
    assert.is_true(close(tonumber(z[1]), 1.5, 0.06) and close(tonumber(z[2]), 4.5, 0.06), json)
    assert.is_true(close(math.min(tonumber(z[3]), tonumber(z[4])), 1.5, 0.06)
                   and close(math.max(tonumber(z[3]), tonumber(z[4])), 6.5, 0.06), json)
    assert.is_truthy(json:find('"zoom_redrew":true', 1, true), json)
    assert.is_truthy(json:find('"unzoomed":true', 1, true), json)
    os.execute("rm -rf " .. shell_quote(dir))
  end)

  it("the mouse on a time series: the readout of each panel in its own axis units", function()
    local path, page, dir = saved_and_moved(KINDS[1][3]())
    local json = mouse_results(path, page, { { 1, 3, 0.5 }, { 2, 2, -0.25 } }, { 2, 1.5, -0.5, 4, 0.5 })
    local moves = moves_of(json)
    assert.are.equal(2, #moves, json)
    assert.are.equal("ci_panel_1", moves[1].active)
    assert.is_true(close(moves[1].x, 3, 0.05) and close(moves[1].y, 0.5, 0.02), json)
    assert.are.equal("", moves[1].v)   -- no cell readout on a trace panel
    assert.are.equal("ci_panel_2", moves[2].active)
    assert.is_true(close(moves[2].x, 2, 0.05) and close(moves[2].y, -0.25, 0.02), json)
    assert.is_truthy(json:find('"zoomed":true', 1, true), json)
    assert.is_truthy(json:find('"zoom_redrew":true', 1, true), json)
    assert.is_truthy(json:find('"unzoomed":true', 1, true), json)
    os.execute("rm -rf " .. shell_quote(dir))
  end)
end)
