-- larva.lua: the whole larval Drosophila brain (Winding et al. 2023) driven from
-- its annotated sensory neurons, one modality at a time.
--   cinterp scripts/larva.lua [--data DIR] [--out DIR] [--layers L] [--top K]
-- Loads ../shared/data/larva_winding2023 with ci.connectome.read (no
-- transmitter data: every neuron excitatory), makes the afferent neurons
-- (flow = afferent) the sensory neurons, stimulates each modality (their
-- super_class) in its own batch, and prints for every modality and layer the
-- cell types (super_class of the non-sensory neurons) with the highest mean
-- activation; written to OUT/larva_top_types.csv.
local ci = rawget(_G, "ci") or require "cinterp"

local function usage(code)
  print([[usage: larva.lua [options]
  --data DIR    data folder (default ../shared/data, relative to the repository root)
  --out DIR     folder for the CSV output (default: larva_out)
  --layers L    number of timesteps (default 4)
  --top K       cell types shown per modality and layer (default 5)
  --help        this text]])
  os.exit(code)
end

local opts = { out = "larva_out", layers = 4, top = 5 }
local a = arg or {}
local k = 1
while k <= #a do
  local key = a[k]
  if key == "--help" or key == "-h" then usage(0) end
  local name = key:match("^%-%-(%w+)$")
  if not name or (opts[name] == nil and name ~= "data") or a[k + 1] == nil then
    io.stderr:write("larva.lua: bad argument " .. key .. "\n")
    usage(1)
  end
  opts[name] = a[k + 1]
  k = k + 2
end
opts.layers, opts.top = tonumber(opts.layers), tonumber(opts.top)

local function exists(p) local f = io.open(p) if f then f:close() return true end return false end
local data = opts.data
if not data then
  local here = (debug.getinfo(1, "S").source:match("^@(.*)/scripts/[^/]*$")) or "."
  data = here .. "/../shared/data"
end
local dir = data .. "/larva_winding2023"
if not exists(dir .. "/edges.csv.gz") then
  print("larva.lua: skipped: the larval connectome is absent under " .. data .. " (give --data DIR)")
  os.exit(0)
end

local c = ci.connectome.read { edges = dir .. "/edges.csv.gz", neurons = dir .. "/neurons.csv.gz" }
print(tostring(c))
local sensory = c:select { flow = "afferent" }
local modality = c:groups("super_class")
local mods, seen = {}, {}
for _, i in ipairs(sensory) do
  if not seen[modality[i]] then seen[modality[i]] = true; mods[#mods + 1] = modality[i] end
end
table.sort(mods)
print(string.format("sensory: %d afferent neurons in %d modalities", #sensory, #mods))

local L = opts.layers
local net = c:model { sensory = sensory, num_layers = L }
-- one batch per modality: its neurons at 1 in the first timestep
local x = ci.zeros(#mods, #sensory, L)
for b, m in ipairs(mods) do
  for s, i in ipairs(sensory) do
    if modality[i] == m then x:set(1, b, s, 1) end
  end
end
local out = net:forward(x)

local flow = c:groups("flow")
local members, order = {}, {}
for i = 1, c.n do
  if flow[i] ~= "afferent" and modality[i] ~= "unknown" then
    local g = modality[i]
    if not members[g] then members[g] = {}; order[#order + 1] = g end
    table.insert(members[g], i)
  end
end
local rows, d, n = {}, out.data, c.n
for b, m in ipairs(mods) do
  for l = 1, L do
    local list = {}
    for _, g in ipairs(order) do
      local s = 0
      for _, i in ipairs(members[g]) do s = s + d[((b - 1) * n + (i - 1)) * L + (l - 1)] end
      list[#list + 1] = { g, s / #members[g], #members[g] }
    end
    table.sort(list, function(p, q) if p[2] ~= q[2] then return p[2] > q[2] end return p[1] < q[1] end)
    for r = 1, math.min(opts.top, #list) do
      rows[#rows + 1] = { m, l, list[r][1], list[r][3], list[r][2], r }
    end
  end
end
local f = ci.frame.from_rows({ "modality", "layer", "cell_type", "neurons", "mean_activation", "rank" }, rows)
print(f)
os.execute("mkdir -p '" .. opts.out .. "'")
f:write_csv(opts.out .. "/larva_top_types.csv")
print("written: " .. opts.out .. "/larva_top_types.csv")
