-- reorder_spec.lua: the engine's internal neuron order (reorder = "rcm" |
-- "cluster" | "auto" | "none", core/reorder.c) changes nothing the user sees:
-- a reordered network gives the same outputs and gradients as the network in
-- the caller's order, to float rounding (the products sum in another order),
-- on every path: forward, backward through the tape (input and parameter
-- gradients), checkpointing, vjp with grad_x, manipulate by neuron and by
-- group, divisive normalisation, activation maximisation and saliency; errors
-- name the caller's neurons; the order functions themselves (a permutation,
-- the spread) and the synthetic brain's locality.
local ffi = require "ffi"
local R = require "refnet"
local C = ci._engine.C

local B, S, L, N = 3, 4, 5, 60

-- the largest |a - b| over two tensors of the same shape
local function max_diff(a, b)
  assert.are.same(a:size(), b:size())
  local d = 0
  local fa, fb = a:reshape(a:numel()):totable(), b:reshape(b:numel()):totable()
  for k = 1, #fa do d = math.max(d, math.abs(fa[k] - fb[k])) end
  return d
end

local function close(a, b, what) -- float rounding, from other summation orders
  local d = max_diff(a, b)
  assert(d <= 2e-5, ("%s differs by %g"):format(what, d))
end

-- the engine's order of net (perm[k] = the caller's index of engine neuron k)
local function engine_perm(net)
  local p = ffi.new("int32_t[?]", net.n)
  C.ci_net_order(net._net, p)
  local identity = true
  for k = 0, net.n - 1 do identity = identity and p[k] == k end
  return identity
end

local function setup(k, cfg, method)
  local rng = R.rng(300 + k)
  local m = R.random_model(rng, { n = N, deg = 6, L = L, S = S, kind = cfg.kind, blocks = 4,
                                  groups = cfg.groups, div = cfg.div, manip = cfg.manip })
  local plain = R.build(ci, m, { reorder = "none" })
  local other = R.build(ci, m, { reorder = method })
  local u = {}
  for b = 1, B do
    u[b] = {}
    for s = 1, S do
      u[b][s] = {}
      for t = 1, L do u[b][s][t] = rng() * 0.8 end
    end
  end
  local wts = ci.rand(B, N, L) - 0.3
  return m, plain, other, ci.tensor(u), wts
end

for _, method in ipairs { "rcm", "cluster" } do
  describe("reorder = '" .. method .. "' against the caller's order", function()
    for k, cfg in ipairs(R.configs) do
      it(cfg.name .. ": forward, tape gradients, checkpointing, vjp", function()
        local m, plain, other, u, wts = setup(k, cfg, method)
        assert.are.equal("none", plain.order)
        assert.are.equal(method, other.order)
        assert.is_true(engine_perm(plain))
        assert.is_false(engine_perm(other), "the engine kept the caller's order")
        local manip = R.manip_table(cfg.manip, B)
        close(other:forward(u, { manipulate = manip }), plain:forward(u, { manipulate = manip }),
              "forward")
        for _, ck in ipairs { 0, 2 } do
          local grads = {}
          for v, net in ipairs { plain, other } do
            local ut = u:clone():requires_grad(true)
            if m.group_of then
              net:set_param_grads { slopes = true, raw_biases = true, tau = true,
                                    divisive_strength = m.div ~= nil }
            end
            local out = net:forward(ut, { manipulate = manip, checkpoint_steps = ck })
            ;(out * wts):sum():backward()
            grads[v] = { input = ut.grad }
            if m.group_of then
              grads[v].slope, grads[v].bias = net.slope.grad:clone(), net.raw_biases.grad:clone()
              grads[v].tau = net.tau_param.grad:clone()
              if m.div then grads[v].sig = net.divisive_strength.grad:clone() end
              net:set_param_grads { slopes = false, raw_biases = false, tau = false,
                                    divisive_strength = false }
            end
          end
          for name, g in pairs(grads[1]) do
            close(grads[2][name], g, ("checkpoint_steps = %d: gradient of %s"):format(ck, name))
          end
        end
        local gi1, gx1 = plain:vjp(u, wts, { manipulate = manip, grad_x = true })
        local gi2, gx2 = other:vjp(u, wts, { manipulate = manip, grad_x = true })
        close(gi2, gi1, "vjp grad_input")
        close(gx2, gx1, "vjp grad_x")
      end)
    end

    it("manipulate by group and by neuron, per batch", function()
      local cfg = { kind = "ml", groups = { "A", "B", "C" } }
      local _, plain, other, u = setup(1, cfg, method)
      local by_group = { [2] = { A = 0, C = 0.5 } }
      close(other:forward(u, { manipulate = by_group }), plain:forward(u, { manipulate = by_group }),
            "forward, manipulate by group")
      local _, p2, o2, u2 = setup(2, { kind = "ml" }, method)
      local per_batch = { [1] = { [2] = { [7] = 0.9 } }, [3] = { [4] = { [N] = 0 } } }
      local a, b = o2:forward(u2, { manipulate = per_batch }), p2:forward(u2, { manipulate = per_batch })
      close(a, b, "forward, manipulate per batch")
      assert.is_true(math.abs(b:get(1, 7, 2) - 0.9) < 1e-7 and math.abs(a:get(1, 7, 2) - 0.9) < 1e-7)
      assert.are.equal(0, a:get(3, N, 4))
    end)

    it("activation maximisation and saliency", function()
      local _, plain, other = setup(3, { kind = "ml" }, method)
      local tgt = ci.TargetActivation { targets = { [L] = { [5] = 0.8, [N - 1] = 0.3 } }, batch_size = 2 }
      local r = {}
      for v, net in ipairs { plain, other } do
        local input, output, act = ci.activation_maximisation(net, tgt, { num_iterations = 4, quiet = true,
                                                                           seed = 3 })
        r[v] = { input = input, output = output, act = act }
      end
      close(r[2].input, r[1].input, "AM input")
      close(r[2].output, r[1].output, "AM output")
      for k = 1, #r[1].act do assert.is_true(math.abs(r[1].act[k] - r[2].act[k]) <= 1e-5) end
      local x = ci.rand(2, S, L)
      local noi = { [L] = { 5, 9 }, [2] = { N } }
      close(ci.saliency(other, x, noi), ci.saliency(plain, x, noi), "saliency")
    end)
  end)
end

describe("reorder", function()
  it("errors name the caller's neurons", function()
    local rng = R.rng(7)
    local m = R.random_model(rng, { n = N, deg = 6, L = L, S = S, blocks = 4, groups = { "A", "B" },
                                    div = { [1] = { [2] = true } } })
    for _, e in ipairs(m.edges) do -- one divisive connection made excitatory
      if m.group_of[e[2]] == 1 and m.group_of[e[1]] == 2 then e[3] = 0.25; break end
    end
    local msgs = {}
    for _, how in ipairs { "none", "rcm", "cluster" } do
      local ok, err = pcall(R.build, ci, m, { reorder = how })
      assert.is_false(ok)
      msgs[#msgs + 1] = tostring(err):match("the connection from neuron %d+ to neuron %d+")
    end
    assert.is_truthy(msgs[1])
    assert.are.equal(msgs[1], msgs[2])
    assert.are.equal(msgs[1], msgs[3])
  end)

  it("rejects an unknown order and keeps small networks as they are under auto", function()
    local m = R.random_model(R.rng(9), { n = N, deg = 6, L = L, S = S, blocks = 4 })
    local ok, err = pcall(R.build, ci, m, { reorder = "bfs" })
    assert.is_false(ok)
    assert.matches("reorder", tostring(err))
    assert.are.equal("none", R.build(ci, m).order) -- auto, 60 neurons: below CI_REORDER_AUTO_MIN
  end)

  it("orders are permutations; the synthetic brain's blocks come back, a random graph has none", function()
    local n = 20000
    local pm = ffi.new("ci_csr*[1]")
    assert.are.equal(0, C.ci_brain_connectome(n, 400000, 40, 0.8, 0.1, 11, pm))
    local W = ffi.gc(pm[0], C.ci_csr_release)
    local perm = ffi.new("int32_t[?]", n)
    for _, f in ipairs { C.ci_csr_rcm, C.ci_csr_clusters } do
      assert.are.equal(0, f(W, perm))
      local seen = {}
      for k = 0, n - 1 do
        assert.is_true(perm[k] >= 0 and perm[k] < n and not seen[perm[k]])
        seen[perm[k]] = true
      end
    end
    local before, after = C.ci_csr_spread(W, nil), C.ci_csr_spread(W, perm)
    assert.is_true(before > 0.3, "ids shuffled: spread " .. before)
    assert.is_true(after < 0.5 * before, ("clusters: spread %g -> %g"):format(before, after))
    local net = ci.MultilayeredNetwork(W, { 1, 2, 3 }, { num_layers = 2 })
    assert.are.equal("cluster", net.order) -- auto: above 16384 neurons, the spread halved
    assert.are.equal(0, C.ci_random_connectome(n, 400000, 11, pm))
    local Rg = ffi.gc(pm[0], C.ci_csr_release)
    assert.are.equal(0, C.ci_csr_clusters(Rg, perm))
    assert.is_true(C.ci_csr_spread(Rg, perm) > 0.5 * C.ci_csr_spread(Rg, nil))
    assert.are.equal("none", ci.MultilayeredNetwork(Rg, { 1, 2, 3 }, { num_layers = 2 }).order)
    perm[0] = perm[1] -- not a permutation
    local P = ffi.new("ci_csr*[1]")
    assert.are.equal(C.CI_EINVAL, C.ci_csr_permuted(W, perm, P))
    assert.matches("ci_csr_permuted: perm is not a permutation", ffi.string(C.ci_last_error()))
  end)
end)
