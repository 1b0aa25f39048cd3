-- plot_html.lua: the page of fig:save("f.html") (lua/cinterp/plot.lua). gnuplot's
-- canvas terminal draws each panel (and the shared legend) as a JavaScript function
-- onto its own <canvas>; this file wraps those functions in one HTML page that
-- needs nothing else: gnuplot's support scripts (canvasmath.js for the text,
-- gnuplot_common.js, gnuplot_dashedlines.js, gnuplot_mouse.js for the mouse) are
-- copied into it, so the file works when moved anywhere and opened offline.
--
-- In the browser every panel reads out the mouse position in its own axis units
-- under it (and, on a heat map, the cell under the mouse: its row, column and
-- value); dragging with the right mouse button zooms the panel, "Unzoom" or the
-- key u goes back, a left click writes the point's coordinates on the plot.
-- These are gnuplot's own mouse functions (gnuplot_mouse.js); they act on the
-- panel the mouse last entered.
-- Errors are raised without a position: Figure:save raises them at its caller.
local M = {}

local fmt, concat = string.format, table.concat

-- the support scripts, in the order the page loads them
M.SUPPORT = { "canvasmath.js", "gnuplot_common.js", "gnuplot_dashedlines.js", "gnuplot_mouse.js" }

M.READOUT_H = 18   -- pixels under each panel for its mouse readout
M.BAR_H = 30       -- the bar above the figure (buttons and the mouse hint)

-- a file's text, or nil (also used by plot.lua)
local function slurp(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end
M.slurp = slurp

-- the folder of gnuplot's support scripts: dir when given, else the one gnuplot
-- itself links a standalone canvas page to (run(script) runs gnuplot, returns stdout)
local dir_cache
function M.js_dir(where, dir, run)
  if dir then return dir end
  if not dir_cache then
    local page = run("set terminal canvas standalone\nset output\nunset border\nunset tics\n"
                     .. "plot [0:1][0:1] NaN notitle\n", where)
    dir_cache = page:match('<script src="([^"]*)/canvastext%.js"')
    if not dir_cache then
      error(where .. ": could not find where gnuplot keeps its canvas scripts (no canvastext.js in its page);"
            .. " set ci.plot.config.js_dir", 0)
    end
  end
  return dir_cache
end

-- text that may stand inside <script>: a "</script" would end the element early
local function script_safe(js)
  return (js:gsub("</([sS][cC][rR][iI][pP][tT])", "<\\/%1"))
end

-- the support scripts' text, read from dir
local function support_text(where, dir)
  local parts = {}
  for _, name in ipairs(M.SUPPORT) do
    local path = dir .. "/" .. name
    local s = slurp(path)
    if not s then
      error(fmt("%s: gnuplot's canvas script '%s' is missing (install the Debian package gnuplot-data,"
                .. " or set ci.plot.config.js_dir to the folder that holds %s)", where, path, name), 0)
    end
    parts[#parts + 1] = "<script>/* " .. name .. " (gnuplot) */\n" .. script_safe(s) .. "\n</script>"
  end
  return concat(parts, "\n")
end

local function html_escape(s)
  return (tostring(s):gsub("[&<>\"]", { ["&"] = "&amp;", ["<"] = "&lt;", [">"] = "&gt;", ['"'] = "&quot;" }))
end

-- a JavaScript string literal ("<" escaped so that it cannot close the script)
local function js_string(s)
  return '"' .. tostring(s):gsub('[%c"\\<]', function(ch)
    return fmt("\\u%04x", ch:byte())
  end) .. '"'
end

local function js_number(v)
  if type(v) ~= "number" or v ~= v or v == math.huge or v == -math.huge then return "null" end
  return fmt("%.9g", v)
end

local function js_list(list, conv)
  local items = {}
  for i, v in ipairs(list) do items[i] = conv(v) end
  return "[" .. concat(items, ",") .. "]"
end

-- the data a heat-map panel's readout looks up: the matrix and its labels
local function cells_js(c)
  local im = c.image
  return fmt("{nrow:%d,ncol:%d,rows:%s,cols:%s,v:%s,xlabel:%s,ylabel:%s,cblabel:%s}", im.nrow, im.ncol,
             im.rowlabels and js_list(im.rowlabels, js_string) or "null",
             im.collabels and js_list(im.collabels, js_string) or "null",
             js_list(im.values, js_number), js_string(c.xlabel or "Column"), js_string(c.ylabel or "Row"),
             js_string(im.cblabel or "Value"))
end

-- the page's own script: gnuplot_canvas() (which gnuplot_mouse.js calls to redraw)
-- redraws the active panel; the readout of a heat map adds the cell under the
-- mouse; ci_draw() draws the legend (without mouse handlers) and every panel
local PAGE_JS = [==[
var canvas, ctx;
gnuplot.grid_lines = true;
gnuplot.zoomed = false;
function gnuplot_canvas() { if (gnuplot.active_plot) gnuplot.active_plot(); }
function ci_cell_readout() {
  var cells = ci_cells[gnuplot.active_plot_name];
  var out = document.getElementById(gnuplot.active_plot_name + "_v");
  if (!cells || !out) return;
  var inside = gnuplot.plotx >= 0 && gnuplot.ploty >= 0 && gnuplot.mousex <= gnuplot.plot_xmax
               && gnuplot.mousey >= gnuplot.plot_ytop;
  var c = Math.round(x), r = Math.round(y);
  if (!inside || !(c >= 1 && c <= cells.ncol && r >= 1 && r <= cells.nrow)) { out.textContent = ""; return; }
  var v = cells.v[(r - 1) * cells.ncol + (c - 1)];
  out.textContent = cells.ylabel + " " + (cells.rows ? cells.rows[r - 1] : r) + ", "
                    + cells.xlabel + " " + (cells.cols ? cells.cols[c - 1] : c) + ": "
                    + cells.cblabel + " " + (v === null ? "missing" : v.toPrecision(4));
}
(function () {
  var update = gnuplot.mouse_update;
  gnuplot.mouse_update = function (e) { update(e); ci_cell_readout(); };
})();
function ci_draw() {
  if (typeof ci_legend === "function") {
    ci_legend();
    var c = document.getElementById("ci_legend");
    c.onmousemove = c.onmouseup = c.onmousedown = c.onkeypress = null;
    c.removeEventListener("mouseover", ci_legend, false);
  }
  for (var i = 0; i < ci_panels.length; i++) window[ci_panels[i]]();
}
]==]

local CSS = [[
body { margin: 0; background: %s; color: #222; font-family: "DejaVu Sans", Verdana, sans-serif; }
.ci-bar { height: %dpx; white-space: nowrap; overflow: hidden; display: flex; align-items: center; gap: 6px; padding: 0 8px; font-size: 12px; color: #555; }
.ci-bar button { font-size: 12px; padding: 1px 8px; }
.ci-figure { position: relative; }
.ci-figure canvas { position: absolute; }
.ci-title { position: absolute; left: 0; top: 0; display: flex; align-items: center; justify-content: center; }
.ci-readout { position: absolute; height: %dpx; overflow: hidden; white-space: nowrap; text-align: center;
              font: 11px "DejaVu Sans Mono", monospace; color: #777; }
]]

-- the page. spec: {title=, paper=, width=, height= (of the figure's area), title_h=,
-- title_size=, panels = {{name=, left=, top=, width=, height=, title=, image=, xlabel=,
-- ylabel=}...}, legend = {left=, top=, width=, height=} or nil, js = gnuplot's output}
function M.page(where, dir, spec)
  local out = {
    "<!DOCTYPE html>", "<html>", "<head>", '<meta charset="utf-8">',
    "<title>" .. html_escape(spec.title or "cinterp figure") .. "</title>",
    "<style>" .. fmt(CSS, spec.paper or "#ffffff", M.BAR_H, M.READOUT_H) .. "</style>",
    support_text(where, dir),
  }
  local names, cells = {}, {}
  for k, p in ipairs(spec.panels) do
    names[k] = js_string(p.name)
    if p.image then cells[#cells + 1] = js_string(p.name) .. ":" .. cells_js(p) end
  end
  out[#out + 1] = "<script>\n" .. PAGE_JS .. "var ci_panels = [" .. concat(names, ",") .. "];\n"
                  .. "var ci_cells = {" .. concat(cells, ",\n") .. "};\n</script>"
  out[#out + 1] = "<script>\n" .. script_safe(spec.js) .. "\n</script>"
  out[#out + 1] = "</head>"
  out[#out + 1] = '<body onload="ci_draw()" oncontextmenu="return false;">'
  out[#out + 1] = '<div class="ci-bar"><button onclick="gnuplot.unzoom()">Unzoom</button>'
                  .. '<button onclick="gnuplot.rezoom()">Rezoom</button>'
                  .. '<button onclick="gnuplot.toggle_grid()">Grid</button>'
                  .. '<span title="drag with the right mouse button to zoom a panel; Unzoom goes back;'
                  .. ' a left click writes the point\'s coordinates on the plot">right-drag zooms</span></div>'
  out[#out + 1] = fmt('<div class="ci-figure" style="width:%dpx;height:%dpx">', spec.width, spec.height)
  out[#out + 1] = '<canvas id="Tile" width="32" height="32" hidden></canvas>'
  if spec.title then
    out[#out + 1] = fmt('<div class="ci-title" style="width:%dpx;height:%dpx;font-size:%dpx">%s</div>',
                        spec.width, spec.title_h, spec.title_size, html_escape(spec.title))
  end
  for _, p in ipairs(spec.panels) do
    out[#out + 1] = fmt('<canvas id="%s" width="%d" height="%d" tabindex="0" style="left:%dpx;top:%dpx"'
                        .. ' aria-label="%s"></canvas>', p.name, p.width, p.height, p.left, p.top,
                        html_escape(p.title or "panel"))
    out[#out + 1] = fmt('<div class="ci-readout" style="left:%dpx;top:%dpx;width:%dpx">x <span id="%s_x"></span>'
                        .. ' &nbsp;y <span id="%s_y"></span> &nbsp;<span id="%s_v"></span></div>',
                        p.left, p.top + p.height, p.width, p.name, p.name, p.name)
  end
  local leg = spec.legend
  if leg then
    out[#out + 1] = fmt('<canvas id="ci_legend" width="%d" height="%d" style="left:%dpx;top:%dpx"></canvas>',
                        leg.width, leg.height, leg.left, leg.top)
  end
  out[#out + 1] = "</div>"
  out[#out + 1] = "</body>"
  out[#out + 1] = "</html>"
  return concat(out, "\n") .. "\n"
end

return M
