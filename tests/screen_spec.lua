-- screen_spec.lua: ci.screen (lua/cinterp/screen*.lua) on a small connectome
-- (screenhelp.lua): every kind against the function it wraps called directly,
-- results independent of the batch, shards that add up to the whole, resume,
-- the merge's refusals, the spec's checks and its fingerprint.
local ci = require "cinterp"
local SH = require "screenhelp"
local kinds = require "cinterp.screen_kinds"
local store = require "cinterp.screen_store"

local dir, edges, neurons
setup(function()
  dir = SH.tmpdir()
  edges, neurons = SH.write_connectome(dir)
end)
teardown(function() SH.rm(dir) end)

local L = 3
local AM = { num_iterations = 12, learning_rate = 0.1, in_reg_lambda = 1e-3, out_reg_lambda = 1e-3 }

local function spec(over)
  local s = {
    kind = "actmax", edges = edges, neurons = neurons, read = { nt = "nt" },
    sensory = { class = "in" }, tasks = "type", match = "^T",
    layers = { 2, 3 }, value = 0.8, model = { num_layers = L, tau = 1 },
    actmax = AM, out = dir .. "/out_default", quiet = true,
  }
  for k, v in pairs(over or {}) do
    if v == "nil" then s[k] = nil else s[k] = v end
  end
  return s
end

local function conn()
  local c = ci.connectome.read { edges = edges, neurons = neurons, nt = "nt" }
  local sensory = c:select { class = "in" }
  return c, sensory, c:model { sensory = sensory, num_layers = L, tau = 1 }
end

local function neurons_of(c, t)
  return c:select { type = t }
end

local function close(a, b, tol)
  return math.abs(a - b) <= tol * math.max(1, math.abs(a), math.abs(b))
end

-- rows of a frame as a table keyed by task (and readout)
local function by_key(f, cols)
  local out = {}
  for r = 1, f:nrow() do
    local row = f:row(r)
    local key = tostring(row[cols[1]]) .. (cols[2] and ("|" .. tostring(row[cols[2]])) or "")
    out[key] = row
  end
  return out
end

describe("ci.screen actmax", function()
  it("runs one task per type matching the pattern, each as activation_maximisation alone would", function()
    local out = dir .. "/am1"
    local r = ci.screen(spec { out = out })
    assert.are.same(kinds.COLUMNS.actmax, r:columns())
    local types = {}
    for k = 1, 10 do types[k] = string.format("T%02d", k) end
    assert.are.same(types, r:col("task"))
    local c, sensory, net = conn()
    for _, k in ipairs { 1, 7 } do
      local t = types[k]
      local idx = neurons_of(c, t)
      local targets = {}
      for _, l in ipairs { 2, 3 } do
        targets[l] = {}
        for _, i in ipairs(idx) do targets[l][i] = 0.8 end
      end
      ci.manual_seed(1)
      local x0 = ci.rand(1, #sensory, L)
      local o = { input_tensor = x0, quiet = true }
      for key, v in pairs(AM) do o[key] = v end
      local input, output, act_loss = ci.activation_maximisation(net,
        ci.TargetActivation { targets = targets, batch_size = 1 }, o)
      local row = r:row(k)
      assert.are.equal(#idx, row.n_targets)
      assert.are.equal(act_loss[1], row.act_loss_first)
      assert.are.equal(act_loss[#act_loss], row.act_loss_final)
      assert.are.equal(#act_loss, row.iterations)
      local s = 0
      for _, i in ipairs(idx) do s = s + output:get(i, 2) + output:get(i, 3) end
      assert.is_true(close(s / (2 * #idx), row.target_activation, 1e-12))
      -- the stored optimised input is the returned input
      local f = ci.read_csv(out .. "/inputs/" .. require("cinterp.screen_problem").file_name(t) .. ".csv")
      assert.are.same(sensory, f:col("neuron"))
      for si = 1, #sensory do
        for l = 1, L do assert.are.equal(input:get(si, l), f:col("time_" .. l)[si]) end
      end
    end
    -- the merge wrote the table, the summary by input group and the figure
    local res = ci.read_csv(out .. "/results.csv")
    assert.are.equal(10, res:nrow())
    assert.are.same(r:col("act_loss_final"), res:col("act_loss_final"))
    local byg = ci.read_csv(out .. "/input_by_group.csv")
    assert.are.equal(30, byg:nrow()) -- 10 tasks x 3 input groups
    assert.are.equal("\137PNG", SH.read(out .. "/figures/inputs.png"):sub(1, 4))
  end)

  it("lists the top input groups by their mean optimised input", function()
    local x = ci.tensor { { 0.1, 0.3 }, { 0.9, 0.9 }, { -0.5, 0.5 }, { 0.2, 0.2 } }
    assert.are.equal("b:0.9;a:0.2;c:0",
                     kinds.top_inputs(x, { "a", "b", "c", "a" }, 3))
    assert.are.equal("b:0.9", kinds.top_inputs(x, { "a", "b", "c", "a" }, 1))
  end)

  it("takes custom regularisers as Lua functions, as activation_maximisation does", function()
    local l1 = function(t) return t:abs():sum() end
    local am = { num_iterations = 6, learning_rate = 0.1, custom_reg_functions = { ["in"] = l1 } }
    local r = ci.screen(spec { out = dir .. "/am_custom", match = "^T0[12]$", actmax = am })
    local c, sensory, net = conn()
    ci.manual_seed(1)
    local targets = { [2] = {}, [3] = {} }
    for _, i in ipairs(neurons_of(c, "T02")) do targets[2][i], targets[3][i] = 0.8, 0.8 end
    local _, _, act_loss = ci.activation_maximisation(net, ci.TargetActivation { targets = targets, batch_size = 1 },
      { input_tensor = ci.rand(1, #sensory, L), quiet = true, num_iterations = 6, learning_rate = 0.1,
        custom_reg_functions = { ["in"] = l1 } })
    assert.are.equal(act_loss[#act_loss], r:row(2).act_loss_final)
  end)

  it("gives a task the same result whatever it is batched with and whatever K is", function()
    -- early stopping ends the tasks at different iterations (checked below), so a
    -- batch holds running and stopped tasks; the second recipe has a custom regulariser
    local l1 = function(t) return t:abs():sum() end
    local recipes = {
      { num_iterations = 200, learning_rate = 0.2, in_reg_lambda = 1e-3, out_reg_lambda = 1e-3,
        early_stopping = true, stopping_threshold = 1e-3, n_runs = 5 },
      { num_iterations = 40, learning_rate = 0.1, in_reg_lambda = 1e-2, custom_reg_functions = { ["in"] = l1 },
        early_stopping = false },
    }
    for r, am in ipairs(recipes) do
      local one = by_key(ci.screen(spec { out = dir .. "/r" .. r .. "k1", batch = 1, actmax = am }), { "task" })
      local stops = {}
      for _, row in pairs(one) do stops[row.iterations] = true end
      if r == 1 then assert.is_true(next(stops, next(stops)) ~= nil, "every task stopped at the same iteration") end
      for _, K in ipairs { 3, 4, 10 } do
        local many = by_key(ci.screen(spec { out = dir .. "/r" .. r .. "k" .. K, batch = K, actmax = am }), { "task" })
        for task, row in pairs(one) do
          local o = many[task]
          assert.are.equal(row.iterations, o.iterations, task .. " K=" .. K)
          for _, col in ipairs { "act_loss_first", "act_loss_final", "target_activation" } do
            assert.is_true(close(row[col], o[col], 1e-5), task .. " " .. col .. " K=" .. K)
          end
        end
      end
    end
  end)
end)

describe("ci.screen restarts", function()
  it("draws each start from its seed alone, never from its place in the batch", function()
    local s = spec { kind = "restarts", tasks = "nil", match = "nil", target = { type = "T03" },
                     restarts = 4, out = dir .. "/rs1", batch = 4 }
    local all = ci.screen(s)
    assert.are.same({ 1, 2, 3, 4 }, all:col("task"))
    local sub = ci.screen(spec { kind = "restarts", tasks = "nil", match = "nil", target = { type = "T03" },
                                 seeds = { 3 }, out = dir .. "/rs2" })
    -- seed 3 as the third of a batch of 4, and alone (float32 sums of another width: 1e-5)
    assert.is_true(close(all:row(3).act_loss_final, sub:row(1).act_loss_final, 1e-5))
    assert.is_true(close(all:row(3).act_loss_first, sub:row(1).act_loss_first, 1e-5))
    -- different seeds start elsewhere, so their first losses differ
    assert.are_not.equal(all:row(1).act_loss_first, all:row(2).act_loss_first)
    -- and seed 3 alone is activation_maximisation from ci.manual_seed(3); ci.rand
    local c, sensory, net = conn()
    ci.manual_seed(3)
    local targets = { [2] = {}, [3] = {} }
    for _, i in ipairs(neurons_of(c, "T03")) do targets[2][i], targets[3][i] = 0.8, 0.8 end
    local o = { input_tensor = ci.rand(1, #sensory, L), quiet = true }
    for k, v in pairs(AM) do o[k] = v end
    local _, _, act_loss = ci.activation_maximisation(net, ci.TargetActivation { targets = targets, batch_size = 1 }, o)
    assert.are.equal(act_loss[1], sub:row(1).act_loss_first)
  end)
end)

describe("ci.screen silence and activate", function()
  for _, kind in ipairs { "silence", "activate" } do
    it(kind .. ": baseline, manipulated and delta are the forward with and without manipulate", function()
      local s = spec { kind = kind, layers = { 1, 2 }, value = "nil", actmax = "nil", input = 0.5,
                       readout = "type", readout_match = "^T0[1-4]", out = dir .. "/" .. kind .. "1", batch = 3 }
      local r = ci.screen(s)
      assert.are.same(kinds.COLUMNS.silence, r:columns())
      assert.are.equal(10 * 4, r:nrow())
      local c, sensory, net = conn()
      local x = ci.full(0.5, 1, #sensory, L)
      local base = ci.no_grad(function() return net:forward(x) end)
      local function mean(out, t)
        local s_, idx = 0, neurons_of(c, t)
        for _, i in ipairs(idx) do for l = 1, L do s_ = s_ + out:get(1, i, l) end end
        return s_ / (#idx * L)
      end
      for _, task in ipairs { "T02", "T09" } do
        local set = {}
        for _, i in ipairs(neurons_of(c, task)) do set[i] = kind == "silence" and 0 or 1 end
        local m = ci.no_grad(function() return net:forward(x, { manipulate = { [1] = set, [2] = set } }) end)
        for _, ro in ipairs { "T01", "T04" } do
          local row
          for k = 1, r:nrow() do
            if r:col("task")[k] == task and r:col("readout")[k] == ro then row = r:row(k) end
          end
          -- the baseline is a one-batch forward as here; the manipulated forward ran
          -- 3 tasks wide, which sums in float32 in another order (differences ~1e-7)
          assert.is_true(close(mean(base, ro), row.baseline, 1e-12))
          assert.is_true(close(mean(m, ro), row.manipulated, 1e-5))
          assert.is_true(close(row.manipulated - row.baseline, row.delta, 1e-12))
        end
      end
      -- the same with one task per forward
      local one = by_key(ci.screen(spec { kind = kind, layers = { 1, 2 }, value = "nil", actmax = "nil",
        input = 0.5, readout = "type", readout_match = "^T0[1-4]", out = dir .. "/" .. kind .. "2", batch = 1 }),
        { "task", "readout" })
      for key, row in pairs(by_key(r, { "task", "readout" })) do
        assert.is_true(close(one[key].manipulated, row.manipulated, 1e-5), key)
      end
      assert.are.equal("\137PNG", SH.read(dir .. "/" .. kind .. "1/figures/delta.png"):sub(1, 4))
    end)
  end
end)

describe("ci.screen grid", function()
  it("sweeps two inputs over make_grid_inputs' grid, as output_grid_data reads it", function()
    if type(ci.make_grid_inputs) ~= "function" or type(ci.output_grid_data) ~= "function" then
      pending("ci.make_grid_inputs / ci.output_grid_data are not in this build yet (branch figures)")
      return
    end
    local s = spec { kind = "grid", tasks = "nil", match = "nil", value = "nil", actmax = "nil", layers = "nil",
                     v1 = { type = "ORN_a" }, v2 = { type = "ORN_b" }, grid = { grid_size = 4 },
                     readout = "type", readout_match = "^T0[12]$", out = dir .. "/grid1", batch = 5 }
    local r = ci.screen(s)
    assert.are.same(kinds.COLUMNS.grid, r:columns())
    assert.are.equal(16 * L * 2, r:nrow())
    local c, sensory, net = conn()
    local v1, v2 = {}, {}
    local types = c:groups("type")
    for k, i in ipairs(sensory) do
      v1[k] = types[i] == "ORN_a" and 1 or 0
      v2[k] = types[i] == "ORN_b" and 1 or 0
    end
    local x, coords = ci.make_grid_inputs(v1, v2, L, { grid_size = 4 })
    local out = ci.no_grad(function() return net:forward(x) end)
    for _, ro in ipairs { "T01", "T02" } do
      local grid = ci.output_grid_data(out, coords, neurons_of(c, ro))
      for k = 1, r:nrow() do
        local row = r:row(k)
        if row.readout == ro then
          local i = math.floor(row.v1 * 3 + 0.5) + 1
          local j = math.floor(row.v2 * 3 + 0.5) + 1
          assert.is_true(close(grid[row.layer]:get(j, i), row.activation, 1e-6))
        end
      end
    end
    assert.are.equal("\137PNG", SH.read(dir .. "/grid1/figures/grid_" ..
      require("cinterp.screen_problem").file_name("T01") .. ".png"):sub(1, 4))
  end)
end)

describe("ci.screen shards, resume and merge", function()
  it("splits the sorted tasks over shards whose merge equals one process's run", function()
    local whole = ci.screen(spec { out = dir .. "/sh_whole" })
    local shard_dir = dir .. "/sh_parts"
    local seen = {}
    for i = 1, 3 do
      local part = ci.screen(spec { out = shard_dir, shard = { i, 3 } })
      for k = 1, part:nrow() do
        local t = part:col("task")[k]
        local pos = tonumber(t:sub(2))
        assert.are.equal(i, (pos - 1) % 3 + 1) -- every 3rd task from the i-th
        assert.is_nil(seen[t])
        seen[t] = true
      end
    end
    assert.are.equal(10, whole:nrow())
    assert.are.equal(SH.without_seconds(SH.read(dir .. "/sh_whole/results.csv")),
                     SH.without_seconds(SH.read(shard_dir .. "/results.csv")))
  end)

  it("takes the shard from Slurm's job-array variables, else 1/1", function()
    local check = require "cinterp.screen_check"
    local env = { SLURM_ARRAY_TASK_ID = "7", SLURM_ARRAY_TASK_COUNT = "4", SLURM_ARRAY_TASK_MIN = "5",
                  SLURM_ARRAY_TASK_STEP = "2" }
    assert.are.same({ 2, 4 }, check.shard(nil, 1, function(k) return env[k] end))
    assert.are.same({ 1, 1 }, check.shard(nil, 1, function() return nil end))
    assert.are.same({ 3, 5 }, check.shard("3/5"))
    assert.has_error(function() check.shard("6/5") end, "ci.screen: shard 6 is outside 1..5")
    assert.has_error(function() check.shard({ 0, 2 }) end, "ci.screen: shard 0 is outside 1..2")
  end)

  it("skips stored tasks on a rerun and recomputes only what is missing", function()
    local out = dir .. "/resume"
    ci.screen(spec { out = out })
    local before = SH.read(out .. "/results.csv")
    local file = require("cinterp.screen_problem").file_name("T04")
    os.remove(out .. "/tasks/" .. file .. ".csv")
    os.remove(out .. "/results.csv")
    SH.write(out .. "/tasks/.tmp.99999.1." .. file .. ".csv", "half a file") -- a killed writer's leftover
    local calls = 0
    local run = kinds.run
    kinds.run = function(c_, P, tasks) calls = calls + #tasks; return run(c_, P, tasks) end
    local ok, err = pcall(ci.screen, spec { out = out })
    kinds.run = run
    assert.is_true(ok, err)
    assert.are.equal(1, calls)
    assert.are.equal(SH.without_seconds(before), SH.without_seconds(SH.read(out .. "/results.csv")))
  end)

  it("refuses to merge missing, duplicated and foreign results, naming them", function()
    local out = dir .. "/refuse"
    ci.screen(spec { out = out, match = "^T0[1-3]$" })
    local P = require "cinterp.screen_problem"
    local f2 = out .. "/tasks/" .. P.file_name("T02") .. ".csv"
    local text = SH.read(f2)
    os.remove(f2)
    assert.has_error(function() ci.screen_merge(out) end,
      "cinterp screen merge: " .. out .. ": 1 of 3 tasks missing: T02 (run their shards again: " ..
      "finished tasks are skipped)")
    -- a duplicated row
    local lines = store.lines(text)
    SH.write(f2, text .. lines[2] .. "\n")
    local ok, err = pcall(ci.screen_merge, out)
    assert.is_false(ok)
    assert.truthy(err:find("1 duplicated result(s): T02 in tasks/" .. P.file_name("T02"), 1, true))
    -- a row of another spec
    SH.write(f2, (text:gsub(",(%x+)\n$", ",0123456789abcdef\n")))
    ok, err = pcall(ci.screen_merge, out)
    assert.truthy(err:find("result file(s) of another spec", 1, true))
    assert.truthy(err:find(P.file_name("T02"), 1, true))
    -- a file that is no task of this spec
    SH.write(f2, text)
    SH.write(out .. "/tasks/T99.deadbeef.csv", text)
    ok, err = pcall(ci.screen_merge, out)
    assert.truthy(err:find("no task of this spec: tasks/T99.deadbeef.csv", 1, true))
    os.remove(out .. "/tasks/T99.deadbeef.csv")
    assert.is_true(ci.screen_merge(out, { figures = false }))
  end)

  it("refuses an output folder holding another spec's results", function()
    local out = dir .. "/other"
    ci.screen(spec { out = out, match = "^T01$" })
    assert.has_error(function() ci.screen(spec { out = out, match = "^T01$", value = 0.5 }) end)
    local ok, err = pcall(ci.screen, spec { out = out, match = "^T01$", value = 0.5 })
    assert.truthy(err:find("holds results of another spec", 1, true))
    -- batch, shard, quiet and figures are no part of the spec's identity
    local function silence(over)
      local t = { kind = "silence", input = 1, value = "nil", actmax = "nil", out = dir .. "/other2" }
      for k, v in pairs(over) do t[k] = v end
      return spec(t)
    end
    ci.screen(silence { batch = 1 })
    assert.has_no.errors(function()
      ci.screen(silence { batch = 5, shard = { 1, 1 }, figures = false, quiet = false })
    end)
  end)
end)

describe("ci.screen spec checks", function()
  local function err_of(s)
    local ok, e = pcall(ci.screen, s)
    assert.is_false(ok)
    return e
  end
  it("refuses unknown fields with the closest valid names", function()
    assert.truthy(err_of(spec { taks = "type" }):find("ci.screen: unknown option 'taks' (did you mean 'tasks'?)", 1, true))
    assert.truthy(err_of(spec { kind = "actmaxx" }):find("unknown kind 'actmaxx' (did you mean 'actmax'?)", 1, true))
    assert.truthy(err_of(spec { readout = "type" }):find(
      "spec field 'readout' does not apply to kind 'actmax' (it is for silence, activate, grid)", 1, true))
    assert.truthy(err_of(spec { actmax = { num_iteration = 3 } }):find(
      "unknown option 'num_iteration' in spec.actmax (did you mean 'num_iterations'?)", 1, true))
    assert.truthy(err_of(spec { model = { num_layer = 3 } }):find("did you mean 'num_layers'", 1, true))
  end)
  it("refuses selections that match nothing, bad layers and bad shards before any work", function()
    assert.truthy(err_of(spec { tasks = "cell_type" }):find("the neuron table has no column 'cell_type'", 1, true))
    assert.truthy(err_of(spec { match = "^MBON" }):find("no value of column 'type' matches '^MBON'", 1, true))
    assert.truthy(err_of(spec { sensory = { class = "nope" } }):find(
      "ci.screen: spec.sensory: no neuron has class = 'nope'", 1, true))
    assert.truthy(err_of(spec { layers = { 2, 4 } }):find("spec.layers[2] = 4 is beyond num_layers = 3", 1, true))
    assert.truthy(err_of(spec { shard = { 4, 3 } }):find("shard 4 is outside 1..3", 1, true))
    assert.truthy(err_of(spec { batch = 0 }):find("ci.screen: option 'batch' must be an integer >= 1", 1, true))
    assert.truthy(err_of(spec { model = { num_layers = 3, sensory = { 1 } } }):find("give the input neurons as spec.sensory", 1, true))
    assert.truthy(err_of(spec { kind = "silence", value = "nil", actmax = "nil" }):find("spec.input is required for kind 'silence'", 1, true))
    assert.truthy(err_of(spec { edges = "nil" }):find("give either spec.edges", 1, true))
  end)

  -- every bad spec below fails before any work: no task runs and no folder is made
  local function refused(over, message)
    local out = dir .. "/refused"
    SH.rm(out)
    over.out = out
    local calls = 0
    local run = kinds.run
    kinds.run = function(c_, P, tasks) calls = calls + #tasks; return run(c_, P, tasks) end
    local ok, err = pcall(ci.screen, spec(over))
    kinds.run = run
    assert.is_false(ok, "expected an error: " .. message)
    assert.truthy(tostring(err):find(message, 1, true), "expected '" .. message .. "' in: " .. tostring(err))
    assert.are.equal(0, calls)
    assert.is_nil(SH.read(out .. "/spec.txt"))
    assert.is_nil(io.open(out .. "/tasks/"), "the folder was made")
  end
  local SILENCE = { kind = "silence", input = 1, value = "nil", actmax = "nil", layers = "nil" }
  local function silence(over)
    local t = {}
    for k, v in pairs(SILENCE) do t[k] = v end
    for k, v in pairs(over) do t[k] = v end
    return t
  end
  local GRID = { kind = "grid", tasks = "nil", match = "nil", value = "nil", actmax = "nil", layers = "nil",
                 v1 = { type = "ORN_a" }, v2 = { type = "ORN_b" }, readout = "type" }
  local function grid(over)
    local t = {}
    for k, v in pairs(GRID) do t[k] = v end
    for k, v in pairs(over) do t[k] = v end
    return t
  end

  it("names the closest valid name for a misspelled kind, field or nested option, before any work", function()
    refused({ kind = "silense" }, "ci.screen: unknown kind 'silense' (did you mean 'silence'?)")
    refused({ mach = "^T" }, "ci.screen: unknown option 'mach' (did you mean 'match'?)")
    refused({ layer = { 3 } }, "did you mean 'layers'?")
    refused(silence { readuot = "type" }, "unknown option 'readuot' (did you mean 'readout' or 'read'?)")
    refused(silence { v1 = { type = "ORN_a" } }, "spec field 'v1' does not apply to kind 'silence' (it is for grid)")
    if type(ci.make_grid_inputs) == "function" then
      refused(grid { grid = { grid_sise = 4 } }, "unknown option 'grid_sise' in spec.grid (did you mean 'grid_size'?)")
    end
  end)

  it("refuses a column or selection that matches nothing, for every kind, before any work", function()
    refused({ tasks = "typ" }, "spec.tasks: the neuron table has no column 'typ' (columns: id, type, class, nt)")
    refused({ match = "^X" }, "spec.tasks: no value of column 'type' matches '^X' (values include: ORN_a")
    refused({ sensory = { class = "In" } }, "spec.sensory: no neuron has class = 'In'")
    refused({ sensory = { 1, 500 } }, "spec.sensory[2] = 500 is not a neuron index 1..80")
    refused(silence { readout = "klass" }, "spec.readout: the neuron table has no column 'klass'")
    refused(silence { readout_match = "^Z" }, "spec.readout: no value of column 'type' matches '^Z'")
    refused(silence { input = { type = "T01" } }, "spec.input selects 7 neuron(s) that are not input neurons")
    refused({ kind = "restarts", tasks = "nil", match = "nil", restarts = 2, target = { type = "T99" } },
            "spec.target: no neuron has type = 'T99'")
    if type(ci.make_grid_inputs) == "function" then
      refused(grid { v1 = { type = "ORN_z" } }, "spec.v1: no neuron has type = 'ORN_z'")
      refused(grid { v2 = { type = "T01" } }, "spec.v2 selects 7 neuron(s) that are not input neurons")
    end
  end)

  it("refuses layers beyond num_layers for targets, manipulations, read-outs and grids, before any work", function()
    refused({ layers = { 4 } }, "spec.layers[1] = 4 is beyond num_layers = 3")
    refused({ kind = "restarts", tasks = "nil", match = "nil", restarts = 2, target = { type = "T01" },
              layers = { 3, 5 } }, "spec.layers[2] = 5 is beyond num_layers = 3")
    refused({ layers = { 0 } }, "spec.layers[1] = 0 is not a layer (layers are 1-based)")
    refused(silence { layers = { 1, 9 } }, "spec.layers[2] = 9 is beyond num_layers = 3")
    refused(silence { readout_layers = { 4 } }, "spec.readout_layers[1] = 4 is beyond num_layers = 3")
    if type(ci.make_grid_inputs) == "function" then
      refused(grid { layers = { 6 } }, "spec.layers[1] = 6 is beyond num_layers = 3")
    end
  end)

  it("refuses a shard outside 1..N, given or from Slurm's variables, before any work", function()
    refused({ shard = "0/3" }, "ci.screen: shard 0 is outside 1..3")
    refused({ shard = { 2, 1 } }, "ci.screen: shard 2 is outside 1..1")
    refused({ shard = { 1, 0 } }, "ci.screen: shard: N = 0 must be an integer >= 1")
    refused({ shard = "1 of 3" }, "ci.screen: shard must be \"i/N\", got '1 of 3'")
    local check = require "cinterp.screen_check"
    local env = { SLURM_ARRAY_TASK_ID = "9", SLURM_ARRAY_TASK_COUNT = "4" }
    assert.has_error(function() check.shard(nil, 1, function(k) return env[k] end) end,
                     "ci.screen: shard 9 is outside 1..4")
  end)

  it("refuses a folder holding another spec's results before any task runs, leaving it as it was", function()
    local out = dir .. "/foreign"
    ci.screen(spec { out = out, match = "^T0[12]$" })
    local before = { SH.read(out .. "/spec.txt"), SH.read(out .. "/tasks.csv"), SH.read(out .. "/results.csv") }
    local calls = 0
    local run = kinds.run
    kinds.run = function(c_, P, tasks) calls = calls + #tasks; return run(c_, P, tasks) end
    local ok, err = pcall(ci.screen, spec { out = out, match = "^T0[123]$" })
    kinds.run = run
    assert.is_false(ok)
    assert.truthy(err:find("ci.screen: the folder '" .. out .. "' holds results of another spec", 1, true), err)
    assert.are.equal(0, calls)
    assert.are.same(before, { SH.read(out .. "/spec.txt"), SH.read(out .. "/tasks.csv"), SH.read(out .. "/results.csv") })
  end)
end)

describe("ci.screen fingerprint", function()
  local H = require "cinterp.screen_hash"
  it("describes functions by their code and upvalues, not their chunk name", function()
    local src = "local k = ...; return function(t) return t:abs():sum() * k end"
    local f1 = loadstring(src, "=a.lua")(2)
    local f2 = loadstring(src, "=/somewhere/else/b.lua")(2)
    local f3 = loadstring(src, "=a.lua")(3)
    local f4 = loadstring("local k = ...; return function(t) return t:abs():sum() + k end", "=a.lua")(2)
    assert.are.equal(H.describe(f1, ci), H.describe(f2, ci))
    assert.are_not.equal(H.describe(f1, ci), H.describe(f3, ci))
    assert.are_not.equal(H.describe(f1, ci), H.describe(f4, ci))
  end)
  it("hashes with 64-bit FNV-1a", function()
    assert.are.equal("af63dc4c8601ec8c", H.hash("a"))          -- the published test vector
    assert.are.equal("cbf29ce484222325", H.hash(""))
  end)
end)

describe("ci.screen on the GPU", function()
  it("gives the CPU's results with model.device = 'cuda'", function()
    local ok, why = ci.cuda_available()
    if not ok then
      pending("no usable GPU: " .. tostring(why))
      return
    end
    local cases = {
      { kind = "actmax", cols = { "act_loss_first", "act_loss_final", "target_activation" }, keys = { "task" } },
      { kind = "silence", input = 0.5, value = "nil", actmax = "nil", readout = "type",
        cols = { "baseline", "manipulated", "delta" }, keys = { "task", "readout" } },
    }
    for _, c in ipairs(cases) do
      local function run(device, K)
        local over = { kind = c.kind, input = c.input, value = c.value, actmax = c.actmax, readout = c.readout,
                       batch = K, out = dir .. "/gpu_" .. c.kind .. "_" .. device .. K, figures = false,
                       model = { num_layers = L, tau = 1, device = device } }
        return by_key(ci.screen(spec(over)), c.keys)
      end
      local cpu = run("cpu", 1)
      for _, K in ipairs { 1, 4 } do
        local gpu = run("cuda", K)
        for key, row in pairs(cpu) do
          for _, col in ipairs(c.cols) do
            assert.is_true(close(row[col], gpu[key][col], 1e-5), c.kind .. " " .. key .. " " .. col .. " K=" .. K)
          end
        end
      end
    end
  end)
end)
