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

  it("custom regularisers on their slices alone give what the whole loss on the tape gives", function()
    -- the default path differentiates only the custom functions on the tape (over a
    -- copy of each part's slice); _tape_path builds the whole loss from tensor ops
    local net, t = setup(2)
    local x0 = ci.rand(2, 5, 3)
    local function sq(x) return (x * x):sum() * 3 end
    local function l1(x) return x:abs():sum() end
    for _, independent in ipairs { false, true } do
      local opts = { input_tensor = x0, num_iterations = 12, quiet = true, early_stopping = false,
                     in_reg_lambda = 0.05, out_reg_lambda = 0.02, independent_batches = independent,
                     custom_reg_functions = { ["in"] = sq, out = l1 } }
      local a = { ci.activation_maximisation(net, t, opts) }
      opts._tape_path = true
      local b = { ci.activation_maximisation(net, t, opts) }
      local function flat(l) return independent and l[1] or l end
      for k = 3, 5 do check("loss list " .. k, flat(a[k]), flat(b[k]), 1e-5) end
      check("input", a[1], b[1]:totable(), 1e-4)
      assert.is_true(flat(a[5])[#flat(a[5])] < flat(a[5])[1]) -- the input penalty acted
    end
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

-- Targets as a frame, one batch per task ({[layer] = {[neuron] = value}} each).
local function task_targets(tasks)
  local b, l, nn, v = {}, {}, {}, {}
  for k, t in ipairs(tasks) do
    for _, layer in ipairs { 1, 2, 3 } do
      for i, val in pairs(t[layer] or {}) do
        b[#b + 1], l[#l + 1], nn[#nn + 1], v[#v + 1] = k, layer, i, val
      end
    end
  end
  return ci.TargetActivation { targets = ci.frame({ batch = b, layer = l, neuron = nn, value = v },
                                                  { "batch", "layer", "neuron", "value" }),
                               batch_size = #tasks }
end

local function copy(t, extra)
  local o = {}
  for k, v in pairs(t) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return o
end

local function assert_close_lists(a, b, tol, what)
  assert.are.equal(#b, #a, what .. " length")
  for k = 1, #b do
    assert(math.abs(a[k] - b[k]) <= tol * (1 + math.abs(b[k])), ("%s[%d]: %.9g vs %.9g"):format(what, k, a[k], b[k]))
  end
end

describe("activation_maximisation with independent_batches", function()
  -- three tasks that stop early at different iterations
  local tasks = { { [2] = { [10] = 0.8, [11] = 0.5 } }, { [3] = { [20] = 0.9 } },
                  { [2] = { [12] = 0.3 }, [3] = { [7] = 0.6 } } }
  local net = setup(1)
  ci.manual_seed(5)
  local x0 = ci.rand(3, 5, 3)
  local base = { num_iterations = 200, quiet = true, n_runs = 5, stopping_threshold = 2e-3,
                 learning_rate = 0.05, independent_batches = true }

  -- Each task alone (B = 1).
  local alone = {}
  for k = 1, 3 do
    alone[k] = { ci.activation_maximisation(net, task_targets { tasks[k] },
                                            copy(base, { input_tensor = x0:narrow(1, k, 1) })) }
  end

  -- A packing of the three tasks into runs of at most K batches equals the tasks alone.
  local function check_packing(K, extra)
    local k = 1
    while k <= 3 do
      local count = math.min(K, 3 - k + 1)
      local group = {}
      for j = 1, count do group[j] = tasks[k + j - 1] end
      local r = { ci.activation_maximisation(net, task_targets(group),
                                             copy(base, copy({ input_tensor = x0:narrow(1, k, count) }, extra))) }
      for j = 1, count do
        local a = alone[k + j - 1]
        local input = count == 1 and r[1] or r[1]:select(1, j)
        assert(G.compare(input, a[1]:totable(), 1e-5, 1e-5), ("K = %d, task %d: input"):format(K, k + j - 1))
        local output = count == 1 and r[2] or r[2]:select(1, j)
        assert(G.compare(output, a[2]:totable(), 1e-5, 1e-5), ("K = %d, task %d: output"):format(K, k + j - 1))
        for h = 3, 5 do
          assert_close_lists(r[h][j], a[h][1], 1e-5, ("K = %d, task %d, history %d"):format(K, k + j - 1, h))
        end
      end
      k = k + count
    end
  end

  it("with B = 1 gives the default mode's results", function()
    for k = 1, 3 do
      local d = { ci.activation_maximisation(net, task_targets { tasks[k] },
                                             copy(base, { input_tensor = x0:narrow(1, k, 1),
                                                          independent_batches = false })) }
      assert.are.same(d[1]:totable(), alone[k][1]:totable())
      assert.are.same(d[2]:totable(), alone[k][2]:totable())
      assert.are.same(d[3], alone[k][3][1])
      assert.are.same(d[4], alone[k][4][1])
      assert.are.same(d[5], alone[k][5][1])
    end
  end)

  it("three tasks together equal each alone, with different stopping times", function()
    local counts = {}
    for k = 1, 3 do counts[#alone[k][3][1]] = true end
    local distinct = 0
    for c in pairs(counts) do
      assert.is_true(c < base.num_iterations)
      distinct = distinct + 1
    end
    assert.is_true(distinct >= 2)
    check_packing(3)
  end)

  it("runs the forward on the batches still active only", function()
    local sizes = {}
    local counted = setup(1)
    counted.forward = function(self, x, ...)
      sizes[#sizes + 1] = x:size(1)
      return getmetatable(self).__index.forward(self, x, ...)
    end
    local r = { ci.activation_maximisation(counted, task_targets(tasks), copy(base, { input_tensor = x0 })) }
    local last = 0
    for k = 1, 3 do last = math.max(last, #r[3][k] + 1) end
    assert.are.equal(last + 1, #sizes) -- every evaluated iteration, then the final output
    for it = 1, last do
      local active = 0
      for k = 1, 3 do if #r[3][k] + 1 >= it then active = active + 1 end end
      assert.are.equal(active, sizes[it], "iteration " .. it)
    end
    assert.are.equal(3, sizes[#sizes])
  end)

  it("K = 1, 2 and 3 packings agree", function()
    check_packing(1)
    check_packing(2)
  end)

  it("differs from the default mode, whose losses and stopping are over the whole batch", function()
    local d = { ci.activation_maximisation(net, task_targets(tasks),
                                           copy(base, { input_tensor = x0, independent_batches = false })) }
    assert.is_false(G.compare(d[1]:select(1, 1), alone[1][1]:totable(), 1e-4, 1e-5))
  end)

  it("custom regularisers see each batch's slice, and batching does not change the result", function()
    local shapes = {}
    local function l1(x) shapes[#shapes + 1] = x:size(); return x:abs():sum() end
    local extra = { custom_reg_functions = { ["in"] = l1, out = l1 }, num_iterations = 15 }
    local one = {}
    for k = 1, 3 do
      one[k] = { ci.activation_maximisation(net, task_targets { tasks[k] },
                                            copy(base, copy({ input_tensor = x0:narrow(1, k, 1) }, extra))) }
    end
    shapes = {}
    local r = { ci.activation_maximisation(net, task_targets(tasks), copy(base, copy({ input_tensor = x0 }, extra))) }
    assert.are.same({ 1, 5, 3 }, shapes[1])
    assert.are.same({ 1, 30, 3 }, shapes[2])
    for k = 1, 3 do
      assert(G.compare(r[1]:select(1, k), one[k][1]:totable(), 1e-5, 1e-5), "input " .. k)
      assert_close_lists(r[3][k], one[k][3][1], 1e-5, "act_loss " .. k)
      assert_close_lists(r[5][k], one[k][5][1], 1e-5, "in_reg " .. k)
    end
  end)

  it("normalises the gradient per batch", function()
    local extra = { normalize_gradients = true, num_iterations = 12 }
    local r = { ci.activation_maximisation(net, task_targets(tasks), copy(base, copy({ input_tensor = x0 }, extra))) }
    for k = 1, 3 do
      local a = { ci.activation_maximisation(net, task_targets { tasks[k] },
                                             copy(base, copy({ input_tensor = x0:narrow(1, k, 1) }, extra))) }
      assert(G.compare(r[1]:select(1, k), a[1]:totable(), 1e-5, 1e-5), "input " .. k)
    end
  end)

  it("logs totals over the recorded batches and per-batch figures", function()
    local rows = {}
    local r = { ci.activation_maximisation(net, task_targets(tasks), copy(base, {
      input_tensor = x0, log = function(row) rows[#rows + 1] = row end })) }
    local longest = 0
    for k = 1, 3 do longest = math.max(longest, #r[3][k]) end
    assert.are.equal(longest, #rows)
    for it, row in ipairs(rows) do
      local total = 0
      for k = 1, 3 do
        local on = it <= #r[3][k]
        assert.are.equal(on, row.active[k])
        if on then
          assert.are.equal(r[3][k][it], row.batch_activation_loss[k])
          total = total + r[3][k][it] + r[4][k][it] + r[5][k][it]
        else
          assert.is_true(row.batch_loss[k] ~= row.batch_loss[k])
        end
      end
      assert(math.abs(row.loss - total) < 1e-9)
    end
  end)
end)

-- Runs f with io.stderr captured; returns f's results (a list) and the text.
local function capture_stderr(f)
  local text, old = {}, io.stderr
  io.stderr = { write = function(self, ...) for _, s in ipairs { ... } do text[#text + 1] = s end end,
                flush = function() end }
  local res = { pcall(f) }
  io.stderr = old
  assert(res[1], res[2])
  return { unpack(res, 2) }, table.concat(text)
end

describe("activation_maximisation interrupted by Ctrl-C", function()
  -- An error ending in "interrupted!" (what the host's SIGINT hook raises) from the log at iteration `at`.
  local function interrupt_at(at)
    local rows = {}
    return function(r)
      rows[#rows + 1] = r
      if r.iteration == at then error("interrupted!") end
    end, rows
  end

  it("returns the best input so far and the losses until then, with a warning", function()
    local net, t = setup(1)
    local log, rows = interrupt_at(7)
    local opts = { seed = 4, num_iterations = 40, learning_rate = 0.5, print_output = false, use_tqdm = false,
                   log = log }
    local r, text = capture_stderr(function() return { ci.activation_maximisation(net, t, opts) } end)
    r = r[1]
    assert.matches("ci.activation_maximisation: interrupted after 7 iterations", text, 1, true)
    assert.are.equal(7, #r[3])
    local best, best_it = math.huge, 0
    for it, row in ipairs(rows) do if row.loss < best then best, best_it = row.loss, it end end
    assert.is_true(best_it > 1 and best_it < 7) -- not the last iterate
    -- the input evaluated at iteration best_it is the last iterate after best_it - 1 steps
    local ref = { ci.activation_maximisation(net, t, { seed = 4, num_iterations = best_it - 1, learning_rate = 0.5,
                                                       quiet = true }) }
    assert.are.same(ref[1]:totable(), r[1]:totable())
    assert(G.compare(r[2], ref[2]:totable(), 1e-6, 1e-7))
  end)

  it("keeps each batch's best input with independent_batches", function()
    local net, t = setup(3)
    local log, rows = interrupt_at(6)
    local r = { ci.activation_maximisation(net, t, { seed = 8, num_iterations = 30, learning_rate = 0.5,
                                                     quiet = true, independent_batches = true, log = log }) }
    for b = 1, 3 do
      assert.are.equal(6, #r[3][b])
      local best, best_it = math.huge, 0
      for it, row in ipairs(rows) do if row.batch_loss[b] < best then best, best_it = row.batch_loss[b], it end end
      assert.is_true(best_it < 6)
      local ref = ci.activation_maximisation(net, t, { seed = 8, num_iterations = best_it - 1, learning_rate = 0.5,
                                                       quiet = true, independent_batches = true })
      assert.are.same(ref:select(1, b):totable(), r[1]:select(1, b):totable())
    end
  end)

  it("other errors still raise", function()
    local net, t = setup(1)
    local mode = ci.grad_enabled()
    local ok, err = pcall(ci.activation_maximisation, net, t, { seed = 1, quiet = true,
      log = function() error("boom") end })
    assert.is_false(ok)
    assert.matches("boom", err)
    assert.are.equal(mode, ci.grad_enabled())
  end)
end)

describe("activation_maximisation: keep_best and the warning when the activation loss rises", function()
  local function logger()
    local rows = {}
    return function(r) rows[#rows + 1] = r end, rows
  end

  it("keep_best returns the input of the lowest loss seen, the default the last iterate", function()
    local net, t = setup(1)
    local log, rows = logger()
    local opts = { seed = 4, num_iterations = 25, learning_rate = 0.5, early_stopping = false, quiet = true }
    local best = { ci.activation_maximisation(net, t, { seed = 4, num_iterations = 25, learning_rate = 0.5,
                                                        early_stopping = false, quiet = true, keep_best = true,
                                                        log = log }) }
    local last = { ci.activation_maximisation(net, t, opts) }
    local low, best_it = math.huge, 0
    for it, row in ipairs(rows) do if row.loss < low then low, best_it = row.loss, it end end
    assert.is_true(best_it > 1 and best_it < #rows, "the lowest loss is at iteration " .. best_it ..
                   " of " .. #rows .. ": the case cannot tell the best from the last iterate")
    -- the input evaluated at iteration best_it is the last iterate after best_it - 1 steps
    local ref = { ci.activation_maximisation(net, t, { seed = 4, num_iterations = best_it - 1, learning_rate = 0.5,
                                                       quiet = true, early_stopping = false }) }
    assert.are.same(ref[1]:totable(), best[1]:totable())
    assert(G.compare(best[2], ref[2]:totable(), 1e-6, 1e-7))
    assert.are.same(last[3], best[3])                 -- the same run: the same losses
    assert.are_not.same(last[1]:totable(), best[1]:totable())
    local final = { ci.activation_maximisation(net, t, { seed = 4, num_iterations = 25, learning_rate = 0.5,
                                                         quiet = true, early_stopping = false, keep_best = false }) }
    assert.are.same(last[1]:totable(), final[1]:totable())
  end)

  it("keep_best keeps each batch's best input with independent_batches", function()
    local net, t = setup(3)
    local log, rows = logger()
    local base = { seed = 8, num_iterations = 20, learning_rate = 0.5, quiet = true, independent_batches = true,
                   early_stopping = false }
    local function with(extra)
      local o = {}
      for k, v in pairs(base) do o[k] = v end
      for k, v in pairs(extra) do o[k] = v end
      return o
    end
    local r = { ci.activation_maximisation(net, t, with { keep_best = true, log = log }) }
    local not_last = 0
    for b = 1, 3 do
      local low, best_it = math.huge, 0
      for it, row in ipairs(rows) do if row.batch_loss[b] < low then low, best_it = row.batch_loss[b], it end end
      if best_it < #rows then not_last = not_last + 1 end
      local ref = ci.activation_maximisation(net, t, with { num_iterations = best_it - 1 })
      assert.are.same(ref:select(1, b):totable(), r[1]:select(1, b):totable())
    end
    assert.is_true(not_last > 0, "every batch was best at its last iteration: the case tells nothing")
  end)

  it("warns on stderr, naming the lambdas, when the activation loss ends higher than it began", function()
    local net, t = setup(1)
    local r, text = capture_stderr(function()
      return { ci.activation_maximisation(net, t, { seed = 2, num_iterations = 30, in_reg_lambda = 0.5,
                                                    out_reg_lambda = 2, print_output = false, use_tqdm = false }) }
    end)
    local act = r[1][3]
    assert.is_true(act[#act] > act[1], "the case must raise the activation loss")
    assert.matches(("ci.activation_maximisation: the activation loss ended higher than it began (%.6g -> %.6g)")
                   :format(act[1], act[#act]), text, 1, true)
    assert.matches("regularisation outweighing the targets: in_reg_lambda = 0.5, out_reg_lambda = 2", text, 1, true)
    assert.matches("30 neurons x 3 layers", text, 1, true)
    -- quiet silences it; a falling loss gives no warning
    local _, quiet_text = capture_stderr(function()
      return ci.activation_maximisation(net, t, { seed = 2, num_iterations = 30, in_reg_lambda = 0.5,
                                                  out_reg_lambda = 2, quiet = true })
    end)
    assert.are.equal("", quiet_text)
    local r2, falling = capture_stderr(function()
      return { ci.activation_maximisation(net, t, { seed = 2, num_iterations = 30, in_reg_lambda = 0,
                                                    out_reg_lambda = 0, print_output = false, use_tqdm = false }) }
    end)
    local act2 = r2[1][3]
    assert.is_true(act2[#act2] < act2[1])
    assert.are.equal("", falling)
  end)

  it("warns per batch with independent_batches, naming the batches whose loss rose", function()
    local net = setup(1)
    -- batch 1 has a target the regularisation fights, batch 2 none it can miss (its target is 0)
    local t = ci.TargetActivation { targets = ci.frame({ batch = { 1, 2 }, layer = { 2, 2 }, neuron = { 10, 10 },
                                                         value = { 0.8, 0 } }, { "batch", "layer", "neuron", "value" }) }
    local r, text = capture_stderr(function()
      return { ci.activation_maximisation(net, t, { seed = 2, num_iterations = 30, in_reg_lambda = 0.5,
                                                    out_reg_lambda = 2, print_output = false, use_tqdm = false,
                                                    independent_batches = true }) }
    end)
    local act = r[1][3]
    for b = 1, 2 do
      local rose = act[b][#act[b]] > act[b][1]
      assert.are.equal(rose, text:find(("batch %d: "):format(b), 1, true) ~= nil, "batch " .. b .. ": " .. text)
    end
    assert.is_true(act[1][#act[1]] > act[1][1], "batch 1's loss must rise in this case")
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
