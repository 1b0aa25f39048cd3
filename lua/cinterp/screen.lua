-- screen.lua: ci.screen(spec), one recipe over every task of a screen (API.md
-- section 6), and ci.screen_merge(dir). The steps, each in its own module:
--   screen_check.lua    the spec's fields, checked (unknown fields refused)
--   screen_problem.lua  the spec resolved: network, sorted tasks, fingerprint
--   screen_store.lua    the output folder: atomic task files, resume, merge
--   screen_kinds.lua    what a batch of tasks computes, per kind
--   screen_figures.lua  the figures of a merged screen
--   screen_cli.lua      `cinterp screen ...` (run, merge, sbatch)
-- A shard {i, N} takes every N-th task of the sorted list from the i-th, skips
-- those already stored, runs the rest spec.batch at a time, stores each task as
-- soon as its batch ends, prints a progress line per batch on stderr, and, when
-- no task of the screen is missing any more (it was the last shard to finish),
-- merges the folder into results.csv and the figures.
local check = require "cinterp.screen_check"
local problem = require "cinterp.screen_problem"
local store = require "cinterp.screen_store"
local kinds = require "cinterp.screen_kinds"
local now = require("cinterp.progress").now
local O = require "cinterp.options"

local fmt = string.format

local function hms(t)
  if t ~= t or t == math.huge then return "--:--" end
  t = math.floor(t + 0.5)
  local h, m, s = math.floor(t / 3600), math.floor(t / 60) % 60, t % 60
  if h > 0 then return fmt("%d:%02d:%02d", h, m, s) end
  return fmt("%d:%02d", m, s)
end

return function(ci)
  --- ci.screen(spec) -> frame of this shard's result rows (see API.md section 6).
  function ci.screen(spec)
    local s = check.check(spec, 2)
    local P = problem.build(ci, s)
    local columns = kinds.COLUMNS[P.kind]
    local st = store.open(ci, s.out, P, columns)
    local i, N = s.shard[1], s.shard[2]
    local mine, todo = {}, {}
    for k, task in ipairs(P.tasks) do
      if (k - 1) % N == i - 1 then
        mine[#mine + 1] = task
        if not st:done(task) then todo[#todo + 1] = task end
      end
    end
    local skipped = #mine - #todo
    local t0 = now()
    local function progress(done)
      if s.quiet then return end
      local el = now() - t0
      local eta = done > 0 and el / done * (#todo - done) or math.huge
      io.stderr:write(fmt("screen %s shard %d/%d: %d/%d tasks done%s, %s elapsed, ETA %s\n", P.kind, i, N,
                          skipped + done, #mine, skipped > 0 and fmt(" (%d before this run)", skipped) or "",
                          hms(el), done == #todo and "0:00" or hms(eta)))
      io.stderr:flush()
    end
    local rows_of = {}
    local done = 0
    progress(0)
    for b = 1, #todo, s.batch do
      local batch = {}
      for k = b, math.min(b + s.batch - 1, #todo) do batch[#batch + 1] = todo[k] end
      local results = kinds.run(ci, P, batch)
      for k, task in ipairs(batch) do
        st:write(task, results[k])
        rows_of[task] = results[k].rows
      end
      done = done + #batch
      progress(done)
    end
    local rows = {}
    for _, task in ipairs(mine) do
      for _, r in ipairs(rows_of[task] or st:rows(task)) do rows[#rows + 1] = r end
    end
    local merged, missing = store.merge(ci, s.out, { if_complete = true, figures = s.figures })
    if not s.quiet then
      if merged then
        io.stderr:write(fmt("screen %s: all %d tasks done: %s/results.csv\n", P.kind, #P.tasks, s.out))
      else
        io.stderr:write(fmt("screen %s shard %d/%d finished; %d task(s) of other shards still missing\n",
                            P.kind, i, N, #missing))
      end
    end
    return ci.frame.from_rows(columns, rows)
  end

  local MERGE = O.declare {
    name = "ci.screen_merge", topic = "Screens",
    doc = [[Merges a screen's folder: writes dir/results.csv (every task's rows in task order, the
    bytes the shards wrote), input_by_group.csv (actmax, restarts) and the figures. It refuses,
    naming them, missing tasks, duplicated results, results of another spec and files that are no
    task of the screen; merging twice writes the same bytes. `cinterp screen merge DIR` is the
    same from the shell.]],
    args = { { "dir", "string", "the screen's out folder" } },
    opts = { { "figures", "boolean", true, "draw the figures (figures/*.png)" } },
    returns = { { "ok", "boolean", "true" } },
    example = [[local W, sensory = ci.random_connectome(200, 4000, {seed = 5})
    local types = {}
    for i = 1, 200 do types[i] = "t" .. i % 4 end
    local out = os.tmpname(); os.remove(out)
    local spec = {kind = "activate", connectome = {weights = W, neurons = ci.frame{type = types}},
                  sensory = sensory, tasks = "type", out = out, quiet = true, figures = false}
    spec.shard = {1, 2}; ci.screen(spec)          -- tasks t0, t2 of t0 .. t3
    local ok, err = pcall(ci.screen_merge, out)
    print(ok, err:match("%d+ of %d+ tasks missing: [%w, ]*"))  --> false 2 of 4 tasks missing: t1, t3
    spec.shard = {2, 2}; ci.screen(spec)
    print(ci.screen_merge(out, {figures = false}))             --> true
    os.execute("rm -rf " .. out)]],
  }

  function ci.screen_merge(dir, opts)
    if type(dir) ~= "string" then error("ci.screen_merge: dir must be a folder name, got " .. O.describe(dir), 2) end
    opts = O.check(MERGE, opts)
    return store.merge(ci, dir, opts)
  end
end
