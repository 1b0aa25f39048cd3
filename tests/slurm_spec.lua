-- slurm_spec.lua: `cinterp screen sbatch` on a real Slurm cluster. A private
-- one-node cluster (tests/slurm/cluster.sh: munged, slurmctld and slurmd on
-- 127.0.0.1, config, key, spool and state under a temporary folder; its header
-- lists the container pitfalls) runs the generated job-array script:
--   1. `sbatch --wait` of a 3-shard array: the merged results.csv that the last
--      shard wrote equals, byte for byte, one process's run (the seconds column,
--      a timing, left out);
--   2. shard 2 cancelled (scancel) mid-run after it stored its first task: no
--      merge happens, the stored tasks survive; resubmitting the same script
--      completes the screen, skipping what was done, with no task lost or
--      duplicated, and the merged table again equals one process's run.
-- The daemons are stopped by their pids in teardown (and by the script's
-- watchdog should this process die first). Installs slurm-wlm and munge when
-- missing (apt-get, as root). Skipped in the sanitizer run (make asan): it
-- tests the scheduling, not the memory, and the instrumented host is slow.
local ffi = require "ffi"
local SH = require "screenhelp"
local H = require "hostbin"
local P = require "cinterp.screen_problem"
local q = SH.q

pcall(ffi.cdef, "int getpid(void);")

local sanitized = os.getenv("CINTERP_SANITIZED") == "1"
local dir, cluster, conf, started, missing
local bin = H.bin

local function sh(cmd)
  local p = io.popen(cmd .. " 2>&1")
  local out = p:read("*a")
  p:close()
  return out
end

-- runs cmd with the cluster's SLURM_CONF (and one OpenMP thread, which the jobs
-- inherit: on a loaded machine a second thread spinning between the tiny
-- network's parallel regions makes a task ~20x slower); returns its output and
-- whether it exited 0
local function slurm(cmd)
  local out = sh("OMP_NUM_THREADS=1 SLURM_CONF=" .. q(conf) .. " " .. cmd .. "; echo \"rc=$?\"")
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  return out:gsub("rc=%d+%s*$", ""), rc == 0
end

local function sleep(s) os.execute("sleep " .. s) end

local SPEC = [[
-- a screen for the Slurm test: 10 types, 3 shards; the input's L1 penalty is a
-- custom regulariser (as the reference's author screens), which also waits 2 ms
-- per iteration so that a task lasts about a second and a shard can be cancelled
-- between two tasks
local ffi = require "ffi"
pcall(ffi.cdef, "int usleep(unsigned int usec);")
local function l1(t)
  ffi.C.usleep(2000)
  return t:abs():sum()
end
return {
  kind = "actmax", edges = %q, neurons = %q, read = { nt = "nt" },
  sensory = { class = "in" }, tasks = "type", match = "^T",
  layers = { 2, 3 }, value = 0.8, model = { num_layers = 3, tau = 1 },
  actmax = { num_iterations = 300, learning_rate = 0.05, in_reg_lambda = 1e-3, out_reg_lambda = 1e-3,
             early_stopping = false, custom_reg_functions = { ["in"] = l1 } },
  out = %q,
}
]]

setup(function()
  if sanitized then return end
  dir = SH.tmpdir()
  local edges, neurons = SH.write_connectome(dir)
  SH.write(dir .. "/spec.lua", SPEC:format(edges, neurons, dir .. "/single"))
  cluster = dir .. "/cluster"
  local out = sh("bash tests/slurm/cluster.sh start " .. q(cluster) .. " " .. ffi.C.getpid() .. "; echo \"rc=$?\"")
  local rc = tonumber(out:match("rc=(%d+)%s*$"))
  started = rc == 0
  missing = rc == 77 -- Slurm absent and no root to install it
  conf = out:match("SLURM_CONF=(%S+)")
  if not started and not missing then io.stderr:write(out) end
end)

teardown(function()
  if cluster then sh("bash tests/slurm/cluster.sh stop " .. q(cluster)) end
  SH.rm(dir)
end)

local function need_cluster()
  if sanitized then
    pending("skipped under the sanitizers (make asan): the Slurm test runs in the plain make test")
    return false
  end
  if missing then
    pending("slurm-wlm / munge are not installed and this user cannot install them (make deps as root does)")
    return false
  end
  assert(started, "the private Slurm cluster did not start (tests/slurm/cluster.sh; its output is above)")
  return true
end

-- the single-process run, once
local single
local function single_run()
  if not single then
    local out = sh("OMP_NUM_THREADS=1 " .. q(bin) .. " screen " .. q(dir .. "/spec.lua") .. " --quiet")
    single = SH.read(dir .. "/single/results.csv")
    assert(single, "the single-process run wrote no results.csv:\n" .. out)
  end
  return single
end

local function script(out, N)
  local text = sh(q(bin) .. " screen sbatch " .. q(dir .. "/spec.lua") .. " --array " .. N .. " --out " .. q(out))
  assert(text:find("^#!/bin/bash"), text)
  local path = out .. ".sbatch"
  SH.write(path, text)
  return path
end

local function task_files(out)
  local names = require("cinterp.screen_store").list_dir(out .. "/tasks") or {}
  local set = {}
  for _, n in ipairs(names) do if n:match("^[^.].*%.csv$") then set[n] = true end end
  return set
end

describe("cinterp screen sbatch on a private Slurm cluster", function()
  it("runs a job array whose merge equals one process's run", function()
    if not need_cluster() then return end
    local out = dir .. "/array"
    local path = script(out, 3)
    local log, ok = slurm("sbatch --wait " .. q(path))
    assert.is_true(ok, log)
    local merged = SH.read(out .. "/results.csv")
    assert.truthy(merged, "no results.csv after the array:\n" .. log .. (SH.read(out .. "/slurm/shard-2.out") or ""))
    assert.are.equal(11, select(2, merged:gsub("\n", ""))) -- the header and 10 tasks
    assert.are.equal(SH.without_seconds(single_run()), SH.without_seconds(merged))
    for i = 1, 3 do
      assert.truthy((SH.read(out .. "/slurm/shard-" .. i .. ".out") or ""):find(
        "screen actmax shard " .. i .. "/3: %d/%d tasks done"))
    end
  end)

  it("completes a shard cancelled mid-run when the script is submitted again", function()
    if not need_cluster() then return end
    local out = dir .. "/killed"
    local path = script(out, 3)
    local log, ok = slurm("sbatch --parsable " .. q(path))
    assert.is_true(ok, log)
    local job = log:match("(%d+)")
    -- shard 2 holds T02, T05, T08 (every 3rd task from the 2nd); cancel it once T02 is stored
    local first, third = P.file_name("T02") .. ".csv", P.file_name("T08") .. ".csv"
    local waited = 0
    while not task_files(out)[first] and waited < 240 do sleep(0.1); waited = waited + 0.1 end
    assert.truthy(task_files(out)[first], "shard 2 stored no task within 4 minutes")
    local _, cancelled = slurm("scancel " .. job .. "_2")
    assert.is_true(cancelled)
    waited = 0
    while waited < 300 do
      local queue = slurm("squeue -h -j " .. job)
      if not queue:find("%d") then break end
      sleep(0.5); waited = waited + 0.5
    end
    local files = task_files(out)
    assert.is_nil(files[third], "shard 2 finished before it was cancelled: the test proves nothing")
    assert.is_nil(SH.read(out .. "/results.csv"), "a merge happened with shard 2's tasks missing")
    local n_before = 0
    for _ in pairs(files) do n_before = n_before + 1 end
    assert.is_true(n_before >= 8 and n_before <= 9, "stored tasks after the cancel: " .. n_before)
    -- the merge names what is missing
    local msg = sh(q(bin) .. " screen merge " .. q(out))
    assert.truthy(msg:find("tasks missing: .*T08"), msg)

    local log2, ok2 = slurm("sbatch --wait " .. q(path))
    assert.is_true(ok2, log2)
    local merged = SH.read(out .. "/results.csv")
    assert.truthy(merged, "no results.csv after the resubmission")
    assert.are.equal(SH.without_seconds(single_run()), SH.without_seconds(merged))
    local tasks = {}
    for line in merged:gmatch("[^\n]+") do
      local t = line:match("^([^,]+),")
      assert.is_nil(tasks[t], "task " .. t .. " twice")
      tasks[t] = true
    end
    local n = 0
    for name in pairs(task_files(out)) do n = n + 1; assert.truthy(name:match("^T%d%d%.")) end
    assert.are.equal(10, n)
    -- the rerun skipped the stored tasks: shard 1's second log says all 4 were done before it
    local log1 = SH.read(out .. "/slurm/shard-1.out") or ""
    assert.truthy(log1:find("4/4 tasks done %(4 before this run%)"), log1)
    local log2s = SH.read(out .. "/slurm/shard-2.out") or ""
    assert.truthy(log2s:find("tasks done %(" .. (n_before - 7) .. " before this run%)"), log2s)
  end)
end)
