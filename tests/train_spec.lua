-- train_spec.lua: ci.train_model: the reference's golden training runs (histories,
-- final parameters, outputs, first-step loss and gradients), custom loss functions
-- (same as "mse" when they compute it; gradients against finite differences),
-- the split, logging, gradient flags, non-finite steps and argument errors.
local ci = require "cinterp"
local G = require "golden"

-- A deterministic generator for the hand-built test networks.
local function lcg(seed)
  local s = seed
  return function()
    s = (s * 1103515245 + 12345) % 2147483648
    return s / 2147483648
  end
end

-- A small grouped network with all biases nonzero (no abs() kink) and its inputs.
local function small_net(opts)
  opts = opts or {}
  local rng = lcg(opts.seed or 7)
  local n, L, B = 12, 4, opts.B or 3
  local rows, cols, vals = {}, {}, {}
  for post = 1, n do
    for pre = 1, n do
      if post ~= pre and rng() < 0.35 then
        rows[#rows + 1], cols[#cols + 1] = post, pre
        vals[#vals + 1] = (rng() < 0.25 and -1 or 1) * (0.1 + 0.5 * rng())
      end
    end
  end
  local W = ci.sparse(rows, cols, vals, n, n)
  local groups = {}
  local names = { "A", "B", "C" }
  for i = 1, n do groups[i] = names[(i - 1) % 3 + 1] end
  local net = ci.MultilayeredNetwork(W, { 1, 2, 3 }, {
    num_layers = L, idx_to_group = groups, tau = 3,
    bias_dict = { A = 0.05, B = -0.03, C = 0.02 }, slope_dict = { A = 4, B = 5, C = 3 },
  })
  local u = {}
  for b = 1, B do
    u[b] = {}
    for s = 1, 3 do
      u[b][s] = {}
      for l = 1, L do u[b][s][l] = 0.2 + 0.7 * rng() end
    end
  end
  return net, ci.tensor(u), n, L, B
end

local function small_targets(B, n, L, with_layer)
  local rng = lcg(99)
  local cols = with_layer and { "batch", "neuron_idx", "layer", "value" } or { "batch", "neuron_idx", "value" }
  local rows = {}
  for b = 1, B do
    for k = 1, 3 do
      local i = 4 + ((b * 3 + k * 5) % (n - 3))
      if with_layer then
        rows[#rows + 1] = { b, i, 1 + (b + k) % L, 0.2 + 0.6 * rng() }
      else
        rows[#rows + 1] = { b, i, 0.2 + 0.6 * rng() }
      end
    end
  end
  return ci.frame.from_rows(cols, rows)
end

local function close(a, b, rtol, atol)
  if b ~= b then return a ~= a end
  return math.abs(a - b) <= atol + rtol * math.abs(b)
end

-- A golden case's targets as a 1-based frame and its train_indices, 1-based.
local function golden_inputs(case)
  local cols = case.targets.columns
  local rows = {}
  for k, r in ipairs(case.targets.rows) do
    local nr = {}
    for j, c in ipairs(cols) do nr[j] = (c == "value") and r[j] or r[j] + 1 end
    rows[k] = nr
  end
  local ti = {}
  for k, b in ipairs(case.expected.train_indices) do ti[k] = b + 1 end
  return ci.frame.from_rows(cols, rows), ti
end

describe("train_model golden cases", function()
  local cases = G.cases("train_model")
  if #cases == 0 then pending(G.missing_message) end
  for _, entry in ipairs(cases) do
    it(entry.name, function()
      local case = G.load(entry)
      local exp = case.expected
      local net = G.model(ci, case)
      local tf, ti = golden_inputs(case)
      local opts = {}
      for k, v in pairs(case.args) do opts[k] = v end
      opts.train_indices = ti
      opts.quiet = true
      -- reference 2.10.0 predates the seed's nudge of zero raw biases
      opts.nudge_zero_biases = false
      local first
      opts.log = function(row) if row.epoch == 1 then first = row end end
      local inputs = ci.tensor(case.input)
      local net2, history, train_inputs, val_inputs, train_targets, val_targets, tr, va =
        ci.train_model(net, inputs, tf, opts)
      assert.are.equal(net, net2)
      local label = entry.name
      -- split
      assert.are.same(ti, tr)
      local ev = {}
      for k, b in ipairs(exp.val_indices) do ev[k] = b + 1 end
      assert.are.same(ev, va)
      assert.are.equal(#tr, train_inputs:size(1))
      assert.are.equal(#va, val_inputs:size(1))
      local ntrain = 0
      for _, r in ipairs(case.targets.rows) do
        for _, b in ipairs(exp.train_indices) do if r[1] == b then ntrain = ntrain + 1 end end
      end
      assert.are.equal(ntrain, train_targets:nrow())
      assert.are.equal(#case.targets.rows - ntrain, val_targets:nrow())
      -- histories (iterative: 1e-3 relative)
      for _, key in ipairs { "loss", "mse_loss", "param_reg_loss", "val_loss" } do
        local e, a = exp.history[key], history[key]
        assert.are.equal(#e, #a, label .. " history." .. key .. " length")
        for k = 1, #e do
          assert(close(a[k], e[k], 1e-3, 1e-6),
                 ("%s history.%s[%d]: got %.9g, expected %.9g"):format(label, key, k, a[k], e[k]))
        end
      end
      -- final parameters, by group name
      for name, groups in pairs(exp.params) do
        for g, v in pairs(groups) do
          local got = net[name]:get(net.group_index[g])
          assert(close(got, v, 1e-3, 1e-6),
                 ("%s params.%s[%s]: got %.9g, expected %.9g"):format(label, name, g, got, v))
        end
      end
      -- the output of all inputs with the trained parameters
      local out = net:forward(inputs)
      local th = case.model_args.threshold or 0.01
      local ok, msg = G.compare(out, exp.output_after, 1e-3, 1e-5, th)
      assert(ok, label .. " output_after: " .. tostring(msg))
      -- first step: loss and gradients before clipping
      if exp.first_step then
        local fs = exp.first_step
        assert(close(history.loss[1], fs.loss, 1e-4, 1e-6), label .. " first_step.loss")
        assert(close(first.grad_norm, fs.grad_total_norm, 1e-3, 1e-6),
               ("%s grad_total_norm: got %.9g, expected %.9g"):format(label, first.grad_norm,
                                                                      fs.grad_total_norm))
        for name, groups in pairs(fs.grads) do
          local g = first.grads[name]
          assert(g, label .. ": no gradient for " .. name)
          local scale = 0
          for _, v in pairs(groups) do scale = math.max(scale, math.abs(v)) end
          for grp, v in pairs(groups) do
            local got = g:get(net.group_index[grp])
            assert(math.abs(got - v) <= 1e-3 * math.abs(v) + 1e-6 * math.max(scale, 1e-3),
                   ("%s first_step grad %s[%s]: got %.9g, expected %.9g"):format(label, name, grp, got, v))
          end
        end
        for name in pairs(first.grads) do
          assert(fs.grads[name], label .. ": untrained parameter " .. name .. " has a gradient")
        end
      end
      -- gradient flags restored
      assert.is_false(net.slope:requires_grad())
      assert.is_false(net.raw_biases:requires_grad())
      assert.is_false(net.tau_param:requires_grad())
    end)
  end
end)

describe("train_model loss functions", function()
  it("a Lua function computing the mean squared error gives the history of \"mse\"", function()
    local runs = {}
    for k, fn in ipairs { "mse", function(pred, tgt)
      local d = pred - tgt
      return (d * d):sum() / pred:numel()
    end } do
      local net, u, n, L, B = small_net()
      local _, h = ci.train_model(net, u, small_targets(B, n, L, true),
                                  { num_epochs = 6, learning_rate = 0.05, train_fraction = 1,
                                    activation_loss_fn = fn, quiet = true })
      runs[k] = { h = h, slope = net.slope:totable() }
    end
    for _, key in ipairs { "loss", "mse_loss", "param_reg_loss" } do
      assert.are.equal(6, #runs[1].h[key])
      for e = 1, 6 do
        assert(close(runs[2].h[key][e], runs[1].h[key][e], 1e-5, 1e-8), key .. " epoch " .. e)
      end
    end
    for g = 1, 3 do assert(close(runs[2].slope[g], runs[1].slope[g], 1e-5, 1e-7)) end
    -- and training moved the slopes and lowered the loss
    assert.is_true(runs[1].h.mse_loss[6] < runs[1].h.mse_loss[1])
  end)

  it("\"mse\" and \"mae\" are the mean squared / absolute error of the gathered activations", function()
    for _, kind in ipairs { "mse", "mae" } do
      for _, with_layer in ipairs { true, false } do
        local net, u, n, L, B = small_net()
        local tf = small_targets(B, n, L, with_layer)
        -- expected first-epoch loss from a plain forward, computed by hand
        local out = ci.no_grad(function() return net:forward(u) end)
        local s, cnt = 0, 0
        for r = 1, tf:nrow() do
          local row = tf:row(r)
          local pred
          if with_layer then
            pred = out:get(row.batch, row.neuron_idx, row.layer)
          else
            pred = 0
            for l = 1, L do pred = pred + out:get(row.batch, row.neuron_idx, l) end
            pred = pred / L
          end
          local d = pred - row.value
          s = s + (kind == "mse" and d * d or math.abs(d))
          cnt = cnt + 1
        end
        local _, h = ci.train_model(net, u, tf, { num_epochs = 1, train_fraction = 1,
                                                  activation_loss_fn = kind, quiet = true })
        assert(close(h.mse_loss[1], s / cnt, 1e-5, 1e-7), kind .. " " .. tostring(with_layer))
        assert.are.equal(0, h.param_reg_loss[1])
        assert.is_true(h.val_loss[1] ~= h.val_loss[1]) -- NaN: no validation set
      end
    end
  end)

  it("a Lua custom loss is differentiated correctly (central finite differences)", function()
    local function custom(pred, tgt)
      local d = pred - tgt
      return (d * d * d * d):sum() * 3 + (pred * 2):exp():mean() + (d:abs() + 0.5):log():sum()
    end
    local net, u, n, L, B = small_net()
    local tf = small_targets(B, n, L, true)
    local first
    ci.train_model(net, u, tf, { num_epochs = 1, learning_rate = 0, train_fraction = 1,
                                 activation_loss_fn = custom, quiet = true,
                                 log = function(row) first = row end })
    -- the loss as a function of the parameters, by re-running the forward pass
    local function loss_at()
      return ci.no_grad(function()
        local out = net:forward(u)
        local idx, vals = {}, {}
        for r = 1, tf:nrow() do
          local row = tf:row(r)
          idx[r] = ((row.batch - 1) * n + row.neuron_idx - 1) * L + row.layer
          vals[r] = row.value
        end
        return custom(out:reshape(B * n * L):index(1, idx), ci.tensor(vals)):item()
      end)
    end
    local base = loss_at()
    assert(close(base, first.loss, 1e-6, 1e-7))
    local checked = 0
    for _, name in ipairs { "slope", "raw_biases", "tau_param" } do
      local p, g = net[name], first.grads[name]
      for k = 1, 3 do
        local v = p:get(k)
        local h = 1e-3 * math.max(1, math.abs(v))
        p:set(v + h, k); local lp = loss_at()
        p:set(v - h, k); local lm = loss_at()
        p:set(v, k)
        local fd = (lp - lm) / (2 * h)
        local fwd, bwd = (lp - base) / h, (base - lm) / h
        local an = g:get(k)
        -- the thresholded activation jumps where slope * x + bias crosses the
        -- threshold; skip a point whose one-sided differences disagree (a jump
        -- inside +-h), check the rest
        if math.abs(fwd - bwd) <= 0.05 * math.max(math.abs(fwd), math.abs(bwd)) + 1e-3 then
          assert(math.abs(fd - an) <= 2e-2 * math.abs(an) + 2e-3,
                 ("%s[%d]: tape %.6g, finite differences %.6g"):format(name, k, an, fd))
          if math.abs(an) > 1e-2 then checked = checked + 1 end
        end
      end
    end
    assert.is_true(checked >= 4, "too few sizeable gradients to check")
  end)

  it("a custom loss that does not return a scalar tensor is an error naming it", function()
    local net, u, n, L, B = small_net()
    local ok, err = pcall(ci.train_model, net, u, small_targets(B, n, L, true),
                          { num_epochs = 1, quiet = true, activation_loss_fn = function(p) return p end })
    assert.is_false(ok)
    assert.matches("ci.train_model: activation_loss_fn must return", err, 1, true)
    -- gradient flags restored after the error
    assert.is_false(net.slope:requires_grad())
    assert.is_false(net.raw_biases:requires_grad())
  end)
end)

describe("train_model behaviour", function()
  it("the seeded split is reproducible and covers the batches", function()
    local function split(seed)
      local net, u, n, L = small_net { B = 5 }
      local _, h, ti, vi, tt, vt, tr, va = ci.train_model(net, u, small_targets(5, n, L, true),
        { num_epochs = 2, train_fraction = 0.6, seed = seed, quiet = true })
      return tr, va, h, ti, vi, tt, vt
    end
    local tr, va, h, ti, vi, tt, vt = split(3)
    local tr2, va2 = split(3)
    assert.are.same(tr, tr2)
    assert.are.same(va, va2)
    assert.are.equal(3, #tr)
    assert.are.equal(2, #va)
    local seen = {}
    for _, b in ipairs(tr) do seen[b] = true end
    for _, b in ipairs(va) do assert.is_nil(seen[b]); seen[b] = true end
    for b = 1, 5 do assert.is_true(seen[b]) end
    assert.is_true(va[1] < va[2])
    assert.are.same({ 3, 3, 4 }, ti:size())
    assert.are.same({ 2, 3, 4 }, vi:size())
    -- targets renumbered to local batches, in split order
    assert.are.equal(9, tt:nrow()); assert.are.equal(6, vt:nrow())
    local tb = tt:col("batch")
    for k = 2, #tb do assert.is_true(tb[k - 1] <= tb[k]) end
    assert.are.equal(3, tb[#tb])
    -- a validation set gives finite validation losses
    for _, v in ipairs(h.val_loss) do assert.is_true(v == v) end
  end)

  it("train_indices fixes the split and its order", function()
    local net, u, n, L = small_net { B = 4 }
    local _, _, ti, vi, tt, _, tr, va = ci.train_model(net, u, small_targets(4, n, L, true),
      { num_epochs = 1, train_indices = { 3, 1 }, quiet = true })
    assert.are.same({ 3, 1 }, tr)
    assert.are.same({ 2, 4 }, va)
    for s = 1, 3 do
      for l = 1, L do
        assert.are.equal(u:get(3, s, l), ti:get(1, s, l))
        assert.are.equal(u:get(1, s, l), ti:get(2, s, l))
        assert.are.equal(u:get(4, s, l), vi:get(2, s, l))
      end
    end
    -- rows of batch 3 come first, as local batch 1
    assert.are.equal(1, tt:col("batch")[1])
  end)

  it("switches: untrained parameters do not move; zero biases are nudged by default", function()
    local net, u, n, L, B = small_net()
    net.raw_biases:set(0, 2)
    local slope0 = net.slope:totable()
    local tau0 = net.tau_param:totable()
    ci.train_model(net, u, small_targets(B, n, L, true),
                   { num_epochs = 3, train_fraction = 1, train_slopes = false, train_tau = false,
                     learning_rate = 0, quiet = true })
    assert.are.same(slope0, net.slope:totable())
    assert.are.same(tau0, net.tau_param:totable())
    assert(close(net.raw_biases:get(2), 1e-6, 1e-6, 0))
    -- without the nudge the zero stays (and its gradient is 0)
    local net2 = small_net()
    net2.raw_biases:set(0, 2)
    local first
    ci.train_model(net2, u, small_targets(B, n, L, true),
                   { num_epochs = 2, train_fraction = 1, nudge_zero_biases = false, quiet = true,
                     log = function(r) first = first or r end })
    assert.are.equal(0, net2.raw_biases:get(2))
    assert.are.equal(0, first.grads.raw_biases:get(2))
  end)

  it("parameters move by Adam's first step (lr per element) and clipping keeps the direction", function()
    local net, u, n, L, B = small_net()
    local s0 = net.slope:totable()
    local first
    ci.train_model(net, u, small_targets(B, n, L, true),
                   { num_epochs = 1, learning_rate = 0.01, train_fraction = 1, quiet = true,
                     log = function(r) first = r end })
    for g = 1, 3 do
      local grad = first.grads.slope:get(g)
      local moved = net.slope:get(g) - s0[g]
      if math.abs(grad) > 1e-4 then
        -- Adam's first step is lr * sign(grad) (up to eps)
        assert(close(moved, grad > 0 and -0.01 or 0.01, 1e-3, 1e-7), "slope " .. g)
      end
    end
  end)

  it("the penalty is reported but does not pull, unless param_reg_gradient", function()
    local grads = {}
    for k, pull in ipairs { false, true } do
      local net, u, n, L, B = small_net()
      local rows = {}
      ci.train_model(net, u, small_targets(B, n, L, true),
                     { num_epochs = 2, learning_rate = 0.05, param_reg_lambda = 0.3, train_fraction = 1,
                       param_reg_gradient = pull, quiet = true,
                       log = function(r) rows[#rows + 1] = r end })
      grads[k] = rows
    end
    -- epoch 1: p = p0, the penalty's subgradient is 0 either way
    for g = 1, 3 do
      assert(close(grads[2][1].grads.slope:get(g), grads[1][1].grads.slope:get(g), 1e-6, 1e-9))
    end
    -- epoch 2: each moved slope's gradient differs by lambda * sign(p - p0) / #groups
    assert.is_true(grads[1][2].param_reg_loss > 0)
    assert(close(grads[1][2].param_reg_loss, grads[2][2].param_reg_loss, 1e-6, 1e-9))
    local diffs = 0
    for g = 1, 3 do
      local d = grads[2][2].grads.slope:get(g) - grads[1][2].grads.slope:get(g)
      if math.abs(grads[1][1].grads.slope:get(g)) > 1e-4 then
        assert(close(math.abs(d), 0.3 / 3, 1e-3, 1e-6), "slope " .. g .. " diff " .. d)
        diffs = diffs + 1
      end
    end
    assert.is_true(diffs > 0)
  end)

  it("non-finite losses skip the step with a warning", function()
    local net, u, n, L, B = small_net()
    local calls = 0
    local s0 = net.slope:totable()
    local _, h = ci.train_model(net, u, small_targets(B, n, L, true), {
      num_epochs = 3, train_fraction = 1, quiet = true,
      activation_loss_fn = function(p, t)
        calls = calls + 1
        local d = p - t
        local l = (d * d):mean()
        if calls == 1 then return l * (0 / 0) end
        return l
      end })
    assert.are.equal(2, #h.loss)
    for _, v in ipairs(h.loss) do assert.is_true(v == v) end
    assert.are_not.same(s0, net.slope:totable())
  end)

  it("logs to a CSV file", function()
    local net, u, n, L, B = small_net()
    local path = os.tmpname()
    local _, h = ci.train_model(net, u, small_targets(B, n, L, true),
                                { num_epochs = 3, train_fraction = 1, quiet = true, log = path })
    local f = ci.read_csv(path)
    os.remove(path)
    assert.are.equal(3, f:nrow())
    local loss = f:col("loss")
    for e = 1, 3 do assert(close(loss[e], h.loss[e], 1e-6, 1e-9)) end
    assert.are.same({ 1, 2, 3 }, f:col("epoch"))
  end)

  it("without a layer column the time average is fitted", function()
    local net, u, n, L, B = small_net()
    local _, h = ci.train_model(net, u, small_targets(B, n, L, false),
                                { num_epochs = 8, learning_rate = 0.05, train_fraction = 1, quiet = true })
    assert.are.equal(8, #h.mse_loss)
    assert.is_true(h.mse_loss[8] < h.mse_loss[1])
  end)
end)

describe("train_model interrupted by Ctrl-C", function()
  it("returns the parameters as they are and the history until then, with a warning", function()
    local net, u, n, L, B = small_net()
    local tf = small_targets(B, n, L, true)
    local text, old = {}, io.stderr
    io.stderr = { write = function(self, ...) for _, s in ipairs { ... } do text[#text + 1] = s end end,
                  flush = function() end }
    local ok, res = pcall(function()
      return { ci.train_model(net, u, tf, { num_epochs = 10, learning_rate = 0.05, train_fraction = 1,
        log = function(r) if r.epoch == 3 then error("interrupted!") end end }) }
    end)
    io.stderr = old
    assert(ok, res)
    assert.are.equal(net, res[1])
    assert.are.equal(3, #res[2].loss)
    assert.are.equal(3, #res[2].val_loss)
    assert.matches("ci.train_model: interrupted after 3 epochs", table.concat(text), 1, true)
    assert.is_false(net.slope:requires_grad())
    -- the same as three epochs run to the end
    local ref = small_net()
    local _, h = ci.train_model(ref, u, tf, { num_epochs = 3, learning_rate = 0.05, train_fraction = 1, quiet = true })
    assert.are.same(h.loss, res[2].loss)
    for _, name in ipairs { "slope", "raw_biases", "tau_param" } do
      assert.are.same(ref[name]:totable(), net[name]:totable())
    end
  end)

  it("other errors still raise and leave the gradient flags as they were", function()
    local net, u, n, L, B = small_net()
    local ok, err = pcall(ci.train_model, net, u, small_targets(B, n, L, true),
      { num_epochs = 4, train_fraction = 1, quiet = true, log = function() error("boom") end })
    assert.is_false(ok)
    assert.matches("boom", err)
    assert.is_false(net.slope:requires_grad())
  end)
end)

describe("train_model errors", function()
  local function err_of(f)
    local ok, e = pcall(f)
    assert.is_false(ok)
    return tostring(e)
  end

  it("targets missing a column, out of range, or not a frame", function()
    local net, u, n, L, B = small_net()
    local e = err_of(function()
      ci.train_model(net, u, ci.frame.from_rows({ "batch", "neuron", "value" }, { { 1, 2, 0.5 } }))
    end)
    assert.matches("ci.train_model: targets is missing the column 'neuron_idx'", e, 1, true)
    e = err_of(function()
      ci.train_model(net, u, ci.frame.from_rows({ "batch", "neuron_idx", "layer", "value" },
                                                { { 1, n + 1, 1, 0.5 } }))
    end)
    assert.matches("ci.train_model: targets row 1: neuron_idx = 13 is out of range 1..12", e, 1, true)
    e = err_of(function()
      ci.train_model(net, u, ci.frame.from_rows({ "batch", "neuron_idx", "layer", "value" },
                                                { { 1, 2, 1, 0.5 }, { 1, 2, L + 1, 0.5 } }))
    end)
    assert.matches("ci.train_model: targets row 2: layer = 5 is out of range 1..4", e, 1, true)
    e = err_of(function()
      ci.train_model(net, u, ci.frame.from_rows({ "batch", "neuron_idx", "value" }, { { 0, 2, 0.5 } }))
    end)
    assert.matches("ci.train_model: targets row 1: batch = 0 is out of range 1..3", e, 1, true)
    e = err_of(function() ci.train_model(net, u, { batch = { 1 } }) end)
    assert.matches("ci.train_model: targets must be a ci.frame", e, 1, true)
    assert.is_false(net.slope:requires_grad())
  end)

  it("inputs of the wrong shape", function()
    local net, _, n, L, B = small_net()
    local e = err_of(function() ci.train_model(net, ci.zeros(B, 4, L), small_targets(B, n, L, true)) end)
    assert.matches("ci.train_model: inputs must have shape (batch, 3, 4)", e, 1, true)
    assert.matches("got 3x4x4", e, 1, true)
    e = err_of(function() ci.train_model(net, ci.zeros(3, L), small_targets(B, n, L, true)) end)
    assert.matches("ci.train_model: inputs must have shape", e, 1, true)
  end)

  it("bad options and networks", function()
    local net, u, n, L, B = small_net()
    local tf = small_targets(B, n, L, true)
    assert.matches("ci.train_model: opts.activation_loss_fn must be",
                   err_of(function() ci.train_model(net, u, tf, { activation_loss_fn = "huber" }) end), 1, true)
    assert.matches("ci.train_model: opts.train_fraction must be in (0, 1]",
                   err_of(function() ci.train_model(net, u, tf, { train_fraction = 0 }) end), 1, true)
    assert.matches("ci.train_model: opts.train_indices[2] = 9 is out of range 1..3",
                   err_of(function() ci.train_model(net, u, tf, { train_indices = { 1, 9 } }) end), 1, true)
    assert.matches("ci.train_model: nothing to train",
                   err_of(function()
                     ci.train_model(net, u, tf, { train_slopes = false, train_biases = false,
                                                  train_tau = false })
                   end), 1, true)
    local W = ci.sparse({ 2 }, { 1 }, { 0.5 }, 3, 3)
    local plain = ci.MultilayeredNetwork(W, { 1 }, { num_layers = 2 })
    assert.matches("ci.train_model: net has no trainable parameters",
                   err_of(function() ci.train_model(plain, ci.zeros(1, 1, 2), tf) end), 1, true)
  end)
end)
