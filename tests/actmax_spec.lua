-- actmax_spec.lua: ci.activation_maximisation: every golden case of the reference
-- (loss lists, snapshots, final input and output), the hand-computed path against
-- the tape path, custom regularisers equal to the built-in one, seeding, logging,
-- early stopping, and errors.
local ci = require "cinterp"
local G = require "golden"

local function golden_targets(c)
  if c.targets.kind == "dict" then
    local d = {}
    for l, ns in pairs(c.targets.dict) do
      d[l + 1] = {}
      for i, v in pairs(ns) do d[l + 1][i + 1] = v end
    end
    return ci.TargetActivation { targets = d, batch_size = c.targets.batch_size }
  end
  local cols, rows = c.targets.df.columns, {}
  for r, row in ipairs(c.targets.df.rows) do
    rows[r] = {}
    for j, v in ipairs(row) do rows[r][j] = cols[j] == "value" and v or v + 1 end
  end
  return ci.TargetActivation { targets = ci.frame.from_rows(cols, rows), batch_size = c.targets.batch_size }
end

local function sum_abs(x) return x:abs():sum() end

local function golden_opts(c, extra)
  local a = c.args
  local cr
  if c.custom_reg_functions then
    cr = {}
    for k, v in pairs(c.custom_reg_functions) do
      assert.are.equal("sum_abs", v)
      cr[k] = sum_abs
    end
  end
  local o = {
    input_tensor = ci.tensor(c.input), num_iterations = a.num_iterations, learning_rate = a.learning_rate,
    in_reg_lambda = a.in_reg_lambda, out_reg_lambda = a.out_reg_lambda, early_stopping = a.early_stopping,
    stopping_threshold = a.stopping_threshold, n_runs = a.n_runs, normalize_gradients = a.normalize_gradients,
    custom_reg_functions = cr, quiet = true,
  }
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function check(name, actual, expected, rtol)
  local ok, msg = G.compare(actual, expected, rtol, 1e-6)
  assert(ok, name .. ": " .. tostring(msg))
end

local function tables(list)
  local out = {}
  for k, t in ipairs(list) do out[k] = t:totable() end
  return out
end

describe("activation_maximisation golden cases", function()
  local cases = G.cases("activation_maximisation")
  if #cases == 0 then pending(G.missing_message) end
  for _, entry in ipairs(cases) do
    it(entry.name, function()
      local c = G.load(entry)
      local net = G.model(ci, c)
      local input, output, act, out_reg, in_reg, snaps =
        ci.activation_maximisation(net, golden_targets(c), golden_opts(c))
      local e = c.expected
      assert.are.equal(#e.act_loss, #act)
      check("act_loss", act, e.act_loss, 1e-3)
      check("out_reg_losses", out_reg, e.out_reg_losses, 1e-3)
      check("in_reg_losses", in_reg, e.in_reg_losses, 1e-3)
      local rt = c.args.num_iterations >= 30 and 1e-2 or 1e-3
      assert.are.equal(#e.snapshots, #snaps)
      check("snapshots", tables(snaps), e.snapshots, rt)
      local B = c.targets.batch_size or #c.input
      assert.are.equal(B == 1 and 2 or 3, input:dim())
      assert.are.equal(B == 1 and 2 or 3, output:dim())
      check("input", input, e.input, rt)
      check("output", output, e.output, rt)
    end)
  end
end)

describe("activation_maximisation: the tape path gives the hand-computed numbers", function()
  local cases = G.cases("activation_maximisation")
  if #cases == 0 then pending(G.missing_message) end
  for _, entry in ipairs(cases) do
    it(entry.name, function()
      local c = G.load(entry)
      local r1 = { ci.activation_maximisation(G.model(ci, c), golden_targets(c), golden_opts(c)) }
      local r2 = { ci.activation_maximisation(G.model(ci, c), golden_targets(c),
                                              golden_opts(c, { _tape_path = true })) }
      for k = 3, 5 do check("loss list " .. k, r2[k], r1[k], 1e-5) end
      check("input", r2[1], r1[1]:totable(), 1e-4)
      check("output", r2[2], r1[2]:totable(), 1e-4)
    end)
  end
end)

-- A random network and targets for the checks below.
local function setup(B)
  ci.manual_seed(123)
  local n, L = 30, 3
  local rows, cols, vals = {}, {}, {}
  local r = ci.rand(n, n)
  for i = 1, n do
    for j = 1, n do
      local v = r:get(i, j)
      if v < 0.2 then
        rows[#rows + 1], cols[#cols + 1], vals[#vals + 1] = i, j, (v < 0.05 and -1 or 1) * (0.3 + v)
      end
    end
  end
  local net = ci.MultilayeredNetwork(ci.sparse(rows, cols, vals, n, n), { 1, 2, 3, 4, 5 },
                                     { num_layers = L })
  local t = ci.TargetActivation { targets = { [2] = { [10] = 0.8, [11] = 0.5 }, [3] = { [20] = 0.9 } },
                                  batch_size = B }
  return net, t
end

describe("activation_maximisation", function()
  it("custom regularisers computing L1 + L2 give the built-in result", function()
    local net, t = setup(2)
    local x0 = ci.rand(2, 5, 3)
    local function l1l2(x) return x:norm(1) + x:norm(2) end
    local opts = { input_tensor = x0, num_iterations = 12, quiet = true, early_stopping = false }
    local a = { ci.activation_maximisation(net, t, opts) }
    opts.custom_reg_functions = { ["in"] = l1l2, out = l1l2 }
    local b = { ci.activation_maximisation(net, t, opts) }
    for k = 3, 5 do check("loss list " .. k, b[k], a[k], 1e-5) end
    check("input", b[1], a[1]:totable(), 1e-4)
    check("output", b[2], a[2]:totable(), 1e-4)
    for k = 1, #a[6] do check("snapshot " .. k, b[6][k], a[6][k]:totable(), 1e-4) end
    -- the input is not modified and reused as the initial value
    assert.are.same(x0:totable(), opts.input_tensor:totable())
  end)

  it("first-iteration losses match a naive computation, and Adam's first step is lr * sign(grad)", function()
    local net, t = setup(1)
    local x0 = ci.rand(1, 5, 3) * 0.9 + 0.05
    local input, _, act, out_reg, in_reg = ci.activation_maximisation(net, t, {
      input_tensor = x0, num_iterations = 1, learning_rate = 0.01, quiet = true, in_reg_lambda = 0.02,
      out_reg_lambda = 0.03 })
    local out = net:forward(x0):totable()[1]
    local mse = ((out[10][2] - 0.8) ^ 2 + (out[11][2] - 0.5) ^ 2 + (out[20][3] - 0.9) ^ 2) / 3
    local function l1l2(list)
      local a, s = 0, 0
      for _, v in ipairs(G.flatten(list)) do a = a + math.abs(v); s = s + v * v end
      return a + math.sqrt(s)
    end
    assert.is_true(math.abs(act[1] - mse) < 1e-6)
    assert.is_true(math.abs(out_reg[1] - 0.03 * l1l2(out)) < 1e-5)
    assert.is_true(math.abs(in_reg[1] - 0.02 * l1l2(x0:totable())) < 1e-5)
    -- Adam's first update moves every entry with a nonzero gradient by exactly lr
    -- (m / sqrt(v) = sign(g) after bias correction, up to eps)
    for s = 1, 5 do
      for l = 1, 3 do
        local d = math.abs(input:get(s, l) - math.min(1, math.max(-1, x0:get(1, s, l))))
        assert.is_true(math.abs(d - 0.01) < 1e-4 or d < 1e-6, ("move %g"):format(d))
      end
    end
  end)

  it("a random start is reproducible with seed and has the right shapes", function()
    local net, t = setup(3)
    local a = { ci.activation_maximisation(net, t, { seed = 42, num_iterations = 7, quiet = true }) }
    local b = { ci.activation_maximisation(net, t, { seed = 42, num_iterations = 7, quiet = true }) }
    assert.are.same({ 3, 5, 3 }, a[1]:size())
    assert.are.same({ 3, 30, 3 }, a[2]:size())
    assert.are.same(a[1]:totable(), b[1]:totable())
    assert.are.same(a[3], b[3])
    assert.are.equal(2, #a[6]) -- iterations 1 and 6 (0 and 5 in the reference)
    for _, v in ipairs(G.flatten(a[1]:totable())) do assert.is_true(v >= -1 and v <= 1) end
  end)

  it("stops early exactly as the reference: after iteration n_runs once the window is flat", function()
    local net, t = setup(1)
    local act = select(3, ci.activation_maximisation(net, t, {
      seed = 1, num_iterations = 40, n_runs = 4, stopping_threshold = 1e9, quiet = true }))
    -- the check starts at (0-based) iteration n_runs + 1 = 5, before that iteration's entry
    assert.are.equal(5, #act)
    local full = select(3, ci.activation_maximisation(net, t, {
      seed = 1, num_iterations = 40, n_runs = 4, stopping_threshold = 0, quiet = true }))
    assert.are.equal(40, #full)
  end)

  it("logs every iteration to a function or a CSV file", function()
    local net, t = setup(1)
    local rows = {}
    local _, _, act = ci.activation_maximisation(net, t, { seed = 3, num_iterations = 4, quiet = true,
      log = function(r) rows[#rows + 1] = r end })
    assert.are.equal(4, #rows)
    for k, r in ipairs(rows) do
      assert.are.equal(k, r.iteration)
      assert.are.equal(act[k], r.activation_loss)
      assert.is_true(math.abs(r.loss - (r.activation_loss + r.in_regularisation_loss + r.out_regularisation_loss)) < 1e-9)
    end
    local path = os.tmpname()
    ci.activation_maximisation(net, t, { seed = 3, num_iterations = 4, quiet = true, log = path })
    local f = ci.read_csv(path)
    os.remove(path)
    assert.are.equal(4, f:nrow())
    assert.are.same({ 1, 2, 3, 4 }, f.iteration)
    for k = 1, 4 do assert.is_true(math.abs(f.activation_loss[k] - act[k]) < 1e-6 * (1 + act[k])) end
  end)

  it("raises clear errors for bad targets, shapes and options", function()
    local net = setup(1)
    local function fails(pattern, targets, opts)
      local ok, err = pcall(ci.activation_maximisation, net, targets, opts or { quiet = true })
      assert.is_false(ok)
      assert.matches(pattern, err, 1, true)
      assert.matches("ci.activation_maximisation", err, 1, true)
    end
    fails("neuron 31 (batch 1, layer 1) is out of range 1..30", ci.TargetActivation { targets = { [1] = { [31] = 1 } } })
    fails("layer 4 (batch 1) is out of range 1..3", ci.TargetActivation { targets = { [4] = { [1] = 1 } } })
    local t = ci.TargetActivation { targets = { [1] = { [2] = 1 } }, batch_size = 2 }
    fails("input_tensor must have shape (batch_size, sensory neurons, num_layers) = (2, 5, 3), got (1x5x3)",
          t, { input_tensor = ci.rand(1, 5, 3), quiet = true })
    fails("custom_reg_functions has an unknown key 'inn'", t,
          { quiet = true, custom_reg_functions = { inn = function(x) return x:sum() end } })
    fails("custom_reg_functions.out must return a one-element tensor", t,
          { quiet = true, num_iterations = 1, custom_reg_functions = { out = function(x) return x end } })
    local ok, err = pcall(ci.activation_maximisation, {}, t, { quiet = true })
    assert.is_false(ok)
    assert.matches("ci.activation_maximisation: net must be", err, 1, true)
  end)
end)

describe("progress bar", function()
  local P = require "cinterp.progress"
  it("redraws one line with count and ETA, and is silent when quiet", function()
    local path = os.tmpname()
    local f = io.open(path, "w")
    local bar = P.new(4, { force = true, stream = f })
    for k = 1, 4 do bar:update(k, "loss " .. k) end
    bar:finish()
    f:close()
    local text = io.open(path):read("*a")
    assert.matches("\r [", text, 1, true)
    assert.matches("4/4", text, 1, true)
    assert.matches("loss 4", text, 1, true)
    assert.are.equal(1, select(2, text:gsub("\n", "")))
    f = io.open(path, "w")
    bar = P.new(4, { quiet = true, force = true, stream = f })
    bar:update(2); bar:finish()
    f:close()
    assert.are.equal("", io.open(path):read("*a"))
    os.remove(path)
  end)
end)
