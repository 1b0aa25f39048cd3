-- determinism_spec.lua: the same seed gives bit-identical results from run to run
-- and with 1 or 2 OpenMP threads. Each run is a child process (`$BUILD/cinterp -e`)
-- with OMP_NUM_THREADS set, which prints every result as exact hex floats (%a):
-- a forward + backward pass on a random network (outputs, input gradient and
-- parameter gradients), 10 iterations of activation maximisation, 3 epochs of
-- train_model, a sparse product and tensor reductions. The network is large enough
-- (2000 neurons, ~100k connections, 4 batches) for the parallel kernels to split work.
local BUILD = os.getenv("BUILD") or "build"
local HOST = BUILD .. "/cinterp"

-- The child's program (no single quotes: it travels inside '...' on a shell line).
local CHILD = [[
local function hex(x) return string.format("%a", x) end
-- every element of a tensor, folded in a fixed order in double, plus a few raw ones
local function digest(name, t)
  local flat = t:reshape(t:numel()):totable()
  local s, w = 0, 0
  for k, v in ipairs(flat) do s = s + v; w = w + v * ((k % 13) + 1) end
  local out = { name, hex(s), hex(w) }
  for _, k in ipairs { 1, 2, #flat } do out[#out + 1] = hex(flat[k] or 0) end
  print(table.concat(out, " "))
end
ci.manual_seed(1234)
local n, S, L, B = 2000, 40, 5, 4
local rows, cols, vals = {}, {}, {}
local r = ci.rand(100000, 3):totable()
for k, x in ipairs(r) do
  rows[k] = 1 + math.floor(x[1] * n)
  cols[k] = 1 + math.floor(x[2] * n)
  vals[k] = (x[3] - 0.3) * 0.2
end
local W = ci.sparse(rows, cols, vals, n, n)
local sens = {}
for i = 1, S do sens[i] = i * 7 end
local groups = {}
for i = 1, n do groups[i] = "g" .. (i % 5) end
local net = ci.MultilayeredNetwork(W, sens, { num_layers = L, idx_to_group = groups, tau = 2 })

-- forward + backward
local u = ci.rand(B, S, L):requires_grad(true)
net:set_param_grads { slopes = true, raw_biases = true, tau = true }
local out = net:forward(u)
local loss = (out * out):sum() + out:select(2, 9):sum()
loss:backward()
digest("forward", out)
print("loss", hex(loss:get()))
digest("grad_input", u.grad)
digest("grad_slope", net.slope.grad)
digest("grad_bias", net.raw_biases.grad)
digest("grad_tau", net.tau_param.grad)
net:set_param_grads { slopes = false, raw_biases = false, tau = false }

-- activation maximisation, 10 iterations
local tgt = ci.TargetActivation { targets = { [3] = { [11] = 0.8, [500] = 0.2 }, [5] = { [1999] = 0.5 } }, batch_size = 2 }
local input, output, act_loss = ci.activation_maximisation(net, tgt, { num_iterations = 10, quiet = true, seed = 5 })
local al = {}
for k, v in ipairs(act_loss) do al[k] = hex(v) end
print("actmax_loss", table.concat(al, " "))
digest("actmax_input", input)
digest("actmax_output", output)

-- train_model, 3 epochs
local trows = {}
for b = 1, B do
  for k = 1, 4 do trows[#trows + 1] = { b, 100 * k + b, 1 + (b + k) % L, 0.1 * k } end
end
local tf = ci.frame.from_rows({ "batch", "neuron_idx", "layer", "value" }, trows)
local _, hist = ci.train_model(net, ci.rand(B, S, L), tf, { num_epochs = 3, learning_rate = 0.05, train_fraction = 1, quiet = true })
local hl = {}
for k, v in ipairs(hist.loss) do hl[k] = hex(v) end
print("train_loss", table.concat(hl, " "))
digest("trained_slope", net.slope)
digest("trained_bias", net.raw_biases)

-- sparse product and reductions
local X = ci.randn(n, 16)
digest("spmm", W * X)
digest("spmm_vec", W * X:select(2, 3))
local T = ci.randn(300, 1000)
print("sum", hex(T:sum():get()), "mean", hex(T:mean():get()), "norm", hex(T:norm(2):get()),
      "max", hex(T:max():get()), "norm1", hex(T:norm(1):get()))
digest("sum_dim1", T:sum(1))
digest("sum_dim2", T:sum(2))
digest("mean_dim1", T:mean(1))
digest("matmul", T:matmul(X:narrow(1, 1, 1000)))
]]

local function run(threads)
  local cmd = string.format("OMP_NUM_THREADS=%d %s -e '%s' 2>&1", threads, HOST, CHILD)
  local h = assert(io.popen(cmd))
  local text = h:read("*a")
  local ok = h:close()
  return text, ok
end

describe("reproducibility", function()
  local f = io.open(HOST, "rb")
  if not f then
    pending("the host " .. HOST .. " is not built (set BUILD to its folder)")
    return
  end
  f:close()
  assert(not CHILD:find("'", 1, true), "the child program must not hold single quotes")

  local runs = {}
  setup(function()
    runs.a2 = { run(2) }
    runs.b2 = { run(2) }
    runs.c1 = { run(1) }
  end)

  it("the child runs and prints every result", function()
    for _, k in ipairs { "a2", "b2", "c1" } do
      local text = runs[k][1]
      assert.is_truthy(runs[k][2], "child failed: " .. text)
      for _, key in ipairs { "forward", "grad_input", "grad_slope", "actmax_loss", "train_loss",
                             "spmm", "sum", "sum_dim2", "matmul" } do
        assert.is_truthy(("\n" .. text):find("\n" .. key .. "%s"),
                         k .. ": no line " .. key .. " in:\n" .. text)
      end
      assert.is_falsy(text:find("nan", 1, true), "a NaN in " .. k .. ":\n" .. text)
    end
  end)

  local function lines(text)
    local t = {}
    for l in text:gmatch("[^\n]+") do t[#t + 1] = l end
    return t
  end
  local function compare(x, y, what)
    local a, b = lines(x), lines(y)
    assert.are.equal(#a, #b, what .. ": line counts differ")
    for k = 1, #a do
      assert.are.equal(a[k], b[k], what .. ": line " .. k .. " differs")
    end
  end

  it("two runs with the same seed and 2 threads are bit-identical", function()
    compare(runs.a2[1], runs.b2[1], "run 1 vs run 2")
  end)

  it("1 thread and 2 threads are bit-identical", function()
    compare(runs.a2[1], runs.c1[1], "2 threads vs 1 thread")
  end)
end)
