-- targets_spec.lua: ci.TargetActivation: golden get_batch_targets cases of the
-- reference (translated to 1-based), dict and frame forms, inferred batch sizes,
-- later rows overriding earlier ones, and errors.
local ci = require "cinterp"
local G = require "golden"

-- 0-based {[layer] = {[neuron] = v}} -> 1-based
local function shift_dict(d)
  local out = {}
  for l, ns in pairs(d) do
    out[l + 1] = {}
    for i, v in pairs(ns) do out[l + 1][i + 1] = v end
  end
  return out
end

local function shift_frame(df)
  local rows = {}
  for r, row in ipairs(df.rows) do
    rows[r] = {}
    for j, v in ipairs(row) do rows[r][j] = df.columns[j] == "value" and v or v + 1 end
  end
  return ci.frame.from_rows(df.columns, rows)
end

local function same_dict(a, b)
  for l, ns in pairs(a) do
    if type(b[l]) ~= "table" then return false, "layer " .. l .. " missing" end
    for i, v in pairs(ns) do
      if b[l][i] == nil or math.abs(b[l][i] - v) > 1e-7 then
        return false, ("layer %d neuron %d: %s vs %s"):format(l, i, tostring(v), tostring(b[l][i]))
      end
    end
    for i in pairs(b[l]) do if ns[i] == nil then return false, "extra neuron " .. i end end
  end
  for l in pairs(b) do if a[l] == nil then return false, "extra layer " .. l end end
  return true
end

describe("TargetActivation golden cases", function()
  local cases = G.cases("TargetActivation.get_batch_targets")
  if #cases == 0 then pending(G.missing_message) end
  for _, entry in ipairs(cases) do
    it(entry.name, function()
      local c = G.load(entry)
      local t
      if c.targets.kind == "dict" then
        t = ci.TargetActivation { targets = shift_dict(c.targets.dict), batch_size = c.targets.batch_size }
      else
        t = ci.TargetActivation { targets = shift_frame(c.targets.df), batch_size = c.targets.batch_size }
      end
      assert.are.equal(c.expected.batch_size, t.batch_size)
      for b = 1, t.batch_size do
        local ok, msg = same_dict(t:get_batch_targets(b), shift_dict(c.expected.batches[b]))
        assert(ok, entry.name .. " batch " .. b .. ": " .. tostring(msg))
      end
    end)
  end
end)

describe("TargetActivation", function()
  it("repeats a dict for every batch and exposes targets_df", function()
    local t = ci.TargetActivation { targets = { [1] = { [2] = 0.5, [3] = 0.8 }, [2] = { [1] = 0.3 } },
                                    batch_size = 3 }
    assert.are.equal(3, t.batch_size)
    assert.is_true(ci.is_frame(t.targets_df))
    assert.are.same({ "batch", "layer", "neuron", "value" }, t.targets_df:columns())
    assert.are.equal(9, t.targets_df:nrow())
    for b = 1, 3 do
      assert.are.same({ [1] = { [2] = 0.5, [3] = 0.8 }, [2] = { [1] = 0.3 } }, t:get_batch_targets(b))
    end
  end)

  it("defaults batch_size to 1 for a dict and accepts the positional form", function()
    local t = ci.TargetActivation({ [4] = { [7] = 1 } })
    assert.are.equal(1, t.batch_size)
    assert.are.same({ [4] = { [7] = 1 } }, t:get_batch_targets(1))
    local t2 = ci.TargetActivation({ [4] = { [7] = 1 } }, 2)
    assert.are.equal(2, t2.batch_size)
  end)

  it("infers batch_size from the batch column; batches without rows are empty", function()
    local f = ci.frame.from_rows({ "batch", "layer", "neuron", "value" },
                                 { { 3, 1, 2, 0.5 }, { 1, 2, 5, 0.25 }, { 3, 1, 2, 0.75 } })
    local t = ci.TargetActivation { targets = f }
    assert.are.equal(3, t.batch_size)
    assert.are.same({ [2] = { [5] = 0.25 } }, t:get_batch_targets(1))
    assert.are.same({}, t:get_batch_targets(2))
    assert.are.same({ [1] = { [2] = 0.75 } }, t:get_batch_targets(3)) -- the later row wins
  end)

  it("repeats a frame without batch column for batch_size batches", function()
    local f = ci.frame.from_rows({ "layer", "neuron", "value" }, { { 1, 2, 0.5 }, { 2, 3, 0.1 } })
    local t = ci.TargetActivation { targets = f, batch_size = 2 }
    assert.are.equal(2, t.batch_size)
    assert.are.equal(4, t.targets_df:nrow())
    assert.are.same({ 1, 1, 2, 2 }, t.targets_df.batch)
    for b = 1, 2 do assert.are.same({ [1] = { [2] = 0.5 }, [2] = { [3] = 0.1 } }, t:get_batch_targets(b)) end
  end)

  it("names a missing required column", function()
    local f = ci.frame.from_rows({ "batch", "layer", "value" }, { { 1, 1, 0.5 } })
    assert.has_error(function() ci.TargetActivation { targets = f } end)
    local ok, err = pcall(ci.TargetActivation, { targets = f })
    assert.is_false(ok)
    assert.matches("ci.TargetActivation", err, 1, true)
    assert.matches("'neuron'", err, 1, true)
  end)

  it("rejects 0-based or non-integer indices and bad batches", function()
    local ok, err = pcall(ci.TargetActivation, { targets = { [0] = { [1] = 0.5 } } })
    assert.is_false(ok)
    assert.matches("layer", err)
    ok, err = pcall(ci.TargetActivation, { targets = { [1] = { [1.5] = 0.5 } } })
    assert.is_false(ok)
    assert.matches("neuron", err)
    local t = ci.TargetActivation { targets = { [1] = { [1] = 0.5 } }, batch_size = 2 }
    ok, err = pcall(t.get_batch_targets, t, 3)
    assert.is_false(ok)
    assert.matches("out of range 1..2", err, 1, true)
    ok, err = pcall(ci.TargetActivation, { targets = { [1] = { [1] = 0.5 } }, batch_size = 0 })
    assert.is_false(ok)
    assert.matches("batch_size", err)
  end)

  it("refuses a misspelled key of the table form instead of reading it as a layer", function()
    local ok, err = pcall(ci.TargetActivation, { target = { [2] = { [3] = 0.5 } } })
    assert.is_false(ok)
    assert.matches("ci.TargetActivation: unknown option 'target' (did you mean 'targets'?)", err, 1, true)
    ok, err = pcall(ci.TargetActivation, { targets = { [2] = { [3] = 0.5 } }, batchsize = 2 })
    assert.is_false(ok)
    assert.matches("unknown option 'batchsize' (did you mean 'batch_size'?)", err, 1, true)
    ok, err = pcall(ci.TargetActivation, { batch_size = 2 })
    assert.is_false(ok)
    assert.matches("the table form needs targets", err, 1, true)
    ok, err = pcall(ci.TargetActivation, { targets = { [2] = { [3] = 0.5 } }, batch_size = 2 }, 3)
    assert.is_false(ok)
    assert.matches("give batch_size either", err, 1, true)
    -- a plain targets table (integer keys only) is still the targets
    assert.are.equal(0.5, ci.TargetActivation({ [2] = { [3] = 0.5 } }, 2):get_batch_targets(2)[2][3])
  end)
end)
