-- bench.lua: `make bench`, the benchmark of issue 7. Measures the machine's
-- memory bandwidth (STREAM-style triad, core/membench.c), times the sparse
-- product against the bandwidth floor, then times a forward pass, an
-- activation-maximisation iteration and a train_model epoch and reports peak
-- memory for random connectomes (core/generator.c, the statistics of
-- ../shared/bench/REFERENCE.md), the exact networks the reference was timed on
-- and the larval brain, each configuration in a fresh process
-- (bench/bench_one.lua). Prints aligned tables with the reference's figures
-- and the issue's targets; writes every figure to a CSV.
--
--   cinterp bench/bench.lua [--quick] [--whole-brain] [--out FILE.csv]
--                           [--cap SECONDS] [--only PATTERN]
-- See bench/README.md.
local ci = rawget(_G, "ci") or require "cinterp"
local ffi = require "ffi"
local C = ci._engine.C
local fmt = string.format

local function usage(code)
  print([[usage: cinterp bench/bench.lua [options]
  --quick          a small subset (10,000 neurons, the reference's 10k network,
                   the larval brain): about half a minute
  --whole-brain    only the whole 100-iteration activation-maximisation runs
                   (140,000 neurons / 15 M connections and the larval brain,
                   10 layers, batch 8), issue 7 item 4
  --out FILE       the CSV (default: <build dir>/bench/results.csv, next to the
                   interpreter, i.e. build/bench/results.csv for make bench)
  --cap SECONDS    soft time budget per configuration (default 30; quick 10)
  --only PATTERN   only networks whose name matches the Lua pattern
  --help           this text]])
  os.exit(code)
end

local o = { cap = nil }
do
  local a, k = arg or {}, 1
  while k <= #a do
    local v = a[k]
    if v == "--help" or v == "-h" then usage(0)
    elseif v == "--quick" then o.quick = true; k = k + 1
    elseif v == "--whole-brain" then o.whole = true; k = k + 1
    elseif (v == "--out" or v == "--cap" or v == "--only") and a[k + 1] then
      o[v:sub(3)] = a[k + 1]; k = k + 2
    else
      io.stderr:write("bench.lua: bad argument " .. tostring(v) .. "\n")
      usage(2)
    end
  end
end
local cap = tonumber(o.cap) or (o.quick and 10 or 30)

pcall(ffi.cdef, [[
typedef struct { long tv_sec; long tv_nsec; } bench_ts;
int clock_gettime(int clk, bench_ts *tp);
long readlink(const char *path, char *buf, size_t size);
]])
local function now()
  local ts = ffi.new("bench_ts")
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
end

-- the interpreter running us (cinterp, or luajit with the modules on the path)
local exe
do
  local buf = ffi.new("char[4096]")
  local len = ffi.C.readlink("/proc/self/exe", buf, 4095)
  exe = len > 0 and ffi.string(buf, len) or (arg and arg[-1]) or "luajit"
end
local root = (debug.getinfo(1, "S").source:match("^@(.*)/bench/[^/]*$")) or "."
local shared = os.getenv("CI_SHARED") or (root .. "/../shared")
local function exists(p) local f = io.open(p) if f then f:close() return true end return false end
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local out_path = o.out or ((exe:match("^(.*)/[^/]*$") or ".") .. "/bench/results.csv")
local t_all = now()

-- the reference (REFERENCE.md, connectome_interpreter 2.10.0, torch 1.13 CPU,
-- 2 threads): [n][L][B] = { fwd, am_iter, peak_rss_mb }
local REF = {
  [10000] = {
    [5] = { [1] = { 0.047, 0.109, 411 }, [8] = { 0.054, 0.143, 454 }, [32] = { 0.085, 0.392, 599 } },
    [10] = { [1] = { 0.113, 0.230, 417 }, [8] = { 0.114, 0.267, 498 }, [32] = { 0.182, 0.810, 837 } },
  },
  [50000] = {
    [5] = { [1] = { 0.281, 0.740, 593 }, [8] = { 0.379, 1.002, 784 }, [32] = { 1.953, 5.851, 1571 } },
    [10] = { [1] = { 0.568, 1.608, 625 }, [8] = { 0.823, 2.557, 1051 }, [32] = { 3.919, 10.104, 2634 } },
  },
  [140000] = {
    [5] = { [1] = { 1.655, 4.230, 1382 }, [8] = { 10.244, 20.216, 1971 }, [32] = { 17.3, 46.4, 3752 } },
    [10] = { [1] = { 3.266, 9.626, 1488 }, [8] = { 19.627, 30.312, 2621 } },
  },
}
-- the reference's figures apply to networks with its statistics and size
local function ref_for(net, n, L, B)
  if not (net == "ref10k" or net == "ref50k" or net == "random:10000:496863" or
          net == "random:50000:2995291" or net == "random:140000:14984648") then return nil end
  local t = REF[n] and REF[n][L] and REF[n][L][B]
  return t
end

-- the networks
local NETS = {
  { name = "random:10000:496863", label = "rand 10k/0.5M" },
  { name = "ref10k", label = "ref 10k/0.5M", needs = shared .. "/bench/nets/net_n10000_edges.csv.gz" },
  { name = "random:50000:2995291", label = "rand 50k/3.0M" },
  { name = "ref50k", label = "ref 50k/3.0M", needs = shared .. "/bench/nets/net_n50000_edges.csv.gz" },
  { name = "random:140000:2700000", label = "rand 140k/2.7M" },
  { name = "random:140000:14984648", label = "rand 140k/15M" },
  { name = "larva", label = "larva", needs = shared .. "/data/larva_winding2023/edges.csv.gz" },
}
local LABEL = {}
for _, nt in ipairs(NETS) do LABEL[nt.name] = nt.label end

local function available(nt)
  if o.only and not nt.name:match(o.only) and not nt.label:match(o.only) then return false end
  if nt.needs and not exists(nt.needs) then
    print(fmt("  (%s skipped: %s is absent)", nt.label, nt.needs))
    return false
  end
  return true
end

-- runs one child; returns its RESULT table, or nil and a reason
local function run_child(args, hard)
  local cmd = fmt("timeout -s KILL %d %s %s/bench/bench_one.lua %s 2>&1", hard, q(exe), q(root), args)
  local p = io.popen(cmd)
  local res, other = nil, {}
  for line in p:lines() do
    local body = line:match("^RESULT (.*)$")
    if body then
      res = {}
      for k, v in body:gmatch("(%S+)=(%S+)") do res[k] = tonumber(v) or v end
    else
      other[#other + 1] = line
    end
  end
  local ok, how, code = p:close()
  if res then return res end
  local why = (how == "signal" or code == 137 or code == 9) and fmt("killed after %d s", hard) or
      ("failed: " .. (other[#other] or ("exit " .. tostring(code))))
  if code == 137 then why = fmt("killed after %d s (time limit)", hard) end
  return nil, why
end

------------------------------------------------------------------------------
-- CSV: one row per measurement, a union of columns
------------------------------------------------------------------------------
local COLS = { "section", "net", "n", "nnz", "S", "B", "L", "triad_gbs", "read_gbs",
               "spmm_s", "spmm_min_s", "floor_bytes", "floor_s", "floor_ratio",
               "fwd_s", "ref_fwd_s", "fwd_speedup", "am_iter_s", "ref_am_iter_s", "am_speedup",
               "train_epoch_s", "peak_mb", "ref_peak_mb", "peak_fwd_mb", "peak_am_mb",
               "peak_train_mb", "stored_mb", "build_s", "actmax_total_s", "actmax_iters",
               "actmax_first_loss", "actmax_last_loss", "fwd_reps", "am_reps", "train_reps",
               "status" }
local rows = {}
local function add_row(r) rows[#rows + 1] = r end
local function write_csv()
  os.execute("mkdir -p " .. q(out_path:match("^(.*)/[^/]*$") or "."))
  local f, err = io.open(out_path, "w")
  if not f then
    print("bench.lua: cannot write " .. out_path .. ": " .. tostring(err))
    return
  end
  f:write(table.concat(COLS, ","), "\n")
  for _, r in ipairs(rows) do
    local cells = {}
    for k, c in ipairs(COLS) do
      local v = r[c]
      if v == nil then cells[k] = ""
      elseif type(v) == "number" then
        cells[k] = (v == math.floor(v) and math.abs(v) < 1e15) and fmt("%d", v) or fmt("%.6g", v)
      else
        v = tostring(v)
        cells[k] = v:find('[,"\n]') and ('"' .. v:gsub('"', '""') .. '"') or v
      end
    end
    f:write(table.concat(cells, ","), "\n")
  end
  f:close()
end

local function ms(s) return s and s == s and fmt("%.1f", s * 1e3) or "-" end
local function sec(s)
  if not s or s ~= s then return "-" end
  if s < 0.1 then return fmt("%.4f", s) end
  if s < 10 then return fmt("%.3f", s) end
  return fmt("%.1f", s)
end
local function num(v, f) return v and v == v and fmt(f or "%.0f", v) or "-" end
local function ratio(a, b) if a and b and a == a and b == b and b > 0 then return a / b end end

------------------------------------------------------------------------------
-- 1. memory bandwidth
------------------------------------------------------------------------------
local nfl = o.quick and 1e7 or 2e7
local triad = C.ci_membench_triad(nfl, o.quick and 5 or 10)
local rd = C.ci_membench_read(nfl, o.quick and 5 or 10)
if triad < 0 or rd < 0 then error("bench.lua: " .. ffi.string(C.ci_last_error())) end
local function loadavg()
  local f = io.open("/proc/loadavg")
  if not f then return "?" end
  local s = f:read("*l") or "?"
  f:close()
  return (s:match("^(%S+ %S+ %S+)") or s)
end
local cpus = (io.popen("nproc 2>/dev/null"):read("*l")) or "?"
print(fmt("machine: %s CPUs, OMP_NUM_THREADS=%s, load average at start %s (other work on the " ..
          "machine slows the 2-thread timings)", cpus, os.getenv("OMP_NUM_THREADS") or "unset", loadavg()))
print(fmt("memory bandwidth (STREAM-style, OpenMP default team, %.0f MB arrays): triad %.1f GB/s, " ..
          "read-only %.1f GB/s", nfl * 4 / 1e6, triad, rd))
add_row { section = "membench", triad_gbs = triad, read_gbs = rd, status = "load " .. loadavg() }
write_csv()

------------------------------------------------------------------------------
-- the plan
------------------------------------------------------------------------------
local spmm_nets, grid = {}, {}
if o.whole then
  grid = {
    { net = "random:140000:14984648", B = 8, L = 10, what = "actmax100" },
    { net = "larva", B = 8, L = 10, what = "actmax100" },
  }
elseif o.quick then
  spmm_nets = { "random:10000:496863" }
  for _, L in ipairs { 5, 10 } do
    grid[#grid + 1] = { net = "random:10000:496863", B = 8, L = L, what = "fwd,am" }
  end
  grid[#grid + 1] = { net = "random:10000:496863", B = 8, L = 10, what = "train" }
  grid[#grid + 1] = { net = "ref10k", B = 8, L = 10, what = "fwd,am" }
  grid[#grid + 1] = { net = "larva", B = 8, L = 10, what = "fwd,am" }
else
  for _, nt in ipairs(NETS) do spmm_nets[#spmm_nets + 1] = nt.name end
  for _, nt in ipairs(NETS) do
    for _, L in ipairs { 5, 10 } do
      for _, B in ipairs { 1, 8, 32 } do
        grid[#grid + 1] = { net = nt.name, B = B, L = L, what = "fwd,am" }
      end
    end
    -- train_model epochs: batch 8 at both depths, batch 1 and 32 at 10 layers
    for _, c in ipairs { { 8, 5 }, { 1, 10 }, { 8, 10 }, { 32, 10 } } do
      grid[#grid + 1] = { net = nt.name, B = c[1], L = c[2], what = "train" }
    end
  end
end
local avail = {}
for _, nt in ipairs(NETS) do avail[nt.name] = available(nt) end

------------------------------------------------------------------------------
-- 2. the sparse product against the bandwidth floor
------------------------------------------------------------------------------
if #spmm_nets > 0 then
  print()
  print("sparse product Y = W X (ci_csr_spmm, W: n x n CSR, int32 columns, float32 values; X, Y: n x B)")
  print("floor = (nnz*8 + (n+1)*8 + n*B*4 read + n*B*4 write bytes) / triad bandwidth")
  print(fmt("%-15s %8s %10s %3s %10s %10s %10s %8s %7s", "network", "n", "nnz", "B", "median ms",
            "min ms", "floor ms", "x floor", "target"))
  for _, name in ipairs(spmm_nets) do
    if avail[name] then
      local r, why = run_child(fmt("--net %s --what spmm --cap %d", name, cap), 120)
      if not r then
        print(fmt("%-15s %s", LABEL[name], why))
        add_row { section = "spmm", net = name, status = why }
      else
        for _, B in ipairs { 1, 8, 32 } do
          local bytes = r.nnz * 8 + (r.n + 1) * 8 + 2 * r.n * B * 4
          local floor_s = bytes / (triad * 1e9)
          local t, tmin = r["spmm_b" .. B .. "_s"], r["spmm_b" .. B .. "_min_s"]
          local x = t / floor_s
          local target = B == 32 and 3 or 1.5
          local mark = name == "random:140000:14984648" and
              fmt("%s %.1fx", x <= target and "ok" or "MISS", target) or ""
          print(fmt("%-15s %8d %10d %3d %10s %10s %10s %8.2f %7s", LABEL[name], r.n, r.nnz, B, ms(t),
                    ms(tmin), ms(floor_s), x, mark))
          add_row { section = "spmm", net = name, n = r.n, nnz = r.nnz, B = B, spmm_s = t,
                    spmm_min_s = tmin, floor_bytes = bytes, floor_s = floor_s, floor_ratio = x,
                    triad_gbs = triad, status = "ok" }
        end
      end
      write_csv()
    end
  end
end

------------------------------------------------------------------------------
-- 3. forward / activation-maximisation iteration / train epoch / peak memory
------------------------------------------------------------------------------
local results = {}
local function key(net, B, L) return net .. "|" .. B .. "|" .. L end
if #grid > 0 then
  print()
  if o.whole then
    print("whole activation-maximisation runs: 100 iterations, early_stopping = false (issue 7 item 4)")
    print(fmt("%-15s %8s %10s %3s %3s %10s %8s %12s %12s %9s", "network", "n", "nnz", "B", "L",
              "total s", "iters", "first loss", "last loss", "peak MB"))
  else
    print("seconds (medians); ref = connectome_interpreter 2.10.0 on torch 1.13 CPU, 2 threads " ..
          "(REFERENCE.md); x = ref / ours")
    print("peak = VmHWM of the process through network build + forward + AM (what the reference's " ..
          "peak RSS covered)")
    print(fmt("%-15s %7s %9s %3s %3s %9s %8s %7s %9s %8s %7s %9s %7s %7s %7s", "network", "n", "nnz",
              "B", "L", "fwd", "ref", "x", "AM iter", "ref", "x", "epoch", "peak MB", "ref MB", "store"))
  end
  for _, c in ipairs(grid) do
    if avail[c.net] then
      local hard = o.whole and 1500 or math.floor(cap * 3 + 90)
      local extra = c.what == "actmax100" and " --am-iters 100" or ""
      local t_child = now()
      local r, why = run_child(fmt("--net %s --B %d --L %d --what %s --cap %d%s", c.net, c.B, c.L,
                                   c.what, cap, extra), hard)
      io.stderr:write(fmt("  [%4.0f s] %-15s B=%-2d L=%-2d %-9s %5.1f s%s\n", now() - t_all,
                          LABEL[c.net], c.B, c.L, c.what, now() - t_child, r and "" or (": " .. why)))
      local k = key(c.net, c.B, c.L)
      local row = results[k]
      if not row then
        row = { section = o.whole and "actmax100" or "model", net = c.net, B = c.B, L = c.L }
        results[k] = row
        add_row(row)
      end
      if not r then
        row.status = (row.status and row.status .. "; " or "") .. c.what .. " " .. why
      else
        for kk, v in pairs(r) do
          if c.what == "train" and kk:match("^peak") and kk ~= "peak_train_mb" then
            -- the train process's own peaks are not the fwd/AM process's
          elseif kk ~= "net" then
            row[kk] = v
          end
        end
        row.status = row.status or "ok"
      end
      local ref = ref_for(c.net, row.n or 0, c.L, c.B)
      if ref then
        row.ref_fwd_s, row.ref_am_iter_s, row.ref_peak_mb = ref[1], ref[2], ref[3]
        row.fwd_speedup = ratio(ref[1], row.fwd_s)
        row.am_speedup = ratio(ref[2], row.am_iter_s)
      end
      write_csv()
      if o.whole then
        if r then
          print(fmt("%-15s %8d %10d %3d %3d %10.1f %8d %12.6g %12.6g %9.0f", LABEL[c.net], r.n, r.nnz,
                    c.B, c.L, r.actmax_total_s, r.actmax_iters, r.actmax_first_loss,
                    r.actmax_last_loss, r.peak_total_mb))
        else
          print(fmt("%-15s %s", LABEL[c.net], why))
        end
      elseif c.what ~= "train" then
        -- printed once the train process (if any) is in: defer to the summary below
      end
    end
  end
  if not o.whole then
    for _, row in ipairs(rows) do
      if row.section == "model" then
        print(fmt("%-15s %7s %9s %3d %3d %9s %8s %7s %9s %8s %7s %9s %7s %7s %7s",
                  LABEL[row.net], num(row.n), num(row.nnz), row.B, row.L,
                  sec(row.fwd_s), sec(row.ref_fwd_s), num(row.fwd_speedup, "%.1f"),
                  sec(row.am_iter_s), sec(row.ref_am_iter_s), num(row.am_speedup, "%.1f"),
                  sec(row.train_epoch_s), num(row.peak_mb), num(row.ref_peak_mb),
                  num(row.stored_mb)))
        if row.status ~= "ok" then print("    " .. tostring(row.status)) end
      end
    end
  end
end

------------------------------------------------------------------------------
-- 4. the issue's targets (140,000 neurons, 15 M connections, batch 8, 10 layers)
------------------------------------------------------------------------------
if not o.quick and not o.whole then
  print()
  print("targets (issue 7), 140,000 neurons / 15 M connections, batch 8, 10 layers:")
  local function show(what, value, target, unit, ok)
    print(fmt("  %-44s %12s   target %-12s %s", what, value, target, ok == nil and "-" or
              (ok and "met" or "NOT met")))
  end
  for _, row in ipairs(rows) do
    if row.section == "spmm" and row.net == "random:140000:14984648" and row.floor_ratio then
      local t = row.B == 32 and 3 or 1.5
      show(fmt("sparse product, B = %d, x bandwidth floor", row.B), fmt("%.2fx", row.floor_ratio),
           fmt("<= %.1fx", t), "", row.floor_ratio <= t)
    end
  end
  local r = results[key("random:140000:14984648", 8, 10)]
  if r then
    show("activation-maximisation iteration", sec(r.am_iter_s) .. " s", "<= 0.3 s", "",
         r.am_iter_s and r.am_iter_s <= 0.3)
    show("peak memory (build + forward + AM)", num(r.peak_mb) .. " MB", "<= 655 MB", "",
         r.peak_mb and r.peak_mb <= 2621 / 4)
    show("  same, network resident, AM phase only", num(r.peak_am_mb) .. " MB", "<= 655 MB", "",
         r.peak_am_mb and r.peak_am_mb <= 2621 / 4)
  end
end

write_csv()
print()
print(fmt("wrote %s (%d rows) in %.0f s; load average at the end %s", out_path, #rows,
          now() - t_all, loadavg()))
