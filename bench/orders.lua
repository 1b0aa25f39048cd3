-- orders.lua: what the engine's neuron orders (reorder = "none" | "rcm" |
-- "cluster", core/reorder.c) give on a network: the mean connection distance
-- (ci_csr_spread: ~1/3 for a random order), the time to compute each order,
-- and the sparse product under each, in turn within each round (the minimum
-- over the rounds, the least disturbed run on a busy machine); with --fwd also
-- a 10-layer forward of the network built with each order.
--
--   cinterp bench/orders.lua --net NET [--Bs 1,8,32] [--rounds 7] [--fwd 1]
--   NET as bench_one.lua: brain:N:NNZ[:BLOCKS:PLOCAL:PNEAR], larva, mb, ref50k,
--   dump:DIR, random:N:NNZ
local root = (debug.getinfo(1, "S").source:match("^@(.*)/bench/[^/]*$")) or "."
package.path = root .. "/bench/?.lua;" .. package.path
local ci = rawget(_G, "ci") or require "cinterp"
local ffi, nets, tool = require "ffi", require "nets", require "tool"
local C, check, fmt = ci._engine.C, ci._engine.check, string.format

local o = tool.args({ Bs = "1,8,32", rounds = "7" }, arg or {}, "orders.lua")
assert(o.net, "orders.lua: --net is required")
local now = tool.clock()

-- the minimum over --rounds of run(v) for every order v in turn, as
-- "name ms (speed-up against the caller's order)" cells
local function fastest(orders, run, digits)
  local best = {}
  for r = 1, tonumber(o.rounds) do
    for v in ipairs(orders) do
      local t0 = now()
      run(v)
      local t = now() - t0
      if r == 1 or t < best[v] then best[v] = t end
    end
  end
  local cells = {}
  for v, od in ipairs(orders) do
    cells[#cells + 1] = fmt("%s %." .. digits .. "f (%.2fx)", od.name, best[v] * 1e3, best[1] / best[v])
  end
  return table.concat(cells, "   ")
end

local W, sensory, n = nets.load(o.net, os.getenv("CI_SHARED") or (root .. "/../shared"))
io.write(fmt("%s: %d neurons, %d connections, threads %s\n", o.net, n, tonumber(W:nnz()),
             os.getenv("OMP_NUM_THREADS") or "all"))
local orders = { { name = "none", M = W } }
for _, f in ipairs { { "rcm", C.ci_csr_rcm }, { "cluster", C.ci_csr_clusters } } do
  local perm = ffi.new("int32_t[?]", n)
  local t0 = now()
  check(f[2](W, perm), "orders.lua")
  local took = now() - t0
  local pm = ffi.new("ci_csr*[1]")
  check(C.ci_csr_permuted(W, perm, pm), "orders.lua")
  orders[#orders + 1] = { name = f[1], M = ffi.gc(pm[0], C.ci_csr_release), perm = perm, took = took }
end
for _, od in ipairs(orders) do
  io.write(fmt("  %-8s spread %.3f%s\n", od.name, C.ci_csr_spread(W, od.perm),
               od.took and fmt("   (computed in %.2f s)", od.took) or ""))
end

io.write(fmt("the product Y = W X, ms (min of %s rounds, orders in turn):\n", o.rounds))
for b in o.Bs:gmatch("%d+") do
  local B = tonumber(b)
  local X, Y = ffi.new("float[?]", n * B), ffi.new("float[?]", n * B)
  for k = 0, n * B - 1 do X[k] = (k * 2654435761 % 1000) / 1000 end
  io.write(fmt("  B=%-3d %s\n", B, fastest(orders, function(v)
    check(C.ci_csr_spmm(orders[v].M, X, B, Y, 0), "orders.lua")
  end, 2)))
end

if o.fwd then -- the whole forward of the network built in each order, B = 8, 10 layers
  local x = ci.rand(8, #sensory, 10)
  local built = {}
  for v, od in ipairs(orders) do
    built[v] = ci.MultilayeredNetwork(W, sensory, { num_layers = 10, reorder = od.name })
    ci.no_grad(function() return built[v]:forward(x) end)
  end
  io.write(fmt("forward, B=8, 10 layers, ms: %s\n", fastest(orders, function(v)
    collectgarbage()
    ci.no_grad(function() return built[v]:forward(x) end)
  end, 1)))
end
