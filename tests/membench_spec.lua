-- membench_spec.lua: the benchmark's pieces: ci_membench_triad / ci_membench_read
-- (plausible bandwidths, argument errors) and bench/bench_one.lua run end to
-- end on a small random network (its RESULT line parses and is consistent).
local ci = require "cinterp"
local ffi = require "ffi"
local C = ci._engine.C

describe("ci_membench", function()
  it("triad and read-only bandwidths are positive and physically plausible", function()
    local t = C.ci_membench_triad(1000000, 3)
    local r = C.ci_membench_read(1000000, 3)
    -- 12 MB moved per triad pass: anything from 0.05 GB/s (a starved VM) to
    -- 5 TB/s (cache) is a real measurement; negative would be an error
    assert.is_true(t > 0.05 and t < 5000, "triad " .. t)
    assert.is_true(r > 0.05 and r < 5000, "read " .. r)
  end)

  it("rejects too small arrays and repeats < 1, naming the function and argument", function()
    assert.is_true(C.ci_membench_triad(100, 3) < 0)
    assert.matches("ci_membench_triad: n_floats = 100", ffi.string(C.ci_last_error()), 1, true)
    assert.is_true(C.ci_membench_read(4096, 0) < 0)
    assert.matches("ci_membench_read: repeats = 0", ffi.string(C.ci_last_error()), 1, true)
  end)
end)

describe("bench/bench_one.lua", function()
  local function exe()
    local buf = ffi.new("char[4096]")
    pcall(ffi.cdef, "long readlink(const char *path, char *buf, size_t size);")
    local len = ffi.C.readlink("/proc/self/exe", buf, 4095)
    return ffi.string(buf, len)
  end

  it("runs one configuration in a child process and reports consistent figures", function()
    local p = io.popen(exe() .. " bench/bench_one.lua --net random:2000:40000 --B 2 --L 3 " ..
                       "--what fwd,am,spmm --cap 2 2>&1")
    local text = p:read("*a")
    p:close()
    local body = text:match("RESULT ([^\n]*)")
    assert.is_truthy(body, text)
    local r = {}
    for k, v in body:gmatch("(%S+)=(%S+)") do r[k] = tonumber(v) or v end
    assert.are.equal(2000, r.n)
    assert.are.equal(100, r.S) -- 5 % sensory
    assert.are.equal(2, r.B)
    assert.are.equal(3, r.L)
    -- duplicates merged: at most the target, and not far below it
    assert.is_true(r.nnz <= 40000 and r.nnz > 36000, "nnz " .. r.nnz)
    -- the generator's matrix, rebuilt here, has the same number of connections
    local pm = ffi.new("ci_csr*[1]")
    ci._engine.check(C.ci_random_connectome(2000, 40000, 20240601 + 2000, pm), "spec")
    local W = ffi.gc(pm[0], C.ci_csr_release)
    assert.are.equal(tonumber(W:nnz()), r.nnz)
    for _, k in ipairs { "fwd_s", "am_iter_s", "spmm_b1_s", "spmm_b8_s", "spmm_b32_s", "peak_mb" } do
      assert.is_true(type(r[k]) == "number" and r[k] > 0, k .. " = " .. tostring(r[k]))
    end
    assert.is_true(r.spmm_b1_min_s <= r.spmm_b1_s)
    assert.is_true(r.am_reps >= 1 and r.fwd_reps >= 1)
  end)
end)
