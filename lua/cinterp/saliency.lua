-- saliency.lua: gradient attributions through the network engine's fused
-- backward (net:vjp): ci.saliency (d signal / d input, vanilla or input x
-- gradient, optionally normalised per batch) and ci.get_gradients (d mean of the
-- target activations / d activations at each layer, per monitored neuron or group,
-- as a frame group, batch_name, time_<layer>...).
return function(ci)
  local floor, sqrt = math.floor, math.sqrt

  local function is_int(v) return type(v) == "number" and v == floor(v) and v == v end

  local function check_net(where, net)
    if not ci.is_network(net) then
      error(where .. ": net must be a ci.MultilayeredNetwork or ci.LinearNetwork, got " .. type(net), 3)
    end
  end

  -- (B, S, L) view of x plus whether it was 2-d; shape checked with a clear message.
  local function input3(where, net, x)
    if type(x) == "table" and getmetatable(x) == nil then x = ci.tensor(x) end
    if not ci.is_tensor(x) then error(where .. ": x must be a ci.tensor, got " .. type(x), 3) end
    local S, L = #net.sensory_indices, net.num_layers
    local two = x:dim() == 2
    local u = two and x:reshape(1, x:size(1), x:size(2)) or x
    if u:dim() ~= 3 or u:size(2) ~= S or u:size(3) ~= L then
      error(string.format("%s: x must have shape (batch, %d, %d) or (%d, %d) (sensory neurons x " ..
                          "num_layers), got (%s)", where, S, L, S, L, table.concat(x:size(), "x")), 3)
    end
    return u:detach(), two
  end

  local function check_method(where, method)
    if method ~= "vanilla" and method ~= "input_x_gradient" then
      error(string.format("%s: method must be \"vanilla\" or \"input_x_gradient\", got %s", where,
                          tostring(method)), 3)
    end
  end

  -- Neurons of one entry: a group name (with groups) or a 1-based neuron index.
  -- Returns the list of neuron indices and the row label.
  local function resolve(where, what, net, v)
    if net.groups and net.group_index[v] ~= nil then
      local list = {}
      for i = 1, net.n do if net.idx_to_group[i] == v then list[#list + 1] = i end end
      return list, v
    end
    if is_int(v) and v >= 1 and v <= net.n then return { v }, v end
    if net.groups and type(v) == "string" then
      error(string.format("%s: %s: '%s' is not a group of the network", where, what, v), 4)
    end
    error(string.format("%s: %s: neuron %s is out of range 1..%d", where, what, tostring(v), net.n), 4)
  end

  local function check_layer(where, what, l, L)
    if not is_int(l) or l < 1 or l > L then
      error(string.format("%s: %s: layer %s is out of range 1..%d (num_layers)", where, what,
                          tostring(l), L), 4)
    end
  end

  local function sorted_keys(t)
    local ks = {}
    for k in pairs(t) do ks[#ks + 1] = k end
    table.sort(ks)
    return ks
  end

  --- ci.saliency(net, x, neurons_of_interest, {method = "vanilla", normalize = false})
  function ci.saliency(net, x, neurons_of_interest, opts)
    local where = "ci.saliency"
    opts = opts or {}
    check_net(where, net)
    ci._recipe_device(where, net, opts.device) -- "cuda" must match the network's device
    local method = opts.method or "vanilla"
    check_method(where, method)
    local u, two = input3(where, net, x)
    if type(neurons_of_interest) ~= "table" then
      error(where .. ": neurons_of_interest must be a table {[layer] = {neuron, ...}}", 2)
    end
    local B, n, L = u:size(1), net.n, net.num_layers
    local g = ci.zeros(B, n, L)
    local gd = g.data
    for _, l in ipairs(sorted_keys(neurons_of_interest)) do
      check_layer(where, "neurons_of_interest", l, L)
      local list = neurons_of_interest[l]
      if type(list) ~= "table" then
        error(string.format("%s: neurons_of_interest[%d] must be a list of neurons", where, l), 2)
      end
      for _, i in ipairs(list) do
        if not is_int(i) or i < 1 or i > n then
          error(string.format("%s: neurons_of_interest[%d]: neuron %s is out of range 1..%d", where,
                              l, tostring(i), n), 2)
        end
        for b = 0, B - 1 do
          local o = (b * n + (i - 1)) * L + (l - 1)
          gd[o] = gd[o] + 1
        end
      end
    end
    local gin = net:vjp(u, g, { checkpoint_steps = opts.checkpoint_steps })
    local sal = gin
    if method == "input_x_gradient" then sal = u * gin end
    if opts.normalize then
      local per = tonumber(sal.nel) / B
      local d = sal.data
      for b = 0, B - 1 do
        local mx = -math.huge
        for k = b * per, (b + 1) * per - 1 do if d[k] > mx then mx = d[k] end end
        if mx > 0 then
          for k = b * per, (b + 1) * per - 1 do d[k] = d[k] / mx end
        end
      end
    end
    if two then sal = sal:reshape(sal:size(2), sal:size(3)) end
    return sal
  end

  --- ci.get_gradients(net, x, monitor_neurons, target_neurons, {monitor_layers=, method=,
  --- batch_names=, checkpoint_steps = 50, normalize_per_layer = false}) -> frame
  function ci.get_gradients(net, x, monitor_neurons, target_neurons, opts)
    local where = "ci.get_gradients"
    opts = opts or {}
    check_net(where, net)
    ci._recipe_device(where, net, opts.device) -- "cuda" must match the network's device
    local method = opts.method or "vanilla"
    check_method(where, method)
    local u = input3(where, net, x)
    local B, n, L = u:size(1), net.n, net.num_layers
    if type(monitor_neurons) ~= "table" then
      error(where .. ": monitor_neurons must be a list of neuron indices or group names", 2)
    end
    if type(target_neurons) ~= "table" then
      error(where .. ": target_neurons must be a table {[layer] = {neuron or group, ...}}", 2)
    end
    -- monitored layers: unique, ascending
    local layers = {}
    if opts.monitor_layers ~= nil then
      local seen = {}
      for _, l in ipairs(opts.monitor_layers) do
        check_layer(where, "monitor_layers", l, L)
        if not seen[l] then seen[l] = true; layers[#layers + 1] = l end
      end
      table.sort(layers)
    else
      for l = 1, L do layers[l] = l end
    end
    local names = opts.batch_names
    if names ~= nil then
      if type(names) ~= "table" or #names ~= B then
        error(string.format("%s: batch_names must be a list of %d names (one per batch)", where, B), 2)
      end
    else
      names = {}
      for b = 1, B do names[b] = "batch_" .. b end
    end
    -- the loss: mean over every target entry (neurons x batches)
    local entries = {}
    for _, l in ipairs(sorted_keys(target_neurons)) do
      check_layer(where, "target_neurons", l, L)
      local list = target_neurons[l]
      if type(list) ~= "table" then
        error(string.format("%s: target_neurons[%d] must be a list of neurons or groups", where, l), 2)
      end
      for _, v in ipairs(list) do
        local idx = resolve(where, "target_neurons[" .. l .. "]", net, v)
        for _, i in ipairs(idx) do entries[#entries + 1] = { l, i } end
      end
    end
    local count = #entries * B
    local g = ci.zeros(B, n, L)
    local gd = g.data
    for _, e in ipairs(entries) do
      for b = 0, B - 1 do
        local o = (b * n + (e[2] - 1)) * L + (e[1] - 1)
        gd[o] = gd[o] + 1 / count
      end
    end
    local ck = opts.checkpoint_steps or 50
    local _, gx = net:vjp(u, g, { grad_x = true, checkpoint_steps = ck })
    local vals = gx -- (B, n, L)
    if method == "input_x_gradient" then
      local act = ci.no_grad(function() return net:forward(u) end)
      vals = act * gx
    end
    local vd = vals.data
    if opts.normalize_per_layer then
      for l = 0, L - 1 do
        local ss = 0
        for k = l, B * n * L - 1, L do ss = ss + vd[k] * vd[k] end
        local c = 1 / (sqrt(ss) + 1e-12)
        for k = l, B * n * L - 1, L do vd[k] = vd[k] * c end
      end
    end
    -- monitored rows, summed per group
    local labels, members, seen = {}, {}, {}
    for k, v in ipairs(monitor_neurons) do
      local idx, label = resolve(where, "monitor_neurons[" .. k .. "]", net, v)
      if not seen[label] then
        seen[label] = true
        labels[#labels + 1] = label
        members[label] = idx
      end
    end
    local any_string = false
    for _, lab in ipairs(labels) do if type(lab) == "string" then any_string = true end end
    table.sort(labels, function(a, b)
      if type(a) ~= type(b) then return type(a) == "number" end
      return a < b
    end)
    local border = {}
    for b = 1, B do border[b] = b end
    table.sort(border, function(a, b)
      local na, nb = tostring(names[a]), tostring(names[b])
      if na ~= nb then return na < nb end
      return a < b
    end)
    local cols = { group = {}, batch_name = {} }
    local order = { "group", "batch_name" }
    for _, l in ipairs(layers) do
      cols["time_" .. l] = {}
      order[#order + 1] = "time_" .. l
    end
    local r = 0
    for _, lab in ipairs(labels) do
      for _, b in ipairs(border) do
        r = r + 1
        cols.group[r] = any_string and tostring(lab) or lab
        cols.batch_name[r] = names[b]
        for _, l in ipairs(layers) do
          local s = 0
          for _, i in ipairs(members[lab]) do s = s + vd[((b - 1) * n + (i - 1)) * L + (l - 1)] end
          cols["time_" .. l][r] = s
        end
      end
    end
    return ci.frame(cols, order)
  end
end
