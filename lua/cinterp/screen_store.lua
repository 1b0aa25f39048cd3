-- screen_store.lua: a screen's output folder, resumable and mergeable.
--
--   OUT/spec.txt          "spec_hash: H" and the text the hash covers (screen_problem.lua)
--   OUT/tasks.csv         the sorted task list: task, file
--   OUT/tasks/F.csv       one finished task: its result rows and, as the last
--                         column, spec_hash (so every result names its spec)
--   OUT/inputs/F.csv      its optimised input (actmax, restarts): sensory (slot),
--                         neuron (index), id, group, time_1 .. time_L
--   OUT/results.csv       the merge: every task's rows in task order, spec_hash dropped
--   OUT/input_by_group.csv  (actmax, restarts) task, group, mean_input
--   OUT/figures/*.png     screen_figures.lua
--
-- Every file is written atomically: to a hidden temporary name in the same
-- folder, then renamed over the final name, so a killed process leaves either
-- the whole file or none (and a stray .tmp file, which nothing reads). A task's
-- input is written before its result, so a result file means the task is done.
-- merge(dir) works from the files alone, is idempotent (the same files give the
-- same bytes), and refuses, naming them, missing tasks, duplicated tasks, rows
-- of another spec and files that are no task of this spec. Its output is the
-- task files' own text, so the merged table equals, byte for byte, what the
-- processes wrote.
local ffi = require "ffi"

local M = {}
local fmt, concat = string.format, table.concat

pcall(ffi.cdef, [[
typedef struct { uint64_t d_ino; int64_t d_off; unsigned short d_reclen; unsigned char d_type;
                 char d_name[256]; } ci_screen_dirent;
void *opendir(const char *name);
ci_screen_dirent *readdir(void *dir);
int closedir(void *dir);
int mkdir(const char *path, unsigned int mode);
int getpid(void);
char *strerror(int errnum);
]])

-- ---------------------------------------------------------------- files

--- The names in a folder (no . and ..), sorted; nil when it cannot be opened.
function M.list_dir(path)
  local d = ffi.C.opendir(path)
  if d == nil then return nil end
  local out = {}
  while true do
    local e = ffi.C.readdir(d)
    if e == nil then break end
    local name = ffi.string(e.d_name)
    if name ~= "." and name ~= ".." then out[#out + 1] = name end
  end
  ffi.C.closedir(d)
  table.sort(out)
  return out
end

--- mkdir -p; raises with the reason on failure.
function M.mkdir_p(path, where)
  local acc = path:sub(1, 1) == "/" and "" or nil
  for part in path:gmatch("[^/]+") do
    acc = acc and (acc .. "/" .. part) or part
    if ffi.C.mkdir(acc, 493) ~= 0 then -- 0755
      local err = ffi.errno()
      if err ~= 17 then -- EEXIST
        error(fmt("%s: cannot create folder '%s': %s", where, acc, ffi.string(ffi.C.strerror(err))), 0)
      end
    end
  end
end

function M.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

local tmp_count = 0
--- A hidden temporary name next to path (unique to this process; it keeps the
--- extension, which tells the CSV and figure writers the format).
function M.temp_name(path)
  tmp_count = tmp_count + 1
  local dir, base = path:match("^(.*/)([^/]*)$")
  if not dir then dir, base = "", path end
  return fmt("%s.tmp.%d.%d.%s", dir, ffi.C.getpid(), tmp_count, base)
end

--- Writes path atomically through writer(tmp_path).
function M.atomic(path, writer, where)
  local tmp = M.temp_name(path)
  local ok, err = pcall(writer, tmp)
  if ok then
    local r, why = os.rename(tmp, path)
    if not r then ok, err = false, why end
  end
  if not ok then
    os.remove(tmp)
    error(fmt("%s: cannot write '%s': %s", where, path, tostring(err)), 0)
  end
end

function M.write_text(path, text, where)
  M.atomic(path, function(tmp)
    local f = assert(io.open(tmp, "wb"))
    assert(f:write(text))
    assert(f:close())
  end, where)
end

-- ---------------------------------------------------------------- CSV lines

--- The fields of one CSV record on one line (RFC 4180 quoting), as text.
function M.split_csv(line)
  local out, pos, n = {}, 1, #line
  while true do
    if line:sub(pos, pos) == '"' then
      local buf, p = {}, pos + 1
      while true do
        local q = line:find('"', p, true)
        if not q then error("unterminated quote in CSV line: " .. line, 0) end
        buf[#buf + 1] = line:sub(p, q - 1)
        if line:sub(q + 1, q + 1) == '"' then
          buf[#buf + 1] = '"'
          p = q + 2
        else
          pos = q + 1
          break
        end
      end
      out[#out + 1] = concat(buf)
    else
      local c = line:find(",", pos, true) or (n + 1)
      out[#out + 1] = line:sub(pos, c - 1)
      pos = c
    end
    if pos > n then break end
    pos = pos + 1 -- past the comma
    if pos > n then out[#out + 1] = ""; break end
  end
  return out
end

local function lines(text)
  local out = {}
  for l in text:gmatch("([^\n]*)\n?") do
    l = l:gsub("\r$", "")
    if l ~= "" then out[#out + 1] = l end
  end
  return out
end
M.lines = lines

-- ---------------------------------------------------------------- the folder of one spec

local Store = {}
Store.__index = Store

local function spec_hash_of(dir)
  local text = M.read_file(dir .. "/spec.txt")
  if not text then return nil end
  return text:match("^spec_hash: (%x+)"), text
end

--- open(ci, out, P, columns) -> store. Creates the folder; refuses one that
--- holds results of another spec.
function M.open(ci, out, P, columns)
  local where = "ci.screen"
  local old = spec_hash_of(out)
  if old and old ~= P.hash then
    error(fmt("%s: the folder '%s' holds results of another spec (spec hash %s; this spec's is %s); " ..
              "give another out folder, or remove it (its spec.txt says what the other spec was)",
              where, out, old, P.hash), 0)
  end
  M.mkdir_p(out .. "/tasks", where)
  if P.kind == "actmax" or P.kind == "restarts" then M.mkdir_p(out .. "/inputs", where) end
  local self = setmetatable({ ci = ci, dir = out, P = P, columns = columns,
                              text_columns = require("cinterp.screen_kinds").TEXT_COLUMNS }, Store)
  if not old then
    local labels, files = {}, {}
    for k, t in ipairs(P.tasks) do labels[k], files[k] = t.label, t.file end
    M.atomic(out .. "/tasks.csv", function(tmp)
      ci.frame({ task = labels, file = files }, { "task", "file" }):write_csv(tmp)
    end, where)
    M.write_text(out .. "/spec.txt", "spec_hash: " .. P.hash .. "\n" .. P.description, where)
  end
  return self
end

function Store:task_path(task) return self.dir .. "/tasks/" .. task.file .. ".csv" end

--- Whether the task's result is stored (for this spec; another spec's is an error).
function Store:done(task)
  local text = M.read_file(self:task_path(task))
  if not text then return false end
  local ls = lines(text)
  local h = ls[2] and ls[2]:match(",(%x+)$")
  if h ~= self.P.hash then
    error(fmt("ci.screen: %s is not a result of this spec (spec hash %s, this spec's is %s)",
              self:task_path(task), tostring(h), self.P.hash), 0)
  end
  return true
end

--- The stored rows of a finished task, typed as the kind's columns.
function Store:rows(task)
  local ls = lines(M.read_file(self:task_path(task)))
  local rows = {}
  for k = 2, #ls do
    local f = M.split_csv(ls[k])
    local row = {}
    for j, name in ipairs(self.columns) do
      local v = f[j]
      if name == "task" then
        v = task.label
      elseif not self.text_columns[name] then
        v = v == "" and 0 / 0 or tonumber(v)
      end
      row[j] = v
    end
    rows[#rows + 1] = row
  end
  return rows
end

--- Stores a finished task: its input (if any), then its rows.
function Store:write(task, result)
  local ci, P = self.ci, self.P
  local where = "ci.screen"
  if result.input then
    local x = result.input
    local L = x:size(2)
    local cols = { sensory = {}, neuron = {}, id = {}, group = {} }
    local order = { "sensory", "neuron", "id", "group" }
    for l = 1, L do cols["time_" .. l] = {}; order[#order + 1] = "time_" .. l end
    for s, i in ipairs(P.sensory) do
      cols.sensory[s], cols.neuron[s], cols.id[s], cols.group[s] = s, i, P.c.ids[i], P.input_group[s]
      for l = 1, L do cols["time_" .. l][s] = x:get(s, l) end
    end
    M.atomic(self.dir .. "/inputs/" .. task.file .. ".csv", function(tmp)
      ci.frame(cols, order):write_csv(tmp)
    end, where)
  end
  local names = {}
  for j, c in ipairs(self.columns) do names[j] = c end
  names[#names + 1] = "spec_hash"
  local rows = {}
  for k, r in ipairs(result.rows) do
    local row = {}
    for j = 1, #r do row[j] = r[j] end
    row[#r + 1] = P.hash
    rows[k] = row
  end
  M.atomic(self:task_path(task), function(tmp)
    ci.frame.from_rows(names, rows):write_csv(tmp)
  end, where)
end

-- ---------------------------------------------------------------- merge

local function list_names(names, max)
  max = max or 10
  local shown = {}
  for k = 1, math.min(max, #names) do shown[k] = names[k] end
  local s = concat(shown, ", ")
  if #names > max then s = s .. fmt(", ... (%d in all)", #names) end
  return s
end

-- the number of key fields of a row per kind (what identifies it)
local KEY_FIELDS = { actmax = 1, restarts = 1, silence = 2, activate = 2, grid = 4 }

--- merge(ci, dir, opts) -> true, or false and the missing task labels when
--- opts.if_complete and some are missing. opts.figures (default true) draws the
--- figures. Raises on missing (unless if_complete), duplicated or foreign results.
function M.merge(ci, dir, opts)
  opts = opts or {}
  local where = "cinterp screen merge"
  local hash, spec_text = spec_hash_of(dir)
  if not hash then
    error(fmt("%s: '%s' is no screen folder (it has no spec.txt)", where, dir), 0)
  end
  local kind = spec_text:match("\nkind: (%w+)")
  local columns = require("cinterp.screen_kinds").COLUMNS[kind]
  if not columns then error(fmt("%s: %s/spec.txt names an unknown kind", where, dir), 0) end
  local manifest_text = M.read_file(dir .. "/tasks.csv")
  if not manifest_text then error(fmt("%s: %s has no tasks.csv", where, dir), 0) end
  local mlines = lines(manifest_text)
  local tasks, by_file = {}, {}
  for k = 2, #mlines do
    local f = M.split_csv(mlines[k])
    local t = { label = f[1], file = f[2] }
    tasks[#tasks + 1] = t
    by_file[t.file .. ".csv"] = t
  end
  local header = concat(columns, ",")
  local nkey = KEY_FIELDS[kind]
  local missing, foreign, other_spec, dup = {}, {}, {}, {}
  local seen_key = {}
  local names = M.list_dir(dir .. "/tasks") or {}
  for _, name in ipairs(names) do
    if name:sub(1, 1) ~= "." and name:match("%.csv$") then
      local t = by_file[name]
      if not t then
        foreign[#foreign + 1] = "tasks/" .. name
      else
        local ls = lines(M.read_file(dir .. "/tasks/" .. name) or "")
        if ls[1] ~= header .. ",spec_hash" then
          foreign[#foreign + 1] = "tasks/" .. name .. " (its columns are not this kind's)"
        else
          t.rows = {}
          for k = 2, #ls do
            local body, h = ls[k]:match("^(.*),(%x+)$")
            if h ~= hash then
              other_spec[#other_spec + 1] = fmt("tasks/%s (spec hash %s)", name, tostring(h))
              break
            end
            local f = M.split_csv(body)
            if kind ~= "grid" and f[1] ~= t.label then
              foreign[#foreign + 1] = fmt("tasks/%s (holds task '%s', not '%s')", name, f[1], t.label)
              break
            end
            local key = concat(f, "\1", 1, nkey)
            if seen_key[key] then
              dup[#dup + 1] = fmt("%s in tasks/%s and tasks/%s", concat(f, "/", 1, nkey), seen_key[key], name)
            else
              seen_key[key] = name
            end
            t.rows[#t.rows + 1] = { body = body, fields = f }
          end
        end
      end
    end
  end
  local problems = {}
  if #other_spec > 0 then
    problems[#problems + 1] = fmt("%d result file(s) of another spec (this spec's hash is %s): %s",
                                  #other_spec, hash, list_names(other_spec))
  end
  if #foreign > 0 then
    problems[#problems + 1] = fmt("%d file(s) that are no task of this spec: %s", #foreign, list_names(foreign))
  end
  if #dup > 0 then
    problems[#problems + 1] = fmt("%d duplicated result(s): %s", #dup, list_names(dup))
  end
  if #problems > 0 then
    error(fmt("%s: %s: %s", where, dir, concat(problems, "; ")), 0)
  end
  for _, t in ipairs(tasks) do
    if not t.rows then missing[#missing + 1] = t.label end
  end
  if #missing > 0 then
    if opts.if_complete then return false, missing end
    error(fmt("%s: %s: %d of %d tasks missing: %s (run their shards again: finished tasks are skipped)",
              where, dir, #missing, #tasks, list_names(missing)), 0)
  end
  local out = { header }
  for _, t in ipairs(tasks) do
    for _, r in ipairs(t.rows) do out[#out + 1] = r.body end
  end
  M.write_text(dir .. "/results.csv", concat(out, "\n") .. "\n", where)
  local by_group
  if kind == "actmax" or kind == "restarts" then by_group = M.input_by_group(ci, dir, tasks) end
  if opts.figures ~= false then
    require("cinterp.screen_figures").write(ci, dir, kind, tasks, by_group)
  end
  return true
end

--- OUT/input_by_group.csv from the inputs: per task and input group the mean of
--- the optimised input over the group's neurons and timesteps.
function M.input_by_group(ci, dir, tasks)
  local where = "cinterp screen merge"
  local groups, gseen = {}, {}
  local means = {}
  for k, t in ipairs(tasks) do
    local text = M.read_file(dir .. "/inputs/" .. t.file .. ".csv")
    if not text then error(fmt("%s: %s/inputs/%s.csv is missing (task %s)", where, dir, t.file, t.label), 0) end
    local ls = lines(text)
    local sum, cnt = {}, {}
    for r = 2, #ls do
      local f = M.split_csv(ls[r])
      local g = f[4]
      if not gseen[g] then gseen[g] = true; groups[#groups + 1] = g end
      for j = 5, #f do
        sum[g] = (sum[g] or 0) + (tonumber(f[j]) or 0 / 0)
        cnt[g] = (cnt[g] or 0) + 1
      end
    end
    means[k] = {}
    for g, s in pairs(sum) do means[k][g] = s / cnt[g] end
  end
  table.sort(groups)
  local cols = { task = {}, group = {}, mean_input = {} }
  for k, t in ipairs(tasks) do
    for _, g in ipairs(groups) do
      local n = #cols.task + 1
      cols.task[n], cols.group[n], cols.mean_input[n] = t.label, g, means[k][g] or 0 / 0
    end
  end
  M.atomic(dir .. "/input_by_group.csv", function(tmp)
    ci.frame(cols, { "task", "group", "mean_input" }):write_csv(tmp)
  end, where)
  return { groups = groups, means = means }
end

return M
