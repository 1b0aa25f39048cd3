-- targets.lua: ci.TargetActivation, the target activations of activation
-- maximisation: {[layer] = {[neuron] = value}} (the same for every batch) or a
-- frame with columns batch (optional), layer, neuron, value; 1-based batch,
-- layer and neuron. Fields targets_df (a frame) and batch_size; :get_batch_targets(b).
return function(ci)
  local where = "ci.TargetActivation"

  local TA = {}
  local TAMT = { __index = TA }

  local function is_int(v) return type(v) == "number" and v == math.floor(v) and v == v end

  local function sorted_keys(t)
    local ks = {}
    for k in pairs(t) do ks[#ks + 1] = k end
    table.sort(ks, function(a, b)
      if type(a) ~= type(b) then return type(a) == "number" end
      return a < b
    end)
    return ks
  end

  local function check_index(what, v, row)
    if not is_int(v) or v < 1 then
      error(string.format("%s: %s%s = %s must be an integer >= 1 (indices are 1-based)", where,
                          what, row and (" in row " .. row) or "", tostring(v)), 4)
    end
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
    local cb, cl, cn, cv = {}, {}, {}, {}
    if ci.is_frame(targets) then
      for _, name in ipairs { "layer", "neuron", "value" } do
        if not targets:has_column(name) then
          error(string.format("%s: the targets frame has no column '%s' (it needs layer, " ..
                              "neuron, value and optionally batch; it has %s)", where, name,
                              table.concat(targets:columns(), ", ")), 2)
        end
      end
      local L, N, V = targets:col("layer"), targets:col("neuron"), targets:col("value")
      local nrow = targets:nrow()
      for r = 1, nrow do
        check_index("layer", L[r], r)
        check_index("neuron", N[r], r)
        if type(V[r]) ~= "number" then
          error(string.format("%s: value in row %d must be a number, got %s", where, r,
                              tostring(V[r])), 2)
        end
      end
      if targets:has_column("batch") then
        local Bc = targets:col("batch")
        local maxb = 0
        for r = 1, nrow do
          check_index("batch", Bc[r], r)
          if Bc[r] > maxb then maxb = Bc[r] end
          cb[r], cl[r], cn[r], cv[r] = Bc[r], L[r], N[r], V[r]
        end
        batch_size = batch_size or math.max(maxb, 1)
      else
        batch_size = batch_size or 1
        -- each batch repeats all rows (batch-major, as the reference)
        local k = 0
        for b = 1, batch_size do
          for r = 1, nrow do
            k = k + 1
            cb[k], cl[k], cn[k], cv[k] = b, L[r], N[r], V[r]
          end
        end
      end
    else
      batch_size = batch_size or 1
      local k = 0
      for _, layer in ipairs(sorted_keys(targets)) do
        check_index("layer", layer)
        local neurons = targets[layer]
        if type(neurons) ~= "table" then
          error(string.format("%s: targets[%s] must be a table {[neuron] = value}", where,
                              tostring(layer)), 2)
        end
        for _, neuron in ipairs(sorted_keys(neurons)) do
          check_index("neuron", neuron)
          local v = neurons[neuron]
          if type(v) ~= "number" then
            error(string.format("%s: targets[%d][%s] must be a number, got %s", where, layer,
                                tostring(neuron), type(v)), 2)
          end
          for b = 1, batch_size do
            k = k + 1
            cb[k], cl[k], cn[k], cv[k] = b, layer, neuron, v
          end
        end
      end
    end
    -- per-batch dicts (later rows win, as in the reference)
    local per = {}
    for b = 1, batch_size do per[b] = {} end
    for k = 1, #cb do
      local d = per[cb[k]]
      if d then
        d[cl[k]] = d[cl[k]] or {}
        d[cl[k]][cn[k]] = cv[k]
      end
    end
    local df = ci.frame({ batch = cb, layer = cl, neuron = cn, value = cv },
                        { "batch", "layer", "neuron", "value" })
    return setmetatable({ targets = targets, targets_df = df, batch_size = batch_size,
                          _per_batch = per }, TAMT)
  end

  function ci.is_target_activation(x) return getmetatable(x) == TAMT end

  --- t:get_batch_targets(b) -> {[layer] = {[neuron] = value}} (a fresh copy).
  function TA:get_batch_targets(b)
    if not is_int(b) or b < 1 or b > self.batch_size then
      error(string.format("TargetActivation:get_batch_targets: batch %s is out of range 1..%d",
                          tostring(b), self.batch_size), 2)
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
    return string.format("TargetActivation: %d targets over %d batches", self.targets_df:nrow(),
                         self.batch_size)
  end
end
