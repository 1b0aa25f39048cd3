-- generator.lua: ci.random_connectome, the benchmark's seeded random connectome
-- (core/generator.c; statistics of ../shared/bench/REFERENCE.md) as a ci.sparse
-- weight matrix (post in rows, rows summing to +-1) and its sensory indices.
local ffi = require "ffi"

return function(ci)
  local E = ci._engine
  local C, check = E.C, E.check

  --- W, sensory = ci.random_connectome(n, nnz, {seed = 1, sensory_fraction = 0.05})
  function ci.random_connectome(n, nnz, opts)
    opts = opts or {}
    local where = "ci.random_connectome"
    if type(n) ~= "number" or n ~= math.floor(n) or n < 2 then
      error(where .. ": n must be an integer >= 2, got " .. tostring(n), 2)
    end
    if type(nnz) ~= "number" or nnz ~= math.floor(nnz) or nnz < 1 then
      error(where .. ": nnz must be an integer >= 1, got " .. tostring(nnz), 2)
    end
    local seed = opts.seed or (20240601 + n)
    local frac = opts.sensory_fraction or 0.05
    if type(frac) ~= "number" or frac < 0 or frac > 1 then
      error(where .. ": sensory_fraction must be a number in 0..1", 2)
    end
    local pm = ffi.new("ci_csr*[1]")
    check(C.ci_random_connectome(n, nnz, seed, pm), where)
    local W = ffi.gc(pm[0], C.ci_csr_release)
    local S = math.floor(n * frac + 0.5)
    local s = ffi.new("int32_t[?]", math.max(S, 1))
    check(C.ci_random_sensory(n, S, seed, s), where)
    local sensory = {}
    for k = 1, S do sensory[k] = s[k - 1] + 1 end
    return W, sensory
  end
end
