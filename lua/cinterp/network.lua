-- network.lua: ci.MultilayeredNetwork and ci.LinearNetwork, the Lua face of the
-- C network engine (core/net*.c): groups and per-group parameters, forward with
-- manipulate and checkpointing, the tape-recorded fallback for a custom Lua
-- activation function, set_param_grads and training_mode. Every option table is
-- checked against the declarations at the end of the file (cinterp.options).
local ffi = require "ffi"
local util = require "cinterp.util"
local O = require "cinterp.options"

local fmt, is_int = string.format, util.is_int

return function(ci)
  local E = ci._engine
  local C, check = E.C, E.check

  local Network = {}
  local NetworkMT = { __index = Network }

  -- the declarations (at the end of the file), checked at the top of each function
  local ML_DECL, LINEAR_DECL, FORWARD, VJP, PARAM_GRADS, ACTIVATION, TRAINING_MODE

  local function wrap_tensor(p)
    if p == nil then return nil end
    return ci._tensor.wrap(p)
  end

  -- Distinct groups in the API's order: numbers before strings, each ascending.
  ci._sorted_groups = util.sorted_unique

  local function as_weights(where, w)
    if ci.is_sparse(w) then return w end
    if ci.is_tensor(w) then
      if w:dim() ~= 2 then
        error(where .. ": all_weights must be a 2-d tensor or a ci.sparse matrix, got a " ..
              w:dim() .. "-d tensor", 4)
      end
      return ci.sparse.from_dense(w)
    end
    error(where .. ": all_weights must be a ci.sparse matrix or a 2-d ci.tensor, got " ..
          type(w), 4)
  end

  -- The sensory neurons: a Lua array (or tensor) of distinct 1-based indices,
  -- returned as a copy and as the engine's 0-based int32 array.
  local function read_sensory(where, sensory_indices, n)
    if ci.is_tensor(sensory_indices) then sensory_indices = sensory_indices:totable() end
    if type(sensory_indices) ~= "table" then
      error(where .. ": sensory_indices must be a Lua array of neuron indices", 4)
    end
    local S = #sensory_indices
    local sens = ffi.new("int32_t[?]", math.max(S, 1))
    local seen = {}
    for s = 1, S do
      local i = sensory_indices[s]
      if not is_int(i) or i < 1 or i > n then
        error(fmt("%s: sensory_indices[%d] = %s is out of range 1..%d", where, s, tostring(i), n), 4)
      end
      if seen[i] then
        error(fmt("%s: sensory_indices[%d] = %d repeats sensory_indices[%d]", where, s, i, seen[i]), 4)
      end
      seen[i] = s
      sens[s - 1] = i - 1
    end
    return { unpack(sensory_indices) }, sens
  end

  -- The constructor's options (decl: ML_DECL or LINEAR_DECL) checked against the
  -- declaration, defaults filled, and their combinations checked.
  local function read_options(decl, where, opts)
    local o = O.check(decl, opts, 4)
    o.device = ci._check_device(where, o.device, 4) -- "cuda" needs the build and a GPU, no fallback
    local af = o.activation_function
    if af ~= nil and type(af) ~= "function" then
      error(where .. ": activation_function must be a Lua function (net, x, x_previous)", 4)
    end
    if af and o.device == "cuda" then
      error(where .. ": device = \"cuda\" cannot run a custom activation_function (a Lua " ..
            "function runs on the CPU); leave device out or drop activation_function", 4)
    end
    if af and o.divisive_normalization then
      error(where .. ": a custom activation_function cannot be combined with " ..
            "divisive_normalization (the divisive slope lives in the built-in activation)", 4)
    end
    if o.divisive_normalization ~= nil and o.idx_to_group == nil then
      error(where .. ": divisive_normalization needs idx_to_group (the groups of the neurons)", 4)
    end
    -- per-group values without groups would be ignored in silence
    for _, name in ipairs { "slope_dict", "bias_dict", "tau_dict", "divisive_strength" } do
      if type(o[name]) == "table" and o.idx_to_group == nil then
        error(fmt("%s: %s gives values per group, but the network has no groups: give idx_to_group " ..
                  "too (or a number for all neurons: %s)", where, name,
                  name == "divisive_strength" and "divisive_strength" or
                  ({ slope_dict = "tanh_steepness", bias_dict = "default_bias", tau_dict = "tau" })[name]), 4)
      end
    end
    return o
  end

  -- idx_to_group -> the sorted groups, group -> position, and each neuron's position.
  local function read_groups(where, idx_to_group, n)
    if type(idx_to_group) ~= "table" then
      error(where .. ": idx_to_group must be a table {group of neuron 1, ..., n}", 4)
    end
    for i = 1, n do
      local g = idx_to_group[i]
      if g == nil then
        error(fmt("%s: idx_to_group has no group for neuron %d (it must map each of the %d " ..
                  "neurons)", where, i, n), 4)
      end
      if type(g) ~= "string" and type(g) ~= "number" then
        error(fmt("%s: idx_to_group[%d] must be a string or a number", where, i), 4)
      end
    end
    for k in pairs(idx_to_group) do
      if not is_int(k) or k < 1 or k > n then
        error(fmt("%s: idx_to_group has key %s outside 1..%d (wrong length?)", where, tostring(k), n), 4)
      end
    end
    local groups = util.sorted_unique(idx_to_group)
    local group_index, indices = {}, {}
    for gi, g in ipairs(groups) do group_index[g] = gi end
    for i = 1, n do indices[i] = group_index[idx_to_group[i]] end
    return groups, group_index, indices
  end

  -- A per-group float array from {group = value} (missing groups get `default`).
  local function group_values(where, groups, dict, default, name)
    if dict ~= nil and type(dict) ~= "table" then
      error(where .. ": " .. name .. " must be a table {group = value}", 5)
    end
    local a = ffi.new("float[?]", #groups)
    for gi, g in ipairs(groups) do
      local v = dict and dict[g]
      if v ~= nil and type(v) ~= "number" then
        error(fmt("%s: %s[%s] must be a number", where, name, tostring(g)), 5)
      end
      a[gi - 1] = v or default
    end
    return a
  end

  -- The G x G matrix of (pre group, post group) pairs with divisive connections.
  local function divisive_pairs(where, dn, group_index, G)
    if type(dn) ~= "table" then
      error(where .. ": divisive_normalization must be a table {pre_group = {post_group, ...}}", 5)
    end
    local pairs_ = ffi.new("uint8_t[?]", G * G)
    for pre, posts in pairs(dn) do
      if type(posts) ~= "table" then
        error(fmt("%s: divisive_normalization[%s] must be a list of post groups", where, tostring(pre)), 5)
      end
      local gp = group_index[pre]
      for _, post in ipairs(posts) do
        local gq = group_index[post]
        if gp and gq then pairs_[(gp - 1) * G + (gq - 1)] = 1 end
      end
    end
    return pairs_
  end

  -- Fills the spec's per-group fields (initial parameters, divisive pairs);
  -- the arrays it points to are kept alive in `keep`.
  local function set_group_spec(where, spec, keep, o, groups, group_index, indices)
    local G = #groups
    local gof = ffi.new("int32_t[?]", #indices)
    for i, gi in ipairs(indices) do gof[i - 1] = gi - 1 end
    local ds = o.divisive_strength
    spec.n_groups, spec.group_of = G, gof
    spec.init_slope = group_values(where, groups, o.slope_dict, o.tanh_steepness, "slope_dict")
    spec.init_raw_bias = group_values(where, groups, o.bias_dict, o.default_bias, "bias_dict")
    spec.init_tau = group_values(where, groups, o.tau_dict, o.tau, "tau_dict")
    spec.init_div_strength = group_values(where, groups, type(ds) == "table" and ds or nil,
                                          type(ds) == "number" and ds or 1, "divisive_strength")
    keep[#keep + 1] = { gof, spec.init_slope, spec.init_raw_bias, spec.init_tau, spec.init_div_strength }
    if o.divisive_normalization ~= nil then
      spec.div_pairs = divisive_pairs(where, o.divisive_normalization, group_index, G)
      keep[#keep + 1] = spec.div_pairs
    end
  end

  -- The engine's network (ci_net_new), owned by Lua's GC, on the chosen device.
  local function new_engine_net(where, W, spec, device)
    local pnet = ffi.new("ci_net*[1]")
    if C.ci_net_new(W, spec, pnet) ~= 0 then
      error(where .. ": " .. ffi.string(C.ci_last_error()):gsub("^ci_net_new: ", ""), 4)
    end
    local handle = ffi.gc(pnet[0], C.ci_net_release)
    if device == "cuda" then check(C.ci_net_to_device(handle, C.CI_DEVICE_CUDA), where, 5) end
    return handle
  end

  local PARAM_NAMES = { "slope", "raw_biases", "tau_param", "divisive_strength" }
  local REORDER = { none = C.CI_REORDER_NONE, rcm = C.CI_REORDER_RCM, auto = C.CI_REORDER_AUTO,
                    cluster = C.CI_REORDER_CLUSTER }
  local ORDER_NAME = { [C.CI_REORDER_NONE] = "none", [C.CI_REORDER_RCM] = "rcm",
                       [C.CI_REORDER_CLUSTER] = "cluster" }

  -- The seed's constructor: weights and sensory neurons checked, options read,
  -- groups and their initial parameters laid out, the engine's network built and
  -- wrapped with its live parameter tensors (when there are groups).
  local function new_network(kind, decl, all_weights, sensory_indices, opts)
    local where = decl.where
    local o = read_options(decl, where, opts)
    local W = as_weights(where, all_weights)
    local n = W.nrows
    if W.nrows ~= W.ncols then
      error(fmt("%s: all_weights must be square, got %d x %d", where, n, W.ncols), 3)
    end
    local sensory, sens = read_sensory(where, sensory_indices, n)
    local spec = ffi.new("ci_net_spec", { kind = kind, num_layers = o.num_layers, threshold = o.threshold,
                                          n_sensory = #sensory, sensory = sens, slope = o.tanh_steepness,
                                          bias = o.default_bias, tau = o.tau,
                                          reorder = REORDER[o.reorder] })
    local keep = { sens }
    local groups, group_index, indices
    if o.idx_to_group ~= nil then
      groups, group_index, indices = read_groups(where, o.idx_to_group, n)
      set_group_spec(where, spec, keep, o, groups, group_index, indices)
    end
    local handle = new_engine_net(where, W, spec, o.device)
    local self = setmetatable({
      _net = handle, _kind = kind, _where = where, n = n, num_layers = o.num_layers,
      threshold = o.threshold, tanh_steepness = o.tanh_steepness, default_bias = o.default_bias,
      tau = o.tau, sensory_indices = sensory, idx_to_group = o.idx_to_group, groups = groups,
      group_index = group_index, indices = indices, divisive_normalization = o.divisive_normalization,
      custom_activation_function = o.activation_function, device = o.device, all_weights = W,
      activations = nil, order = ORDER_NAME[C.ci_net_order(handle, nil)],
    }, NetworkMT)
    for k = 0, groups and 3 or -1 do
      local pt = ffi.new("ci_tensor*[1]")
      check(C.ci_net_param(handle, k, pt), where)
      self[PARAM_NAMES[k + 1]] = wrap_tensor(pt[0])
    end
    return self
  end

  -- (not tail calls: the errors' levels count this frame, so they name the user's line)
  function ci.MultilayeredNetwork(all_weights, sensory_indices, opts)
    local net = new_network(C.CI_NET_MULTILAYERED, ML_DECL, all_weights, sensory_indices, opts)
    return net
  end

  function ci.LinearNetwork(all_weights, sensory_indices, opts)
    local net = new_network(C.CI_NET_LINEAR, LINEAR_DECL, all_weights, sensory_indices, opts)
    return net
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

  -- Whether a manipulate table is per batch ({[b] = {[layer] = {[key] = value}}}):
  -- its first entry's first entry is itself a table.
  local function is_per_batch(manipulate)
    local _, first = next(manipulate)
    if type(first) ~= "table" then return false end
    local _, inner = next(first)
    return type(inner) == "table"
  end

  -- "'KC', 'ORN' and 'PN'" (at most 12 groups named)
  local function groups_text(groups)
    local q = {}
    for k = 1, math.min(#groups, 12) do q[k] = fmt("'%s'", util.label_text(groups[k])) end
    if #groups > 12 then q[#q + 1] = fmt("... (%d groups)", #groups) end
    return O.either(q, "and")
  end

  -- The neurons a manipulate key names: a group's members with groups, else one
  -- neuron. With groups a key that is no group is an error (the reference lets a
  -- numeric one match nothing, and the experiment would vanish in silence).
  local function manip_neurons(self, key, where)
    if self.groups then
      if self.group_index[key] then
        local list = {}
        for i = 1, self.n do if self.idx_to_group[i] == key then list[#list + 1] = i end end
        return list
      end
      if type(key) == "string" then
        error(fmt("%s: manipulate: unknown group '%s'%s", where, key,
                  O.suggestion(key, self.groups, "the groups of idx_to_group")), 5)
      end
      local key_text = type(key) == "number" and util.label_text(key) or O.describe(key)
      error(fmt("%s: manipulate: key %s is not a group of the network: with idx_to_group the keys of a " ..
                "layer's table are group names (%s); single neurons can be held by index only on a " ..
                "network built without idx_to_group", where, key_text, groups_text(self.groups)), 5)
    end
    if not is_int(key) or key < 1 or key > self.n then
      error(fmt("%s: manipulate: neuron %s is out of range 1..%d", where, tostring(key), self.n), 5)
    end
    return { key }
  end

  -- Appends {layer, batch (0 = every batch), neuron, value} for one layer's table.
  local function add_manip(self, list, batch, layer, spec, where)
    if not is_int(layer) then
      error(where .. ": manipulate: layer " .. tostring(layer) .. " is not an integer", 4)
    end
    if layer < 1 then
      error(fmt("%s: manipulate: layer %d is out of range 1..%d (layers are 1-based)", where, layer,
                self.num_layers), 4)
    end
    if layer > self.num_layers then -- the reference ignores it: an experiment that never runs
      error(fmt("%s: manipulate: layer %d is out of range 1..%d (num_layers)", where, layer, self.num_layers), 4)
    end
    if type(spec) ~= "table" then
      error(where .. ": manipulate[" .. layer .. "] must be a table {[neuron or group] = value}", 4)
    end
    for key, value in pairs(spec) do
      if type(value) ~= "number" then
        error(where .. ": manipulate: value for " .. tostring(key) .. " must be a number", 4)
      end
      for _, i in ipairs(manip_neurons(self, key, where)) do list[#list + 1] = { layer, batch, i, value } end
    end
  end

  -- The manipulate option as a list of {layer, batch (0 = all), neuron, value}.
  -- Global: {[layer] = {[key] = value}}; per batch: {[b] = {[layer] = {[key] = value}}}.
  -- Keys are neuron indices without groups and group names with groups.
  local function manip_list(self, manipulate, B, where)
    local list = {}
    if manipulate == nil then return list end
    if type(manipulate) ~= "table" then error(where .. ": manipulate must be a table", 3) end
    if not is_per_batch(manipulate) then
      for layer, spec in pairs(manipulate) do add_manip(self, list, 0, layer, spec, where) end
      return list
    end
    for b, layers in pairs(manipulate) do
      if not is_int(b) or b < 1 or b > B then
        error(fmt("%s: manipulate: batch %s is out of range 1..%d", where, tostring(b), B), 3)
      end
      for layer, spec in pairs(layers) do add_manip(self, list, b, layer, spec, where) end
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
  -- `name` is the argument's name in messages (default "inputs"); `level` the
  -- error level of the public caller, seen from here (default 3).
  function Network:_input3(inputs, where, name, level)
    name, level = name or "inputs", level or 3
    if type(inputs) == "table" and getmetatable(inputs) == nil then inputs = ci.tensor(inputs) end
    if not ci.is_tensor(inputs) then
      error(fmt("%s: %s must be a ci.tensor, got %s", where, name, util.type_name(inputs)), level)
    end
    local S, L = #self.sensory_indices, self.num_layers
    local two = inputs:dim() == 2
    local u = two and inputs:reshape(1, inputs:size(1), inputs:size(2)) or inputs
    if u:dim() ~= 3 or u:size(2) ~= S or u:size(3) ~= L then
      error(fmt("%s: %s must have shape (batch, %d, %d) or (%d, %d) (sensory neurons x " ..
                "num_layers), got %s", where, name, S, L, S, L, util.shape_str(inputs)), level)
    end
    return u, two
  end

  --- net:forward(inputs, {manipulate=, checkpoint_steps=, return_layer_list=})
  function Network:forward(inputs, opts)
    local where = self._where .. ".forward"
    opts = O.check(FORWARD, opts, 2, where)
    local u, two = self:_input3(inputs, where)
    local B = u:size(1)
    local list = manip_list(self, opts.manipulate, B, where)
    local ck = opts.checkpoint_steps
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
    opts = O.check(VJP, opts, 2, where)
    local u, two = self:_input3(inputs, where)
    if two and grad_out:dim() == 2 then grad_out = grad_out:reshape(1, grad_out:size(1), grad_out:size(2)) end
    local list = manip_list(self, opts.manipulate, u:size(1), where)
    local arr, nm = to_c_manip(list)
    local gi, gx = ffi.new("ci_tensor*[1]"), ffi.new("ci_tensor*[1]")
    check(C.ci_net_vjp(self._net, u, arr, nm, opts.checkpoint_steps, grad_out, gi,
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
    o = O.check(PARAM_GRADS, o, 2, self._where .. ".set_param_grads")
    if not self.groups then return end
    local function set(t, v) if t and v ~= nil then t:requires_grad(v and true or false) end end
    set(self.slope, o.slopes)
    set(self.raw_biases, o.raw_biases)
    set(self.divisive_strength, o.divisive_strength)
    set(self.tau_param, o.tau)
  end

  --- ci.training_mode(net, {train_slopes=, train_biases=, divisive_strength=, train_tau=}, fn)
  function ci.training_mode(net, opts, fn)
    if type(opts) == "function" and fn == nil then fn, opts = opts, nil end
    opts = O.check(TRAINING_MODE, opts)
    if getmetatable(net) ~= NetworkMT then
      error("ci.training_mode: net must be a ci.MultilayeredNetwork or ci.LinearNetwork, got " ..
            util.type_name(net), 2)
    end
    if type(fn) ~= "function" then error("ci.training_mode: fn must be a function, got " .. type(fn), 2) end
    local old = {}
    for _, k in ipairs { "slope", "raw_biases", "divisive_strength", "tau_param" } do
      old[k] = net[k] and net[k]:requires_grad() or false
    end
    net:set_param_grads { slopes = opts.train_slopes, raw_biases = opts.train_biases,
                          divisive_strength = opts.divisive_strength, tau = opts.train_tau }
    local res = util.pack(pcall(fn, net))
    for k, v in pairs(old) do if net[k] then net[k]:requires_grad(v) end end
    if not res[1] then error(res[2], 0) end
    return unpack(res, 2, res.n)
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

  -- h = x unless x < th (then 0; NaN passes, as in the engine) with DESIGN.md's
  -- derivative [x > th]: 0 at x = th, where the value th is supplied off the tape.
  local function threshold_op(x, th)
    local xd = x:detach()
    return ci.where(xd:gt(th), x, ci.where(xd:lt(th), 0, xd))
  end

  --- The default activation as tensor ops: x = W x_prev (n x B), x_previous (n x B).
  function Network:activation_function(x, x_previous, opts)
    opts = O.check(ACTIVATION, opts, 2, self._where .. ".activation_function")
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
  util.guard_methods(Network, ci.is_network, { prefix = "network",
    what = "a ci.MultilayeredNetwork or ci.LinearNetwork", var = "net" })

  ------------------------------------------------------------------ declarations (help, docs/API.md)

  local TOPIC = "Models"
  O.define_type("network", "a ci.MultilayeredNetwork or ci.LinearNetwork", ci.is_network)
  local CHAIN = "local W = ci.sparse({2, 3}, {1, 2}, {1, 1}, 3, 3)   -- the chain 1 -> 2 -> 3, post in rows\n"
  local GROUPED = CHAIN .. 'local net = ci.MultilayeredNetwork(W, {1}, {idx_to_group = {"a", "b", "b"}})\n'
  local LINEAR = CHAIN .. "local net = ci.LinearNetwork(W, {1}, {num_layers = 2, tau = 1})\n"
  local MANIPULATE = { "manipulate", "table", nil,
    "{[layer] = {[neuron or group] = value}} (or per batch {[b] = {[layer] = ...}}): activations held at value",
    default_text = "none" }
  local NETWORK_OPTS = {
    { "num_layers", "integer >= 1", 2, "the number of timesteps (layers) of the forward pass" },
    { "threshold", "number", 0.01, "activations below it are set to 0 (MultilayeredNetwork)" },
    { "tanh_steepness", "number", 5, "the slope of every neuron (of the groups without slope_dict)" },
    { "idx_to_group", "table", nil, "the group of each neuron (a Lua array of n values): per-group parameters",
      default_text = "none: one set of parameters" },
    { "default_bias", "number", 0, "the bias of the groups without bias_dict" },
    { "bias_dict", "table", nil, "{group = bias}" },
    { "slope_dict", "table", nil, "{group = slope}" },
    { "divisive_normalization", "table", nil, "{pre_group = {post_group, ...}}: divisive inhibition" },
    { "divisive_strength", "number|table", 1, "a number or {pre_group = strength}" },
    { "activation_function", "function", nil, "function(net, x, x_previous) made of tensor ops (CPU, taped)",
      default_text = "the built-in one" },
    { "tau", "number", 10, "the time constant of the groups without tau_dict" },
    { "tau_dict", "table", nil, "{group = tau}" },
    { "device", { "cpu", "cuda" }, "cpu", "where the network runs (\"cuda\" needs make CUDA=1 and a GPU)" },
    { "reorder", { "auto", "none", "rcm", "cluster" }, "auto", "the engine's internal neuron " ..
      "order, for locality: \"cluster\" (block by block, the blocks found by label propagation), " ..
      "\"rcm\" (reverse Cuthill-McKee), \"none\", or \"auto\" (cluster when it brings connected " ..
      "neurons at least twice closer, above 16384 neurons); indices stay yours everywhere; " ..
      "net.order tells which" },
  }
  local WEIGHTS = { "all_weights", "sparse|tensor", "n x n weights, post in rows" }

  O.class{ prefix = "net", var = "net", name = "ci.MultilayeredNetwork", methods = Network, is = ci.is_network,
    topic = TOPIC,
    doc = [[A network (ci.MultilayeredNetwork or ci.LinearNetwork) holds the weights, the sensory
    neurons and the parameters of the rate model; net:forward(x) (or net(x)) runs it. Fields: n,
    num_layers, sensory_indices, groups, order (the engine's neuron order: "none", "rcm" or
    "cluster", see the reorder option), and with groups the parameter tensors slope, raw_biases, tau_param and
    divisive_strength (aligned with groups).]] }

  ML_DECL = O.declare{ name = "ci.MultilayeredNetwork", where = "MultilayeredNetwork", topic = TOPIC,
    doc = [[The seed's rate model: at each of num_layers timesteps every neuron takes the
    weighted sum of the previous activations (post in rows of all_weights), applies
    tanh(slope * x + bias) above threshold, leaks with its time constant tau, and the sensory
    neurons get the input of that timestep. Parameters are per group when idx_to_group is
    given (net.slope, net.raw_biases, net.tau_param, net.divisive_strength, aligned with
    net.groups). A misspelled option is an error, never a default in silence.]],
    args = { WEIGHTS, { "sensory_indices", "array|tensor", "the neurons that take the input, in input-row order" } },
    opts = NETWORK_OPTS,
    returns = { { "net", "network", "help(net) lists its methods" } },
    example = CHAIN .. O.dedent[[local net = ci.MultilayeredNetwork(W, {1}, {num_layers = 3, threshold = 0})
    local out = net:forward(ci.tensor{{1, 0, 0}})       -- input: 1 sensory neuron x 3 layers
    print(out:size(1), out:size(2), out:get(2, 1) > 0, out:get(3, 1))  --> 3 3 true 0
    local ok, err = pcall(ci.MultilayeredNetwork, W, {1}, {num_layer = 5})
    print(err:match("unknown.*"))  --> unknown option 'num_layer' (did you mean 'num_layers'?)]] }

  LINEAR_DECL = O.declare{ name = "ci.LinearNetwork", where = "LinearNetwork", topic = TOPIC,
    doc = [[The seed's linear rate model: as ci.MultilayeredNetwork without the threshold and
    the tanh (slope * x + bias, leaking with tau). Same arguments and options.]],
    args = { WEIGHTS, { "sensory_indices", "array|tensor", "the neurons that take the input" } },
    opts = NETWORK_OPTS,
    returns = { { "net", "network", "" } },
    example = LINEAR .. O.dedent[[print(net:forward(ci.tensor{{1, 0}}):get(2, 1))  --> 5]] }

  O.declare{ name = "ci.is_network", topic = TOPIC,
    doc = "Whether x is a ci.MultilayeredNetwork or ci.LinearNetwork.",
    args = "x", returns = "boolean",
    example = LINEAR .. O.dedent[[print(ci.is_network(net), ci.is_network({}))  --> true false]] }

  FORWARD = O.declare{ name = "net:forward", where = "MultilayeredNetwork.forward", topic = TOPIC,
    doc = [[Runs the model on an input (B, S, num_layers) or (S, num_layers) and returns the
    activations (B, n, num_layers) or (n, num_layers), also kept in net.activations. manipulate
    holds chosen activations at fixed values (silencing: 0) at chosen layers (1..num_layers); with
    groups its keys are group names, without them neuron indices (a key or a layer that matches
    nothing is an error). net(x, opts) is the same.]],
    args = { { "inputs", "tensor|table", "(B, S, L) or (S, L)" } },
    opts = {
      MANIPULATE,
      { "checkpoint_steps", "integer >= 0", 0, "store every k-th state only and recompute the rest in backward (0: store all)" },
      { "return_layer_list", "boolean", false, "return a Lua array of L tensors (n, B) instead" },
    },
    returns = { { "out", "tensor", "(B, n, L) or (n, L)" } },
    example = LINEAR .. O.dedent[[local x = ci.tensor{{1, 0}}
    print(net:forward(x):get(2, 1))  --> 5
    print(net:forward(x, {manipulate = {[1] = {[2] = 0}}}):get(2, 1))  --> 0]] }

  VJP = O.declare{ name = "net:vjp", where = "MultilayeredNetwork.vjp", topic = TOPIC,
    doc = [[The vector-Jacobian product of the forward pass without the tape: the gradient of
    sum(grad_out * forward(inputs)) with respect to the input (and, with grad_x, to every
    activation); parameter gradients accumulate into their .grad.]],
    args = { { "inputs", "tensor", "(B, S, L) or (S, L)" }, { "grad_out", "tensor", "the shape of the output" } },
    opts = {
      MANIPULATE,
      { "checkpoint_steps", "integer >= 0", 0, "as in forward" },
      { "grad_x", "boolean", false, "also return the gradient with respect to every activation" },
    },
    returns = { { "grad_input", "tensor", "the input's shape" }, { "grad_x", "tensor|nil", "the output's shape" } },
    example = LINEAR .. O.dedent[[local g = net:vjp(ci.tensor{{1, 0}}, ci.tensor{{0, 0}, {1, 0}, {0, 0}})
    print(g:get(1, 1))  --> 5]] }

  PARAM_GRADS = O.declare{ name = "net:set_param_grads", where = "MultilayeredNetwork.set_param_grads",
    topic = TOPIC, opts_name = "flags",
    doc = "Switches the gradients of the per-group parameters on or off (a network with groups).",
    opts = {
      { "slopes", "boolean", nil, "net.slope", default_text = "unchanged" },
      { "raw_biases", "boolean", nil, "net.raw_biases", default_text = "unchanged" },
      { "divisive_strength", "boolean", nil, "net.divisive_strength", default_text = "unchanged" },
      { "tau", "boolean", nil, "net.tau_param", default_text = "unchanged" },
    },
    example = GROUPED .. O.dedent[[net:set_param_grads{slopes = true}
    print(net.slope:requires_grad(), net.tau_param:requires_grad())  --> true false]] }

  O.declare{ name = "net:to", topic = TOPIC,
    doc = [[Moves the network to "cpu" or "cuda" (every forward, backward and recipe follows);
    "cuda" without the CUDA build or a GPU is an error.]],
    args = { { "device", "string", "\"cpu\" or \"cuda\"" } }, returns = "net",
    example = LINEAR .. O.dedent[[print(net:to("cpu").device)  --> cpu]] }

  ACTIVATION = O.declare{ name = "net:activation_function", where = "MultilayeredNetwork.activation_function",
    topic = TOPIC,
    doc = [[The built-in activation as tensor ops on x = W x_previous (n, B): the template of a
    custom activation_function.]],
    args = { { "x", "tensor", "(n, B)" }, { "x_previous", "tensor", "(n, B)", optional = true } },
    opts = {
      { "slopes_full", "tensor", nil, "(n, 1) slopes instead of the network's" },
      { "biases_full", "tensor", nil, "(n, 1) biases instead of the network's" },
      { "taus_full", "tensor", nil, "(n, 1) time constants instead of the network's" },
    },
    returns = "tensor",
    example = CHAIN .. O.dedent[[local net = ci.LinearNetwork(W, {1}, {tau = 1})
    print(net:activation_function(ci.ones(3, 1)):get(1, 1))  --> 5
    print(net:activation_function(ci.ones(3, 1), nil, {slopes_full = ci.full(2, 3, 1)}):get(1, 1))  --> 2]] }

  O.declare_methods("net", TOPIC, {
    { "biases", "", "tensor|nil", "The per-group biases |raw_biases| as a tensor (nil without groups).",
      GROUPED .. "print(net:biases():size(1))  --> 2" },
    { "effective_tau", "", "tensor|nil",
      "The per-group time constants as the model uses them, max(tau_param, 1) (nil without groups).",
      GROUPED .. "print(net:effective_tau():get(1))  --> 10" },
    { "set_num_layers", "L", "",
      "Changes the number of timesteps of later forward passes (the inputs must then have L layers).",
      LINEAR .. "net:set_num_layers(4)\nprint(net.num_layers, net:forward(ci.ones(1, 4)):size(2))  --> 4 4" },
    { "stored_bytes", "", "integer",
      "The bytes of states the last forward pass stored for the backward (less with checkpoint_steps).",
      LINEAR .. "net:forward(ci.ones(1, 2))\nprint(net:stored_bytes() >= 0)  --> true" },
  })

  TRAINING_MODE = O.declare{ name = "ci.training_mode", topic = TOPIC,
    doc = [[Runs fn(net) with the gradients of the chosen per-group parameters on, and restores
    them afterwards, even when fn raises (the seed's context manager).]],
    args = { { "net", "network", "a network with groups" } },
    opts = {
      { "train_slopes", "boolean", true, "net.slope" },
      { "train_biases", "boolean", true, "net.raw_biases" },
      { "divisive_strength", "boolean", true, "net.divisive_strength" },
      { "train_tau", "boolean", true, "net.tau_param" },
    },
    signature = "ci.training_mode(net, opts?, fn) -> fn's results",
    example = GROUPED .. O.dedent[[local on = ci.training_mode(net, {train_tau = false}, function(n) return n.slope:requires_grad() end)
    print(on, net.slope:requires_grad())  --> true false]] }

  O.declare{ name = "ci.legacy_activation_function", topic = TOPIC,
    doc = [[The reference's legacy activation tanh(relu(slope * x + bias)), leaking as
    y * (1 - tau) + x_previous * tau (tau between 0 and 1): for activation_function = ...]],
    args = { { "net", "network", "" }, { "x", "tensor", "(n, B)" }, { "x_previous", "tensor", "(n, B)", optional = true } },
    returns = "tensor",
    example = CHAIN .. O.dedent[[local net = ci.MultilayeredNetwork(W, {1}, {activation_function = ci.legacy_activation_function})
    print(ci.legacy_activation_function(net, ci.zeros(3, 1)):get(1, 1))  --> 0]] }

  O.declare{ name = "ci.legacy_activation_function_linear", topic = TOPIC,
    doc = "The linear legacy activation slope * x + bias, leaking as legacy_activation_function.",
    args = { { "net", "network", "" }, { "x", "tensor", "(n, B)" }, { "x_previous", "tensor", "(n, B)", optional = true } },
    returns = "tensor",
    example = CHAIN .. O.dedent[[local net = ci.LinearNetwork(W, {1})
    print(ci.legacy_activation_function_linear(net, ci.ones(3, 1)):get(1, 1))  --> 5]] }
end
