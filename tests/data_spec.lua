-- data_spec.lua: the seed's data helpers (lua/cinterp/data.lua): every golden
-- case of add_sign, input_from_df, get_neuron_activation, get_input_activation,
-- activity_by_column and guess_optimal_stimulus, plus behaviour and error tests.
--
-- Translations from the 0-based goldens to the 1-based API (API.md section 1):
--   * neuron indices (edges, sensory_indices, neuron_indices, selected_indices,
--     target neurons) +1; idx_to_group / idx_to_sign / idx_to_column arrays are
--     positional (element k+1 = neuron k) and are passed unchanged;
--   * timepoints, target layers and target batches +1;
--   * time columns time_k -> time_{k+1}; default batch names batch_k ->
--     batch_{k+1}; activity_by_column's time_point time_k -> time_{k+1} (its
--     time_step is unchanged: time_step k is activation column k, 0 = input);
--   * group values that are neuron indices (no idx_to_group) +1;
--   * get_input_activation: the reference sorts sensory_indices and pairs the
--     rows of model_in with them in ascending order (whatever the model's
--     order); cinterp pairs row s with sensory_indices[s] by default and
--     reproduces the reference with the option sorted_sensory = true, which
--     these cases pass (their sensory_indices are unsorted).
local ci = require "cinterp"
local G = require "golden"
local H = require "datahelp"

local golden = G.describe_cases

golden("add_sign", function(case)
  local A = H.inprop(ci, case.inprop)
  local S = ci.add_sign(A, case.idx_to_sign)
  assert.same(case.expected.shape, S:size())
  local r, c, v = S:triplets()
  assert.equal(#case.expected.edges, #r)
  for k, e in ipairs(case.expected.edges) do
    assert.equal(e[1] + 1, r[k])
    assert.equal(e[2] + 1, c[k])
    assert(H.close(v[k], e[3]), ("edge %d: %.9g vs %.9g"):format(k, v[k], e[3]))
  end
end)

golden("input_from_df", function(case)
  local df = H.frame(ci, case.df, nil, "glomerulus")
  local tp = case.timepoints
  if type(tp) == "number" then tp = tp + 1 else tp = H.plus1(tp) end
  local u = ci.input_from_df(df, H.plus1(case.sensory_indices), case.idx_to_group,
                             case.args.num_layers, tp)
  local ok, msg = G.compare(u, case.expected.input, 1e-4, 1e-6)
  assert(ok, msg)
end)

-- group values are neuron indices when idx_to_group is absent
local function group_fix(case)
  return function(c, v)
    if c == "group" and case.idx_to_group == nil and type(v) == "number" then return v + 1 end
    if c == "batch_name" and case.batch_names == nil and type(v) == "string" then
      local k = v:match("^batch_(%d+)$")
      if k then return "batch_" .. (tonumber(k) + 1) end
    end
    return v
  end
end

golden("get_neuron_activation", function(case)
  local f = ci.get_neuron_activation(ci.tensor(case.activations), H.plus1(case.neuron_indices),
                                     { batch_names = case.batch_names, idx_to_group = case.idx_to_group })
  local ok, msg = H.compare_frame(f, case.expected.df, { rename = H.time_plus1, fix = group_fix(case) })
  assert(ok, msg)
end)

golden("get_input_activation", function(case)
  local f = ci.get_input_activation(ci.tensor(case.model_in), H.plus1(case.sensory_indices),
                                    case.idx_to_group, {
                                      selected_indices = H.plus1(case.selected_indices),
                                      activation_threshold = case.args and case.args.activation_threshold,
                                      batch_names = case.batch_names,
                                      sorted_sensory = true })
  local ok, msg = H.compare_frame(f, case.expected.df, { rename = H.time_plus1, fix = group_fix(case) })
  assert(ok, msg)
end)

golden("activity_by_column", function(case)
  local opts = {}
  if case.model_input then
    opts.model_input = ci.tensor(case.model_input)
    opts.sensory_indices = H.plus1(case.sensory_indices)
  end
  local f = ci.activity_by_column(ci.tensor(case.activity), case.idx_to_group, case.idx_to_column,
                                  case.selected_group, opts)
  if case.expected.error then
    -- a defect of the reference (KeyError): check the sensible result instead,
    -- computed here by hand from the definition
    local sens_set = {}
    for s, i in ipairs(case.sensory_indices) do sens_set[i + 1] = s end
    local want = {}
    for _, g in ipairs(case.selected_group) do
      local bycol, cmax = {}, -math.huge
      for i, grp in ipairs(case.idx_to_group) do
        if grp == g and sens_set[i] then
          local c = case.idx_to_column[i]
          bycol[c] = bycol[c] or {}
          table.insert(bycol[c], case.model_input[sens_set[i]][1])
          cmax = math.max(cmax, c)
        end
      end
      for c, vals in pairs(bycol) do
        local s = 0
        for _, v in ipairs(vals) do s = s + v end
        want[#want + 1] = { c / cmax, g, s / #vals }
      end
    end
    local got = {}
    for r = 1, f:nrow() do
      local row = f:row(r)
      if row.time_step == 0 then
        assert.equal("time_0", row.time_point)
        got[#got + 1] = { row.normalised_column, row.cell_group, row.activation }
      end
    end
    assert.equal(#want, #got)
    table.sort(want, function(a, b)
      if a[2] ~= b[2] then return a[2] < b[2] end
      return a[1] < b[1]
    end)
    for k = 1, #want do
      assert(H.close(got[k][1], want[k][1]) and got[k][2] == want[k][2] and H.close(got[k][3], want[k][3]))
    end
    -- the time_step 0 rows come first (sorted by time_step)
    assert.equal(0, f:row(1).time_step)
    return
  end
  local ok, msg = H.compare_frame(f, case.expected.df, {
    fix = function(c, v) if c == "time_point" then return H.time_plus1(v) end return v end })
  assert(ok, msg)
end)

-- The reference's TargetActivation semantics, translated to 1-based batches,
-- layers and neurons (a later row for the same (layer, neuron) wins).
local function targets_of(t)
  local batches = {}
  local B
  if t.kind == "dict" then
    B = t.batch_size or 1
    for b = 1, B do
      batches[b] = {}
      for l, neurons in pairs(t.dict) do
        batches[b][l + 1] = {}
        for i, v in pairs(neurons) do batches[b][l + 1][i + 1] = v end
      end
    end
  else
    local cols = {}
    for k, c in ipairs(t.df.columns) do cols[c] = k end
    if cols.batch then
      B = t.batch_size
      if not B then
        B = 0
        for _, r in ipairs(t.df.rows) do B = math.max(B, r[cols.batch] + 1) end
      end
    else
      B = t.batch_size or 1
    end
    for b = 1, B do batches[b] = {} end
    for _, r in ipairs(t.df.rows) do
      local list = {}
      if cols.batch then list = { r[cols.batch] + 1 } else for b = 1, B do list[b] = b end end
      for _, b in ipairs(list) do
        if batches[b] then
          local l = r[cols.layer] + 1
          batches[b][l] = batches[b][l] or {}
          batches[b][l][r[cols.neuron] + 1] = r[cols.value]
        end
      end
    end
  end
  return { batch_size = B, get_batch_targets = function(_, b) return batches[b] end }
end

golden("guess_optimal_stimulus", function(case)
  local A = H.inprop(ci, case.inprop)
  local s = ci.guess_optimal_stimulus(A, H.plus1(case.sensory_indices), case.idx_to_sign,
                                      targets_of(case.targets), { longest_plen = case.args.longest_plen })
  local e = case.expected.stimulus
  assert.same({ #e, #e[1], #e[1][1] }, s:size())
  local ok, msg = G.compare(s, e, 1e-4, 1e-6)
  assert(ok, msg)
end)

describe("data helpers: behaviour", function()
  it("add_sign negates the rows of inhibitory neurons and transposes", function()
    local A = ci.sparse({ 1, 2, 3 }, { 2, 3, 1 }, { 0.5, 0.25, 1 }, 3, 3)
    local S = ci.add_sign(A, { [2] = -1, [1] = 1, [3] = 1 })
    assert.equal(0.5, S:get(2, 1))
    assert.equal(-0.25, S:get(3, 2))
    assert.equal(1, S:get(1, 3))
    assert.has_error(function() ci.add_sign(A, { 1, 1, 1, -1 }) end,
      "add_sign: idx_to_sign has key 4, expected neuron indices 1..3")
    assert.has_error(function() ci.add_sign(ci.zeros(3, 3), { 1, 1, 1 }) end)
  end)

  it("input_from_df maps group rows onto sensory neurons, missing groups give 0", function()
    local df = ci.frame({ glom = { "DA1", "VA1d" }, odour1 = { 0.5, 0.25 }, odour2 = { -1, 2 } },
                        { "glom", "odour1", "odour2" })
    local u = ci.input_from_df(df, { 4, 2, 3 }, { "x", "DA1", "VA1d", "DA1" }, 3, { 1, 3 })
    assert.same({ 2, 3, 3 }, u:size())
    assert.same({ { { 0.5, 0, 0.5 }, { 0.5, 0, 0.5 }, { 0.25, 0, 0.25 } },
                  { { -1, 0, -1 }, { -1, 0, -1 }, { 2, 0, 2 } } }, u:totable())
    local d = ci.input_from_df(df, { 1, 2 }, { "DA1", "zzz" }, 2)     -- default timepoint 1
    assert.same({ { { 0.5, 0 }, { 0, 0 } }, { { -1, 0 }, { 0, 0 } } }, d:totable())
    assert.has_error(function() ci.input_from_df(df, { 1 }, { "DA1" }, 2, 3) end,
      "input_from_df: timepoints[1] = 3 is out of range 1..2")
    assert.has_error(function() ci.input_from_df(df, { 5 }, { "DA1" }, 2) end,
      "input_from_df: idx_to_group has no group for neuron 5")
  end)

  it("get_neuron_activation averages per group (1-based default groups and names)", function()
    local a = ci.tensor { { { 1, 2 }, { 3, 4 }, { 5, 6 } }, { { 0, 0 }, { 1, 1 }, { 2, 2 } } }
    local f = ci.get_neuron_activation(a, { 3, 1 })
    assert.same({ "batch_name", "group", "time_1", "time_2" }, f:columns())
    assert.same({ "batch_1", "batch_1", "batch_2", "batch_2" }, f.batch_name)
    assert.same({ 1, 3, 1, 3 }, f.group)
    assert.same({ 1, 5, 0, 2 }, f.time_1)
    local g = ci.get_neuron_activation(a:select(1, 1), { 1, 2, 3 }, { idx_to_group = { "a", "b", "a" } })
    assert.same({ "a", "b" }, g.group)
    assert.same({ 3, 3 }, g.time_1)
    assert.same({ 4, 4 }, g.time_2)
    assert.has_error(function() ci.get_neuron_activation(a, { 4 }) end,
      "get_neuron_activation: neuron_indices[1] = 4 is out of range 1..3")
    assert.has_error(function() ci.get_neuron_activation(ci.zeros(2), { 1 }) end,
      "get_neuron_activation: activations must be 2-d or 3-d, got a tensor of shape (2)")
    assert.has_error(function() ci.get_neuron_activation(a, { 1 }, { batch_names = { "x" } }) end,
      "get_neuron_activation: batch_names has 1 names, expected 2 (the batch size)")
  end)

  it("get_input_activation: threshold on |x|, selection by global index", function()
    local x = ci.tensor { { 0.1, -0.9 }, { 0.2, 0.2 }, { 0.4, 0 } }
    local f = ci.get_input_activation(x, { 7, 3, 9 }, { [7] = "A", [3] = "B", [9] = "A" },
                                      { activation_threshold = 0.3 })
    assert.same({ "A" }, f.group)
    assert(H.close(f.time_1[1], 0.25) and H.close(f.time_2[1], -0.45))
    local s = ci.get_input_activation(x, { 7, 3, 9 }, { [7] = "A", [3] = "B", [9] = "A" },
                                      { selected_indices = { 3 } })
    assert.same({ "B" }, s.group)
    assert.has_error(function()
      ci.get_input_activation(x, { 7, 3, 9 }, { [7] = "A", [3] = "B", [9] = "A" }, { selected_indices = { 4 } })
    end, "get_input_activation: selected_indices[1] = 4 is not one of sensory_indices")
    assert.has_error(function() ci.get_input_activation(x, { 7, 3 }, {}) end,
      "get_input_activation: model_in has 3 sensory rows but sensory_indices has 2 entries")
  end)

  it("activity_by_column normalises columns within each group", function()
    local act = ci.tensor { { 1, 2 }, { 3, 4 }, { 5, 6 }, { 7, 8 } }
    local f = ci.activity_by_column(act, { "E", "E", "P", "E" }, { 2, 4, 1, 4 }, { "E" })
    assert.same({ 0.5, 1, 0.5, 1 }, f.normalised_column)
    assert.same({ 1, 5, 2, 6 }, f.activation)
    assert.same({ "time_1", "time_1", "time_2", "time_2" }, f.time_point)
    assert.same({ 1, 1, 2, 2 }, f.time_step)
    assert.has_error(function()
      ci.activity_by_column(act, { "E", "E", "P", "E" }, { 2, 4, 1, 4 }, { "E" }, { model_input = act })
    end, "activity_by_column: model_input and sensory_indices must be given together")
  end)

  it("guess_optimal_stimulus: signed paths, the longest first (hand-computed)", function()
    -- 1 -> 3 (0.5), 2 -| 3 (0.5, neuron 2 inhibitory), 3 -> 4 (0.8)
    local A = ci.sparse({ 1, 2, 3 }, { 3, 3, 4 }, { 0.5, 0.5, 0.8 }, 4, 4)
    local s = ci.guess_optimal_stimulus(A, { 1, 2 }, { 1, -1, 1, 1 },
                                        { [2] = { [4] = 1.0 }, [1] = { [3] = 2.0 } }, { longest_plen = 3 })
    -- layer 2, neuron 4: 2-step paths -> column 1; layer 1, neuron 3: direct -> column 1 too
    -- column 1: 1: 0.5*0.8*1 + 0.5*2 = 1.4; 2: -(0.5*0.8) - 0.5*2 = -1.4; column 2: nothing direct to 4
    assert.same({ 1, 2, 2 }, s:size())
    assert(H.close(s:get(1, 1, 1), 1.4) and H.close(s:get(1, 2, 1), -1.4))
    assert(H.close(s:get(1, 1, 2), 0) and H.close(s:get(1, 2, 2), 0))
    if ci.TargetActivation then        -- the recipes' TargetActivation works as targets
      local t = ci.TargetActivation { targets = { [2] = { [4] = 1.0 }, [1] = { [3] = 2.0 } }, batch_size = 2 }
      local s2 = ci.guess_optimal_stimulus(A, { 1, 2 }, { 1, -1, 1, 1 }, t, { longest_plen = 3 })
      assert.same({ 2, 2, 2 }, s2:size())
      assert(H.close(s2:get(2, 1, 1), 1.4) and H.close(s2:get(2, 2, 1), -1.4))
    end
    assert.has_error(function()
      ci.guess_optimal_stimulus(A, { 1, 2 }, { 1, -1, 1, 1 }, { [1] = { [5] = 1 } })
    end, "guess_optimal_stimulus: target neuron 5 (batch 1, layer 1) is out of range 1..4")
    assert.has_error(function()
      ci.guess_optimal_stimulus(A, { 0, 2 }, { 1, -1, 1, 1 }, { [1] = { [3] = 1 } })
    end, "guess_optimal_stimulus: sensory_indices[1] = 0 is out of range 1..4")
  end)
end)
