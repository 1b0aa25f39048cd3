-- network_spec.lua: the network engine: golden forward passes and parameter
-- gradients of the reference, an independent double-precision Lua forward,
-- finite-difference gradient checks, checkpointing, manipulate, errors.
local ci = require "cinterp"
local G = require "golden"
local R = require "refnet"

local function input_tensor(rng, B, S, L) return R.random_input(rng, B, S, L, 0.6, 0.8) end

describe("network golden forward passes", function()
  local cases = G.cases("MultilayeredNetwork.forward", "LinearNetwork.forward")
  if #cases == 0 then pending(G.missing_message) end
  for _, entry in ipairs(cases) do
    it(entry.name, function()
      local case = G.load(entry)
      local net = G.model(ci, case)
      local out = G.forward_as_reference(net, case, entry.name)
      local th = case.model_args.threshold or 0.01
      local ok, msg = G.compare(out, case.expected.output, 1e-4, 1e-6, th)
      assert(ok, entry.name .. ": " .. tostring(msg))
    end)
  end
end)

describe("network golden parameter gradients", function()
  local cases = G.cases("param_grads")
  if #cases == 0 then pending(G.missing_message) end
  for _, entry in ipairs(cases) do
    it(entry.name, function()
      local case = G.load(entry)
      G.check_param_grads(ci, case, G.model(ci, case), entry.name)
    end)
  end
end)

local configs = R.configs

local B, S, L, N = 3, 4, 5, 24

local function manip_table(list) return R.manip_table(list, B) end

local function setup(k, cfg)
  local rng = R.rng(100 + k)
  local m = R.random_model(rng, { n = N, deg = 5, L = L, S = S, kind = cfg.kind,
                                  groups = cfg.groups, div = cfg.div, manip = cfg.manip })
  return m, R.build(ci, m), input_tensor(rng, B, S, L), rng
end

describe("network forward against a double-precision Lua reference", function()
  for k, cfg in ipairs(configs) do
    it(cfg.name, function()
      local m, net, u = setup(k, cfg)
      local expected = R.forward(m, u)
      local out = net:forward(ci.tensor(u), { manipulate = manip_table(cfg.manip) })
      local ok, msg = G.compare(out, expected, 1e-4, 1e-5, m.th)
      assert(ok, msg)
    end)
  end
end)

-- loss = sum(out * weights) in double through the Lua reference
local function ref_loss(m, u, wts)
  local out = R.forward(m, u)
  local s = 0
  for b = 1, #out do for i = 1, m.n do for t = 1, m.L do
    s = s + out[b][i][t] * wts[b][i][t]
  end end end
  return s
end

local function check_close(got, want, what, scale)
  local tol = 2e-3 * math.abs(want) + 2e-4 * math.max(scale, 1e-2)
  assert(math.abs(got - want) <= tol, ("%s: analytic %.7g, finite differences %.7g"):format(what, got, want))
end

describe("network gradients against central finite differences", function()
  for k, cfg in ipairs(configs) do
    for _, ck in ipairs { 0, 2 } do
      it(cfg.name .. ", checkpoint_steps = " .. ck, function()
        local m, net, u, rng = setup(k, cfg)
        local wts = {}
        for b = 1, B do wts[b] = {} for i = 1, N do wts[b][i] = {} for t = 1, L do wts[b][i][t] = rng() - 0.3 end end end
        local ut = ci.tensor(u):requires_grad(true)
        net:set_param_grads { slopes = true, raw_biases = true, divisive_strength = true, tau = true }
        local out = net:forward(ut, { manipulate = manip_table(cfg.manip), checkpoint_steps = ck })
        local loss = (out * ci.tensor(wts)):sum()
        loss:backward()
        local eps = 1e-6
        -- input gradients (every entry)
        local gu = ut.grad
        local scale = 0
        for _, v in ipairs(G.flatten(gu:totable())) do scale = math.max(scale, math.abs(v)) end
        for b = 1, B do for s = 1, S do for t = 1, L do
          local old = u[b][s][t]
          u[b][s][t] = old + eps; local lp = ref_loss(m, u, wts)
          u[b][s][t] = old - eps; local lm = ref_loss(m, u, wts)
          u[b][s][t] = old
          check_close(gu:get(b, s, t), (lp - lm) / (2 * eps), ("d/du[%d,%d,%d]"):format(b, s, t), scale)
        end end end
        if m.group_of then
          local params = { { "slope", net.slope }, { "raw_bias", net.raw_biases }, { "tau", net.tau_param } }
          if m.div then params[#params + 1] = { "sig", net.divisive_strength } end
          for _, p in ipairs(params) do
            local arr, tensor = m[p[1]], p[2]
            for g = 1, #m.groups do
              local old = arr[g]
              arr[g] = old + eps; local lp = ref_loss(m, u, wts)
              arr[g] = old - eps; local lm = ref_loss(m, u, wts)
              arr[g] = old
              local fd = (lp - lm) / (2 * eps)
              local got = tensor.grad and tensor.grad:get(g) or 0
              check_close(got, fd, ("d/d%s[%d]"):format(p[1], g), math.abs(fd))
            end
          end
        end
      end)
    end
  end
end)

describe("checkpointing", function()
  it("gives the same output and gradients for every checkpoint_steps and stores less", function()
    local cfg = configs[5]
    local m, net, u = setup(5, cfg)
    local ref_out, ref_gu, ref_gs, stored0
    for _, ck in ipairs { 0, 1, 2, 3, 5, 7 } do
      net.slope:zero_grad()
      net:set_param_grads { slopes = true }
      local ut = ci.tensor(u):requires_grad(true)
      local out = net:forward(ut, { checkpoint_steps = ck })
      if ck == 0 then stored0 = net:stored_bytes() else assert.is_true(net:stored_bytes() < stored0) end
      out:sum():backward()
      local o, gu, gs = out:totable(), ut.grad:totable(), net.slope.grad:totable()
      if ck == 0 then ref_out, ref_gu, ref_gs = o, gu, gs
      else
        assert.are.same(ref_out, o)
        assert.is_true(G.compare(G.flatten(gu), ref_gu, 1e-6, 1e-7))
        assert.is_true(G.compare(G.flatten(gs), ref_gs, 1e-6, 1e-7))
      end
    end
  end)
end)

describe("custom Lua activation functions", function()
  for k, cfg in ipairs { configs[3], configs[4], configs[7] } do
    it("reproduce the built-in activation through the tape (" .. cfg.name .. ")", function()
      local m, net, u, rng = setup(20 + k, cfg)
      local custom = R.build(ci, m)
      custom.custom_activation_function = function(self, x, xp) return self:activation_function(x, xp) end
      local ut1 = ci.tensor(u):requires_grad(true)
      local ut2 = ci.tensor(u):requires_grad(true)
      local wts = ci.rand(B, N, L)
      net:set_param_grads { slopes = true, raw_biases = true, tau = true }
      custom:set_param_grads { slopes = true, raw_biases = true, tau = true }
      local o1 = net:forward(ut1, { manipulate = manip_table(cfg.manip) })
      local o2 = custom:forward(ut2, { manipulate = manip_table(cfg.manip) })
      assert(G.compare(o2, o1:totable(), 1e-5, 1e-6))
      ;(o1 * wts):sum():backward()
      ;(o2 * wts):sum():backward()
      local ok, msg = G.compare(ut2.grad, ut1.grad:totable(), 1e-4, 1e-6)
      assert(ok, msg)
      if net.slope then
        for _, f in ipairs { "slope", "raw_biases", "tau_param" } do
          ok, msg = G.compare(custom[f].grad, net[f].grad:totable(), 1e-4, 1e-5)
          assert(ok, f .. ": " .. tostring(msg))
        end
      end
    end)
  end

  it("are called with (net, W x_prev, x_prev) and shape the output", function()
    local W = ci.sparse({ 2, 3 }, { 1, 2 }, { 1, 1 }, 3, 3)
    local seen
    local net = ci.LinearNetwork(W, { 1 }, { num_layers = 2, activation_function = function(self, x, xp)
      seen = { x:size(), xp:size() }
      return x * 0.5
    end })
    local out = net:forward(ci.tensor { { 1, 0 } })
    assert.are.same({ { 3, 1 }, { 3, 1 } }, seen)
    assert.are.same({ { 0, 0 }, { 0.5, 0 }, { 0, 0.25 } }, out:totable())
  end)
end)

describe("network behaviour", function()
  local function tiny(opts)
    local W = ci.sparse({ 2, 3, 3 }, { 1, 2, 1 }, { 0.5, 0.8, -0.4 }, 3, 3)
    return ci.MultilayeredNetwork(W, { 1 }, opts)
  end

  it("accepts a dense weight tensor like a sparse one", function()
    local Wd = ci.tensor { { 0, 0, 0 }, { 0.5, 0, 0 }, { -0.4, 0.8, 0 } }
    local a = ci.MultilayeredNetwork(Wd, { 1 }, { num_layers = 3 })
    local b = tiny { num_layers = 3 }
    local u = ci.tensor { { 0.9, 0.2, 0.1 } }
    assert.are.same(a:forward(u):totable(), b:forward(u):totable())
  end)

  it("returns (n, L) for 2-d input and stores net.activations", function()
    local net = tiny { num_layers = 3 }
    local out = net:forward(ci.tensor { { 0.9, 0.2, 0.1 } })
    assert.are.same({ 3, 3 }, out:size())
    assert.are.equal(out, net.activations)
  end)

  it("returns a list of L (n, B) tensors with return_layer_list", function()
    local net = tiny { num_layers = 3 }
    local u = ci.rand(2, 1, 3)
    local full = net:forward(u)
    local layers = net:forward(u, { return_layer_list = true })
    assert.are.equal(3, #layers)
    for l = 1, 3 do
      assert.are.same({ 3, 2 }, layers[l]:size())
      for i = 1, 3 do for b = 1, 2 do assert.are.equal(full:get(b, i, l), layers[l]:get(i, b)) end end
    end
  end)

  it("keeps its network alive for the backward after the network is collected", function()
    local x = ci.tensor { { 1, 0.5, 0 } }:requires_grad(true)
    local out = tiny { num_layers = 3 }:forward(x)
    collectgarbage(); collectgarbage()
    local ref = tiny { num_layers = 3 }
    local x2 = ci.tensor { { 1, 0.5, 0 } }:requires_grad(true)
    ref:forward(x2):sum():backward()
    out:sum():backward()
    assert.are.same(x2.grad:totable(), x.grad:totable())
  end)

  it("propagates NaN from the input to the neurons it reaches", function()
    local net = tiny { num_layers = 3 }
    local out = net:forward(ci.tensor { { 0 / 0, 0.2, 0.1 } })
    assert.is_true(out:get(1, 1) ~= out:get(1, 1))
    assert.is_true(out:get(2, 2) ~= out:get(2, 2)) -- neuron 2 hears neuron 1
  end)

  it("ignores dict entries naming groups the network does not have", function()
    local net = tiny { idx_to_group = { "a", "b", "b" }, slope_dict = { zz = 3, b = 2 }, bias_dict = { nope = 1 } }
    assert.are.same({ "a", "b" }, net.groups)
    assert.are.same({ 5, 2 }, net.slope:totable())
    assert.are.same({ 0, 0 }, net.raw_biases:totable())
  end)

  it("orders groups numbers first, then strings", function()
    local net = tiny { idx_to_group = { "x", 2, 1 } }
    assert.are.same({ 1, 2, "x" }, net.groups)
  end)

  it("restores gradient flags after training_mode, even on error", function()
    local net = tiny { idx_to_group = { "a", "b", "b" } }
    local inside
    ci.training_mode(net, {}, function() inside = net.slope:requires_grad() end)
    assert.is_true(inside)
    assert.is_false(net.slope:requires_grad())
    assert.has_error(function() ci.training_mode(net, {}, function() error("boom") end) end)
    assert.is_false(net.slope:requires_grad())
  end)

  it("rejects bad constructor arguments with clear errors", function()
    local W = ci.sparse({ 2 }, { 1 }, { 0.5 }, 3, 3)
    assert.has_error(function() ci.MultilayeredNetwork(W, { 4 }) end,
      "MultilayeredNetwork: sensory_indices[1] = 4 is out of range 1..3")
    assert.has_error(function() ci.MultilayeredNetwork(W, { 0 }) end,
      "MultilayeredNetwork: sensory_indices[1] = 0 is out of range 1..3")
    assert.has_error(function() ci.MultilayeredNetwork(W, { 1, 1 }) end,
      "MultilayeredNetwork: sensory_indices[2] = 1 repeats sensory_indices[1]")
    assert.has_error(function() ci.MultilayeredNetwork(W, { 1 }, { idx_to_group = { "a", "b" } }) end,
      "MultilayeredNetwork: idx_to_group has no group for neuron 3 (it must map each of the 3 neurons)")
    assert.has_error(function() ci.LinearNetwork(W, { 1 }, { divisive_normalization = { a = { "b" } } }) end,
      "LinearNetwork: divisive_normalization needs idx_to_group (the groups of the neurons)")
    local pos = ci.sparse({ 2 }, { 1 }, { 0.5 }, 3, 3)
    local ok, err = pcall(ci.MultilayeredNetwork, pos, { 1 },
      { idx_to_group = { "a", "b", "b" }, divisive_normalization = { a = { "b" } } })
    assert.is_false(ok)
    assert.matches("positive weight", err)
    assert.has_error(function() ci.MultilayeredNetwork(W, { 1 }, { num_layers = 0 }) end)
    assert.has_error(function() ci.MultilayeredNetwork(ci.zeros(2, 3), { 1 }) end)
    if not ci.cuda_available() then assert.has_error(function() ci.MultilayeredNetwork(W, { 1 }, { device = "cuda" }) end) end
  end)

  it("rejects inputs of the wrong shape and bad manipulations", function()
    local net = tiny { num_layers = 3 }
    local ok, err = pcall(net.forward, net, ci.zeros(2, 2, 3))
    assert.is_false(ok)
    assert.matches("inputs must have shape", err)
    ok, err = pcall(net.forward, net, ci.zeros(1, 3), { manipulate = { [1] = { [9] = 0.5 } } })
    assert.is_false(ok)
    assert.matches("neuron 9 is out of range 1..3", err)
  end)

  -- issue 13: what the reference lets pass in silence (a misspelled keyword is a
  -- TypeError in Python; a manipulation that matches nothing is ignored there)
  local function err_of(f, ...)
    local ok, e = pcall(f, ...)
    assert.is_false(ok, "no error was raised")
    return tostring(e)
  end

  it("refuses misspelled options of the constructors, naming the closest one", function()
    local W = ci.sparse({ 2 }, { 1 }, { 0.5 }, 3, 3)
    assert.matches("MultilayeredNetwork: unknown option 'num_layer' (did you mean 'num_layers'?)",
                   err_of(ci.MultilayeredNetwork, W, { 1 }, { num_layer = 5 }), 1, true)
    assert.matches("MultilayeredNetwork: unknown option 'tanh_steepnes' (did you mean 'tanh_steepness'?)",
                   err_of(ci.MultilayeredNetwork, W, { 1 }, { tanh_steepnes = 3 }), 1, true)
    assert.matches("LinearNetwork: unknown option 'idx_to_groups' (did you mean 'idx_to_group'?)",
                   err_of(ci.LinearNetwork, W, { 1 }, { idx_to_groups = { 1, 1, 1 } }), 1, true)
    assert.matches("MultilayeredNetwork: option 'threshold' must be a number, got a string (\"0.1\")",
                   err_of(ci.MultilayeredNetwork, W, { 1 }, { threshold = "0.1" }), 1, true)
    assert.matches("MultilayeredNetwork: opts is a Lua array",
                   err_of(ci.MultilayeredNetwork, W, { 1 }, { 3 }), 1, true)
    assert.matches("MultilayeredNetwork: slope_dict gives values per group, but the network has no groups: give " ..
                   "idx_to_group too (or a number for all neurons: tanh_steepness)",
                   err_of(ci.MultilayeredNetwork, W, { 1 }, { slope_dict = { KC = 3 } }), 1, true)
    assert.matches("LinearNetwork: tau_dict gives values per group",
                   err_of(ci.LinearNetwork, W, { 1 }, { tau_dict = { KC = 3 } }), 1, true)
    -- the options the constructor does take still work (a spot check beside options_spec)
    assert.are.equal(5, ci.MultilayeredNetwork(W, { 1 }, { num_layers = 5 }).num_layers)
    assert.are.equal(3, ci.MultilayeredNetwork(W, { 1 }, { tanh_steepness = 3 }).tanh_steepness)
  end)

  it("refuses misspelled options through c:model, which passes them to the constructors", function()
    local c = ci.connectome.toy()
    assert.matches("connectome:model: unknown option 'num_layer' (did you mean 'num_layers'?)",
                   err_of(c.model, c, { sensory = { 1 }, num_layer = 5 }), 1, true)
    assert.matches("connectome:model: unknown option 'tanh_steepnes' (did you mean 'tanh_steepness'?)",
                   err_of(c.model, c, { sensory = { 1 }, linear = true, tanh_steepnes = 3 }), 1, true)
    assert.matches("connectome:model: option 'num_layers' must be an integer >= 1, got a number (0)",
                   err_of(c.model, c, { sensory = { 1 }, num_layers = 0 }), 1, true)
    assert.are.equal(5, c:model { sensory = { 1 }, num_layers = 5 }.num_layers)
  end)

  it("refuses misspelled options of the methods and of training_mode", function()
    local net = tiny { num_layers = 2, idx_to_group = { "a", "b", "b" } }
    local x = ci.ones(1, 2)
    assert.matches("MultilayeredNetwork.forward: unknown option 'manipulte' (did you mean 'manipulate'?)",
                   err_of(net.forward, net, x, { manipulte = { [2] = { b = 0 } } }), 1, true)
    assert.matches("unknown option 'manipulte'", err_of(function() return net(x, { manipulte = {} }) end), 1, true)
    assert.matches("MultilayeredNetwork.vjp: unknown option 'gradx' (did you mean 'grad_x'?)",
                   err_of(net.vjp, net, x, ci.ones(3, 2), { gradx = true }), 1, true)
    assert.matches("MultilayeredNetwork.set_param_grads: unknown option 'slope' (did you mean 'slopes'?)",
                   err_of(net.set_param_grads, net, { slope = true }), 1, true)
    assert.matches("ci.training_mode: unknown option 'train_slope' (did you mean 'train_slopes'?)",
                   err_of(ci.training_mode, net, { train_slope = true }, function() end), 1, true)
    local lin = ci.LinearNetwork(ci.sparse({ 2 }, { 1 }, { 0.5 }, 3, 3), { 1 }, { num_layers = 2 })
    assert.matches("LinearNetwork.forward: unknown option 'checkpoint'", err_of(lin.forward, lin, x, { checkpoint = 1 }),
                   1, true)
  end)

  it("refuses a manipulation that would match nothing: a numeric key with groups, a layer past num_layers", function()
    local net = tiny { num_layers = 2, idx_to_group = { "ORN", "PN", "KC" } }
    local x = ci.ones(1, 2)
    local e = err_of(net.forward, net, x, { manipulate = { [1] = { [7] = 0.5 } } })
    assert.matches("MultilayeredNetwork.forward: manipulate: key 7 is not a group of the network", e, 1, true)
    assert.matches("group names ('KC', 'ORN' and 'PN')", e, 1, true)
    assert.matches("by index only on a network built without idx_to_group", e, 1, true)
    e = err_of(net.forward, net, x, { manipulate = { [3] = { KC = 0 } } })
    assert.matches("manipulate: layer 3 is out of range 1..2 (num_layers)", e, 1, true)
    e = err_of(net.forward, net, x, { manipulate = { [1] = { [5] = { KC = 0 } } } })   -- per batch 1
    assert.matches("manipulate: layer 5 is out of range 1..2 (num_layers)", e, 1, true)
    e = err_of(net.vjp, net, x, ci.ones(3, 2), { manipulate = { [2] = { [1] = 0 } } })
    assert.matches("MultilayeredNetwork.vjp: manipulate: key 1 is not a group", e, 1, true)
    e = err_of(net.forward, net, x, { manipulate = { [1] = { KCs = 0 } } })
    assert.matches("manipulate: unknown group 'KCs' (did you mean 'KC'?)", e, 1, true)
    -- numeric groups are keys like any other
    local numbered = tiny { num_layers = 2, idx_to_group = { 1, 2, 2 } }
    local held = numbered:forward(x, { manipulate = { [2] = { [2] = 0.25 } } })
    assert.are.equal(0.25, held:get(3, 2))
    -- and without groups the same key is neuron 1
    local lin = tiny { num_layers = 2 }
    assert.are.equal(0.5, lin:forward(x, { manipulate = { [1] = { [1] = 0.5 } } }):get(1, 1))
  end)
end)
