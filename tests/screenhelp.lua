-- screenhelp.lua: a small connectome on disk for the screen specs (screen_spec,
-- screen_cli_spec, slurm_spec): N neurons with ids 1001.., 12 input neurons
-- (class "in", types ORN_a..ORN_c), the others of types T01..T10 (class "mid"),
-- about 8 inputs per neuron from a fixed linear congruential generator, every
-- fifth neuron GABAergic (nt column, so some weights are inhibitory).
--   local SH = require "screenhelp"
--   local dir = SH.tmpdir()            -- a fresh folder (removed by SH.rm(dir))
--   local edges, neurons = SH.write_connectome(dir, {n = 80})
local SH = {}

function SH.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

function SH.tmpdir()
  local p = io.popen("mktemp -d")
  local d = p:read("*l")
  p:close()
  return d
end

function SH.rm(dir) if dir and dir:match("^/tmp/") then os.execute("rm -rf " .. SH.q(dir)) end end

SH.read = require("cinterp.screen_store").read_file -- the text of a file, or nil

function SH.write(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

--- Writes DIR/edges.csv and DIR/neurons.csv; returns their paths.
function SH.write_connectome(dir, opts)
  opts = opts or {}
  local n = opts.n or 80
  local state = opts.seed or 12345
  local function rnd(m) -- 1..m
    state = (state * 1103515245 + 12345) % 2147483648
    return math.floor(state / 65536) % m + 1
  end
  local nl = { "id,type,class,nt" }
  local orn = { "ORN_a", "ORN_b", "ORN_c" }
  for i = 1, n do
    local t, class
    if i <= 12 then t, class = orn[(i - 1) % 3 + 1], "in"
    else t, class = string.format("T%02d", (i - 13) % 10 + 1), "mid" end
    nl[#nl + 1] = string.format("%d,%s,%s,%s", 1000 + i, t, class, (i % 5 == 0) and "GABA" or "ACH")
  end
  local el = { "pre,post,weight" }
  for post = 13, n do
    local seen = {}
    for _ = 1, 8 do
      local pre = rnd(n)
      if pre ~= post and not seen[pre] then
        seen[pre] = true
        el[#el + 1] = string.format("%d,%d,%d", 1000 + pre, 1000 + post, rnd(5))
      end
    end
  end
  local edges, neurons = dir .. "/edges.csv", dir .. "/neurons.csv"
  SH.write(edges, table.concat(el, "\n") .. "\n")
  SH.write(neurons, table.concat(nl, "\n") .. "\n")
  return edges, neurons
end

--- The result rows of a results.csv without its seconds column (a timing), as text.
function SH.without_seconds(text)
  local out = {}
  local col
  for line in text:gmatch("[^\n]+") do
    local fields = {}
    for f in (line .. ","):gmatch("([^,]*),") do fields[#fields + 1] = f end
    if not col then
      for k, f in ipairs(fields) do if f == "seconds" then col = k end end
      col = col or 0
    end
    if col > 0 then table.remove(fields, col) end
    out[#out + 1] = table.concat(fields, ",")
  end
  return table.concat(out, "\n")
end

-- ---------------------------------------------------------------- probes of options_spec.lua
-- PROBES["ci.screen"] and PROBES["ci.screen_merge"] there call these. F is
-- options_spec's fixtures: F.edges / F.neurons, a 3-neuron connectome (ORN, LN,
-- KC), and F.c, it read. A screen probe picks the kind its options need (so
-- that every field's sample runs with a kind that has it), runs in a fresh
-- folder, and returns the rows without the seconds column (a timing).

local function screen_kind(o)
  if o.kind then return o.kind end
  if o.target or o.restarts or o.seeds then return "restarts" end
  if o.v1 or o.v2 or o.grid then return "grid" end
  if o.value or o.actmax or o.input_groups or o.top then return "actmax" end
  return "activate"
end

function SH.screen_probe(ci, F, o)
  o = o or {}
  local kind = screen_kind(o)
  local spec = { kind = kind, edges = F.edges, neurons = F.neurons, sensory = { type = "ORN" },
                 quiet = true, figures = false }
  if kind == "restarts" then
    spec.target = { type = "KC" }
    if not o.seeds then spec.restarts = 2 end
  elseif kind == "grid" then
    spec.v1, spec.v2, spec.readout, spec.grid = { type = "ORN" }, { 1 }, "type", { grid_size = 2 }
  else
    spec.tasks = "type"
  end
  if kind == "actmax" or kind == "restarts" then spec.actmax = { num_iterations = 2 } end
  for k, v in pairs(o) do spec[k] = v end
  if o.connectome then spec.edges, spec.neurons = nil, nil end
  local out = os.tmpname()
  os.remove(out)
  spec.out = out
  local ok, r = pcall(ci.screen, spec)
  os.execute("rm -rf " .. SH.q(out))
  if not ok then error(r, 0) end
  if r:has_column("seconds") then r = r:drop { "seconds" } end
  return r
end

-- a sample of every field without a default (read from F when the probe runs)
function SH.screen_samples(F)
  return setmetatable({}, { __index = function(_, k)
    local samples = {
      kind = "actmax", edges = F.edges, neurons = F.neurons, read = { nt = "nt" }, connectome = F.c,
      sensory = { type = "ORN" }, model = { num_layers = 2 }, shard = "1/1", limit = 2, tasks = "type",
      match = "^[KL]", layers = { 1 }, value = 0.5, actmax = { num_iterations = 3 }, input_groups = "type",
      top = 1, target = { type = "LN" }, restarts = 2, seeds = { 4, 5 }, input = 0.5, readout = "type",
      readout_match = "^K", readout_layers = { 1 }, v1 = { type = "ORN" }, v2 = { 1 }, grid = { grid_size = 3 },
    }
    return samples[k]
  end })
end

function SH.merge_probe(ci, F, o)
  local out = os.tmpname()
  os.remove(out)
  local ok, r = pcall(function()
    ci.screen { kind = "activate", edges = F.edges, neurons = F.neurons, sensory = { type = "ORN" },
                tasks = "type", out = out, quiet = true, figures = false }
    return ci.screen_merge(out, o)
  end)
  os.execute("rm -rf " .. SH.q(out))
  if not ok then error(r, 0) end
  return r
end

return SH
