-- workload.lua: a short tour of the engine for tests/valgrind.sh: tensors and the tape,
-- a sparse product, a CSV written and read back (plain and gzip), a frame, and a
-- network forward + backward with per-group parameters. Errors are caught and
-- counted, so the error paths run under memcheck too. Exits non-zero on a wrong result.
local ci = rawget(_G, "ci") or require "cinterp"
ci.manual_seed(3)
local a = ci.randn(20, 30):requires_grad(true)
local b = ci.rand(30, 5)
local loss = (a:matmul(b):tanh() * 2 - 1):pow(2):mean() + a:abs():sum() * 0.01
loss:backward()
assert(a.grad:numel() == 600)
assert(not pcall(function() return a:matmul(a) end))
assert(not pcall(function() return ci.tensor { { 1, 2 }, { 3 } } end))

local W = ci.sparse({ 2, 3, 1, 4, 3 }, { 1, 2, 3, 3, 4 }, { 0.5, -0.25, 0.75, 1.0, 0.5 }, 4, 4)
local y = W * ci.ones(4, 3)
assert(math.abs(y:get(3, 1) - 0.25) < 1e-6)
assert(not pcall(function() return ci.sparse({ 5 }, { 1 }, { 1 }, 4, 4) end))

local f = ci.frame { id = { 1, 2, 3 }, name = { "a", "b,c", "d\"e" }, w = { 0.5, 0 / 0, 2 } }
local tmp = os.tmpname()
for _, suffix in ipairs { ".csv", ".csv.gz" } do
  f:write_csv(tmp .. suffix)
  local g = ci.read_csv(tmp .. suffix)
  assert(g:nrow() == 3 and g:col("name")[2] == "b,c")
  os.remove(tmp .. suffix)
end
assert(not pcall(ci.read_csv, tmp .. ".missing.csv"))
local s = f:filter(function(r) return r.id > 1 end):sort("id", { descending = true })
assert(s:nrow() == 2)

local groups = { "A", "B", "A", "B" }
local net = ci.MultilayeredNetwork(W, { 1, 2 }, { num_layers = 3, idx_to_group = groups })
net:set_param_grads { slopes = true, raw_biases = true }
local u = ci.rand(2, 2, 3):requires_grad(true)
local out = net:forward(u)
out:sum():backward()
assert(u.grad:numel() == 12 and net.slope.grad ~= nil)
assert(not pcall(function() return net:forward(ci.ones(3, 3)) end))
local tgt = ci.TargetActivation { targets = { [2] = { [3] = 0.5 } }, batch_size = 1 }
local _, _, act_loss = ci.activation_maximisation(net, tgt, { num_iterations = 3, quiet = true })
assert(#act_loss == 3)
print("workload ok")
os.remove(tmp)
