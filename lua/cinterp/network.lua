-- network.lua: ci.MultilayeredNetwork and ci.LinearNetwork, the Lua face of the
-- C network engine (core/net*.c): groups and per-group parameters, forward with
-- manipulate and checkpointing, the tape-recorded fallback for a custom Lua
-- activation function, set_param_grads and training_mode.
local ffi = require "ffi"

return function(ci)
  local E = ci._engine
  local C, check = E.C, E.check
  require("cinterp.device")(ci) -- ci._check_device, ci.cuda_available, ci.device_info

  local Network = {}
  local NetworkMT = { __index = Network }

  local function wrap_tensor(p)
    if p == nil then return nil end
    return ci._tensor.wrap(p)
  end

  local function is_int(v) return type(v) == "number" and v == math.floor(v) and v == v end

  -- Distinct groups in the API's order: numbers before strings, each ascending.
  function ci._sorted_groups(values)
    local seen, list = {}, {}
    for _, g in pairs(values) do
      if not seen[g] then seen[g] = true; list[#list + 1] = g end
    end
    table.sort(list, function(a, b)
      local ta, tb = type(a), type(b)
      if ta ~= tb then return ta == "number" end
      return a < b
    end)
    return list
  end

  local function as_weights(where, w)
    if ci.is_sparse and ci.is_sparse(w) then return w end
    if ci.is_tensor and ci.is_tensor(w) then
      if w:dim() ~= 2 then
        error(where .. ": all_weights must be a 2-d tensor or a ci.sparse matrix, got a " ..
              w:dim() .. "-d tensor", 3)
      end
      return ci.sparse.from_dense(w)
    end
    error(where .. ": all_weights must be a ci.sparse matrix or a 2-d ci.tensor, got " ..
          type(w), 3)
  end

  local function new_network(kind, where, all_weights, sensory_indices, opts)
    opts = opts or {}
    if type(opts) ~= "table" then error(where .. ": opts must be a table", 3) end
    local W = as_weights(where, all_weights)
    local n = W.nrows
    if W.nrows ~= W.ncols then
      error(string.format("%s: all_weights must be square, got %d x %d", where, W.nrows, W.ncols), 3)
    end
    if type(sensory_indices) ~= "table" and not (ci.is_tensor and ci.is_tensor(sensory_indices)) then
      error(where .. ": sensory_indices must be a Lua array of neuron indices", 3)
    end
    if ci.is_tensor and ci.is_tensor(sensory_indices) then sensory_indices = sensory_indices:totable() end
    local S = #sensory_indices
    local sens = ffi.new("int32_t[?]", math.max(S, 1))
    local seen = {}
    for s = 1, S do
      local i = sensory_indices[s]
      if not is_int(i) or i < 1 or i > n then
        error(string.format("%s: sensory_indices[%d] = %s is out of range 1..%d", where, s,
                            tostring(i), n), 3)
      end
      if seen[i] then
        error(string.format("%s: sensory_indices[%d] = %d repeats sensory_indices[%d]", where, s,
                            i, seen[i]), 3)
      end
      seen[i] = s
      sens[s - 1] = i - 1
    end
    local num_layers = opts.num_layers or 2
    if not is_int(num_layers) or num_layers < 1 then
      error(where .. ": num_layers must be an integer >= 1, got " .. tostring(num_layers), 3)
    end
    local threshold = opts.threshold or 0.01
    local tanh_steepness = opts.tanh_steepness or 5
    local default_bias = opts.default_bias or 0.0
    local tau = opts.tau or 10
    for name, v in pairs { threshold = threshold, tanh_steepness = tanh_steepness,
                           default_bias = default_bias, tau = tau } do
      if type(v) ~= "number" then error(where .. ": " .. name .. " must be a number", 3) end
    end
    -- "cuda" needs the CUDA build and a GPU (ci_cuda_available): else an error, no fallback
    local device = ci._check_device(where, opts.device, 3)
    if device == "cuda" and opts.activation_function ~= nil then
      error(where .. ": device = \"cuda\" cannot run a custom activation_function (a Lua " ..
            "function runs on the CPU); leave device out or drop activation_function", 3)
    end
    if opts.activation_function ~= nil and type(opts.activation_function) ~= "function" then
      error(where .. ": activation_function must be a Lua function (net, x, x_previous)", 3)
    end

    local spec = ffi.new("ci_net_spec")
    spec.kind = kind
    spec.num_layers = num_layers
    spec.threshold = threshold
    spec.n_sensory = S
    spec.sensory = sens
    spec.slope, spec.bias, spec.tau = tanh_steepness, default_bias, tau
    local keep = { sens }

    local groups, group_index, indices = nil, nil, nil
    local idx_to_group = opts.idx_to_group
    if idx_to_group ~= nil then
      if type(idx_to_group) ~= "table" then
        error(where .. ": idx_to_group must be a table {group of neuron 1, ..., n}", 3)
      end
      for i = 1, n do
        local g = idx_to_group[i]
        if g == nil then
          error(string.format("%s: idx_to_group has no group for neuron %d (it must map each " ..
                              "of the %d neurons)", where, i, n), 3)
        end
        if type(g) ~= "string" and type(g) ~= "number" then
          error(string.format("%s: idx_to_group[%d] must be a string or a number", where, i), 3)
        end
      end
      for k in pairs(idx_to_group) do
        if not is_int(k) or k < 1 or k > n then
          error(string.format("%s: idx_to_group has key %s outside 1..%d (wrong length?)", where,
                              tostring(k), n), 3)
        end
      end
      groups = ci._sorted_groups(idx_to_group)
      group_index = {}
      for gi, g in ipairs(groups) do group_index[g] = gi end
      local G = #groups
      local gof = ffi.new("int32_t[?]", n)
      indices = {}
      for i = 1, n do
        gof[i - 1] = group_index[idx_to_group[i]] - 1
        indices[i] = group_index[idx_to_group[i]]
      end
      local function init(dict, default, name)
        local a = ffi.new("float[?]", G)
        if dict ~= nil and type(dict) ~= "table" then
          error(where .. ": " .. name .. " must be a table {group = value}", 4)
        end
        for gi, g in ipairs(groups) do
          local v = dict and dict[g]
          if v ~= nil and type(v) ~= "number" then
            error(string.format("%s: %s[%s] must be a number", where, name, tostring(g)), 4)
          end
          a[gi - 1] = v or default
        end
        return a
      end
      local ds = opts.divisive_strength
      if ds == nil then ds = 1 end
      local ds_dict, ds_default = nil, 1
      if type(ds) == "number" then ds_default = ds
      elseif type(ds) == "table" then ds_dict = ds
      else error(where .. ": divisive_strength must be a number or a table {pre_group = value}", 3) end
      spec.n_groups = G
      spec.group_of = gof
      spec.init_slope = init(opts.slope_dict, tanh_steepness, "slope_dict")
      spec.init_raw_bias = init(opts.bias_dict, default_bias, "bias_dict")
      spec.init_tau = init(opts.tau_dict, tau, "tau_dict")
      spec.init_div_strength = init(ds_dict, ds_default, "divisive_strength")
      keep[#keep + 1] = gof
      keep[#keep + 1] = spec.init_slope; keep[#keep + 1] = spec.init_raw_bias
      keep[#keep + 1] = spec.init_tau; keep[#keep + 1] = spec.init_div_strength
      local dn = opts.divisive_normalization
      if dn ~= nil then
        if type(dn) ~= "table" then
          error(where .. ": divisive_normalization must be a table {pre_group = {post_group, ...}}", 3)
        end
        local pairs_ = ffi.new("uint8_t[?]", G * G)
        for pre, posts in pairs(dn) do
          if type(posts) ~= "table" then
            error(string.format("%s: divisive_normalization[%s] must be a list of post groups",
                                where, tostring(pre)), 3)
          end
          local gp = group_index[pre]
          for _, post in ipairs(posts) do
            local gq = group_index[post]
            if gp and gq then pairs_[(gp - 1) * G + (gq - 1)] = 1 end
          end
        end
        spec.div_pairs = pairs_
        keep[#keep + 1] = pairs_
      end
    elseif opts.divisive_normalization ~= nil then
      error(where .. ": divisive_normalization needs idx_to_group (the groups of the neurons)", 3)
    end

    local pnet = ffi.new("ci_net*[1]")
    local rc = C.ci_net_new(W, spec, pnet)
    if rc ~= 0 then
      local msg = ffi.string(C.ci_last_error()):gsub("^ci_net_new: ", "")
      error(where .. ": " .. msg, 3)
    end
    local handle = ffi.gc(pnet[0], C.ci_net_release)
    if device == "cuda" then check(C.ci_net_to_device(handle, C.CI_DEVICE_CUDA), where, 4) end
    local self = setmetatable({
      _net = handle,
      _kind = kind,
      _where = where,
      n = n,
      num_layers = num_layers,
      threshold = threshold,
      tanh_steepness = tanh_steepness,
      default_bias = default_bias,
      tau = tau,
      sensory_indices = { unpack(sensory_indices) },
      idx_to_group = idx_to_group,
      groups = groups,
      group_index = group_index,
      indices = indices,
      divisive_normalization = opts.divisive_normalization,
      custom_activation_function = opts.activation_function,
      device = device,
      all_weights = W,
      activations = nil,
    }, NetworkMT)
    if groups then
      local names = { "slope", "raw_biases", "tau_param", "divisive_strength" }
      for k = 0, 3 do
        local pt = ffi.new("ci_tensor*[1]")
        check(C.ci_net_param(handle, k, pt), where)
        self[names[k + 1]] = wrap_tensor(pt[0])
      end
    end
    if opts.activation_function and opts.divisive_normalization then
      error(where .. ": a custom activation_function cannot be combined with " ..
            "divisive_normalization (the divisive slope lives in the built-in activation)", 3)
    end
    return self
  end

  function ci.MultilayeredNetwork(all_weights, sensory_indices, opts)
    return new_network(C.CI_NET_MULTILAYERED, "MultilayeredNetwork", all_weights, sensory_indices, opts)
  end

  function ci.LinearNetwork(all_weights, sensory_indices, opts)
    return new_network(C.CI_NET_LINEAR, "LinearNetwork", all_weights, sensory_indices, opts)
  end

  function ci.is_network(x) return getmetatable(x) == NetworkMT end

  function NetworkMT.__tostring(self)
    return string.format("%s: %d neurons, %d sensory, %d layers%s%s", self._where, self.n,
                         #self.sensory_indices, self.num_layers,
                         self.groups and (", " .. #self.groups .. " groups") or "",
                         self.divisive_normalization and ", divisive normalisation" or "")
  end

  -- Per-group biases (|raw_biases|) and effective tau (max(tau_param, 1)) as tensors.
  function Network:biases()
    if not self.raw_biases then return nil end
    return self.raw_biases:abs()
  end

  function Network:effective_tau()
    if not self.tau_param then return nil end
    return self.tau_param:clamp(1, nil)
  end

  function Network:set_num_layers(L)
    check(C.ci_net_set_num_layers(self._net, L), "set_num_layers")
    self.num_layers = L
  end

  -- Turns the manipulate table into a C array of ci_manip.
  -- Global: {[layer] = {[key] = value}}; per batch: {[b] = {[layer] = {[key] = value}}}.
  -- Keys are neuron indices without groups and group names with groups (then
  -- numeric keys match nothing, as in the reference).
  local function manip_list(self, manipulate, B, where)
    local list = {}
    if manipulate == nil then return list end
    if type(manipulate) ~= "table" then error(where .. ": manipulate must be a table", 4) end
    local per_batch = false
    for _, v in pairs(manipulate) do
      if type(v) == "table" then
        for _, w in pairs(v) do
          if type(w) == "table" then per_batch = true end
          break
        end
      end
      break
    end
    local function add(batch, layer, spec)
      if not is_int(layer) then error(where .. ": manipulate: layer " .. tostring(layer) .. " is not an integer", 5) end
      if layer < 1 then
        error(string.format("%s: manipulate: layer %d is out of range (layers are 1-based)", where,
                            layer), 5)
      end
      if layer > self.num_layers then return end  -- as the reference: a later layer never comes
      if type(spec) ~= "table" then error(where .. ": manipulate[" .. layer .. "] must be a table {[neuron or group] = value}", 5) end
      for key, value in pairs(spec) do
        if type(value) ~= "number" then
          error(where .. ": manipulate: value for " .. tostring(key) .. " must be a number", 5)
        end
        if self.groups then
          if type(key) == "string" and self.group_index[key] == nil then
            error(string.format("%s: manipulate: unknown group %s (the groups of idx_to_group)",
                                where, type(key) == "string" and ("'" .. key .. "'") or tostring(key)), 5)
          end
          if type(key) == "string" or (self.group_index[key] and type(key) ~= "number") then
            for i = 1, self.n do
              if self.idx_to_group[i] == key then list[#list + 1] = { layer, batch, i, value } end
            end
          elseif type(key) == "number" and self.group_index[key] then
            for i = 1, self.n do
              if self.idx_to_group[i] == key then list[#list + 1] = { layer, batch, i, value } end
            end
          end
        else
          if not is_int(key) or key < 1 or key > self.n then
            error(string.format("%s: manipulate: neuron %s is out of range 1..%d", where,
                                tostring(key), self.n), 5)
          end
          list[#list + 1] = { layer, batch, key, value }
        end
      end
    end
    if per_batch then
      for b, layers in pairs(manipulate) do
        if not is_int(b) or b < 1 or b > B then
          error(string.format("%s: manipulate: batch %s is out of range 1..%d", where, tostring(b), B), 4)
        end
        for layer, spec in pairs(layers) do add(b, layer, spec) end
      end
    else
      for layer, spec in pairs(manipulate) do add(0, layer, spec) end
    end
    return list
  end

  local function to_c_manip(list)
    local arr = ffi.new("ci_manip[?]", math.max(#list, 1))
    for k, m in ipairs(list) do
      arr[k - 1].layer = m[1] - 1
      arr[k - 1].batch = m[2] - 1
      arr[k - 1].neuron = m[3] - 1
      arr[k - 1].value = m[4]
    end
    return arr, #list
  end

  -- Normalises inputs to a (B, S, L) tensor; returns it and whether it was 2-d.
  function Network:_input3(inputs, where)
    if type(inputs) == "table" and getmetatable(inputs) == nil then inputs = ci.tensor(inputs) end
    if not ci.is_tensor(inputs) then error(where .. ": inputs must be a ci.tensor", 3) end
    local S, L = #self.sensory_indices, self.num_layers
    local two = inputs:dim() == 2
    if two then inputs = inputs:reshape(1, inputs:size(1), inputs:size(2)) end
    if inputs:dim() ~= 3 or inputs:size(2) ~= S or inputs:size(3) ~= L then
      local sz = table.concat(inputs:size(), "x")
      error(string.format("%s: inputs must have shape (batch, %d, %d) or (%d, %d) " ..
                          "(sensory neurons x num_layers), got %s", where, S, L, S, L, sz), 3)
    end
    return inputs, two
  end

  --- net:forward(inputs, {manipulate=, checkpoint_steps=, return_layer_list=})
  function Network:forward(inputs, opts)
    local where = self._where .. ".forward"
    opts = opts or {}
    local u, two = self:_input3(inputs, where)
    local B = u:size(1)
    local list = manip_list(self, opts.manipulate, B, where)
    local ck = opts.checkpoint_steps or 0
    if not is_int(ck) or ck < 0 then error(where .. ": checkpoint_steps must be an integer >= 0", 2) end
    local out
    if self.custom_activation_function then
      out = self:_forward_custom(u, list, where)
    else
      local arr, nm = to_c_manip(list)
      local po = ffi.new("ci_tensor*[1]")
      check(C.ci_net_forward(self._net, u, arr, nm, ck, po), where)
      out = wrap_tensor(po[0])
    end
    if opts.return_layer_list then
      local layers = {}
      for l = 1, self.num_layers do layers[l] = out:select(3, l):transpose(1, 2) end
      return layers
    end
    if two then out = out:select(1, 1) end
    self.activations = out
    return out
  end

  NetworkMT.__call = function(self, ...) return self:forward(...) end

  --- Vector-Jacobian product without the tape: returns grad_input and grad_x
  --- (see ci_net_vjp in core/cinterp.h); parameter grads accumulate into .grad.
  function Network:vjp(inputs, grad_out, opts)
    local where = self._where .. ".vjp"
    opts = opts or {}
    local u, two = self:_input3(inputs, where)
    if two and grad_out:dim() == 2 then grad_out = grad_out:reshape(1, grad_out:size(1), grad_out:size(2)) end
    local list = manip_list(self, opts.manipulate, u:size(1), where)
    local arr, nm = to_c_manip(list)
    local gi, gx = ffi.new("ci_tensor*[1]"), ffi.new("ci_tensor*[1]")
    check(C.ci_net_vjp(self._net, u, arr, nm, opts.checkpoint_steps or 0, grad_out, gi,
                       opts.grad_x and gx or nil), where)
    local g_in, g_x = wrap_tensor(gi[0]), opts.grad_x and wrap_tensor(gx[0]) or nil
    if two then
      g_in = g_in:select(1, 1)
      if g_x then g_x = g_x:select(1, 1) end
    end
    return g_in, g_x
  end

  --- net:to("cpu" | "cuda"): moves the network's weights (the whole loop follows).
  function Network:to(device)
    local where = self._where .. ".to"
    local d = ci._check_device(where, device, 2)
    if d == "cuda" and self.custom_activation_function then
      error(where .. ": a network with a custom activation_function runs on the CPU only", 2)
    end
    check(C.ci_net_to_device(self._net, d == "cuda" and C.CI_DEVICE_CUDA or C.CI_DEVICE_CPU), where)
    self.device = d
    return self
  end

  function Network:stored_bytes() return tonumber(C.ci_net_last_stored_bytes(self._net)) end

  --- net:set_param_grads{slopes=, raw_biases=, divisive_strength=, tau=}
  function Network:set_param_grads(o)
    o = o or {}
    if type(o) ~= "table" then error(self._where .. ".set_param_grads: expected a table, got " .. type(o), 2) end
    for k in pairs(o) do
      if k ~= "slopes" and k ~= "raw_biases" and k ~= "divisive_strength" and k ~= "tau" then
        error(string.format("%s.set_param_grads: unknown option '%s' (slopes, raw_biases, " ..
                            "divisive_strength, tau)", self._where, tostring(k)), 2)
      end
    end
    if not self.groups then return end
    local function set(t, v) if t and v ~= nil then t:requires_grad(v and true or false) end end
    set(self.slope, o.slopes)
    set(self.raw_biases, o.raw_biases)
    set(self.divisive_strength, o.divisive_strength)
    set(self.tau_param, o.tau)
  end

  --- ci.training_mode(net, {train_slopes=, train_biases=, divisive_strength=, train_tau=}, fn)
  function ci.training_mode(net, opts, fn)
    if type(opts) == "function" then fn, opts = opts, {} end
    opts = opts or {}
    if getmetatable(net) ~= NetworkMT then
      error("ci.training_mode: net must be a ci.MultilayeredNetwork or ci.LinearNetwork, got " .. type(net), 2)
    end
    if type(opts) ~= "table" then error("ci.training_mode: opts must be a table, got " .. type(opts), 2) end
    if type(fn) ~= "function" then error("ci.training_mode: fn must be a function, got " .. type(fn), 2) end
    local function flag(v) if v == nil then return true end return v end
    local old = {}
    for _, k in ipairs { "slope", "raw_biases", "divisive_strength", "tau_param" } do
      old[k] = net[k] and net[k]:requires_grad() or false
    end
    net:set_param_grads { slopes = flag(opts.train_slopes), raw_biases = flag(opts.train_biases),
                          divisive_strength = flag(opts.divisive_strength), tau = flag(opts.train_tau) }
    local res = { pcall(fn, net) }
    for k, v in pairs(old) do if net[k] then net[k]:requires_grad(v) end end
    if not res[1] then error(res[2], 0) end
    return unpack(res, 2)
  end

  ---------------------------------------------------------------------------
  -- Activation functions as tensor ops (used by the custom-activation path,
  -- and exposed as net:activation_function and the legacy functions).
  ---------------------------------------------------------------------------

  -- Per-neuron coefficient columns (n x 1) from the group parameters (differentiable).
  function Network:_coeff_columns()
    local n = self.n
    if not self.groups then
      return self.tanh_steepness, self.default_bias, self.tau
    end
    local idx = self.indices
    local k = self.slope:index(1, idx):reshape(n, 1)
    local c = self.raw_biases:abs():index(1, idx):reshape(n, 1)
    local tau = self.tau_param:clamp(1, nil):index(1, idx):reshape(n, 1)
    return k, c, tau
  end

  local function threshold_op(x, th)
    -- x if x >= th else 0 (gradient [x > th]); mask built without grad
    local mask = x:detach():ge(th)
    return x * mask
  end

  --- The default activation as tensor ops: x = W x_prev (n x B), x_previous (n x B).
  function Network:activation_function(x, x_previous, opts)
    opts = opts or {}
    local k = opts.slopes_full or select(1, self:_coeff_columns())
    local _, c0, t0 = self:_coeff_columns()
    local c = opts.biases_full or c0
    local tau = opts.taus_full or t0
    local a = x * k + c
    local y
    if self._kind == C.CI_NET_MULTILAYERED then
      y = threshold_op(a, self.threshold):tanh() / tau
    else
      y = a / tau
    end
    if x_previous then y = y + x_previous * ((tau - 1) / tau) end
    return y
  end

  function ci.legacy_activation_function(net, x, x_previous)
    local k, c, tau = net:_coeff_columns()
    if type(tau) ~= "number" then tau = net.tau end
    local y = threshold_op(x * k + c, net.threshold):tanh()
    if x_previous then y = y * (1 - tau) + x_previous * tau end
    return y
  end

  function ci.legacy_activation_function_linear(net, x, x_previous)
    local k, c, tau = net:_coeff_columns()
    if type(tau) ~= "number" then tau = net.tau end
    local y = x * k + c
    if x_previous then y = y * (1 - tau) + x_previous * tau end
    return y
  end

  -- The forward step by step through the tape, for a custom activation function.
  function Network:_forward_custom(u, list, where)
    local n, L, B = self.n, self.num_layers, u:size(1)
    local S = #self.sensory_indices
    local rows, cols, vals = {}, {}, {}
    for s, i in ipairs(self.sensory_indices) do rows[s], cols[s], vals[s] = i, s, 1 end
    local place = ci.sparse(rows, cols, vals, n, S) -- n x S selection
    local function input_at(t) -- (n, B)
      return place * u:select(3, t):transpose(1, 2)
    end
    local ml = self._kind == C.CI_NET_MULTILAYERED
    local by_layer = {}
    for _, m in ipairs(list) do
      by_layer[m[1]] = by_layer[m[1]] or {}
      table.insert(by_layer[m[1]], m)
    end
    local x = input_at(1)
    local outs = {}
    for t = 1, L do
      local p = self.all_weights * x
      local y = self.custom_activation_function(self, p, x)
      if t < L then
        y = y + input_at(t + 1)
        if ml then y = threshold_op(y, self.threshold):clamp(nil, 1) end
      end
      if by_layer[t] then
        local mask, value = ci.zeros(n, B), ci.zeros(n, B)
        for _, m in ipairs(by_layer[t]) do
          local b0, b1 = m[2], m[2]
          if m[2] == 0 then b0, b1 = 1, B end
          for b = b0, b1 do mask:set(1, m[3], b); value:set(m[4], m[3], b) end
        end
        y = y * (1 - mask) + value
      end
      outs[t] = y
      x = y
    end
    -- (B, n, L) from L slabs (n, B)
    return ci.stack(outs, 3):permute(2, 1, 3)
  end

  -- every method checks its self: net.forward(tensor, u) names the method
  for name, fn in pairs(Network) do
    if type(fn) == "function" then
      Network[name] = function(self, ...)
        if getmetatable(self) ~= NetworkMT then
          error(string.format("network:%s: self must be a ci.MultilayeredNetwork or ci.LinearNetwork " ..
                              "(call it as net:%s(...)), got %s", name, name, type(self)), 2)
        end
        return fn(self, ...)
      end
    end
  end
end
