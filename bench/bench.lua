-- bench.lua: `make bench`: times the network engine on random connectomes with
-- the statistics of ../shared/bench/REFERENCE.md (generator: ci_random_connectome
-- in core/generator.c), the reference's own shapes. Prints a table and writes
-- bench/results.csv. Usage: cinterp bench/bench.lua [--quick] [--out file.csv]
local ffi = require "ffi"
local C = ci._engine.C

local quick, out_path = false, "bench/results.csv"
for k = 1, #arg do
  if arg[k] == "--quick" then quick = true end
  if arg[k] == "--out" then out_path = arg[k + 1] end
  if arg[k] == "--help" or arg[k] == "-h" then
    print("usage: cinterp bench/bench.lua [--quick] [--out results.csv]\n" ..
          "Times forward and forward+backward of the network engine on random connectomes\n" ..
          "(140,000 neurons / 15 M connections, batch 8, 10 layers; --quick: 10,000 neurons).")
    os.exit(0)
  end
end

local function now()
  local t = ffi.new("struct { long tv_sec; long tv_nsec; }")
  ffi.C.clock_gettime(1, ffi.cast("void*", t))
  return tonumber(t.tv_sec) + tonumber(t.tv_nsec) * 1e-9
end
pcall(ffi.cdef, "int clock_gettime(int clk, void *tp);")

local function peak_rss_mb()
  for line in io.lines("/proc/self/status") do
    local v = line:match("^VmHWM:%s+(%d+)")
    if v then return tonumber(v) / 1024 end
  end
end

local function median(xs)
  table.sort(xs)
  return xs[math.floor((#xs + 1) / 2)]
end

local function make_net(n, nnz, L)
  local pm = ffi.new("ci_csr*[1]")
  ci._engine.check(C.ci_random_connectome(n, nnz, 20240601 + n, pm), "bench")
  local W = ffi.gc(pm[0], C.ci_csr_release)
  local S = math.floor(n * 0.05 + 0.5)
  local sens = ffi.new("int32_t[?]", S)
  ci._engine.check(C.ci_random_sensory(n, S, 20240601 + n, sens), "bench")
  local sensory = {}
  for s = 1, S do sensory[s] = sens[s - 1] + 1 end
  local net = ci.MultilayeredNetwork(W, sensory, { num_layers = L })
  return net, S, W:nnz()
end

local configs = quick and { { 10000, 496863, 8, 10 } } or {
  { 10000, 496863, 8, 10 }, { 140000, 14984648, 8, 10 },
}

local rows = {}
print(("%-8s %-10s %-3s %-3s %-12s %-14s %-12s"):format("n", "nnz", "B", "L", "forward s",
      "fwd+bwd s", "peak RSS MB"))
for _, cfg in ipairs(configs) do
  local n, nnz, B, L = unpack(cfg)
  local net, S, real_nnz = make_net(n, nnz, L)
  ci.manual_seed(1)
  local x = ci.rand(B, S, L) * ci.rand(B, S, L):lt(0.3)
  local tf, tb = {}, {}
  ci.no_grad(function() net:forward(x) end) -- warm-up
  for _ = 1, 3 do
    local t0 = now()
    ci.no_grad(function() net:forward(x) end)
    tf[#tf + 1] = now() - t0
  end
  local g = ci.zeros(B, n, L)
  for b = 1, B do for i = 1, 10 do g:set(1, b, i, L) end end
  for _ = 1, 3 do
    local t0 = now()
    net:vjp(x, g)
    tb[#tb + 1] = now() - t0
  end
  local r = { n = n, nnz = real_nnz, B = B, L = L, forward_s = median(tf), fwd_bwd_s = median(tb),
              peak_rss_mb = peak_rss_mb() }
  rows[#rows + 1] = r
  print(("%-8d %-10d %-3d %-3d %-12.4f %-14.4f %-12.0f"):format(n, r.nnz, B, L, r.forward_s,
        r.fwd_bwd_s, r.peak_rss_mb))
  net = nil
  collectgarbage()
end

local f = io.open(out_path, "w")
if f then
  f:write("n,nnz,B,L,forward_s,fwd_bwd_s,peak_rss_mb\n")
  for _, r in ipairs(rows) do
    f:write(("%d,%d,%d,%d,%.6f,%.6f,%.1f\n"):format(r.n, r.nnz, r.B, r.L, r.forward_s, r.fwd_bwd_s, r.peak_rss_mb))
  end
  f:close()
  print("wrote " .. out_path)
end
