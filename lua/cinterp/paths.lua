-- paths.lua: the seed's path frames: get_activations_for_path (activations of the
-- pre and post nodes of a layered path), activated_path_for_ngl (long format for
-- Neuroglancer) and activations_to_df / activations_to_df_batched (the paths a
-- model's activity takes through the connectome, by group, with activation and
-- connectivity thresholds).
-- Path layers keep the seed's meaning: a row of layer l joins a pre node whose
-- activation is activation column l-1 (column 0 = the model input) to a post
-- node whose activation is column l (1-based columns).
local fmt, huge = string.format, math.huge
local type, tostring, pairs, ipairs = type, tostring, pairs, ipairs

local O = require "cinterp.options"
local TOPIC = "Paths"

local AGGREGATES = { "mean", "sum", "max", "min" }
local GET_FOR_PATH = O.declare{ name = "ci.get_activations_for_path", where = "get_activations_for_path",
  topic = TOPIC,
  doc = [[The path frame with the activations of each row's pre and post node added
(pre_activation, post_activation; nodes are groups, a node's activation the mean over its
neurons). A row of layer l reads its pre node in activation column l - 1 + activation_start
and its post node in column l + activation_start; column 0 is the model input, which needs
model_in and sensory_indices. With aggregate, or for a 1-d activations, each neuron's
activations over time are first reduced to one value.]],
  args = { { "path", "frame", "columns pre, post, layer (e.g. from a path search)" },
           { "activations", "tensor", "(n, T) or (n)" } },
  opts = { { "model_in", "tensor|table", nil, "the model input (S, T), for layer-1 rows" },
           { "sensory_indices", "array|tensor", nil, "the neuron of each input row" },
           { "idx_to_group", "table", nil, "the group of each neuron (the path's node names)",
             default_text = "each neuron alone" },
           { "activation_start", "integer", 0, "the activation column of the path's first layer, minus 1" },
           { "aggregate", O.checker("\"mean\", \"sum\", \"max\", \"min\" or a function", function(v)
               if type(v) == "function" then return true end
               for _, a in ipairs(AGGREGATES) do if v == a then return true end end
               return false
             end), nil, "reduce each neuron's activations over time first", default_text = "none" } },
  returns = "frame",
  example = [[local acts = ci.tensor{{0.5, 0.25}, {1, 0.75}, {0, 1}}    -- 3 neurons x 2 layers
local path = ci.frame{pre = {1, 2}, post = {2, 3}, layer = {2, 2}, weight = {0.5, 0.5}}
local df = ci.get_activations_for_path(path, acts)
print(df.pre_activation[1], df.post_activation[1], df.post_activation[2])  --> 0.5 0.75 1]] }

O.declare{ name = "ci.activated_path_for_ngl", where = "activated_path_for_ngl", topic = TOPIC,
  doc = [[The nodes of an activated path in long format for Neuroglancer: columns neuron_id,
layer and activation, the pre nodes of the first layer then the post nodes of every layer
(post nodes of layer l get layer l + 1), each (node, activation) once per layer.]],
  args = { { "path", "frame", "columns pre, post, layer, pre_activation, post_activation" } },
  returns = "frame",
  example = [[local p = ci.frame{pre = {1}, post = {2}, layer = {1}, pre_activation = {0.5}, post_activation = {0.25}}
local ngl = ci.activated_path_for_ngl(p)
print(ngl:nrow(), ngl.layer[2], ngl.activation[2])  --> 2 2 0.25]] }

local TO_DF_OPTS = {
  { "inidx_mapping", "table", nil, "the group of each neuron as a pre node", default_text = "each neuron alone" },
  { "outidx_mapping", "table", nil, "the group of each neuron as a post node", default_text = "inidx_mapping" },
  { "activation_threshold", "number", 0, "group activations below it are left out (0: keep all)" },
  { "connectivity_threshold", "number", 0, "group connections weaker than it are left out" },
  { "high_ram", "boolean", true, "compute the group connectivity once for every layer (faster, more memory)" },
  { "sorted_sensory", "boolean", false,
    "pair input rows with sensory_indices in ascending order, as the reference does (it sorts them)" },
}
local TO_DF = O.declare{ name = "ci.activations_to_df", where = "activations_to_df", topic = TOPIC,
  doc = [[The paths a model's activity takes through the connectome, by group: one row per
connection from an active pre group to an active post group at each layer, with columns pre,
post, weight (the input proportion summed over the pre group, averaged over the post group),
layer (1 = out of the input) and the two groups' mean activations. Activations below
activation_threshold and connections below connectivity_threshold are dropped.]],
  args = { { "inprop", "sparse|tensor", "n x n, pre in rows" },
           { "model_input", "tensor", "(S, T) input" },
           { "out", "tensor", "(n, T) activations" },
           { "sensory_indices", "array|tensor", "the neuron of each input row" } },
  opts = TO_DF_OPTS,
  returns = "frame",
  example = [[local inprop = ci.sparse({1, 2}, {2, 3}, {1, 1}, 3, 3)   -- the chain 1 -> 2 -> 3
local x = ci.tensor{{1, 0}}                                   -- neuron 1 is the input
local out = ci.tensor{{0, 0}, {1, 0}, {0, 1}}                -- 2 active at layer 1, 3 at layer 2
local paths = ci.activations_to_df(inprop, x, out, {1}, {activation_threshold = 0.01})
print(paths:nrow(), paths.pre[2], paths.post[2], paths.layer[2], paths.weight[2])  --> 2 2 3 2 1]] }

local TO_DF_BATCHED = O.declare{ name = "ci.activations_to_df_batched", where = "activations_to_df_batched",
  topic = TOPIC,
  doc = [[activations_to_df for every batch of a (B, S, T) input and its (B, n, T)
activations, the rows of each batch in turn with a batch column (1-based).]],
  args = { { "inprop", "sparse|tensor", "n x n, pre in rows" },
           { "opt_in", "tensor", "(B, S, T) input" },
           { "out", "tensor", "(B, n, T) activations" },
           { "sensory_indices", "array|tensor", "the neuron of each input row" } },
  opts = TO_DF_OPTS,
  returns = "frame",
  example = [[local inprop = ci.sparse({1, 2}, {2, 3}, {1, 1}, 3, 3)
local x = ci.tensor{{{1, 0}}, {{0, 0}}}                      -- 2 batches; only the first drives
local out = ci.tensor{{{0, 0}, {1, 0}, {0, 1}}, {{0, 0}, {0, 0}, {0, 0}}}
local paths = ci.activations_to_df_batched(inprop, x, out, {1}, {activation_threshold = 0.01})
print(paths:nrow(), paths.batch[1])  --> 2 1]] }

return function(ci)
  local D = ci._data
  if not D then error("cinterp.paths needs cinterp.data", 2) end
  local keystr, less = D.keystr, D.less
  local as_tensor, as_list, group_lookup = D.as_tensor, D.as_list, D.group_lookup
  local frame = D.frame

  local is_int = require("cinterp.util").is_int

  local function check_path(path, where, need)
    if not ci.is_frame(path) then
      error(fmt("%s: path must be a frame, got %s", where, type(path)), 3)
    end
    for _, c in ipairs(need) do
      if not path:has_column(c) then
        error(fmt("%s: path has no column '%s' (columns: %s)", where, c,
                  table.concat(path:columns(), ", ")), 3)
      end
    end
  end

  -- ------------------------------------------------------------ get_activations_for_path

  local AGG = {
    mean = function(v) local s = 0 for _, x in ipairs(v) do s = s + x end return s / #v end,
    sum = function(v) local s = 0 for _, x in ipairs(v) do s = s + x end return s end,
    max = function(v) local m = -huge for _, x in ipairs(v) do if x > m then m = x end end return m end,
    min = function(v) local m = huge for _, x in ipairs(v) do if x < m then m = x end end return m end,
  }

  -- value(i, c): the activation of neuron i in (1-based) column c, or, when
  -- aggregated (a 1-d activations, or opts.aggregate), its one value over time
  local function activation_reader(acts, aggregate)
    local n = tonumber(acts.shape[0])
    local T = acts.ndim == 2 and tonumber(acts.shape[1]) or 1
    local data = acts.data
    local aggregated = T == 1 or aggregate ~= nil
    if aggregated and T > 1 then
      local fn = type(aggregate) == "string" and AGG[aggregate] or aggregate
      local agg = {}
      for i = 1, n do
        local v = {}
        for t = 1, T do v[t] = data[(i - 1) * T + t - 1] end
        agg[i] = fn(v)
      end
      return function(i) return agg[i] end, aggregated, n, T
    elseif aggregated then
      return function(i) return data[i - 1] end, aggregated, n, T
    end
    return function(i, c) return data[(i - 1) * T + c - 1] end, aggregated, n, T
  end

  -- the rows of the path by activation column (layer + start), and the columns in order
  local function rows_by_column(path, start, where)
    local layer = path.layer
    local byl, order = {}, {}
    for r = 1, path:nrow() do
      local l = layer[r]
      if not is_int(l) then
        error(fmt("%s: path row %d has layer %s, expected an integer", where, r, tostring(l)), 3)
      end
      l = l + start
      if not byl[l] then byl[l] = {}; order[#order + 1] = l end
      local b = byl[l]
      b[#b + 1] = r
    end
    table.sort(order)
    return byl, order
  end

  -- the path's rows idx (in that order) with the named columns added or replaced
  local function path_with(path, idx, added)
    local names = path:columns()
    local cols = {}
    for k, c in ipairs(names) do
      local src, dst = path[c], {}
      for j, r in ipairs(idx) do dst[j] = src[r] end
      cols[k] = dst
    end
    for _, a in ipairs(added) do
      local name, v = a[1], a[2]
      local at = #names + 1
      for k, c in ipairs(names) do if c == name then at = k end end
      names[at], cols[at] = name, v
    end
    return frame(names, cols)
  end

  function ci.get_activations_for_path(path, activations, opts)
    local where = "get_activations_for_path"
    check_path(path, where, { "pre", "post", "layer" })
    opts = O.check(GET_FOR_PATH, opts)
    local acts = as_tensor(activations, where, "activations", { 1, 2 })
    local value, aggregated, n, T = activation_reader(acts, opts.aggregate)
    local start = opts.activation_start
    -- the neurons of each node (group)
    local group = group_lookup(opts.idx_to_group, n, where, "idx_to_group")
    local members = {}
    for i = 1, n do
      local k = keystr(group(i))
      local m = members[k]
      if not m then m = {}; members[k] = m end
      m[#m + 1] = i
    end
    local x, local_of
    if opts.model_in ~= nil then
      x = as_tensor(opts.model_in, where, "model_in", { 1, 2 })
    end
    if opts.sensory_indices ~= nil then
      local_of = {}
      for s, i in ipairs(as_list(opts.sensory_indices, where, "sensory_indices")) do
        local_of[i] = local_of[i] or s
      end
    end
    local byl, order = rows_by_column(path, start, where)
    local nan = 0 / 0
    -- mean over the members of a node (group), NaN for an unknown node
    local function node_mean(node, col)
      local m = members[keystr(node)]
      if not m then return nan end
      local acc = 0
      for _, i in ipairs(m) do acc = acc + value(i, col) end
      return acc / #m
    end
    -- mean of a node's first input column over its members that are inputs
    local function input_mean(node)
      local m = members[keystr(node)]
      if not m then return nan end
      local acc, cnt = 0, 0
      local xd, xT = x.data, x.ndim == 2 and tonumber(x.shape[1]) or 1
      for _, i in ipairs(m) do
        local s = local_of[i]
        if s then acc = acc + xd[(s - 1) * xT]; cnt = cnt + 1 end
      end
      return cnt > 0 and acc / cnt or nan
    end
    local idx, pre_act, post_act = {}, {}, {}
    for _, l in ipairs(order) do
      if not aggregated then
        if l < 1 or l > T then
          error(fmt("%s: path layer %d (+ activation_start %d) needs activation column %d, but activations has %d columns",
                    where, l - start, start, l, T), 2)
        end
        if l == 1 and (x == nil or local_of == nil) then
          error(where .. ": model_in and sensory_indices must be given when the path starts at the input (layer 1)", 2)
        end
      end
      local pc, qc = {}, {}
      for _, r in ipairs(byl[l]) do
        local pre, post = path.pre[r], path.post[r]
        local pk, qk = keystr(pre), keystr(post)
        if pc[pk] == nil then
          if not aggregated and l == 1 then pc[pk] = input_mean(pre)
          else pc[pk] = node_mean(pre, l - 1) end
        end
        if qc[qk] == nil then qc[qk] = node_mean(post, l) end
        idx[#idx + 1] = r
        pre_act[#pre_act + 1] = pc[pk]
        post_act[#post_act + 1] = qc[qk]
      end
    end
    return path_with(path, idx, { { "pre_activation", pre_act }, { "post_activation", post_act } })
  end

  -- ------------------------------------------------------------ activated_path_for_ngl

  function ci.activated_path_for_ngl(path)
    local where = "activated_path_for_ngl"
    check_path(path, where, { "pre", "post", "layer", "pre_activation", "post_activation" })
    local layer = path.layer
    local order, seen, minl = {}, {}, huge
    for r = 1, path:nrow() do
      local l = layer[r]
      if not seen[l] then seen[l] = true; order[#order + 1] = l end
      if l < minl then minl = l end
    end
    local ids, ls, acts = {}, {}, {}
    local function emit(col, acol, l, lout)
      local dup = {}
      for r = 1, path:nrow() do
        if layer[r] == l then
          local id, a = path[col][r], path[acol][r]
          local key = type(id) .. ":" .. keystr(id) .. "|" .. (a ~= a and "nan" or fmt("%.17g", a))
          if not dup[key] then
            dup[key] = true
            ids[#ids + 1], ls[#ls + 1], acts[#acts + 1] = id, lout, a
          end
        end
      end
    end
    for _, l in ipairs(order) do
      if l == minl then emit("pre", "pre_activation", l, l) end
      emit("post", "post_activation", l, l + 1)
    end
    return frame({ "neuron_id", "layer", "activation" }, { ids, ls, acts })
  end

  -- ------------------------------------------------------------ activations_to_df

  local function prep_inprop(inprop, where)
    if ci.is_tensor(inprop) then
      if inprop.ndim ~= 2 then
        error(fmt("%s: inprop must be 2-d, got a tensor of shape %s", where, ci._tensor.shape_string(inprop)), 3)
      end
      inprop = ci.sparse.from_dense(inprop)
    end
    if not ci.is_sparse(inprop) then
      error(fmt("%s: inprop must be a sparse matrix (ci.sparse, pre in rows), got %s", where, type(inprop)), 3)
    end
    if inprop:size(1) ~= inprop:size(2) then
      error(fmt("%s: inprop must be square, got %dx%d", where, inprop:size(1), inprop:size(2)), 3)
    end
    return inprop
  end

  -- Group activations per column: {[col] = {[key] = mean}} over members whose
  -- value passes the threshold (a threshold <= 0 keeps every value).
  local function grouped(data, base, rows, T, cols, thr, keyof)
    local res = {}
    for c = 1, cols do
      local sum, cnt = {}, {}
      for r, k in ipairs(keyof) do
        local v = data[base + (r - 1) * T + (c - 1)]
        if not (thr > 0 and v < thr) then
          sum[k] = (sum[k] or 0) + v
          cnt[k] = (cnt[k] or 0) + 1
        end
      end
      local m = {}
      for k, s in pairs(sum) do m[k] = s / cnt[k] end
      res[c] = m
    end
    return res
  end

  -- One batch: (S, T) input, (n, T) output.
  local function one(inprop, x, xbase, out, obase, sens, inkey, outkey, postsize, thr, cthr, high_ram)
    local n = inprop:size(1)
    local T = tonumber(out.ndim == 3 and out.shape[2] or out.shape[1])
    local Tx = tonumber(x.ndim == 3 and x.shape[2] or x.shape[1])
    local skeys = {}
    for s, i in ipairs(sens) do skeys[s] = inkey[i] end
    local sensory_act = grouped(x.data, xbase, #sens, Tx, 1, thr, skeys)[1]
    local all_act = grouped(out.data, obase, n, T, T, thr, outkey)
    local rp, cidx, vals = inprop.rowptr, inprop.colidx, inprop.vals
    -- connectivity between groups: summed over the pre group, averaged over
    -- the post group (all its members); kept when >= threshold and nonzero
    local function connectivity(pre_ok, post_ok)
      local acc = {}
      for i = 0, n - 1 do
        local pk = inkey[i + 1]
        if pre_ok[pk] then
          local row = acc[pk]
          for k = tonumber(rp[i]), tonumber(rp[i + 1]) - 1 do
            local qk = outkey[cidx[k] + 1]
            if post_ok[qk] then
              if not row then row = {}; acc[pk] = row end
              row[qk] = (row[qk] or 0) + vals[k]
            end
          end
        end
      end
      for _, row in pairs(acc) do
        for qk, w in pairs(row) do
          w = w / postsize[qk]
          if w >= cthr and w ~= 0 then row[qk] = w else row[qk] = nil end
        end
      end
      return acc
    end
    local conn
    if high_ram then
      local post_ok, pre_ok = {}, {}
      for c = 1, T do for k in pairs(all_act[c]) do post_ok[k] = true; pre_ok[k] = true end end
      for k in pairs(sensory_act) do pre_ok[k] = true end
      conn = connectivity(pre_ok, post_ok)
    end
    local rows = {}
    for c = 1, T do
      local pre = c == 1 and sensory_act or all_act[c - 1]
      local post = all_act[c]
      local lconn = high_ram and conn or connectivity(pre, post)
      local pks = {}
      for pk in pairs(pre) do if lconn[pk] then pks[#pks + 1] = pk end end
      table.sort(pks)
      for _, pk in ipairs(pks) do
        local row = lconn[pk]
        local qks = {}
        for qk in pairs(row) do if post[qk] ~= nil then qks[#qks + 1] = qk end end
        table.sort(qks)
        for _, qk in ipairs(qks) do
          rows[#rows + 1] = { pk, qk, row[qk], c, pre[pk], post[qk] }
        end
      end
    end
    return rows
  end

  local function mapping_keys(map, n, where, name)
    local g = group_lookup(map, n, where, name)
    local keys = {}
    for i = 1, n do
      local k = keystr(g(i))
      keys[i] = k
    end
    return keys
  end

  local function common(where, inprop, model_input, out, sensory_indices, opts, dims)
    opts = O.check(dims == 3 and TO_DF_BATCHED or TO_DF, opts, 3)
    inprop = prep_inprop(inprop, where)
    local n = inprop:size(1)
    local x = as_tensor(model_input, where, dims == 3 and "opt_in" or "model_input", { dims })
    local o = as_tensor(out, where, "out", { dims })
    local off = dims == 3 and 1 or 0
    if tonumber(o.shape[off]) ~= n then
      error(fmt("%s: out has %d neurons, inprop has %d", where, tonumber(o.shape[off]), n), 3)
    end
    local sens = D.index_list(sensory_indices, n, where, "sensory_indices")
    if opts.sorted_sensory then sens = D.sorted_copy(sens) end
    if tonumber(x.shape[off]) ~= #sens then
      error(fmt("%s: the input has %d sensory rows but sensory_indices has %d entries", where,
                tonumber(x.shape[off]), #sens), 3)
    end
    if dims == 3 and x.shape[0] ~= o.shape[0] then
      error(fmt("%s: opt_in has %d batches but out has %d", where, tonumber(x.shape[0]), tonumber(o.shape[0])), 3)
    end
    local inkey = mapping_keys(opts.inidx_mapping, n, where, "inidx_mapping")
    local outkey = opts.outidx_mapping ~= nil and mapping_keys(opts.outidx_mapping, n, where, "outidx_mapping")
      or inkey
    local postsize = {}
    for i = 1, n do postsize[outkey[i]] = (postsize[outkey[i]] or 0) + 1 end
    local thr, cthr, high_ram = opts.activation_threshold, opts.connectivity_threshold, opts.high_ram
    return inprop, x, o, sens, inkey, outkey, postsize, thr, cthr, high_ram
  end

  local NAMES = { "pre", "post", "weight", "layer", "pre_activation", "post_activation" }

  function ci.activations_to_df(inprop, model_input, out, sensory_indices, opts)
    local A, x, o, sens, inkey, outkey, postsize, thr, cthr, high_ram =
      common("activations_to_df", inprop, model_input, out, sensory_indices, opts, 2)
    local rows = one(A, x, 0, o, 0, sens, inkey, outkey, postsize, thr, cthr, high_ram)
    local cols = { {}, {}, {}, {}, {}, {} }
    for r, row in ipairs(rows) do for k = 1, 6 do cols[k][r] = row[k] end end
    return frame(NAMES, cols)
  end

  function ci.activations_to_df_batched(inprop, opt_in, out, sensory_indices, opts)
    local A, x, o, sens, inkey, outkey, postsize, thr, cthr, high_ram =
      common("activations_to_df_batched", inprop, opt_in, out, sensory_indices, opts, 3)
    local B = tonumber(x.shape[0])
    local xs = tonumber(x.shape[1] * x.shape[2])
    local os_ = tonumber(o.shape[1] * o.shape[2])
    local cols = { {}, {}, {}, {}, {}, {}, {} }
    local r = 0
    for b = 1, B do
      local rows = one(A, x, (b - 1) * xs, o, (b - 1) * os_, sens, inkey, outkey, postsize, thr, cthr,
                       high_ram)
      for _, row in ipairs(rows) do
        r = r + 1
        for k = 1, 6 do cols[k][r] = row[k] end
        cols[7][r] = b
      end
    end
    local names = { "pre", "post", "weight", "layer", "pre_activation", "post_activation", "batch" }
    return frame(names, cols)
  end
end
