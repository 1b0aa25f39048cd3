-- olfaction.lua: odours through the FlyWire mushroom body (a real recipe).
--   cinterp scripts/olfaction.lua [--data DIR] [--out DIR] [--odours a,b,...]
--       [--layers L] [--top K] [--mbon TYPE] [--iterations N]
-- Loads ../shared/data/flywire_783_mushroom_body with ci.connectome.read (signs
-- from the nt_type column), makes the uniglomerular projection neurons (ALPN,
-- cell type "<glomerulus>_<lineage>PN", e.g. DA1_lPN) the sensory neurons
-- grouped by glomerulus, turns DoOR odour responses (../shared/data/door,
-- glomerulus x odour) into model input with ci.input_from_df, runs the
-- network forward and prints, for each odour and layer, the most activated
-- Kenyon-cell and MBON types (also written to OUT/olfaction_top_types.csv).
-- Then activation maximisation for one MBON type: which glomeruli does the
-- optimal stimulus drive? (OUT/olfaction_optimal_glomeruli.csv)
local ci = rawget(_G, "ci") or require "cinterp"

local function usage(code)
  print([[usage: olfaction.lua [options]
  --data DIR        data folder (default ../shared/data, relative to the repository root)
  --out DIR         folder for the CSV outputs (default: olfaction_out)
  --odours LIST     comma-separated DoOR odour names (default: benzaldehyde,
                    ethyl acetate,2-heptanone,1-octen-3-ol,isopentyl acetate)
  --layers L        number of timesteps (default 3)
  --top K           cell types shown per layer and class (default 5)
  --mbon TYPE       output neuron type for activation maximisation (default MBON01)
  --iterations N    activation maximisation iterations (default 40)
  --help            this text]])
  os.exit(code)
end

local opts = { data = nil, out = "olfaction_out", layers = 3, top = 5, mbon = "MBON01",
               iterations = 40,
               odours = "benzaldehyde,ethyl acetate,2-heptanone,1-octen-3-ol,isopentyl acetate" }
local a = arg or {}
local k = 1
while k <= #a do
  local key = a[k]
  if key == "--help" or key == "-h" then usage(0) end
  local name = key:match("^%-%-(%w+)$")
  if not name or opts[name] == nil and name ~= "data" then
    io.stderr:write("olfaction.lua: unknown argument " .. key .. "\n")
    usage(1)
  end
  opts[name] = a[k + 1]
  if opts[name] == nil then io.stderr:write("olfaction.lua: " .. key .. " needs a value\n") usage(1) end
  k = k + 2
end
opts.layers, opts.top, opts.iterations = tonumber(opts.layers), tonumber(opts.top), tonumber(opts.iterations)

-- the data folder: --data, else ../shared/data next to the repository root
local function exists(p) local f = io.open(p) if f then f:close() return true end return false end
local data = opts.data
if not data then
  local here = (debug.getinfo(1, "S").source:match("^@(.*)/scripts/[^/]*$")) or "."
  data = here .. "/../shared/data"
end
local mb = data .. "/flywire_783_mushroom_body"
local door = data .. "/door/processed_door_adult.csv"
if not exists(mb .. "/edges.csv.gz") or not exists(door) then
  print("olfaction.lua: skipped: the FlyWire mushroom body or DoOR data is absent under " .. data ..
        " (give --data DIR)")
  os.exit(0)
end

local t0 = os.clock()
local c = ci.connectome.read { edges = mb .. "/edges.csv.gz", neurons = mb .. "/neurons.csv.gz",
                               nt = "nt_type" }
print(string.format("%s (%.2f s)", tostring(c), os.clock() - t0))

-- DoOR responses: first column glomerulus, one column per odour
local resp = ci.read_csv(door)
local glomeruli = {}
for _, g in ipairs(resp.glomerulus) do glomeruli[g] = true end

-- sensory neurons: uniglomerular PNs whose glomerulus DoOR covers
local types = c:groups("type")
local class = c:groups("class")
local group = {}
local sensory = {}
for i = 1, c.n do
  group[i] = types[i]
  if class[i] == "ALPN" then
    local g = types[i]:match("^([%w]+)_%w*PN$")
    if g and glomeruli[g] then
      sensory[#sensory + 1] = i
      group[i] = g
    end
  end
end
local nglom = {}
for _, i in ipairs(sensory) do nglom[group[i]] = true end
local ng = 0
for _ in pairs(nglom) do ng = ng + 1 end
print(string.format("sensory: %d uniglomerular projection neurons in %d DoOR glomeruli", #sensory, ng))

-- the odours asked for (column "<name>_<InChIKey>", first match)
local cols = resp:columns()
local chosen, names = { "glomerulus" }, {}
for name in opts.odours:gmatch("[^,]+") do
  local found
  for j = 2, #cols do
    if cols[j]:sub(1, #name + 1) == name .. "_" then found = cols[j] break end
  end
  if found then chosen[#chosen + 1] = found; names[#names + 1] = name
  else print("odour not in DoOR: " .. name) end
end
if #names == 0 then print("no odour found; nothing to do") os.exit(1) end
local df = resp:select(chosen)

local L = opts.layers
local net = c:model { sensory = sensory, num_layers = L }
local x
if ci.input_from_df then
  x = ci.input_from_df(df, sensory, group, L, 1)        -- odour at the first timestep
else
  -- input_from_df not available: the same by hand (group value at timestep 1)
  x = ci.zeros(#names, #sensory, L)
  for b = 1, #names do
    local val = {}
    for r, g in ipairs(df.glomerulus) do val[g] = df[chosen[b + 1]][r] end
    for s, i in ipairs(sensory) do x:set(val[group[i]] or 0, b, s, 1) end
  end
end
local out = net:forward(x)                               -- (B, n, L)

-- mean activation per (class, type) for each odour and layer; top K per class
local members = {}
for i = 1, c.n do
  local cl = class[i]
  if cl == "Kenyon_Cell" or cl == "MBON" then
    local key = cl .. "\0" .. types[i]
    members[key] = members[key] or { class = cl, type = types[i] }
    table.insert(members[key], i)
  end
end
local rows = {}
local data_ptr, n = out.data, c.n
for b = 1, #names do
  for l = 1, L do
    for _, cl in ipairs({ "Kenyon_Cell", "MBON" }) do
      local list = {}
      for _, m in pairs(members) do
        if m.class == cl then
          local s = 0
          for _, i in ipairs(m) do s = s + data_ptr[((b - 1) * n + (i - 1)) * L + (l - 1)] end
          list[#list + 1] = { m.type, s / #m, #m }
        end
      end
      table.sort(list, function(p, q) if p[2] ~= q[2] then return p[2] > q[2] end return p[1] < q[1] end)
      for r = 1, math.min(opts.top, #list) do
        rows[#rows + 1] = { names[b], l, cl, list[r][1], list[r][3], list[r][2], r }
      end
    end
  end
end
local top = ci.frame.from_rows({ "odour", "layer", "class", "type", "neurons", "mean_activation", "rank" }, rows)
print(top)
os.execute("mkdir -p '" .. opts.out .. "'")
top:write_csv(opts.out .. "/olfaction_top_types.csv")
print("written: " .. opts.out .. "/olfaction_top_types.csv")

-- activation maximisation: the stimulus that drives one MBON type at the last layer
local target_idx = c:select { type = opts.mbon }
if #target_idx == 0 then
  print("no neuron of type " .. opts.mbon .. "; skipping activation maximisation")
elseif not ci.activation_maximisation then
  print("activation maximisation: unavailable (ci.activation_maximisation is not in this build)")
else
  local tgt = { [L] = {} }
  for _, i in ipairs(target_idx) do tgt[L][i] = 1 end
  local input = ci.activation_maximisation(net, tgt, { num_iterations = opts.iterations, quiet = true })
  -- mean optimised input per glomerulus over timesteps (input: (1, S, L) or (S, L))
  local d = input.data
  local S = #sensory
  local sum, cnt = {}, {}
  for s, i in ipairs(sensory) do
    local g = group[i]
    local acc = 0
    for l = 1, L do acc = acc + d[(s - 1) * L + (l - 1)] end
    sum[g] = (sum[g] or 0) + acc / L
    cnt[g] = (cnt[g] or 0) + 1
  end
  local rows2 = {}
  for g, s in pairs(sum) do rows2[#rows2 + 1] = { g, s / cnt[g], cnt[g] } end
  table.sort(rows2, function(p, q) if p[2] ~= q[2] then return p[2] > q[2] end return p[1] < q[1] end)
  local f = ci.frame.from_rows({ "glomerulus", "mean_input", "projection_neurons" }, rows2)
  print(string.format("optimal stimulus for %s (%d neurons, layer %d): glomeruli driven most", opts.mbon,
                      #target_idx, L))
  print(f:head(10))
  f:write_csv(opts.out .. "/olfaction_optimal_glomeruli.csv")
  print("written: " .. opts.out .. "/olfaction_optimal_glomeruli.csv")
  _ = S
end
