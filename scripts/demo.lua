-- demo.lua: `make demo`: a first tour of cinterp end to end. It loads the whole
-- larval Drosophila brain from ../shared/data when present (else a seeded random
-- connectome of the same size), builds a rate model, stimulates the sensory
-- neurons, prints the most activated neurons per layer, asks which inputs matter
-- for the most active neuron (gradients), and, when the recipe is available, runs
-- a short activation maximisation. Usage: cinterp scripts/demo.lua [--data DIR]
local ffi = require "ffi"

local data = ci.cli.parse(arg, {
  usage = "usage: cinterp scripts/demo.lua [--data DIR]\n" ..
          "A tour of cinterp: connectome -> model -> forward -> most active neurons ->\n" ..
          "gradients -> activation maximisation.",
  { "--data DIR", "../shared/data", "data folder (default ../shared/data)" },
}).data

local L, B = 4, 3
local TAU = 1 -- each step fully replaces the previous state: signals travel one synapse per step
ci.manual_seed(7)

local net, sensory, labels
local larva = data .. "/larva_winding2023"
if ci.connectome and ci.cli.exists(larva .. "/edges.csv.gz") and ci.cli.exists(larva .. "/neurons.csv.gz") then
  print("loading the larval brain from " .. larva)
  local ok, c = pcall(ci.connectome.read, { edges = larva .. "/edges.csv.gz", neurons = larva .. "/neurons.csv.gz" })
  if ok then
    print(("  %d neurons, %d connections"):format(c.n, c.nnz))
    local ok2, sel = pcall(c.select, c, { flow = "afferent" })
    if ok2 and #sel > 0 then sensory = sel end
    if sensory then
      print(("  %d afferent (sensory) neurons"):format(#sensory))
      net = c:model { sensory = sensory, num_layers = L, tau = TAU }
      labels = c.ids
    end
  else
    print("  could not load it (" .. tostring(c) .. "); using a random connectome instead")
  end
end

if not net then
  local n, nnz = 3000, 110000
  print(("a seeded random connectome: %d neurons, ~%d connections"):format(n, nnz))
  local pm = ffi.new("ci_csr*[1]")
  ci._engine.check(ci._engine.C.ci_random_connectome(n, nnz, 42, pm), "demo")
  local W = ffi.gc(pm[0], ci._engine.C.ci_csr_release)
  local S = 150
  local s = ffi.new("int32_t[?]", S)
  ci._engine.check(ci._engine.C.ci_random_sensory(n, S, 42, s), "demo")
  sensory = {}
  for k = 1, S do sensory[k] = s[k - 1] + 1 end
  net = ci.MultilayeredNetwork(W, sensory, { num_layers = L, tau = TAU })
end
print(net)

-- three stimuli: each drives a random tenth of the sensory neurons at the first step
local S = #sensory
local x = ci.zeros(B, S, L)
for b = 1, B do
  for s = 1, S do if ci._engine.C.ci_rng_uniform() < 0.1 then x:set(0.5, b, s, 1) end end
end

local t0 = os.clock()
local out = ci.no_grad(function() return net:forward(x) end)
print(("\nforward: %d neurons x %d stimuli x %d layers in %.3f s (CPU time)"):format(net.n, B, L, os.clock() - t0))

-- the most activated non-sensory neurons of stimulus 1 at each layer, as a frame
local is_sensory = {}
for _, i in ipairs(sensory) do is_sensory[i] = true end
local rows = {}
for l = 1, L do
  local best, bi = -1, 0
  for i = 1, net.n do if not is_sensory[i] then
    local v = out:get(1, i, l)
    if v > best then best, bi = v, i end
  end end
  rows[#rows + 1] = { l, bi, labels and tostring(labels[bi]) or tostring(bi), best }
end
local top = ci.frame.from_rows({ "layer", "neuron", "id", "activation" }, rows)
print("\nmost activated non-sensory neuron per layer (stimulus 1):")
print(top)

-- a neuron the stimulus only just reaches at the last layer: which inputs matter for it?
local target, best = rows[L][2], math.huge
for i = 1, net.n do
  local v = out:get(1, i, L)
  if not is_sensory[i] and v > 0.02 and math.abs(v - 0.1) < best then target, best = i, math.abs(v - 0.1) end
end
local g = ci.zeros(B, net.n, L)
g:set(1, 1, target, L)
local gin = net:vjp(x, g)
local imp = {}
for s = 1, S do imp[#imp + 1] = { s, sensory[s], gin:get(1, s, 1) } end
table.sort(imp, function(a, b) return math.abs(a[3]) > math.abs(b[3]) end)
local irows = {}
for k = 1, 5 do irows[k] = imp[k] end
print(("\nneuron %d%s is at %.3f at layer %d; the inputs at step 1 that matter most for it (gradients):"):format(
  target, labels and (" (id " .. tostring(labels[target]) .. ")") or "", out:get(1, target, L), L))
print(ci.frame.from_rows({ "slot", "neuron", "gradient" }, irows))

if ci.activation_maximisation and ci.TargetActivation then
  print(("\nactivation maximisation: drive neuron %d at layer %d to 1 (40 iterations)"):format(target, L))
  local targets = ci.TargetActivation { targets = { [L] = { [target] = 1.0 } }, batch_size = 1 }
  -- start from stimulus 1; light input regularisation, none on the output (the
  -- output term sums over every neuron and step and would outweigh one target)
  local input, output, act_loss = ci.activation_maximisation(net, targets,
    { num_iterations = 40, input_tensor = x:narrow(1, 1, 1):clone(), quiet = true,
      early_stopping = false, in_reg_lambda = 1e-4, out_reg_lambda = 0 })
  print(("  activation loss %.4f -> %.4f; neuron %d now at %.3f"):format(act_loss[1], act_loss[#act_loss],
        target, output:get(target, L)))
end
print("\ndone. Next: `cinterp` for the REPL, README.md for the recipes.")
