-- paths_spec.lua: path frames (lua/cinterp/paths.lua): every golden case of
-- get_activations_for_path, activated_path_for_ngl, activations_to_df and
-- activations_to_df_batched, plus behaviour and error tests.
--
-- Translations from the 0-based goldens to the 1-based API (API.md section 1):
--   * neuron indices (inprop edges, sensory_indices) +1; idx_to_group /
--     inidx_mapping arrays are positional and passed unchanged;
--   * path `layer` keeps the seed's meaning (unchanged); activation_start too;
--   * pre / post / neuron_id values that are neuron indices (numbers, or the
--     strings activations_to_df writes when there is no mapping) +1; group
--     names unchanged;
--   * activations_to_df_batched's `batch` +1;
--   * activations_to_df: the reference sorts sensory_indices and pairs the rows
--     of model_input with them in ascending order; cinterp pairs row s with
--     sensory_indices[s] by default and reproduces the reference with the
--     option sorted_sensory = true, which these cases pass. Rows are compared
--     as a set keyed by (batch, layer, pre, post), as the golden README advises.
local ci = require "cinterp"
local G = require "golden"
local H = require "datahelp"

local golden = G.describe_cases

local function index_fix(enabled)
  return function(c, v)
    if enabled and (c == "pre" or c == "post" or c == "neuron_id") and type(v) == "number" then
      return v + 1
    end
    return v
  end
end

golden("get_activations_for_path", function(case)
  local fix = index_fix(case.idx_to_group == nil)
  local path = H.frame(ci, case.path, fix)
  local f = ci.get_activations_for_path(path, ci.tensor(case.activations), {
    model_in = case.model_in and ci.tensor(case.model_in),
    sensory_indices = H.plus1(case.sensory_indices),
    idx_to_group = case.idx_to_group,
    activation_start = case.args and case.args.activation_start,
  })
  local ok, msg = H.compare_frame(f, case.expected.df, { fix = fix })
  assert(ok, msg)
end)

golden("activated_path_for_ngl", function(case)
  local fix = index_fix(true)
  local f = ci.activated_path_for_ngl(H.frame(ci, case.path, fix))
  local ok, msg = H.compare_frame(f, case.expected.df, { fix = fix })
  assert(ok, msg)
end)

local function df_case(case, batched)
  local mapped = case.inidx_mapping ~= nil
  local fix = function(c, v)
    if not mapped and (c == "pre" or c == "post") then return tostring(tonumber(v) + 1) end
    if c == "batch" then return v + 1 end
    return v
  end
  local A = H.inprop(ci, case.inprop)
  local keys = { "layer", "pre", "post" }
  if batched then keys[4] = "batch" end
  for _, high_ram in ipairs { true, false } do
    local fn = batched and ci.activations_to_df_batched or ci.activations_to_df
    local f = fn(A, ci.tensor(case.model_input), ci.tensor(case.out), H.plus1(case.sensory_indices), {
      inidx_mapping = case.inidx_mapping,
      activation_threshold = case.args.activation_threshold,
      connectivity_threshold = case.args.connectivity_threshold,
      high_ram = high_ram,
      sorted_sensory = true,
    })
    local ok, msg = H.compare_frame(f, case.expected.df, { fix = fix, keys = keys })
    assert(ok, ("high_ram = %s: %s"):format(tostring(high_ram), tostring(msg)))
  end
end

golden("activations_to_df", function(case) df_case(case, false) end)
golden("activations_to_df_batched", function(case) df_case(case, true) end)

describe("path frames: behaviour", function()
  it("get_activations_for_path reads the input for layer 1 and columns l-1, l after", function()
    local path = ci.frame.from_rows({ "pre", "post", "weight", "layer" }, {
      { "S", "A", 0.5, 1 }, { "A", "B", 0.2, 2 }, { "A", "A", 0.1, 2 } })
    local acts = ci.tensor { { 0.9, 0.8 }, { 0.1, 0.3 }, { 0.5, 0.7 }, { 0.2, 0.4 } }
    local f = ci.get_activations_for_path(path, acts, {
      model_in = ci.tensor { { 0.6, 0 } }, sensory_indices = { 1 }, idx_to_group = { "S", "A", "A", "B" } })
    assert.same({ "pre", "post", "weight", "layer", "pre_activation", "post_activation" }, f:columns())
    assert(H.close(f.pre_activation[1], 0.6) and H.close(f.pre_activation[2], 0.3)
           and H.close(f.pre_activation[3], 0.3))               -- A at column 1: (0.1 + 0.5) / 2
    assert(H.close(f.post_activation[1], 0.3) and H.close(f.post_activation[2], 0.4)
           and H.close(f.post_activation[3], 0.5))               -- A at column 2: (0.3 + 0.7) / 2
    assert.has_error(function() ci.get_activations_for_path(path, acts, { idx_to_group = { "S", "A", "A", "B" } }) end,
      "get_activations_for_path: model_in and sensory_indices must be given when the path starts at the input (layer 1)")
    assert.has_error(function()
      ci.get_activations_for_path(path, acts, { activation_start = 1, idx_to_group = { "S", "A", "A", "B" } })
    end, "get_activations_for_path: path layer 2 (+ activation_start 1) needs activation column 3, but activations has 2 columns")
    assert.has_error(function() ci.get_activations_for_path(path:drop { "layer" }, acts) end)
  end)

  it("activated_path_for_ngl lists the first layer's pre nodes and every post node", function()
    local path = ci.frame.from_rows({ "pre", "post", "layer", "pre_activation", "post_activation" }, {
      { 1, 2, 1, 0.5, 0.25 }, { 1, 3, 1, 0.5, 0.75 }, { 2, 3, 2, 0.25, 0.1 } })
    local f = ci.activated_path_for_ngl(path)
    assert.same({ 1, 2, 3, 3 }, f.neuron_id)
    assert.same({ 1, 2, 2, 3 }, f.layer)
    assert.same({ 0.5, 0.25, 0.75, 0.1 }, f.activation)
  end)

  it("activations_to_df: groups, thresholds, both RAM modes agree (hand-computed)", function()
    -- 4 neurons, sensory 1 and 2 (group S); 3, 4 in group X. inprop pre x post.
    local A = ci.sparse({ 1, 2, 1, 3, 4 }, { 3, 3, 4, 4, 3 }, { 0.4, 0.2, 0.6, 0.5, 0.05 }, 4, 4)
    local input = ci.tensor { { 1, 0 }, { 0.5, 0 } }
    local out = ci.tensor { { 0, 0 }, { 0, 0 }, { 0.3, 0.2 }, { 0.1, 0.6 } }
    local map = { "S", "S", "X", "X" }
    for _, hr in ipairs { true, false } do
      local f = ci.activations_to_df(A, input, out, { 1, 2 }, { inidx_mapping = map, high_ram = hr,
                                                               activation_threshold = 0.15 })
      -- layer 1: S -> X: (0.4 + 0.2 + 0.6) / 2 = 0.6; pre S = mean(1, 0.5); post X = only 3 (0.3)
      -- layer 2: X -> X: (0.5 + 0.05) / 2 = 0.275; pre X at column 1 = 0.3; post X at column 2 = 0.4
      assert.same({ "S", "X" }, f.pre)
      assert.same({ "X", "X" }, f.post)
      assert.same({ 1, 2 }, f.layer)
      assert(H.close(f.weight[1], 0.6) and H.close(f.weight[2], 0.275))
      assert(H.close(f.pre_activation[1], 0.75) and H.close(f.pre_activation[2], 0.3))
      assert(H.close(f.post_activation[1], 0.3) and H.close(f.post_activation[2], 0.4))
      local g = ci.activations_to_df(A, input, out, { 1, 2 }, { inidx_mapping = map, high_ram = hr,
                                                               connectivity_threshold = 0.3 })
      -- without an activation threshold every group is active in every layer,
      -- S (silent but kept) included; X -> X (0.275) falls under the threshold
      assert.same({ "S", "S" }, g.pre)
      assert.same({ 1, 2 }, g.layer)
    end
    -- without a mapping, pre/post are the neuron indices as text; sensory order matters
    local f = ci.activations_to_df(A, ci.tensor { { 0.5, 0 }, { 1, 0 } }, out, { 2, 1 })
    local r = f:filter(function(row) return row.layer == 1 and row.pre == "1" end)
    assert.same({ 1, 1 }, r.pre_activation)          -- row 2 of the input is neuron 1
    local bf = ci.activations_to_df_batched(A, ci.stack { input, input }, ci.stack { out, out }, { 1, 2 },
                                            { inidx_mapping = map, activation_threshold = 0.15 })
    assert.same({ 1, 1, 2, 2 }, bf.batch)
    assert.has_error(function() ci.activations_to_df(A, input, out, { 1, 5 }) end,
      "activations_to_df: sensory_indices[2] = 5 is out of range 1..4")
    assert.has_error(function() ci.activations_to_df(A, input, ci.zeros(3, 2), { 1, 2 }) end,
      "activations_to_df: out has 3 neurons, inprop has 4")
    assert.has_error(function() ci.activations_to_df(A, input, out, { 1, 2 }, { inidx_mapping = { "S" } }) end,
      "activations_to_df: inidx_mapping has no group for neuron 2")
  end)
end)
