-- threshold_spec.lua: every path through the network agrees on the threshold's
-- derivative, [a > th] (0 at a = th, DESIGN.md): the engine's tape node
-- (net:forward + backward), the engine's vjp, and the Lua tape path of a custom
-- activation function, on inputs where a and z hit the threshold exactly, with
-- threshold = 0 (every silent neuron sits on it), manipulate and divisive
-- normalisation (the custom path refuses the latter); plus central finite
-- differences of the double-precision reference (tests/refnet.lua) away from kinks.
local ci = require "cinterp"
local G = require "golden"
local R = require "refnet"

-- The activation through the Lua tape: the custom path computing the built-in maths.
local function via_tape(net, x, xp) return net:activation_function(x, xp) end

local PARAMS = { "slope", "raw_biases", "tau_param", "divisive_strength" }

-- A network of the model whose parameters (with groups) collect gradients.
local function build(m, custom)
  local net = R.build(ci, m)
  if custom then net.custom_activation_function = via_tape end
  net:set_param_grads { slopes = true, raw_biases = true, tau = true, divisive_strength = true }
  return net
end

-- The gradients of sum(out * wts) on one path: res.u = d/du, res[param] = d/dparam.
local function collect(net, grad_u)
  local res = { u = grad_u }
  for _, p in ipairs(PARAMS) do
    if net[p] then res[p] = net[p].grad or ci.zeros(net[p]:numel()) end
  end
  return res
end

-- The gradients on the three paths; the custom one only without divisive normalisation.
local function input_grads(m, u, wts, manip)
  local res = {}
  local net = build(m)
  local ut = ci.tensor(u):requires_grad(true)
  local out = net:forward(ut, { manipulate = manip })
  ;(out * wts):sum():backward()
  res.tape_node = collect(net, ut.grad)
  local net2 = build(m)
  res.vjp = collect(net2, net2:vjp(ci.tensor(u), wts, { manipulate = manip }))
  if not m.div then
    local custom = build(m, true)
    local uc = ci.tensor(u):requires_grad(true)
    local oc = custom:forward(uc, { manipulate = manip })
    assert(G.compare(oc, out:totable(), 1e-6, 1e-7))
    ;(oc * wts):sum():backward()
    res.custom = collect(custom, uc.grad)
  end
  return res
end

local function assert_agree(res, tol)
  for name, grads in pairs(res) do
    for what, g in pairs(grads) do
      local ok, msg = G.compare(g, res.tape_node[what]:totable(), tol, tol)
      assert(ok, ("%s vs tape node, d/d%s: %s"):format(name, what, tostring(msg)))
    end
  end
end

describe("the threshold's derivative at a = threshold", function()
  -- Sensory neuron 1 feeds neuron 2 with weight 0.5; slope 1, bias 0, tau 1,
  -- threshold 0.5. One layer: with u = 1, neuron 2's a is exactly 0.5 and its
  -- output is tanh(a) (no input threshold after the last step).
  local function tiny(L)
    return { kind = "ml", n = 2, L = L, th = 0.5, edges = { { 2, 1, 0.5 } }, sensory = { 1 },
             slope = 1, raw_bias = 0, tau = 1 }
  end

  it("is 0 on every path (the issue's case: a = th = 0.5 gave du = 0.393 on the Lua path)", function()
    local res = input_grads(tiny(1), { { { 1 } } }, ci.tensor { { { 0 }, { 1 } } })
    for name, g in pairs(res) do assert.are.equal(0, g.u:get(1, 1, 1), name) end
  end)

  it("is the slope of tanh just above the threshold on every path", function()
    -- u = 1.2: a = 0.6 > th: du = (1 - tanh(0.6)^2) * 0.5
    local res = input_grads(tiny(1), { { { 1.2 } } }, ci.tensor { { { 0 }, { 1 } } })
    local want = (1 - math.tanh(0.6) ^ 2) * 0.5
    for name, g in pairs(res) do
      assert(math.abs(g.u:get(1, 1, 1) - want) < 1e-6, name .. (": %.7g vs %.7g"):format(g.u:get(1, 1, 1), want))
    end
  end)

  it("is 0 at z = threshold (the input threshold between steps) on every path", function()
    -- neuron 1 is silent at step 1 (y = 0), so z = u[1, 2] = 0.5 = th exactly; loss = x_1 at step 1
    local wts = ci.tensor { { { 1, 0 }, { 0, 0 } } }
    local res = input_grads(tiny(2), { { { 0, 0.5 } } }, wts)
    for name, g in pairs(res) do assert.are.equal(0, g.u:get(1, 1, 2), name) end
    -- just above it the input passes with derivative 1
    res = input_grads(tiny(2), { { { 0, 0.55 } } }, wts)
    for name, g in pairs(res) do assert(math.abs(g.u:get(1, 1, 2) - 1) < 1e-6, name) end
  end)
end)

-- Random networks with threshold 0 and zero biases: a neuron without active
-- inputs has a = 0 = threshold exactly, and an input of 0 gives z = 0 = threshold.
local B, S, L, N = 3, 6, 3, 12

local function zero_threshold_model(k, cfg)
  local rng = R.rng(500 + k)
  local m = R.random_model(rng, { n = N, deg = 4, L = L, S = S, th = 0, kind = cfg.kind,
                                  groups = cfg.groups, div = cfg.div, manip = cfg.manip })
  if m.group_of then
    for g = 1, #m.groups do m.raw_bias[g] = 0 end
  else
    m.raw_bias = 0
  end
  local u = R.random_input(rng, B, S, L, 0.5, 0.8)
  local wts = {}
  for b = 1, B do wts[b] = {} for i = 1, N do wts[b][i] = {} for t = 1, L do wts[b][i][t] = rng() - 0.3 end end end
  return m, u, ci.tensor(wts)
end

-- The activation with the mask [a >= th] as its derivative (the old Lua path's
-- convention), to show that these inputs do sit on the threshold.
local function with_ge_mask(net, x, xp)
  local k, c, tau = net:_coeff_columns()
  local a = x * k + c
  local y = (a * a:detach():ge(net.threshold)):tanh() / tau
  return y + xp * ((tau - 1) / tau)
end

local function ge_mask_grads(m, u, wts, manip)
  local net = R.build(ci, m)
  net.custom_activation_function = with_ge_mask
  local ut = ci.tensor(u):requires_grad(true)
  ;(net:forward(ut, { manipulate = manip }) * wts):sum():backward()
  return ut.grad
end

describe("every path agrees with threshold = 0", function()
  local configs = {
    { name = "multilayered, no groups", kind = "ml" },
    { name = "multilayered, groups", kind = "ml", groups = { "A", "B", "C" } },
    { name = "multilayered, manipulate", kind = "ml",
      manip = { { 2, 0, 5, 0.3 }, { 3, 2, 7, 0 }, { 1, 1, 2, 0.6 } } },
    { name = "multilayered, divisive (engine paths)", kind = "ml", groups = { "A", "B", "C" },
      div = { [1] = { [2] = true, [3] = true } } },
    { name = "linear, groups", kind = "linear", groups = { "A", "B", "C" } },
  }
  for k, cfg in ipairs(configs) do
    it(cfg.name, function()
      local m, u, wts = zero_threshold_model(k, cfg)
      local manip = R.manip_table(cfg.manip, B)
      local res = input_grads(m, u, wts, manip)
      assert_agree(res, 1e-5)
      if cfg.kind == "ml" and not cfg.div then
        -- the inputs sit on the threshold: the mask [a >= th] gives other gradients
        assert.is_false(G.compare(ge_mask_grads(m, u, wts, manip), res.tape_node.u:totable(), 1e-3, 1e-4))
      end
    end)
  end
end)

describe("away from the kinks every path matches finite differences in double", function()
  -- threshold 0 with a positive bias and positive inputs keeps every a and z off it
  local cfg = { kind = "ml", manip = { { 2, 0, 5, 0.3 }, { 3, 2, 7, 0 } } }
  it("multilayered, manipulate, threshold 0", function()
    local m, u, wts = zero_threshold_model(9, cfg)
    m.raw_bias = 0.05
    for b = 1, B do for s = 1, S do for t = 1, L do u[b][s][t] = 0.1 + 0.5 * u[b][s][t] end end end
    local manip = R.manip_table(cfg.manip, B)
    local res = input_grads(m, u, wts, manip)
    local w = wts:totable()
    local function loss()
      local out, s = R.forward(m, u), 0
      for b = 1, B do for i = 1, N do for t = 1, L do s = s + out[b][i][t] * w[b][i][t] end end end
      return s
    end
    local eps = 1e-6
    for b = 1, B do for s = 1, S do for t = 1, L do
      local old = u[b][s][t]
      u[b][s][t] = old + eps; local lp = loss()
      u[b][s][t] = old - eps; local lm = loss()
      u[b][s][t] = old
      local fd = (lp - lm) / (2 * eps)
      for name, g in pairs(res) do
        local got = g.u:get(b, s, t)
        assert(math.abs(got - fd) <= 2e-3 * math.abs(fd) + 2e-4,
               ("%s d/du[%d,%d,%d]: %.7g vs finite differences %.7g"):format(name, b, s, t, got, fd))
      end
    end end end
  end)
end)
