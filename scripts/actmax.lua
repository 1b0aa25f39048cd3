-- actmax.lua: activation maximisation on a connectome from the command line.
-- Reads an edge list (pre, post, weight) and optionally a neuron table (id, cell
-- type, sign), builds inprop (each postsynaptic neuron's inputs normalised to 1,
-- signed by the presynaptic neuron's sign when a sign column has -1 entries), and
-- finds the input to the sensory neurons that drives the target neurons to the
-- target value at the target layer. Writes input.csv, activations.csv and
-- losses.csv into the output folder.
--   cinterp scripts/actmax.lua --help
local ci = rawget(_G, "ci") or require "cinterp"

local DEFAULT_DIR = "../shared/data/larva_winding2023"

-- command line -------------------------------------------------------------
local o = ci.cli.parse(arg, {
  script = "actmax", status = 2, usage = "usage: cinterp scripts/actmax.lua [options]\n",
  { "--edges FILE", nil, "edge list CSV (.gz ok) with pre, post, weight columns\n" ..
                         "(default " .. DEFAULT_DIR .. "/edges.csv.gz)" },
  "  --pre/--post/--weight NAME   column names in the edge list (pre, post, weight)",
  { "--pre NAME", "pre" }, { "--post NAME", "post" }, { "--weight NAME", "weight" },
  { "--neurons FILE", nil, "neuron table CSV with an id column and a cell type column\n" ..
                           "(default: neurons.csv.gz next to the default edges)" },
  { "--id-col NAME", "id", "id column of the neuron table (id)" },
  { "--type-col NAME", "type", "cell type column of the neuron table (type)" },
  { "--sign-col NAME", "sign", "sign column (-1 inhibitory; empty = +1) (sign)" },
  { "--sensory FILE", nil, "file with the sensory neuron ids (one per line, or a CSV\n" ..
                           "whose first column holds them)" },
  { "--sensory-type TYPE", nil, 'sensory neurons = neurons of this cell type (default "sensory")' },
  { "--target X", nil, "a target: a neuron id or a cell type (repeatable; required)", type = "list" },
  { "--target-value V", 1, "target activation (1)" },
  { "--target-layer N", nil, "layer at which the targets are set (default: the last)", type = "number" },
  { "--layers N", 5, "number of layers / timesteps (5)" },
  { "--tau X", 1, "time constant of the network (1 = no memory; the seed's\n" ..
                  "default 10 lets activity grow by at most 0.1 per step)" },
  { "--iterations N", 100, "Adam iterations (100)" },
  { "--lr X", 0.1, "learning rate (0.1)" },
  "  --in-reg X / --out-reg X     regularisation weights (0.001 / 0.001; the seed's\n" ..
  "                         0.01 on a whole-brain output silences everything)",
  { "--in-reg X", 0.001 }, { "--out-reg X", 0.001 },
  { "--seed N", 1, "seed of the random initial input (1)" },
  { "--out DIR", "actmax_out", "output folder (actmax_out)" },
  { "--quiet", false, "no progress bar or messages" },
})

if not o.edges then
  o.edges = DEFAULT_DIR .. "/edges.csv.gz"
  if not ci.cli.exists(o.edges) then
    print("actmax: no --edges given and the default data (" .. o.edges .. ") is absent; nothing to do")
    os.exit(0)
  end
  o.neurons = o.neurons or (DEFAULT_DIR .. "/neurons.csv.gz")
  if #o.target == 0 then o.target = { "MBON" } end
end
if not o.sensory and not o.sensory_type then o.sensory_type = "sensory" end
if #o.target == 0 then io.stderr:write("actmax: give at least one --target (a neuron id or a cell type)\n") os.exit(2) end
local function fail(msg) io.stderr:write("actmax: " .. msg .. "\n") os.exit(1) end
local function say(...) if not o.quiet then print(string.format(...)) end end

-- data ------------------------------------------------------------------------
local edges = ci.read_csv(o.edges)
for _, c in ipairs { o.pre, o.post, o.weight } do
  if not edges:has_column(c) then
    fail(("%s has no column '%s' (it has %s); see --pre/--post/--weight"):format(o.edges, c,
         table.concat(edges:columns(), ", ")))
  end
end
local pre, post, w = edges:col(o.pre), edges:col(o.post), edges:col(o.weight)

local index, ids = {}, {} -- id (as a string) -> neuron index, and back
local function idx_of(id)
  local key = tostring(id)
  local i = index[key]
  if not i then
    i = #ids + 1
    ids[i], index[key] = key, i
  end
  return i
end

local types, signs = {}, {}
if o.neurons then
  local nt = ci.read_csv(o.neurons)
  if not nt:has_column(o.id_col) then fail(o.neurons .. " has no id column '" .. o.id_col .. "'") end
  local idc = nt:col(o.id_col)
  local tc = nt:has_column(o.type_col) and nt:col(o.type_col) or nil
  local sc = nt:has_column(o.sign_col) and nt:col(o.sign_col) or nil
  for r = 1, nt:nrow() do
    local i = idx_of(idc[r])
    if tc and tc[r] ~= "" and tc[r] == tc[r] then types[i] = tostring(tc[r]) end
    if sc and (tonumber(sc[r]) or 0) < 0 then signs[i] = -1 end
  end
end
local rows, cols, vals, total = {}, {}, {}, {}
for e = 1, edges:nrow() do
  local a, b = idx_of(pre[e]), idx_of(post[e])
  rows[e], cols[e], vals[e] = b, a, w[e]
  total[b] = (total[b] or 0) + w[e]
end
local n = #ids
for e = 1, #rows do
  vals[e] = vals[e] / total[rows[e]] * (signs[cols[e]] or 1)
end
local W = ci.sparse(rows, cols, vals, n, n) -- post in rows: the model's all_weights
say("connectome: %d neurons, %d connections", n, W:nnz())

-- sensory neurons and targets --------------------------------------------------
local sensory = {}
if o.sensory then
  local f = io.open(o.sensory, "r") or fail("cannot open " .. o.sensory)
  for line in f:lines() do
    local id = line:match("^%s*\"?([^,\"]+)")
    if id and index[id] then sensory[#sensory + 1] = index[id] end
  end
  f:close()
else
  for i = 1, n do if types[i] == o.sensory_type then sensory[#sensory + 1] = i end end
end
if #sensory == 0 then fail("no sensory neurons found (check --sensory / --sensory-type and --neurons)") end
local L = o.layers
local layer = o.target_layer or L
if layer < 1 or layer > L then fail("--target-layer must be in 1.." .. L) end
local tgt, ntarget = {}, 0
for _, x in ipairs(o.target) do
  local found = false
  if index[x] then
    tgt[index[x]] = o.target_value; found = true
  else
    for i = 1, n do
      if types[i] == x then tgt[i] = o.target_value; found = true end
    end
  end
  if not found then fail("target '" .. x .. "' is neither a neuron id nor a cell type") end
end
for _ in pairs(tgt) do ntarget = ntarget + 1 end
say("%d sensory neurons, %d target neurons at layer %d of %d", #sensory, ntarget, layer, L)

-- optimisation ----------------------------------------------------------------
local net = ci.MultilayeredNetwork(W, sensory, { num_layers = L, tau = o.tau })
local targets = ci.TargetActivation { targets = { [layer] = tgt }, batch_size = 1 }
ci.cli.mkdir(o.out)
local input, output, act = ci.activation_maximisation(net, targets, {
  num_iterations = o.iterations, learning_rate = o.lr, in_reg_lambda = o.in_reg,
  out_reg_lambda = o.out_reg, seed = o.seed, quiet = o.quiet, print_output = false,
  log = o.out .. "/losses.csv" })

-- outputs ---------------------------------------------------------------------
-- rows of t: by position in idx_list (the input) or by neuron index (the activations)
local function write(path, idx_list, t, by_position)
  local c = { id = {}, type = {} }
  local order = { "id", "type" }
  for l = 1, L do c["time_" .. l] = {}; order[#order + 1] = "time_" .. l end
  for r, i in ipairs(idx_list) do
    c.id[r], c.type[r] = ids[i], types[i] or ""
    for l = 1, L do c["time_" .. l][r] = t:get(by_position and r or i, l) end
  end
  ci.frame(c, order):write_csv(path)
end
write(o.out .. "/input.csv", sensory, input, true)
local all = {}
for i = 1, n do all[i] = i end
write(o.out .. "/activations.csv", all, output, false)
local mean = 0
for i in pairs(tgt) do mean = mean + output:get(i, layer) end
say("activation loss %.4g -> %.4g; mean target activation at layer %d: %.4f",
    act[1] or 0 / 0, act[#act] or 0 / 0, layer, mean / math.max(ntarget, 1))
say("wrote %s/input.csv, %s/activations.csv, %s/losses.csv", o.out, o.out, o.out)
