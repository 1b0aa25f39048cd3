-- plot.lua: figures rendered by gnuplot (Debian's gnuplot-nox), never by our own
-- pixel drawing. A figure (ci.plot) holds its panels, traces and data; it writes
-- a gnuplot script whose data travel inline as datablocks ($P1T1 << EOD) and
-- pipes it to a gnuplot subprocess.
--
--   fig:save(path)     renders by extension: .png (pngcairo), .svg, .pdf (pdfcairo),
--                      .html (the canvas terminal: a page that needs no other file,
--                      with zoom and a mouse readout in each panel; plot_html.lua)
--   fig:show()         a window (wxt/qt/x11, whichever exists) when DISPLAY is set,
--                      else gnuplot's dumb terminal printed, sized to the terminal
--   fig:text{width=, height=}  the dumb terminal output as a string
--   fig:script()       the gnuplot script (without terminal/output lines)
--
-- Figure builders: ci.plot_timeseries, ci.plot_activity_by_column, ci.plot_losses,
-- ci.plot_heatmap; ci.plot(spec) builds a figure from panels directly.
--
-- Layout: a figure is a grid of panels of panel_w x panel_h pixels; the canvas
-- is cols * panel_w by rows * panel_h (plus nothing: the title band and the
-- shared legend are carved out of it). Every panel is placed with set origin /
-- set size inside one multiplot, and gnuplot computes each panel's margins.
-- A legend shared by the panels is drawn once, in a strip on the right (or
-- below the grid when it has many entries), with keyentry items, so it never
-- covers data. NaN values are written as NaN and skipped (set datafile missing).
--
-- Ticks are computed here, not left to gnuplot: indexed axes (neurons, rows,
-- layers, time steps, iterations) tick from 1, and every axis gets as many ticks
-- as its labels leave room for. Axes and colour bars are always labelled. The
-- dumb terminal cannot draw images, so a heat map there is written as shaded
-- characters with a key (image_dumb). Option tables are checked against the
-- declarations at the end of this file (cinterp.options), the tables inside them
-- (sizing, style, fonts) against O.fields.
--
-- The HTML page cannot be one multiplot: gnuplot's mouse code knows the axes of
-- the last plot only. Each panel, and the shared legend, is drawn by the canvas
-- terminal as its own JavaScript function onto its own <canvas>, placed where
-- the panel sits in the layout (html_boxes); heat maps are drawn `with
-- image pixels` there (one rectangle per cell: the canvas terminal would write
-- an image to an outside PNG and the browser would blur it).
--
-- gnuplot is run as `gnuplot SCRIPT 2>ERR` through io.popen; the script and the
-- error text go through two os.tmpname() files that are removed at once (LuaJIT's
-- pipe close() reports no exit status, so the status is echoed on stdout).
local util = require "cinterp.util"
local O = require "cinterp.options"

local M = {}
-- the declarations (at the end of the file), checked at the top of each function
local D = {}
local html = require "cinterp.plot_html"

local fmt, concat = string.format, table.concat
local floor, ceil, max, min, huge = math.floor, math.ceil, math.max, math.min, math.huge

local ci_ref   -- the ci table (for frames, tensors, activity_by_column)

-- ------------------------------------------------------------------ helpers

-- matplotlib's tab10: distinguishable, readable on white
local PALETTE = { "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                  "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf" }

local function color_of(i)
  return PALETTE[(i - 1) % #PALETTE + 1]
end

local function dash_of(i)      -- past the 10 colours, change the dash pattern
  return floor((i - 1) / #PALETTE) % 4 + 1
end

-- a gnuplot string: single-quoted (no escapes) unless it holds a ', then
-- double-quoted with \ and " escaped (gnuplot misreads a leading '' pair)
local function quote(s)
  s = tostring(s):gsub("[\r\n]+", " ")
  if not s:find("'", 1, true) then return "'" .. s .. "'" end
  return '"' .. (s:gsub('[\\"]', "\\%0")) .. '"'
end

local isfinite = util.is_finite

local function num(v)          -- a data cell
  if not isfinite(v) then return "NaN" end
  return fmt("%.9g", v)
end

local label_of = util.label_text

local function shorten(s, n)
  if #s <= n then return s end
  return s:sub(1, n - 3) .. "..."
end

-- sorted unique values, numbers before strings
local sorted_unique = util.sorted_unique

local function is_frame(x)
  return type(x) == "table" and ci_ref ~= nil and ci_ref.is_frame ~= nil and ci_ref.is_frame(x)
end

local function is_tensor(x)
  return ci_ref and ci_ref.is_tensor and ci_ref.is_tensor(x)
end


-- a tensor or nested Lua table -> flat array (row-major), shape
local function to_array(x, where, what)
  if is_tensor(x) and x.on_device ~= 0 then
    if not x.cpu then error(fmt("%s: %s lives on the GPU; move it to the host first", where, what), 3) end
    x = x:cpu()
  end
  if is_tensor(x) then
    local nd = tonumber(x.ndim)
    local shape, flat = {}, {}
    for i = 1, nd do shape[i] = tonumber(x.shape[i - 1]) end
    local n = tonumber(x.nel)
    local d = x.data
    for i = 1, n do flat[i] = tonumber(d[i - 1]) end
    return flat, shape
  end
  if type(x) ~= "table" then
    error(fmt("%s: %s must be a tensor or a Lua array, got %s", where, what, type(x)), 3)
  end
  local shape, flat = {}, {}
  local probe = x
  while type(probe) == "table" do
    shape[#shape + 1] = #probe
    probe = probe[1]
  end
  local function walk(v, depth)
    if depth > #shape then flat[#flat + 1] = tonumber(v) or (0 / 0); return end
    if type(v) ~= "table" or #v ~= shape[depth] then
      error(fmt("%s: %s is ragged (expected %d elements at depth %d)", where, what,
                shape[depth], depth), 4)
    end
    for i = 1, #v do walk(v[i], depth + 1) end
  end
  walk(x, 1)
  return flat, shape
end

local function range_of(arrays)
  local lo, hi = huge, -huge
  for _, a in ipairs(arrays) do
    for _, v in ipairs(a) do
      if isfinite(v) then
        if v < lo then lo = v end
        if v > hi then hi = v end
      end
    end
  end
  if lo > hi then return nil end
  return lo, hi
end

-- a padded y range: pad 4% of the span; a flat line gets +-0.5 (or 10%)
local function padded(lo, hi, fixed_lo, fixed_hi)
  if lo == nil then lo, hi = 0, 1 end
  if lo == hi then
    local d = (lo == 0) and 0.5 or math.abs(lo) * 0.1
    lo, hi = lo - d, hi + d
  else
    local d = (hi - lo) * 0.04
    lo, hi = lo - d, hi + d
  end
  if fixed_lo ~= nil then lo = fixed_lo end
  if fixed_hi ~= nil then hi = fixed_hi end
  return lo, hi
end

-- legend geometry: entries, metrics -> column width, line height
local function legend_metrics(entries, dumb, fs)
  local maxlen = 0
  for _, e in ipairs(entries) do maxlen = max(maxlen, #shorten(label_of(e.name), 32)) end
  if dumb then return maxlen + 9, 1 end
  return maxlen * fs * 0.8 + fs * 6, fs * 1.75
end

-- where the shared legend goes (right strip or band below) and its size, in
-- the figure's units (pixels; characters in the dumb terminal)
local function legend_layout(entries, W, H, title_h, dumb, fs)
  if not entries or #entries == 0 then return nil end
  local col_w, line_h = legend_metrics(entries, dumb, fs)
  local pad = dumb and 1 or fs
  local avail = H - title_h - 2 * pad
  local per_col = max(1, floor(avail / line_h))
  local ncol = ceil(#entries / per_col)
  local w = ncol * col_w + pad
  if w <= W * 0.34 then
    return { pos = "right", w = w, h = 0, ncol = ncol, per_col = min(per_col, #entries) }
  end
  ncol = max(1, floor((W - pad) / col_w))
  local nrow = ceil(#entries / ncol)
  return { pos = "below", w = 0, h = nrow * line_h + 2 * pad, ncol = ncol, per_col = nrow }
end

-- ------------------------------------------------------------------ figure

local Figure = {}
Figure.__index = Figure
M.Figure = Figure

local function check_size(where, name, v)
  if type(v) ~= "number" or v < 50 or v ~= floor(v) then
    error(fmt("%s: %s must be a whole number of pixels >= 50, got %s", where, name, tostring(v)), 3)
  end
end

-- spec: {title=, panels = {panel...}, cols=, panel_width=, panel_height=,
--        legend = {{name=, color=i, mode=}...} (shared), fonts = {base=, title=},
--        style = {font=, linecolor=, papercolor=, axislinewidth=, ticklen=, margin=}}
-- panel: {title=, xlabel=, ylabel=, xrange={lo,hi}, yrange={lo,hi}, logy=,
--         xint= (x counts 1, 2, ...: whole-number ticks from 1), xtics=, ytics= (gnuplot
--         text instead of the fitted ticks), traces = {{name=, x=, y=, mode=, color=i, key=bool}...},
--         image = {values=flat, nrow=, ncol=, rowlabels=, collabels=, cbrange={lo,hi},
--                  palette="diverging"|"sequential", cblabel=, yup= (row 1 at the bottom),
--                  show_values= (each cell's value written on it), value_format= ("%.2f")}}
-- The panels of a spec, checked: what ci.plot draws must be there and of the right
-- kind, so that a mistake is an error naming it, not a failure inside gnuplot's script.
local TRACE_MODES = { lines = true, markers = true, ["lines+markers"] = true }
local function check_panels(where, panels)
  local function bad(what, msg)   -- called from check_panels itself (the level is the user's)
    if what then error(fmt("%s: %s %s", where, what, msg), 4) end
  end
  local function numbers(what, a)   -- what is wrong with a list of numbers, or nil
    if type(a) ~= "table" then return what, "must be a Lua array of numbers, got " .. O.describe(a) end
    for i = 1, #a do
      if type(a[i]) ~= "number" then return fmt("%s[%d]", what, i), "must be a number, got " .. O.describe(a[i]) end
    end
  end

  for p, panel in ipairs(panels) do
    local pw = fmt("panels[%d]", p)
    if type(panel) ~= "table" then bad(pw, "must be a table {traces = ..., image = ...}, got " .. O.describe(panel)) end
    for t, tr in ipairs(panel.traces or {}) do
      local tw = fmt("%s.traces[%d]", pw, t)
      if type(tr) ~= "table" then bad(tw, "must be a table {x =, y =, ...}, got " .. O.describe(tr)) end
      bad(numbers(tw .. ".x", tr.x))
      bad(numbers(tw .. ".y", tr.y))
      if #tr.x ~= #tr.y then bad(tw, fmt("has %d x values and %d y values", #tr.x, #tr.y)) end
      if tr.mode ~= nil and not TRACE_MODES[tr.mode] then
        bad(tw .. ".mode", "must be \"lines\", \"markers\" or \"lines+markers\", got " .. O.describe(tr.mode))
      end
      if tr.color ~= nil and not (util.is_int(tr.color) and tr.color >= 1) then
        bad(tw .. ".color", "must be an integer >= 1 (a colour of the palette), got " .. O.describe(tr.color))
      end
    end
    local im = panel.image
    if im ~= nil then
      if type(im) ~= "table" then bad(pw .. ".image", "must be a table {values =, nrow =, ncol =}") end
      bad(numbers(pw .. ".image.values", im.values))
      if not (util.is_int(im.nrow) and util.is_int(im.ncol) and im.nrow >= 1 and im.ncol >= 1 and
              #im.values == im.nrow * im.ncol) then
        bad(pw .. ".image", "needs nrow and ncol >= 1 and nrow * ncol values (row-major)")
      end
    end
  end
end

local function new_figure(spec, where)
  where = where or "ci.plot"
  if spec == nil then error(where .. ": a figure needs a spec {panels = {...}, ...}", 3) end
  spec = O.check(D.plot, spec, 2, where)
  if spec.panels == nil or #spec.panels == 0 then
    error(where .. ": a figure needs at least one panel", 3)
  end
  check_panels(where, spec.panels)
  O.check(D.fonts, spec.fonts, 2, where)
  O.check(D.style, spec.style, 2, where)
  local n = #spec.panels
  local cols = spec.cols or (n <= 3 and n or ceil(math.sqrt(n)))
  if cols > n then cols = n end
  local rows = ceil(n / cols)
  local pw, ph = spec.panel_width, spec.panel_height
  check_size(where, "panel width", pw)
  check_size(where, "panel height", ph)
  local fig = setmetatable({
    title = spec.title, panels = spec.panels, cols = cols, rows = rows,
    panel_width = pw, panel_height = ph,
    width = spec.width or pw * cols, height = spec.height or ph * rows,
    legend = spec.legend, fonts = spec.fonts or {}, style = spec.style or {},
  }, Figure)
  if not spec.height then
    -- many legend entries below the grid: the canvas grows to hold them
    local fs, tfs = fig.fonts.base or 12, fig.fonts.title or 16
    local leg = legend_layout(fig.legend, fig.width, fig.height, fig.title and tfs * 2.2 or 0, false, fs)
    if leg and leg.pos == "below" and leg.h > fig.height * 0.25 then
      fig.height = fig.height + ceil(leg.h - fig.height * 0.25)
    end
  end
  check_size(where, "width", fig.width)
  check_size(where, "height", fig.height)
  return fig
end

-- the plot style of trace / legend entry number k: its colour and dash
-- pattern, and linetype k, which is what tells the traces apart (by character)
-- in the dumb terminal
local function with_clause(mode, k, opts)
  local lw = opts.linewidth or 2
  local ps = opts.pointsize or 0.8
  local lc = fmt("lt %d lc rgb '%s'", k, color_of(k))
  if mode == "markers" then
    return fmt("with points pt 7 ps %.3g %s", ps, lc)
  elseif mode == "lines+markers" then
    return fmt("with linespoints lw %.3g pt 7 ps %.3g dt %d %s", lw, ps, dash_of(k), lc)
  end
  return fmt("with lines lw %.3g dt %d %s", lw, dash_of(k), lc)
end

-- ------------------------------------------------------------------ ticks
-- Ticks are chosen here, not by gnuplot: its automatic tics ignore the width of
-- their labels (they overlap in narrow panels) and start at 0 on indexed axes.

local function char_width(fs, dumb) return dumb and 1 or fs * 0.62 end

-- ticks of an indexed axis 1..n (neurons, batches, layers): 1, then every
-- step-th index (1, 5, 10, ...), or 1, 3, 5, ... for step 2; never 0
local function index_ticks(n, step)
  local t = { 1 }
  for i = (step <= 2) and 1 + step or step, n, step do t[#t + 1] = i end
  return t
end

local INDEX_STEPS = { 1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000,
                      20000, 25000, 50000, 100000 }

-- the smallest step whose ticks 1..n fit in avail units, a tick needing
-- need(its label) units (its label's width plus a gap, or a line height)
local function index_step(n, avail, need)
  for _, step in ipairs(INDEX_STEPS) do
    local ticks, used = index_ticks(n, step), 0
    for _, i in ipairs(ticks) do used = used + need(i) end
    if used <= avail then return step end
  end
  return max(1, n)
end

-- the smallest nice step (1, 2, 2.5, 5 x 10^k; whole when integer) whose ticks
-- over [lo, hi] fit in avail units; returns the tick positions
local function fit_ticks(lo, hi, avail, need, integer)
  local span = hi - lo
  if not (isfinite(lo) and isfinite(hi)) or span <= 0 then return nil end
  local e = floor(math.log10(span)) - 2
  for k = e, e + 5 do
    for _, m in ipairs { 1, 2, 2.5, 5 } do
      local step = m * 10 ^ k
      if not integer or (step >= 1 and step == floor(step)) then
        local ticks, used = {}, 0
        local i0 = ceil(lo / step - 1e-9)
        for i = i0, floor(hi / step + 1e-9) do
          local v = i * step
          if math.abs(v) < step * 1e-9 then v = 0 end
          ticks[#ticks + 1] = v
          used = used + need(fmt("%g", v))
        end
        if used <= avail and #ticks >= 2 then return ticks end
      end
    end
  end
  return { lo, hi }
end

local function tics_list(ticks, labels)
  local items = {}
  for k, v in ipairs(ticks) do
    items[k] = (labels and (quote(labels[k]) .. " ") or "") .. fmt("%.10g", v)
  end
  return "(" .. concat(items, ", ") .. ")"
end

-- ------------------------------------------------------------------ heat maps

-- the image's ticks and labels of one axis: n cells, cell k centred at pos(k);
-- labels (or the 1-based cell number) thinned so that they fit in avail units
local function image_axis_ticks(n, labels, pos, avail, need)
  local text = function(k) return labels and shorten(label_of(labels[k]), 24) or label_of(k) end
  local step = index_step(n, avail, function(k) return need(text(k)) end)
  local ticks, names = {}, {}
  local list = labels and {} or index_ticks(n, step)
  if labels then for k = 1, n, step do list[#list + 1] = k end end
  for j, k in ipairs(list) do ticks[j], names[j] = pos(k), text(k) end
  return ticks, names
end

local DIVERGING = "set palette defined (0 '#2166ac', 0.5 '#f7f7f7', 1 '#b2182b')"
local SEQUENTIAL = "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')"

-- the colour of a cell's value label: white on the dark ends of the palette
local function value_label_colour(v, im)
  local lo, hi = im.cbrange[1], im.cbrange[2]
  local u = (hi > lo) and (v - lo) / (hi - lo) or 0.5
  local dark = (im.palette == "diverging") and math.abs(u - 0.5) > 0.32 or (im.palette ~= "diverging" and u < 0.55)
  return dark and "0xffffff" or "0x000000"
end

local function value_text(v, im) return isfinite(v) and fmt(im.value_format or "%.2f", v) or "NaN" end

-- how a matrix block of nr x nc cells is plotted: gnuplot's `with image` needs
-- at least 2 x 2 points, so data_blocks writes a single row (column) twice and
-- the two copies are placed at 0.75 and 1.25, which draws the one cell from 0.5
-- to 1.5 as any other
local function image_using(nr, nc)
  return fmt("(%s):(%s):3", nc == 1 and "$1*0.5+0.75" or "$1+1", nr == 1 and "$2*0.5+0.75" or "$2+1")
end

-- column labels that do not fit side by side are turned: by 30 degrees when each
-- label has room for it (adjacent turned labels stand spacing * sin(angle) apart,
-- which must hold a line of text), else upright (90 degrees), thinned as needed.
-- Both end at their tick, so a long label of the first columns reaches left of
-- the plot: rotated_left_room gives the room it needs left of the plot area.
local TURN_30_SPACING, TURN_90_SPACING = 3, 1.35   -- in font sizes
-- the right margin at 30 degrees: a tenth of the plot and this (font sizes)
local TURN_30_RIGHT = 4.8
local function rotated_left_room(ticks, names, x_of, angle, cwid, fs)
  local room = 0
  for j = 1, #ticks do
    -- cwid is a mean advance; a label of wide letters runs up to a tenth longer
    local extent = #names[j] * cwid * 1.1 * math.cos(math.rad(angle)) + fs * math.sin(math.rad(angle))
    room = max(room, extent - x_of(ticks[j]))
  end
  return room
end

-- the turned column labels of a heat map: 30 degrees when every label keeps its
-- room so, else upright when that shows more of them and leaves the plot 40% of
-- the panel's height (chh), else 30 degrees, thinned; returns the angle, the
-- ticks and their labels, and the left margin and plot width that leave the
-- first labels room
local function turned_labels(im, cw, chh, left0, right, cwid, fs)   -- cw: the panel's width
  local function try(angle)
    local spacing = fs * (angle == 30 and TURN_30_SPACING or TURN_90_SPACING)
    -- at 30 degrees the right margin is set as image_png sets it
    local function width(left) return angle == 30 and (cw - left - TURN_30_RIGHT * fs) / 1.1 or cw - left - right end
    local left, xt, xn = left0
    local plot_w = width(left)
    -- twice: the room the first labels need narrows the plot, which moves them
    for _ = 1, 2 do
      xt, xn = image_axis_ticks(im.ncol, im.collabels, function(k) return k end, plot_w, function() return spacing end)
      local room = rotated_left_room(xt, xn, function(k) return (k - 0.5) * plot_w / im.ncol end, angle, cwid, fs)
      if room <= left then break end
      left = room + fs
      plot_w = width(left)
    end
    return angle, xt, xn, left, plot_w
  end
  local a, xt, xn, left, plot_w = try(30)
  if #xt == im.ncol then return a, xt, xn, left, plot_w end
  local a90, xt90, xn90, left90, plot_w90 = try(90)
  local longest = 0
  for _, name in ipairs(xn90) do longest = max(longest, #name) end
  if #xt90 > #xt and longest * cwid + fs * 6 <= chh * 0.6 then return a90, xt90, xn90, left90, plot_w90 end
  return a, xt, xn, left, plot_w
end

-- a heat-map panel in a PNG / SVG / PDF: the matrix as an image, 1-based ticks
-- (or the row / column labels) thinned to fit, labelled axes and colour bar.
-- pixels: one filled rectangle per cell (the canvas terminal links an image to
-- an outside PNG file and lets the browser blur it; rectangles stay sharp and zoom).
-- box: the panel's left edge x0 (a screen fraction), its width and the terminal's
-- (term_w) in pixels, for margins set at screen positions.
local function image_png(out, plots, p, panel, cw, chh, fs, pixels, box)
  local function at(px) return fmt("at screen %.6f", box.x0 + px / box.term_w) end
  local im = panel.image
  if im.cbrange then out[#out + 1] = fmt("set cbrange [%s:%s]", num(im.cbrange[1]), num(im.cbrange[2])) end
  out[#out + 1] = im.palette == "diverging" and DIVERGING or SEQUENTIAL
  -- the canvas terminal's font is wider than gnuplot reckons: its colour-bar label moves out
  out[#out + 1] = "set cblabel " .. quote(im.cblabel or "Value") .. (pixels and " offset 1.5,0" or "")
  out[#out + 1] = fmt("set xrange [0.5:%d.5]", im.ncol)
  if im.yup then out[#out + 1] = fmt("set yrange [0.5:%d.5]", im.nrow)   -- row 1 at the bottom
  else out[#out + 1] = fmt("set yrange [%d.5:0.5]", im.nrow) end          -- row 1 on top
  out[#out + 1] = "unset grid"
  out[#out + 1] = "set tics front"
  local cwid = char_width(fs)
  -- rows: one label line each
  local maxrow = 0
  for r = 1, im.nrow do maxrow = max(maxrow, #(im.rowlabels and shorten(label_of(im.rowlabels[r]), 24) or label_of(r))) end
  local plot_h = chh - fs * ((panel.title and 2.6 or 1) + 4.5)
  -- named rows: as many names as fit; numbered rows: sparser, numbers are easy to interpolate
  local yt, yn = image_axis_ticks(im.nrow, im.rowlabels, function(k) return k end, plot_h,
                                  function() return fs * (im.rowlabels and 1.35 or 3) end)
  out[#out + 1] = "set ytics " .. tics_list(yt, yn)
  -- colour-bar ticks at nice values (gnuplot's own follow an odd range's digits)
  local cbt = fit_ticks(im.cbrange[1], im.cbrange[2], plot_h, function() return max(fs * 4, plot_h / 10) end, false)
  if cbt then out[#out + 1] = "set cbtics " .. tics_list(cbt) end
  out[#out + 1] = "set format cb '%g'"
  -- columns: horizontal labels when they fit, else turned (see rotated_left_room)
  local left = fs * (maxrow * 0.62 + 3.5)   -- the left margin gnuplot leaves for the rows' labels, or more
  local right = fs * 8                      -- the colour bar
  local plot_w = cw - left - right
  local xneed = function(s) return #s * cwid + fs * (im.collabels and 1.2 or 2) end
  local fits = index_step(im.ncol, plot_w, function(k)
    return xneed(im.collabels and shorten(label_of(im.collabels[k]), 24) or label_of(k))
  end) == 1
  if im.collabels and not fits then
    local angle, xt, xn, turned_left, turned_w = turned_labels(im, box.width, chh, left, right, cwid, fs)
    if turned_left > left then out[#out + 1] = "set lmargin " .. at(turned_left) end
    if angle == 30 then
      -- gnuplot takes turned labels to run right of their tick and narrows the plot
      -- when they would pass the figure's right edge; the right margin is set as
      -- gnuplot leaves it for the colour bar (a tenth of the plot, and 6 characters)
      out[#out + 1] = "set rmargin " .. at(box.width - 0.1 * turned_w - TURN_30_RIGHT * fs)
    end
    out[#out + 1] = fmt("set xtics rotate by %d right ", angle) .. tics_list(xt, xn)
  else
    local xt, xn = image_axis_ticks(im.ncol, im.collabels, function(k) return k end, plot_w, xneed)
    out[#out + 1] = "set xtics " .. tics_list(xt, xn)
  end
  plots[#plots + 1] = fmt("$P%dIMG matrix using %s with image%s notitle", p, image_using(im.nrow, im.ncol),
                          pixels and " pixels" or "")
  if im.show_values then
    plots[#plots + 1] = fmt("$P%dVAL using 1:2:3:4 with labels tc rgb variable font ',%d' notitle", p,
                            max(7, fs - 2))
  end
end

-- The heat map in gnuplot's dumb terminal, which draws no images: each character
-- of the plot area shows the cell under it (the mean of the cells it covers when
-- the matrix is larger than the area) as a shade of a character ramp, and a
-- key on the right gives each character's value (the colour bar). Margins are
-- set in whole characters so that every character cell is known.
local RAMP_SEQUENTIAL = " .:-=+*%#@"
local RAMP_DIVERGING = "=-. :+#"

local function dumb_level(v, lo, hi, nlev)
  if not isfinite(v) then return nlev + 1 end             -- '?': a missing value
  local u = (hi > lo) and (v - lo) / (hi - lo) or 0.5
  return min(nlev, max(1, floor(u * nlev) + 1))
end

-- block mean of the cells covered by character k of nchar over n cells
local function cell_span(k, nchar, n)
  if nchar >= n then
    local c = floor((k - 0.5) * n / nchar) + 1
    return c, c
  end
  return floor((k - 1) * n / nchar) + 1, max(floor((k - 1) * n / nchar) + 1, ceil(k * n / nchar))
end

local function image_dumb(out, plots, p, panel, box, W, H)
  local im = panel.image
  local ramp = im.palette == "diverging" and RAMP_DIVERGING or RAMP_SEQUENTIAL
  local nlev = #ramp
  local lo, hi = im.cbrange[1], im.cbrange[2]
  local function rowtext(r) return im.rowlabels and shorten(label_of(im.rowlabels[r]), 16) or label_of(r) end
  local maxrow = 0
  for r = 1, im.nrow do maxrow = max(maxrow, #rowtext(r)) end
  -- the key: the colour-bar label, then one line per level, highest on top
  local key = {}
  for l = nlev, 1, -1 do
    local mid = lo + (l - 0.5) * (hi - lo) / nlev
    key[#key + 1] = ramp:sub(l, l) .. " " .. fmt("%.3g", mid)
  end
  local cbl = shorten(im.cblabel or "Value", 16)
  local keyw = #cbl
  for _, s in ipairs(key) do keyw = max(keyw, #s) end
  local ylab = panel.ylabel and shorten(panel.ylabel, 24)
  local lm = maxrow + 2
  local rm = keyw + 3
  local tm = (panel.title and 2 or 1) + (ylab and 1 or 0)   -- the y label goes above the axis
  local bm = panel.xlabel and 3 or 2
  -- the box: integer character positions (x from the left, y from the bottom)
  local L, R = box.left + lm, box.right - rm
  local B, T = box.bottom + bm, box.top - tm
  if R - L < 4 then L, R = box.left + 1, box.right - 1 end
  if T - B < 3 then B, T = box.bottom, box.top end
  local nx, ny = R - L - 1, T - B - 1
  -- gnuplot truncates a margin's position to a character and rounds a label's:
  -- margins are given half a character in
  out[#out + 1] = fmt("set lmargin at screen %.8f", (L + 0.5) / (W - 1))
  out[#out + 1] = fmt("set rmargin at screen %.8f", (R + 0.5) / (W - 1))
  out[#out + 1] = fmt("set bmargin at screen %.8f", (B + 0.5) / (H - 1))
  out[#out + 1] = fmt("set tmargin at screen %.8f", (T + 0.5) / (H - 1))
  out[#out + 1] = fmt("set xrange [0:%d]", nx + 1)
  if im.yup then out[#out + 1] = fmt("set yrange [0:%d]", ny + 1)   -- character row 1 at the bottom
  else out[#out + 1] = fmt("set yrange [%d:0]", ny + 1) end          -- character row 1 on top
  out[#out + 1] = "unset grid"
  out[#out + 1] = "unset colorbox"
  if ylab then   -- above the axis (text cannot be turned in a terminal; beside the axis it eats the width)
    out[#out + 1] = "unset ylabel"
    out[#out + 1] = fmt("set label %s at screen %.8f,%.8f left", quote(ylab), max(0, L - maxrow - 1) / (W - 1),
                        (T + 1) / (H - 1))
  end
  if panel.title then   -- above the y label
    out[#out + 1] = "unset title"
    out[#out + 1] = fmt("set label %s at screen %.8f,%.8f center", quote(panel.title), ((L + R) / 2) / (W - 1),
                        (T + (ylab and 2 or 1)) / (H - 1))
  end
  out[#out + 1] = "set tics scale 0"
  local ypos = function(k) return 0.5 + (k - 0.5) * ny / im.nrow end
  local xpos = function(k) return 0.5 + (k - 0.5) * nx / im.ncol end
  local yt, yn = image_axis_ticks(im.nrow, im.rowlabels, ypos, ny, function() return 2 end)
  out[#out + 1] = "set ytics " .. tics_list(yt, yn)
  local xt, xn = image_axis_ticks(im.ncol, im.collabels, xpos, nx,
                                  function(s) return #shorten(s, 16) + 2 end)
  for k = 1, #xn do xn[k] = shorten(xn[k], 16) end
  out[#out + 1] = "set xtics " .. tics_list(xt, xn)
  -- the shading, one character per cell of the plot area
  local vals = im.values
  out[#out + 1] = fmt("$P%dTXT << EOD", p)
  local cellw = nx / im.ncol
  local values_fit = im.show_values
  if values_fit then
    for k = 1, #vals do if #value_text(vals[k], im) + 1 > cellw then values_fit = false end end
    if ny < im.nrow then values_fit = false end
  end
  if values_fit then
    -- the values themselves, centred in their cells
    for r = 1, im.nrow do
      for c = 1, im.ncol do
        out[#out + 1] = fmt('%.4f %.4f "%s"', xpos(c), ypos(r), value_text(vals[(r - 1) * im.ncol + c], im))
      end
    end
  else
    for ky = 1, ny do
      local r0, r1 = cell_span(ky, ny, im.nrow)
      for kx = 1, nx do
        local c0, c1 = cell_span(kx, nx, im.ncol)
        local s, cnt = 0, 0
        for r = r0, r1 do
          for c = c0, c1 do
            local v = vals[(r - 1) * im.ncol + c]
            if isfinite(v) then s, cnt = s + v, cnt + 1 end
          end
        end
        local lev = dumb_level(cnt > 0 and s / cnt or (0 / 0), lo, hi, nlev)
        if lev > nlev or ramp:sub(lev, lev) ~= " " then out[#out + 1] = fmt("%d %d %d", kx, ky, lev) end
      end
    end
  end
  out[#out + 1] = "EOD"
  if values_fit then
    plots[#plots + 1] = fmt("$P%dTXT using 1:2:3 with labels notitle", p)
  else
    out[#out + 1] = "RAMP = " .. quote(ramp .. "?")
    plots[#plots + 1] = fmt("$P%dTXT using 1:2:(substr(RAMP, $3, $3)) with labels notitle", p)
  end
  -- the key, in the right margin
  local kx = (R + 2) / (W - 1)
  out[#out + 1] = fmt("set label %s at screen %.8f,%.8f left", quote(cbl), kx, T / (H - 1))
  local rows_free = T - B
  local every = max(1, ceil(#key / max(1, rows_free)))
  local line = 1
  for k = 1, #key, every do
    out[#out + 1] = fmt("set label %s at screen %.8f,%.8f left", quote(key[k]), kx, (T - line) / (H - 1))
    line = line + 1
  end
end

-- ticks of a panel of traces: whole numbers from 1 on an indexed x axis (time
-- steps, iterations), else nice steps; as many as their labels leave room for
local function trace_ticks(out, panel, cw, chh, fs, dumb)
  local cwid = char_width(fs, dumb)
  local gap = dumb and 2 or fs * 2
  local plot_w = dumb and (cw - 12) or (cw - fs * 7.5)
  local plot_h = dumb and (chh - (panel.title and 5 or 4)) or (chh - fs * ((panel.title and 2.6 or 1) + 4.5))
  if panel.xtics then
    out[#out + 1] = "set xtics " .. panel.xtics
  elseif panel.xrange then
    local lo, hi = panel.xrange[1], panel.xrange[2]
    local ticks
    if panel.xint and ceil(lo) <= 1 and hi >= 1 then
      local n = floor(hi + 1e-9)
      ticks = index_ticks(n, index_step(n, plot_w, function(i) return #label_of(i) * cwid + gap end))
    else
      ticks = fit_ticks(lo, hi, plot_w, function(s) return #s * cwid + gap end, panel.xint)
    end
    if ticks then out[#out + 1] = "set xtics " .. tics_list(ticks) end
  end
  if panel.ytics then
    out[#out + 1] = "set ytics " .. panel.ytics
  elseif panel.yrange and not panel.logy then
    local ticks = fit_ticks(panel.yrange[1], panel.yrange[2], plot_h,
                            function() return dumb and 2 or fs * 2.2 end, false)
    if ticks then out[#out + 1] = "set ytics " .. tics_list(ticks) end
  end
end

-- the figure's geometry in the terminal's units (pixels; characters in the dumb
-- terminal): the title band, the shared legend, the margin, the panel cells
local function layout(self, W, H, dumb)
  local fs, tfs = self.fonts.base or 12, self.fonts.title or 16
  local title_h = 0
  if self.title then title_h = dumb and 2 or tfs * 2.2 end
  local leg = legend_layout(self.legend, W, H, title_h, dumb, fs)
  local leg_w, leg_h = leg and leg.w or 0, leg and leg.h or 0
  local m = dumb and 0 or (self.style.margin or 0)   -- blank pixels around the panels
  local grid_w, grid_h = W - leg_w - 2 * m, H - title_h - leg_h - 2 * m
  return { W = W, H = H, fs = fs, tfs = tfs, title_h = title_h, leg = leg, leg_w = leg_w, leg_h = leg_h,
           m = m, grid_w = grid_w, grid_h = grid_h, cw = grid_w / self.cols, chh = grid_h / self.rows }
end

-- the data blocks of every panel (a heat map's matrix only where gnuplot draws it)
local function data_blocks(self, out, dumb)
  for p, panel in ipairs(self.panels) do
    for t, tr in ipairs(panel.traces or {}) do
      out[#out + 1] = fmt("$P%dT%d << EOD", p, t)
      for i = 1, #tr.x do out[#out + 1] = num(tr.x[i]) .. " " .. num(tr.y[i]) end
      out[#out + 1] = "EOD"
    end
    local im = panel.image
    if im and not dumb then
      out[#out + 1] = fmt("$P%dIMG << EOD", p)
      for r = 1, im.nrow do   -- a single row or column twice (image_using)
        local line = {}
        for c = 1, im.ncol do line[#line + 1] = num(im.values[(r - 1) * im.ncol + c]) end
        if im.ncol == 1 then line[2] = line[1] end
        out[#out + 1] = concat(line, " ")
        if im.nrow == 1 then out[#out + 1] = concat(line, " ") end
      end
      out[#out + 1] = "EOD"
      if im.show_values then
        out[#out + 1] = fmt("$P%dVAL << EOD", p)
        for r = 1, im.nrow do
          for c = 1, im.ncol do
            local v = im.values[(r - 1) * im.ncol + c]
            out[#out + 1] = fmt('%d %d "%s" %s', c, r, value_text(v, im), value_label_colour(v, im))
          end
        end
        out[#out + 1] = "EOD"
      end
    end
  end
  out[#out + 1] = ""
end

-- the width kept free after a heat map's colour-bar label, before the next panel
local function panel_gap(panel, geo, dumb)
  return (panel.image and not dumb) and min(geo.fs * 2, geo.cw * 0.05) or 0
end

-- the commands of panel p (grid row r, column c, from 0), placed at origin
-- {x0, y0} with size {w, h} (screen fractions). to.dumb: the dumb terminal;
-- to.pixels: heat maps as one rectangle per cell (the canvas terminal)
local function panel_commands(self, out, p, r, c, geo, origin, size, to)
  local panel, dumb, fs = self.panels[p], to.dumb, geo.fs
  out[#out + 1] = fmt("# panel %d", p)
  out[#out + 1] = "reset"
  out[#out + 1] = "set datafile missing NaN"
  out[#out + 1] = fmt("set origin %.5f,%.5f", origin[1], origin[2])
  out[#out + 1] = fmt("set size %.5f,%.5f", size[1], size[2])
  out[#out + 1] = fmt("set border lw %.3g lc rgb '%s'", self.style.axislinewidth or 1.2,
                      self.style.linecolor or "#000000")
  out[#out + 1] = fmt("set tics nomirror out scale %.3g", (self.style.ticklen or 5) * 0.12)
  out[#out + 1] = "set grid lt 1 lc rgb '#e6e6e6' lw 1"
  if panel.title then
    out[#out + 1] = "set title " .. quote(panel.title) .. (dumb and "" or fmt(" font ',%d'", fs + 1))
  end
  if panel.xlabel then out[#out + 1] = "set xlabel " .. quote(panel.xlabel) end
  if panel.ylabel then out[#out + 1] = "set ylabel " .. quote(panel.ylabel) end
  if panel.xrange and not panel.image then
    out[#out + 1] = fmt("set xrange [%s:%s]", num(panel.xrange[1]), num(panel.xrange[2]))
  end
  if panel.yrange and not panel.image then
    out[#out + 1] = fmt("set yrange [%s:%s]", num(panel.yrange[1]), num(panel.yrange[2]))
  end
  if panel.logy then
    out[#out + 1] = "set logscale y"
    out[#out + 1] = 'set format y "%g"'   -- 1e-05, not 0.0000100
  end
  if dumb then out[#out + 1] = "unset grid" end

  local plots, leg = {}, geo.leg
  if panel.key then out[#out + 1] = panel.key
  elseif leg or not (panel.traces and panel.traces[1] and panel.traces[1].key) then
    out[#out + 1] = "unset key"
  else
    out[#out + 1] = "set key outside right top vertical Left reverse samplen 2"
  end
  if panel.image and not dumb then
    -- missing values show as grey, not as a colour of the scale
    out[#out + 1] = "set object 1 rectangle from graph 0,0 to graph 1,1 behind fc rgb '#bdbdbd' fs solid noborder"
  else
    out[#out + 1] = "unset object 1"
  end

  if panel.image and dumb then
    -- whole characters: gnuplot maps screen fraction f to character round(f * (W - 1))
    local W, H, cw, chh = geo.W, geo.H, geo.cw, geo.chh
    local box = { left = floor(c * cw + 0.5), right = floor((c + 1) * cw + 0.5) - 1,
                  top = floor(H - 1 - geo.title_h - r * chh + 0.5),
                  bottom = floor(H - 1 - geo.title_h - (r + 1) * chh + 0.5) + 1 }
    image_dumb(out, plots, p, panel, box, W, H)
  elseif panel.image then
    local term_w = to.width or geo.W
    image_png(out, plots, p, panel, geo.cw, geo.chh, fs, to.pixels,
              { x0 = origin[1], width = size[1] * term_w, term_w = term_w })
  else
    trace_ticks(out, panel, geo.cw, geo.chh, fs, dumb)
  end
  for t, tr in ipairs(panel.traces or {}) do
    local title = (tr.key and not leg) and (" title " .. quote((dumb and " " or "") .. shorten(label_of(tr.name), 32)))
                  or " notitle"
    plots[#plots + 1] = fmt("$P%dT%d using 1:2 ", p, t) .. with_clause(tr.mode, tr.color or t, tr) .. title
  end
  if #plots == 0 then plots[1] = "NaN notitle" end
  out[#out + 1] = "plot " .. concat(plots, ", \\\n     ")
end

-- the shared legend: a frameless plot of key entries, at origin {x0, y0} with size {w, h}
local function legend_commands(self, out, geo, origin, size, dumb)
  local leg = geo.leg
  out[#out + 1] = "# legend"
  out[#out + 1] = "reset"
  out[#out + 1] = fmt("set origin %.5f,%.5f", origin[1], origin[2])
  out[#out + 1] = fmt("set size %.5f,%.5f", size[1], size[2])
  out[#out + 1] = "unset border"
  out[#out + 1] = "unset tics"
  out[#out + 1] = "set lmargin 0\nset rmargin 0\nset tmargin 0\nset bmargin 0"
  out[#out + 1] = "set xrange [0:1]\nset yrange [0:1]"
  if leg.pos == "right" then
    out[#out + 1] = fmt("set key inside left top vertical Left reverse samplen 2 spacing 1.1 maxrows %d", leg.per_col)
  else
    out[#out + 1] = fmt("set key inside center top horizontal Left reverse samplen 2 spacing 1.1 maxcols %d", leg.ncol)
  end
  local items = { "NaN notitle" }
  for k, e in ipairs(self.legend) do
    items[#items + 1] = "keyentry " .. with_clause(e.mode, e.color or k, e)
                        .. " title " .. quote((dumb and " " or "") .. shorten(label_of(e.name), 32))
  end
  out[#out + 1] = "plot " .. concat(items, ", \\\n     ")
end

-- the body of the script: data blocks, then the multiplot
function Figure:script(opts)
  opts = O.check(D.script, opts, 2)
  local dumb = opts.dumb
  local geo = layout(self, opts.width or self.width, opts.height or self.height, dumb)
  local W, H, m, cw, chh = geo.W, geo.H, geo.m, geo.cw, geo.chh
  local out = { "# cinterp figure: " .. #self.panels .. " panel(s)",
                "set datafile missing NaN", "" }
  data_blocks(self, out, dumb)
  out[#out + 1] = "set multiplot" .. (self.title and (" title " .. quote(self.title)
                  .. (dumb and "" or fmt(" font ',%d'", geo.tfs))) or "")
  for p, panel in ipairs(self.panels) do
    local r, c = floor((p - 1) / self.cols), (p - 1) % self.cols
    local origin = { (m + c * cw) / W, (H - m - geo.title_h - (r + 1) * chh) / H }
    panel_commands(self, out, p, r, c, geo, origin, { (cw - panel_gap(panel, geo, dumb)) / W, chh / H },
                   { dumb = dumb })
  end
  local leg = geo.leg
  if leg then   -- beside / below the grid
    if leg.pos == "right" then
      legend_commands(self, out, geo, { (geo.grid_w + 2 * m) / W, geo.leg_h / H },
                      { geo.leg_w / W, (H - geo.title_h - geo.leg_h) / H }, dumb)
    else
      legend_commands(self, out, geo, { 0, 0 }, { 1, geo.leg_h / H }, dumb)
    end
  end
  out[#out + 1] = "unset multiplot"
  return concat(out, "\n") .. "\n"
end

-- ------------------------------------------------------------------ running gnuplot

-- gnuplot: the program; js_dir: the folder of gnuplot's canvas scripts (nil: ask gnuplot)
M.config = { gnuplot = os.getenv("CINTERP_GNUPLOT") or "gnuplot", js_dir = os.getenv("CINTERP_GNUPLOT_JS") }

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local found_cache = {}
local function gnuplot_cmd(where)
  local exe = M.config.gnuplot
  if found_cache[exe] == nil then
    local p = io.popen("command -v " .. shell_quote(exe) .. " 2>/dev/null")
    local s = p and p:read("*a") or ""
    if p then p:close() end
    found_cache[exe] = s:match("%S") ~= nil
  end
  if not found_cache[exe] then
    error(fmt("%s: gnuplot not found (looked for '%s'); install the Debian package gnuplot-nox",
              where, exe), 3)
  end
  return shell_quote(exe)
end

-- runs gnuplot on the script; returns its stdout; raises with gnuplot's message
-- (without a position: the public callers catch it and raise it at their caller)
local function run_gnuplot(script, where)
  local exe = gnuplot_cmd(where)
  local sfile, efile = os.tmpname(), os.tmpname()
  local f = assert(io.open(sfile, "wb"))
  f:write(script)
  f:close()
  local p = io.popen(exe .. " " .. shell_quote(sfile) .. " 2>" .. shell_quote(efile)
                     .. "; echo \"__cinterp_rc=$?\"", "r")
  local outp = p:read("*a")
  p:close()
  local errtext = html.slurp(efile) or ""
  os.remove(sfile)
  os.remove(efile)
  local rc = tonumber(outp:match("__cinterp_rc=(%d+)%s*$"))
  outp = outp:gsub("__cinterp_rc=%d+%s*$", "")
  if rc ~= 0 then
    errtext = errtext:gsub("%s+$", "")
    error(fmt("%s: gnuplot failed (exit %s): %s", where, tostring(rc),
              errtext ~= "" and errtext or "no message"), 0)
  end
  return outp, errtext
end
M._run_gnuplot = run_gnuplot

-- the terminal options of a figure: its font and background
local function term_options(f)
  return fmt("noenhanced font %s background '%s'", quote((f.style.font or "DejaVu Sans") .. "," .. (f.fonts.base or 12)),
             f.style.papercolor or "#ffffff")
end

-- terminal lines by extension
local TERMINALS = {
  png = function(f) return fmt("set terminal pngcairo size %d,%d ", f.width, f.height) .. term_options(f) end,
  svg = function(f) return fmt("set terminal svg size %d,%d ", f.width, f.height) .. term_options(f) end,
  pdf = function(f) return fmt("set terminal pdfcairo size %.4fin,%.4fin ", f.width / 72, f.height / 72) .. term_options(f) end,
  html = true,   -- html_page
}

-- the boxes (pixels, from the top left) of the HTML page's canvases: the panel
-- cells of the figure's layout, each with a readout line under it, and the legend
local function html_boxes(self)
  local geo = layout(self, self.width, self.height, false)
  local rb, m = html.READOUT_H, geo.m
  local round = function(v) return floor(v + 0.5) end
  local boxes = { geo = geo, panels = {}, height = self.height + self.rows * rb }
  for p = 1, #self.panels do
    local r, c = floor((p - 1) / self.cols), (p - 1) % self.cols
    local left, top = round(m + c * geo.cw), round(geo.title_h + m + r * (geo.chh + rb))
    boxes.panels[p] = { name = "ci_panel_" .. p, r = r, c = c, left = left, top = top,
                        width = round(m + (c + 1) * geo.cw) - left, height = round(geo.chh) }
  end
  local leg = geo.leg
  if leg and leg.pos == "right" then
    local left = round(geo.grid_w + 2 * m)
    boxes.legend = { left = left, top = round(geo.title_h), width = self.width - left,
                     height = boxes.height - round(geo.title_h) }
  elseif leg then
    local top = round(geo.title_h + geo.grid_h + 2 * m + self.rows * rb)
    boxes.legend = { left = 0, top = top, width = self.width, height = boxes.height - top }
  end
  return boxes
end

-- the script of the HTML page: each panel, and the legend, drawn by the canvas
-- terminal as a JavaScript function (named after its canvas) written to stdout
local function canvas_script(self, boxes)
  local geo = boxes.geo
  local out = { "# cinterp figure for a web page: " .. #self.panels .. " panel(s)",
                "set datafile missing NaN", "" }
  data_blocks(self, out, false)
  local function terminal(name, b)
    out[#out + 1] = fmt("set terminal canvas name '%s' size %d,%d ", name, b.width, b.height) .. term_options(self)
    out[#out + 1] = "set output"
  end
  if boxes.legend then
    terminal("ci_legend", boxes.legend)
    legend_commands(self, out, geo, { 0, 0 }, { 1, 1 }, false)
  end
  for p, b in ipairs(boxes.panels) do
    terminal(b.name, b)
    panel_commands(self, out, p, b.r, b.c, geo, { 0, 0 },
                   { (b.width - panel_gap(self.panels[p], geo, false)) / b.width, 1 }, { pixels = true, width = b.width })
  end
  return concat(out, "\n") .. "\n"
end

-- the HTML page of the figure (see plot_html.lua)
local function html_page(self, where)
  local boxes = html_boxes(self)
  local js = run_gnuplot(canvas_script(self, boxes), where)
  local panels = {}
  for p, b in ipairs(boxes.panels) do
    local panel = self.panels[p]
    panels[p] = { name = b.name, left = b.left, top = b.top, width = b.width, height = b.height,
                  title = panel.title, image = panel.image, xlabel = panel.xlabel, ylabel = panel.ylabel }
  end
  return html.page(where, html.js_dir(where, M.config.js_dir, run_gnuplot), {
    title = self.title, paper = self.style.papercolor, width = self.width, height = boxes.height,
    title_h = floor(boxes.geo.title_h + 0.5), title_size = boxes.geo.tfs, panels = panels,
    legend = boxes.legend, js = js })
end

function Figure:save(path)
  local where = "ci.plot:save"
  if type(path) ~= "string" or path == "" then
    error(where .. ": path must be a file name ending in .png, .svg, .pdf or .html", 2)
  end
  local ext = (path:match("%.([%a]+)$") or ""):lower()
  local term = TERMINALS[ext]
  if not term then
    error(fmt("%s: cannot tell the format of '%s' (use .png, .svg, .pdf or .html)", where, path), 2)
  end
  gnuplot_cmd(where)
  local dir = path:match("^(.*)/[^/]*$")
  local existed = io.open(path, "rb")
  if existed then existed:close() end
  local probe = io.open(path, "ab")
  if not probe then
    if dir and dir ~= "" then
      local d = io.open(dir, "rb")
      if not d then
        error(fmt("%s: the output folder '%s' does not exist (path '%s')", where, dir, path), 2)
      end
      d:close()
    end
    error(fmt("%s: cannot write '%s'", where, path), 2)
  end
  probe:close()
  local ok, err = pcall(function()
    if ext == "html" then
      local page = html_page(self, where)
      local f = assert(io.open(path, "wb"))
      f:write(page)
      f:close()
    else
      run_gnuplot(term(self) .. "\n" .. "set output " .. quote(path) .. "\n" .. self:script() .. "set output\n", where)
    end
  end)
  if not ok then
    if not existed then os.remove(path) end
    error(err, 2)
  end
  return path
end

local function terminal_size()
  local cols, lines = tonumber(os.getenv("COLUMNS")), tonumber(os.getenv("LINES"))
  if not (cols and lines) then
    local p = io.popen("stty size 2>/dev/null </dev/tty")
    local s = p and p:read("*a") or ""
    if p then p:close() end
    local r, c = s:match("(%d+)%s+(%d+)")
    lines = lines or tonumber(r)
    cols = cols or tonumber(c)
  end
  if not cols or cols < 20 then cols = 80 end
  if not lines or lines < 10 then lines = 24 end
  return cols, lines
end
M.terminal_size = terminal_size

-- the figure drawn by gnuplot's dumb terminal, as a string
function Figure:text(opts)
  opts = O.check(D.text, opts)
  local w, h = opts.width, opts.height
  if not (w and h) then
    local c, l = terminal_size()
    w, h = w or c, h or (l - 1)
  end
  local body = self:script { dumb = true, width = w, height = h }
  local script = fmt("set terminal dumb size %d,%d noenhanced\nset output\n", w, h) .. body
  local ok, res = pcall(run_gnuplot, script, "ci.plot:text")
  if not ok then error(res, 2) end
  return (res:gsub("\f", ""))
end

local window_term_cache
local function window_terminal()
  if window_term_cache == nil then
    window_term_cache = false
    local ok, out = pcall(run_gnuplot, "set print '-'\nprint GPVAL_TERMINALS\n", "ci.plot:show")
    if ok then
      for _, t in ipairs { "wxt", "qt", "x11" } do
        if (" " .. out .. " "):find("[%s]" .. t .. "[%s]") then window_term_cache = t; break end
      end
    end
  end
  return window_term_cache
end

function Figure:show()
  local display = os.getenv("DISPLAY")
  local term = display and display ~= "" and window_terminal()
  if term then
    local exe = gnuplot_cmd("ci.plot:show")
    local script = fmt("set terminal %s size %d,%d ", term, self.width, self.height) .. term_options(self) .. "\n"
                   .. self:script()
    local p = io.popen(exe .. " -persist", "w")
    p:write(script)
    p:close()
    return self
  end
  io.write(self:text())
  io.flush()
  return self
end

Figure.__tostring = function(fig)
  return fmt("ci.plot figure: %d panel(s) in %dx%d, %dx%d px%s", #fig.panels, fig.rows, fig.cols,
             fig.width, fig.height, fig.title and (", '" .. fig.title .. "'") or "")
end

function Figure:ntraces()
  local n = 0
  for _, p in ipairs(self.panels) do n = n + #(p.traces or {}) end
  return n
end

-- ------------------------------------------------------------------ plot_timeseries

local function frame_col(df, name)
  if df:has_column(name) then return df:col(name) end
  return nil
end

-- the seed's sizing and style keys (plotly's names) and their defaults
local TS_SIZING = { fig_width = 600, fig_height = 400, fig_margin = 0, fsize_ticks_pt = 12, fsize_title_pt = 16,
                    markersize = 8, ticklen = 5, tickwidth = 1, axislinewidth = 1.5, markerlinewidth = 1 }
local TS_STYLE = { font_type = "DejaVu Sans", linecolor = "black", papercolor = "#ffffff" }

-- a plotly colour ("rgba(255,255,255,255)", "rgb(0,0,0)") as gnuplot's '#rrggbb'; names
-- and '#rrggbb' pass through
local function gp_colour(where, what, v)
  if type(v) ~= "string" then error(fmt("%s: %s must be a colour string, got %s", where, what, type(v)), 4) end
  local r, g, b = v:match("^%s*rgba?%(%s*(%d+)%s*,%s*(%d+)%s*,%s*(%d+)")
  if r then return fmt("#%02x%02x%02x", min(255, tonumber(r)), min(255, tonumber(g)), min(255, tonumber(b))) end
  return v
end

-- the time columns of a timeseries frame in the order of their number (x), and
-- each row's values over them (ys[r])
local function timeseries_values(df, where)
  local tcols = {}
  for _, name in ipairs(df:columns()) do
    local k = name:match("^time_(%-?%d+)$")
    if k then tcols[#tcols + 1] = { name = name, t = tonumber(k) } end
  end
  table.sort(tcols, function(a, b) return a.t < b.t end)
  if #tcols == 0 then error(where .. ": df has no 'time_*' columns", 3) end
  local x = {}
  for i, tc in ipairs(tcols) do x[i] = tc.t end
  local ys = {}
  for r = 1, df:nrow() do
    local y = {}
    for i, tc in ipairs(tcols) do y[i] = tonumber(df:col(tc.name)[r]) or (0 / 0) end
    ys[r] = y
  end
  return x, ys
end

-- the panels of a timeseries figure and their legend: one panel per value of
-- `outer` (the slider's column) with a colour per value of `inner`, or, without
-- a slider, one panel with a colour per trace name (rows sharing a name share it).
-- t: x, ys, outer, inner, group, batch, trace (the style of every line), base_panel.
local function timeseries_panels(t)
  local panels, legend = {}, {}
  local x, ys, outer, inner, group, batch = t.x, t.ys, t.outer, t.inner, t.group, t.batch
  local function trace_of(r, name, colour)
    local tr = { name = name, x = x, y = ys[r], color = colour }
    for k, v in pairs(t.trace) do tr[k] = v end
    return tr
  end
  local function legend_entry(name, colour)
    local e = { name = name, color = colour }
    for k, v in pairs(t.trace) do e[k] = v end
    return e
  end
  if outer then
    local inner_vals, inner_index = {}, {}
    if inner then
      inner_vals = sorted_unique(inner)
      for i, v in ipairs(inner_vals) do inner_index[v] = i end
    end
    local idx = {}
    for i, v in ipairs(sorted_unique(outer)) do
      idx[v] = i
      panels[i] = t.base_panel(label_of(v))
    end
    for r = 1, #ys do
      local p = panels[idx[outer[r]]]
      local iv = inner and inner[r] or outer[r]
      p.traces[#p.traces + 1] = trace_of(r, iv, inner and inner_index[iv] or 1)
    end
    if inner then
      for i, v in ipairs(inner_vals) do legend[i] = legend_entry(v, i) end
    end
    return panels, legend
  end
  -- one panel; the batch goes into the trace names only when there are
  -- several (one batch is named in the panel title instead)
  local batches = batch and sorted_unique(batch) or {}
  panels[1] = t.base_panel(#batches == 1 and label_of(batches[1]) or nil)
  local colour = {}
  for r = 1, #ys do
    local name = group[r]
    if #batches > 1 then name = label_of(batch[r]) .. " / " .. label_of(group[r]) end
    if not colour[name] then
      legend[#legend + 1] = legend_entry(name, #legend + 1)
      colour[name] = #legend
    end
    panels[1].traces[r] = trace_of(r, name, colour[name])
  end
  return panels, legend
end

function M.plot_timeseries(df, opts)
  local where = "ci.plot_timeseries"
  opts = O.check(D.timeseries, opts)
  local sizing = O.check(D.sizing, opts.sizing, 2, where)   -- defaults filled (TS_SIZING)
  local style = O.check(D.ts_style, opts.style, 2, where)   -- defaults filled (TS_STYLE)
  for _, k in ipairs { "tickwidth", "markerlinewidth" } do
    if sizing[k] ~= TS_SIZING[k] then
      error(fmt("%s: sizing.%s cannot be drawn by gnuplot (%s); leave it at %g", where, k,
                k == "tickwidth" and "its tics take the axis line width, set axislinewidth"
                or "its markers are filled discs without an outline", TS_SIZING[k]), 2)
    end
  end
  -- the seed's default slider_dim is 'batch'; an explicit nil can't be seen in a
  -- Lua table, so `slider_dim = false` (or "none") means no slider
  local slider = opts.slider_dim
  if slider == false or slider == "none" then slider = nil end
  if type(df) == "table" and not is_frame(df) and ci_ref and ci_ref.frame then
    df = ci_ref.frame(df)
  end
  if not is_frame(df) then error(where .. ": df must be a frame (ci.frame)", 2) end
  local mode = opts.scatter_mode
  local x, ys = timeseries_values(df, where)
  local group = frame_col(df, "group")
  if not group then error(where .. ": df needs a 'group' column", 2) end
  local batch = frame_col(df, "batch_name")
  if not batch and slider == "batch" then slider = nil end
  local lo, hi = range_of(ys)
  local ylo, yhi = padded(lo, hi, opts.ymin, opts.ymax)
  local xlo, xhi = x[1], x[#x]
  if xlo == xhi then xlo, xhi = xlo - 0.5, xhi + 0.5
  elseif mode ~= "lines" then   -- room for the end markers
    xlo, xhi = xlo - 0.02 * (xhi - xlo), xhi + 0.02 * (xhi - xlo)
  end

  local outer, inner
  if slider == "batch" then outer, inner = batch, group
  elseif slider == "group" then outer, inner = group, batch
  else outer, inner = nil, group end
  if slider == "group" and not batch then inner = nil end

  local panels, legend = timeseries_panels{
    x = x, ys = ys, outer = outer, inner = inner, group = group, batch = batch,
    trace = { mode = mode, linewidth = 2, pointsize = sizing.markersize / 10 },
    base_panel = function(title)
      return { title = title, xlabel = opts.x_label, ylabel = opts.y_label,
               xrange = { xlo, xhi }, yrange = { ylo, yhi }, xint = true, traces = {} }
    end,
  }
  local fig = new_figure({
    title = opts.title, panels = panels, legend = legend,
    panel_width = floor(sizing.fig_width + 0.5), panel_height = floor(sizing.fig_height + 0.5),
    fonts = { base = sizing.fsize_ticks_pt, title = sizing.fsize_title_pt },
    style = { font = style.font_type, linecolor = gp_colour(where, "style.linecolor", style.linecolor),
              papercolor = gp_colour(where, "style.papercolor", style.papercolor),
              axislinewidth = sizing.axislinewidth * 0.8, ticklen = sizing.ticklen, margin = sizing.fig_margin },
  }, where)
  fig.kind = "timeseries"
  return fig
end

-- ------------------------------------------------------------------ plot_activity_by_column

local function by_column_frame(where, activity, idx_to_group, idx_to_column, selected_group, opts)
  if is_frame(activity) then return activity end
  if not (ci_ref and ci_ref.activity_by_column) then
    error(where .. ": ci.activity_by_column is not available; pass its frame as the first argument", 3)
  end
  return ci_ref.activity_by_column(activity, idx_to_group, idx_to_column, selected_group,
                                   { model_input = opts.model_input, sensory_indices = opts.sensory_indices })
end

-- plot_activity_by_column(activity, idx_to_group, idx_to_column, selected_group, opts)
-- or plot_activity_by_column(frame, opts) with activity_by_column's frame
local function string_keys_only(t)
  if type(t) ~= "table" or next(t) == nil then return false end
  for k in pairs(t) do if type(k) ~= "string" then return false end end
  return true
end

function M.plot_activity_by_column(activity, idx_to_group, idx_to_column, selected_group, opts)
  local where = "ci.plot_activity_by_column"
  if is_frame(activity) and opts == nil and idx_to_column == nil and selected_group == nil
     and not is_frame(idx_to_group) and string_keys_only(idx_to_group) then
    opts, idx_to_group = idx_to_group, nil     -- plot_activity_by_column(frame, opts)
  end
  opts = O.check(D.by_column, opts)
  local plot_type = opts.plot_type
  local df = by_column_frame(where, activity, idx_to_group, idx_to_column, selected_group, opts)
  for _, c in ipairs { "normalised_column", "cell_group", "activation", "time_step" } do
    if not df:has_column(c) then error(fmt("%s: the frame needs a '%s' column", where, c), 2) end
  end
  local figsize = opts.figsize
  local ncol, grp, act, ts = df:col("normalised_column"), df:col("cell_group"), df:col("activation"), df:col("time_step")
  -- groups in order of first appearance (the seed's unique()), times sorted
  local groups, gidx = {}, {}
  for _, g in ipairs(grp) do
    if not gidx[g] then groups[#groups + 1] = g; gidx[g] = #groups end
  end
  local times = sorted_unique(ts)
  local lo, hi = range_of { act }
  local ymin = opts.global_min or min(0, lo or 0)
  local ymax = opts.global_max or max(1, hi or 1)
  local pad = (ymax - ymin) * 0.03
  local xlo, xhi = range_of { ncol }
  xlo, xhi = min(0, xlo or 0), max(1, xhi or 1)
  local mode = plot_type == "scatter" and "markers" or "lines+markers"
  local panels = {}
  for pi, t in ipairs(times) do
    local traces = {}
    for gi, g in ipairs(groups) do
      local pts = {}
      for r = 1, #ts do
        if ts[r] == t and grp[r] == g then pts[#pts + 1] = { ncol[r], act[r] } end
      end
      table.sort(pts, function(a, b) return a[1] < b[1] end)
      local xs, ys = {}, {}
      for k, pt in ipairs(pts) do xs[k], ys[k] = pt[1], pt[2] end
      traces[gi] = { name = g, x = xs, y = ys, mode = mode, color = gi, linewidth = 2,
                     pointsize = plot_type == "scatter" and 1 or 0.7 }
    end
    -- time step 0 is the model input, t >= 1 the activations of layer t
    local title = (t == 0) and "Input" or (type(t) == "number" and "Layer " .. label_of(t) or label_of(t))
    panels[pi] = { title = title, xlabel = "Normalised column",
                   ylabel = "Activation value", traces = traces,
                   xrange = { xlo - 0.03 * (xhi - xlo), xhi + 0.03 * (xhi - xlo) },
                   yrange = { opts.global_min and ymin or ymin - pad, opts.global_max and ymax or ymax + pad } }
  end
  local legend = {}
  for gi, g in ipairs(groups) do legend[gi] = { name = g, color = gi, mode = mode, linewidth = 2, pointsize = 0.8 } end
  local n = #panels
  local cols = n <= 3 and n or ceil(math.sqrt(n))
  local rows = ceil(n / cols)
  local fig = new_figure({
    title = opts.title, panels = panels, legend = legend, cols = cols,
    panel_width = opts.panel_width or (n == 1 and figsize[1] or max(320, floor(figsize[1] / min(cols, 2)))),
    panel_height = opts.panel_height or (n == 1 and figsize[2] or max(240, floor(figsize[2] / min(rows, 2)))),
    fonts = { base = opts.font_size, title = 15 },
  }, where)
  fig.kind = "activity_by_column"
  return fig
end

-- ------------------------------------------------------------------ plot_losses

local LOSS_ORDER = { "act_loss", "out_reg_losses", "in_reg_losses",
                     "loss", "mse_loss", "param_reg_loss", "val_loss" }
local LOSS_NAMES = { act_loss = "activation loss", out_reg_losses = "output regularisation",
                     in_reg_losses = "input regularisation", loss = "total loss",
                     mse_loss = "activation loss (train)", param_reg_loss = "parameter regularisation",
                     val_loss = "validation loss" }

-- plot_losses(t, opts): t holds named lists (act_loss, out_reg_losses,
-- in_reg_losses of activation_maximisation, or train_model's history);
-- opts: log (log-scale y), title, xlabel, ylabel, width, height, names = {key=label}
function M.plot_losses(t, opts)
  local where = "ci.plot_losses"
  opts = O.check(D.losses, opts)
  if type(t) ~= "table" then error(where .. ": expected a table of loss lists", 2) end
  local keys, used = {}, {}
  for _, k in ipairs(LOSS_ORDER) do
    if t[k] ~= nil then keys[#keys + 1] = k; used[k] = true end
  end
  local extra = {}
  for k, v in pairs(t) do
    if type(k) == "string" and not used[k] and (type(v) == "table" or is_tensor(v)) then extra[#extra + 1] = k end
  end
  table.sort(extra)
  for _, k in ipairs(extra) do keys[#keys + 1] = k end
  if #keys == 0 then error(where .. ": no loss lists found (expected act_loss, loss, ... keys)", 2) end
  local traces, legend = {}, {}
  local dropped = {}
  for _, k in ipairs(keys) do
    local ys = to_array(t[k], where, "t." .. k)
    local y, any = {}, false
    for i = 1, #ys do
      local v = ys[i]
      if opts.log and isfinite(v) and v <= 0 then v = 0 / 0 end
      y[i] = v
      if isfinite(v) then any = true end
    end
    if any then
      local xs = {}
      for i = 1, #y do xs[i] = i end
      local c = #traces + 1
      local name = (opts.names and opts.names[k]) or LOSS_NAMES[k] or k
      traces[c] = { name = name, x = xs, y = y, mode = #y <= 30 and "lines+markers" or "lines",
                    color = c, linewidth = 2, pointsize = 0.6, key = true }
      legend[c] = { name = name, color = c, mode = traces[c].mode, linewidth = 2, pointsize = 0.6 }
    else
      dropped[#dropped + 1] = k
    end
  end
  local ys = {}
  local n = 1
  for i, tr in ipairs(traces) do ys[i] = tr.y; n = max(n, #tr.y) end
  local panel = { xlabel = opts.xlabel, ylabel = opts.ylabel, traces = traces,
                  logy = opts.log, xrange = { 1, max(n, 2) } }
  panel.xint = true
  if not opts.log then
    local lo, hi = range_of(ys)
    local a, b = padded(lo, hi)
    if lo and lo >= 0 then a = max(a, 0) end
    panel.yrange = { a, b }
  end
  local fig = new_figure({ title = opts.title, panels = { panel }, legend = legend,
                           panel_width = opts.width, panel_height = opts.height,
                           fonts = { base = opts.font_size, title = 15 } }, where)
  fig.kind, fig.dropped = "losses", dropped
  return fig
end

-- ------------------------------------------------------------------ plot_heatmap

-- plot_heatmap(x, opts): x is (rows x time) or (batch x rows x time);
-- opts: row_labels, col_labels (instead of numbered rows / columns), batch_names, title,
-- xlabel ('Time step'), ylabel ('Row'), cblabel ('Value'), palette ('diverging' |
-- 'sequential'; default diverging when the values have both signs), cbrange = {lo, hi},
-- panel_width, panel_height, cols (panels per row), font_size
function M.plot_heatmap(x, opts)
  local where = "ci.plot_heatmap"
  opts = O.check(D.heatmap, opts)
  local flat, shape = to_array(x, where, "tensor")
  local nb, nr, nc
  if #shape == 2 then nb, nr, nc = 1, shape[1], shape[2]
  elseif #shape == 3 then nb, nr, nc = shape[1], shape[2], shape[3]
  else error(fmt("%s: expected a 2-d (rows x time) or 3-d (batch x rows x time) tensor, got %d-d", where, #shape), 2) end
  if nr == 0 or nc == 0 or nb == 0 then error(where .. ": the tensor is empty", 2) end
  if opts.row_labels and #opts.row_labels ~= nr then
    error(fmt("%s: row_labels has %d labels, expected %d (one per row)", where, #opts.row_labels, nr), 2)
  end
  if opts.col_labels and #opts.col_labels ~= nc then
    error(fmt("%s: col_labels has %d labels, expected %d (one per column)", where, #opts.col_labels, nc), 2)
  end
  local lo, hi = range_of { flat }
  lo, hi = lo or 0, hi or 1
  local palette = opts.palette or ((lo < 0 and hi > 0) and "diverging" or "sequential")
  local cb = opts.cbrange
  if not cb then
    if palette == "diverging" then
      local m = max(math.abs(lo), math.abs(hi))
      if m == 0 then m = 1 end
      cb = { -m, m }
    else
      cb = { lo, hi > lo and hi or lo + 1 }
    end
  end
  local panels = {}
  for b = 1, nb do
    local vals = {}
    for i = 1, nr * nc do vals[i] = flat[(b - 1) * nr * nc + i] end
    local title
    if nb > 1 then
      title = opts.batch_names and label_of(opts.batch_names[b]) or ("Batch " .. b)
    end
    panels[b] = { title = title, xlabel = opts.xlabel, ylabel = opts.ylabel,
                  image = { values = vals, nrow = nr, ncol = nc, rowlabels = opts.row_labels, collabels = opts.col_labels,
                            cbrange = cb, palette = palette, cblabel = opts.cblabel } }
  end
  local maxlab = 0
  for _, l in ipairs(opts.row_labels or {}) do maxlab = max(maxlab, #shorten(label_of(l), 24)) end
  local pw = opts.panel_width or max(440, min(900, 200 + nc * 18 + maxlab * 7))
  local ph = opts.panel_height or max(340, min(900, 120 + nr * 16))
  local fig = new_figure({ title = opts.title, panels = panels, panel_width = pw, panel_height = ph,
                           cols = opts.cols, fonts = { base = opts.font_size, title = 15 } }, where)
  fig.kind = "heatmap"
  return fig
end

-- ------------------------------------------------------------------ declarations (help, docs/API.md)

local TOPIC = "Figures"
local PIXELS = "integer >= 50"
local SIZE = O.checker("a finite number >= 0", function(v) return isfinite(v) and v >= 0 end)

D.fonts = O.fields{ name = "spec.fonts", opts = {
  { "base", "number > 0", 12, "the font size of labels and ticks (points)" },
  { "title", "number > 0", 16, "the font size of the figure's title" } } }
D.style = O.fields{ name = "spec.style", opts = {
  { "font", "string", "DejaVu Sans", "the font's name" },
  { "linecolor", "string", "#000000", "the colour of the axes" },
  { "papercolor", "string", "#ffffff", "the background" },
  { "axislinewidth", SIZE, 1.2, "the width of the axes" },
  { "ticklen", SIZE, 5, "the length of the ticks" },
  { "margin", SIZE, 0, "blank pixels around the panels" } } }
D.sizing = O.fields{ name = "opts.sizing", opts = {
  { "fig_width", SIZE, TS_SIZING.fig_width, "pixels per panel, across" },
  { "fig_height", SIZE, TS_SIZING.fig_height, "pixels per panel, down" },
  { "fig_margin", SIZE, TS_SIZING.fig_margin, "blank pixels around the panels" },
  { "fsize_ticks_pt", SIZE, TS_SIZING.fsize_ticks_pt, "the font size of labels and ticks" },
  { "fsize_title_pt", SIZE, TS_SIZING.fsize_title_pt, "the font size of the title" },
  { "markersize", SIZE, TS_SIZING.markersize, "the marker size (plotly's units)" },
  { "ticklen", SIZE, TS_SIZING.ticklen, "the length of the ticks" },
  { "tickwidth", SIZE, TS_SIZING.tickwidth, "must stay 1: gnuplot's ticks take the axis line width" },
  { "axislinewidth", SIZE, TS_SIZING.axislinewidth, "the width of the axes" },
  { "markerlinewidth", SIZE, TS_SIZING.markerlinewidth, "must stay 1: gnuplot's markers have no outline" } } }
D.ts_style = O.fields{ name = "opts.style", opts = {
  { "font_type", "string", TS_STYLE.font_type, "the font's name" },
  { "linecolor", "string", TS_STYLE.linecolor, "the axes' colour (a name, '#rrggbb' or plotly's 'rgb(r,g,b)')" },
  { "papercolor", "string", TS_STYLE.papercolor, "the background (as linecolor; 'rgba(...)' too)" } } }

O.class{ prefix = "fig", var = "fig", name = "ci.plot", methods = Figure, topic = TOPIC,
  is = function(v) return type(v) == "table" and getmetatable(v) == Figure end,
  doc = [[A figure (ci.plot and the plot_* functions) holds panels of traces or heat maps and is
  drawn by gnuplot: fig:save(path) writes PNG, SVG, PDF or an HTML page, fig:show() a window or
  text in the terminal, fig:text() that text, fig:script() the gnuplot script.]] }

local TRACE = 'local fig = ci.plot{panels = {{traces = {{x = {1, 2, 3}, y = {1, 4, 9}, name = "y"}}}}}\n'
D.plot = O.declare{ name = "ci.plot", topic = TOPIC, opts_name = "spec", aliases = { "ci.plot.new" },
  doc = [[A figure from a spec: panels of traces or images, a shared legend, a title, rendered
  through gnuplot. A panel is {title=, xlabel=, ylabel=, xrange = {lo, hi}, yrange=, logy=,
  traces = {{x =, y =, name =, mode = "lines"|"markers"|"lines+markers", color = k, key =}},
  image = {values = flat row-major, nrow =, ncol =, rowlabels =, collabels =, cbrange =,
  palette = "diverging"|"sequential", cblabel =, show_values =}}; a trace without color takes
  its position's colour. The plot_* functions build their figures through it.]],
  signature = "ci.plot(spec) -> fig",
  opts = {
    { "panels", "array", nil, "the panels (see above)", default_text = "required" },
    { "title", "string", nil, "the figure's title" },
    { "cols", "integer >= 1", nil, "panels per row", default_text = "up to 3, then about the square root" },
    { "panel_width", PIXELS, 600, "pixels per panel, across" },
    { "panel_height", PIXELS, 400, "pixels per panel, down" },
    { "width", PIXELS, nil, "the canvas' width", default_text = "cols x panel_width" },
    { "height", PIXELS, nil, "the canvas' height", default_text = "rows x panel_height, more for a long legend" },
    { "legend", "array", nil, "a legend shared by the panels: {{name =, color = k, mode =}, ...}" },
    { "fonts", "table", nil, "{base = 12, title = 16}: font sizes" },
    { "style", "table", nil, "{font =, linecolor =, papercolor =, axislinewidth =, ticklen =, margin =}" },
  },
  returns = "fig",
  example = TRACE .. O.dedent[[print(fig:ntraces(), fig:script():find("plot %$P1T1") ~= nil)  --> 1 true
  print(tostring(ci.plot.new{panels = {{}}, title = "t"}))  --> ci.plot figure: 1 panel(s) in 1x1, 600x400 px, 't']] }

D.save = O.declare{ name = "fig:save", where = "ci.plot:save", topic = TOPIC,
  doc = [[Renders the figure into a file by its extension: .png (pngcairo), .svg, .pdf (pdfcairo), or
  .html (a page drawn by gnuplot's canvas terminal, with zoom and a mouse readout in each panel,
  needing no other file). A file it could not finish is removed.]],
  args = { { "path", "string", "ends in .png, .svg, .pdf or .html" } }, returns = "path",
  example = TRACE .. O.dedent[[local path = os.tmpname() .. ".svg"
  print(fig:save(path) == path, io.open(path):read("*a"):find("<svg") ~= nil)  --> true true
  os.remove(path); os.remove((path:gsub("%.svg$", "")))]] }
O.declare{ name = "fig:show", topic = TOPIC,
  doc = [[Shows the figure: in a window (wxt, qt or x11) when DISPLAY is set, else drawn as text in
  the terminal (fig:text at the terminal's size).]],
  returns = "fig",
  example = TRACE .. O.dedent[[print(type(fig.show))  --> function]] }
D.text = O.declare{ name = "fig:text", where = "ci.plot:text", topic = TOPIC,
  doc = [[The figure drawn by gnuplot's dumb terminal, as a string of characters (heat maps shaded
  with a key of characters).]],
  opts = { { "width", "integer >= 20", nil, "characters across", default_text = "the terminal's" },
           { "height", "integer >= 10", nil, "lines", default_text = "the terminal's, less one" } },
  returns = "string",
  example = TRACE .. O.dedent[[local text = fig:text{width = 40, height = 12}
  print(#text:gsub("[^\n]", "") >= 10)  --> true]] }
D.script = O.declare{ name = "fig:script", where = "ci.plot:script", topic = TOPIC,
  doc = "The gnuplot script of the figure, its data inline, without the terminal and output lines.",
  opts = { { "dumb", "boolean", false, "the script for the dumb terminal (characters)" },
           { "width", "number > 0", nil, "the canvas' width", default_text = "the figure's" },
           { "height", "number > 0", nil, "the canvas' height", default_text = "the figure's" } },
  returns = "string",
  example = TRACE .. O.dedent[[print(fig:script():match("^# cinterp figure: 1 panel"))  --> # cinterp figure: 1 panel]] }
O.declare{ name = "fig:ntraces", topic = TOPIC, doc = "The number of traces over all panels.", returns = "integer",
  example = TRACE .. O.dedent[[print(fig:ntraces())  --> 1]] }

local TS_FRAME = 'local df = ci.get_neuron_activation(ci.tensor{{0, 0.5, 1}, {1, 0.5, 0}}, {1, 2}, ' ..
                 '{idx_to_group = {"a", "b"}})\n'
D.timeseries = O.declare{ name = "ci.plot_timeseries", topic = TOPIC,
  doc = [[Line plots of activations over time from a frame of get_neuron_activation (columns
  [batch_name,] group, time_1 ...): one trace per group, a panel per batch (or per group with
  slider_dim = "group") where the reference animates a slider; slider_dim = false puts every
  trace in one panel.]],
  args = { { "df", "frame", "columns [batch_name,] group, time_1 ..." } },
  opts = {
    { "style", "table", nil, "{font_type =, linecolor =, papercolor =} (the seed's keys)" },
    { "sizing", "table", nil, "{fig_width =, fig_height =, fig_margin =, fsize_ticks_pt =, fsize_title_pt =, " ..
      "markersize =, ticklen =, axislinewidth =} (the seed's keys)" },
    { "x_label", "string", "Time", "the x axis label" },
    { "y_label", "string", "Activation", "the y axis label" },
    { "title", "string", nil, "the title" },
    { "slider_dim", { "batch", "group", "none", false }, "batch", "a panel per value of this column (false or \"none\": one panel)" },
    { "ymin", "number", nil, "the y range's lower end", default_text = "the data's, padded" },
    { "ymax", "number", nil, "the y range's upper end", default_text = "the data's, padded" },
    { "scatter_mode", { "lines", "markers", "lines+markers" }, "lines", "how the traces are drawn" },
  },
  returns = "fig",
  example = TS_FRAME .. O.dedent[[local fig = ci.plot_timeseries(df, {slider_dim = false, x_label = "Layer"})
  print(fig:ntraces(), fig.panels[1].xlabel)  --> 2 Layer]] }

D.by_column = O.declare{ name = "ci.plot_activity_by_column", topic = TOPIC,
  doc = [[The figure of activity_by_column: activation by normalised column, a panel per time step
  (the input first, when model_input is given), one trace per cell group. Also
  ci.plot_activity_by_column(frame, opts) with activity_by_column's frame.]],
  args = { { "activity", "tensor|frame", "(n, T), or activity_by_column's frame" },
           { "idx_to_group", "table", "as activity_by_column" }, { "idx_to_column", "table", "as activity_by_column" },
           { "selected_group", "any", "as activity_by_column" } },
  opts = {
    { "plot_type", { "line", "scatter" }, "line", "lines with markers, or markers only" },
    { "model_input", "tensor|table", nil, "as activity_by_column" },
    { "sensory_indices", "array|tensor", nil, "as activity_by_column" },
    { "figsize", "array", { 800, 600 }, "{width, height} in pixels" },
    { "global_min", "number", nil, "the y range's lower end", default_text = "min(0, the data's)" },
    { "global_max", "number", nil, "the y range's upper end", default_text = "max(1, the data's)" },
    { "title", "string", "Neural activity by column", "the title" },
    { "panel_width", PIXELS, nil, "pixels per panel", default_text = "from figsize" },
    { "panel_height", PIXELS, nil, "pixels per panel", default_text = "from figsize" },
    { "font_size", "number > 0", 12, "the base font size" },
  },
  returns = "fig",
  example = [[local acts = ci.tensor{{1, 0}, {0.5, 1}, {0.25, 0.25}}
  local fig = ci.plot_activity_by_column(acts, {"EPG", "EPG", "PEN"}, {1, 2, 1}, "EPG")
  print(#fig.panels, fig.panels[1].title)  --> 2 Layer 1]] }

D.losses = O.declare{ name = "ci.plot_losses", topic = TOPIC,
  doc = [[Loss curves from named lists: act_loss, out_reg_losses, in_reg_losses of
  activation_maximisation, history's keys of train_model, or any other name; lists with no finite
  value are left out (fig.dropped).]],
  args = { { "t", "table", "{name = {values...} or a tensor, ...}" } },
  opts = {
    { "log", "boolean", false, "a log-scale y axis (values <= 0 left out)" },
    { "title", "string", "Losses", "the title" },
    { "xlabel", "string", "Iteration", "the x axis label" },
    { "ylabel", "string", "Loss", "the y axis label" },
    { "width", PIXELS, 700, "pixels" },
    { "height", PIXELS, 420, "pixels" },
    { "names", "table", nil, "{key = label}: legend entries instead of the built-in names" },
    { "font_size", "number > 0", 12, "the base font size" },
  },
  returns = "fig",
  example = [[local fig = ci.plot_losses({act_loss = {3, 2, 1.5}, val_loss = {0 / 0}}, {names = {act_loss = "mine"}})
  print(fig:ntraces(), fig.legend[1].name, fig.dropped[1])  --> 1 mine val_loss]] }

D.heatmap = O.declare{ name = "ci.plot_heatmap", topic = TOPIC,
  doc = [[A heat map of a (rows, columns) or (batch, rows, columns) tensor or nested Lua array, a
  panel per batch; ticks count from 1 unless labels are given, missing values are grey.]],
  args = { { "x", "tensor|table", "(rows, T) or (B, rows, T)" } },
  opts = {
    { "row_labels", "array", nil, "a label per row" },
    { "col_labels", "array", nil, "a label per column" },
    { "batch_names", "array", nil, "panel titles", default_text = "Batch 1 .. B (several batches)" },
    { "title", "string", nil, "the title" },
    { "xlabel", "string", "Time step", "the x axis label" },
    { "ylabel", "string", "Row", "the y axis label" },
    { "cblabel", "string", "Value", "the colour bar's label" },
    { "palette", { "diverging", "sequential" }, nil, "colours", default_text = "diverging when the values change sign" },
    { "cbrange", "array", nil, "{lo, hi} of the colour bar", default_text = "the data's (symmetric when diverging)" },
    { "panel_width", PIXELS, nil, "pixels", default_text = "from the columns and labels" },
    { "panel_height", PIXELS, nil, "pixels", default_text = "from the rows" },
    { "cols", "integer >= 1", nil, "panels per row" },
    { "font_size", "number > 0", 11, "the base font size" },
  },
  returns = "fig",
  example = [[local fig = ci.plot_heatmap(ci.tensor{{1, -1}, {0.5, 0}}, {row_labels = {"a", "b"}})
  print(fig.panels[1].image.palette, fig.panels[1].xlabel)  --> diverging Time step]] }

-- ------------------------------------------------------------------ install

return function(ci)
  ci_ref = ci
  ci._plot = M
  ci.plot = setmetatable({ Figure = Figure, config = M.config, new = new_figure },
                         { __call = function(_, spec) return new_figure(spec, "ci.plot") end })
  ci.plot_timeseries = M.plot_timeseries
  ci.plot_activity_by_column = M.plot_activity_by_column
  ci.plot_losses = M.plot_losses
  ci.plot_heatmap = M.plot_heatmap
end
