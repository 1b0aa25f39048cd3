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

return SH
