-- scripts_spec.lua: runs the scripts in scripts/ through the cinterp host into a
-- temporary folder and checks what they write: the files exist, are not empty,
-- and the CSVs read back with the expected columns (PNGs: the PNG signature).
-- The data-dependent runs are pending when ../shared/data is absent.
-- The binary: see hostbin.lua.
local ci = require "cinterp"

local H = require "hostbin"
local exists, q, ROOT, BIN = H.exists, H.q, H.root, H.bin

local DATA = ROOT .. "/../shared/data"
local HAVE_MB = exists(DATA .. "/flywire_783_mushroom_body/edges.csv.gz") and
                exists(DATA .. "/door/processed_door_adult.csv")
local HAVE_LARVA = exists(DATA .. "/larva_winding2023/edges.csv.gz")
local HAVE_GNUPLOT = os.execute("command -v gnuplot >/dev/null 2>&1")
HAVE_GNUPLOT = HAVE_GNUPLOT == 0 or HAVE_GNUPLOT == true

local function tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("*l")
  p:close()
  return d
end

-- runs a script with a shell-quoted argument string; returns output (stdout+stderr), status
local function run(script, args)
  local p = io.popen(q(BIN) .. " " .. q(ROOT .. "/scripts/" .. script) .. " " .. (args or "") ..
                     " 2>&1; echo \"__rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return out:gsub("__rc=%d+%s*$", ""), rc
end

local function size(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local n = f:seek("end")
  f:close()
  return n
end

local function assert_csv(path, columns, min_rows)
  assert.is_truthy(size(path), "missing " .. path)
  assert.is_true(size(path) > 0, "empty " .. path)
  local f = ci.read_csv(path)
  for _, c in ipairs(columns) do
    assert.is_true(f:has_column(c), path .. " has no column " .. c)
  end
  assert.is_true(f:nrow() >= (min_rows or 1), path .. " has " .. f:nrow() .. " rows")
  return f
end

local function assert_png(path)
  local f = io.open(path, "rb")
  assert.is_truthy(f, "missing " .. path)
  local head = f:read(8)
  f:close()
  assert.are.equal("\137PNG\r\n\26\n", head, path .. " is not a PNG")
  assert.is_true(size(path) > 1000, path .. " is too small to hold a figure")
end

local dirs = {}
teardown(function()
  for _, d in ipairs(dirs) do os.execute("rm -rf " .. q(d)) end
end)
local function newdir()
  local d = tmpdir()
  dirs[#dirs + 1] = d
  return d
end

describe("scripts", function()
  it("the binary exists", function()
    assert.is_true(exists(BIN), "no cinterp host at " .. BIN)
  end)

  for _, s in ipairs { "olfaction.lua", "larva.lua", "olfaction_figures.lua", "actmax.lua", "demo.lua",
                       "screen_mushroom_body.lua", "screen_larva.lua" } do
    it(s .. " --help prints a usage text and exits 0", function()
      local out, rc = run(s, "--help")
      assert.are.equal(0, rc)
      assert.is_truthy(out:lower():find("usage"), out)
    end)
  end

  it("olfaction.lua and larva.lua skip with a message when the data folder is absent", function()
    local d = newdir()
    for _, s in ipairs { "olfaction.lua", "larva.lua", "olfaction_figures.lua", "screen_mushroom_body.lua",
                         "screen_larva.lua" } do
      local out, rc = run(s, "--data " .. q(d .. "/nowhere") .. " --out " .. q(d .. "/o"))
      assert.are.equal(0, rc, out)
      assert.is_truthy(out:find("skipped", 1, true), out)
      assert.is_false(exists(d .. "/o/olfaction_top_types.csv"))
    end
  end)

  it("olfaction.lua writes the top types, paths and optimal stimulus", function()
    if not HAVE_MB then pending("../shared/data (FlyWire mushroom body, DoOR) is absent") return end
    local d = newdir()
    local out, rc = run("olfaction.lua", "--out " .. q(d) .. " --iterations 60")
    assert.are.equal(0, rc, out)
    local top = assert_csv(d .. "/olfaction_top_types.csv",
                           { "odour", "layer", "class", "type", "neurons", "mean_activation", "rank" })
    -- 5 odours x 3 layers x 2 classes x 5 types
    assert.are.equal(150, top:nrow())
    local paths = assert_csv(d .. "/olfaction_paths.csv",
                             { "pre", "post", "weight", "layer", "pre_activation", "post_activation", "odour" })
    assert.is_true(paths:nrow() < 2000, "the paths frame should stay small, has " .. paths:nrow())
    for r = 1, paths:nrow() do
      assert.is_true(paths.post_activation[r] >= 0.3 and paths.weight[r] >= 0.02)
    end
    local g = assert_csv(d .. "/olfaction_optimal_glomeruli.csv",
                         { "glomerulus", "mean_input", "effective_connectivity", "projection_neurons", "rank" }, 40)
    -- the optimal stimulus drives some glomeruli (not every input negative)
    assert.is_true(g.mean_input[1] > 0.1, "the best glomerulus gets " .. tostring(g.mean_input[1]))
    assert_csv(d .. "/olfaction_optimal_paths.csv", { "pre", "post", "layer", "pre_activation", "post_activation" })
    local l = assert_csv(d .. "/olfaction_actmax_losses.csv",
                         { "iteration", "activation_loss", "out_regularisation_loss", "in_regularisation_loss" }, 10)
    assert.is_true(l.activation_loss[l:nrow()] < l.activation_loss[1], "the activation loss did not go down")
    assert.is_truthy(out:find("driven most:", 1, true), out)
  end)

  it("larva.lua writes top types, paths and the optimal modalities", function()
    if not HAVE_LARVA then pending("../shared/data (larval connectome) is absent") return end
    local d = newdir()
    local out, rc = run("larva.lua", "--out " .. q(d) .. " --iterations 40")
    assert.are.equal(0, rc, out)
    assert_csv(d .. "/larva_top_types.csv", { "modality", "layer", "cell_type", "neurons", "mean_activation", "rank" })
    local p = assert_csv(d .. "/larva_paths.csv",
                         { "pre", "post", "weight", "layer", "pre_activation", "post_activation", "batch", "modality" })
    assert.is_true(p:nrow() < 2000, "the paths frame should stay small, has " .. p:nrow())
    local m = assert_csv(d .. "/larva_optimal_modalities.csv", { "modality", "mean_input", "neurons_driven", "neurons" }, 8)
    assert.is_true(m.neurons_driven[1] + m.neurons_driven[2] > 0)
    local l = assert_csv(d .. "/larva_actmax_losses.csv", { "iteration", "activation_loss" }, 10)
    assert.is_true(l.activation_loss[l:nrow()] < l.activation_loss[1])
  end)

  -- a screen script's folder: the results table (one row per task, in task order),
  -- one optimised input per task, the summary by input group and the heat map
  local function assert_screen(d, tasks)
    local r = assert_csv(d .. "/results.csv", { "task", "n_targets", "act_loss_first", "act_loss_final",
                                                "target_activation", "top_inputs", "iterations" }, #tasks)
    assert.are.equal(#tasks, r:nrow())
    for k, task in ipairs(tasks) do
      assert.are.equal(task, r.task[k])
      assert.is_true(r.act_loss_final[k] < 0.5 * r.act_loss_first[k],
                     task .. ": the activation loss did not fall to half (" .. r.act_loss_first[k] .. " -> " ..
                     r.act_loss_final[k] .. ")")
      local file = d .. "/inputs/" .. require("cinterp.screen_problem").file_name(task) .. ".csv"
      assert_csv(file, { "sensory", "neuron", "id", "group", "time_1" })
    end
    assert_csv(d .. "/input_by_group.csv", { "task", "group", "mean_input" }, #tasks)
    if HAVE_GNUPLOT then assert_png(d .. "/figures/inputs.png") end
  end

  it("screen_mushroom_body.lua screens MBON types (a trial: the first 3), resumes, refuses other settings", function()
    if not HAVE_MB then pending("../shared/data (FlyWire mushroom body) is absent") return end
    local d = newdir() .. "/mb"
    local out, rc = run("screen_mushroom_body.lua", "--out " .. q(d) .. " --limit 3 --batch 2 --quiet")
    assert.are.equal(0, rc, out)
    assert_screen(d, { "MBON01", "MBON02", "MBON03" })
    assert.is_truthy(out:find("3 tasks: the activation loss fell to half or less in 3", 1, true), out)
    -- a rerun finds every task stored; other settings in the same folder are refused
    out, rc = run("screen_mushroom_body.lua", "--out " .. q(d) .. " --limit 3")
    assert.are.equal(0, rc, out)
    assert.is_truthy(out:find("3/3 tasks done (3 before this run)", 1, true), out)
    out, rc = run("screen_mushroom_body.lua", "--out " .. q(d) .. " --limit 3 --lr 0.1 --quiet")
    assert.are_not.equal(0, rc)
    assert.is_truthy(out:find("another spec", 1, true), out)
  end)

  it("screen_larva.lua screens larval cell types (a trial: the first one, a one-row figure)", function()
    if not HAVE_LARVA then pending("../shared/data (larval connectome) is absent") return end
    local d = newdir() .. "/larva"
    local out, rc = run("screen_larva.lua", "--out " .. q(d) .. " --limit 1 --quiet")
    assert.are.equal(0, rc, out)
    assert_screen(d, { "CN" })
    -- the input is summarised by modality: the 8 sensory modalities
    local g = assert_csv(d .. "/input_by_group.csv", { "task", "group", "mean_input" }, 8)
    assert.are.equal(8, g:nrow())
  end)

  it("olfaction_figures.lua writes every figure kind as PNG", function()
    if not HAVE_MB then pending("../shared/data (FlyWire mushroom body, DoOR) is absent") return end
    if not HAVE_GNUPLOT then pending("gnuplot is not installed (apt-get install gnuplot-nox)") return end
    local d = newdir() .. "/figs/nested"        -- the script creates the folder
    local out, rc = run("olfaction_figures.lua", "--out " .. q(d) .. " --iterations 40 --epochs 5")
    assert.are.equal(0, rc, out)
    for _, name in ipairs { "timeseries_by_odour", "timeseries_by_group", "pn_by_glomerulus", "actmax_losses",
                            "actmax_input", "saliency", "train_losses" } do
      assert_png(d .. "/" .. name .. ".png")
    end
  end)

  it("actmax.lua runs a tiny configuration and writes input, activations and losses", function()
    local d = newdir()
    -- a chain 1 -> 2 -> 3 -> 4 and 5 -> 3; sensory: neurons 1 and 5 (type "sensory")
    local e = io.open(d .. "/edges.csv", "w")
    e:write("pre,post,weight\n1,2,5\n2,3,4\n5,3,2\n3,4,6\n")
    e:close()
    local nf = io.open(d .. "/neurons.csv", "w")
    nf:write("id,type,sign\n1,sensory,\n2,a,\n3,b,\n4,target,\n5,sensory,\n")
    nf:close()
    local out, rc = run("actmax.lua", "--edges " .. q(d .. "/edges.csv") .. " --neurons " .. q(d .. "/neurons.csv") ..
                        " --target target --layers 3 --iterations 30 --quiet --out " .. q(d .. "/o"))
    assert.are.equal(0, rc, out)
    local input = assert_csv(d .. "/o/input.csv", { "id", "type", "time_1", "time_2", "time_3" }, 2)
    assert.are.equal(2, input:nrow())
    local acts = assert_csv(d .. "/o/activations.csv", { "id", "type", "time_1", "time_2", "time_3" }, 5)
    assert.are.equal(5, acts:nrow())
    assert_csv(d .. "/o/losses.csv", {}, 1)
  end)

  it("demo.lua runs end to end", function()
    local out, rc = run("demo.lua", "--data " .. q(HAVE_LARVA and DATA or (newdir() .. "/nowhere")))
    assert.are.equal(0, rc, out)
    assert.is_true(#out > 200, out)
  end)
end)
