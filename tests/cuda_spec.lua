-- cuda_spec.lua: the CUDA path. Without a usable GPU (a build without CUDA, or
-- the CUDA build on a machine without one) it checks that availability is
-- reported with its reason and that every way of asking for "cuda" raises a
-- clear error; the tests that need a GPU are pending with "no GPU: <reason>".
-- With a GPU: the golden forward / parameter-gradient cases on the CUDA path
-- (same tolerances as network_spec.lua) and CPU-vs-CUDA comparisons on random
-- networks (forward, vjp, tape gradients, checkpointing, manipulate, divisive).
local ffi = require "ffi"
local ci = require "cinterp"
local G = require "golden"
local R = require "refnet"
local C = ci._engine.C

local GPU, WHY = ci.cuda_available()
local NO_GPU = "no GPU: " .. tostring(WHY)
local CPU_ONLY_BUILD = WHY == "cinterp was built without CUDA (make CUDA=1)"

local function small_net(opts)
  local W = ci.sparse({ 2, 3, 3 }, { 1, 1, 2 }, { 0.5, -0.3, 0.8 }, 3, 3)
  return ci.MultilayeredNetwork(W, { 1 }, opts or { num_layers = 2 })
end

local function grouped_net()
  local W = ci.sparse({ 2, 3, 3, 1 }, { 1, 1, 2, 3 }, { 0.5, -0.3, 0.8, 0.2 }, 3, 3)
  return ci.MultilayeredNetwork(W, { 1 }, { num_layers = 3, idx_to_group = { "a", "b", "b" } })
end

local function message(fn)
  local ok, err = pcall(fn)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("device availability", function()
  it("is reported with its reason", function()
    local info, reason = ci.device_info()
    if GPU then
      assert.is_string(info)
      assert.is_true(#info > 0)
    else
      assert.is_nil(info)
      assert.is_true(WHY == "cinterp was built without CUDA (make CUDA=1)" or
                     WHY:match("^no usable GPU: .+") ~= nil, WHY)
      assert.are.equal(WHY, reason)
    end
  end)

  it("says 'built without CUDA' in a build without CUDA", function()
    if not CPU_ONLY_BUILD then pending("this is the CUDA build (make CUDA=1)") return end
    assert.are.equal("cinterp was built without CUDA (make CUDA=1)", WHY)
    local buf = ffi.new("char[64]")
    assert.are.equal(C.CI_EDEVICE, C.ci_device_info(buf, 64))
    assert.are.equal("cinterp was built without CUDA (make CUDA=1)", ffi.string(buf))
  end)

  it("truncates the reason to the buffer", function()
    if GPU then pending("a GPU is present") return end
    local buf = ffi.new("char[8]")
    assert.are.equal(C.CI_EDEVICE, C.ci_device_info(buf, 8))
    assert.are.equal(WHY:sub(1, 7), ffi.string(buf))
  end)
end)

describe("asking for cuda without a GPU", function()
  if GPU then pending("a GPU is present") return end

  it("is an error naming the constructor and the reason, at the caller", function()
    for _, name in ipairs { "MultilayeredNetwork", "LinearNetwork" } do
      local W = ci.sparse({ 2 }, { 1 }, { 1 }, 2, 2)
      local err = message(function() local net = ci[name](W, { 1 }, { device = "cuda" }) return net end)
      assert.truthy(err:find(name .. ': device = "cuda" is unavailable: ' .. WHY, 1, true), err)
      assert.truthy(err:find("cuda_spec.lua", 1, true), err)
    end
  end)

  it("is an error for net:to('cuda'), and the network stays on the CPU", function()
    local net = small_net()
    local before = net:forward(ci.tensor { { 1, 0.5 } }):totable()
    local err = message(function() net:to("cuda") end)
    assert.truthy(err:find('MultilayeredNetwork.to: device = "cuda" is unavailable: ' .. WHY, 1, true), err)
    assert.are.equal("cpu", net.device)
    assert.are.same(before, net:forward(ci.tensor { { 1, 0.5 } }):totable())
  end)

  it("is an error in every recipe that takes a device", function()
    local net = grouped_net()
    local x = ci.tensor { { 1, 0.5, 0.2 } }
    local calls = {
      ["ci.saliency"] = function() return ci.saliency(net, x, { [3] = { 3 } }, { device = "cuda" }) end,
      ["ci.get_gradients"] = function() return ci.get_gradients(net, x, { 2 }, { 3 }, { device = "cuda" }) end,
      ["ci.activation_maximisation"] = function()
        return ci.activation_maximisation(net, { [2] = { [3] = 0.5 } },
                                          { device = "cuda", num_iterations = 1, quiet = true })
      end,
      ["ci.train_model"] = function()
        return ci.train_model(net, ci.rand(4, 1, 3), ci.rand(4, 3, 3), { device = "cuda", num_epochs = 1, quiet = true })
      end,
    }
    for name, fn in pairs(calls) do
      local err = message(fn)
      assert.truthy(err:find(name .. ': device = "cuda" is unavailable: ' .. WHY, 1, true), err)
    end
  end)

  it("is CI_EDEVICE from the C functions, with the reason", function()
    local t = ci.tensor { 1, 2, 3 }
    local out = ffi.new("ci_tensor*[1]")
    assert.are.equal(C.CI_EDEVICE, C.ci_tensor_to(t, C.CI_DEVICE_CUDA, out))
    assert.is_true(out[0] == nil)
    assert.are.equal("ci_tensor_to: device = cuda: " .. WHY, ffi.string(C.ci_last_error()))
    local net = small_net()
    assert.are.equal(C.CI_EDEVICE, C.ci_net_to_device(net._net, C.CI_DEVICE_CUDA))
    assert.are.equal("ci_net_to_device: device = cuda: " .. WHY, ffi.string(C.ci_last_error()))
    assert.are.equal(C.CI_DEVICE_CPU, C.ci_net_device(net._net))
    assert.are.equal(0, C.ci_cuda_available())
    assert.are.equal("ci_cuda_available: " .. WHY, ffi.string(C.ci_last_error()))
  end)
end)

describe("make gpu-check's script without a GPU", function()
  it("says why and fails at once", function()
    if GPU then pending("a GPU is present: `make gpu-check` runs it (minutes)") return end
    local H = require "hostbin"
    local p = io.popen(H.q(H.bin) .. " scripts/gpu_check.lua 2>&1; echo \"rc=$?\"")
    local out = p:read("*a")
    p:close()
    assert.truthy(out:find("gpu-check: " .. WHY, 1, true), out)
    assert.truthy(out:find("rc=1", 1, true), out)
  end)
end)

describe("device options", function()
  it("reject an unknown device everywhere", function()
    local W = ci.sparse({ 2 }, { 1 }, { 1 }, 2, 2)
    local err = message(function() return ci.LinearNetwork(W, { 1 }, { device = "tpu" }) end)
    assert.truthy(err:find('LinearNetwork: option \'device\' must be one of "cpu" or "cuda", got a string ("tpu")', 1, true), err)
    local net = grouped_net()
    err = message(function() return ci.saliency(net, ci.tensor { { 1, 0, 0 } }, { [3] = { 3 } }, { device = "gpu" }) end)
    assert.truthy(err:find('ci.saliency: option \'device\' must be one of "cpu" or "cuda", got a string ("gpu")', 1, true), err)
    err = message(function() net:to("metal") end)
    assert.truthy(err:find("MultilayeredNetwork.to: unknown device metal", 1, true), err)
  end)

  it("accept \"cpu\" and give the same results as no device", function()
    local net = grouped_net()
    assert.are.equal("cpu", net.device)
    local x = ci.tensor { { 1, 0.5, 0.2 } }
    local a = ci.saliency(net, x, { [2] = { 2 }, [3] = { 2, 3 } })
    local b = ci.saliency(net, x, { [2] = { 2 }, [3] = { 2, 3 } }, { device = "cpu" })
    assert.is_true(math.abs(a:sum():item()) > 0) -- a real gradient, not zeros
    assert.are.same(a:totable(), b:totable())
    local net2 = small_net { num_layers = 2, device = "cpu" }
    assert.are.equal("cpu", net2.device)
    assert.are.equal(net2, net2:to("cpu"))
    assert.are.same(small_net():forward(ci.tensor { { 1, 0.5 } }):totable(),
                    net2:forward(ci.tensor { { 1, 0.5 } }):totable())
  end)

  it("refuse cuda with a custom activation function", function()
    if not GPU then pending(NO_GPU) return end
    local W = ci.sparse({ 2 }, { 1 }, { 1 }, 2, 2)
    local err = message(function()
      return ci.LinearNetwork(W, { 1 }, { device = "cuda", activation_function = function(_, x) return x end })
    end)
    assert.truthy(err:find("custom activation_function", 1, true), err)
  end)
end)

describe("ci_tensor_to on the CPU", function()
  it("copies a host tensor to a new, independent host tensor", function()
    local t = ci.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
    local out = ffi.new("ci_tensor*[1]")
    assert.are.equal(0, C.ci_tensor_to(t, C.CI_DEVICE_CPU, out))
    local u = ci._tensor.wrap(out[0])
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, u:totable())
    u:set(9, 1, 1)
    assert.are.equal(1, t:get(1, 1))
    assert.are.equal(C.CI_EINVAL, C.ci_tensor_to(t, 7, out))
    assert.truthy(ffi.string(C.ci_last_error()):find("unknown device 7", 1, true))
  end)
end)

describe("a tensor on the GPU seen from the host", function()
  -- a host tensor marked as living on the GPU stands in for one (its data is
  -- never read: that is what is checked); the mark is undone before release
  local function on_gpu(f)
    local t = ci.tensor { { 1, 2 }, { 3, 4 } }
    t.on_device = 1
    local ok, err = pcall(f, t)
    t.on_device = 0
    return ok, tostring(err)
  end
  local HINT = 'the tensor lives on the GPU; copy it to the CPU first with t:to("cpu")'

  it("is an error naming the method for every data access", function()
    local calls = {
      ["tensor:get"] = function(t) local r = t:get(1, 1); return r end,
      ["tensor:set"] = function(t) local r = t:set(5, 1, 1); return r end,
      ["tensor:item"] = function(t) local r = t:item(); return r end,
      ["tensor:totable"] = function(t) local r = t:totable(); return r end,
      ["tensor:sum"] = function(t) local r = t:sum(); return r end,
      ["tensor:clone"] = function(t) local r = t:clone(); return r end,
      ["tensor:fill"] = function(t) local r = t:fill(0); return r end,
      ["tensor:exp"] = function(t) local r = t:exp(); return r end,
      ["tensor:add"] = function(t) local r = t:add(1); return r end,
      ["tensor +"] = function(t) local r = t + 1; return r end,
      ["tensor *"] = function(t) local r = 2 * t; return r end,
      ["tensor -"] = function(t) local r = ci.ones(2, 2) - t; return r end,
      ["tensor:neg"] = function(t) local r = -t; return r end,
    }
    for name, f in pairs(calls) do
      local ok, err = on_gpu(f)
      assert.is_false(ok, name .. " did not fail")
      assert.truthy(err:find(name .. ": " .. HINT, 1, true), err)
      assert.truthy(err:find("cuda_spec.lua", 1, true), err) -- at the caller (no tail call there)
    end
  end)

  it("still answers questions about its shape", function()
    local ok, err = on_gpu(function(t)
      assert.are.equal(2, t:dim())
      assert.are.equal(4, t:numel())
      assert.are.same({ 2, 2 }, t:size())
      assert.truthy(tostring(t):find("on the GPU", 1, true))
    end)
    assert(ok, err)
  end)
end)

describe("tensor:to", function()
  it("returns the tensor itself when it is already there", function()
    local t = ci.tensor { 1, 2 }
    assert.are.equal(t, t:to("cpu"))
  end)

  it("rejects unknown devices, and cuda without a GPU", function()
    local err = message(function() return ci.tensor { 1 }:to("tpu") end)
    assert.truthy(err:find('tensor:to: unknown device tpu (use "cpu" or "cuda")', 1, true), err)
    if GPU then return end
    err = message(function() return ci.tensor { 1 }:to("cuda") end)
    assert.truthy(err:find('tensor:to: device = "cuda" is unavailable: ' .. WHY, 1, true), err)
  end)

  it("copies to the GPU and back", function()
    if not GPU then pending(NO_GPU) return end
    local t = ci.randn(3, 4)
    local d = t:to("cuda")
    assert.are.equal(1, d.on_device)
    assert.are.same({ 3, 4 }, d:size())
    local err = message(function() return d:totable() end)
    assert.truthy(err:find("tensor:totable: the tensor lives on the GPU", 1, true), err)
    assert.are.same(t:totable(), d:to("cpu"):totable())
  end)
end)

-- torch.optim.Adam's update written out in double, independently of the engine.
local function adam_ref(p, g_of, steps, lr, b1, b2, eps)
  local m, v = {}, {}
  for k = 1, #p do m[k], v[k] = 0, 0 end
  for step = 1, steps do
    local g = g_of(step)
    for k = 1, #p do
      m[k] = b1 * m[k] + (1 - b1) * g[k]
      v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k]
      local mhat = m[k] / (1 - b1 ^ step)
      local vhat = v[k] / (1 - b2 ^ step)
      p[k] = p[k] - lr * mhat / (math.sqrt(vhat) + eps)
    end
  end
  return p
end

local function grads_at(step)
  return { 0.5 * step, -1, 1e-3, 0, 3 - step }
end

local function adam_engine(device, steps)
  local function to(t)
    if device == C.CI_DEVICE_CPU then return t end
    local out = ffi.new("ci_tensor*[1]")
    assert.are.equal(0, C.ci_tensor_to(t, device, out))
    return ci._tensor.wrap(out[0])
  end
  local p = to(ci.tensor { 1, -2, 0.5, 3, 0 })
  local m, v = to(ci.zeros(5)), to(ci.zeros(5))
  for step = 1, steps do
    local g = to(ci.tensor(grads_at(step)))
    assert.are.equal(0, C.ci_adam_step(p, g, m, v, 0, 5, step, 0.1, 0.9, 0.999, 1e-8))
  end
  if device == C.CI_DEVICE_CPU then return p:totable() end
  local out = ffi.new("ci_tensor*[1]")
  assert.are.equal(0, C.ci_tensor_to(p, C.CI_DEVICE_CPU, out))
  return ci._tensor.wrap(out[0]):totable()
end

describe("ci_adam_step", function()
  it("follows torch's Adam on the CPU", function()
    local want = adam_ref({ 1, -2, 0.5, 3, 0 }, grads_at, 4, 0.1, 0.9, 0.999, 1e-8)
    local got = adam_engine(C.CI_DEVICE_CPU, 4)
    for k = 1, 5 do
      assert.is_true(math.abs(got[k] - want[k]) <= 1e-5 * math.max(1, math.abs(want[k])),
                     ("p[%d] = %.9g, expected %.9g"):format(k, got[k], want[k]))
    end
  end)

  it("checks its arguments", function()
    local p, g = ci.zeros(3), ci.zeros(2)
    assert.are.equal(C.CI_EINVAL, C.ci_adam_step(p, g, ci.zeros(3), ci.zeros(3), 0, 3, 1, 0.1, 0.9, 0.999, 1e-8))
    assert.truthy(ffi.string(C.ci_last_error()):find("ci_adam_step: param has 3 elements", 1, true))
    assert.are.equal(C.CI_EINVAL, C.ci_adam_step(p, ci.zeros(3), ci.zeros(3), ci.zeros(3), 0, 3, 0, 0.1, 0.9, 0.999, 1e-8))
    assert.are.equal(C.CI_EINVAL, C.ci_adam_step(p, ci.zeros(3), ci.zeros(3), ci.zeros(3), 0, 3, 1, 0.1, 1.0, 0.999, 1e-8))
    assert.are.equal(C.CI_EINVAL, C.ci_adam_step(p, ci.zeros(3), ci.zeros(3), ci.zeros(3), 2, 2, 1, 0.1, 0.9, 0.999, 1e-8))
    assert.truthy(ffi.string(C.ci_last_error()):find("outside the 3 parameters", 1, true))
  end)

  it("moves only the elements of its range (a frozen part stays)", function()
    local p, g = ci.tensor { 1, 2, 3, 4 }, ci.tensor { 1, 1, 1, 1 }
    local m, v = ci.zeros(4), ci.zeros(4)
    assert.are.equal(0, C.ci_adam_step(p, g, m, v, 1, 2, 1, 0.1, 0.9, 0.999, 1e-8))
    local got = p:totable()
    assert.are.equal(1, got[1]); assert.are.equal(4, got[4])
    -- Adam's first step is lr * sign(g) (up to eps)
    assert.is_true(math.abs(got[2] - 1.9) < 1e-6 and math.abs(got[3] - 2.9) < 1e-6)
    assert.are.equal(0, m:get(1)); assert.are.equal(0, v:get(4))
  end)

  it("gives the same steps on the GPU", function()
    if not GPU then pending(NO_GPU) return end
    local cpu = adam_engine(C.CI_DEVICE_CPU, 6)
    local gpu = adam_engine(C.CI_DEVICE_CUDA, 6)
    local ok, msg = G.compare(gpu, cpu, 1e-6, 1e-7)
    assert(ok, msg)
  end)
end)

---------------------------------------------------------------------------
-- With a GPU
---------------------------------------------------------------------------

describe("ci_tensor_to with a GPU", function()
  if not GPU then pending(NO_GPU) return end
  it("round-trips host -> GPU -> GPU -> host", function()
    local t = ci.randn(3, 4, 5)
    local o1, o2, o3 = ffi.new("ci_tensor*[1]"), ffi.new("ci_tensor*[1]"), ffi.new("ci_tensor*[1]")
    assert.are.equal(0, C.ci_tensor_to(t, C.CI_DEVICE_CUDA, o1))
    local d1 = ci._tensor.wrap(o1[0])
    assert.are.equal(1, d1.on_device)
    assert.are.equal(0, C.ci_tensor_to(d1, C.CI_DEVICE_CUDA, o2))
    local d2 = ci._tensor.wrap(o2[0])
    assert.are.equal(0, C.ci_tensor_to(d2, C.CI_DEVICE_CPU, o3))
    local h = ci._tensor.wrap(o3[0])
    assert.are.equal(0, h.on_device)
    assert.are.same(t:totable(), h:totable())
  end)
end)

describe("golden cases on the CUDA path", function()
  if not GPU then pending(NO_GPU) return end
  local cases = G.cases("MultilayeredNetwork.forward", "LinearNetwork.forward")
  if #cases == 0 then pending(G.missing_message) end
  for _, entry in ipairs(cases) do
    it("forward " .. entry.name, function()
      local case = G.load(entry)
      local net = G.model(ci, case):to("cuda")
      assert.are.equal("cuda", net.device)
      local out = G.forward_as_reference(net, case, entry.name)
      local th = case.model_args.threshold or 0.01
      local ok, msg = G.compare(out, case.expected.output, 1e-4, 1e-6, th)
      assert(ok, entry.name .. ": " .. tostring(msg))
    end)
  end
  local gcases = G.cases("param_grads")
  for _, entry in ipairs(gcases) do
    it("param_grads " .. entry.name, function()
      local case = G.load(entry)
      G.check_param_grads(ci, case, G.model(ci, case):to("cuda"), entry.name)
    end)
  end
end)

local configs = R.configs

local B, S, L, N = 5, 6, 7, 200

local function manip_table(list) return R.manip_table(list, B) end

local function random_input(rng)
  local u = {}
  for b = 1, B do
    u[b] = {}
    for s = 1, S do
      u[b][s] = {}
      for t = 1, L do u[b][s][t] = rng() < 0.6 and rng() * 0.8 or 0 end
    end
  end
  return u
end

describe("CPU vs CUDA on random networks", function()
  if not GPU then pending(NO_GPU) return end
  for k, cfg in ipairs(configs) do
    for _, ck in ipairs { 0, 3 } do
      it(cfg.name .. ", checkpoint_steps = " .. ck, function()
        local rng = R.rng(500 + k)
        local m = R.random_model(rng, { n = N, deg = 12, L = L, S = S, kind = cfg.kind,
                                        groups = cfg.groups, div = cfg.div, manip = cfg.manip })
        local cpu, gpu = R.build(ci, m), R.build(ci, m):to("cuda")
        local u = random_input(rng)
        local manip = manip_table(cfg.manip)
        -- forward
        local oc = cpu:forward(ci.tensor(u), { manipulate = manip })
        local og = gpu:forward(ci.tensor(u), { manipulate = manip, checkpoint_steps = ck })
        local ok, msg = G.compare(og, oc:totable(), 1e-4, 1e-5, m.th)
        assert(ok, "forward: " .. tostring(msg))
        -- tape gradients of a weighted sum (input and parameters)
        local wts = ci.rand(B, N, L) - 0.3
        local grads = {}
        for idx, net in ipairs { cpu, gpu } do
          net:set_param_grads { slopes = true, raw_biases = true, divisive_strength = true, tau = true }
          local ut = ci.tensor(u):requires_grad(true)
          local out = net:forward(ut, { manipulate = manip, checkpoint_steps = idx == 2 and ck or 0 })
          ;(out * wts):sum():backward()
          grads[idx] = { u = ut.grad:totable() }
          for _, f in ipairs { "slope", "raw_biases", "tau_param", "divisive_strength" } do
            if net[f] and net[f].grad then grads[idx][f] = net[f].grad:totable() end
          end
        end
        for f, want in pairs(grads[1]) do
          assert(grads[2][f], f .. " has no gradient on the GPU")
          ok, msg = G.compare(grads[2][f], want, 1e-3, 1e-5 * math.max(G.max_abs(want), 1))
          assert(ok, "gradient of " .. f .. ": " .. tostring(msg))
        end
        -- vjp: grad_input and grad_x
        local go = ci.randn(B, N, L)
        local gi1, gx1 = cpu:vjp(ci.tensor(u), go, { manipulate = manip, grad_x = true })
        local gi2, gx2 = gpu:vjp(ci.tensor(u), go, { manipulate = manip, grad_x = true, checkpoint_steps = ck })
        ok, msg = G.compare(gi2, gi1:totable(), 1e-3, 1e-5 * math.max(G.max_abs(gi1:totable()), 1))
        assert(ok, "vjp grad_input: " .. tostring(msg))
        ok, msg = G.compare(gx2, gx1:totable(), 1e-3, 1e-5 * math.max(G.max_abs(gx1:totable()), 1))
        assert(ok, "vjp grad_x: " .. tostring(msg))
      end)
    end
  end

  it("runs a reordered network (rcm, cluster) as the CPU runs it in the caller's order", function()
    for k, cfg in ipairs(configs) do
      for _, method in ipairs { "rcm", "cluster" } do
        local rng = R.rng(700 + k)
        local m = R.random_model(rng, { n = N, deg = 12, L = L, S = S, kind = cfg.kind, blocks = 5,
                                        groups = cfg.groups, div = cfg.div, manip = cfg.manip })
        local cpu, gpu = R.build(ci, m, { reorder = "none" }), R.build(ci, m, { reorder = method }):to("cuda")
        assert.are.equal(method, gpu.order)
        local u, manip = ci.tensor(random_input(rng)), manip_table(cfg.manip)
        local ok, msg = G.compare(gpu:forward(u, { manipulate = manip }),
                                  cpu:forward(u, { manipulate = manip }):totable(), 1e-4, 1e-5, m.th)
        assert(ok, cfg.name .. ", " .. method .. ": forward: " .. tostring(msg))
        local go = ci.randn(B, N, L)
        local gi1, gx1 = cpu:vjp(u, go, { manipulate = manip, grad_x = true })
        local gi2, gx2 = gpu:vjp(u, go, { manipulate = manip, grad_x = true })
        ok, msg = G.compare(gi2, gi1:totable(), 1e-3, 1e-5 * math.max(G.max_abs(gi1:totable()), 1))
        assert(ok, cfg.name .. ", " .. method .. ": vjp grad_input: " .. tostring(msg))
        ok, msg = G.compare(gx2, gx1:totable(), 1e-3, 1e-5 * math.max(G.max_abs(gx1:totable()), 1))
        assert(ok, cfg.name .. ", " .. method .. ": vjp grad_x: " .. tostring(msg))
      end
    end
  end)

  it("moves a network back to the CPU with the same results", function()
    local rng = R.rng(900)
    local m = R.random_model(rng, { n = N, deg = 8, L = L, S = S, kind = "ml", groups = { "A", "B" } })
    local net = R.build(ci, m)
    local u = ci.tensor(random_input(rng))
    local before = net:forward(u):totable()
    net:to("cuda")
    assert.are.equal(C.CI_DEVICE_CUDA, C.ci_net_device(net._net))
    net:to("cpu")
    assert.are.equal("cpu", net.device)
    assert.are.same(before, net:forward(u):totable())
  end)

  it("runs activation maximisation with device = \"cuda\" as on the CPU", function()
    local rng = R.rng(901)
    local m = R.random_model(rng, { n = N, deg = 8, L = L, S = S, kind = "ml" })
    local cpu, gpu = R.build(ci, m), R.build(ci, m):to("cuda")
    local targets = { [L] = { [N] = 0.8, [N - 1] = 0.4 } }
    local o = { num_iterations = 5, quiet = true, seed = 3 }
    local _, _, loss_c = ci.activation_maximisation(cpu, targets, o)
    o.device = "cuda"
    local _, _, loss_g = ci.activation_maximisation(gpu, targets, o)
    local ok, msg = G.compare(loss_g, loss_c, 1e-3, 1e-6)
    assert(ok, "activation loss: " .. tostring(msg))
  end)

  it("rejects a recipe's device that differs from the network's", function()
    local net = grouped_net()
    local err = message(function() return ci.saliency(net, ci.tensor { { 1, 0, 0 } }, { [3] = { 3 } }, { device = "cuda" }) end)
    assert.truthy(err:find('ci.saliency: device = "cuda" but the network lives on the cpu', 1, true), err)
  end)
end)
