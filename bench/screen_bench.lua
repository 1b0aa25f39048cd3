-- screen_bench.lua: throughput of ci.screen (tasks per hour) against the batch
-- size K, on the larval brain, the mushroom body and the 140k / 15M benchmark
-- network. Each configuration is an actmax screen with the reference author's
-- recipe (60 iterations, learning rate 0.4, targets at layers 5-8 of 10, an L1
-- input penalty given as a custom regulariser, early stopping off so every task
-- runs all its iterations) over the first K x --batches tasks (spec.limit, at
-- least 4) of the sorted type list, into a fresh folder. The time per task is the batch's wall time divided
-- by K (the screen's own `seconds` column: network loading, setup and the merge
-- are left out); tasks per hour = 3600 / that. Prints a table and writes a CSV.
--
--   cinterp bench/screen_bench.lua [--nets larva,mb,140k] [--K 1,4,16,32]
--       [--iterations 60] [--batches 2] [--no-custom] [--out FILE] [--tiny]
-- --tiny: a 300-neuron random network, K = 1 and 2, 5 iterations (a smoke run).
-- Networks: larva = ../shared/data/larva_winding2023 (types of the non-sensory
-- neurons, input the afferent neurons); mb = ../shared/data/flywire_783_mushroom_body
-- (the MBON types, input the ALPNs); 140k = ci.random_connectome(140000, 15000000)
-- (seed 20240601 + n, 5 % input neurons) with 8,000 synthetic types of ~17
-- neurons. A configuration that cannot run is a row with its reason as status.
local ci = rawget(_G, "ci") or require "cinterp"

local o = ci.cli.parse(arg, {
  usage = "usage: cinterp bench/screen_bench.lua [options]",
  ci.cli.DATA_OPTION,
  { "--nets LIST", "larva,mb,140k", "networks, comma-separated (larva, mb, 140k)" },
  { "--K LIST", "1,4,16,32", "batch sizes, comma-separated" },
  { "--iterations N", 60, "iterations per task (60)" },
  { "--batches N", 2, "batches timed per configuration (2; at least 4 tasks)" },
  { "--no-custom", false, "the built-in L1+L2 input regulariser instead of a custom L1" },
  { "--out FILE", nil, "the CSV (default build/bench/screen.csv)", type = "string" },
  { "--tiny", false, "a smoke run on a 300-neuron random network" },
})

local data = ci.cli.data_dir(o.data)

local function list(s, num)
  local out = {}
  for v in s:gmatch("[^,]+") do out[#out + 1] = num and tonumber(v) or v end
  return out
end

-- a {weights = W, neurons = frame} connectome from the generator, with `types` types
local function random_net(n, nnz, types)
  local W, sensory = ci.random_connectome(n, nnz)
  local t = {}
  for i = 1, n do t[i] = string.format("t%05d", (i - 1) % types + 1) end
  return { weights = W, neurons = ci.frame { type = t } }, sensory
end

local NETS = {
  larva = function()
    local d = data .. "/larva_winding2023"
    if not ci.cli.exists(d .. "/edges.csv.gz") then return nil, "absent: " .. d end
    return { edges = d .. "/edges.csv.gz", neurons = d .. "/neurons.csv.gz", sensory = { flow = "afferent" },
             tasks = "type", match = "^[^s]" } -- every type but "sensory"
  end,
  mb = function()
    local d = data .. "/flywire_783_mushroom_body"
    if not ci.cli.exists(d .. "/edges.csv.gz") then return nil, "absent: " .. d end
    return { edges = d .. "/edges.csv.gz", neurons = d .. "/neurons.csv.gz", read = { sign = "sign" },
             sensory = { class = "ALPN" }, tasks = "type", match = "^MBON" }
  end,
  ["140k"] = function()
    local c, sensory = random_net(140000, 15000000, 8000)
    return { connectome = c, sensory = sensory, tasks = "type" }
  end,
  tiny = function()
    local c, sensory = random_net(300, 6000, 40)
    return { connectome = c, sensory = sensory, tasks = "type" }
  end,
}

local nets, Ks, iterations = list(o.nets), list(o.K, true), o.iterations
if o.tiny then nets, Ks, iterations = { "tiny" }, { 1, 2 }, 5 end

local out_csv = o.out or "build/bench/screen.csv"
ci.cli.mkdir(out_csv:match("^(.*)/[^/]*$") or ".")
local rows = {}
local columns = { "network", "K", "tasks", "iterations", "s_per_task", "tasks_per_hour", "status" }
local function save()
  ci.frame.from_rows(columns, rows):write_csv(out_csv)
end

local l1 = function(t) return t:abs():sum() end
print(string.format("%-6s %4s %6s %6s %11s %14s  %s", "net", "K", "tasks", "iters", "s per task",
                    "tasks per hour", "status"))
for _, name in ipairs(nets) do
  local make = NETS[name]
  if not make then error("screen_bench: unknown network '" .. name .. "' (larva, mb, 140k)") end
  local base, why = make()
  for _, K in ipairs(Ks) do
    local row
    if not base then
      row = { name, K, 0, iterations, 0 / 0, 0 / 0, why }
    else
      local tmp = os.tmpname()
      os.remove(tmp)
      local spec = {
        kind = "actmax", model = { num_layers = 10 }, layers = { 5, 6, 7, 8 }, value = 1,
        actmax = { num_iterations = iterations, learning_rate = 0.4, early_stopping = false,
                   in_reg_lambda = o.no_custom and 0.01 or 1e-3,
                   custom_reg_functions = (not o.no_custom) and { ["in"] = l1 } or nil },
        batch = K, out = tmp, quiet = true, figures = false,
      }
      for k, v in pairs(base) do spec[k] = v end
      local ok, res = pcall(function()
        spec.limit = math.max(K * o.batches, 4) -- the first tasks of the sorted list
        local r = ci.screen(spec)
        local sum = 0
        for _, s in ipairs(r:col("seconds")) do sum = sum + s end
        return { r:nrow(), sum / r:nrow() }
      end)
      os.execute("rm -rf '" .. tmp .. "'")
      if ok then
        row = { name, K, res[1], iterations, res[2], 3600 / res[2], "ok" }
      else
        row = { name, K, 0, iterations, 0 / 0, 0 / 0, (tostring(res):gsub("\n.*", ""):gsub("^[^:]*:%d+: ", "")) }
      end
    end
    rows[#rows + 1] = row
    print(string.format("%-6s %4d %6d %6d %11.3f %14.0f  %s", unpack(row)))
    io.stdout:flush()
    save()
  end
end
print("written: " .. out_csv)
