-- bench.lua: `make bench` (issue 15). Times the reference (the Python package
-- connectome_interpreter, in the runtimes `make bench-ref` installs) and
-- cinterp side by side in the same run, alternately (reference, cinterp,
-- reference, cinterp, ...; every measurement in a fresh process; several
-- rounds; medians and spreads) on the exact networks of ../shared/bench/nets
-- and the generator's 140k / 15M network (generated once, cached under
-- <build>/bench/ as a raw dump both sides read). Then the sparse product
-- against its floor (core/floorbench.c), the cost per batch column (the width
-- table) and the place of the per-timestep breakdown. Ratios are only ever
-- taken between figures of this run. Every figure goes to a CSV, rewritten
-- after each configuration. See bench/README.md.
--
--   cinterp bench/bench.lua [--quick] [--whole-brain] [--out FILE.csv] [--rounds N]
--                           [--cap S] [--ref-cap S] [--runtimes LIST] [--threads T]
--                           [--only PATTERN] [--ref-wide]
local ci = rawget(_G, "ci") or require "cinterp"
local ffi = require "ffi"
local C = ci._engine.C
local fmt = string.format

local root = (debug.getinfo(1, "S").source:match("^@(.*)/bench/[^/]*$")) or "."
package.path = root .. "/bench/?.lua;" .. package.path
local H = require "harness"
local nets = require "nets"

local function usage(code)
  print([[usage: cinterp bench/bench.lua [options]
  --quick          a smoke run (< 1 min): the 10k network, batch 8, 10 layers,
                   one round, cinterp and the reference; a small floor and
                   width table
  --whole-brain    only whole 100-iteration activation-maximisation runs of
                   cinterp (140,000 neurons / 15 M connections and the larval
                   brain, 10 layers, batch 8)
  --out FILE       the CSV (default: bench/results.csv for a full run, the one
                   the README quotes; <build>/bench/results.csv otherwise)
  --rounds N       rounds of the side-by-side and width tables (default 3;
                   quick 1)
  --cap S          soft time budget of one cinterp measurement (default 20; quick 5)
  --ref-cap S      soft time budget of one reference measurement (default 40;
                   quick 10); a process is killed after 3 budgets + 120 s
  --runtimes LIST  reference runtimes to time: pypi, debian, both (default:
                   those installed), or none (cinterp alone)
  --threads T      threads of both sides (default: all CPUs)
  --only PATTERN   only networks whose name matches the Lua pattern
  --net NET        with --quick: that network instead of the 10k one: ref50k,
                   or random:N:NNZ (generated once into <build>/bench/ and read
                   by both sides; random:2000:40000 checks the harness itself
                   in seconds)
  --ref-wide       also time the reference at 140k, batch 32 (minutes per call)
  --help           this text]])
  os.exit(code)
end

local o = {}
do
  local a, k = arg or {}, 1
  local takes = { out = true, rounds = true, cap = true, ["ref-cap"] = true, runtimes = true,
                  threads = true, only = true, net = true }
  while k <= #a do
    local v = a[k]
    local name = v:match("^%-%-([%w%-]+)$")
    if v == "--help" or v == "-h" then usage(0)
    elseif name == "quick" or name == "whole-brain" or name == "ref-wide" then
      o[name] = true; k = k + 1
    elseif name and takes[name] and a[k + 1] then
      o[name] = a[k + 1]; k = k + 2
    else
      io.stderr:write("bench.lua: bad argument " .. tostring(v) .. "\n")
      usage(2)
    end
  end
  for _, key in ipairs { "rounds", "cap", "ref-cap", "threads" } do
    if o[key] and not (tonumber(o[key]) and tonumber(o[key]) > 0) then
      io.stderr:write(fmt("bench.lua: --%s takes a positive number, not %s\n", key, o[key]))
      os.exit(2)
    end
  end
end
if o.runtimes then
  for w in o.runtimes:gmatch("[^,]+") do
    if not (w == "pypi" or w == "debian" or w == "both" or w == "none" or w == "installed") then
      io.stderr:write("bench.lua: --runtimes takes pypi, debian, both or none, not " .. w .. "\n")
      os.exit(2)
    end
  end
end
local quick, whole = o.quick, o["whole-brain"]
local rounds = tonumber(o.rounds) or (quick and 1 or 3)
local cap = tonumber(o.cap) or (quick and 5 or 20)
local ref_cap = tonumber(o["ref-cap"]) or (quick and 10 or 40)

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
local builddir = exe:match("^(.*)/[^/]*$") or "."
local shared = os.getenv("CI_SHARED") or (root .. "/../shared")
local function exists(p) local f = io.open(p) if f then f:close() return true end return false end
local function q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
local function shell_line(cmd)
  local p = io.popen(cmd)
  local s = p:read("*l")
  p:close()
  return s
end

local cpus = tonumber(shell_line("nproc 2>/dev/null")) or 1
local threads = tonumber(o.threads) or cpus
if o.net and not quick then
  io.stderr:write("bench.lua: --net goes with --quick\n")
  os.exit(2)
end
local full = not (quick or whole or o.only)
local out_path = o.out or (full and (root .. "/bench/results.csv") or (builddir .. "/bench/results.csv"))
os.execute("mkdir -p " .. q(out_path:match("^(.*)/[^/]*$") or ".") .. " " .. q(builddir .. "/bench"))
local t_all = now()

local function loadavg()
  local f = io.open("/proc/loadavg")
  if not f then return "?" end
  local s = f:read("*l") or "?"
  f:close()
  return (s:match("^(%S+ %S+ %S+)") or s)
end

------------------------------------------------------------------------------
-- the CSV, rewritten after every configuration
------------------------------------------------------------------------------
local rows = {}
local run_row = { section = "run", date = os.date("%Y-%m-%d %H:%M"), rounds = rounds,
                  status = "incomplete" }
rows[1] = run_row
local function add_row(r) rows[#rows + 1] = r return r end
local function write_csv()
  local ok, err = H.write_csv(out_path, rows)
  if not ok then print("bench.lua: cannot write " .. out_path .. ": " .. tostring(err)) end
end

------------------------------------------------------------------------------
-- child processes
------------------------------------------------------------------------------
-- runs one child; returns its RESULT table, or nil and a reason. The exit
-- status comes back as a last line (LuaJIT's popen close does not give it).
local function run_child(cmd, hard)
  local p = io.popen(fmt("OMP_NUM_THREADS=%d timeout -s KILL %d %s 2>&1; echo \"BENCH_EXIT $?\"",
                         threads, hard, cmd))
  local res, last, code = nil, nil, nil
  for line in p:lines() do
    local body = line:match("^RESULT (.*)$")
    if body then
      res = {}
      for k, v in body:gmatch("(%S+)=(%S+)") do res[k] = tonumber(v) or v end
    elseif line:match("^BENCH_EXIT %d+$") then
      code = tonumber(line:match("%d+"))
    elseif line:match("%S") and not line:match("Warning") and not line:match("^%s+return ") and
        line ~= "Killed" then
      last = line
    end
  end
  p:close()
  if res then return res end -- measured, whatever happened at exit
  if code == 137 then return nil, fmt("killed after %d s (time limit)", hard) end
  return nil, fmt("failed (exit %s): %s", tostring(code), last or "no output")
end

local function ci_cmd(args) return fmt("%s %s/bench/bench_one.lua %s", q(exe), q(root), args) end

-- the reference runtimes: name -> interpreter, in the order timed
local RUNTIMES = {
  { name = "debian", python = builddir .. "/ref-venv-debian/bin/python",
    what = "Debian's python3-torch" },
  { name = "pypi", python = builddir .. "/ref-venv/bin/python", what = "torch from PyPI" },
}
local runtimes, rt_python, rt_info = {}, {}, {}
if not whole then
  local wanted = o.runtimes or "installed"
  if wanted ~= "none" then
    for _, rt in ipairs(RUNTIMES) do
      local asked = wanted == "installed" or wanted == "both" or wanted:find(rt.name, 1, true)
      if asked then
        local line = exists(rt.python) and shell_line(fmt(
          "timeout 300 %s -c %s 2>/dev/null", q(rt.python),
          q("from importlib.metadata import version as v; " ..
            "print(v('torch'), v('connectome-interpreter'))")))
        if line and line:match("^%S+ %S+$") then
          local tv, cv = line:match("^(%S+) (%S+)$")
          runtimes[#runtimes + 1] = rt.name
          rt_python[rt.name] = rt.python
          rt_info[#rt_info + 1] = fmt("%s: torch %s, connectome_interpreter %s", rt.name, tv, cv)
        else
          print(fmt("reference runtime %s (%s) is not installed at %s: run `make bench-ref`",
                    rt.name, rt.what, rt.python))
        end
      end
    end
  end
end

local function ref_cmd(rt, args)
  return fmt("%s %s/bench/ref_one.py --threads %d --shared %s %s", q(rt_python[rt]), q(root),
             threads, q(shared), args)
end

------------------------------------------------------------------------------
-- the machine
------------------------------------------------------------------------------
local nfl = quick and 1e7 or 2e7
local triad = C.ci_membench_triad(nfl, quick and 3 or 10)
local rd = C.ci_membench_read(nfl, quick and 3 or 10)
if triad < 0 or rd < 0 then error("bench.lua: " .. ffi.string(C.ci_last_error())) end
run_row.info = fmt("%d CPUs, %d threads per side, load at start %s", cpus, threads, loadavg())
run_row.triad_gbs, run_row.read_gbs = triad, rd
print(fmt("bench %s: %s", run_row.date, run_row.info))
print(fmt("memory bandwidth (STREAM-style, %.0f MB arrays): triad %.1f GB/s, read-only %.1f GB/s",
          nfl * 4 / 1e6, triad, rd))
if not whole then
  if #runtimes == 0 then
    print()
    print("THE REFERENCE IS NOT INSTALLED (or --runtimes none): cinterp is timed alone and no")
    print("ratio is reported. `make bench-ref` installs it (build/ref-venv, build/ref-venv-debian).")
    run_row.runtime = "none"
  else
    print("reference runtimes: " .. table.concat(rt_info, "; "))
    run_row.runtime = table.concat(rt_info, "; ")
  end
end
write_csv()

------------------------------------------------------------------------------
-- the networks
------------------------------------------------------------------------------
-- a generated network: made once (core/generator.c, seed 20240601 + n) and
-- cached as a raw dump that both sides read
local function generated(n, nnz, label)
  local dir = fmt("%s/bench/net_gen_n%d_nnz%d", builddir, n, nnz)
  return { name = "dump:" .. dir, label = label, gen = { n = n, nnz = nnz, dir = dir } }
end
local gen140k = generated(140000, 14984648, "140k / 15M")
local gen_dir = gen140k.gen.dir
local NETS = {
  { name = "ref10k", label = "10k / 0.5M", needs = shared .. "/bench/nets/net_n10000_edges.csv.gz" },
  { name = "ref50k", label = "50k / 3.0M", needs = shared .. "/bench/nets/net_n50000_edges.csv.gz" },
  gen140k,
}
if o.net then
  local n, nnz = o.net:match("^random:(%d+):(%d+)$")
  NETS = { n and generated(tonumber(n), tonumber(nnz), o.net) or { name = o.net, label = o.net } }
end
local LABEL, NET_OF = {}, {}
for _, nt in ipairs(NETS) do LABEL[nt.name] = nt.label; NET_OF[nt.name] = nt end

local function wanted(nt)
  return not o.only or nt.name:match(o.only) or nt.label:match(o.only)
end

local function ensure_net(nt)
  local g = nt.gen
  if not g then
    if nt.needs and not exists(nt.needs) then return nil, nt.needs .. " is absent" end
    return true
  end
  local meta = nets.read_meta(g.dir)
  if meta and meta.nnz then return true end
  io.stderr:write(fmt("  generating the %s network once into %s\n", nt.label, g.dir))
  local r, why = run_child(ci_cmd(fmt("--net random:%d:%d --what dump --dir %s", g.n, g.nnz,
                                      q(g.dir))), 900)
  if not r then return nil, "generating it: " .. why end
  return true
end

local usable = {}
local function usable_net(name)
  if usable[name] == nil then
    local ok, why = ensure_net(NET_OF[name])
    usable[name] = ok and true or false
    if not ok then print(fmt("  (%s skipped: %s)", LABEL[name], why)) end
  end
  return usable[name]
end

------------------------------------------------------------------------------
-- the whole-brain runs (cinterp alone; issue 7 item 4)
------------------------------------------------------------------------------
if whole then
  print()
  print("whole activation-maximisation runs: 100 iterations, early_stopping = false")
  print(fmt("%-15s %8s %10s %3s %3s %10s %8s %12s %12s %9s", "network", "n", "nnz", "B", "L",
            "total s", "iters", "first loss", "last loss", "peak MB"))
  for _, c in ipairs { { net = "random:140000:14984648", label = "rand 140k/15M" },
                       { net = "larva", label = "larva" } } do
    if not o.only or c.net:match(o.only) then
      local r, why = run_child(ci_cmd(fmt("--net %s --B 8 --L 10 --what actmax100 --am-iters 100",
                                          c.net)), 1500)
      local row = add_row { section = "actmax100", net = c.net, B = 8, L = 10, status = why or "ok" }
      if r then
        for _, k in ipairs { "n", "nnz", "S", "actmax_total_s", "actmax_iters", "actmax_first_loss",
                             "actmax_last_loss" } do row[k] = r[k] end
        row.ci_peak_mb = r.peak_total_mb
        print(fmt("%-15s %8d %10d %3d %3d %10.1f %8d %12.6g %12.6g %9.0f", c.label, r.n, r.nnz, 8,
                  10, r.actmax_total_s, r.actmax_iters, r.actmax_first_loss, r.actmax_last_loss,
                  r.peak_total_mb))
      else
        print(fmt("%-15s %s", c.label, why))
      end
      write_csv()
    end
  end
  run_row.status = "complete"
  write_csv()
  print(fmt("\nwrote %s (%d rows) in %.0f s", out_path, #rows, now() - t_all))
  os.exit(0)
end

------------------------------------------------------------------------------
-- 1. side by side: the reference and cinterp, alternately, same networks
------------------------------------------------------------------------------
local side_grid = {}
if quick then
  side_grid = { { net = NETS[1].name, B = 8, L = 10 } }
else
  for _, nt in ipairs(NETS) do
    for _, B in ipairs { 1, 8, 32 } do
      local skip_ref = nt.gen and B == 32 and not o["ref-wide"]
      side_grid[#side_grid + 1] = { net = nt.name, B = B, L = 10, skip_ref = skip_ref }
    end
  end
end

local MEASURES = { fwd = "fwd_s", am = "am_iter_s", peak = "peak_mb" }
local side_rows = {}
local seq = 0

print()
print(fmt("1. side by side: seconds, median [min-max] over %d round(s), each measurement a fresh " ..
          "process, reference and cinterp alternately", rounds))
print("   fwd: forward without grad; AM: one activation-maximisation iteration (time between " ..
      "successive iterations); peak: VmHWM of the process")
print("   x = reference / cinterp (the faster reference runtime per figure, named in brackets; " ..
      "[min-max] over back-to-back pairs)")
for _, c in ipairs(side_grid) do
  if wanted(NET_OF[c.net]) and usable_net(c.net) then
    local rts = c.skip_ref and {} or runtimes
    local runs = H.plan(rts, rounds)
    local t_cfg = now()
    -- one run: a fresh process of its side, its figures into the run and the CSV
    local function measure(run)
      seq = seq + 1
      local t0 = now()
      local args = fmt("--net %s --B %d --L %d --what fwd,am", q(c.net), c.B, c.L)
      local res, why
      if run.side == "ci" then
        res, why = run_child(ci_cmd(args .. fmt(" --cap %g", cap)), math.floor(3 * cap + 120))
      else
        res, why = run_child(ref_cmd(run.runtime, args .. fmt(" --cap %g", ref_cap)),
                             math.floor(3 * ref_cap + 120))
      end
      run.res, run.why = res, why
      local who = run.side == "ci" and "cinterp" or ("reference " .. run.runtime)
      io.stderr:write(fmt("  [%4.0f s] %-11s B=%-2d L=%-2d round %d %-17s %6.1f s%s\n", now() - t_all,
                          LABEL[c.net], c.B, c.L, run.round, who, now() - t0,
                          res and "" or (": " .. tostring(why))))
      add_row { section = "sample", net = c.net, B = c.B, L = c.L, seq = seq, round = run.round,
                side = run.side, runtime = run.runtime, n = res and res.n, nnz = res and res.nnz,
                fwd_s = res and res.fwd_s, am_iter_s = res and res.am_iter_s,
                peak_mb = res and res.peak_mb, status = res and "ok" or why }
      write_csv()
    end
    local dropped, ran = {}, {}
    for k, run in ipairs(runs) do
      if run.round == 2 and runs[k - 1].round == 1 then
        -- a runtime far slower than another in round 1 cannot become the faster one
        dropped = H.slower_runtimes(runs, rts, { "fwd_s", "am_iter_s" }, 2)
      end
      if run.side == "ref" then ran[run.pair] = not dropped[run.runtime] end
      -- a dropped runtime's cinterp pair is skipped with it
      if run.side == "ref" and dropped[run.runtime] or run.pair and not ran[run.pair] then
        run.skipped = true
      else
        measure(run)
      end
    end
    local row = H.combine(runs, rts, MEASURES)
    row.section, row.net, row.B, row.L, row.rounds = "side", c.net, c.B, c.L, rounds
    local statuses = {}
    for _, run in ipairs(runs) do
      if run.res and not row.n then row.n, row.nnz, row.S = run.res.n, run.res.nnz, run.res.S end
      if not run.res and not run.skipped then
        statuses[#statuses + 1] = (run.side == "ci" and "cinterp" or run.runtime) .. " round " ..
            run.round .. " " .. tostring(run.why)
      end
    end
    for rt in pairs(dropped) do
      statuses[#statuses + 1] = rt .. " timed in round 1 only (over 2x slower than the other runtime)"
    end
    local mismatch = H.same_network(runs)
    if mismatch then
      statuses[#statuses + 1] = mismatch
      for _, m in ipairs { "fwd", "am", "peak" } do row[m .. "_ratio"] = nil end
    end
    if c.skip_ref then statuses[#statuses + 1] = "reference not timed (one call takes minutes; --ref-wide)" end
    if #rts == 0 and not c.skip_ref then statuses[#statuses + 1] = "reference not installed" end
    row.status = #statuses == 0 and "ok" or table.concat(statuses, "; ")
    add_row(row)
    side_rows[#side_rows + 1] = row
    write_csv()
    io.stderr:write(fmt("  [%4.0f s] %s B=%d L=%d done in %.0f s\n", now() - t_all, LABEL[c.net],
                        c.B, c.L, now() - t_cfg))
  end
end

local function side_table()
  print(fmt("%-11s %3s %3s | %-22s %-28s %-13s | %-22s %-28s %-13s | %s", "network", "B", "L",
            "cinterp fwd", "reference fwd", "x", "cinterp AM", "reference AM", "x",
            "peak MB ci / ref"))
  for _, r in ipairs(side_rows) do
    local function ref(m)
      if not r["ref_" .. m .. "_s"] then return "-" end
      return H.spread(r["ref_" .. m .. "_s"], r["ref_" .. m .. "_min_s"], r["ref_" .. m .. "_max_s"]) ..
          " (" .. r["ref_" .. m .. "_runtime"] .. ")"
    end
    print(fmt("%-11s %3d %3d | %-22s %-28s %-13s | %-22s %-28s %-13s | %s / %s", LABEL[r.net], r.B, r.L,
              H.spread(r.ci_fwd_s, r.ci_fwd_min_s, r.ci_fwd_max_s), ref("fwd"),
              H.ratio_spread(r.fwd_ratio, r.fwd_ratio_min, r.fwd_ratio_max),
              H.spread(r.ci_am_s, r.ci_am_min_s, r.ci_am_max_s), ref("am"),
              H.ratio_spread(r.am_ratio, r.am_ratio_min, r.am_ratio_max),
              r.ci_peak_mb and fmt("%.0f", r.ci_peak_mb) or "-",
              r.ref_peak_mb and fmt("%.0f (%s)", r.ref_peak_mb, r.ref_peak_runtime) or "-"))
    if r.status ~= "ok" then print("    " .. r.status) end
    -- both runtimes, when both ran
    for _, rt in ipairs(runtimes) do
      if r[rt .. "_fwd_s"] or r[rt .. "_am_s"] then
        print(fmt("    %-7s fwd %s  AM %s  peak %s MB", rt,
                  H.spread(r[rt .. "_fwd_s"], r[rt .. "_fwd_min_s"], r[rt .. "_fwd_max_s"]),
                  H.spread(r[rt .. "_am_s"], r[rt .. "_am_min_s"], r[rt .. "_am_max_s"]),
                  r[rt .. "_peak_mb"] and fmt("%.0f", r[rt .. "_peak_mb"]) or "-"))
      end
    end
  end
end
print()
side_table()

------------------------------------------------------------------------------
-- 2. the product against its floor (core/floorbench.c, FLOORS.md's method)
------------------------------------------------------------------------------
local floor_nets = quick and { NETS[1].name } or { "ref50k", "dump:" .. gen_dir }
local floor_Bs = quick and "1,8" or "1,4,8,16,32"
local floor_rounds = quick and 3 or 11
local floor_res = {}
print()
print(fmt("2. the sparse product Y = W X against its floor: ns per nonzero (ms per product), " ..
          "median of %d rounds, all variants in turn", floor_rounds))
print("   stream: the matrix's values + indices; floor: + the X row at every column index " ..
      "(prefetch 32 ahead); plain: a plain SpMM; ci_csr_spmm: cinterp's product")
for _, name in ipairs(floor_nets) do
  if wanted(NET_OF[name]) and usable_net(name) then
    local r, why = run_child(ci_cmd(fmt("--net %s --what floor --Bs %s --rounds %d", q(name),
                                        floor_Bs, floor_rounds)), 900)
    floor_res[name] = r
    if not r then
      print(fmt("%-11s %s", LABEL[name], why))
      add_row { section = "floor", net = name, status = why }
    else
      local head = {}
      for b in floor_Bs:gmatch("%d+") do head[#head + 1] = fmt("%-18s", "B=" .. b) end
      print(fmt("%-11s %-12s %s", LABEL[name], "", table.concat(head)))
      for _, variant in ipairs { "stream", "gather", "plain", "csr_spmm" } do
        local cells = {}
        for b in floor_Bs:gmatch("%d+") do
          local key = "floor_b" .. b .. "_" .. variant
          local s = r[key .. "_s"]
          local nsnz = s / r.nnz * 1e9
          cells[#cells + 1] = fmt("%-18s", fmt("%.2f (%.1f)", nsnz, s * 1e3))
          add_row { section = "floor", net = name, n = r.n, nnz = r.nnz, B = tonumber(b),
                    variant = variant == "gather" and "floor" or variant, rounds = floor_rounds,
                    ms_per_product = s * 1e3, min_ms = r[key .. "_min_s"] * 1e3,
                    max_ms = r[key .. "_max_s"] * 1e3, ns_per_nnz = nsnz, status = "ok" }
        end
        print(fmt("%-11s %-12s %s", "", variant == "gather" and "floor" or variant,
                  table.concat(cells)))
      end
    end
    write_csv()
  end
end

------------------------------------------------------------------------------
-- 3. the width table: cost per batch column (cinterp)
------------------------------------------------------------------------------
local width_nets = quick and { NETS[1].name } or { "ref50k", "dump:" .. gen_dir }
local widths = quick and { 1, 8 } or { 1, 4, 8, 16, 32 }
print()
print(fmt("3. width: cinterp's cost per batch column, 10 layers, median of %d round(s) " ..
          "(widths in turn in each round)", rounds))
print("   target (issue 15): one AM iteration at B = 32 costs at most 1/3 of 32 iterations at " ..
      "B = 1, i.e. AM/(B * AM at B=1) <= 0.33")
print(fmt("%-11s %3s | %10s %12s | %9s %12s | %9s %12s %13s", "network", "B", "spmm ms", "per col ms",
          "fwd s", "per col s", "AM s", "per col s", "AM/(B*AM1)"))
for _, name in ipairs(width_nets) do
  if wanted(NET_OF[name]) and usable_net(name) then
    local samples = {}
    for _, B in ipairs(widths) do samples[B] = { fwd = {}, am = {} } end
    for r = 1, rounds do
      for _, B in ipairs(widths) do
        local res, why = run_child(ci_cmd(fmt("--net %s --B %d --L 10 --what fwd,am --cap %g", q(name),
                                              B, cap)), math.floor(3 * cap + 120))
        local s = samples[B]
        if res then
          s.fwd[#s.fwd + 1], s.am[#s.am + 1] = res.fwd_s, res.am_iter_s
          s.n, s.nnz = res.n, res.nnz
        else
          s.why = why
        end
        io.stderr:write(fmt("  [%4.0f s] width %-11s B=%-2d round %d%s\n", now() - t_all, LABEL[name],
                            B, r, res and "" or (": " .. tostring(why))))
      end
    end
    local am1 = H.median(samples[1] and samples[1].am or {})
    local fr = floor_res[name]
    for _, B in ipairs(widths) do
      local s = samples[B]
      local fwd, am = H.summary(s.fwd), H.summary(s.am)
      local spmm = fr and fr["floor_b" .. B .. "_csr_spmm_s"]
      local vs1 = H.ratio(am.median, B * am1)
      add_row { section = "width", net = name, n = s.n, nnz = s.nnz, B = B, L = 10, rounds = rounds,
                spmm_ms = spmm and spmm * 1e3, spmm_per_col_ms = spmm and spmm * 1e3 / B,
                ci_fwd_s = fwd.n > 0 and fwd.median or nil, ci_fwd_min_s = fwd.n > 0 and fwd.min or nil,
                ci_fwd_max_s = fwd.n > 0 and fwd.max or nil,
                ci_am_s = am.n > 0 and am.median or nil, ci_am_min_s = am.n > 0 and am.min or nil,
                ci_am_max_s = am.n > 0 and am.max or nil,
                fwd_per_col_s = H.ratio(fwd.median, B), am_per_col_s = H.ratio(am.median, B),
                am_vs_b1 = vs1, status = s.why or "ok" }
      print(fmt("%-11s %3d | %10s %12s | %9s %12s | %9s %12s %13s%s", LABEL[name], B,
                spmm and fmt("%.2f", spmm * 1e3) or "-", spmm and fmt("%.3f", spmm * 1e3 / B) or "-",
                H.sec(fwd.median), H.sec(H.ratio(fwd.median, B)), H.sec(am.median),
                H.sec(H.ratio(am.median, B)), vs1 and fmt("%.2f", vs1) or "-",
                s.why and ("  " .. s.why) or ""))
    end
    write_csv()
  end
end

------------------------------------------------------------------------------
-- 4. per timestep: product / activation / rest (the engine's hooks, ci_profile)
------------------------------------------------------------------------------
local step_nets = quick and { NETS[1].name } or { "ref50k", "dump:" .. gen_dir }
local step_Bs = quick and { 1, 8 } or { 1, 8, 32 }
local STEP_KEYS = { "fwd_product", "fwd_activation", "fwd_rest", "fwd_output", "bwd_elementwise",
                    "bwd_product", "bwd_rest", "am_iter", "am_outside" }
print()
print(fmt("4. per timestep, ms (median of %d round(s); core/profile.c's timers): the forward " ..
          "without gradients", rounds))
print("   (the product W x_{t-1}, the floor of section 2 at that width and the ratio, the " ..
      "activation, the rest of the step; the output transpose per forward), the backward of an")
print("   AM iteration (elementwise, the product over W^T, the rest), and per AM iteration " ..
      "its time outside the engine (loss, Adam, Lua)")
print(fmt("%-11s %3s | %8s %8s %6s %8s %8s %9s | %8s %8s %8s | %9s %9s", "network", "B", "product",
          "floor", "x", "act", "rest", "output", "bw elem", "bw prod", "bw rest", "AM iter",
          "outside"))
for _, name in ipairs(step_nets) do
  if wanted(NET_OF[name]) and usable_net(name) then
    local fr = floor_res[name]
    for _, B in ipairs(step_Bs) do
      local samples, why = {}, nil
      for _, k in ipairs(STEP_KEYS) do samples[k] = {} end
      for r = 1, rounds do
        local res, w = run_child(ci_cmd(fmt("--net %s --B %d --L 10 --what step", q(name), B)),
                                 math.floor(3 * cap + 120))
        for _, k in ipairs(STEP_KEYS) do
          if res then table.insert(samples[k], res["step_" .. k .. "_s"]) end
        end
        why = why or w
      end
      local m = {}
      for _, k in ipairs(STEP_KEYS) do m[k] = H.median(samples[k]) end
      local floor = fr and fr["floor_b" .. B .. "_gather_s"]
      local x = H.ratio(m.fwd_product, floor)
      local row = { section = "step", net = name, B = B, L = 10, rounds = rounds,
                    floor_ms = floor and floor * 1e3, product_vs_floor = x, status = why or "ok" }
      for _, k in ipairs(STEP_KEYS) do row[k .. "_ms"] = m[k] == m[k] and m[k] * 1e3 or nil end
      add_row(row)
      local function ms(v) return v == v and fmt("%.2f", v * 1e3) or "-" end
      print(fmt("%-11s %3d | %8s %8s %6s %8s %8s %9s | %8s %8s %8s | %9s %9s%s", LABEL[name], B,
                ms(m.fwd_product), floor and ms(floor) or "-", x and fmt("%.2f", x) or "-",
                ms(m.fwd_activation), ms(m.fwd_rest), ms(m.fwd_output), ms(m.bwd_elementwise),
                ms(m.bwd_product), ms(m.bwd_rest), ms(m.am_iter), ms(m.am_outside),
                why and ("  " .. why) or ""))
      write_csv()
    end
  end
end

------------------------------------------------------------------------------
-- 5. the issue's targets, from this run's side-by-side figures
------------------------------------------------------------------------------
if not quick then
  print()
  print("5. targets (issue 15), batch 8, 10 layers, against the faster reference of this run:")
  local function show(what, value, target, ok)
    print(fmt("   %-46s %10s   target %-8s %s", what, value, target,
              ok == nil and "-" or (ok and "met" or "NOT met")))
  end
  local T = { ref50k = { fwd = 15, am = 20 }, ["dump:" .. gen_dir] = { fwd = 25, am = 30 } }
  for _, r in ipairs(side_rows) do
    local t = T[r.net]
    if t and r.B == 8 then
      show(LABEL[r.net] .. " forward", H.times(r.fwd_ratio), ">= " .. t.fwd .. "x",
           r.fwd_ratio and r.fwd_ratio >= t.fwd)
      show(LABEL[r.net] .. " AM iteration", H.times(r.am_ratio), ">= " .. t.am .. "x",
           r.am_ratio and r.am_ratio >= t.am)
      show(LABEL[r.net] .. " peak memory, reference / cinterp", H.times(r.peak_ratio), ">= 4x",
           r.peak_ratio and r.peak_ratio >= 4)
    end
  end
  for _, r in ipairs(rows) do
    if r.section == "width" and r.B == 32 then
      show(LABEL[r.net] .. " AM at B=32 / (32 x AM at B=1)",
           r.am_vs_b1 and fmt("%.2f", r.am_vs_b1) or "-", "<= 0.33",
           r.am_vs_b1 and r.am_vs_b1 <= 1 / 3)
    end
  end
end

run_row.status = "complete"
run_row.info = run_row.info .. fmt(", load at the end %s, %.0f s", loadavg(), now() - t_all)
write_csv()
print()
print(fmt("wrote %s (%d rows) in %.0f s; load average at the end %s", out_path, #rows,
          now() - t_all, loadavg()))
if full then print("`make bench-readme` puts these figures in the README.") end
