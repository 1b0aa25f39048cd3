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
local P = require "cinterp.progress"
local util = require "cinterp.util"

local fmt, is_int, finite = string.format, util.is_int, util.is_finite
local nan = 0 / 0
local BETA1, BETA2, EPS = 0.9, 0.999, 1e-8 -- torch.optim.Adam's defaults
local LOG_FIELDS = { "epoch", "loss", "activation_loss", "param_reg_loss", "val_loss",
                     "grad_norm", "learning_rate", "param_reg_lambda" }

return function(ci)
  local WHERE = "ci.train_model"
  local E = ci._engine
  local C = E.C

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
              "(pred, target) -> scalar tensor, got %s", WHERE, tostring(fn)), 4)
  end

  -- Reads and checks the targets frame; returns rows {batch, neuron, layer|nil, value}
  -- and whether the layer column is present.
  local function read_targets(targets, B, n, L)
    if not ci.is_frame(targets) then
      error(fmt("%s: targets must be a ci.frame with columns batch, neuron_idx, [layer,] value, got %s",
                WHERE, type(targets)), 4)
    end
    for _, c in ipairs { "batch", "neuron_idx", "value" } do
      if not targets:has_column(c) then
        error(fmt("%s: targets is missing the column '%s' (needs batch, neuron_idx, value and " ..
                  "optionally layer)", WHERE, c), 4)
      end
    end
    local has_layer = targets:has_column("layer")
    local bcol, icol, vcol = targets:col("batch"), targets:col("neuron_idx"), targets:col("value")
    local lcol = has_layer and targets:col("layer") or nil
    if targets:nrow() == 0 then
      error(fmt("%s: targets has no rows (nothing to fit)", WHERE), 4)
    end
    local rows = {}
    for r = 1, targets:nrow() do
      local b, i, v = bcol[r], icol[r], vcol[r]
      if not is_int(b) or b < 1 or b > B then
        error(fmt("%s: targets row %d: batch = %s is out of range 1..%d (the batches of inputs)",
                  WHERE, r, tostring(b), B), 4)
      end
      if not is_int(i) or i < 1 or i > n then
        error(fmt("%s: targets row %d: neuron_idx = %s is out of range 1..%d", WHERE, r,
                  tostring(i), n), 4)
      end
      if type(v) ~= "number" then
        error(fmt("%s: targets row %d: value = %s is not a number", WHERE, r, tostring(v)), 4)
      end
      local l
      if has_layer then
        l = lcol[r]
        if not is_int(l) or l < 1 or l > L then
          error(fmt("%s: targets row %d: layer = %s is out of range 1..%d", WHERE, r,
                    tostring(l), L), 4)
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
        error(WHERE .. ": opts.train_indices must be a Lua array of batch indices", 4)
      end
      train = {}
      local seen = {}
      for k = 1, #ti do
        local b = ti[k]
        if not is_int(b) or b < 1 or b > B then
          error(fmt("%s: opts.train_indices[%d] = %s is out of range 1..%d", WHERE, k,
                    tostring(b), B), 4)
        end
        if seen[b] then error(fmt("%s: opts.train_indices has batch %d twice", WHERE, b), 4) end
        seen[b] = true
        train[k] = b
      end
      if #train == 0 then error(WHERE .. ": opts.train_indices is empty", 4) end
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

  -- The options with their defaults, checked (flag and number_opt raise at the user's level).
  local function read_options(opts)
    local o = {
      num_epochs = number_opt(opts, "num_epochs", 100, function(v) return is_int(v) and v >= 0 end,
                              "an integer >= 0"),
      learning_rate = number_opt(opts, "learning_rate", 0.01, function(v) return v >= 0 end, "a number >= 0"),
      param_reg_lambda = number_opt(opts, "param_reg_lambda", 0.01, finite, "a finite number"),
      train_fraction = number_opt(opts, "train_fraction", 0.8, function(v) return v > 0 and v <= 1 end,
                                  "in (0, 1]"),
      seed = number_opt(opts, "seed", 42, is_int, "an integer"),
      checkpoint_steps = number_opt(opts, "checkpoint_steps", 50, function(v) return is_int(v) and v >= 0 end,
                                    "an integer >= 0"),
      train_slopes = flag(opts, "train_slopes"), train_biases = flag(opts, "train_biases"),
      train_divisive_strength = flag(opts, "train_divisive_strength"), train_tau = flag(opts, "train_tau"),
      nudge_zero_biases = opts.nudge_zero_biases ~= false,
      param_reg_gradient = opts.param_reg_gradient and true or false,
      quiet = opts.quiet and true or false, loss_fn = resolve_loss(opts.activation_loss_fn),
      train_indices = opts.train_indices, log = opts.log, device = opts.device,
    }
    return o
  end

  -- The training batches and their targets, the validation ones, and the
  -- reference's model.parameters() with their anchors for the L1 penalty.
  local function check_inputs(inputs, S, L)
    if type(inputs) == "table" and getmetatable(inputs) == nil then inputs = ci.tensor(inputs) end
    if not ci.is_tensor(inputs) then
      error(WHERE .. ": inputs must be a ci.tensor of shape (batch, sensory neurons, num_layers)", 3)
    end
    if inputs:dim() ~= 3 or inputs:size(2) ~= S or inputs:size(3) ~= L or inputs:size(1) < 1 then
      error(fmt("%s: inputs must have shape (batch, %d, %d) (batch x sensory neurons x " ..
                "num_layers), got %s", WHERE, S, L, table.concat(inputs:size(), "x")), 3)
    end
    return inputs
  end

  -- The train / validation data: inputs, targets (frames and gather lists), values.
  local function split_data(inputs, targets, o, n, L)
    local B = inputs:size(1)
    local rows, has_layer = read_targets(targets, B, n, L)
    local train_idx, val_idx = split(B, o, o.train_fraction, o.seed)
    ci.manual_seed(o.seed)
    local d = { has_layer = has_layer, train_idx = train_idx, val_idx = val_idx,
                tsub = subset(rows, train_idx, has_layer, n, L),
                vsub = subset(rows, val_idx, has_layer, n, L),
                train_inputs = inputs:index(1, train_idx), val_inputs = inputs:index(1, val_idx) }
    d.train_targets, d.val_targets = subset_frame(targets, d.tsub), subset_frame(targets, d.vsub)
    d.tvals = ci.tensor(d.tsub.vals)
    d.vvals = d.vsub.n > 0 and ci.tensor(d.vsub.vals) or nil
    return d
  end

  -- The parameters of the model (the reference's model.parameters()), the
  -- denominators of their mean |p - p0| (divisive strength: one per pre group of
  -- divisive_normalization, as the reference stores it) and which are trained.
  local function model_parameters(net, o)
    local params = {
      { t = net.slope, on = o.train_slopes, name = "slope" },
      { t = net.raw_biases, on = o.train_biases, name = "raw_biases" },
      { t = net.tau_param, on = o.train_tau, name = "tau_param" },
    }
    if net.divisive_normalization ~= nil then
      local pre, npre = {}, 0
      for g in pairs(net.divisive_normalization) do
        npre = npre + 1
        if net.group_index[g] then pre[#pre + 1] = net.group_index[g] end
      end
      table.sort(pre)
      params[#params + 1] = { t = net.divisive_strength, on = o.train_divisive_strength, sel = pre,
                              count = npre, name = "divisive_strength" }
    end
    return params
  end

  -- The trained parameters as one flat block (values, gradients, Adam's moments),
  -- each parameter a range first .. first + numel - 1 with its own step count (as
  -- torch keeps per parameter). The nudge of zero raw biases comes first.
  local function flat_block(params, o)
    local N = 0
    for _, p in ipairs(params) do
      if p.on and p.name == "raw_biases" and o.nudge_zero_biases then
        local rb = p.t.data
        for k = 0, p.t:numel() - 1 do if rb[k] == 0 then rb[k] = 1e-6 end end
      end
      p.t0 = p.t:detach():clone()
      p.t:zero_grad()
      if p.on then p.first, p.numel, p.step, N = N, p.t:numel(), 0, N + p.t:numel() end
    end
    local blk = { value = ci.zeros(N), grad = ci.zeros(N), m = ci.zeros(N), v = ci.zeros(N), N = N }
    for _, p in ipairs(params) do
      if p.on then ffi.copy(blk.value.data + p.first, p.t.data, 4 * p.numel) end
    end
    return blk
  end

  -- The block's values written back into the network's parameters.
  local function scatter(params, blk)
    for _, p in ipairs(params) do
      if p.on then ffi.copy(p.t.data, blk.value.data + p.first, 4 * p.numel) end
    end
  end

  -- lambda * the sum over parameters of mean |p - p0| (on the tape with param_reg_gradient).
  local function penalty(params, lambda)
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

  -- The trained parameters' gradients into the block; returns their total L2
  -- norm, whether all are finite, and (for a log function) clones by name.
  local function gather_gradients(params, blk, want_clones)
    local gd, total, ok, grads = blk.grad.data, 0, true, want_clones and {} or nil
    ffi.fill(gd, 4 * blk.N)
    for _, p in ipairs(params) do
      p.has_grad = p.on and p.t.grad_t ~= nil
      if p.has_grad then
        local g = p.t.grad
        if grads then grads[p.name] = g:clone() end
        local src = g.data
        for k = 0, p.numel - 1 do
          local v = src[k]
          if not finite(v) then ok = false end
          total = total + v * v
          gd[p.first + k] = v
        end
      end
    end
    return math.sqrt(total), ok, grads
  end

  -- Clip the block's gradient to total norm 1 (torch's clip_grad_norm_), then one
  -- Adam step on each parameter that has a gradient; the network gets the values.
  local function optimiser_step(S, norm)
    local blk, gd = S.blk, S.blk.grad.data
    local coef = 1 / (norm + 1e-6)
    if coef < 1 then for k = 0, blk.N - 1 do gd[k] = gd[k] * coef end end
    for _, p in ipairs(S.params) do
      if p.has_grad then
        p.step = p.step + 1
        E.check(C.ci_adam_step(blk.value, blk.grad, blk.m, blk.v, p.first, p.numel, p.step,
                               S.o.learning_rate, BETA1, BETA2, EPS), WHERE)
      end
    end
    scatter(S.params, blk)
  end

  local function validation_loss(S)
    local d = S.data
    if d.vsub.n == 0 then return nan end
    return ci.no_grad(function()
      local vo = S.net:forward(d.val_inputs, { checkpoint_steps = S.o.checkpoint_steps })
      return S.o.loss_fn(predictions(vo, d.vsub, d.has_layer, S.net.n, S.net.num_layers), d.vvals):item()
    end)
  end

  -- One epoch: forward, activation loss and penalty, backward, then (when the loss
  -- and gradients are finite) clipping, Adam, validation, history and log.
  local function epoch_step(S, epoch)
    local net, o, d = S.net, S.o, S.data
    for _, p in ipairs(S.params) do p.t:zero_grad() end
    local out = net:forward(d.train_inputs, { checkpoint_steps = o.checkpoint_steps })
    local act_loss = o.loss_fn(predictions(out, d.tsub, d.has_layer, net.n, net.num_layers), d.tvals)
    -- The reference anchors the penalty to clones that stay in its autograd graph,
    -- so its gradient cancels exactly: it is reported but does not pull.
    -- param_reg_gradient = true makes it pull.
    local reg_loss = o.param_reg_gradient and penalty(S.params, o.param_reg_lambda) or
                     ci.no_grad(penalty, S.params, o.param_reg_lambda)
    local loss = act_loss + reg_loss
    loss:backward()
    local loss_v = loss:item()
    local norm, grads_finite, grads = gather_gradients(S.params, S.blk, S.log_grads)
    for _, p in ipairs(S.params) do p.t:zero_grad() end
    if not (finite(loss_v) and grads_finite) then
      if not o.quiet then
        if S.bar then S.bar:clear() end
        util.warn(WHERE, fmt("epoch %d: non-finite %s, skipping the step", epoch,
                             finite(loss_v) and "gradient" or "loss"))
      end
      return
    end
    optimiser_step(S, norm)
    local h, val_v, act_v, reg_v = S.history, validation_loss(S), act_loss:item(), reg_loss:item()
    h.loss[#h.loss + 1], h.mse_loss[#h.mse_loss + 1] = loss_v, act_v
    h.param_reg_loss[#h.param_reg_loss + 1], h.val_loss[#h.val_loss + 1] = reg_v, val_v
    S.write_log { epoch = epoch, loss = loss_v, activation_loss = act_v, param_reg_loss = reg_v,
                  val_loss = val_v, grad_norm = norm, grads = grads, learning_rate = o.learning_rate,
                  param_reg_lambda = o.param_reg_lambda }
    if S.bar then S.bar:update(epoch, fmt("loss %.6g", loss_v)) end
  end

  --- ci.train_model(net, inputs, targets, opts) -> net, history, train_inputs,
  --- val_inputs, train_targets, val_targets, train_indices, val_indices
  ---
  --- Ctrl-C (an error ending in "interrupted!") stops the training: it returns the
  --- parameters as they are and the history until then, with a warning on stderr
  --- (unless quiet).
  function ci.train_model(net, inputs, targets, opts)
    -- options: read, defaulted and checked here, in one place
    opts = opts or {}
    if type(opts) ~= "table" then error(WHERE .. ": opts must be a table", 2) end
    local o = read_options(opts)

    if not ci.is_network(net) then
      error(WHERE .. ": net must be a ci.MultilayeredNetwork or ci.LinearNetwork", 2)
    end
    if not net.groups then
      error(WHERE .. ": net has no trainable parameters (build it with idx_to_group)", 2)
    end
    ci._recipe_device(WHERE, net, o.device) -- "cuda" must match the network's device
    o.train_divisive_strength = o.train_divisive_strength and net.divisive_normalization ~= nil
    if not (o.train_slopes or o.train_biases or o.train_divisive_strength or o.train_tau) then
      error(WHERE .. ": nothing to train (train_slopes, train_biases, train_divisive_strength " ..
            "and train_tau are all off)", 2)
    end
    inputs = check_inputs(inputs, #net.sensory_indices, net.num_layers)
    local d = split_data(inputs, targets, o, net.n, net.num_layers)
    local S = { net = net, o = o, data = d, params = model_parameters(net, o),
                log_grads = type(o.log) == "function",
                history = { loss = {}, mse_loss = {}, param_reg_loss = {}, val_loss = {} } }
    local close_log
    S.write_log, close_log = util.open_log(WHERE, o.log, LOG_FIELDS)
    S.blk = flat_block(S.params, o)
    S.bar = not o.quiet and P.new(o.num_epochs) or nil
    local ok, err = pcall(ci.training_mode, net,
      { train_slopes = o.train_slopes, train_biases = o.train_biases,
        divisive_strength = o.train_divisive_strength, train_tau = o.train_tau },
      function() for epoch = 1, o.num_epochs do epoch_step(S, epoch) end end)
    if S.bar then S.bar:finish(#S.history.loss) end
    close_log()
    for _, p in ipairs(S.params) do p.t:zero_grad() end
    local interrupted = not ok and util.is_interrupt(err)
    if not ok and not interrupted then error(err, 0) end
    if interrupted then
      scatter(S.params, S.blk) -- completes a step the interrupt may have cut short
      if not o.quiet then
        util.warn(WHERE, fmt("interrupted after %d epochs: returning the parameters as they are " ..
                             "and the history until then", #S.history.loss))
      end
    end
    if net.activations then net.activations = net.activations:detach() end
    return net, S.history, d.train_inputs, d.val_inputs, d.train_targets, d.val_targets, d.train_idx,
           d.val_idx
  end
end
