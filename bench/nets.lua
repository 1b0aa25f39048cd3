-- nets.lua: the benchmark's networks on cinterp's side (bench/ref_one.py reads
-- the same files on the reference's side).
--   ref10k, ref50k   the exact networks of ../shared/bench/nets (edge list
--                    post,pre,weight 0-based, sensory list), read from the CSV
--   dump:DIR         a raw dump (the generated 140k / 15M network, cached
--                    under build/bench/): DIR/meta.txt ("key=value" lines: n, nnz,
--                    S, seed, generator), post.i32, pre.i32 (int32, 0-based,
--                    sorted by (post, pre)), weight.f32 (float32) and
--                    sensory.i32 (int32, 0-based, sorted), all little-endian
--   random:N:NNZ     core/generator.c's network, generated in the process
--   brain:N:NNZ[:BLOCKS:PLOCAL:PNEAR]  the synthetic brain (ci_brain_connectome):
--                    neuropil-like blocks, ids shuffled; defaults 80 blocks,
--                    p_local 0.75, p_near 0.15 (bench/README.md)
--   mb               ../shared/data/flywire_783_mushroom_body (no sensory list:
--                    the first 5 % of neurons)
--   larva            ../shared/data/larva_winding2023 (afferent neurons sensory)
-- load() returns the weights (post in rows), the sensory neurons (1-based) and
-- n; checksum() two sums both sides print, so the driver can check that cinterp
-- and the reference timed the same network.
local ci = rawget(_G, "ci") or require "cinterp"
local ffi = require "ffi"
local C = ci._engine.C
local check = ci._engine.check

pcall(ffi.cdef, [[
typedef struct bench_FILE bench_FILE;
bench_FILE *fopen(const char *path, const char *mode);
size_t fread(void *ptr, size_t size, size_t n, bench_FILE *f);
size_t fwrite(const void *ptr, size_t size, size_t n, bench_FILE *f);
int fclose(bench_FILE *f);
int rename(const char *from, const char *to);
]])

local M = {}

local function fail(msg) error("bench nets: " .. msg, 0) end

-- reads count elements of ctype ("int32_t" / "float") from a file
local function read_array(path, ctype, count)
  local buf = ffi.new(ctype .. "[?]", math.max(count, 1))
  local f = ffi.C.fopen(path, "rb")
  if f == nil then fail("cannot open " .. path) end
  local got = ffi.C.fread(buf, ffi.sizeof(ctype), count, f)
  ffi.C.fclose(f)
  if tonumber(got) ~= count then
    fail(string.format("%s holds %d values, %d expected", path, tonumber(got), count))
  end
  return buf
end

local function write_array(path, buf, ctype, count)
  local f = ffi.C.fopen(path, "wb")
  if f == nil then fail("cannot write " .. path) end
  local put = ffi.C.fwrite(buf, ffi.sizeof(ctype), count, f)
  ffi.C.fclose(f)
  if tonumber(put) ~= count then fail("short write to " .. path) end
end

function M.read_meta(dir)
  local f = io.open(dir .. "/meta.txt")
  if not f then return nil end
  local meta = {}
  for line in f:lines() do
    local k, v = line:match("^(%w+)=(.*)$")
    if k then meta[k] = tonumber(v) or v end
  end
  f:close()
  return meta
end

-- the exact networks of ../shared/bench/nets, read from their CSV files
local function read_ref(shared, name)
  local dir = shared .. "/bench/nets/"
  local copt = ffi.new("ci_csv_options")
  copt.header = 1
  local box = ffi.new("ci_csv_table*[1]")
  check(C.ci_csv_read(dir .. "net_" .. name .. "_edges.csv.gz", copt, box), "bench nets")
  local t = ffi.gc(box[0], C.ci_csv_free)
  local m = tonumber(t.nrow)
  local col = {}
  for j = 0, t.ncol - 1 do col[ffi.string(t.cols[j].name)] = t.cols[j].num end
  if not (col.post and col.pre and col.weight) then fail(name .. ": columns post, pre, weight expected") end
  local rows, cols = ffi.new("int32_t[?]", m), ffi.new("int32_t[?]", m)
  local vals = ffi.new("float[?]", m)
  local pr, pc, pw = col.post, col.pre, col.weight
  local nn = tonumber(name:match("n(%d+)"))
  for k = 0, m - 1 do
    local r, c = pr[k], pc[k]
    if r < 0 or c < 0 or r >= nn or c >= nn then
      fail(string.format("%s: edge %d (%d, %d) outside 0..%d", name, k + 1, r, c, nn - 1))
    end
    rows[k], cols[k], vals[k] = r, c, pw[k]
  end
  ffi.gc(t, nil)
  C.ci_csv_free(t)
  local pm = ffi.new("ci_csr*[1]")
  check(C.ci_csr_from_coo(nn, nn, m, rows, cols, vals, pm), "bench nets")
  local W = ffi.gc(pm[0], C.ci_csr_release)
  copt.header = 0
  check(C.ci_csv_read(dir .. "net_" .. name .. "_sensory.txt.gz", copt, box), "bench nets")
  local s = ffi.gc(box[0], C.ci_csv_free)
  local sens = {}
  for k = 0, tonumber(s.nrow) - 1 do sens[#sens + 1] = s.cols[0].num[k] + 1 end
  return W, sens, nn
end

local function read_dump(dir)
  local meta = M.read_meta(dir)
  if not meta then fail("no network dump in " .. dir .. " (meta.txt missing)") end
  local n, nnz, S = meta.n, meta.nnz, meta.S
  local rows = read_array(dir .. "/post.i32", "int32_t", nnz)
  local cols = read_array(dir .. "/pre.i32", "int32_t", nnz)
  local vals = read_array(dir .. "/weight.f32", "float", nnz)
  local pm = ffi.new("ci_csr*[1]")
  check(C.ci_csr_from_coo(n, n, nnz, rows, cols, vals, pm), "bench nets")
  local W = ffi.gc(pm[0], C.ci_csr_release)
  local s = read_array(dir .. "/sensory.i32", "int32_t", S)
  local sens = {}
  for k = 0, S - 1 do sens[k + 1] = s[k] + 1 end
  return W, sens, n
end

-- a generated matrix (the pointer's box) owned by Lua, and 5 % of its n neurons
-- drawn as sensory (seed 20240601 + n)
local function generated(pm, n)
  local W = ffi.gc(pm[0], C.ci_csr_release)
  local S = math.floor(n * 0.05 + 0.5)
  local sens = ffi.new("int32_t[?]", S)
  check(C.ci_random_sensory(n, S, 20240601 + n, sens), "bench nets")
  local sensory = {}
  for s = 1, S do sensory[s] = sens[s - 1] + 1 end
  return W, sensory, n
end

local function generate(n, nnz)
  local pm = ffi.new("ci_csr*[1]")
  check(C.ci_random_connectome(n, nnz, 20240601 + n, pm), "bench nets")
  return generated(pm, n)
end

-- the synthetic brain of "brain:N:NNZ[:BLOCKS:PLOCAL:PNEAR]" (seed 20240601 + N,
-- sensory 5 % uniform as random:)
function M.brain(name)
  local f = {}
  for v in name:gmatch("[^:]+") do f[#f + 1] = v end
  local n, nnz = tonumber(f[2]), tonumber(f[3])
  local blocks, pl, pn = tonumber(f[4] or 80), tonumber(f[5] or 0.75), tonumber(f[6] or 0.15)
  if not (n and nnz and blocks and pl and pn) then
    fail("bad network " .. name .. " (brain:N:NNZ[:BLOCKS:PLOCAL:PNEAR])")
  end
  local pm = ffi.new("ci_csr*[1]")
  check(C.ci_brain_connectome(n, nnz, blocks, pl, pn, 20240601 + n, pm), "bench nets")
  return generated(pm, n)
end

-- W (ci_csr, post in rows), sensory (1-based list), n
function M.load(name, shared)
  if name == "ref10k" or name == "ref50k" then
    return read_ref(shared, name == "ref10k" and "n10000" or "n50000")
  end
  local dir = name:match("^dump:(.+)$")
  if dir then return read_dump(dir) end
  local nn, nnz = name:match("^random:(%d+):(%d+)$")
  if nn then return generate(tonumber(nn), tonumber(nnz)) end
  if name:match("^brain:") then return M.brain(name) end
  if name == "mb" then
    local d = shared .. "/data/flywire_783_mushroom_body"
    local c = ci.connectome.read { edges = d .. "/edges.csv.gz", neurons = d .. "/neurons.csv.gz" }
    local sens = {}
    for i = 1, math.max(1, math.floor(c.n * 0.05)) do sens[i] = i end
    return c:weights(), sens, c.n
  end
  if name == "larva" then
    local d = shared .. "/data/larva_winding2023"
    local c = ci.connectome.read { edges = d .. "/edges.csv.gz", neurons = d .. "/neurons.csv.gz" }
    return c:weights(), c:select { flow = "afferent" }, c.n
  end
  fail("unknown network " .. name .. " (ref10k, ref50k, dump:DIR, random:N:NNZ, brain:N:NNZ, " ..
       "larva, mb)")
end

-- wsum = sum of the weights; wchk = sum of w * (1 + post % 97 + 100 * (pre % 89)),
-- both in double (an orientation swap or a shifted index changes wchk)
function M.checksum(W)
  local f = ffi.cast("ci_csr_fields*", W)
  local rp, ci_, v = f.rowptr, f.colidx, f.vals
  local wsum, wchk = 0, 0
  for i = 0, f.nrows - 1 do
    local rw = 1 + i % 97
    for k = tonumber(rp[i]), tonumber(rp[i + 1]) - 1 do
      local w = v[k]
      wsum = wsum + w
      wchk = wchk + w * (rw + 100 * (ci_[k] % 89))
    end
  end
  return wsum, wchk
end

-- writes W (post in rows) and the sensory list (1-based) as a raw dump in dir,
-- through dir .. ".tmp" renamed at the end (a cut run leaves no half dump)
function M.dump(W, sensory, dir, meta)
  local f = ffi.cast("ci_csr_fields*", W)
  local nnz = tonumber(f.nnz)
  local tmp = dir .. ".tmp"
  os.execute("rm -rf '" .. tmp .. "' && mkdir -p '" .. tmp .. "'")
  local rows = ffi.new("int32_t[?]", math.max(nnz, 1))
  for i = 0, f.nrows - 1 do
    for k = tonumber(f.rowptr[i]), tonumber(f.rowptr[i + 1]) - 1 do rows[k] = i end
  end
  write_array(tmp .. "/post.i32", rows, "int32_t", nnz)
  rows = nil
  write_array(tmp .. "/pre.i32", f.colidx, "int32_t", nnz)
  write_array(tmp .. "/weight.f32", f.vals, "float", nnz)
  local s = ffi.new("int32_t[?]", math.max(#sensory, 1))
  for k, v in ipairs(sensory) do s[k - 1] = v - 1 end
  write_array(tmp .. "/sensory.i32", s, "int32_t", #sensory)
  local mf = assert(io.open(tmp .. "/meta.txt", "w"))
  mf:write(string.format("n=%d\nnnz=%d\nS=%d\n", f.nrows, nnz, #sensory))
  for k, v in pairs(meta or {}) do mf:write(k, "=", tostring(v), "\n") end
  mf:close()
  os.execute("rm -rf '" .. dir .. "'")
  if ffi.C.rename(tmp, dir) ~= 0 then fail("cannot rename " .. tmp .. " to " .. dir) end
end

return M
