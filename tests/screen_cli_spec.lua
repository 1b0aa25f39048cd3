-- screen_cli_spec.lua: the command `cinterp screen` (lua/cinterp/screen_cli.lua,
-- dispatched by bindings/host.c) run as a child process: shards from the command
-- line, merge, the Slurm script, and errors without tracebacks.
local SH = require "screenhelp"
local H = require "hostbin"
local q = SH.q

local dir, spec_path
setup(function()
  dir = SH.tmpdir()
  local edges, neurons = SH.write_connectome(dir)
  spec_path = dir .. "/spec.lua"
  SH.write(spec_path, string.format([[
return { kind = "actmax", edges = %q, neurons = %q, sensory = { class = "in" }, tasks = "type",
         match = "^T0[1-5]$", model = { num_layers = 3, tau = 1 }, actmax = { num_iterations = 5 },
         out = %q }
]], edges, neurons, dir .. "/out"))
end)
teardown(function() SH.rm(dir) end)

-- runs `cinterp screen ARGS`; returns stdout, stderr and the exit status
local function screen(args)
  local err = dir .. "/stderr"
  local p = io.popen(q(H.bin) .. " screen " .. args .. " 2>" .. q(err) .. "; echo \"rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return out:gsub("rc=%d+%s*$", ""), SH.read(err) or "", rc
end

describe("cinterp screen", function()
  it("runs shards from the command line; the last one merges", function()
    local out, err, rc = screen(q(spec_path) .. " --shard 1/2 --batch 2")
    assert.are.equal(0, rc, err)
    assert.are.equal("3 result rows of this shard stored under " .. dir .. "/out\n", out)
    assert.truthy(err:find("screen actmax shard 1/2: 3/3 tasks done", 1, true))
    assert.is_nil(SH.read(dir .. "/out/results.csv"))
    out, err, rc = screen(q(spec_path) .. " --shard=2/2 --quiet")
    assert.are.equal(0, rc, err)
    assert.are.equal("", err)
    local res = SH.read(dir .. "/out/results.csv")
    assert.truthy(res)
    assert.are.equal(6, select(2, res:gsub("\n", "")))
    out, err, rc = screen("merge " .. q(dir .. "/out") .. " --no-figures")
    assert.are.equal(0, rc, err)
    assert.are.equal(res, SH.read(dir .. "/out/results.csv")) -- the merge is idempotent
  end)

  it("prints a job-array script that runs shard i of N with this cinterp by absolute paths", function()
    local out, err, rc = screen("sbatch " .. q(spec_path) .. " --array 3 --out " .. q(dir .. "/arr") ..
                                " --time 2:00:00 --mem 8G --cpus-per-task 4 --partition short --batch 8")
    assert.are.equal(0, rc, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("#!/bin/bash", lines[1])
    for _, want in ipairs { "#SBATCH --array=1-3", "#SBATCH --time=2:00:00", "#SBATCH --mem=8G",
                            "#SBATCH --cpus-per-task=4", "#SBATCH --partition=short",
                            "#SBATCH --output=" .. dir .. "/arr/slurm/shard-%a.out",
                            "export OMP_NUM_THREADS=\"$SLURM_CPUS_PER_TASK\"",
                            "exec " .. q(H.bin) .. " screen " .. q(spec_path) .. " --out " .. q(dir .. "/arr") ..
                            " --shard \"$SLURM_ARRAY_TASK_ID/3\" --batch 8" } do
      local found = false
      for _, l in ipairs(lines) do if l == want then found = true end end
      assert.is_true(found, want .. " is not in:\n" .. out)
    end
    assert.truthy(require("cinterp.screen_store").list_dir(dir .. "/arr/slurm"))
    -- bash accepts it
    SH.write(dir .. "/arr.sh", out)
    assert.is_true(os.execute("bash -n " .. q(dir .. "/arr.sh")) == 0)
    out, err, rc = screen("sbatch " .. q(spec_path))
    assert.are.equal(1, rc)
    assert.truthy(err:find("cinterp screen: sbatch needs --array N", 1, true))
  end)

  it("reports bad specs and incomplete merges on stderr, without a traceback, and exits 1", function()
    SH.write(dir .. "/bad.lua", "return { kind = 'actmax', taks = 'type' }")
    local _, err, rc = screen(q(dir .. "/bad.lua"))
    assert.are.equal(1, rc)
    assert.are.equal("ci.screen: unknown option 'taks' (did you mean 'tasks'?)\n", err)
    _, err, rc = screen(q(spec_path) .. " --shard 3/2")
    assert.are.equal(1, rc)
    assert.are.equal("ci.screen: shard 3 is outside 1..2\n", err)
    screen(q(spec_path) .. " --shard 1/2 --out " .. q(dir .. "/half") .. " --quiet")
    _, err, rc = screen("merge " .. q(dir .. "/half"))
    assert.are.equal(1, rc)
    assert.truthy(err:find("2 of 5 tasks missing: T02, T04", 1, true), err)
    _, err, rc = screen("--frobnicate")
    assert.are.equal(1, rc)
    assert.truthy(err:find("unknown option --frobnicate", 1, true))
    local out
    out, _, rc = screen("--help")
    assert.are.equal(0, rc)
    assert.truthy(out:find("usage: cinterp screen SPEC.lua", 1, true))
  end)
end)
