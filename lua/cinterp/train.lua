-- train.lua: ci.train_model, the seed's train_model: fit a network's per-group
-- parameters (slopes, raw biases, tau, divisive strength; each switchable) to
-- target activations with Adam, an activation loss ("mse", "mae" or a Lua
-- function differentiated by the tape), an L1 pull toward the initial
-- parameters, a train/validation split, gradient clipping to norm 1 and
-- non-finite steps skipped. Returns the seed's eight values.
--
-- Beyond the seed: opts.train_indices (1-based batches, in order) replaces the
-- seeded split; opts.log = fn receives per epoch {epoch, loss, activation_loss,
-- param_reg_loss, val_loss, grad_norm (before clipping), grads = {slope=, ...}
-- (clones, before clipping), learning_rate, param_reg_lambda}; opts.log = path
-- writes the same figures (without grads) as CSV; opts.nudge_zero_biases
-- (default true, as the seed documents) moves raw biases at exactly 0 to 1e-6;
-- opts.param_reg_gradient (default false, as the reference behaves: its anchors
-- are autograd clones, so the penalty's gradient cancels) lets the penalty pull.
local ffi = require "ffi"

local fmt = string.format
local nan = 0 / 0

pcall(ffi.cdef, "int isatty(int fd);")

local function is_int(v) return type(v) == "number" and v % 1 == 0 and v == v end
local function finite(v) return v == v and v ~= math.huge and v ~= -math.huge end

-- The progress bar: cinterp.progress when present, else a minimal one on stderr
-- (drawn only when stderr is a terminal). Interface: update(i, status), clear(), finish().
local has_progress, P = pcall(require, "cinterp.progress")
local function new_bar(total, quiet)
  if has_progress and type(P) == "table" and P.new then
    local b = P.new(total, { quiet = quiet })
    return { update = function(i, s) b:update(i, s) end, clear = function() b:clear() end,
             finish = function() b:finish() end }
  end
  local tty = false
  if not quiet then
    local ok, r = pcall(function() return ffi.C.isatty(2) end)
    tty = ok and r == 1
  end
  local bar = {}
  function bar.update(i, status)
    if not tty then return end
    local width = 30
    local filled = math.floor(width * i / math.max(total, 1))
    io.stderr:write(fmt("\r [%s%s] %d/%d %s\027[K", string.rep("=", filled),
                        string.rep(".", width - filled), i, total, status or ""))
  end
  function bar.clear() if tty then io.stderr:write("\r\027[K") end end
  function bar.finish() if tty then io.stderr:write("\n") end end
  return bar
end

-- log = function(row) or a CSV path; returns (write(row), close()).
local LOG_FIELDS = { "epoch", "loss", "activation_loss", "param_reg_loss", "val_loss",
                     "grad_norm", "learning_rate", "param_reg_lambda" }
local function new_log(log)
  if log == nil then return function() end, function() end end
  if type(log) == "function" then return log, function() end end
  if type(log) ~= "string" then
    error("ci.train_model: opts.log must be a function or a CSV file path, got " .. type(log), 3)
  end
  local f, err = io.open(log, "w")
  if not f then error("ci.train_model: opts.log: cannot open " .. log .. ": " .. tostring(err), 3) end
  f:write(table.concat(LOG_FIELDS, ","), "\n")
  local function write(row)
    local vals = {}
    for k, name in ipairs(LOG_FIELDS) do vals[k] = fmt("%.9g", row[name]) end
    f:write(table.concat(vals, ","), "\n")
    f:flush()
  end
  return write, function() f:close() end
end

return function(ci)
  local WHERE = "ci.train_model"

  local function flag(opts, name)
    local v = opts[name]
    if v == nil then return true end
    if type(v) ~= "boolean" then
      error(fmt("%s: opts.%s must be a boolean, got %s", WHERE, name, type(v)), 4)
    end
    return v
  end

  local function number_opt(opts, name, default, check, what)
    local v = opts[name]
    if v == nil then return default end
    if type(v) ~= "number" or not check(v) then
      error(fmt("%s: opts.%s must be %s, got %s", WHERE, name, what, tostring(v)), 4)
    end
    return v
  end

  -- The loss function (pred, target) -> scalar tensor.
  local function resolve_loss(fn)
    if fn == nil or fn == "mse" then
      return function(pred, tgt) local d = pred - tgt return (d * d):mean() end
    elseif fn == "mae" then
      return function(pred, tgt) return (pred - tgt):abs():mean() end
    elseif type(fn) == "function" then
      return function(pred, tgt)
        local r = fn(pred, tgt)
        if not ci.is_tensor(r) or r:numel() ~= 1 then
          error(WHERE .. ": activation_loss_fn must return a one-element (scalar) tensor, got " ..
                (ci.is_tensor(r) and ("a tensor of " .. r:numel() .. " elements") or type(r)), 0)
        end
        return r
      end
    end
    error(fmt("%s: opts.activation_loss_fn must be \"mse\", \"mae\" or a function " ..
              "(pred, target) -> scalar tensor, got %s", WHERE, tostring(fn)), 3)
  end

  -- Reads and checks the targets frame; returns rows {batch, neuron, layer|nil, value}
  -- and whether the layer column is present.
  local function read_targets(targets, B, n, L)
    if not ci.is_frame(targets) then
      error(fmt("%s: targets must be a ci.frame with columns batch, neuron_idx, [layer,] value, got %s",
                WHERE, type(targets)), 3)
    end
    for _, c in ipairs { "batch", "neuron_idx", "value" } do
      if not targets:has_column(c) then
        error(fmt("%s: targets is missing the column '%s' (needs batch, neuron_idx, value and " ..
                  "optionally layer)", WHERE, c), 3)
      end
    end
    local has_layer = targets:has_column("layer")
    local bcol, icol, vcol = targets:col("batch"), targets:col("neuron_idx"), targets:col("value")
    local lcol = has_layer and targets:col("layer") or nil
    if targets:nrow() == 0 then
      error(fmt("%s: targets has no rows (nothing to fit)", WHERE), 3)
    end
    local rows = {}
    for r = 1, targets:nrow() do
      local b, i, v = bcol[r], icol[r], vcol[r]
      if not is_int(b) or b < 1 or b > B then
        error(fmt("%s: targets row %d: batch = %s is out of range 1..%d (the batches of inputs)",
                  WHERE, r, tostring(b), B), 3)
      end
      if not is_int(i) or i < 1 or i > n then
        error(fmt("%s: targets row %d: neuron_idx = %s is out of range 1..%d", WHERE, r,
                  tostring(i), n), 3)
      end
      if type(v) ~= "number" then
        error(fmt("%s: targets row %d: value = %s is not a number", WHERE, r, tostring(v)), 3)
      end
      local l
      if has_layer then
        l = lcol[r]
        if not is_int(l) or l < 1 or l > L then
          error(fmt("%s: targets row %d: layer = %s is out of range 1..%d", WHERE, r,
                    tostring(l), L), 3)
        end
      end
      rows[r] = { b, i, l, v, r }
    end
    return rows, has_layer
  end

  -- The batches used for training, in order, and the rest (ascending).
  local function split(B, opts, train_fraction, seed)
    local train
    if opts.train_indices ~= nil then
      local ti = opts.train_indices
      if type(ti) ~= "table" then
        error(WHERE .. ": opts.train_indices must be a Lua array of batch indices", 3)
      end
      train = {}
      local seen = {}
      for k = 1, #ti do
        local b = ti[k]
        if not is_int(b) or b < 1 or b > B then
          error(fmt("%s: opts.train_indices[%d] = %s is out of range 1..%d", WHERE, k,
                    tostring(b), B), 3)
        end
        if seen[b] then error(fmt("%s: opts.train_indices has batch %d twice", WHERE, b), 3) end
        seen[b] = true
        train[k] = b
      end
      if #train == 0 then error(WHERE .. ": opts.train_indices is empty", 3) end
    elseif train_fraction == 1 then
      train = {}
      for b = 1, B do train[b] = b end
    else
      local num = math.max(1, math.floor(B * train_fraction))
      ci.manual_seed(seed)
      local r = ci.rand(B):totable()
      local order = {}
      for b = 1, B do order[b] = b end
      table.sort(order, function(a, b) if r[a] ~= r[b] then return r[a] < r[b] end return a < b end)
      train = {}
      for k = 1, num do train[k] = order[k] end
    end
    local in_train = {}
    for _, b in ipairs(train) do in_train[b] = true end
    local val = {}
    for b = 1, B do if not in_train[b] then val[#val + 1] = b end end
    return train, val
  end

  -- The targets of the given batches, renumbered to local batches 1..#batches
  -- (rows ordered by local batch, stable), plus the gather indices into the
  -- flattened output.
  local function subset(rows, batches, has_layer, n, L)
    local pos = {}
    for k, b in ipairs(batches) do pos[b] = k end
    local sel = {}
    for _, row in ipairs(rows) do
      if pos[row[1]] then sel[#sel + 1] = row end
    end
    table.sort(sel, function(a, b)
      local pa, pb = pos[a[1]], pos[b[1]]
      if pa ~= pb then return pa < pb end
      return a[5] < b[5]
    end)
    local idx, vals, src = {}, {}, {}
    for k, row in ipairs(sel) do
      local lb = pos[row[1]]
      if has_layer then
        idx[k] = ((lb - 1) * n + (row[2] - 1)) * L + row[3]
      else
        idx[k] = (lb - 1) * n + row[2]
      end
      vals[k] = row[4]
      src[k] = row[5]
    end
    return { idx = idx, vals = vals, src = src, pos = pos, n = #sel }
  end

  -- The subset as a frame: the targets' rows in the subset's order, batch renumbered.
  local function subset_frame(targets, sub)
    local names = targets:columns()
    local cols = {}
    for _, name in ipairs(names) do
      local src = targets:col(name)
      local c = {}
      for k, r in ipairs(sub.src) do c[k] = src[r] end
      cols[name] = c
    end
    local b = cols.batch
    for k = 1, #b do b[k] = sub.pos[b[k]] end
    if sub.n == 0 then
      local f = targets:head(0)
      return f
    end
    return ci.frame(cols, names)
  end

  local function predictions(out, sub, has_layer, n, L)
    local Bt = out:size(1)
    if has_layer then
      return out:reshape(Bt * n * L):index(1, sub.idx)
    end
    return out:reshape(Bt * n, L):index(1, sub.idx):mean(2)
  end

  --- ci.train_model(net, inputs, targets, opts) -> net, history, train_inputs,
  --- val_inputs, train_targets, val_targets, train_indices, val_indices
  function ci.train_model(net, inputs, targets, opts)
    if not ci.is_network(net) then
      error(WHERE .. ": net must be a ci.MultilayeredNetwork or ci.LinearNetwork", 2)
    end
    if not net.groups then
      error(WHERE .. ": net has no trainable parameters (build it with idx_to_group)", 2)
    end
    opts = opts or {}
    if type(opts) ~= "table" then error(WHERE .. ": opts must be a table", 2) end
    ci._recipe_device(WHERE, net, opts.device) -- "cuda" must match the network's device

    -- inputs
    if type(inputs) == "table" and getmetatable(inputs) == nil then inputs = ci.tensor(inputs) end
    if not ci.is_tensor(inputs) then
      error(WHERE .. ": inputs must be a ci.tensor of shape (batch, sensory neurons, num_layers)", 2)
    end
    local S, L, n = #net.sensory_indices, net.num_layers, net.n
    if inputs:dim() ~= 3 or inputs:size(2) ~= S or inputs:size(3) ~= L or inputs:size(1) < 1 then
      error(fmt("%s: inputs must have shape (batch, %d, %d) (batch x sensory neurons x " ..
                "num_layers), got %s", WHERE, S, L, table.concat(inputs:size(), "x")), 2)
    end
    local B = inputs:size(1)

    -- options
    local num_epochs = number_opt(opts, "num_epochs", 100, function(v) return is_int(v) and v >= 0 end,
                                  "an integer >= 0")
    local lr = number_opt(opts, "learning_rate", 0.01, function(v) return v >= 0 end, "a number >= 0")
    local lambda = number_opt(opts, "param_reg_lambda", 0.01, finite, "a finite number")
    local train_fraction = number_opt(opts, "train_fraction", 0.8,
                                      function(v) return v > 0 and v <= 1 end, "in (0, 1]")
    local seed = number_opt(opts, "seed", 42, is_int, "an integer")
    local ck = number_opt(opts, "checkpoint_steps", 50, function(v) return is_int(v) and v >= 0 end,
                          "an integer >= 0")
    local train_slopes, train_biases = flag(opts, "train_slopes"), flag(opts, "train_biases")
    local train_div, train_tau = flag(opts, "train_divisive_strength"), flag(opts, "train_tau")
    local nudge = opts.nudge_zero_biases
    if nudge == nil then nudge = true end
    local reg_grad = opts.param_reg_gradient and true or false
    local quiet = opts.quiet and true or false
    local loss_fn = resolve_loss(opts.activation_loss_fn)
    local has_div = net.divisive_normalization ~= nil
    train_div = train_div and has_div
    if not (train_slopes or train_biases or train_div or train_tau) then
      error(WHERE .. ": nothing to train (train_slopes, train_biases, train_divisive_strength " ..
            "and train_tau are all off)", 2)
    end

    local rows, has_layer = read_targets(targets, B, n, L)
    local train_idx, val_idx = split(B, opts, train_fraction, seed)
    ci.manual_seed(seed)
    local tsub = subset(rows, train_idx, has_layer, n, L)
    local vsub = subset(rows, val_idx, has_layer, n, L)
    local train_inputs = inputs:index(1, train_idx)
    local val_inputs = inputs:index(1, val_idx)
    local train_targets, val_targets = subset_frame(targets, tsub), subset_frame(targets, vsub)
    local tvals = ci.tensor(tsub.vals)
    local vvals = vsub.n > 0 and ci.tensor(vsub.vals) or nil

    -- The parameters of the model (the reference's model.parameters()), the
    -- denominators of their mean |p - p0| (divisive strength: one per pre group
    -- of divisive_normalization, as the reference stores it) and which are trained.
    local params = {
      { t = net.slope, on = train_slopes, name = "slope" },
      { t = net.raw_biases, on = train_biases, name = "raw_biases" },
      { t = net.tau_param, on = train_tau, name = "tau_param" },
    }
    if has_div then
      local pre, npre = {}, 0
      for g in pairs(net.divisive_normalization) do
        npre = npre + 1
        if net.group_index[g] then pre[#pre + 1] = net.group_index[g] end
      end
      table.sort(pre)
      params[#params + 1] = { t = net.divisive_strength, on = train_div, sel = pre, count = npre,
                                 name = "divisive_strength" }
    end

    local history = { loss = {}, mse_loss = {}, param_reg_loss = {}, val_loss = {} }
    local write_log, close_log = new_log(opts.log)
    local log_fn = type(opts.log) == "function"

    local function run()
      if train_biases and nudge then
        local rb = net.raw_biases
        for k = 0, rb:numel() - 1 do if rb.data[k] == 0 then rb.data[k] = 1e-6 end end
      end
      for _, p in ipairs(params) do
        p.t0 = p.t:detach():clone()
        p.m = p.on and ffi.new("double[?]", p.t:numel()) or nil
        p.v = p.on and ffi.new("double[?]", p.t:numel()) or nil
        p.step = 0
        p.t:zero_grad()
      end
      local bar = new_bar(num_epochs, quiet)
      for epoch = 1, num_epochs do
        for _, p in ipairs(params) do p.t:zero_grad() end
        local out = net:forward(train_inputs, { checkpoint_steps = ck })
        local act_loss = loss_fn(predictions(out, tsub, has_layer, n, L), tvals)
        local function penalty()
          local reg = nil
          for _, p in ipairs(params) do
            local d = (p.t - p.t0):abs()
            local term
            if p.sel then
              term = #p.sel > 0 and d:index(1, p.sel):sum() / p.count or nil
            else
              term = d:mean()
            end
            if term then reg = reg and (reg + term) or term end
          end
          return reg * lambda
        end
        -- The reference anchors the penalty to clones that stay in its autograd
        -- graph, so the penalty's gradient cancels exactly: it is reported but
        -- does not pull. param_reg_gradient = true makes it pull.
        local reg_loss = reg_grad and penalty() or ci.no_grad(penalty)
        local loss = act_loss + reg_loss
        loss:backward()
        local loss_v = loss:item()
        -- gradients of the trained parameters; skip the step when anything is non-finite
        local ok = finite(loss_v)
        local total = 0
        local grads = log_fn and {} or nil
        for _, p in ipairs(params) do
          p.g = p.on and p.t.grad or nil
          if p.g and grads then grads[p.name] = p.g:clone() end
          if p.g then
            local gd = p.g.data
            for k = 0, p.g:numel() - 1 do
              local g = gd[k]
              if not finite(g) then ok = false end
              total = total + g * g
            end
          end
        end
        if not ok then
          if not quiet then
            bar.clear()
            io.stderr:write(fmt("%s: epoch %d: non-finite %s, skipping the step\n", WHERE, epoch,
                                finite(loss_v) and "gradient" or "loss"))
          end
          for _, p in ipairs(params) do p.t:zero_grad() end
        else
          -- clip to total norm 1 (torch's clip_grad_norm_), then Adam (torch defaults)
          total = math.sqrt(total)
          local coef = 1 / (total + 1e-6)
          if coef > 1 then coef = 1 end
          local b1, b2, eps = 0.9, 0.999, 1e-8
          for _, p in ipairs(params) do
            if p.g then
              p.step = p.step + 1
              local bc1 = 1 - b1 ^ p.step
              local bc2s = math.sqrt(1 - b2 ^ p.step)
              local gd, pd, m, v = p.g.data, p.t.data, p.m, p.v
              for k = 0, p.t:numel() - 1 do
                local g = gd[k] * coef
                m[k] = b1 * m[k] + (1 - b1) * g
                v[k] = b2 * v[k] + (1 - b2) * g * g
                pd[k] = pd[k] - (lr / bc1) * m[k] / (math.sqrt(v[k]) / bc2s + eps)
              end
            end
            p.g = nil
          end
          -- validation loss
          local val_v = nan
          if vsub.n > 0 then
            val_v = ci.no_grad(function()
              local vo = net:forward(val_inputs, { checkpoint_steps = ck })
              return loss_fn(predictions(vo, vsub, has_layer, n, L), vvals):item()
            end)
          end
          local act_v, reg_v = act_loss:item(), reg_loss:item()
          history.loss[#history.loss + 1] = loss_v
          history.mse_loss[#history.mse_loss + 1] = act_v
          history.param_reg_loss[#history.param_reg_loss + 1] = reg_v
          history.val_loss[#history.val_loss + 1] = val_v
          write_log { epoch = epoch, loss = loss_v, activation_loss = act_v, param_reg_loss = reg_v,
                      val_loss = val_v, grad_norm = total, grads = grads, learning_rate = lr,
                      param_reg_lambda = lambda }
          bar.update(epoch, fmt("loss %.6g", loss_v))
        end
        for _, p in ipairs(params) do p.t:zero_grad() end
      end
      bar.finish()
    end

    local ok, err = pcall(ci.training_mode, net,
      { train_slopes = train_slopes, train_biases = train_biases, divisive_strength = train_div,
        train_tau = train_tau }, run)
    close_log()
    for _, p in ipairs(params) do p.t:zero_grad() end
    if not ok then error(err, 0) end
    if net.activations then net.activations = net.activations:detach() end
    return net, history, train_inputs, val_inputs, train_targets, val_targets, train_idx, val_idx
  end
end
