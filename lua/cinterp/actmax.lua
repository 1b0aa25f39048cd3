-- actmax.lua: ci.activation_maximisation, the seed's activation maximisation:
-- Adam (core/adam.c) on the network's input so that chosen activations reach
-- target values, with L1+L2 (or custom) regularisation of the input and of the
-- activations, early stopping, snapshots, a progress bar and per-iteration logging.
--
-- The run is split into parts, each its own optimisation problem over a
-- contiguous range of batches: one part holding every batch (the reference's
-- behaviour), or with independent_batches one part per batch. Losses, early
-- stopping, gradient normalisation, the best input (kept for an interrupt) and
-- the Adam ranges are per part; once a part has stopped, the forward runs on
-- the active parts' batches only.
--
-- keep_best returns the input with the lowest loss seen (per part) instead of the
-- last iterate; a run whose activation loss ends higher than it began warns, naming
-- the regularisation lambdas (the usual cause: the regularisers outweigh the targets).
--
-- The loss and its gradient w.r.t. the activations are computed by hand (ffi
-- loops and the engine's L1+L2 regulariser) and pushed through the network's
-- tape node with out:backward(G). A custom regulariser is differentiated by the
-- tape over a copy of its part's slice alone (the input's (count, S, L), or the
-- output's (count, n, L)), and its gradient joins the hand-computed ones; so a
-- custom input penalty costs a few small tensor ops, not dense ops over the
-- whole output. The private option _tape_path builds the whole loss from tensor
-- ops instead (tests check that both paths give the same numbers).
local ffi = require "ffi"
local P = require "cinterp.progress"
local util = require "cinterp.util"
local O = require "cinterp.options"

local fmt, tanh, sqrt = string.format, math.tanh, math.sqrt
local release, flat_view = util.release, util.flat_view
local BETA1, BETA2, EPS = 0.9, 0.999, 1e-8 -- torch.optim.Adam's defaults
local LOG_FIELDS = { "iteration", "loss", "activation_loss", "in_regularisation_loss",
                     "out_regularisation_loss" }

return function(ci)
  local E = ci._engine
  local C = E.C
  local where = "ci.activation_maximisation"
  local DECL -- the declaration, at the end of the file

  -- ------------------------------------------------------------ options

  -- What the declaration cannot say: the keys of custom_reg_functions.
  local function check_custom_reg(custom)
    if custom == nil then return end
    for k, f in pairs(custom) do
      if k ~= "in" and k ~= "out" then
        error(where .. ": custom_reg_functions has an unknown key '" .. tostring(k) ..
              "' (use \"in\" and \"out\")", 3)
      end
      if type(f) ~= "function" then
        error(where .. ": custom_reg_functions." .. k .. " must be a function of a tensor", 3)
      end
    end
  end

  -- ------------------------------------------------------------ the problem

  local function as_targets(targets, batch_size)
    if ci.is_target_activation(targets) then return targets end
    if type(targets) == "table" then
      return ci.TargetActivation { targets = targets, batch_size = batch_size }
    end
    error(where .. ": targets must be a ci.TargetActivation (or its targets table / frame), got " ..
          util.type_name(targets), 3)
  end

  -- The parts: batches first .. first + count - 1, with their element ranges in the
  -- input (0-based) and the output, their targets as offsets into the part's
  -- output with values and loss weights (the mean over a batch's targets, averaged over
  -- the part's batches), and their histories.
  local function new_parts(net, targets, independent)
    local n, L, S, B = net.n, net.num_layers, #net.sensory_indices, targets.batch_size
    local count = independent and 1 or B -- batches per part
    local parts = {}
    for first = 1, B, count do
      parts[#parts + 1] = { first = first, count = count, off = {}, val = {}, w = {}, active = true,
                            losses = {}, act_h = {}, in_h = {}, out_h = {}, best_loss = math.huge,
                            in_first = (first - 1) * S * L, in_count = count * S * L,
                            out_first = (first - 1) * n * L, out_count = count * n * L }
    end
    for b = 1, B do
      local p = parts[math.floor((b - 1) / count) + 1]
      local ls, ns, vs = targets:_batch_list(b)
      for k = 1, #ls do
        local l, i = ls[k], ns[k]
        if l > L then
          error(fmt("%s: targets: layer %d (batch %d) is out of range 1..%d (num_layers)", where, l, b, L), 4)
        end
        if i > n then
          error(fmt("%s: targets: neuron %d (batch %d, layer %d) is out of range 1..%d", where, i, b, l,
                    n), 4)
        end
        p.off[#p.off + 1] = ((b - p.first) * n + (i - 1)) * L + (l - 1) -- within the part's output
        p.val[#p.val + 1] = vs[k]
        p.w[#p.w + 1] = 1 / (#ls * count)
      end
    end
    return parts
  end

  -- The input being optimised: a copy of input_tensor, or uniform [0, 1) draws.
  local function initial_input(x, seed, B, S, L)
    if x == nil then
      if seed ~= nil then ci.manual_seed(seed) end
      return ci.rand(B, S, L)
    end
    if type(x) == "table" and getmetatable(x) == nil then x = ci.tensor(x) end
    if not ci.is_tensor(x) then
      error(where .. ": input_tensor must be a ci.tensor, got " .. util.type_name(x), 4)
    end
    if x:dim() == 2 and B == 1 and x:size(1) == S and x:size(2) == L then x = x:reshape(1, S, L) end
    if x:dim() ~= 3 or x:size(1) ~= B or x:size(2) ~= S or x:size(3) ~= L then
      error(fmt("%s: input_tensor must have shape (batch_size, sensory neurons, num_layers) = " ..
                "(%d, %d, %d), got %s", where, B, S, L, util.shape_str(x)), 4)
    end
    return x:detach() -- a copy, off the tape
  end

  -- The run: the problem, the input, Adam's moments and its gradient.
  local function new_run(net, targets, o)
    local n, L, S, B = net.n, net.num_layers, #net.sensory_indices, targets.batch_size
    local custom = o.custom_reg_functions or {}
    local R = { net = net, o = o, n = n, L = L, S = S, B = B, th = net.threshold,
                f_in = custom["in"], f_out = custom.out,
                parts = new_parts(net, targets, o.independent_batches),
                u = initial_input(o.input_tensor, o.seed, B, S, L), snapshots = {}, iterations = 0 }
    R.tape = o.tape_path
    R.active = #R.parts -- parts still optimised
    R.u:requires_grad(true)
    R.best = R.u:detach()
    local N = B * S * L
    R.m, R.v, R.g = ci.zeros(N), ci.zeros(N), ci.zeros(N)
    return R
  end

  -- ------------------------------------------------------------ the pass

  -- The batches the forward runs on: every batch (the input itself) or, once
  -- parts of an independent run have stopped, only the active ones packed into
  -- a fresh input (a batch's result does not depend on its neighbours, and a
  -- stopped batch costs no more forwards). Each part in the pass gets its
  -- position: p.pos (its first batch there), p.cin and p.cout (element offsets
  -- in the pass's input and output). Buffers: hand path, G = d loss / d output
  -- and g_in = d (input regularisation) / d input; tape path, the targets'
  -- weights Wt and values Vt.
  local function new_pass(R)
    local X = { parts = {}, B = 0 }
    for _, p in ipairs(R.parts) do
      if p.active then
        p.pos, p.cin, p.cout = X.B + 1, X.B * R.S * R.L, X.B * R.n * R.L
        X.B = X.B + p.count
        X.parts[#X.parts + 1] = p
      end
    end
    X.full = X.B == R.B
    X.x = X.full and R.u or ci.zeros(X.B, R.S, R.L):requires_grad(true)
    if not R.tape then
      X.G, X.g_in = ci.zeros(X.B, R.n, R.L), ci.zeros(X.B * R.S * R.L)
      return X
    end
    X.Wt, X.Vt = ci.zeros(X.B, R.n, R.L), ci.zeros(X.B, R.n, R.L)
    for _, p in ipairs(X.parts) do
      for k = 1, #p.off do X.Wt.data[p.cout + p.off[k]], X.Vt.data[p.cout + p.off[k]] = p.w[k], p.val[k] end
    end
    return X
  end

  -- This iteration's pass (rebuilt after a part has stopped), its input up to date.
  local function current_pass(R)
    if R.pass == nil or #R.pass.parts ~= R.active then R.pass = new_pass(R) end
    local X = R.pass
    X.x.grad = nil
    if not X.full then
      for _, p in ipairs(X.parts) do ffi.copy(X.x.data + p.cin, R.u.data + p.in_first, 4 * p.in_count) end
    end
    return X
  end

  -- ------------------------------------------------------------ one iteration

  -- Snapshot: tanh(x if x >= th else 0) of the unclamped input.
  local function snapshot(R)
    local s = ci.zeros(R.B, R.S, R.L)
    local src, dst = R.u.data, s.data
    for k = 0, tonumber(R.u.nel) - 1 do
      local v = src[k]
      dst[k] = v >= R.th and tanh(v) or 0
    end
    R.snapshots[#R.snapshots + 1] = R.B == 1 and s:select(1, 1):clone() or s
  end

  -- lam (||x||_1 + ||x||_2) of elements first .. first + count - 1 of x; their
  -- gradient overwrites the same elements of grad (the engine, deterministic).
  local reg_out = ffi.new("double[1]")
  local function l1l2(x, grad, first, count, lam)
    E.check(C.ci_l1l2_regulariser(flat_view(x, first, count), lam, flat_view(grad, first, count),
                                  reg_out), where)
    return reg_out[0]
  end

  -- A regulariser's value: ||x||_1 + ||x||_2, or the custom function's scalar tensor.
  local function regulariser(f, x, name)
    if f == nil then return x:norm(1) + x:norm(2) end
    local r = f(x)
    if type(r) == "number" then r = ci.tensor(r) end
    if not ci.is_tensor(r) or r:numel() ~= 1 then
      error(where .. ": custom_reg_functions." .. name .. " must return a one-element tensor", 0)
    end
    return r
  end

  -- lam f(slice) for the elements first .. first + count - 1 of t, seen as a
  -- (batches, rows, L) tensor: the custom regulariser f on the tape over a copy
  -- of the slice alone; lam times its gradient overwrites the same elements of grad.
  local function custom_part(f, name, t, grad, first, count, batches, rows, L, lam)
    local s = ci.zeros(batches, rows, L)
    ffi.copy(s.data, t.data + first, 4 * count)
    s:requires_grad(true)
    local r = regulariser(f, s, name)
    local value = lam * r:item()
    local g = flat_view(grad, first, count)
    E.check(C.ci_tensor_fill_(g, 0), where)
    if lam ~= 0 then
      r:backward()
      if s.grad ~= nil then E.check(C.ci_tensor_add_(g, flat_view(s.grad, 0, count), lam), where) end
    end
    if r ~= s then release(r) end
    release(s)
    return value
  end

  -- Hand-computed losses of the pass's parts, with X.G and X.g_in (custom
  -- regularisers through custom_part).
  local function losses_by_hand(R, X, out)
    local o, od, gd = R.o, out.data, X.G.data
    for _, p in ipairs(X.parts) do
      -- the regularisers first (a custom one is called on the input, then on the
      -- output); the output's overwrites G, the targets' gradient then adds to it
      if R.f_in then
        p.in_reg = custom_part(R.f_in, "in", X.x, X.g_in, p.cin, p.in_count, p.count, R.S, R.L,
                               o.in_reg_lambda)
      else
        p.in_reg = l1l2(X.x, X.g_in, p.cin, p.in_count, o.in_reg_lambda)
      end
      if R.f_out then
        p.out_reg = custom_part(R.f_out, "out", out, X.G, p.cout, p.out_count, p.count, R.n, R.L,
                                o.out_reg_lambda)
      else
        p.out_reg = l1l2(out, X.G, p.cout, p.out_count, o.out_reg_lambda)
      end
      local act = 0
      for k = 1, #p.off do
        local at, w = p.cout + p.off[k], p.w[k]
        local d = od[at] - p.val[k]
        act = act + w * d * d
        gd[at] = gd[at] + 2 * w * d
      end
      p.act = act
    end
  end

  -- The losses of the pass's parts as tensor ops; returns their sum (on the tape).
  local function losses_on_tape(R, X, out)
    local o, total = R.o, nil
    local d = out - X.Vt
    local sq = X.Wt * d * d
    for _, p in ipairs(X.parts) do
      local function slice(t) return p.count == X.B and t or t:narrow(1, p.pos, p.count) end
      local act_t = slice(sq):sum()
      local in_t = regulariser(R.f_in, slice(X.x), "in") * o.in_reg_lambda
      local out_t = regulariser(R.f_out, slice(out), "out") * o.out_reg_lambda
      p.act, p.in_reg, p.out_reg = act_t:item(), in_t:item(), out_t:item()
      local loss = act_t + in_t + out_t
      total = total and total + loss or loss
    end
    return total
  end

  -- Whether a loss history has been flat (within threshold) over its last n_runs
  -- entries, checked from (0-based) iteration n_runs + 1 on, as the reference.
  local function converged(o, losses, it)
    if not o.early_stopping or it <= o.n_runs then return false end
    local lo, hi = math.huge, -math.huge
    for k = #losses - o.n_runs + 1, #losses do
      lo, hi = math.min(lo, losses[k]), math.max(hi, losses[k])
    end
    return hi - lo < o.stopping_threshold
  end

  -- Each active part: its loss joins its history, then it stops (early stopping:
  -- the iteration is not recorded, its input stays as it is) or the iteration is
  -- recorded and its best input updated. Returns whether any part is still active.
  local function record(R, it)
    local any = false
    for _, p in ipairs(R.parts) do
      if p.active then
        p.loss = p.act + p.in_reg + p.out_reg
        p.losses[#p.losses + 1] = p.loss
        if converged(R.o, p.losses, it) then
          p.active, p.loss, R.active = false, nil, R.active - 1
        else
          any = true
          p.act_h[#p.act_h + 1], p.in_h[#p.in_h + 1], p.out_h[#p.out_h + 1] = p.act, p.in_reg, p.out_reg
          if p.loss < p.best_loss then
            ffi.copy(R.best.data + p.in_first, R.u.data + p.in_first, 4 * p.in_count)
            p.best_loss, p.best_iteration = p.loss, it + 1
          end
        end
      end
    end
    return any
  end

  -- The figures of an iteration: totals over the parts recorded in it and, with
  -- independent batches, per-batch arrays (NaN for a batch that has stopped).
  local function iteration_row(R, it)
    local row = { iteration = it + 1, loss = 0, activation_loss = 0, in_regularisation_loss = 0,
                  out_regularisation_loss = 0 }
    local per = R.o.independent_batches
    if per then
      row.batch_loss, row.batch_activation_loss, row.active = {}, {}, {}
      row.batch_in_regularisation_loss, row.batch_out_regularisation_loss = {}, {}
    end
    for b, p in ipairs(R.parts) do
      local on = p.loss ~= nil
      if on then
        row.loss = row.loss + p.loss
        row.activation_loss = row.activation_loss + p.act
        row.in_regularisation_loss = row.in_regularisation_loss + p.in_reg
        row.out_regularisation_loss = row.out_regularisation_loss + p.out_reg
      end
      if per then
        local nan = 0 / 0
        row.active[b] = on
        row.batch_loss[b], row.batch_activation_loss[b] = on and p.loss or nan, on and p.act or nan
        row.batch_in_regularisation_loss[b] = on and p.in_reg or nan
        row.batch_out_regularisation_loss[b] = on and p.out_reg or nan
      end
    end
    return row
  end

  -- Each part's gradient at each timepoint divided by its L2 norm over the part.
  local function normalise_gradient(R, X)
    local gd, L = R.g.data, R.L
    for _, p in ipairs(X.parts) do
      local last = p.in_first + p.in_count - 1
      for l = p.in_first, p.in_first + L - 1 do
        local ss = 0
        for k = l, last, L do ss = ss + gd[k] * gd[k] end
        local nrm = sqrt(ss)
        if nrm > 0 then for k = l, last, L do gd[k] = gd[k] / nrm end end
      end
    end
  end

  -- R.g = d loss / d input on the pass's parts (from the pass's input), normalised
  -- with normalize_gradients.
  local function input_gradient(R, X, out, loss_t)
    if R.tape then loss_t:backward() else out:backward(X.G) end
    local gt = X.x.grad_t
    for _, p in ipairs(X.parts) do
      local g = flat_view(R.g, p.in_first, p.in_count)
      local from_x = gt ~= nil and flat_view(gt, p.cin, p.in_count) or nil
      if R.tape and from_x then
        E.check(C.ci_tensor_copy_(g, from_x), where)
      elseif R.tape then
        E.check(C.ci_tensor_fill_(g, 0), where)
      else -- the input regulariser's gradient plus the network's
        E.check(C.ci_tensor_copy_(g, flat_view(X.g_in, p.cin, p.in_count)), where)
        if from_x then E.check(C.ci_tensor_add_(g, from_x, 1), where) end
      end
    end
    if R.o.normalize_gradients then normalise_gradient(R, X) end
  end

  -- One Adam step on the input ranges of the active parts.
  local function adam_step(R, step)
    for _, p in ipairs(R.parts) do
      if p.active then
        E.check(C.ci_adam_step(R.u, R.g, R.m, R.v, p.in_first, p.in_count, step, R.o.learning_rate,
                               BETA1, BETA2, EPS), where)
      end
    end
  end

  -- Iteration it (0-based): forward, snapshot, losses, record, log, gradient,
  -- step, report. Returns false when every part has stopped.
  local function iterate(R, it)
    local X = current_pass(R)
    local out = R.net:forward(X.x)
    R.net.activations = nil
    if it % 5 == 0 then snapshot(R) end
    local loss_t = R.tape and losses_on_tape(R, X, out) or losses_by_hand(R, X, out)
    if not record(R, it) then
      release(loss_t); release(out)
      return false
    end
    R.iterations = it + 1
    local row = iteration_row(R, it)
    R.write_log(row)
    input_gradient(R, X, out, loss_t)
    release(loss_t); release(out)
    adam_step(R, it + 1)
    if R.print_output and it % 10 == 0 then
      if R.bar then R.bar:clear() end
      io.write(fmt("Iteration %d: Activation Loss = %.9g, Input regularization Loss = %.9g, " ..
                   "Output regularization Loss = %.9g\n", it + 1, row.activation_loss,
                   row.in_regularisation_loss, row.out_regularisation_loss))
      io.flush()
    end
    if R.bar then R.bar:update(it + 1, fmt("loss %.4g", row.loss)) end
    return true
  end

  -- ------------------------------------------------------------ the results

  local function histories(R)
    local act, out_reg, in_reg = {}, {}, {}
    for k, p in ipairs(R.parts) do act[k], out_reg[k], in_reg[k] = p.act_h, p.out_h, p.in_h end
    if not R.o.independent_batches then return act[1], out_reg[1], in_reg[1] end
    return act, out_reg, in_reg
  end

  local function print_final(R)
    local a, i, o, any = 0, 0, 0, false
    for _, p in ipairs(R.parts) do
      local k = #p.act_h
      if k > 0 then a, i, o, any = a + p.act_h[k], i + p.in_h[k], o + p.out_h[k], true end
    end
    if any then
      io.write(fmt("Final - Activation loss: %.9g, Input reg: %.9g, Output reg: %.9g\n", a, i, o))
    end
  end

  local function warn_interrupted(R)
    local best = {}
    for _, p in ipairs(R.parts) do
      best[#best + 1] = p.best_iteration and fmt("%d (loss %.6g)", p.best_iteration, p.best_loss) or
                        "the start"
    end
    util.warn(where, fmt("interrupted after %d iterations: returning the best input so far " ..
                         "(iteration %s) and the losses until then", R.iterations, table.concat(best, ", ")))
  end

  -- When a part's activation loss ended higher than it began: a warning naming the
  -- regularisation lambdas, which usually cause it (the regularisers outweigh the
  -- targets: the output one sums over every neuron and layer).
  local function warn_rising(R)
    local rose = {}
    for b, p in ipairs(R.parts) do
      local h = p.act_h
      if #h >= 2 and h[#h] > h[1] then
        rose[#rose + 1] = fmt("%s%.6g -> %.6g", R.o.independent_batches and ("batch " .. b .. ": ") or "",
                              h[1], h[#h])
      end
    end
    if #rose == 0 then return end
    local reg = R.o.custom_reg_functions and "the custom regularisers, weighted by " or ""
    util.warn(where, fmt("the activation loss ended higher than it began (%s); the usual cause is the " ..
                         "regularisation outweighing the targets: %sin_reg_lambda = %g, out_reg_lambda = %g " ..
                         "(the output term sums over all %d neurons x %d layers); try smaller lambdas",
                         table.concat(rose, ", "), reg, R.o.in_reg_lambda, R.o.out_reg_lambda, R.n, R.L))
  end

  -- input (clamped to [-1, 1]: the last iterate, or the best one with keep_best
  -- or after an interrupt), its output, the loss histories and the snapshots.
  local function results(R, interrupted)
    local final = ((interrupted or R.o.keep_best) and R.best or R.u:detach()):clamp(-1, 1)
    local output = ci.no_grad(function() return R.net:forward(final) end)
    if R.B == 1 then
      final, output = final:select(1, 1):clone(), output:select(1, 1):clone()
      R.net.activations = output
    end
    local act, out_reg, in_reg = histories(R)
    return final, output, act, out_reg, in_reg, R.snapshots
  end

  --- ci.activation_maximisation(net, targets, opts) -> input, output, act_loss,
  --- out_reg_losses, in_reg_losses, snapshots
  ---
  --- opts.independent_batches = true: each batch b is its own problem, loss_b =
  --- act_loss_b + in_reg_lambda * R_in(u_b) + out_reg_lambda * R_out(X_b), where
  --- act_loss_b is the mean squared error over batch b's targets (0 without any),
  --- R(x) = ||x||_1 + ||x||_2 of batch b's slice or the custom_reg_functions of
  --- that slice (u_b: (1, S, L), X_b: (1, n, L)). The gradient is that of the sum
  --- of the loss_b; normalize_gradients, early stopping and the best input are
  --- per batch; a stopped batch's input is frozen, and the run ends when every
  --- batch has stopped or after num_iterations. Each batch's result equals its
  --- result alone (B = 1). act_loss, out_reg_losses and in_reg_losses are then
  --- Lua arrays by batch of per-iteration arrays (act_loss[b][it]); the log
  --- function also gets batch_loss, batch_activation_loss,
  --- batch_in_regularisation_loss, batch_out_regularisation_loss (NaN for a
  --- stopped batch) and active (booleans), its totals summing the batches
  --- recorded in that iteration.
  ---
  --- Ctrl-C (an error ending in "interrupted!") stops the run: it returns the
  --- best input so far (lowest loss; per batch with independent_batches) and the
  --- losses until then, with a warning on stderr (unless quiet).
  function ci.activation_maximisation(net, targets, opts)
    -- options: checked against the declaration, defaults filled, in one place
    local o = O.check(DECL, opts)
    o.tape_path = o._tape_path == true
    check_custom_reg(o.custom_reg_functions)

    if not ci.is_network(net) then
      error(where .. ": net must be a ci.MultilayeredNetwork or ci.LinearNetwork, got " ..
            util.type_name(net), 2)
    end
    ci._recipe_device(where, net, o.device) -- "cuda" must match the network's device
    local R = new_run(net, as_targets(targets, o.batch_size), o)
    R.print_output = o.print_output and not o.quiet
    R.bar = o.use_tqdm and not o.quiet and P.new(o.num_iterations, { quiet = o.quiet }) or nil
    local close_log
    R.write_log, close_log = util.open_log(where, o.log, LOG_FIELDS)
    local old_grad = ci.set_grad_enabled(true)
    local ok, err = pcall(function()
      for it = 0, o.num_iterations - 1 do
        if not iterate(R, it) then break end
      end
    end)
    ci.set_grad_enabled(old_grad)
    if R.bar then R.bar:finish(R.iterations) end
    close_log()
    R.u:requires_grad(false)
    local interrupted = not ok and util.is_interrupt(err)
    if not ok and not interrupted then error(err, 0) end
    if interrupted and not o.quiet then warn_interrupted(R) end
    if not o.quiet then warn_rising(R) end
    if R.print_output then print_final(R) end
    return results(R, interrupted)
  end
  ------------------------------------------------------------------ declarations (help, docs/API.md)

  local CHAIN = "local W = ci.sparse({2, 3}, {1, 2}, {1, 1}, 3, 3)   -- the chain 1 -> 2 -> 3, post in rows\n"
  DECL = O.declare{ name = "ci.activation_maximisation", where = where, topic = "Recipes",
    doc = [[Finds an input that drives chosen neurons to target activations: Adam on the input
    (B, S, num_layers) of a network, minimising the mean squared distance to the targets plus
    L1 + L2 regularisation of the input and of the activations (or custom regularisers, weighted
    by the same lambdas), stopping early when the loss settles. Returns the reference's six
    results, output regularisation before input regularisation: by default the last iterate,
    with keep_best the input of lowest loss. When the activation loss ends higher than it
    began, a warning (unless quiet) names the lambdas, the usual cause. Ctrl-C returns the best
    input so far and the losses until then, with a warning.]],
    args = { { "net", "network", "the model" },
             { "targets", "TargetActivation|table|frame", "what to reach (a plain table or frame is wrapped)" } },
    opts = {
      { "input_tensor", "tensor|table", nil, "the starting input (B, S, L)", default_text = "uniform random" },
      { "num_iterations", "integer >= 0", 50, "Adam steps" },
      { "learning_rate", "number", 0.1, "Adam's step size" },
      { "in_reg_lambda", "number", 0.01, "weight of the input's L1 + L2 regularisation" },
      { "out_reg_lambda", "number", 0.01, "weight of the activations' L1 + L2 regularisation (summed over all neurons and layers)" },
      { "custom_reg_functions", "table", nil, "{[\"in\"] = f, out = g}: Lua functions of a tensor returning a scalar tensor" },
      { "early_stopping", "boolean", true, "stop when the loss changes less than stopping_threshold for n_runs steps" },
      { "stopping_threshold", "number", 1e-5, "the change that counts as settled" },
      { "n_runs", "integer >= 1", 10, "steps the loss must stay settled" },
      { "independent_batches", "boolean", false,
        "each batch its own problem (loss, early stopping, best input); the loss lists are then per batch" },
      { "keep_best", "boolean", false, "return the input with the lowest loss seen (per batch with independent_batches) instead of the last iterate" },
      { "use_tqdm", "boolean", true, "a progress bar on stderr when it is a terminal", alias = "progress" },
      { "print_output", "boolean", true, "print the losses every 10 iterations and at the end" },
      { "device", { "cpu", "cuda" }, nil, "must be the device the network lives on (never a silent fallback)",
        default_text = "the network's" },
      { "seed", "integer", nil, "seeds the random start", default_text = "the current random state" },
      { "normalize_gradients", "boolean", false, "divide the input's gradient by its norm at each timepoint" },
      { "quiet", "boolean", false, "no bar, no printing, no warnings" },
      { "log", "function|string", nil, "a function called with each iteration's figures, or a CSV path" },
      { "batch_size", "integer >= 1", nil, "the batches of a plain targets table", default_text = "1" },
    },
    returns = {
      { "input", "tensor", "the optimised input (B, S, L) or (S, L), clamped to [-1, 1]" },
      { "output", "tensor", "its activations" },
      { "act_loss", "array", "the activation loss per iteration" },
      { "out_reg_losses", "array", "the output regularisation per iteration" },
      { "in_reg_losses", "array", "the input regularisation per iteration" },
      { "snapshots", "array", "thresholded tanh of the input every 5 iterations" },
    },
    example = CHAIN .. O.dedent[[local net = ci.LinearNetwork(W, {1}, {num_layers = 2, tau = 1})
    local t = ci.TargetActivation{targets = {[2] = {[3] = 1}}}
    local x, out, loss = ci.activation_maximisation(net, t, {num_iterations = 40, seed = 1, quiet = true,
                                                           in_reg_lambda = 0, out_reg_lambda = 0})
    print(loss[#loss] < loss[1])  --> true
    local ok, err = pcall(ci.activation_maximisation, net, t, {num_iteration = 3})
    print(err:match("unknown.*"))  --> unknown option 'num_iteration' (did you mean 'num_iterations'?)]] }
end
