-- plot.lua: figures rendered by gnuplot (Debian's gnuplot-nox), never by our own
-- pixel drawing. A figure (ci.plot) holds its panels, traces and data; it writes
-- a gnuplot script whose data travel inline as datablocks ($P1T1 << EOD) and
-- pipes it to a gnuplot subprocess.
--
--   fig:save(path)     renders by extension: .png (pngcairo), .svg, .pdf (pdfcairo)
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
-- gnuplot is run as `gnuplot SCRIPT 2>ERR` through io.popen; the script and the
-- error text go through two os.tmpname() files that are removed at once (LuaJIT's
-- pipe close() reports no exit status, so the status is echoed on stdout).
local util = require "cinterp.util"

local M = {}

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

local function quote(s)        -- a gnuplot single-quoted string ('' escapes ')
  s = tostring(s):gsub("[\r\n]+", " "):gsub("'", "''")
  return "'" .. s .. "'"
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
  return maxlen * fs * 0.75 + fs * 5, fs * 1.75
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
--        legend = {{name=, color=i, mode=}...} (shared), fonts = {base=, title=}}
-- panel: {title=, xlabel=, ylabel=, xrange={lo,hi}, yrange={lo,hi}, logy=,
--         xtics_step=, traces = {{name=, x=, y=, mode=, color=i, key=bool}...},
--         image = {values=flat, nrow=, ncol=, rowlabels=, cbrange={lo,hi},
--                  palette="diverging"|"sequential", cblabel=}}
local function new_figure(spec, where)
  where = where or "ci.plot"
  if type(spec) ~= "table" or type(spec.panels) ~= "table" or #spec.panels == 0 then
    error(where .. ": a figure needs at least one panel", 3)
  end
  local n = #spec.panels
  local cols = spec.cols or (n <= 3 and n or ceil(math.sqrt(n)))
  if cols > n then cols = n end
  local rows = ceil(n / cols)
  local pw, ph = spec.panel_width or 600, spec.panel_height or 400
  check_size(where, "panel width", pw)
  check_size(where, "panel height", ph)
  local fig = setmetatable({
    title = spec.title, panels = spec.panels, cols = cols, rows = rows,
    panel_width = pw, panel_height = ph,
    width = spec.width or pw * cols, height = spec.height or ph * rows,
    legend = spec.legend, fonts = spec.fonts or {},
    mode = spec.mode,
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

local function with_clause(mode, color, dash, opts)
  local lw = opts.linewidth or 2
  local ps = opts.pointsize or 0.8
  local lc = fmt("lc rgb '%s'", color)
  if mode == "markers" then
    return fmt("with points pt 7 ps %.3g %s", ps, lc)
  elseif mode == "lines+markers" then
    return fmt("with linespoints lw %.3g pt 7 ps %.3g dt %d %s", lw, ps, dash, lc)
  end
  return fmt("with lines lw %.3g dt %d %s", lw, dash, lc)
end

-- the body of the script: data blocks, then the multiplot
function Figure:script(opts)
  opts = opts or {}
  local dumb = opts.dumb
  local W, H = opts.width or self.width, opts.height or self.height
  local fs = self.fonts.base or 12
  local tfs = self.fonts.title or 16
  local out = { "# cinterp figure: " .. #self.panels .. " panel(s)",
                "set datafile missing NaN", "" }
  -- data blocks
  for p, panel in ipairs(self.panels) do
    for t, tr in ipairs(panel.traces or {}) do
      out[#out + 1] = fmt("$P%dT%d << EOD", p, t)
      for i = 1, #tr.x do out[#out + 1] = num(tr.x[i]) .. " " .. num(tr.y[i]) end
      out[#out + 1] = "EOD"
    end
    if panel.image then
      local im = panel.image
      out[#out + 1] = fmt("$P%dIMG << EOD", p)
      for r = 1, im.nrow do
        local line = {}
        for c = 1, im.ncol do line[c] = num(im.values[(r - 1) * im.ncol + c]) end
        out[#out + 1] = concat(line, " ")
      end
      out[#out + 1] = "EOD"
    end
  end
  out[#out + 1] = ""

  -- geometry (screen fractions); in the dumb terminal 1 unit = 1 character
  local title_h = 0
  if self.title then title_h = dumb and 2 or tfs * 2.2 end
  local leg = legend_layout(self.legend, W, H, title_h, dumb, fs)
  local leg_w, leg_h = leg and leg.w or 0, leg and leg.h or 0
  local grid_w, grid_h = W - leg_w, H - title_h - leg_h
  local cw, chh = grid_w / self.cols, grid_h / self.rows

  out[#out + 1] = "set multiplot" .. (self.title and (" title " .. quote(self.title)
                  .. (dumb and "" or fmt(" font ',%d'", tfs))) or "")
  for p, panel in ipairs(self.panels) do
    local r = floor((p - 1) / self.cols)
    local c = (p - 1) % self.cols
    local x0 = c * cw / W
    local y0 = (H - title_h - (r + 1) * chh) / H
    out[#out + 1] = fmt("# panel %d", p)
    out[#out + 1] = "reset"
    out[#out + 1] = "set datafile missing NaN"
    out[#out + 1] = fmt("set origin %.5f,%.5f", x0, y0)
    out[#out + 1] = fmt("set size %.5f,%.5f", cw / W, chh / H)
    out[#out + 1] = "set border lw 1.2"
    out[#out + 1] = "set tics nomirror out scale 0.6"
    out[#out + 1] = "set grid lt 1 lc rgb '#e6e6e6' lw 1"
    if panel.title then
      out[#out + 1] = "set title " .. quote(panel.title) .. (dumb and "" or fmt(" font ',%d'", fs + 1))
    end
    if panel.xlabel then out[#out + 1] = "set xlabel " .. quote(panel.xlabel) end
    if panel.ylabel then out[#out + 1] = "set ylabel " .. quote(panel.ylabel) end
    if panel.xrange then out[#out + 1] = fmt("set xrange [%s:%s]", num(panel.xrange[1]), num(panel.xrange[2])) end
    if panel.yrange then out[#out + 1] = fmt("set yrange [%s:%s]", num(panel.yrange[1]), num(panel.yrange[2])) end
    if panel.logy then
      out[#out + 1] = "set logscale y"
      out[#out + 1] = 'set format y "%g"'   -- 1e-05, not 0.0000100
    end
    if panel.xtics_step then out[#out + 1] = fmt("set xtics %s", num(panel.xtics_step)) end
    if panel.xtics then out[#out + 1] = "set xtics " .. panel.xtics end
    if panel.ytics then out[#out + 1] = "set ytics " .. panel.ytics end
    if dumb then out[#out + 1] = "unset grid" end

    local plots = {}
    if panel.key then out[#out + 1] = panel.key
    elseif leg or not (panel.traces and panel.traces[1] and panel.traces[1].key) then
      out[#out + 1] = "unset key"
    else
      out[#out + 1] = "set key outside right top vertical Left reverse samplen 2"
    end
    if panel.image then
      -- missing values show as grey, not as a colour of the scale
      out[#out + 1] = "set object 1 rectangle from graph 0,0 to graph 1,1 behind fc rgb '#bdbdbd' fs solid noborder"
    else
      out[#out + 1] = "unset object 1"
    end

    if panel.image then
      local im = panel.image
      if im.cbrange then out[#out + 1] = fmt("set cbrange [%s:%s]", num(im.cbrange[1]), num(im.cbrange[2])) end
      if im.palette == "diverging" then
        out[#out + 1] = "set palette defined (0 '#2166ac', 0.5 '#f7f7f7', 1 '#b2182b')"
      else
        out[#out + 1] = "set palette defined (0 '#440154', 0.25 '#3b528b', 0.5 '#21918c', 0.75 '#5ec962', 1 '#fde725')"
      end
      if im.cblabel then out[#out + 1] = "set cblabel " .. quote(im.cblabel) end
      out[#out + 1] = fmt("set xrange [0.5:%d.5]", im.ncol)
      out[#out + 1] = fmt("set yrange [%d.5:0.5]", im.nrow)   -- row 1 on top
      out[#out + 1] = "unset grid"
      out[#out + 1] = "set tics front"
      if im.rowlabels then
        local step = max(1, ceil(im.nrow / max(1, floor(chh / ((dumb and 1 or fs) * 1.3)))))
        local tics = {}
        for rr = 1, im.nrow, step do
          tics[#tics + 1] = quote(shorten(label_of(im.rowlabels[rr]), 24)) .. " " .. rr
        end
        out[#out + 1] = "set ytics (" .. concat(tics, ", ") .. ")"
      end
      if im.collabels then
        local tics = {}
        for cc = 1, im.ncol do tics[cc] = quote(shorten(label_of(im.collabels[cc]), 24)) .. " " .. cc end
        out[#out + 1] = "set xtics rotate by 30 right (" .. concat(tics, ", ") .. ")"
      elseif im.ncol <= 25 then out[#out + 1] = "set xtics 1" end
      plots[#plots + 1] = fmt("$P%dIMG matrix using ($1+1):($2+1):3 with image notitle", p)
    end
    for t, tr in ipairs(panel.traces or {}) do
      local title = (tr.key and not leg) and (" title " .. quote(shorten(label_of(tr.name), 32))) or " notitle"
      plots[#plots + 1] = fmt("$P%dT%d using 1:2 ", p, t)
                          .. with_clause(tr.mode, color_of(tr.color), dash_of(tr.color), tr) .. title
    end
    if #plots == 0 then plots[1] = "NaN notitle" end
    out[#out + 1] = "plot " .. concat(plots, ", \\\n     ")
  end
  if leg then
    -- the shared legend: a frameless panel of key entries beside / below the grid
    local x0, y0, w, h
    if leg.pos == "right" then
      x0, y0, w, h = grid_w / W, leg_h / H, leg_w / W, (H - title_h - leg_h) / H
    else
      x0, y0, w, h = 0, 0, 1, leg_h / H
    end
    out[#out + 1] = "# legend"
    out[#out + 1] = "reset"
    out[#out + 1] = fmt("set origin %.5f,%.5f", x0, y0)
    out[#out + 1] = fmt("set size %.5f,%.5f", w, h)
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
    for _, e in ipairs(self.legend) do
      items[#items + 1] = "keyentry " .. with_clause(e.mode, color_of(e.color), dash_of(e.color), e)
                          .. " title " .. quote(shorten(label_of(e.name), 32))
    end
    out[#out + 1] = "plot " .. concat(items, ", \\\n     ")
  end
  out[#out + 1] = "unset multiplot"
  return concat(out, "\n") .. "\n"
end

-- ------------------------------------------------------------------ running gnuplot

M.config = { gnuplot = os.getenv("CINTERP_GNUPLOT") or "gnuplot" }

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

local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

-- runs gnuplot on the script; returns its stdout; raises with gnuplot's message
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
  local errtext = slurp(efile)
  os.remove(sfile)
  os.remove(efile)
  local rc = tonumber(outp:match("__cinterp_rc=(%d+)%s*$"))
  outp = outp:gsub("__cinterp_rc=%d+%s*$", "")
  if rc ~= 0 then
    errtext = errtext:gsub("%s+$", "")
    error(fmt("%s: gnuplot failed (exit %s): %s", where, tostring(rc),
              errtext ~= "" and errtext or "no message"), 3)
  end
  return outp, errtext
end
M._run_gnuplot = run_gnuplot

local TERMINALS = {
  png = function(w, h, fs) return fmt("set terminal pngcairo size %d,%d noenhanced font 'DejaVu Sans,%d' background '#ffffff'", w, h, fs) end,
  svg = function(w, h, fs) return fmt("set terminal svg size %d,%d noenhanced font 'DejaVu Sans,%d' background '#ffffff'", w, h, fs) end,
  pdf = function(w, h, fs) return fmt("set terminal pdfcairo size %.4fin,%.4fin noenhanced font 'DejaVu Sans,%d'", w / 72, h / 72, fs) end,
}

function Figure:save(path)
  local where = "ci.plot:save"
  if type(path) ~= "string" or path == "" then
    error(where .. ": path must be a file name ending in .png, .svg or .pdf", 2)
  end
  local ext = (path:match("%.([%a]+)$") or ""):lower()
  local term = TERMINALS[ext]
  if not term then
    error(fmt("%s: cannot tell the format of '%s' (use .png, .svg or .pdf)", where, path), 2)
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
  local body = self:script()
  local script = term(self.width, self.height, self.fonts.base or 12) .. "\n"
                 .. "set output " .. quote(path) .. "\n" .. body .. "set output\n"
  local ok, err = pcall(run_gnuplot, script, where)
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
  opts = opts or {}
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
    local script = fmt("set terminal %s size %d,%d noenhanced font 'DejaVu Sans,%d'\n", term,
                       self.width, self.height, self.fonts.base or 12) .. self:script()
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

local SCATTER_MODES = { lines = true, markers = true, ["lines+markers"] = true }

local function frame_col(df, name)
  if df:has_column(name) then return df:col(name) end
  return nil
end

function M.plot_timeseries(df, opts)
  local where = "ci.plot_timeseries"
  opts = opts or {}
  if type(df) == "table" and not is_frame(df) and ci_ref and ci_ref.frame then
    df = ci_ref.frame(df)
  end
  if not is_frame(df) then error(where .. ": df must be a frame (ci.frame)", 2) end
  local sizing = { fig_width = 600, fig_height = 400, fsize_ticks_pt = 12, fsize_title_pt = 16,
                   markersize = 8, axislinewidth = 1.5, fig_margin = 0 }
  for k, v in pairs(opts.sizing or {}) do sizing[k] = v end
  local style = opts.style or {}
  local mode = opts.scatter_mode or "lines"
  if not SCATTER_MODES[mode] then
    error(fmt("%s: scatter_mode must be 'lines', 'markers' or 'lines+markers', got '%s'", where, tostring(mode)), 2)
  end
  -- time columns, ordered by their number
  local tcols = {}
  for _, name in ipairs(df:columns()) do
    local k = name:match("^time_(%-?%d+)$")
    if k then tcols[#tcols + 1] = { name = name, t = tonumber(k) } end
  end
  table.sort(tcols, function(a, b) return a.t < b.t end)
  if #tcols == 0 then error(where .. ": df has no 'time_*' columns", 2) end
  local group = frame_col(df, "group")
  if not group then error(where .. ": df needs a 'group' column", 2) end
  local batch = frame_col(df, "batch_name")
  local slider = opts.slider_dim
  if slider ~= nil and slider ~= "batch" and slider ~= "group" then
    error(fmt("%s: slider_dim must be 'batch', 'group' or nil, got '%s'", where, tostring(slider)), 2)
  end
  if not batch and slider == "batch" then slider = nil end
  local x = {}
  for i, tc in ipairs(tcols) do x[i] = tc.t end
  local nrow = df:nrow()
  local ys = {}
  for r = 1, nrow do
    local y = {}
    for i, tc in ipairs(tcols) do y[i] = tonumber(df:col(tc.name)[r]) or (0 / 0) end
    ys[r] = y
  end
  local lo, hi = range_of(ys)
  local ylo, yhi = padded(lo, hi, opts.ymin, opts.ymax)
  local xlo, xhi = x[1], x[#x]
  if xlo == xhi then xlo, xhi = xlo - 0.5, xhi + 0.5
  elseif mode ~= "lines" then   -- room for the end markers
    xlo, xhi = xlo - 0.02 * (xhi - xlo), xhi + 0.02 * (xhi - xlo)
  end
  local xtics_step = (#x <= 20 and x[#x] - x[1] <= 20) and 1 or nil
  local lw = sizing.axislinewidth + 0.5
  local ps = (sizing.markersize or 8) / 10

  local outer, inner
  if slider == "batch" then outer, inner = batch, group
  elseif slider == "group" then outer, inner = group, batch
  else outer, inner = nil, group end
  if slider == "group" and not batch then inner = nil end

  local panels, legend = {}, {}
  local inner_vals, inner_index = {}, {}
  if inner then
    inner_vals = sorted_unique(inner)
    for i, v in ipairs(inner_vals) do inner_index[v] = i end
  end
  local function trace_of(r, name, ci_)
    return { name = name, x = x, y = ys[r], mode = mode, color = ci_, linewidth = lw, pointsize = ps }
  end
  local function base_panel(title)
    return { title = title, xlabel = opts.x_label or "Time", ylabel = opts.y_label or "Activation",
             xrange = { xlo, xhi }, yrange = { ylo, yhi }, xtics_step = xtics_step, traces = {} }
  end
  if outer then
    local ovals = sorted_unique(outer)
    local idx = {}
    for i, v in ipairs(ovals) do
      idx[v] = i
      panels[i] = base_panel(label_of(v))
    end
    for r = 1, nrow do
      local p = panels[idx[outer[r]]]
      local iv = inner and inner[r] or outer[r]
      p.traces[#p.traces + 1] = trace_of(r, iv, inner and inner_index[iv] or 1)
    end
  else
    panels[1] = base_panel(nil)
    for r = 1, nrow do
      local name = group[r]
      if batch then name = label_of(batch[r]) .. " / " .. label_of(group[r]) end
      panels[1].traces[r] = trace_of(r, name, r)
    end
  end
  -- legend: inner values (one entry per colour)
  if outer and inner then
    for i, v in ipairs(inner_vals) do
      legend[i] = { name = v, color = i, mode = mode, linewidth = lw, pointsize = ps }
    end
  elseif not outer then
    local seen = {}
    for r, tr in ipairs(panels[1].traces) do
      if not seen[tr.name] then
        seen[tr.name] = true
        legend[#legend + 1] = { name = tr.name, color = tr.color, mode = mode, linewidth = lw, pointsize = ps }
      end
    end
    -- rows sharing a name share a colour
    local colour = {}
    for _, e in ipairs(legend) do colour[e.name] = e.color end
    for i, e in ipairs(legend) do e.color = i; colour[e.name] = i end
    for _, tr in ipairs(panels[1].traces) do tr.color = colour[tr.name] end
  end
  local fig = new_figure({
    title = opts.title, panels = panels, legend = legend,
    panel_width = sizing.fig_width, panel_height = sizing.fig_height,
    fonts = { base = sizing.fsize_ticks_pt, title = sizing.fsize_title_pt },
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
function M.plot_activity_by_column(activity, idx_to_group, idx_to_column, selected_group, opts)
  local where = "ci.plot_activity_by_column"
  if is_frame(activity) and opts == nil and idx_to_column == nil and type(idx_to_group) == "table"
     and not is_frame(idx_to_group) and idx_to_group[1] == nil and next(idx_to_group) ~= nil
     and (idx_to_group.plot_type or idx_to_group.figsize or idx_to_group.global_min
          or idx_to_group.global_max or idx_to_group.title) then
    opts = idx_to_group        -- plot_activity_by_column(frame, opts)
  end
  opts = opts or {}
  local plot_type = opts.plot_type or "line"
  if plot_type ~= "line" and plot_type ~= "scatter" then
    error(fmt("%s: plot_type must be 'line' or 'scatter', got '%s'", where, tostring(plot_type)), 2)
  end
  local df = by_column_frame(where, activity, idx_to_group, idx_to_column, selected_group, opts)
  for _, c in ipairs { "normalised_column", "cell_group", "activation", "time_step" } do
    if not df:has_column(c) then error(fmt("%s: the frame needs a '%s' column", where, c), 2) end
  end
  local figsize = opts.figsize or { 800, 600 }
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
    panels[pi] = { title = "Time step: " .. label_of(t), xlabel = "Normalised column",
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
    title = opts.title or "Neural activity by column", panels = panels, legend = legend, cols = cols,
    panel_width = opts.panel_width or (n == 1 and figsize[1] or max(320, floor(figsize[1] / min(cols, 2)))),
    panel_height = opts.panel_height or (n == 1 and figsize[2] or max(240, floor(figsize[2] / min(rows, 2)))),
    fonts = { base = opts.font_size or 12, title = 15 },
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
  opts = opts or {}
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
  local panel = { xlabel = opts.xlabel or "Iteration", ylabel = opts.ylabel or "Loss", traces = traces,
                  logy = opts.log, xrange = { 1, max(n, 2) } }
  if n <= 20 then panel.xtics_step = 1 end
  if not opts.log then
    local lo, hi = range_of(ys)
    local a, b = padded(lo, hi)
    if lo and lo >= 0 then a = max(a, 0) end
    panel.yrange = { a, b }
  end
  local fig = new_figure({ title = opts.title or "Losses", panels = { panel }, legend = legend,
                           panel_width = opts.width or 700, panel_height = opts.height or 420,
                           fonts = { base = opts.font_size or 12, title = 15 } }, where)
  fig.kind, fig.dropped = "losses", dropped
  return fig
end

-- ------------------------------------------------------------------ plot_heatmap

-- plot_heatmap(x, opts): x is (rows x time) or (batch x rows x time);
-- opts: row_labels, col_labels (instead of numbered columns), batch_names, title, xlabel ('Time step'), ylabel,
-- cblabel, palette ('diverging' | 'sequential'; default diverging when the
-- values have both signs), cbrange = {lo, hi}, panel_width, panel_height
function M.plot_heatmap(x, opts)
  local where = "ci.plot_heatmap"
  opts = opts or {}
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
      title = opts.batch_names and label_of(opts.batch_names[b]) or ("batch " .. b)
    end
    panels[b] = { title = title, xlabel = opts.xlabel or "Time step", ylabel = opts.ylabel,
                  image = { values = vals, nrow = nr, ncol = nc, rowlabels = opts.row_labels, collabels = opts.col_labels,
                            cbrange = cb, palette = palette, cblabel = opts.cblabel } }
  end
  local maxlab = 0
  for _, l in ipairs(opts.row_labels or {}) do maxlab = max(maxlab, #shorten(label_of(l), 24)) end
  local pw = opts.panel_width or max(440, min(900, 200 + nc * 18 + maxlab * 7))
  local ph = opts.panel_height or max(340, min(900, 120 + nr * 16))
  local fig = new_figure({ title = opts.title, panels = panels, panel_width = pw, panel_height = ph,
                           cols = opts.cols, fonts = { base = opts.font_size or 11, title = 15 } }, where)
  fig.kind = "heatmap"
  return fig
end

-- ------------------------------------------------------------------ install

return function(ci)
  ci_ref = ci
  ci._plot = M
  ci.plot = setmetatable({ Figure = Figure, config = M.config, new = new_figure },
                         { __call = function(_, spec) return new_figure(spec, "ci.plot") end })
  ci.plot_timeseries = function(df, opts)
    -- the seed's default slider_dim is 'batch'; an explicit nil in opts can't be
    -- seen in a Lua table, so `slider_dim = false` (or "none") means no slider
    opts = opts or {}
    local o = {}
    for k, v in pairs(opts) do o[k] = v end
    if o.slider_dim == nil then o.slider_dim = "batch"
    elseif o.slider_dim == false or o.slider_dim == "none" then o.slider_dim = nil end
    o.slider_dim_given = true
    return M.plot_timeseries(df, o)
  end
  ci.plot_activity_by_column = M.plot_activity_by_column
  ci.plot_losses = M.plot_losses
  ci.plot_heatmap = M.plot_heatmap
end
