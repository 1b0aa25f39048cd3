-- bench_spec.lua: the benchmark harness without timing anything big: the
-- alternating order of the runs, the medians and spreads, the choice of the
-- faster reference runtime and the ratios (same-run figures only), the CSV
-- columns, the README table, the raw network dump both sides read, the shared
-- workload, ci_floorbench's checks, and a seconds-long driver run without the
-- reference, which must say so and report cinterp alone.
local ci = require "cinterp"
local ffi = require "ffi"
local C = ci._engine.C
package.path = "bench/?.lua;" .. package.path
local H = require "harness"
local nets = require "nets"
local workload = require "workload"

local hostbin = require "hostbin"

-- a fresh empty folder
local function tmpdir()
  local d = os.tmpname()
  os.remove(d)
  assert(os.execute("mkdir -p " .. hostbin.q(d)) == 0)
  return d
end

local function slurp(path)
  local f = assert(io.open(path))
  local s = f:read("*a")
  f:close()
  return s
end

describe("bench harness: the order of the runs", function()
  it("alternates reference and cinterp, every runtime once per round, each paired", function()
    local order = H.plan({ "debian", "pypi" }, 3)
    assert.are.equal(12, #order)
    local seen = { debian = 0, pypi = 0 }
    for k, run in ipairs(order) do
      assert.are.equal(k % 2 == 1 and "ref" or "ci", run.side) -- A B A B ...
      if run.side == "ref" then
        seen[run.runtime] = seen[run.runtime] + 1
        -- the cinterp run right after is its pair
        assert.are.equal(run.pair, order[k + 1].pair)
      end
      assert.are.equal(math.floor((k - 1) / 4) + 1, run.round)
    end
    assert.are.same({ debian = 3, pypi = 3 }, seen)
    assert.are.equal("debian", order[1].runtime)
    assert.are.equal("pypi", order[3].runtime)
  end)

  it("without a reference runs cinterp once per round", function()
    local order = H.plan({}, 2)
    assert.are.equal(2, #order)
    for r, run in ipairs(order) do
      assert.are.equal("ci", run.side)
      assert.are.equal(r, run.round)
      assert.is_nil(run.pair)
    end
  end)
end)

describe("bench harness: statistics", function()
  it("medians of odd and even counts, ignoring NaN and missing values", function()
    assert.are.equal(2, H.median { 3, 1, 2 })
    assert.are.equal(2.5, H.median { 4, 1, 3, 2 })
    assert.are.equal(5, H.median { 0 / 0, 5 })
    assert.is_true(H.median {} ~= H.median {}) -- NaN
    local s = H.summary { 0.3, 0.1, 0 / 0, 0.2, 0.5 }
    assert.are.equal(4, s.n)
    assert.are.equal(0.25, s.median)
    assert.are.equal(0.1, s.min)
    assert.are.equal(0.5, s.max)
    assert.are.equal(0, H.summary({}).n)
  end)

  it("ratios only between finite figures, never against zero", function()
    assert.are.equal(4, H.ratio(2, 0.5))
    assert.is_nil(H.ratio(2, 0))
    assert.is_nil(H.ratio(nil, 1))
    assert.is_nil(H.ratio(0 / 0, 1))
  end)
end)

describe("bench harness: one configuration's figures", function()
  local M = { fwd = "fwd_s", am = "am_iter_s", peak = "peak_mb" }
  local function runs_of(list)
    -- list: { side, runtime, pair, fwd, am, peak }
    local runs = {}
    for _, e in ipairs(list) do
      runs[#runs + 1] = { side = e[1], runtime = e[2], pair = e[3],
                          res = e[4] and { fwd_s = e[4], am_iter_s = e[5], peak_mb = e[6] } }
    end
    return runs
  end

  it("takes medians per side, the faster runtime per figure, ratios of this run's medians", function()
    local runs = runs_of {
      { "ref", "debian", 1, 1.0, 10, 400 }, { "ci", nil, 1, 0.10, 1.0, 50 },
      { "ref", "pypi", 2, 2.0, 8, 900 }, { "ci", nil, 2, 0.20, 1.0, 50 },
      { "ref", "debian", 3, 1.2, 12, 410 }, { "ci", nil, 3, 0.10, 2.0, 60 },
      { "ref", "pypi", 4, 1.8, 9, 950 }, { "ci", nil, 4, 0.10, 1.0, 50 },
    }
    local row = H.combine(runs, { "debian", "pypi" }, M)
    assert.are.equal(0.10, row.ci_fwd_s)
    assert.are.equal(0.10, row.ci_fwd_min_s)
    assert.are.equal(0.20, row.ci_fwd_max_s)
    assert.are.equal(1.1, row.debian_fwd_s)
    assert.are.equal(1.9, row.pypi_fwd_s)
    -- forward: debian is faster; AM: pypi is; memory: debian is leaner
    assert.are.equal("debian", row.ref_fwd_runtime)
    assert.are.equal(1.1, row.ref_fwd_s)
    assert.are.equal(1.0, row.ref_fwd_min_s)
    assert.are.equal(1.2, row.ref_fwd_max_s)
    assert.are.equal("pypi", row.ref_am_runtime)
    assert.are.equal(8.5, row.ref_am_s)
    assert.are.equal("debian", row.ref_peak_runtime)
    assert.is_true(math.abs(row.fwd_ratio - 11) < 1e-12)
    assert.are.equal(8.5, row.am_ratio)
    assert.are.equal(405 / 50, row.peak_ratio)
    -- the ratio's spread: debian's back-to-back pairs (1.0/0.10, 1.2/0.10)
    assert.is_true(math.abs(row.fwd_ratio_min - 10) < 1e-12)
    assert.is_true(math.abs(row.fwd_ratio_max - 12) < 1e-12)
    -- pypi's pairs for AM: 8/1, 9/1
    assert.are.equal(8, row.am_ratio_min)
    assert.are.equal(9, row.am_ratio_max)
  end)

  it("has no reference figure and no ratio without a reference", function()
    local row = H.combine(runs_of { { "ci", nil, nil, 0.1, 1, 50 }, { "ci", nil, nil, 0.3, 2, 70 } },
                          {}, M)
    assert.are.equal(0.2, row.ci_fwd_s)
    for k in pairs(row) do
      assert.is_nil(k:match("^ref_"), k)
      assert.is_nil(k:match("ratio"), k)
    end
  end)

  it("drops after round 1 only a runtime slower than another by the factor on every measure", function()
    local runs = {
      { side = "ref", runtime = "debian", round = 1, res = { fwd_s = 1, am_iter_s = 10 } },
      { side = "ci", round = 1 },
      { side = "ref", runtime = "pypi", round = 1, res = { fwd_s = 3, am_iter_s = 25 } },
      { side = "ci", round = 1 },
      { side = "ref", runtime = "debian", round = 2, res = { fwd_s = 100, am_iter_s = 100 } },
    }
    local keys = { "fwd_s", "am_iter_s" }
    assert.are.same({ pypi = true }, H.slower_runtimes(runs, { "debian", "pypi" }, keys, 2))
    runs[3].res.am_iter_s = 15 -- no longer slower on every measure
    assert.are.same({}, H.slower_runtimes(runs, { "debian", "pypi" }, keys, 2))
    runs[3].res = nil -- a failed first run is reported, not dropped
    assert.are.same({}, H.slower_runtimes(runs, { "debian", "pypi" }, keys, 2))
    assert.are.same({}, H.slower_runtimes(runs, { "debian" }, keys, 2))
  end)

  it("skips failed runs and notices different networks", function()
    local runs = runs_of { { "ref", "debian", 1, nil }, { "ci", nil, 1, 0.1, 1, 50 } }
    local row = H.combine(runs, { "debian" }, M)
    assert.is_nil(row.ref_fwd_s)
    assert.is_nil(row.fwd_ratio)
    local same = { { side = "ci", res = { n = 10, nnz = 5, wsum = 1.5, wchk = 100 } },
                   { side = "ref", runtime = "pypi", res = { n = 10, nnz = 5, wsum = 1.5, wchk = 100 + 1e-9 } } }
    assert.is_nil(H.same_network(same))
    same[2].res.wchk = 101
    assert.matches("different networks: cinterp .* reference pypi", H.same_network(same))
  end)
end)

describe("bench harness: the CSV and the README", function()
  it("has the columns the README and the issue need, and reads back what it writes", function()
    local have = {}
    for _, c in ipairs(H.COLS) do
      assert.is_nil(have[c], "duplicate column " .. c)
      have[c] = true
    end
    for _, c in ipairs { "section", "date", "net", "n", "nnz", "B", "L", "rounds", "seq", "side",
                         "runtime", "ci_fwd_s", "ci_fwd_min_s", "ci_fwd_max_s", "ci_am_s",
                         "ci_peak_mb", "debian_fwd_s", "pypi_am_s", "ref_fwd_s",
                         "ref_fwd_runtime", "ref_am_s", "ref_am_runtime", "ref_peak_mb",
                         "fwd_ratio", "fwd_ratio_min", "fwd_ratio_max", "am_ratio", "peak_ratio",
                         "variant", "ns_per_nnz", "ms_per_product", "spmm_per_col_ms",
                         "am_per_col_s", "am_vs_b1", "status" } do
      assert.is_true(have[c], "missing column " .. c)
    end
    local rows = { { section = "run", date = "2026-11-29 10:00", info = 'a, "b"', rounds = 3 },
                   { section = "side", net = "ref50k", B = 8, L = 10, ci_fwd_s = 0.0671,
                     fwd_ratio = 8.4, status = "ok" } }
    local text = H.csv_text(rows)
    assert.are.equal(table.concat(H.COLS, ","), text:match("^([^\n]*)"))
    local back = H.parse_csv(text)
    assert.are.equal(2, #back)
    assert.are.equal('a, "b"', back[1].info)
    assert.are.equal(0.0671, back[2].ci_fwd_s)
    assert.are.equal(8, back[2].B)
    assert.is_nil(back[2].ref_fwd_s)
  end)

  it("renders the README table from a run's rows and refuses a README without markers", function()
    local rows = {
      { section = "run", date = "2026-11-29 10:00", info = "2 CPUs", runtime = "debian: torch 1.13", rounds = 3 },
      { section = "side", net = "ref50k", n = 50000, nnz = 2995291, B = 8, L = 10,
        ref_fwd_s = 0.56, ref_fwd_min_s = 0.55, ref_fwd_max_s = 0.62, ref_fwd_runtime = "debian",
        ci_fwd_s = 0.067, ci_fwd_min_s = 0.065, ci_fwd_max_s = 0.092, fwd_ratio = 0.56 / 0.067,
        ref_am_s = 1.85, ref_am_runtime = "pypi", ci_am_s = 0.162, am_ratio = 1.85 / 0.162,
        ref_peak_mb = 1051, ci_peak_mb = 300, status = "ok" },
    }
    local lines = H.readme_lines(rows)
    local text = table.concat(lines, "\n")
    assert.matches("2026%-11%-29 10:00", text)
    assert.matches("| 50k / 3.0M | 8 | 10 | 0.560 [0.550-0.620] s (debian) | 0.0670 [0.0650-0.0920] s | 8.4x |",
                   text, 1, true)
    assert.matches("1.850 s (pypi) | 0.162 s | 11x | 1051 / 300 |", text, 1, true)
    local doc = "intro\n" .. H.README_BEGIN .. "\nold table\n" .. H.README_END .. "\nafter\n"
    local new = H.replace_section(doc, { "new table" })
    assert.are.equal("intro\n" .. H.README_BEGIN .. "\nnew table\n" .. H.README_END .. "\nafter\n", new)
    local none, err = H.replace_section("no markers here", { "x" })
    assert.is_nil(none)
    assert.matches("no '<!%-%- bench%-table", err)
    -- the README has the markers make bench-readme writes between
    local readme = slurp("README.md")
    assert.is_truthy(readme:find(H.README_BEGIN, 1, true))
    assert.is_truthy(readme:find(H.README_END, 1, true))
    assert.are.equal("No side-by-side run", H.readme_lines({})[1]:sub(1, 19))
  end)

  it("no stored reference figure is left in the bench's code to divide by", function()
    -- every timing of REFERENCE.md's results table (3 or more digits after the point)
    local ref = io.open("../shared/bench/REFERENCE.md")
    if not ref then
      pending("../shared/bench/REFERENCE.md is absent")
      return
    end
    local figures = {}
    for line in ref:lines() do
      if line:match("^| %d") then
        for v in line:gmatch("(%d+%.%d%d%d+)") do figures[#figures + 1] = v end
      end
    end
    ref:close()
    assert.is_true(#figures >= 30, "figures found: " .. #figures)
    for _, file in ipairs { "bench/bench.lua", "bench/harness.lua", "bench/bench_one.lua",
                            "bench/ref_one.py", "bench/readme_table.lua" } do
      local src = slurp(file)
      for _, v in ipairs(figures) do
        assert.is_nil(src:find(v, 1, true), file .. " holds the reference's figure " .. v)
      end
    end
  end)
end)

describe("bench: the networks and the workload both sides read", function()
  it("a raw dump reads back as the same network (checksums, sensory, nnz)", function()
    local W, sens, n = nets.load("random:500:6000")
    local wsum, wchk = nets.checksum(W)
    local dir = tmpdir() .. "/net"
    nets.dump(W, sens, dir, { generator = "random:500:6000" })
    local meta = nets.read_meta(dir)
    assert.are.equal(500, meta.n)
    assert.are.equal(tonumber(W:nnz()), meta.nnz)
    assert.are.equal("random:500:6000", meta.generator)
    local W2, sens2, n2 = nets.load("dump:" .. dir)
    assert.are.equal(n, n2)
    assert.are.same(sens, sens2)
    local s2, c2 = nets.checksum(W2)
    assert.are.equal(wsum, s2)
    assert.are.equal(wchk, c2)
    -- the checksum sees a transposed network
    local f = ffi.cast("ci_csr_fields*", W)
    local pt = ffi.new("ci_csr*[1]")
    ci._engine.check(C.ci_csr_transpose(W, pt), "spec")
    local _, ct = nets.checksum(ffi.gc(pt[0], C.ci_csr_release))
    assert.is_true(math.abs(ct - wchk) > 1e-6 * wchk)
    assert.is_true(f.nnz > 0)
    os.execute("rm -rf '" .. dir:match("^(.*)/net$") .. "'")
  end)

  it("a cut dump is refused with the file named", function()
    local W, sens = nets.load("random:300:3000")
    local dir = tmpdir() .. "/net"
    nets.dump(W, sens, dir)
    local f = assert(io.open(dir .. "/weight.f32", "wb"))
    f:write("abcd")
    f:close()
    local ok, err = pcall(nets.load, "dump:" .. dir)
    assert.is_false(ok)
    assert.matches("weight.f32 holds 1 values", err)
    os.execute("rm -rf '" .. dir:match("^(.*)/net$") .. "'")
  end)

  it("the input is MurmurHash3's finaliser as documented, about 30 % non-zero", function()
    -- fmix32 test vectors of MurmurHash3 (0 -> 0, 1 -> 0x514e28b7)
    assert.are.equal(0, workload.fmix32(0))
    assert.are.equal(0x514e28b7, workload.fmix32(1))
    local buf = ffi.new("float[?]", 20000)
    workload.fill_input(buf, 20000)
    local nz = 0
    for i = 0, 19999 do
      local v = buf[i]
      assert.is_true(v >= 0 and v < 1)
      if v ~= 0 then nz = nz + 1 end
    end
    assert.is_true(nz > 5400 and nz < 6600, "non-zero " .. nz)
    -- targets avoid sensory neurons, spread over the network
    local s = { [100] = true, [101] = true }
    local t = workload.targets(2000, s)
    assert.are.equal(10, #t)
    assert.are.equal(102, t[1])
    assert.are.equal(1900, t[10])
  end)

  it("ref_one.py computes the same input, targets and checksums (when numpy is there)", function()
    local py
    for _, p in ipairs { "build/ref-venv-debian/bin/python", "build/ref-venv/bin/python", "/usr/bin/python3" } do
      local h = io.popen(p .. " -c 'import numpy' 2>/dev/null && echo yes")
      local ok = h:read("*l")
      h:close()
      if ok == "yes" then py = p break end
    end
    if not py then
      pending("no Python with numpy (make bench-ref installs one)")
      return
    end
    local W, sens = nets.load("random:400:5000")
    local dir = tmpdir() .. "/net"
    nets.dump(W, sens, dir)
    local wsum, wchk = nets.checksum(W)
    local code = [[
import sys; sys.path.insert(0, "bench")
import numpy as np, ref_one
x = ref_one.workload_input(np, 2, 3, 5).ravel()
print(" ".join("%.9g" % v for v in x))
post, pre, w, sens, n = ref_one.load(np, None, "dump:]] .. dir .. [[", "")
w64 = w.astype(np.float64)
print("%.17g %.17g" % (w64.sum(), (w64 * (1 + post % 97 + 100 * (pre % 89))).sum()))
print(" ".join(str(t) for t in ref_one.workload_targets(n, sens)))
]]
    local h = io.popen(py .. " -c '" .. code:gsub("'", "'\\''") .. "' 2>&1")
    local xs, sums, tg = h:read("*l"), h:read("*l"), h:read("*l")
    h:close()
    local buf = ffi.new("float[30]")
    workload.fill_input(buf, 30)
    local k = 0
    for v in (xs or ""):gmatch("%S+") do
      assert.are.equal(buf[k], ffi.new("float[1]", tonumber(v))[0], "element " .. k)
      k = k + 1
    end
    assert.are.equal(30, k, xs)
    local a, b = sums:match("^(%S+) (%S+)$")
    assert.is_true(math.abs(tonumber(a) - wsum) <= 1e-9 * math.abs(wsum), sums)
    assert.is_true(math.abs(tonumber(b) - wchk) <= 1e-9 * math.abs(wchk), sums)
    local s0 = {}
    for _, i in ipairs(sens) do s0[i - 1] = true end
    assert.are.equal(table.concat(workload.targets(400, s0), " "), tg)
    os.execute("rm -rf '" .. dir:match("^(.*)/net$") .. "'")
  end)
end)

describe("ci_floorbench", function()
  it("times every variant on a small matrix and checks its plain product", function()
    local W = nets.load("random:3000:30000")
    local out = ffi.new("ci_floorbench_result")
    for _, B in ipairs { 1, 4, 8, 32, 5 } do
      ci._engine.check(C.ci_floorbench(W, B, 3, 32, out), "spec")
      assert.are.equal(3, out.rounds)
      for v = 0, C.CI_FLOOR_NVARIANTS - 1 do
        assert.is_true(out.min_s[v] > 0 and out.min_s[v] <= out.median_s[v] and
                       out.median_s[v] <= out.max_s[v], "B " .. B .. " variant " .. v)
      end
    end
    assert.are.equal("gather", ffi.string(C.ci_floorbench_variant(C.CI_FLOOR_GATHER)))
    assert.are.equal("csr_spmm", ffi.string(C.ci_floorbench_variant(3)))
    assert.are.equal(nil, C.ci_floorbench_variant(4) ~= nil and 1 or nil)
  end)

  it("rejects bad arguments, naming the function and the argument", function()
    local W = nets.load("random:300:3000")
    local out = ffi.new("ci_floorbench_result")
    assert.are.equal(C.CI_EINVAL, C.ci_floorbench(W, 0, 3, 32, out))
    assert.matches("ci_floorbench: B = 0", ffi.string(C.ci_last_error()))
    assert.are.equal(C.CI_EINVAL, C.ci_floorbench(W, 8, 0, 32, out))
    assert.matches("ci_floorbench: rounds = 0", ffi.string(C.ci_last_error()))
    assert.are.equal(C.CI_EINVAL, C.ci_floorbench(W, 8, 3, -1, out))
    assert.matches("ci_floorbench: prefetch = %-1", ffi.string(C.ci_last_error()))
    assert.are.equal(C.CI_EINVAL, C.ci_floorbench(nil, 8, 3, 32, out))
  end)
end)

describe("bench/bench.lua without the reference", function()
  it("says the reference is not installed and reports cinterp alone, no ratio", function()
    local dir = tmpdir()
    local csv = dir .. "/r.csv"
    local p = io.popen(hostbin.q(hostbin.bin) .. " bench/bench.lua --quick --net random:1500:20000 --runtimes none " ..
                       "--cap 1 --out " .. csv .. " 2>&1")
    local text = p:read("*a")
    p:close()
    assert.matches("THE REFERENCE IS NOT INSTALLED", text)
    assert.matches("4%. per timestep, ms", text)
    local rows = H.parse_csv(slurp(csv))
    local sections = {}
    for _, r in ipairs(rows) do sections[r.section] = (sections[r.section] or 0) + 1 end
    assert.are.equal(1, sections.run)
    assert.are.equal(1, sections.side)
    assert.are.equal(1, sections.sample)
    assert.are.equal(8, sections.floor) -- 4 variants x B = 1, 8
    assert.are.equal(2, sections.width)
    assert.are.equal(2, sections.step) -- B = 1, 8
    for _, r in ipairs(rows) do
      if r.section == "run" then
        assert.are.equal("complete", r.status)
        assert.are.equal("none", r.runtime)
      elseif r.section == "side" then
        assert.is_true(r.ci_fwd_s > 0 and r.ci_am_s > 0 and r.ci_peak_mb > 0)
        assert.are.equal("reference not installed", r.status)
        for k in pairs(r) do
          assert.is_nil(k:match("^ref_"), k)
          assert.is_nil(k:match("ratio"), k)
        end
      elseif r.section == "step" then -- the engine's per-phase timers, per step
        assert.are.equal("ok", r.status)
        assert.is_true(r.fwd_product_ms > 0 and r.fwd_activation_ms > 0 and r.bwd_product_ms > 0)
        assert.is_true(r.floor_ms > 0 and r.product_vs_floor > 0)
        assert.is_true(r.am_iter_ms > r.fwd_product_ms)
      elseif r.section == "sample" then
        assert.are.equal("ci", r.side)
        assert.are.equal(1, r.seq)
      end
    end
    os.execute("rm -rf '" .. dir .. "'")
  end)
end)
