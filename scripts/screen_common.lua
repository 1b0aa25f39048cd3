-- screen_common.lua: what scripts/screen_mushroom_body.lua and screen_larva.lua
-- share (dofile(here .. "/screen_common.lua")(ci) returns it):
--   sc.parse(script, defaults) the command line: --data and the options of an
--                             activation-maximisation screen (--out --batch --limit
--                             --iterations --lr --in-reg --out-reg --init --layers
--                             --targets --quiet) with this script's defaults
--   sc.data_dir(o, name, what) the data set's folder under --data; when
--                             absent prints "<script>: skipped: ..." and exits 0
--   sc.run(o, spec, S)        completes the spec from the options (targets, model,
--                             actmax with every task starting from the same small
--                             input o.init over the S input neurons, batch, limit,
--                             out, quiet), runs ci.screen and prints how far the
--                             activation loss fell per task (the check that the
--                             settings let the optimisation work), the tasks and
--                             the files the screen wrote
local M = {}
local fmt = string.format

return function(ci)
  local function options(d)
    return {
      ci.cli.DATA_OPTION,
      { "--out DIR", d.out, "results folder (default " .. d.out .. "); a rerun resumes it" },
      { "--batch K", 8, "tasks optimised together (default 8; results do not depend on it)" },
      { "--limit N", nil, "only the first N tasks of the sorted list (a trial run)", type = "number" },
      { "--iterations N", 60, "activation-maximisation iterations (default 60)" },
      { "--lr X", 0.4, "its learning rate (default 0.4)" },
      { "--in-reg X", d.in_reg, fmt("input regularisation lambda (default %g)", d.in_reg) },
      { "--out-reg X", d.out_reg, fmt("output regularisation lambda (default %g)", d.out_reg) },
      { "--init X", 0.02, "every task's starting input, on every input neuron and timestep (0.02)" },
      { "--layers L", d.layers, fmt("timesteps of the model (default %d)", d.layers) },
      { "--targets LIST", d.targets, "layers at which the task's neurons are driven to 1 (default " ..
                                     d.targets .. ")" },
      { "--quiet", false, "no progress lines" },
    }
  end

  function M.parse(script, defaults)
    local spec = options(defaults)
    spec.usage = "usage: " .. script .. " [options]"
    local o = ci.cli.parse(arg, spec)
    o.script = script
    o.target_layers = {}
    for item in tostring(o.targets):gmatch("[^,]+") do
      local l = tonumber(item)
      if not l then
        io.stderr:write(fmt("%s: --targets needs layers like 2,3, got '%s'\n", script, o.targets))
        os.exit(1)
      end
      o.target_layers[#o.target_layers + 1] = l
    end
    return o
  end

  function M.data_dir(o, name, what)
    local data = ci.cli.data_dir(o.data)
    local dir = data .. "/" .. name
    if not ci.cli.exists(dir .. "/edges.csv.gz") then
      print(fmt("%s: skipped: %s is absent under %s (give --data DIR)", o.script, what, data))
      os.exit(0)
    end
    return dir
  end

  local function median(list)
    local t = {}
    for k, v in ipairs(list) do t[k] = v end
    table.sort(t)
    if #t == 0 then return 0 / 0 end
    return #t % 2 == 1 and t[(#t + 1) / 2] or (t[#t / 2] + t[#t / 2 + 1]) / 2
  end

  local function report(r, o)
    local first, final, fell, stuck = {}, {}, 0, {}
    for k = 1, r:nrow() do
      local row = r:row(k)
      first[k], final[k] = row.act_loss_first, row.act_loss_final
      if row.act_loss_final <= 0.5 * row.act_loss_first then
        fell = fell + 1
      else
        stuck[#stuck + 1] = fmt("%s (%.3g -> %.3g)", row.task, row.act_loss_first, row.act_loss_final)
      end
    end
    print(fmt("%d tasks: the activation loss fell to half or less in %d; median %.3g (first iteration) " ..
              "-> %.3g (last)", r:nrow(), fell, median(first), median(final)))
    if #stuck > 0 then print("  not halved: " .. table.concat(stuck, ", ")) end
    local rows = {}
    for k = 1, r:nrow() do
      local row = r:row(k)
      local top = {}
      for item in row.top_inputs:gmatch("[^;]+") do
        if #top < 3 then top[#top + 1] = item end
      end
      rows[k] = { row.task, row.n_targets, row.act_loss_final, row.target_activation, table.concat(top, "; ") }
    end
    print(ci.frame.from_rows({ "task", "n_targets", "act_loss_final", "target_activation", "top_inputs" }, rows))
    print(fmt("written: %s/results.csv (one row per task), %s/inputs/ (each task's optimised input), " ..
              "%s/input_by_group.csv, %s/figures/inputs.png", o.out, o.out, o.out, o.out))
  end

  function M.run(o, spec, S)
    spec.kind = "actmax"
    spec.layers, spec.value = o.target_layers, 1
    spec.model = { num_layers = o.layers, tau = 1 }
    spec.actmax = { num_iterations = o.iterations, learning_rate = o.lr, in_reg_lambda = o.in_reg,
                    out_reg_lambda = o.out_reg, input_tensor = ci.full(o.init, S, o.layers) }
    spec.batch, spec.limit, spec.out, spec.quiet = o.batch, o.limit, o.out, o.quiet
    local t0 = os.time()
    report(ci.screen(spec), o)
    print(fmt("%d s for the screen", os.time() - t0))
  end

  return M
end
