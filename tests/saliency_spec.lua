-- saliency_spec.lua: ci.saliency and ci.get_gradients: every golden case of the
-- reference (translated to 1-based), the cases where the reference raises
-- (checked against activations x vanilla gradient), finite differences, errors.
local ci = require "cinterp"
local G = require "golden"

local function grad_close(actual, expected, name)
  local scale = G.max_abs(expected)
  local ok, msg = G.compare(actual, expected, 1e-3, 1e-6 * math.max(scale, 1e-30) + 1e-9)
  assert(ok, name .. ": " .. tostring(msg))
end

-- {[layer0] = {neurons0}} -> 1-based (neurons shifted unless they are group names)
local function shift_layers(t)
  local out = {}
  for l, list in pairs(t) do
    out[l + 1] = {}
    for k, v in ipairs(list) do out[l + 1][k] = type(v) == "number" and v + 1 or v end
  end
  return out
end

describe("saliency golden cases", function()
  local cases = G.cases("saliency")
  if #cases == 0 then pending(G.missing_message) end
  for _, entry in ipairs(cases) do
    it(entry.name, function()
      local c = G.load(entry)
      local net = G.model(ci, c)
      local sal = ci.saliency(net, ci.tensor(c.input), shift_layers(c.neurons_of_interest),
                              { method = c.args.method, normalize = c.args.normalize })
      assert.are.equal(c.args.input_dims, sal:dim())
      grad_close(sal, c.expected.saliency, entry.name)
    end)
  end
end)

-- The reference's frame translated: 0-based neuron groups, time_<l>, batch_<b> shifted.
local function expected_frame(c)
  local cols = {}
  for j, name in ipairs(c.expected.df.columns) do
    local l = name:match("^time_(%d+)$")
    cols[j] = l and ("time_" .. (tonumber(l) + 1)) or name
  end
  local rows = {}
  for r, row in ipairs(c.expected.df.rows) do
    local new = {}
    for j, v in ipairs(row) do new[j] = v end
    if type(new[1]) == "number" then new[1] = new[1] + 1 end
    if not c.batch_names then
      new[2] = "batch_" .. (tonumber(new[2]:match("^batch_(%d+)$")) + 1)
    end
    rows[r] = new
  end
  return cols, rows
end

local function run_get_gradients(c, method)
  local net = G.model(ci, c)
  local monitor = {}
  for k, v in ipairs(c.monitor_neurons) do monitor[k] = type(v) == "number" and v + 1 or v end
  local layers
  if c.monitor_layers then
    layers = {}
    for k, l in ipairs(c.monitor_layers) do layers[k] = l + 1 end
  end
  return ci.get_gradients(net, ci.tensor(c.input), monitor, shift_layers(c.target_neurons), {
    monitor_layers = layers, method = method or c.args.method, batch_names = c.batch_names,
    checkpoint_steps = c.args.checkpoint_steps, normalize_per_layer = c.args.normalize_per_layer,
  }), net
end

describe("get_gradients golden cases", function()
  local cases = G.cases("get_gradients")
  if #cases == 0 then pending(G.missing_message) end
  for _, entry in ipairs(cases) do
    it(entry.name, function()
      local c = G.load(entry)
      local df, net = run_get_gradients(c)
      if c.expected.error then
        -- the reference raises here; we return activations x the vanilla gradient,
        -- checked against the vanilla gradient of every single neuron
        local every = {}
        for i = 1, net.n do every[i] = i end
        local targets = shift_layers(c.target_neurons)
        local van = ci.get_gradients(net, ci.tensor(c.input), every, targets, { method = "vanilla" })
        local act = net:forward(ci.tensor(c.input))
        if act:dim() == 2 then act = act:reshape(1, act:size(1), act:size(2)) end
        local g = {}
        for r = 1, van:nrow() do g[van.group[r] .. "/" .. van.batch_name[r]] = r end
        local distinct, nd = {}, 0
        for _, v in ipairs(c.monitor_neurons) do
          if not distinct[v] then distinct[v] = true; nd = nd + 1 end
        end
        assert.are.equal(nd * act:size(1), df:nrow()) -- repeated monitor entries give one row
        for r = 1, df:nrow() do
          local b = tonumber(df.batch_name[r]:match("batch_(%d+)"))
          local nm = 0
          for i = 1, net.n do
            if (net.groups and net.idx_to_group[i] == df.group[r]) or (not net.groups and i == df.group[r]) then
              nm = nm + 1
            end
          end
          assert.is_true(nm > 0)
          for l = 1, net.num_layers do
            local col, want = "time_" .. l, 0
            for i = 1, net.n do
              if (net.groups and net.idx_to_group[i] == df.group[r]) or (not net.groups and i == df.group[r]) then
                want = want + act:get(b, i, l) * van[col][g[i .. "/" .. df.batch_name[r]]]
              end
            end
            assert.is_true(math.abs(df[col][r] - want) <= 1e-7 + 1e-4 * math.abs(want),
              ("row %d %s: %g vs %g"):format(r, col, df[col][r], want))
          end
        end
        return
      end
      local cols, rows = expected_frame(c)
      assert.are.same(cols, df:columns())
      assert.are.equal(#rows, df:nrow())
      for r, row in ipairs(rows) do
        assert.are.equal(row[1], df.group[r])
        assert.are.equal(row[2], df.batch_name[r])
      end
      for j = 3, #cols do
        local want = {}
        for r, row in ipairs(rows) do want[r] = row[j] end
        local scale = 0
        for k = 3, #cols do for _, row in ipairs(rows) do scale = math.max(scale, math.abs(row[k])) end end
        local ok, msg = G.compare(df[cols[j]], want, 1e-3, 1e-6 * scale + 1e-12)
        assert(ok, entry.name .. " " .. cols[j] .. ": " .. tostring(msg))
      end
    end)
  end
end)

-- A small random network for the checks below.
local function small_net(kind, seed)
  ci.manual_seed(seed or 7)
  local n, S, L = 12, 3, 4
  local rows, cols, vals = {}, {}, {}
  local r = ci.rand(n, n)
  for i = 1, n do
    for j = 1, n do
      local v = r:get(i, j)
      if v < 0.45 and i ~= j then
        rows[#rows + 1], cols[#cols + 1] = i, j
        vals[#vals + 1] = (v < 0.15 and -1 or 1) * (0.2 + v)
      end
    end
  end
  local W = ci.sparse(rows, cols, vals, n, n)
  local ctor = kind == "linear" and ci.LinearNetwork or ci.MultilayeredNetwork
  return ctor(W, { 1, 2, 3 }, { num_layers = L, tau = 2, tanh_steepness = 2 }), n, S, L
end

describe("saliency against finite differences", function()
  it("vanilla saliency is d(sum of chosen activations)/d input (double-checked numerically)", function()
    local net, n, S, L = small_net("linear", 3)
    ci.manual_seed(11)
    local x = ci.rand(2, S, L) * 0.5 + 0.3
    local noi = { [2] = { 5, 7 }, [4] = { 5 } }
    local sal = ci.saliency(net, x, noi)
    local function signal(u)
      local out = ci.no_grad(function() return net:forward(u) end)
      local s = 0
      for b = 1, 2 do s = s + out:get(b, 5, 2) + out:get(b, 7, 2) + out:get(b, 5, 4) end
      return s
    end
    local h = 1e-2 -- the linear network is linear in x: central differences are exact up to rounding
    for b = 1, 2 do
      for s = 1, S do
        for l = 1, L do
          local xp, xm = x:clone(), x:clone()
          xp:set(x:get(b, s, l) + h, b, s, l)
          xm:set(x:get(b, s, l) - h, b, s, l)
          local fd = (signal(xp) - signal(xm)) / (2 * h)
          assert.is_true(math.abs(fd - sal:get(b, s, l)) <= 1e-3 + 1e-3 * math.abs(fd),
            ("(%d,%d,%d): fd %g vs %g"):format(b, s, l, fd, sal:get(b, s, l)))
        end
      end
    end
    -- input_x_gradient and normalize
    local ixg = ci.saliency(net, x, noi, { method = "input_x_gradient" })
    for k = 0, ixg:numel() - 1 do
      assert.is_true(math.abs(ixg.data[k] - x.data[k] * sal.data[k]) <= 1e-6 * (1 + math.abs(ixg.data[k])))
    end
    local nrm = ci.saliency(net, x, noi, { normalize = true })
    for b = 1, 2 do
      local mx = -math.huge
      for s = 1, S do for l = 1, L do mx = math.max(mx, sal:get(b, s, l)) end end
      for s = 1, S do
        for l = 1, L do
          local want = mx > 0 and sal:get(b, s, l) / mx or sal:get(b, s, l)
          assert.is_true(math.abs(nrm:get(b, s, l) - want) <= 1e-6)
        end
      end
    end
  end)

  it("get_gradients at the last layer is 1/count on the targets themselves", function()
    local net, n, S, L = small_net("ml", 5)
    ci.manual_seed(2)
    local x = ci.rand(3, S, L)
    local df = ci.get_gradients(net, x, { 9, 4 }, { [L] = { 4, 9, 10 } }, { monitor_layers = { L } })
    assert.are.same({ "group", "batch_name", "time_" .. L }, df:columns())
    assert.are.same({ 4, 4, 4, 9, 9, 9 }, df.group)
    assert.are.same({ "batch_1", "batch_2", "batch_3", "batch_1", "batch_2", "batch_3" }, df.batch_name)
    for r = 1, 6 do assert.is_true(math.abs(df["time_" .. L][r] - 1 / 9) < 1e-7) end
  end)
end)

describe("saliency and get_gradients errors", function()
  local net, n, S, L = small_net("ml", 9)
  local x = ci.rand(2, S, L)
  local function fails(pattern, f, ...)
    local ok, err = pcall(f, ...)
    assert.is_false(ok)
    assert.matches(pattern, err, 1, true)
  end
  it("unknown method", function()
    fails("ci.saliency: option 'method' must be one of \"vanilla\" or \"input_x_gradient\", got a string (\"smoothgrad\")",
          ci.saliency, net, x, { [1] = { 2 } }, { method = "smoothgrad" })
    fails("ci.get_gradients: option 'method' must be one of", ci.get_gradients, net, x, { 1 }, { [1] = { 2 } }, { method = "x" })
  end)
  it("misspelled options, with the closest name", function()
    fails("ci.saliency: unknown option 'normalise' (did you mean 'normalize'?)", ci.saliency, net, x, { [1] = { 2 } },
          { normalise = true })
    fails("ci.get_gradients: unknown option 'monitor_layer' (did you mean 'monitor_layers'?)", ci.get_gradients, net,
          x, { 1 }, { [1] = { 2 } }, { monitor_layer = { 1 } })
    fails("ci.get_gradients: opts is a Lua array {\"odour_a\", \"odour_b\"}", ci.get_gradients, net, x, { 1 },
          { [1] = { 2 } }, { "odour_a", "odour_b" })
  end)
  it("neuron and layer out of range", function()
    fails("neuron 13 is out of range 1..12", ci.saliency, net, x, { [1] = { 13 } })
    fails("layer 5 is out of range 1..4", ci.saliency, net, x, { [5] = { 1 } })
    fails("neuron 0 is out of range 1..12", ci.get_gradients, net, x, { 0 }, { [1] = { 2 } })
    fails("target_neurons", ci.get_gradients, net, x, { 1 }, { [1] = { 99 } })
    fails("monitor_layers: layer 0", ci.get_gradients, net, x, { 1 }, { [1] = { 2 } }, { monitor_layers = { 0 } })
  end)
  it("wrong input shape", function()
    fails("ci.saliency: x must have shape (batch, 3, 4)", ci.saliency, net, ci.rand(2, 4, 4), { [1] = { 2 } })
    fails("ci.get_gradients: x must have shape", ci.get_gradients, net, ci.rand(3, 5), { 1 }, { [1] = { 2 } })
  end)
  it("unknown group name", function()
    local W = ci.sparse({ 2, 3 }, { 1, 2 }, { 1, 1 }, 3, 3)
    local gnet = ci.MultilayeredNetwork(W, { 1 }, { num_layers = 2, idx_to_group = { "a", "b", "b" } })
    fails("'zz' is not a group", ci.get_gradients, gnet, ci.rand(1, 2), { "zz" }, { [1] = { "b" } })
    local df = ci.get_gradients(gnet, ci.ones(1, 2), { "b", "a" }, { [2] = { "b" } })
    assert.are.same({ "a", "b" }, df.group)
  end)
end)
