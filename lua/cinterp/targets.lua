-- targets.lua: ci.TargetActivation, the target activations of activation
-- maximisation: {[layer] = {[neuron] = value}} (the same for every batch) or a
-- frame with columns batch (optional), layer, neuron, value; 1-based batch,
-- layer and neuron. Fields targets_df (a frame) and batch_size; :get_batch_targets(b).
local util = require "cinterp.util"

local fmt = string.format

return function(ci)
  local where = "ci.TargetActivation"

  local TA = {}
  local TAMT = { __index = TA }

  local is_int, sorted_keys = util.is_int, util.sorted_keys

  local function check_index(what, v, row)
    if not is_int(v) or v < 1 then
      error(fmt("%s: %s%s = %s must be an integer >= 1 (indices are 1-based)", where, what,
                row and (" in row " .. row) or "", tostring(v)), 4)
    end
  end

  -- The rows of a targets frame as columns (batch, layer, neuron, value); without a
  -- batch column every batch repeats all rows (batch-major, as the reference).
  local function rows_of_frame(targets, batch_size)
    for _, name in ipairs { "layer", "neuron", "value" } do
      if not targets:has_column(name) then
        error(fmt("%s: the targets frame has no column '%s' (it needs layer, neuron, value and " ..
                  "optionally batch; it has %s)", where, name, table.concat(targets:columns(), ", ")), 3)
      end
    end
    local L, N, V = targets:col("layer"), targets:col("neuron"), targets:col("value")
    local nrow = targets:nrow()
    for r = 1, nrow do
      check_index("layer", L[r], r)
      check_index("neuron", N[r], r)
      if type(V[r]) ~= "number" then
        error(fmt("%s: value in row %d must be a number, got %s", where, r, tostring(V[r])), 3)
      end
    end
    local cb, cl, cn, cv = {}, {}, {}, {}
    if targets:has_column("batch") then
      local Bc, maxb = targets:col("batch"), 0
      for r = 1, nrow do
        check_index("batch", Bc[r], r)
        maxb = math.max(maxb, Bc[r])
        cb[r], cl[r], cn[r], cv[r] = Bc[r], L[r], N[r], V[r]
      end
      return cb, cl, cn, cv, batch_size or math.max(maxb, 1)
    end
    batch_size = batch_size or 1
    for b = 1, batch_size do
      for r = 1, nrow do
        local k = #cb + 1
        cb[k], cl[k], cn[k], cv[k] = b, L[r], N[r], V[r]
      end
    end
    return cb, cl, cn, cv, batch_size
  end

  -- {[layer] = {[neuron] = value}} as columns, the same targets for every batch.
  local function rows_of_table(targets, batch_size)
    batch_size = batch_size or 1
    local cb, cl, cn, cv = {}, {}, {}, {}
    for _, layer in ipairs(sorted_keys(targets)) do
      check_index("layer", layer)
      local neurons = targets[layer]
      if type(neurons) ~= "table" then
        error(fmt("%s: targets[%s] must be a table {[neuron] = value}", where, tostring(layer)), 3)
      end
      for _, neuron in ipairs(sorted_keys(neurons)) do
        check_index("neuron", neuron)
        local v = neurons[neuron]
        if type(v) ~= "number" then
          error(fmt("%s: targets[%d][%s] must be a number, got %s", where, layer, tostring(neuron),
                    type(v)), 3)
        end
        for b = 1, batch_size do
          local k = #cb + 1
          cb[k], cl[k], cn[k], cv[k] = b, layer, neuron, v
        end
      end
    end
    return cb, cl, cn, cv, batch_size
  end

  -- Per-batch {[layer] = {[neuron] = value}} (later rows win, as in the reference).
  local function per_batch(cb, cl, cn, cv, batch_size)
    local per = {}
    for b = 1, batch_size do per[b] = {} end
    for k = 1, #cb do
      local d = per[cb[k]]
      if d then
        d[cl[k]] = d[cl[k]] or {}
        d[cl[k]][cn[k]] = cv[k]
      end
    end
    return per
  end

  --- ci.TargetActivation{targets = t, batch_size = B} (or ci.TargetActivation(t, B)).
  function ci.TargetActivation(spec, batch_size)
    local targets
    if type(spec) == "table" and not ci.is_frame(spec) and spec.targets ~= nil then
      targets, batch_size = spec.targets, spec.batch_size
    else
      targets = spec
    end
    if type(targets) ~= "table" then
      error(where .. ": targets must be a table {[layer] = {[neuron] = value}} or a ci.frame " ..
            "with columns batch, layer, neuron, value; got " .. type(targets), 2)
    end
    if batch_size ~= nil and (not is_int(batch_size) or batch_size < 1) then
      error(where .. ": batch_size must be an integer >= 1, got " .. tostring(batch_size), 2)
    end
    local cb, cl, cn, cv
    if ci.is_frame(targets) then
      cb, cl, cn, cv, batch_size = rows_of_frame(targets, batch_size)
    else
      cb, cl, cn, cv, batch_size = rows_of_table(targets, batch_size)
    end
    local df = ci.frame({ batch = cb, layer = cl, neuron = cn, value = cv },
                        { "batch", "layer", "neuron", "value" })
    return setmetatable({ targets = targets, targets_df = df, batch_size = batch_size,
                          _per_batch = per_batch(cb, cl, cn, cv, batch_size) }, TAMT)
  end

  function ci.is_target_activation(x) return getmetatable(x) == TAMT end

  --- t:get_batch_targets(b) -> {[layer] = {[neuron] = value}} (a fresh copy).
  function TA:get_batch_targets(b)
    if not is_int(b) or b < 1 or b > self.batch_size then
      error(fmt("TargetActivation:get_batch_targets: batch %s is out of range 1..%d", tostring(b),
                self.batch_size), 2)
    end
    local out = {}
    for layer, neurons in pairs(self._per_batch[b]) do
      out[layer] = {}
      for i, v in pairs(neurons) do out[layer][i] = v end
    end
    return out
  end

  --- Flat lists of the targets of batch b, sorted by (layer, neuron): layers, neurons, values.
  function TA:_batch_list(b)
    local d = self._per_batch[b]
    local ls, ns, vs = {}, {}, {}
    for _, layer in ipairs(sorted_keys(d)) do
      for _, neuron in ipairs(sorted_keys(d[layer])) do
        ls[#ls + 1], ns[#ns + 1], vs[#vs + 1] = layer, neuron, d[layer][neuron]
      end
    end
    return ls, ns, vs
  end

  TAMT.__tostring = function(self)
    return fmt("TargetActivation: %d targets over %d batches", self.targets_df:nrow(), self.batch_size)
  end
end
