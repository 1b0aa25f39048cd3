-- saliency.lua: gradient attributions through the network engine's fused
-- backward (net:vjp): ci.saliency (d signal / d input, vanilla or input x
-- gradient, optionally normalised per batch) and ci.get_gradients (d mean of the
-- target activations / d activations at each layer, per monitored neuron or group,
-- as a frame group, batch_name, time_<layer>...).
local util = require "cinterp.util"

local fmt, is_int = string.format, util.is_int

return function(ci)
  local function check_net(where, net)
    if not ci.is_network(net) then
      error(where .. ": net must be a ci.MultilayeredNetwork or ci.LinearNetwork, got " ..
            util.type_name(net), 4)
    end
  end

  -- The network and the options both functions share (device, method), checked;
  -- returns the method.
  local function common_options(where, net, opts)
    check_net(where, net)
    ci._recipe_device(where, net, opts.device, 3) -- "cuda" must match the network's device
    local method = opts.method or "vanilla"
    if method ~= "vanilla" and method ~= "input_x_gradient" then
      error(fmt("%s: method must be \"vanilla\" or \"input_x_gradient\", got %s", where, tostring(method)), 3)
    end
    return method
  end

  local function check_layer(where, what, l, L)
    if not is_int(l) or l < 1 or l > L then
      error(fmt("%s: %s: layer %s is out of range 1..%d (num_layers)", where, what, tostring(l), L), 4)
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
      error(fmt("%s: %s: '%s' is not a group of the network", where, what, v), 4)
    end
    error(fmt("%s: %s: neuron %s is out of range 1..%d", where, what, tostring(v), net.n), 4)
  end

  -- {[layer] = {entry, ...}} -> a list of {layer, neuron}, layers ascending;
  -- `groups` lets an entry name a group of the network.
  local function layer_entries(where, what, net, spec, groups)
    if type(spec) ~= "table" then
      error(fmt("%s: %s must be a table {[layer] = {neuron%s, ...}}", where, what,
                groups and " or group" or ""), 3)
    end
    local entries = {}
    for _, l in ipairs(util.sorted_keys(spec)) do
      check_layer(where, what, l, net.num_layers)
      local list = spec[l]
      if type(list) ~= "table" then
        error(fmt("%s: %s[%d] must be a list of neurons%s", where, what, l, groups and " or groups" or ""), 3)
      end
      for _, v in ipairs(list) do
        if not groups and not (is_int(v) and v >= 1 and v <= net.n) then
          error(fmt("%s: %s[%d]: neuron %s is out of range 1..%d", where, what, l, tostring(v), net.n), 3)
        end
        for _, i in ipairs(groups and resolve(where, what .. "[" .. l .. "]", net, v) or { v }) do
          entries[#entries + 1] = { l, i }
        end
      end
    end
    return entries
  end

  -- dLoss/doutput (B, n, L) for loss = weight * the sum of the entries' activations over batches.
  local function output_gradient(B, n, L, entries, weight)
    local g = ci.zeros(B, n, L)
    local gd = g.data
    for _, e in ipairs(entries) do
      for b = 0, B - 1 do
        local o = (b * n + (e[2] - 1)) * L + (e[1] - 1)
        gd[o] = gd[o] + weight
      end
    end
    return g
  end

  -- Each batch's map divided by its maximum, when that is positive.
  local function normalise_per_batch(sal, B)
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

  --- ci.saliency(net, x, neurons_of_interest, {method = "vanilla", normalize = false,
  --- checkpoint_steps = 0, device}) -> the saliency map, shaped like x.
  function ci.saliency(net, x, neurons_of_interest, opts)
    local where = "ci.saliency"
    -- options: read, defaulted and checked here, in one place
    opts = opts or {}
    local method = common_options(where, net, opts)
    local checkpoint_steps, normalize = opts.checkpoint_steps or 0, opts.normalize or false

    -- the gradient of the chosen activations' sum
    local u, two = net:_input3(x, where, "x")
    u = u:detach()
    local B = u:size(1)
    local entries = layer_entries(where, "neurons_of_interest", net, neurons_of_interest, false)
    local g = output_gradient(B, net.n, net.num_layers, entries, 1)
    local sal = net:vjp(u, g, { checkpoint_steps = checkpoint_steps })
    if method == "input_x_gradient" then sal = u * sal end
    if normalize then normalise_per_batch(sal, B) end
    if two then sal = sal:reshape(sal:size(2), sal:size(3)) end
    return sal
  end

  -- The monitored layers: unique, ascending (every layer by default).
  local function monitored_layers(where, layers, L)
    local out = {}
    if layers == nil then
      for l = 1, L do out[l] = l end
      return out
    end
    local seen = {}
    for _, l in ipairs(layers) do
      check_layer(where, "monitor_layers", l, L)
      if not seen[l] then seen[l] = true; out[#out + 1] = l end
    end
    table.sort(out)
    return out
  end

  local function batch_names(where, names, B)
    if names == nil then
      names = {}
      for b = 1, B do names[b] = "batch_" .. b end
      return names
    end
    if type(names) ~= "table" or #names ~= B then
      error(fmt("%s: batch_names must be a list of %d names (one per batch)", where, B), 3)
    end
    return names
  end

  -- Each layer's values (over batch and neurons) divided by their L2 norm.
  local function normalise_per_layer(vals, L)
    local vd, N = vals.data, tonumber(vals.nel)
    for l = 0, L - 1 do
      local ss = 0
      for k = l, N - 1, L do ss = ss + vd[k] * vd[k] end
      local c = 1 / (math.sqrt(ss) + 1e-12)
      for k = l, N - 1, L do vd[k] = vd[k] * c end
    end
  end

  -- The monitored rows: labels (groups or neurons) in the API's order, with their members.
  local function monitored_rows(where, net, monitor_neurons)
    if type(monitor_neurons) ~= "table" then
      error(where .. ": monitor_neurons must be a list of neuron indices or group names", 3)
    end
    local labels, members = {}, {}
    for k, v in ipairs(monitor_neurons) do
      local idx, label = resolve(where, "monitor_neurons[" .. k .. "]", net, v)
      if not members[label] then
        labels[#labels + 1] = label
        members[label] = idx
      end
    end
    table.sort(labels, util.less)
    return labels, members
  end

  -- The frame group, batch_name, time_<l>...: per label and batch (batches by
  -- name), the sum over the label's members of vals at each monitored layer.
  local function gradient_frame(vals, n, L, labels, members, names, layers)
    local any_string = false
    for _, lab in ipairs(labels) do if type(lab) == "string" then any_string = true end end
    local border = {}
    for b = 1, #names do border[b] = b end
    table.sort(border, function(a, b)
      local na, nb = tostring(names[a]), tostring(names[b])
      if na ~= nb then return na < nb end
      return a < b
    end)
    local cols, order = { group = {}, batch_name = {} }, { "group", "batch_name" }
    for _, l in ipairs(layers) do
      cols["time_" .. l] = {}
      order[#order + 1] = "time_" .. l
    end
    local vd, r = vals.data, 0
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

  --- ci.get_gradients(net, x, monitor_neurons, target_neurons, {monitor_layers=, method=,
  --- batch_names=, checkpoint_steps = 50, normalize_per_layer = false, device}) -> frame
  function ci.get_gradients(net, x, monitor_neurons, target_neurons, opts)
    local where = "ci.get_gradients"
    -- options: read, defaulted and checked here, in one place
    opts = opts or {}
    local method = common_options(where, net, opts)
    local checkpoint_steps = opts.checkpoint_steps or 50
    local normalize_per_layer = opts.normalize_per_layer or false
    local monitor_layers, names = opts.monitor_layers, opts.batch_names

    -- the loss: the mean over every target entry (neurons x batches)
    local u = net:_input3(x, where, "x"):detach()
    local B, n, L = u:size(1), net.n, net.num_layers
    local labels, members = monitored_rows(where, net, monitor_neurons)
    local entries = layer_entries(where, "target_neurons", net, target_neurons, true)
    local layers = monitored_layers(where, monitor_layers, L)
    names = batch_names(where, names, B)
    -- its gradient at every layer's activations
    local g = output_gradient(B, n, L, entries, 1 / (#entries * B))
    local _, vals = net:vjp(u, g, { grad_x = true, checkpoint_steps = checkpoint_steps })
    if method == "input_x_gradient" then
      vals = ci.no_grad(function() return net:forward(u) end) * vals
    end
    if normalize_per_layer then normalise_per_layer(vals, L) end
    return gradient_frame(vals, n, L, labels, members, names, layers)
  end
end
