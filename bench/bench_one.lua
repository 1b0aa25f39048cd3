-- bench_one.lua: one benchmark configuration on cinterp's side, in a process
-- of its own so that its peak memory is its own; bench/bench.lua spawns it once
-- per configuration (bench/ref_one.py is the reference's counterpart). Prints
-- one line "RESULT key=value key=value ..." (and nothing else on stdout that
-- starts with RESULT).
--
--   cinterp bench/bench_one.lua --net NET [--B 8] [--L 10] [--what fwd,am,train]
--                               [--cap SECONDS] [--am-iters K] [--epochs E]
--                               [--Bs 1,8,16,32] [--rounds R] [--prefetch P] [--dir DIR]
-- NET (bench/nets.lua): ref10k, ref50k (the exact networks of ../shared/bench/nets),
--      dump:DIR (a raw dump, e.g. the generated 140k network), random:N:NNZ
--      (core/generator.c, seed 20240601 + N; sensory 5 % of N), larva.
-- --what: any of fwd (forward, no grad), am (activation-maximisation iteration),
--         step (the per-timestep breakdown: ci_profile over 3 forwards after a
--         warm-up and over iterations 2-5 of an activation maximisation),
--         train (train_model epoch), spmm (one ci_csr_spmm on the weights for
--         B = 1, 8, 32; --B/--L ignored), floor (ci_floorbench at each width of
--         --Bs, --rounds rounds, prefetch distance --prefetch), dump (write the
--         network as a raw dump into --dir), actmax100 (a whole 100-iteration run).
-- The input x and the targets are bench/workload.lua's (the reference's too);
-- wsum / wchk are bench/nets.lua's checksums of the network.
-- --cap: a soft budget in seconds for the measurements, shared among the
--        phases asked for (forward 1, iterations 2, epochs 2 parts): repeats
--        stop early once a phase's share is spent (after at least one timed
--        forward, one iteration-to-iteration or one epoch-to-epoch interval).
-- The driver runs train in a process of its own (the network then has 20
-- groups; without train it has none, as the reference's timed model).
--
-- Timings (seconds, CLOCK_MONOTONIC):
--   fwd_s       median of up to 3 no-grad forwards after one warm-up (the
--               warm-up alone when it took over half the forward's budget)
--   am_iter_s   median time between successive iterations of
--               ci.activation_maximisation (input given, early_stopping = false,
--               quiet; 10 target neurons per batch at the last layer): forward
--               with grad + loss + backward + Adam step, what the reference timed
--   train_epoch_s median time between successive epochs of ci.train_model
--               (20 groups, slopes + biases + tau trained, 10 target neurons per
--               batch at the last layer, train_fraction 1)
--   peak_*_mb   VmHWM during that phase (reset through /proc/self/clear_refs
--               before it, so it includes the resident network, not the
--               generator); peak_mb: VmHWM of the process up to the end of the
--               activation maximisation (generation/loading + network + forward
--               + AM: what the reference's peak RSS covered); peak_total_mb:
--               VmHWM of the whole process
local ci = rawget(_G, "ci") or require "cinterp"
local ffi = require "ffi"
local C = ci._engine.C
local check = ci._engine.check

pcall(ffi.cdef, [[
typedef struct { long tv_sec; long tv_nsec; } bench_ts;
int clock_gettime(int clk, bench_ts *tp);
]])
local ts = ffi.new("bench_ts")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

local function status_mb(key)
  local f = io.open("/proc/self/status")
  if not f then return 0 / 0 end
  local s = f:read("*a")
  f:close()
  local v = s:match(key .. ":%s*(%d+)")
  return v and tonumber(v) / 1024 or 0 / 0
end
-- resets VmHWM to the current RSS (Linux >= 4.0); false when not allowed
local hwm_max = 0 -- the highest VmHWM seen before any reset
local function reset_peak()
  local h = status_mb("VmHWM")
  if h > hwm_max then hwm_max = h end
  collectgarbage()
  collectgarbage()
  local f = io.open("/proc/self/clear_refs", "w")
  if not f then return false end
  local ok = f:write("5")
  f:close()
  return ok and true or false
end

local function median(xs)
  if #xs == 0 then return 0 / 0 end
  local t = {}
  for k, v in ipairs(xs) do t[k] = v end
  table.sort(t)
  local m = #t
  if m % 2 == 1 then return t[(m + 1) / 2] end
  return 0.5 * (t[m / 2] + t[m / 2 + 1])
end

-- arguments
local o = { B = 8, L = 10, what = "fwd,am,train", cap = 60, ["am-iters"] = 6, epochs = 4 }
do
  local a, k = arg or {}, 1
  while k <= #a do
    local name = a[k]:match("^%-%-([%w%-]+)$")
    if not name or a[k + 1] == nil then
      io.stderr:write("bench_one.lua: bad argument " .. tostring(a[k]) .. "\n")
      os.exit(2)
    end
    o[name] = a[k + 1]
    k = k + 2
  end
end
if not o.net then
  io.stderr:write("bench_one.lua: --net is required (ref10k, ref50k, dump:DIR, random:N:NNZ, larva)\n")
  os.exit(2)
end
local B, L, cap = tonumber(o.B), tonumber(o.L), tonumber(o.cap)
local what = {}
for w in o.what:gmatch("[^,]+") do what[w] = true end
local parts = (what.fwd and 1 or 0) + (what.am and 2 or 0) + (what.train and 2 or 0)
local function share(p) return cap * p / math.max(parts, 1) end

local root = (debug.getinfo(1, "S").source:match("^@(.*)/bench/[^/]*$")) or "."
local shared = os.getenv("CI_SHARED") or (root .. "/../shared")
package.path = root .. "/bench/?.lua;" .. package.path
local nets = require "nets"
local workload = require "workload"

local res = { net = o.net, B = B, L = L }
local function emit()
  local keys = {}
  for k in pairs(res) do keys[#keys + 1] = k end
  table.sort(keys)
  local parts = {}
  for _, k in ipairs(keys) do
    local v = res[k]
    if type(v) == "number" then v = (v == math.floor(v) and math.abs(v) < 1e15) and
        string.format("%d", v) or string.format("%.6g", v) end
    parts[#parts + 1] = k .. "=" .. tostring(v)
  end
  io.write("RESULT " .. table.concat(parts, " ") .. "\n")
  io.flush()
end

------------------------------------------------------------------------------
-- the network
------------------------------------------------------------------------------
local t_build = now()
local W, sensory, n = nets.load(o.net, shared)
res.n, res.nnz, res.S = n, tonumber(W:nnz()), #sensory
res.build_s = now() - t_build
res.wsum, res.wchk = nets.checksum(W)

-- a raw dump of the network (bench.lua caches the generated 140k network so)
if what.dump then
  if not o.dir then
    io.stderr:write("bench_one.lua: --what dump needs --dir DIR\n")
    os.exit(2)
  end
  nets.dump(W, sensory, o.dir, { generator = o.net, seed = o.net:match("^random:(%d+)") and
    20240601 + tonumber(o.net:match("^random:(%d+)")) or "none" })
  res.dir = o.dir
end

-- the product's floor (core/floorbench.c) at each width of --Bs
if what.floor then
  local rounds, prefetch = tonumber(o.rounds) or 11, tonumber(o.prefetch) or 32
  local out = ffi.new("ci_floorbench_result")
  for b in (o.Bs or "1,8,16,32"):gmatch("%d+") do
    check(C.ci_floorbench(W, tonumber(b), rounds, prefetch, out), "bench_one")
    for v = 0, C.CI_FLOOR_NVARIANTS - 1 do
      local name = ffi.string(C.ci_floorbench_variant(v))
      local key = "floor_b" .. b .. "_" .. name
      res[key .. "_s"] = out.median_s[v]
      res[key .. "_min_s"] = out.min_s[v]
      res[key .. "_max_s"] = out.max_s[v]
    end
  end
  res.floor_rounds, res.floor_prefetch = rounds, prefetch
end

------------------------------------------------------------------------------
-- the sparse product alone: Y = W X for B = 1, 8, 32 (X: n x B, batch innermost)
------------------------------------------------------------------------------
if what.spmm then
  local reps = tonumber(o.reps) or 9
  for _, b in ipairs { 1, 8, 32 } do
    local X = ffi.new("float[?]", n * b)
    local Y = ffi.new("float[?]", n * b)
    for k = 0, n * b - 1 do X[k] = (k * 2654435761 % 1000) / 1000 end
    check(C.ci_csr_spmm(W, X, b, Y, 0), "bench_one")
    local ts_ = {}
    local t_start = now()
    for r = 1, reps do
      local t0 = now()
      C.ci_csr_spmm(W, X, b, Y, 0)
      ts_[r] = now() - t0
      if r >= 3 and now() - t_start > cap / 3 then break end
    end
    res["spmm_b" .. b .. "_s"] = median(ts_)
    res["spmm_b" .. b .. "_min_s"] = math.min(unpack(ts_))
  end
end

if not (what.fwd or what.am or what.step or what.train or what.actmax100) then
  res.peak_total_mb = math.max(hwm_max, status_mb("VmHWM"))
  emit()
  os.exit(0)
end

------------------------------------------------------------------------------
-- the model
------------------------------------------------------------------------------
local G = 20
local idx_to_group
if what.train then
  idx_to_group = {}
  for i = 1, n do idx_to_group[i] = (i - 1) % G + 1 end
end
local net = ci.MultilayeredNetwork(W, sensory, { num_layers = L, idx_to_group = idx_to_group })
W = nil -- the network holds its own copy
res.peak_build_mb = status_mb("VmHWM")
local S = #sensory
-- the input and targets of bench/workload.lua, the same as the reference's
local x = ci.zeros(B, S, L)
workload.fill_input(x:float_ptr(), B * S * L)
local sensory0 = {}
for _, i in ipairs(sensory) do sensory0[i - 1] = true end
local tgt = {}
for k, i in ipairs(workload.targets(n, sensory0)) do tgt[k] = i + 1 end
res.targets = #tgt

reset_peak()
res.rss_net_mb = status_mb("VmRSS")

if what.fwd then
  reset_peak()
  local tf = {}
  local t_start = now()
  ci.no_grad(function() net:forward(x) end) -- warm-up
  net.activations = nil
  local first = now() - t_start
  for r = 1, 3 do
    if (now() - t_start) + first > share(1) and (r > 1 or first > share(1) / 2) then break end
    collectgarbage()
    local t0 = now()
    local out = ci.no_grad(function() return net:forward(x) end)
    tf[#tf + 1] = now() - t0
    out = nil
    net.activations = nil
  end
  if #tf == 0 then tf[1] = first end -- too slow for more: the warm-up is the sample
  res.fwd_s = median(tf)
  res.fwd_reps = #tf
  collectgarbage()
  res.peak_fwd_mb = status_mb("VmHWM")
end

local STOP = {}

-- Runs fn(log), where log is the recipe's per-iteration callback, and returns the
-- times between successive iterations (the reference's own measure) and the
-- time to the first one; stops the run once this phase's share of --cap is spent.
local function time_iterations(fn)
  local stamps, t_start = {}, now()
  local ok, err = pcall(fn, function()
    local t = now()
    stamps[#stamps + 1] = t
    if #stamps >= 2 and t - t_start > share(2) then error(STOP) end
  end)
  if not ok and err ~= STOP then error(err, 0) end
  local d = {}
  for k = 2, #stamps do d[#d + 1] = stamps[k] - stamps[k - 1] end
  return d, stamps[1] and stamps[1] - t_start or 0 / 0
end

-- the activation maximisation the reference times: 10 targets per batch at the
-- last layer, the input given, no early stopping
local function am_run(iters, log)
  local rows = { batch = {}, layer = {}, neuron = {}, value = {} }
  for b = 1, B do
    for _, i in ipairs(tgt) do
      local r = #rows.batch + 1
      rows.batch[r], rows.layer[r], rows.neuron[r], rows.value[r] = b, L, i, 1
    end
  end
  local targets = ci.TargetActivation { targets = ci.frame(rows), batch_size = B }
  return ci.activation_maximisation(net, targets, {
    input_tensor = x, num_iterations = iters, early_stopping = false, quiet = true, log = log })
end

if what.am then
  reset_peak()
  local d, first = time_iterations(function(log) return am_run(tonumber(o["am-iters"]), log) end)
  res.am_iter_s = median(d)
  res.am_reps = #d
  res.am_first_s = first -- setup + first forward
  collectgarbage()
  res.peak_am_mb = status_mb("VmHWM")
  res.stored_mb = net:stored_bytes() / 2 ^ 20
end

-- the per-timestep breakdown (core/profile.c): seconds per step of the forward
-- (no grad: product, activation, the rest; the output transpose per forward)
-- and of the backward inside the AM iterations (elementwise, product over the
-- transpose, the rest), and the AM iteration's time outside the engine
if what.step then
  ci.no_grad(function() return net:forward(x) end) -- warm-up: pools, page faults
  net.activations = nil
  local p = ffi.new("ci_profile")
  C.ci_profile_enable(1)
  for _ = 1, 3 do
    collectgarbage() -- the last output freed, as the fwd measure does
    ci.no_grad(function() return net:forward(x) end)
    net.activations = nil
  end
  C.ci_profile_read(p)
  local fs = math.max(tonumber(p.fwd_steps), 1)
  res.step_fwd_product_s = p.fwd_product_s / fs
  res.step_fwd_activation_s = p.fwd_activation_s / fs
  res.step_fwd_rest_s = (p.fwd_total_s - p.fwd_product_s - p.fwd_activation_s) / fs
  res.step_fwd_output_s = p.fwd_output_s / math.max(tonumber(p.forwards), 1)
  -- 5 iterations; the timers run from the first log call (after iteration 1's
  -- forward) to the fifth: 4 whole iterations (backward, Adam, next forward)
  am_run(2, nil) -- warm-up: the backward's buffers into the pool, faulted in
  local stamps = {}
  am_run(5, function()
    stamps[#stamps + 1] = now()
    if #stamps == 1 then C.ci_profile_enable(1)
    elseif #stamps == 5 then C.ci_profile_read(p); C.ci_profile_enable(0) end
  end)
  local wall = stamps[5] - stamps[1]
  local bs = math.max(tonumber(p.bwd_steps), 1)
  res.step_bwd_elementwise_s = p.bwd_elementwise_s / bs
  res.step_bwd_product_s = p.bwd_product_s / bs
  res.step_bwd_rest_s = (p.bwd_total_s - p.bwd_elementwise_s - p.bwd_product_s) / bs
  res.step_am_iter_s = wall / 4
  res.step_am_outside_s = (wall - p.fwd_total_s - p.bwd_total_s) / 4 -- loss, Adam, Lua
end

-- the process's peak up to here: generation + network + forward + activation
-- maximisation, what the reference's peak RSS covered
res.peak_mb = math.max(hwm_max, status_mb("VmHWM"))

if what.train then
  reset_peak()
  local rows = { batch = {}, layer = {}, neuron_idx = {}, value = {} }
  for b = 1, B do
    for k, i in ipairs(tgt) do
      local r = #rows.batch + 1
      rows.batch[r], rows.layer[r], rows.neuron_idx[r], rows.value[r] = b, L, i, 0.1 * k / #tgt
    end
  end
  local d = time_iterations(function(log)
    return ci.train_model(net, x, ci.frame(rows), {
      num_epochs = tonumber(o.epochs), train_fraction = 1, quiet = true,
      train_slopes = true, train_biases = true, train_tau = true, log = log })
  end)
  res.train_epoch_s = median(d)
  res.train_reps = #d
  collectgarbage()
  res.peak_train_mb = status_mb("VmHWM")
end

-- a whole 100-iteration activation maximisation (issue 7 item 4)
if what.actmax100 then
  reset_peak()
  local iters = tonumber(o["am-iters"]) or 100
  local rows = { batch = {}, layer = {}, neuron = {}, value = {} }
  for b = 1, B do
    for _, i in ipairs(tgt) do
      local r = #rows.batch + 1
      rows.batch[r], rows.layer[r], rows.neuron[r], rows.value[r] = b, L, i, 1
    end
  end
  local targets = ci.TargetActivation { targets = ci.frame(rows), batch_size = B }
  local count = 0
  local t0 = now()
  local _, _, act = ci.activation_maximisation(net, targets, {
    num_iterations = iters, early_stopping = false, quiet = true, seed = 1,
    log = function() count = count + 1 end,
  })
  res.actmax_total_s = now() - t0
  res.actmax_iters = count
  res.actmax_first_loss = act[1]
  res.actmax_last_loss = act[#act]
  collectgarbage()
  res.peak_actmax_mb = status_mb("VmHWM")
end

res.peak_total_mb = math.max(hwm_max, status_mb("VmHWM"))
emit()
