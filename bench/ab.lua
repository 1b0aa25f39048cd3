-- ab.lua: engine variants A/B in one process, interleaved (every variant in turn
-- in each round; medians and [min-max] over the rounds), for a noisy machine
-- where only figures taken side by side compare. A variant is a set of the
-- engine's speed knobs (ci_tune_set, core/tuning.c); the same network, input
-- and targets for all.
--
--   cinterp bench/ab.lua --net NET [--B 8] [--L 10] [--rounds 5] [--what fwd,am,spmm]
--                        [--variants "act_fused=1;act_fused=0"] [--reorder auto|none|rcm|cluster]
--                        [--clock wall|cpu]
--   NET: as bench_one.lua (ref50k, dump:DIR, random:N:NNZ, brain:N:NNZ, larva, mb)
--   fwd   one no-grad forward (10 layers by default)
--   am    one activation-maximisation iteration (the median of 3 intervals)
--   spmm  one ci_csr_spmm of the weights (X n x B)
-- Per variant it also prints the per-timestep breakdown of a profiled forward
-- and AM iteration (ci_profile: product, activation, rest; backward elementwise,
-- product, rest), in ms per step.
local ci = rawget(_G, "ci") or require "cinterp"
local ffi = require "ffi"
local C, check, fmt = ci._engine.C, ci._engine.check, string.format
local root = (debug.getinfo(1, "S").source:match("^@(.*)/bench/[^/]*$")) or "."
local shared = os.getenv("CI_SHARED") or (root .. "/../shared")
package.path = root .. "/bench/?.lua;" .. package.path
local nets, workload, tool = require "nets", require "workload", require "tool"

local o = tool.args({ B = "8", L = "10", rounds = "5", what = "fwd,am", variants = "default",
                      reorder = "auto" }, arg or {}, "ab.lua")
assert(o.net, "ab.lua: --net is required")
local B, L, rounds = tonumber(o.B), tonumber(o.L), tonumber(o.rounds)
local what = {}
for w in o.what:gmatch("[^,]+") do what[w] = true end
-- --clock cpu: the process's CPU time instead of the wall clock: with
-- OMP_NUM_THREADS=1 on a loaded machine it leaves out the time the process
-- waited for a core (with more threads it counts their spinning)
local CLOCK = (o.clock == "cpu") and 2 or 1
local now, median = tool.clock(o.clock), tool.median

-- the variants: "k=v,k=v;k=v"
local variants = {}
for spec in o.variants:gmatch("[^;]+") do
  local v = { name = spec, knobs = {} }
  for k, val in spec:gmatch("([%w_]+)=(%-?%d+)") do v.knobs[#v.knobs + 1] = { k, tonumber(val) } end
  variants[#variants + 1] = v
end
local function apply(v)
  for _, kv in ipairs(v.knobs) do check(C.ci_tune_set(kv[1], kv[2]), "ab.lua") end
end

local W, sensory, n = nets.load(o.net, shared)
io.write(fmt("%s: n %d, nnz %d, B %d, L %d, %d rounds, threads %s\n", o.net, n, tonumber(W:nnz()),
             B, L, rounds, os.getenv("OMP_NUM_THREADS") or "all"))
local net = ci.MultilayeredNetwork(W, sensory, { num_layers = L, reorder = o.reorder })
io.write(fmt("the engine's neuron order: %s (reorder = %s)\n", net.order, o.reorder))
local x = ci.zeros(B, #sensory, L)
workload.fill_input(x:float_ptr(), B * #sensory * L)
local sensory0 = {}
for _, i in ipairs(sensory) do sensory0[i - 1] = true end
local rows = { batch = {}, layer = {}, neuron = {}, value = {} }
for b = 1, B do
  for _, i in ipairs(workload.targets(n, sensory0)) do
    local r = #rows.batch + 1
    rows.batch[r], rows.layer[r], rows.neuron[r], rows.value[r] = b, L, i + 1, 1
  end
end
local targets = ci.TargetActivation { targets = ci.frame(rows), batch_size = B }

local function time_fwd()
  local t0 = now()
  local out = ci.no_grad(function() return net:forward(x) end)
  local dt = now() - t0
  out = nil
  net.activations = nil
  return dt
end

local function time_am(iters)
  local stamps = {}
  ci.activation_maximisation(net, targets, { input_tensor = x, num_iterations = iters,
    early_stopping = false, quiet = true, log = function() stamps[#stamps + 1] = now() end })
  local d = {}
  for k = 2, #stamps do d[#d + 1] = stamps[k] - stamps[k - 1] end
  return median(d)
end

local X, Y
local function time_spmm()
  if not X then
    X, Y = ffi.new("float[?]", n * B), ffi.new("float[?]", n * B)
    for k = 0, n * B - 1 do X[k] = (k * 2654435761 % 1000) / 1000 end
  end
  local t0 = now()
  check(C.ci_csr_spmm(W, X, B, Y, 0), "ab.lua")
  return now() - t0
end

local measures = {}
for _, m in ipairs { "spmm", "fwd", "am" } do if what[m] then measures[#measures + 1] = m end end
local timers = { fwd = time_fwd, am = function() return time_am(4) end, spmm = time_spmm }
local res = {}
for _, v in ipairs(variants) do
  res[v.name] = {}
  for _, m in ipairs(measures) do res[v.name][m] = {} end
end
-- warm-up: each variant once (pools, page faults, cached matrices)
for _, v in ipairs(variants) do
  apply(v)
  for _, m in ipairs(measures) do timers[m]() end
end
for r = 1, rounds do
  for _, v in ipairs(variants) do
    apply(v)
    for _, m in ipairs(measures) do table.insert(res[v.name][m], timers[m]()) end
  end
end

local function show(xs, scale)
  local lo, hi = math.min(unpack(xs)), math.max(unpack(xs))
  return fmt("%8.2f [%.2f-%.2f]", median(xs) * scale, lo * scale, hi * scale)
end
io.write(fmt("%-40s", "variant (ms: median [min-max])"))
for _, m in ipairs(measures) do io.write(fmt("%24s", m)) end
io.write("\n")
for _, v in ipairs(variants) do
  io.write(fmt("%-40s", v.name))
  for _, m in ipairs(measures) do io.write(fmt("%24s", show(res[v.name][m], 1e3))) end
  io.write("\n")
end

-- the per-step breakdown of each variant (one profiled forward and AM run)
if what.fwd or what.am then
  local p = ffi.new("ci_profile")
  io.write("per timestep (ms): forward product / activation / rest (output per forward) | " ..
           "AM backward elementwise / product / rest\n")
  for _, v in ipairs(variants) do
    apply(v)
    C.ci_profile_enable(CLOCK == 2 and 2 or 1)
    time_fwd()
    C.ci_profile_read(p)
    local fs = math.max(tonumber(p.fwd_steps), 1)
    local f = { p.fwd_product_s / fs, p.fwd_activation_s / fs,
                (p.fwd_total_s - p.fwd_product_s - p.fwd_activation_s) / fs, p.fwd_output_s }
    C.ci_profile_enable(CLOCK == 2 and 2 or 1)
    time_am(3)
    C.ci_profile_read(p)
    C.ci_profile_enable(0)
    local bs = math.max(tonumber(p.bwd_steps), 1)
    local b = { p.bwd_elementwise_s / bs, p.bwd_product_s / bs,
                (p.bwd_total_s - p.bwd_elementwise_s - p.bwd_product_s) / bs }
    io.write(fmt("%-40s %7.3f %7.3f %7.3f (%7.3f) | %7.3f %7.3f %7.3f\n", v.name, f[1] * 1e3,
                 f[2] * 1e3, f[3] * 1e3, f[4] * 1e3, b[1] * 1e3, b[2] * 1e3, b[3] * 1e3))
  end
end
