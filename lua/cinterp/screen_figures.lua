-- screen_figures.lua: the figures of a merged screen, drawn with ci.plot_heatmap
-- into OUT/figures/ (each written atomically, as every file of a screen):
--   actmax, restarts   inputs.png: target (or seed) x input group, the optimised
--                      input's mean over the group's neurons and timesteps
--   silence, activate  delta.png: manipulated group x read-out group, the change
--                      of the read-out's mean activation (diverging colours)
--   grid               grid_<readout>.<hash>.png: one panel per layer, the read-out's
--                      mean activation over the grid (v1 across, v2 upwards)
-- write(ci, dir, kind, tasks, by_group) takes the merge's parsed tasks (label,
-- rows with their text fields) and, for actmax / restarts, input_by_group's means.
local S = require "cinterp.screen_store"

local M = {}
local fmt = string.format

-- a panel wide enough for the row labels, the colour bar's title and a column
-- label per column (upright ones need ~15 pixels each; up to 120 columns)
local function width(ncol, labels)
  local w = 0
  for _, l in ipairs(labels) do w = math.max(w, #tostring(l)) end
  return math.max(560, math.min(2400, 260 + ncol * 18 + w * 7))
end

-- a panel tall enough for a row per row label and the column labels below (turned)
local function height(nrow, col_labels)
  local w = 0
  for _, l in ipairs(col_labels) do w = math.max(w, #tostring(l)) end
  return math.max(340, math.min(1400, 140 + nrow * 16 + math.min(w, 24) * 7))
end

local function save(fig, path)
  S.atomic(path, function(tmp) fig:save(tmp) end, "cinterp screen merge")
end

local function matrix(ci, nr, nc, get)
  local t = ci.zeros(nr, nc)
  for r = 1, nr do
    for c = 1, nc do t:set(get(r, c), r, c) end
  end
  return t
end

local function actmax_figure(ci, dir, kind, tasks, by_group)
  local labels = {}
  for k, t in ipairs(tasks) do labels[k] = t.label end
  local G = by_group.groups
  local x = matrix(ci, #tasks, #G, function(r, c) return by_group.means[r][G[c]] or 0 / 0 end)
  local fig = ci.plot_heatmap(x, {
    row_labels = labels, col_labels = G, xlabel = "input group",
    ylabel = kind == "restarts" and "seed" or "target",
    cblabel = "mean optimised input",
    title = kind == "restarts" and "Optimised input per random start" or "Optimised input per target",
    panel_width = width(#G, labels), panel_height = height(#tasks, G),
  })
  save(fig, dir .. "/figures/inputs.png")
end

local function manipulation_figure(ci, dir, kind, tasks)
  local labels, readouts, ridx = {}, {}, {}
  for k, t in ipairs(tasks) do
    labels[k] = t.label
    for _, r in ipairs(t.rows) do
      local name = r.fields[2]
      if not ridx[name] then readouts[#readouts + 1] = name; ridx[name] = #readouts end
    end
  end
  local x = ci.full(0 / 0, #tasks, #readouts)
  for k, t in ipairs(tasks) do
    for _, r in ipairs(t.rows) do x:set(tonumber(r.fields[5]) or 0 / 0, k, ridx[r.fields[2]]) end
  end
  local fig = ci.plot_heatmap(x, {
    row_labels = labels, col_labels = readouts, xlabel = "read-out group",
    ylabel = kind == "silence" and "silenced group" or "activated group",
    cblabel = "change of mean activation", palette = "diverging",
    title = (kind == "silence" and "Silencing" or "Activation") .. ": effect on each read-out group",
    panel_width = width(#readouts, labels), panel_height = height(#tasks, readouts),
  })
  save(fig, dir .. "/figures/delta.png")
end

local function sorted_keys(set)
  local out = {}
  for v in pairs(set) do out[#out + 1] = v end
  table.sort(out)
  return out
end

local function grid_figures(ci, dir, tasks)
  local per = {} -- readout -> {layers set, v1 set, v2 set, values[layer][v1][v2]}
  local order = {}
  for _, t in ipairs(tasks) do
    for _, r in ipairs(t.rows) do
      local f = r.fields
      local v1, v2, l, name, a = tonumber(f[1]), tonumber(f[2]), tonumber(f[3]), f[4], tonumber(f[5])
      local g = per[name]
      if not g then
        g = { layers = {}, v1 = {}, v2 = {}, val = {} }
        per[name] = g
        order[#order + 1] = name
      end
      g.layers[l], g.v1[v1], g.v2[v2] = true, true, true
      g.val[l .. ":" .. v1 .. ":" .. v2] = a
    end
  end
  for _, name in ipairs(order) do
    local g = per[name]
    local layers, v1s, v2s = sorted_keys(g.layers), sorted_keys(g.v1), sorted_keys(g.v2)
    local x = ci.full(0 / 0, #layers, #v2s, #v1s)
    local rowlab, collab, names = {}, {}, {}
    for r = 1, #v2s do rowlab[r] = fmt("%.3g", v2s[#v2s - r + 1]) end
    for c = 1, #v1s do collab[c] = fmt("%.3g", v1s[c]) end
    for b, l in ipairs(layers) do
      names[b] = "layer " .. l
      for r = 1, #v2s do
        for c = 1, #v1s do
          local v = g.val[l .. ":" .. v1s[c] .. ":" .. v2s[#v2s - r + 1]]
          if v then x:set(v, b, r, c) end
        end
      end
    end
    local fig = ci.plot_heatmap(x, {
      row_labels = rowlab, col_labels = collab, batch_names = names,
      xlabel = "v1 Activation", ylabel = "v2 Activation", cblabel = "mean activation",
      title = "Read-out " .. name, palette = "sequential",
    })
    save(fig, dir .. "/figures/grid_" .. require("cinterp.screen_problem").file_name(name) .. ".png")
  end
end

--- write(ci, dir, kind, tasks, by_group): the figures of a merged screen.
function M.write(ci, dir, kind, tasks, by_group)
  S.mkdir_p(dir .. "/figures", "cinterp screen merge")
  if kind == "actmax" or kind == "restarts" then
    actmax_figure(ci, dir, kind, tasks, by_group)
  elseif kind == "silence" or kind == "activate" then
    manipulation_figure(ci, dir, kind, tasks)
  elseif kind == "grid" then
    grid_figures(ci, dir, tasks)
  end
end

return M
