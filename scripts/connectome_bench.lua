-- connectome_bench.lua: how fast ci.connectome.read loads a big edge table.
--   cinterp scripts/connectome_bench.lua gen  /tmp/edges15m.csv [n] [nnz]
--       writes an edge CSV (pre,post,weight) from the benchmark's generator
--       (ci_random_connectome: n = 140000 neurons, 15 M connections by default),
--       with FlyWire-like 18-digit ids and synapse counts >= 1
--   cinterp scripts/connectome_bench.lua load /tmp/edges15m.csv [threshold]
--       loads it and prints the time, the CSR size and the peak memory (VmHWM)
-- Run gen and load as separate processes so that VmHWM is the loader's own.
-- Gzip the file (gzip -1 -k) to time the gzip path.
local ci = rawget(_G, "ci") or require "cinterp"
local ffi = require "ffi"
local C = ci._engine.C

local function vm(key)
  local f = io.open("/proc/self/status")
  if not f then return 0 / 0 end
  local s = f:read("*a")
  f:close()
  return tonumber(s:match(key .. ":%s*(%d+)") or "nan") / 1024
end

local function now()
  local ok, socket = pcall(require, "socket")
  if ok then return socket.gettime() end
  ffi.cdef [[ typedef struct { long tv_sec; long tv_nsec; } cb_ts; int clock_gettime(int, cb_ts *); ]]
  now = function()
    local ts = ffi.new("cb_ts")
    ffi.C.clock_gettime(1, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
  end
  return now()
end

local USAGE = "usage: connectome_bench.lua gen PATH [n] [nnz] | load PATH [threshold]"
local a = ci.cli.parse(arg, { usage = USAGE, positional = true })
local mode, path = a[1], a[2]
if not mode or not path then
  print(USAGE)
  os.exit(1)
end

if mode == "gen" then
  local n = tonumber(a[3] or 140000)
  local nnz = tonumber(a[4] or 15000000)
  local pm = ffi.new("ci_csr*[1]")
  ci._engine.check(C.ci_random_connectome(n, nnz, 20240601 + n, pm), "connectome_bench")
  local W = ffi.gc(pm[0], C.ci_csr_release)
  local F = ci._sparse.fields(W)
  local f = assert(io.open(path, "w"))
  f:setvbuf("full", 4194304)
  f:write("pre,post,weight\n")
  local base = 720575940600000000ULL
  local ids = {}
  for i = 0, n - 1 do ids[i] = tostring(base + i):gsub("ULL$", "") end
  local rp, col, val = F.rowptr, F.colidx, F.vals
  local buf, nb, rows = {}, 0, 0
  for post = 0, n - 1 do
    local pid = ids[post]
    for k = tonumber(rp[post]), tonumber(rp[post + 1]) - 1 do
      local w = math.floor(val[k] * 200 + 0.5)
      if w < 1 then w = 1 end
      nb = nb + 1
      buf[nb] = ids[col[k]] .. "," .. pid .. "," .. w
      if nb == 8192 then
        f:write(table.concat(buf, "\n", 1, nb), "\n")
        nb = 0
      end
      rows = rows + 1
    end
  end
  if nb > 0 then f:write(table.concat(buf, "\n", 1, nb), "\n") end
  f:close()
  print(("wrote %s: %d rows, %d neurons"):format(path, rows, n))
elseif mode == "load" then
  local t0 = now()
  local c = ci.connectome.read { edges = path, threshold = tonumber(a[3] or 0) }
  local t1 = now()
  local csr_mb = (c.nnz * 8 + (c.n + 1) * 8) / 2 ^ 20
  print(("loaded %s: %d neurons, %d connections from %d rows in %.2f s"):format(path, c.n,
        c.nnz, c.n_rows, t1 - t0))
  print(("CSR arrays %.1f MB; peak RSS (VmHWM) %.1f MB; RSS now %.1f MB"):format(csr_mb,
        vm("VmHWM"), vm("VmRSS")))
else
  io.stderr:write("connectome_bench.lua: unknown mode " .. tostring(mode) .. "\n")
  os.exit(1)
end
