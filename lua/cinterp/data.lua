-- data.lua: the seed's data helpers around a model: add_sign, input_from_df,
-- get_neuron_activation, get_input_activation, activity_by_column and
-- guess_optimal_stimulus (signed effective connectivity by sparse products).
-- Indices are 1-based (neurons, sensory slots, batches, layers); time columns
-- are time_1 .. time_L; default batch names batch_1 .. batch_B. Shared helpers
-- for paths.lua are exposed as ci._data.
local ffi = require "ffi"
local util = require "cinterp.util"

local fmt, floor, huge = string.format, math.floor, math.huge
local type, tostring, pairs, ipairs = type, tostring, pairs, ipairs

local D = {}

-- ------------------------------------------------------------ helpers

local is_int = util.is_int

-- Group ordering: numbers before strings, each ascending (other types by text).
local less = util.less
D.less = less

-- Text of a group value as the reference's str(): integers without ".0".
local keystr = util.label_text
D.keystr = keystr

local function describe(x, ci)
  if ci.is_tensor and ci.is_tensor(x) then return "tensor" end
  if ci.is_sparse and ci.is_sparse(x) then return "sparse matrix" end
  if ci.is_frame and ci.is_frame(x) then return "frame" end
  return type(x)
end

-- ------------------------------------------------------------ declarations (help, docs/API.md)

local O = require "cinterp.options"
local TOPIC = "Data helpers"
local INDICES = "array|tensor"
local BATCH_NAMES = { "batch_names", "array", nil, "names of the batches (3-d input)", default_text = "batch_1 .. batch_B" }
local SORTED = { "sorted_sensory", "boolean", false,
  "pair input rows with sensory_indices in ascending order, as the reference does (it sorts them)" }

O.declare{ name = "ci.add_sign", where = "add_sign", topic = TOPIC,
  doc = [[Signs an inprop matrix (pre in rows) and turns it into network weights: each
presynaptic row i is multiplied by idx_to_sign[i] (only -1 flips, as in the reference) and the
result is transposed, so that post neurons are in rows, as ci.MultilayeredNetwork expects.]],
  args = { { "inprop", "sparse", "n x n, pre in rows" },
           { "idx_to_sign", "table", "the sign of each neuron: a Lua array or {[i] = -1, ...}" } },
  returns = { { "W", "sparse", "n x n signed weights, post in rows" } },
  example = [[local inprop = ci.sparse({1, 2}, {2, 1}, {0.5, 1}, 2, 2)  -- 1 -> 2 (0.5), 2 -> 1 (1)
local W = ci.add_sign(inprop, {1, -1})                        -- neuron 2 inhibits
print(W:get(2, 1), W:get(1, 2))  --> 0.5 -1]] }

D.INPUT_FROM_DF = O.declare{ name = "ci.input_from_df", where = "input_from_df", topic = TOPIC,
  doc = [[A model input (batch, sensory neurons, num_layers) from a response table: df's first
column holds the row labels (groups, e.g. glomeruli) and each other column is one batch (e.g.
an odour's response per glomerulus). Sensory neuron s gets the value of its group's row (0
when its group has no row) at the given timepoints; other timepoints are 0. The last argument
is the timepoints themselves or a table {timepoints = ...}.]],
  args = { { "df", "frame", "labels in the first column, one column per batch" },
           { "sensory_indices", INDICES, "the model's sensory neurons" },
           { "idx_to_group", "table", "the group of each neuron (a Lua array or {[i] = group})" },
           { "num_layers", "integer >= 1", "the model's number of layers" } },
  signature = "ci.input_from_df(df, sensory_indices, idx_to_group, num_layers, timepoints?) -> input",
  opts = { { "timepoints", "integer >= 1|array", 1, "the timestep(s) that get the input (1-based)" } },
  returns = { { "input", "tensor", "(batch, #sensory_indices, num_layers)" } },
  example = [[local df = ci.frame({glom = {"DA1", "DL5"}, odour_a = {1, 0.5}, odour_b = {0, 0.25}},
                  {"glom", "odour_a", "odour_b"})
local groups = {"DA1", "DA1", "DL5", "KC"}           -- neurons 1..3 are receptor neurons
local x = ci.input_from_df(df, {1, 2, 3}, groups, 3, {1, 2})
print(x:size(1), x:size(2), x:size(3))  --> 2 3 3
print(x:get(1, 3, 2), x:get(2, 3, 2), x:get(1, 3, 3))  --> 0.5 0.25 0]] }

D.GET_NEURON_ACTIVATION = O.declare{ name = "ci.get_neuron_activation", where = "get_neuron_activation",
  topic = TOPIC,
  doc = [[The activations of chosen neurons over time as a frame, averaged per group: for a
(n, T) tensor, columns group, time_1 .. time_T; for (B, n, T), batch_name, group, time_1 ..
time_T (sorted by batch name, then group). Without idx_to_group each neuron is its own group.]],
  args = { { "activations", "tensor", "(n, T) or (B, n, T), e.g. net:forward's output" },
           { "neuron_indices", INDICES, "the neurons (1-based)" } },
  opts = { { "idx_to_group", "table", nil, "the group of each neuron (a Lua array or {[i] = group})",
             default_text = "each neuron alone" },
           BATCH_NAMES },
  returns = "frame",
  example = [[local acts = ci.tensor{{0.25, 0.5}, {1, 1}, {0.75, 1}}    -- 3 neurons x 2 timesteps
local df = ci.get_neuron_activation(acts, {1, 3}, {idx_to_group = {"A", "B", "A"}})
print(df:nrow(), df.group[1], df.time_2[1])  --> 1 A 0.75
local b = ci.get_neuron_activation(acts:reshape(1, 3, 2), {2}, {batch_names = {"odour"}})
print(b.batch_name[1], b.group[1], b.time_1[1])  --> odour 2 1]] }

D.GET_INPUT_ACTIVATION = O.declare{ name = "ci.get_input_activation", where = "get_input_activation",
  topic = TOPIC,
  doc = [[The model input per group over time as a frame: the mean input of the sensory
neurons of each group (only those whose |input| reaches activation_threshold at some
timestep). Columns group, time_1 .. time_T, with batch_name first for a 3-d input.]],
  args = { { "model_in", "tensor", "(S, T) or (B, S, T)" },
           { "sensory_indices", INDICES, "the neuron of each input row" },
           { "idx_to_group", "table", "the group of each neuron" } },
  opts = { { "selected_indices", "table|tensor", nil, "only these sensory neurons (a list or a set {[i] = true})",
             default_text = "all" },
           { "activation_threshold", "number", 0, "the |input| a neuron must reach at some timestep" },
           BATCH_NAMES, SORTED },
  returns = "frame",
  example = [[local x = ci.tensor{{1, 0}, {0.5, 0.5}, {0, 0}}            -- 3 sensory neurons x 2 timesteps
local groups = {[4] = "DA1", [5] = "DA1", [6] = "DL5"}
local df = ci.get_input_activation(x, {4, 5, 6}, groups, {activation_threshold = 0.1})
print(df:nrow(), df.group[1], df.time_1[1])  --> 1 DA1 0.75]] }

D.ACTIVITY_BY_COLUMN = O.declare{ name = "ci.activity_by_column", where = "activity_by_column", topic = TOPIC,
  doc = [[The activity of selected groups by column (e.g. the columns of the central complex),
the data of plot_activity_by_column: one row per group, timestep and column, with columns
normalised_column (column / its largest), cell_group, time_point, activation (the mean over
the group's neurons in that column) and time_step. With model_input and sensory_indices, the
first input timestep is added as time_step 0.]],
  args = { { "activity", "tensor", "(n, T)" },
           { "idx_to_group", "table", "the group of each neuron" },
           { "idx_to_column", "table", "the column (a number) of each neuron" },
           { "selected_group", "string|number|array", "the group(s) to show" } },
  opts = { { "model_input", "tensor|table", nil, "(S, T) input, for time_step 0 (give sensory_indices too)" },
           { "sensory_indices", INDICES, nil, "the neuron of each input row" },
           SORTED },
  returns = "frame",
  example = [[local acts = ci.tensor{{1, 0}, {0.5, 1}, {0.25, 0.25}}     -- 3 neurons x 2 timesteps
local df = ci.activity_by_column(acts, {"EPG", "EPG", "PEN"}, {1, 2, 1}, "EPG")
print(df:nrow(), df.normalised_column[2], df.activation[2])  --> 4 1 0.5]] }

D.GUESS_OPTIMAL_STIMULUS = O.declare{ name = "ci.guess_optimal_stimulus", where = "guess_optimal_stimulus",
  topic = TOPIC,
  doc = [[A first guess of the input that drives target activations, from signed effective
connectivity (paths of up to longest_plen steps, no non-linearity): shape (B, S,
min(longest_plen, the largest target layer)), the longest paths first. A good start for
activation maximisation (its input_tensor). longest_plen may also be given alone as a number.]],
  args = { { "inprop", "sparse", "n x n, pre in rows, unsigned" },
           { "sensory_indices", INDICES, "the model's sensory neurons" },
           { "idx_to_sign", "table", "the sign (+1/-1) of each neuron" },
           { "target_activations", "TargetActivation|frame|table", "{[layer] = {[neuron] = value}} or per batch" } },
  opts = { { "longest_plen", "integer >= 1", 5, "the longest path length considered" } },
  returns = { { "input", "tensor", "(B, S, layers)" } },
  example = [[local inprop = ci.sparse({1, 2}, {2, 3}, {1, 1}, 3, 3)    -- the chain 1 -> 2 -> 3
local x = ci.guess_optimal_stimulus(inprop, {1}, {1, 1, 1}, {[2] = {[3] = 1}})
print(x:size(3), x:get(1, 1, 1), x:get(1, 1, 2))  --> 2 1 0]] }

return function(ci)
  local T = ci._tensor

  -- A tensor from a tensor (moved to the host when needed) or a nested table.
  local function as_tensor(x, where, name, dims)
    if ci.is_tensor(x) then
      if x.on_device ~= 0 then
        if x.cpu then x = x:cpu() else
          error(fmt("%s: %s lives on the GPU; move it to the host first", where, name), 3)
        end
      end
    elseif type(x) == "table" then
      local ok, t = pcall(ci.tensor, x)
      if not ok then error(fmt("%s: %s: %s", where, name, tostring(t)), 3) end
      x = t
    else
      error(fmt("%s: %s must be a tensor, got %s", where, name, describe(x, ci)), 3)
    end
    if dims then
      local okd = false
      for _, d in ipairs(dims) do if x.ndim == d then okd = true end end
      if not okd then
        local want = {}
        for k, d in ipairs(dims) do want[k] = d .. "-d" end
        error(fmt("%s: %s must be %s, got a tensor of shape %s", where, name,
                  table.concat(want, " or "), T.shape_string(x)), 3)
      end
    end
    return x
  end
  D.as_tensor = as_tensor

  -- A Lua array of numbers from an array or a 1-d tensor.
  local function as_list(x, where, name)
    if ci.is_tensor(x) then
      local out = {}
      for k = 0, tonumber(x.nel) - 1 do out[k + 1] = x.data[k] end
      return out
    end
    if type(x) ~= "table" then
      error(fmt("%s: %s must be a Lua array or a tensor, got %s", where, name, describe(x, ci)), 3)
    end
    return x
  end
  D.as_list = as_list

  -- Neuron indices (1-based) checked against 1..n.
  local function index_list(x, n, where, name)
    local l = as_list(x, where, name)
    local out = {}
    for k = 1, #l do
      local i = l[k]
      if not is_int(i) then
        error(fmt("%s: %s[%d] = %s is not an integer index", where, name, k, tostring(i)), 3)
      end
      if i < 1 or i > n then
        error(fmt("%s: %s[%d] = %d is out of range 1..%d", where, name, k, i, n), 3)
      end
      out[k] = i
    end
    return out
  end
  D.index_list = index_list

  -- idx_to_group as a lookup: an array of length n or a table {[i] = group};
  -- nil gives the identity (the neuron index is its own group).
  local function group_lookup(map, n, where, name)
    if map == nil then return function(i) return i end end
    if type(map) ~= "table" then
      error(fmt("%s: %s must be a Lua array or a table {[i] = group}, got %s", where, name,
                describe(map, ci)), 3)
    end
    for k, v in pairs(map) do
      if not is_int(k) or k < 1 or (n and k > n) then
        error(fmt("%s: %s has key %s, expected neuron indices 1..%s", where, name, tostring(k),
                  n and tostring(n) or "n"), 3)
      end
      if type(v) ~= "string" and type(v) ~= "number" then
        error(fmt("%s: %s[%d] is a %s, expected a string or a number", where, name, k, type(v)), 3)
      end
    end
    return function(i, lvl)
      local g = map[i]
      if g == nil then
        error(fmt("%s: %s has no group for neuron %d", where, name, i), (lvl or 1) + 3)
      end
      return g
    end
  end
  D.group_lookup = group_lookup

  local function batch_name_list(names, B, where)
    if names == nil then
      local out = {}
      for b = 1, B do out[b] = "batch_" .. b end
      return out
    end
    local l = as_list(names, where, "batch_names")
    if #l ~= B then
      error(fmt("%s: batch_names has %d names, expected %d (the batch size)", where, #l, B), 3)
    end
    return l
  end
  D.batch_name_list = batch_name_list

  local function time_names(L, first)
    local out = {}
    for t = 1, L do out[t] = "time_" .. (t - 1 + (first or 1)) end
    return out
  end
  D.time_names = time_names

  -- The reference reads the rows of a model input in ascending sensory-index
  -- order (it sorts sensory_indices), whatever the model's order; option
  -- sorted_sensory = true reproduces that pairing.
  function D.sorted_copy(l)
    local out = {}
    for k, v in ipairs(l) do out[k] = v end
    table.sort(out)
    return out
  end

  -- Frame from named columns in a given order.
  local function frame(names, cols)
    local c = {}
    for k, n in ipairs(names) do c[n] = cols[k] end
    return ci.frame(c, names)
  end
  D.frame = frame

  -- ------------------------------------------------------------ add_sign

  function ci.add_sign(inprop, idx_to_sign)
    local where = "add_sign"
    if not ci.is_sparse(inprop) then
      error(fmt("%s: inprop must be a sparse matrix (ci.sparse), got %s", where,
                describe(inprop, ci)), 2)
    end
    local n = inprop:size(1)
    if type(idx_to_sign) ~= "table" then
      error(fmt("%s: idx_to_sign must be a Lua array or a table {[i] = sign}, got %s", where,
                describe(idx_to_sign, ci)), 2)
    end
    local s = {}
    for i = 1, n do s[i] = 1 end
    for k, v in pairs(idx_to_sign) do
      if not is_int(k) or k < 1 or k > n then
        error(fmt("%s: idx_to_sign has key %s, expected neuron indices 1..%d", where,
                  tostring(k), n), 2)
      end
      if type(v) ~= "number" then
        error(fmt("%s: idx_to_sign[%d] = %s is not a number", where, k, tostring(v)), 2)
      end
      if v == -1 then s[k] = -1 end      -- as the reference: only -1 flips a row
    end
    return inprop:scale_rows(s):transpose()
  end

  -- ------------------------------------------------------------ input_from_df

  function ci.input_from_df(df, sensory_indices, idx_to_group, num_layers, timepoints)
    local where = "input_from_df"
    if not ci.is_frame(df) then
      error(fmt("%s: df must be a frame (first column: the groups, then one column per batch), got %s",
                where, describe(df, ci)), 2)
    end
    if not is_int(num_layers) or num_layers < 1 then
      error(fmt("%s: num_layers must be a positive integer, got %s", where, tostring(num_layers)), 2)
    end
    if type(timepoints) == "table" and getmetatable(timepoints) == nil then
      local named = next(timepoints) == nil         -- {} is no options, not no timepoints
      for k in pairs(timepoints) do if type(k) ~= "number" then named = true end end
      if named then timepoints = O.check(D.INPUT_FROM_DF, timepoints).timepoints end  -- the options form
    end
    if timepoints == nil then timepoints = O.default(D.INPUT_FROM_DF, "timepoints") end
    local tps = type(timepoints) == "number" and { timepoints } or as_list(timepoints, where, "timepoints")
    for k, t in ipairs(tps) do
      if not is_int(t) or t < 1 or t > num_layers then
        error(fmt("%s: timepoints[%d] = %s is out of range 1..%d", where, k, tostring(t), num_layers), 2)
      end
    end
    local sens = as_list(sensory_indices, where, "sensory_indices")
    local S = #sens
    local group = group_lookup(idx_to_group, nil, where, "idx_to_group")
    local names = df:columns()
    if #names < 1 then error(where .. ": df has no columns", 2) end
    local labels = df[names[1]]
    local B = #names - 1
    local groups = {}
    for s = 1, S do
      local i = sens[s]
      if not is_int(i) or i < 1 then
        error(fmt("%s: sensory_indices[%d] = %s is not a valid neuron index", where, s, tostring(i)), 2)
      end
      groups[s] = group(i)
    end
    local out = ci.zeros(B > 0 and B or 0, S, num_layers)
    local data = out.data
    for b = 1, B do
      local col = df[names[b + 1]]
      local val = {}
      for r = 1, #labels do
        local v = col[r]
        if type(v) ~= "number" then
          error(fmt("%s: df column '%s' row %d holds %s, expected a number", where, names[b + 1], r,
                    tostring(v)), 2)
        end
        val[labels[r]] = v                    -- a repeated label: the last row wins
      end
      for s = 1, S do
        local v = val[groups[s]] or 0
        for _, t in ipairs(tps) do
          data[((b - 1) * S + (s - 1)) * num_layers + (t - 1)] = v
        end
      end
    end
    return out
  end

  -- ------------------------------------------------------------ get_neuron_activation

  -- Means of the given neurons per group over the rows of a (n, T) slice at base.
  local function group_means(data, base, T, idx, group)
    local buckets, order, seen = {}, {}, {}
    for _, i in ipairs(idx) do
      if seen[i] then goto continue end      -- a repeated neuron counts once
      seen[i] = true
      local g = group(i, 1)
      local bk = buckets[g]
      if not bk then bk = {}; buckets[g] = bk; order[#order + 1] = g end
      bk[#bk + 1] = i
      ::continue::
    end
    table.sort(order, less)
    local means = {}
    for k, g in ipairs(order) do
      local m, members = {}, buckets[g]
      for t = 1, T do
        local acc = 0
        for _, i in ipairs(members) do acc = acc + data[base + (i - 1) * T + (t - 1)] end
        m[t] = acc / #members
      end
      means[k] = m
    end
    return order, means
  end

  function ci.get_neuron_activation(activations, neuron_indices, opts)
    local where = "get_neuron_activation"
    local acts = as_tensor(activations, where, "activations", { 2, 3 })
    opts = O.check(D.GET_NEURON_ACTIVATION, opts)
    local three = acts.ndim == 3
    local B = three and tonumber(acts.shape[0]) or 1
    local n = tonumber(acts.shape[three and 1 or 0])
    local T = tonumber(acts.shape[three and 2 or 1])
    local idx = index_list(neuron_indices, n, where, "neuron_indices")
    local group = group_lookup(opts.idx_to_group, n, where, "idx_to_group")
    local data = acts.data
    local tn = time_names(T)
    if not three then
      local groups, means = group_means(data, 0, T, idx, group)
      local cols = { groups }
      for t = 1, T do
        local c = {}
        for k = 1, #groups do c[k] = means[k][t] end
        cols[t + 1] = c
      end
      local names = { "group" }
      for t = 1, T do names[t + 1] = tn[t] end
      return frame(names, cols)
    end
    local bnames = batch_name_list(opts.batch_names, B, where)
    local rows = {}
    for b = 1, B do
      local groups, means = group_means(data, (b - 1) * n * T, T, idx, group)
      for k, g in ipairs(groups) do rows[#rows + 1] = { bnames[b], g, means[k], b } end
    end
    table.sort(rows, function(x, y)
      if x[1] ~= y[1] then return less(x[1], y[1]) end
      if x[2] ~= y[2] then return less(x[2], y[2]) end
      return x[4] < y[4]
    end)
    local names, cols = { "batch_name", "group" }, { {}, {} }
    for t = 1, T do names[t + 2] = tn[t]; cols[t + 2] = {} end
    for r, row in ipairs(rows) do
      cols[1][r], cols[2][r] = row[1], row[2]
      for t = 1, T do cols[t + 2][r] = row[3][t] end
    end
    return frame(names, cols)
  end

  -- ------------------------------------------------------------ get_input_activation

  function ci.get_input_activation(model_in, sensory_indices, idx_to_group, opts)
    local where = "get_input_activation"
    local x = as_tensor(model_in, where, "model_in", { 2, 3 })
    opts = O.check(D.GET_INPUT_ACTIVATION, opts)
    local sens = as_list(sensory_indices, where, "sensory_indices")
    if opts.sorted_sensory then sens = D.sorted_copy(sens) end
    local three = x.ndim == 3
    local B = three and tonumber(x.shape[0]) or 1
    local S = tonumber(x.shape[three and 1 or 0])
    local T = tonumber(x.shape[three and 2 or 1])
    if S ~= #sens then
      error(fmt("%s: model_in has %d sensory rows but sensory_indices has %d entries", where, S, #sens), 2)
    end
    local group = group_lookup(idx_to_group, nil, where, "idx_to_group")
    local local_of = {}
    for s, i in ipairs(sens) do
      if not is_int(i) or i < 1 then
        error(fmt("%s: sensory_indices[%d] = %s is not a valid neuron index", where, s, tostring(i)), 2)
      end
      local_of[i] = local_of[i] or s
    end
    local selected = {}
    if opts.selected_indices ~= nil then
      local sel = opts.selected_indices
      if type(sel) == "table" and sel[1] == nil and next(sel) ~= nil then   -- a set {[i] = true}
        local l = {}
        for k in pairs(sel) do l[#l + 1] = k end
        sel = l
      end
      for k, i in ipairs(as_list(sel, where, "selected_indices")) do
        local s = local_of[i]
        if not s then
          error(fmt("%s: selected_indices[%d] = %s is not one of sensory_indices", where, k, tostring(i)), 2)
        end
        selected[s] = true
      end
    else
      for s = 1, S do selected[s] = true end
    end
    local thr = opts.activation_threshold
    local data = x.data
    local tn = time_names(T)
    local function one_batch(base)
      local buckets, order = {}, {}
      for s = 1, S do
        if selected[s] then
          local active = false
          for t = 0, T - 1 do
            if math.abs(data[base + (s - 1) * T + t]) >= thr then active = true; break end
          end
          if active then
            local g = group(sens[s])
            if not buckets[g] then buckets[g] = {}; order[#order + 1] = g end
            local bk = buckets[g]
            bk[#bk + 1] = s
          end
        end
      end
      table.sort(order, less)
      local means = {}
      for k, g in ipairs(order) do
        local m = {}
        for t = 1, T do
          local acc = 0
          for _, s in ipairs(buckets[g]) do acc = acc + data[base + (s - 1) * T + (t - 1)] end
          m[t] = acc / #buckets[g]
        end
        means[k] = m
      end
      return order, means
    end
    if not three then
      local groups, means = one_batch(0)
      local names, cols = { "group" }, { groups }
      for t = 1, T do
        names[t + 1] = tn[t]
        local c = {}
        for k = 1, #groups do c[k] = means[k][t] end
        cols[t + 1] = c
      end
      return frame(names, cols)
    end
    local bnames = batch_name_list(opts.batch_names, B, where)
    local names, cols = { "batch_name", "group" }, { {}, {} }
    for t = 1, T do names[t + 2] = tn[t]; cols[t + 2] = {} end
    local r = 0
    for b = 1, B do
      local groups, means = one_batch((b - 1) * S * T)
      for k, g in ipairs(groups) do
        r = r + 1
        cols[1][r], cols[2][r] = bnames[b], g
        for t = 1, T do cols[t + 2][r] = means[k][t] end
      end
    end
    return frame(names, cols)
  end

  -- ------------------------------------------------------------ activity_by_column

  function ci.activity_by_column(activity, idx_to_group, idx_to_column, selected_group, opts)
    local where = "activity_by_column"
    local acts = as_tensor(activity, where, "activity", { 2 })
    opts = O.check(D.ACTIVITY_BY_COLUMN, opts)
    local n, T = tonumber(acts.shape[0]), tonumber(acts.shape[1])
    if (opts.model_input == nil) ~= (opts.sensory_indices == nil) then
      error(where .. ": model_input and sensory_indices must be given together", 2)
    end
    if type(idx_to_group) ~= "table" then
      error(fmt("%s: idx_to_group must be a Lua array or a table {[i] = group}, got %s", where,
                describe(idx_to_group, ci)), 2)
    end
    local column = group_lookup(idx_to_column, n, where, "idx_to_column")
    group_lookup(idx_to_group, n, where, "idx_to_group")  -- validates keys and values
    for _, v in pairs(idx_to_column) do
      if type(v) ~= "number" then
        error(fmt("%s: idx_to_column values must be numbers, got %s", where, type(v)), 2)
      end
    end
    local sel = type(selected_group) == "table" and selected_group or { selected_group }
    local members = {}
    local keys = {}
    for i in pairs(idx_to_group) do keys[#keys + 1] = i end
    table.sort(keys)
    for _, i in ipairs(keys) do
      local g = idx_to_group[i]
      members[g] = members[g] or {}
      local m = members[g]
      m[#m + 1] = i
    end
    local x, sens, local_of, S, Tin
    if opts.model_input ~= nil then
      x = as_tensor(opts.model_input, where, "model_input", { 2 })
      sens = as_list(opts.sensory_indices, where, "sensory_indices")
      if opts.sorted_sensory then sens = D.sorted_copy(sens) end
      S, Tin = tonumber(x.shape[0]), tonumber(x.shape[1])
      if S ~= #sens then
        error(fmt("%s: model_input has %d rows but sensory_indices has %d entries", where, S, #sens), 2)
      end
      local_of = {}
      for s, i in ipairs(sens) do local_of[i] = local_of[i] or s end
    end
    local rows = {}
    local data = acts.data
    for _, g in ipairs(sel) do
      local idx = members[g]
      if idx == nil then
        error(fmt("%s: selected_group %s is not a group of idx_to_group", where,
                  type(g) == "string" and ("'" .. g .. "'") or tostring(g)), 2)
      end
      if idx then
        for _, i in ipairs(idx) do
          if i > n then
            error(fmt("%s: idx_to_group names neuron %d but activity has %d rows", where, i, n), 2)
          end
        end
        local cols, means = group_means(data, 0, T, idx, column)
        local cmax = -huge
        for _, c in ipairs(cols) do if c > cmax then cmax = c end end
        for t = 1, T do
          for k, c in ipairs(cols) do
            rows[#rows + 1] = { c / cmax, g, "time_" .. t, means[k][t], t }
          end
        end
        if x then
          local buckets, order = {}, {}
          for _, i in ipairs(idx) do
            local s = local_of[i]
            if s then
              local c = column(i)
              if not buckets[c] then buckets[c] = {}; order[#order + 1] = c end
              local bk = buckets[c]
              bk[#bk + 1] = s
            end
          end
          if #order > 0 then
            table.sort(order, less)
            local imax = -huge
            for _, c in ipairs(order) do if c > imax then imax = c end end
            local xd = x.data
            for _, c in ipairs(order) do
              local acc = 0
              for _, s in ipairs(buckets[c]) do acc = acc + xd[(s - 1) * Tin] end
              rows[#rows + 1] = { c / imax, g, "time_0", acc / #buckets[c], 0 }
            end
          end
        end
      end
    end
    table.sort(rows, function(a, b)
      if a[5] ~= b[5] then return a[5] < b[5] end
      if a[2] ~= b[2] then return less(a[2], b[2]) end
      return a[1] < b[1]
    end)
    local names = { "normalised_column", "cell_group", "time_point", "activation", "time_step" }
    local cols = { {}, {}, {}, {}, {} }
    for r, row in ipairs(rows) do
      for k = 1, 5 do cols[k][r] = row[k] end
    end
    return frame(names, cols)
  end

  -- ------------------------------------------------------------ guess_optimal_stimulus

  -- Per-batch targets {[layer] = {[neuron] = value}} and the batch count, from a
  -- TargetActivation-like object, a frame (batch?, layer, neuron, value) or a
  -- plain table {[layer] = {[neuron] = value}} (one batch).
  local function target_batches(targets, where)
    if type(targets) == "table" and type(targets.get_batch_targets) == "function" then
      local B = targets.batch_size
      if not is_int(B) or B < 1 then
        error(fmt("%s: target_activations.batch_size must be a positive integer, got %s", where,
                  tostring(B)), 3)
      end
      local out = {}
      for b = 1, B do out[b] = targets:get_batch_targets(b) end
      return out
    end
    if ci.is_frame(targets) then
      for _, c in ipairs { "layer", "neuron", "value" } do
        if not targets:has_column(c) then
          error(fmt("%s: target_activations frame has no column '%s'", where, c), 3)
        end
      end
      local hasb = targets:has_column("batch")
      local B = 1
      if hasb then for _, b in ipairs(targets.batch) do if b > B then B = b end end end
      local out = {}
      for b = 1, B do out[b] = {} end
      for r = 1, targets:nrow() do
        local l, i, v = targets.layer[r], targets.neuron[r], targets.value[r]
        local bs = hasb and { targets.batch[r] } or nil
        if not bs then bs = {}; for b = 1, B do bs[b] = b end end
        for _, b in ipairs(bs) do
          if not is_int(b) or b < 1 then
            error(fmt("%s: target_activations row %d has batch %s, expected an index >= 1", where, r,
                      tostring(b)), 3)
          end
          out[b][l] = out[b][l] or {}
          out[b][l][i] = v
        end
      end
      return out
    end
    if type(targets) == "table" then return { targets } end
    error(fmt("%s: target_activations must be a TargetActivation, a frame or a table {[layer] = {[neuron] = value}}, got %s",
              where, describe(targets, ci)), 3)
  end

  function ci.guess_optimal_stimulus(inprop, sensory_indices, idx_to_sign, target_activations, opts)
    local where = "guess_optimal_stimulus"
    if type(opts) == "number" then opts = { longest_plen = opts } end
    opts = O.check(D.GUESS_OPTIMAL_STIMULUS, opts)
    if not ci.is_sparse(inprop) then
      error(fmt("%s: inprop must be a sparse matrix (ci.sparse, pre in rows), got %s", where,
                describe(inprop, ci)), 2)
    end
    local n = inprop:size(1)
    if inprop:size(2) ~= n then
      error(fmt("%s: inprop must be square, got %dx%d", where, n, inprop:size(2)), 2)
    end
    local plen = opts.longest_plen
    local sens = index_list(sensory_indices, n, where, "sensory_indices")
    local S = #sens
    if type(idx_to_sign) ~= "table" then
      error(fmt("%s: idx_to_sign must be a Lua array or a table {[i] = sign}, got %s", where,
                describe(idx_to_sign, ci)), 2)
    end
    local sign = ffi.new("double[?]", n)
    for k, v in pairs(idx_to_sign) do
      if not is_int(k) or k < 1 or k > n then
        error(fmt("%s: idx_to_sign has key %s, expected neuron indices 1..%d", where, tostring(k), n), 2)
      end
      if type(v) ~= "number" then
        error(fmt("%s: idx_to_sign[%d] = %s is not a number", where, k, tostring(v)), 2)
      end
      -- paths through a neuron with neither sign count as neither excitation nor inhibition
      sign[k - 1] = (v == 1 or v == -1) and v or 0
    end
    local batches = target_batches(target_activations, where)
    local B = #batches
    local max_layer = nil
    for b, bt in ipairs(batches) do
      if type(bt) ~= "table" then
        error(fmt("%s: targets of batch %d must be a table {[layer] = {[neuron] = value}}", where, b), 2)
      end
      for l, neurons in pairs(bt) do
        if not is_int(l) or l < 1 then
          error(fmt("%s: target layer %s of batch %d is not a layer index >= 1", where, tostring(l), b), 2)
        end
        if type(neurons) ~= "table" then
          error(fmt("%s: targets of batch %d, layer %d must be a table {[neuron] = value}", where, b, l), 2)
        end
        for i, v in pairs(neurons) do
          if not is_int(i) or i < 1 or i > n then
            error(fmt("%s: target neuron %s (batch %d, layer %d) is out of range 1..%d", where,
                      tostring(i), b, l, n), 2)
          end
          if type(v) ~= "number" then
            error(fmt("%s: target value of neuron %d (batch %d, layer %d) is not a number", where, i, b, l), 2)
          end
        end
        if not max_layer or l > max_layer then max_layer = l end
      end
    end
    if not max_layer then error(where .. ": target_activations holds no targets", 2) end
    local nlayer = math.min(plen, max_layer)
    local out = ci.zeros(B, S, nlayer)
    local od = out.data
    local rp, cidx, vals = inprop.rowptr, inprop.colidx, inprop.vals
    local y = ffi.new("double[?]", n)
    local z = ffi.new("double[?]", n)
    for b, bt in ipairs(batches) do
      for l, neurons in pairs(bt) do
        local nsteps = math.min(l, plen)
        ffi.fill(y, n * 8)
        for i, v in pairs(neurons) do y[i - 1] = v end
        -- signed effective connectivity of path length p, applied to the target
        -- vector: (diag(sign) * inprop)^p * t, one sparse product per step
        for p = 1, nsteps do
          for i = 0, n - 1 do
            local acc = 0
            for k = tonumber(rp[i]), tonumber(rp[i + 1]) - 1 do
              acc = acc + vals[k] * y[cidx[k]]
            end
            z[i] = sign[i] * acc
          end
          y, z = z, y
          local col = nsteps - p      -- 0-based column: the longest paths come first
          if col < nlayer then
            for s = 1, S do
              local o = ((b - 1) * S + (s - 1)) * nlayer + col
              od[o] = od[o] + y[sens[s] - 1]
            end
          end
        end
      end
    end
    return out
  end

  ci._data = D
end
