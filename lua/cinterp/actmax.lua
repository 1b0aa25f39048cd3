-- actmax.lua: ci.activation_maximisation, the seed's activation maximisation:
-- Adam on the network's input so that chosen activations reach target values,
-- with L1+L2 (or custom) regularisation of the input and of the activations,
-- early stopping, snapshots, a progress bar and per-iteration logging.
--
-- Two paths that compute the same numbers: without custom regularisers the
-- loss and its gradient w.r.t. the activations are computed by hand (ffi loops
-- over the float data) and pushed through the network's tape node with
-- out:backward(G); with custom regularisers the whole loss is built from
-- tensor ops and differentiated by the tape.
local ffi = require "ffi"
local P = require "cinterp.progress"

return function(ci)
  local E = ci._engine
  local C = E.C
  local where = "ci.activation_maximisation"
  local abs, sqrt, tanh, floor = math.abs, math.sqrt, math.tanh, math.floor

  local function is_int(v) return type(v) == "number" and v == floor(v) and v == v end

  local function shape_str(t) return "(" .. table.concat(t:size(), "x") .. ")" end

  -- Drops our reference to a tensor now instead of waiting for Lua's GC (the
  -- forward node behind an output holds the network's stored states).
  local function release(t)
    if t ~= nil then
      ffi.gc(t, nil)
      C.ci_tensor_release(t)
    end
  end

  local function opt(o, k, default)
    local v = o[k]
    if v == nil then return default end
    return v
  end

  -- Squeezes the leading batch dimension of a (1, a, b) tensor.
  local function squeeze1(t) return t:select(1, 1):clone() end

  -- Snapshot: tanh(x if x >= th else 0) of the unclamped input.
  local function snapshot(u, th, squeeze)
    local s = ci.zeros(u:size())
    local src, dst = u.data, s.data
    for k = 0, tonumber(u.nel) - 1 do
      local v = src[k]
      dst[k] = v >= th and tanh(v) or 0
    end
    if squeeze then return squeeze1(s) end
    return s
  end

  -- lam (||x||_1 + ||x||_2) of a tensor; its gradient overwrites grad (C, deterministic).
  local reg_out = ffi.new("double[1]")
  local function reg_value(x, lam, grad)
    E.check(C.ci_l1l2_regulariser(x, lam, grad, reg_out), where)
    return reg_out[0]
  end

  local function open_log(log)
    if log == nil then return nil end
    if type(log) == "function" then return log, nil end
    if type(log) == "string" then
      local f, err = io.open(log, "w")
      if not f then error(where .. ": log: cannot open '" .. log .. "' for writing: " .. tostring(err), 3) end
      f:write("iteration,loss,activation_loss,in_regularisation_loss,out_regularisation_loss\n")
      return function(r)
        f:write(string.format("%d,%.9g,%.9g,%.9g,%.9g\n", r.iteration, r.loss, r.activation_loss,
                              r.in_regularisation_loss, r.out_regularisation_loss))
      end, f
    end
    error(where .. ": log must be a function (called with a table per iteration) or a CSV path, got " ..
          type(log), 3)
  end

  --- ci.activation_maximisation(net, targets, opts) -> input, output, act_loss,
  --- out_reg_losses, in_reg_losses, snapshots
  function ci.activation_maximisation(net, targets, opts)
    opts = opts or {}
    if type(opts) ~= "table" then error(where .. ": opts must be a table", 2) end
    if not ci.is_network(net) then
      error(where .. ": net must be a ci.MultilayeredNetwork or ci.LinearNetwork, got " .. type(net), 2)
    end
    ci._recipe_device(where, net, opts.device) -- "cuda" must match the network's device
    if not ci.is_target_activation(targets) then
      if type(targets) == "table" then
        targets = ci.TargetActivation { targets = targets, batch_size = opts.batch_size }
      else
        error(where .. ": targets must be a ci.TargetActivation (or its targets table / frame), got " ..
              type(targets), 2)
      end
    end
    local num_iterations = opt(opts, "num_iterations", 50)
    local lr = opt(opts, "learning_rate", 0.1)
    local lam_in = opt(opts, "in_reg_lambda", 0.01)
    local lam_out = opt(opts, "out_reg_lambda", 0.01)
    local custom = opts.custom_reg_functions
    local early_stopping = opt(opts, "early_stopping", true)
    local stopping_threshold = opt(opts, "stopping_threshold", 1e-5)
    local n_runs = opt(opts, "n_runs", 10)
    local quiet = opt(opts, "quiet", false)
    local use_bar = opt(opts, "use_tqdm", opt(opts, "progress", true)) and not quiet
    local print_output = opt(opts, "print_output", true) and not quiet
    local normalize_gradients = opt(opts, "normalize_gradients", false)
    if not is_int(num_iterations) or num_iterations < 0 then
      error(where .. ": num_iterations must be an integer >= 0, got " .. tostring(num_iterations), 2)
    end
    if not is_int(n_runs) or n_runs < 1 then
      error(where .. ": n_runs must be an integer >= 1, got " .. tostring(n_runs), 2)
    end
    for name, v in pairs { learning_rate = lr, in_reg_lambda = lam_in, out_reg_lambda = lam_out,
                           stopping_threshold = stopping_threshold } do
      if type(v) ~= "number" then error(where .. ": " .. name .. " must be a number, got " .. type(v), 2) end
    end
    local f_in, f_out
    if custom ~= nil then
      if type(custom) ~= "table" then
        error(where .. ": custom_reg_functions must be a table {[\"in\"] = f, out = g}", 2)
      end
      for k, f in pairs(custom) do
        if k ~= "in" and k ~= "out" then
          error(where .. ": custom_reg_functions has an unknown key '" .. tostring(k) ..
                "' (use \"in\" and \"out\")", 2)
        end
        if type(f) ~= "function" then
          error(where .. ": custom_reg_functions." .. k .. " must be a function of a tensor", 2)
        end
      end
      f_in, f_out = custom["in"], custom.out
    end
    local tape_path = (f_in ~= nil or f_out ~= nil) or opts._tape_path == true

    local n, L, S = net.n, net.num_layers, #net.sensory_indices
    local B = targets.batch_size
    local th = net.threshold

    -- targets -> offsets into the (B, n, L) output and per-entry weights
    local t_off, t_val, t_w = {}, {}, {}
    for b = 1, B do
      local ls, ns, vs = targets:_batch_list(b)
      local cnt = #ls
      for k = 1, cnt do
        local l, i = ls[k], ns[k]
        if l > L then
          error(string.format("%s: targets: layer %d (batch %d) is out of range 1..%d (num_layers)",
                              where, l, b, L), 2)
        end
        if i > n then
          error(string.format("%s: targets: neuron %d (batch %d, layer %d) is out of range 1..%d",
                              where, i, b, l, n), 2)
        end
        t_off[#t_off + 1] = ((b - 1) * n + (i - 1)) * L + (l - 1)
        t_val[#t_val + 1] = vs[k]
        t_w[#t_w + 1] = 1 / (cnt * B)
      end
    end
    local nt = #t_off

    -- the input being optimised
    local u
    if opts.input_tensor ~= nil then
      local x = opts.input_tensor
      if type(x) == "table" and getmetatable(x) == nil then x = ci.tensor(x) end
      if not ci.is_tensor(x) then
        error(where .. ": input_tensor must be a ci.tensor, got " .. type(x), 2)
      end
      if x:dim() == 2 and B == 1 and x:size(1) == S and x:size(2) == L then
        x = x:reshape(1, S, L)
      end
      if x:dim() ~= 3 or x:size(1) ~= B or x:size(2) ~= S or x:size(3) ~= L then
        error(string.format("%s: input_tensor must have shape (batch_size, sensory neurons, " ..
                            "num_layers) = (%d, %d, %d), got %s", where, B, S, L, shape_str(x)), 2)
      end
      u = x:detach() -- a copy, off the tape
    else
      if opts.seed ~= nil then ci.manual_seed(opts.seed) end
      u = ci.rand(B, S, L)
    end
    u:requires_grad(true)
    local N = tonumber(u.nel)
    local NO = B * n * L

    local m_state, v_state = ci.zeros(math.max(N, 1)), ci.zeros(math.max(N, 1))
    local md, vd = m_state.data, v_state.data
    local b1, b2, eps = 0.9, 0.999, 1e-8
    local grad = ffi.new("double[?]", math.max(N, 1)) -- the total input gradient
    local gextra = ci.zeros(math.max(N, 1)) -- the input regulariser's gradient (fast path)
    local ged = gextra.data
    local G = (not tape_path) and ci.zeros(B, n, L) or nil
    local Wt, Vt
    if tape_path then
      Wt, Vt = ci.zeros(B, n, L), ci.zeros(B, n, L)
      for k = 1, nt do
        Wt.data[t_off[k]] = t_w[k]
        Vt.data[t_off[k]] = t_val[k]
      end
    end

    local logfn, logfile = open_log(opts.log)
    local bar = use_bar and P.new(num_iterations, { quiet = quiet }) or nil

    local snapshots, act_loss, out_reg_losses, in_reg_losses, losses = {}, {}, {}, {}, {}
    local squeeze = B == 1
    local old_grad = ci.set_grad_enabled(true)
    local ok, err = pcall(function()
      for it = 0, num_iterations - 1 do
        u.grad = nil
        local out = net:forward(u)
        net.activations = nil
        if it % 5 == 0 then snapshots[#snapshots + 1] = snapshot(u, th, squeeze) end
        local act, in_reg, out_reg
        local loss_t
        if not tape_path then
          local od, gd = out.data, G.data
          -- output regulariser lam (||X||_1 + ||X||_2) and its gradient, in C
          out_reg = reg_value(out, lam_out, G)
          -- activation loss: mean over batches of the per-batch mean squared error
          act = 0
          for k = 1, nt do
            local o = t_off[k]
            local d = od[o] - t_val[k]
            act = act + t_w[k] * d * d
            gd[o] = gd[o] + 2 * t_w[k] * d
          end
          in_reg = reg_value(u, lam_in, gextra)
        else
          local d = out - Vt
          local act_t = (Wt * d * d):sum()
          local function reg(f, x, name)
            if f == nil then return x:norm(1) + x:norm(2) end
            local r = f(x)
            if type(r) == "number" then r = ci.tensor(r) end
            if not ci.is_tensor(r) or r:numel() ~= 1 then
              error(where .. ": custom_reg_functions." .. name .. " must return a one-element tensor", 0)
            end
            return r
          end
          local in_t = reg(f_in, u, "in") * lam_in
          local out_t = reg(f_out, out, "out") * lam_out
          act, in_reg, out_reg = act_t:item(), in_t:item(), out_t:item()
          loss_t = act_t + in_t + out_t
        end
        local loss = act + in_reg + out_reg
        losses[#losses + 1] = loss
        if early_stopping and it > n_runs then
          local lo, hi = math.huge, -math.huge
          for k = #losses - n_runs + 1, #losses do
            local v = losses[k]
            if v < lo then lo = v end
            if v > hi then hi = v end
          end
          if hi - lo < stopping_threshold then
            release(out)
            break
          end
        end
        if logfn then
          logfn { iteration = it + 1, loss = loss, activation_loss = act,
                  in_regularisation_loss = in_reg, out_regularisation_loss = out_reg }
        end
        act_loss[#act_loss + 1] = act
        out_reg_losses[#out_reg_losses + 1] = out_reg
        in_reg_losses[#in_reg_losses + 1] = in_reg

        -- gradient of the loss w.r.t. the input
        if not tape_path then
          out:backward(G)
        else
          loss_t:backward()
          release(loss_t)
        end
        release(out)
        local gt = u.grad_t
        local gd
        if gt == nil then
          gd = nil
        else
          gd = gt.data
        end
        local ud = u.data
        for k = 0, N - 1 do
          grad[k] = (gd ~= nil and gd[k] or 0) + (tape_path and 0 or ged[k])
        end
        if normalize_gradients then
          -- each timepoint's gradient divided by its L2 norm over batch and sensory neurons
          for l = 0, L - 1 do
            local ss = 0
            for k = l, N - 1, L do ss = ss + grad[k] * grad[k] end
            local nrm = sqrt(ss)
            if nrm > 0 then
              for k = l, N - 1, L do grad[k] = grad[k] / nrm end
            end
          end
        end
        -- Adam (torch's update rule and defaults)
        local step = it + 1
        local bc1, bc2s = 1 - b1 ^ step, sqrt(1 - b2 ^ step)
        local step_size = lr / bc1
        for k = 0, N - 1 do
          local g = grad[k]
          md[k] = md[k] + (g - md[k]) * (1 - b1)
          vd[k] = vd[k] * b2 + (1 - b2) * g * g
          ud[k] = ud[k] - step_size * md[k] / (sqrt(vd[k]) / bc2s + eps)
        end
        if print_output and it % 10 == 0 then
          if bar then bar:clear() end
          io.write(string.format("Iteration %d: Activation Loss = %.9g, Input regularization Loss = %.9g, " ..
                                 "Output regularization Loss = %.9g\n", it + 1, act, in_reg, out_reg))
          io.flush()
        end
        if bar then bar:update(it + 1, string.format("loss %.4g", loss)) end
      end
    end)
    ci.set_grad_enabled(old_grad)
    if bar then bar:finish(#act_loss) end
    if logfile then logfile:close() end
    u:requires_grad(false)
    if not ok then error(err, 0) end
    if print_output and #act_loss > 0 then
      io.write(string.format("Final - Activation loss: %.9g, Input reg: %.9g, Output reg: %.9g\n",
                             act_loss[#act_loss], in_reg_losses[#in_reg_losses],
                             out_reg_losses[#out_reg_losses]))
    end
    local final = u:detach():clamp(-1, 1)
    local output = ci.no_grad(function() return net:forward(final) end)
    if squeeze then
      final = squeeze1(final)
      output = squeeze1(output)
      net.activations = output
    end
    return final, output, act_loss, out_reg_losses, in_reg_losses, snapshots
  end
end
