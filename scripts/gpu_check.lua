-- gpu_check.lua: the first run on a GPU in one command (`make gpu-check`, which
-- builds the CUDA configuration and runs this with its host):
--   1. the CUDA tests: the golden forward / parameter-gradient cases on the GPU
--      and the CPU-vs-GPU agreement tests (busted on tests/cuda_spec.lua);
--   2. a timing of the 140,000-neuron / 14,984,648-connection benchmark network
--      (core/generator.c, bench/README.md), 10 layers: one forward (no grad)
--      and one iteration of activation maximisation at B = 1, 8, 32, on the
--      GPU and, for comparison, on the CPU;
-- then prints one table. Without a usable GPU it says why and exits 1 at once.
-- Run it through scripts/gpu_check.sh (`make gpu-check`), which also sets the
-- paths of a carried build (`make gpu-bundle`).
-- Options: --no-cpu (skip the CPU column), --budget S (seconds for the CPU
-- column, 150 by default; the rest of it is skipped once spent).
local ci = ci or require "cinterp"
local ffi = require "ffi"
local C = ci._engine.C

local opts = { budget = 150 }
for k = 1, #arg do
  if arg[k] == "--no-cpu" then opts.no_cpu = true
  elseif arg[k] == "--budget" then opts.budget = tonumber(arg[k + 1]) or opts.budget
  end
end

local ok, why = ci.cuda_available()
if not ok then
  io.stderr:write("gpu-check: " .. tostring(why) .. "\n")
  os.exit(1)
end

pcall(ffi.cdef, [[
typedef struct { long tv_sec; long tv_nsec; } gpu_check_ts;
int clock_gettime(int clk, gpu_check_ts *tp);
long readlink(const char *path, char *buf, size_t size);
]])
local ts = ffi.new("gpu_check_ts")
local function now()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end
local t_begin = now()

local function say(fmt, ...)
  io.write(string.format(fmt, ...), "\n")
  io.flush()
end

say("gpu-check: %s", ci.device_info())

------------------------------------------------------------------------------
-- 1. the CUDA tests, run by this host
------------------------------------------------------------------------------
local host
do
  local buf = ffi.new("char[4096]")
  local len = ffi.C.readlink("/proc/self/exe", buf, 4095)
  host = len > 0 and ffi.string(buf, len) or "build-cuda/cinterp"
end
local build = host:match("^(.*)/[^/]*$") or "."
local tap = build .. "/gpu-check-tests.tap"
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
-- busted's runner run by this host (scripts/gpu_check.sh points BUSTED at a
-- carried copy and LUA_PATH at its modules)
local cmd = string.format("LUA_PATH=%s LUA_CPATH=%s CINTERP_BIN=%s %s %s -o TAP tests/cuda_spec.lua > %s 2>&1",
  q(os.getenv("LUA_PATH") or ("lua/?.lua;lua/?/init.lua;bindings/?.lua;" .. build .. "/lua/?.lua;tests/?.lua;;")),
  q(os.getenv("LUA_CPATH") or (build .. "/?.so;;")), q(host), q(host),
  q(os.getenv("BUSTED") or "/usr/bin/busted"), q(tap))
local t0 = now()
os.execute(cmd)
local passed, failed, pending, failures = 0, 0, 0, {}
for line in io.lines(tap) do
  if line:match("^ok .*# SKIP") then pending = pending + 1
  elseif line:match("^ok ") then passed = passed + 1
  elseif line:match("^not ok ") then failed = failed + 1; failures[#failures + 1] = line
  end
end
say("tests/cuda_spec.lua on the GPU: %d passed, %d failed, %d pending (%.0f s; TAP in %s)",
    passed, failed, pending, now() - t0, tap)
for _, line in ipairs(failures) do say("  %s", line) end
if passed + failed == 0 then say("  busted ran no test: see %s", tap) end

------------------------------------------------------------------------------
-- 2. the 140k / 15M network, 10 layers
------------------------------------------------------------------------------
local N, NNZ, L = 140000, 14984648, 10
t0 = now()
local pm = ffi.new("ci_csr*[1]")
ci._engine.check(C.ci_random_connectome(N, NNZ, 20240601 + N, pm), "gpu-check")
local W = ffi.gc(pm[0], C.ci_csr_release)
local S = math.floor(N * 0.05 + 0.5)
local sens = ffi.new("int32_t[?]", S)
ci._engine.check(C.ci_random_sensory(N, S, 20240601 + N, sens), "gpu-check")
local sensory = {}
for s = 1, S do sensory[s] = sens[s - 1] + 1 end
local nets = { cuda = ci.MultilayeredNetwork(W, sensory, { num_layers = L, device = "cuda" }) }
if not opts.no_cpu then nets.cpu = ci.MultilayeredNetwork(W, sensory, { num_layers = L }) end
say("network: %d neurons, %d connections, %d sensory, %d layers (built in %.1f s)", N,
    tonumber(W:nnz()), S, L, now() - t0)

-- 10 non-sensory target neurons, spread over the network, at the last layer
local is_sensory = {}
for _, i in ipairs(sensory) do is_sensory[i] = true end
local targets_of = {}
do
  local i = 1
  while #targets_of < 10 do
    if not is_sensory[i] then targets_of[#targets_of + 1] = i end
    i = i + math.floor(N / 10) + 1
    if i > N then i = i - N end
  end
end

local function median(xs)
  table.sort(xs)
  local m = #xs
  if m == 0 then return 0 / 0 end
  return m % 2 == 1 and xs[(m + 1) / 2] or (xs[m / 2] + xs[m / 2 + 1]) / 2
end

-- forward without gradients: one warm-up, median of `reps`
local function time_forward(net, x, reps)
  ci.no_grad(function() return net:forward(x) end)
  local t = {}
  for r = 1, reps do
    local s = now()
    ci.no_grad(function() return net:forward(x) end)
    t[r] = now() - s
  end
  return median(t)
end

-- one iteration of activation maximisation: the time between successive
-- iterations (the reference's measure), median over `iters` - 1 of them
local function time_am(net, device, x, B, iters)
  local goal = {}
  for _, i in ipairs(targets_of) do goal[i] = 1 end
  local targets = ci.TargetActivation({ [L] = goal }, B) -- the same in every batch
  local stamps = {}
  ci.activation_maximisation(net, targets, {
    input_tensor = x, num_iterations = iters, early_stopping = false, quiet = true,
    device = device, log = function() stamps[#stamps + 1] = now() end })
  local d = {}
  for k = 2, #stamps do d[#d + 1] = stamps[k] - stamps[k - 1] end
  return median(d)
end

local rows = {}
local cpu_start = nil
for _, B in ipairs { 1, 8, 32 } do
  ci.manual_seed(1)
  local x = ci.rand(B, S, L) * ci.rand(B, S, L):lt(0.3)
  local row = { B = B }
  row.gpu_fwd = time_forward(nets.cuda, x, 5)
  row.gpu_am = time_am(nets.cuda, "cuda", x, B, 6)
  if nets.cpu then
    cpu_start = cpu_start or now()
    if now() - cpu_start < opts.budget then
      row.cpu_fwd = time_forward(nets.cpu, x, 1)
      row.cpu_am = time_am(nets.cpu, "cpu", x, B, 3)
    end
  end
  rows[#rows + 1] = row
  say("  B = %d measured (%.0f s so far)", B, now() - t_begin)
end

local function cell(v)
  if v == nil then return "-" end
  return string.format("%.4f", v)
end
say("")
say("| B  | GPU fwd (s) | GPU AM iter (s) | CPU fwd (s) | CPU AM iter (s) | fwd x | AM x |")
say("|----|-------------|-----------------|-------------|-----------------|-------|------|")
for _, r in ipairs(rows) do
  local fx = r.cpu_fwd and string.format("%.1f", r.cpu_fwd / r.gpu_fwd) or "-"
  local ax = r.cpu_am and string.format("%.1f", r.cpu_am / r.gpu_am) or "-"
  say("| %-2d | %11s | %15s | %11s | %15s | %5s | %4s |", r.B, cell(r.gpu_fwd), cell(r.gpu_am),
      cell(r.cpu_fwd), cell(r.cpu_am), fx, ax)
end
say("(x = CPU time / GPU time, CPU with %d OpenMP threads; %.0f s in all)", C.ci_num_threads(),
    now() - t_begin)
os.exit(failed == 0 and passed > 0 and 0 or 1)
