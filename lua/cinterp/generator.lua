-- generator.lua: ci.random_connectome, the benchmark's seeded random connectome
-- (core/generator.c; statistics of ../shared/bench/REFERENCE.md) as a ci.sparse
-- weight matrix (post in rows, rows summing to +-1) and its sensory indices.
local ffi = require "ffi"
local O = require "cinterp.options"

local RANDOM = O.declare{ name = "ci.random_connectome", topic = "Connectomes",
  doc = [[The benchmark's seeded random connectome: n neurons, about nnz connections with the
statistics of a real one (../shared/bench/REFERENCE.md), as signed weights (post in rows, each
row summing to +1 or -1), and a seeded random choice of sensory neurons. The same seed gives
the same network on every machine.]],
  args = { { "n", "integer >= 2", "the number of neurons" }, { "nnz", "integer >= 1", "the number of connections" } },
  opts = { { "seed", "integer", nil, "the seed of the weights and of the sensory choice", default_text = "20240601 + n" },
           { "sensory_fraction", "number 0..1", 0.05, "the share of neurons that are sensory" } },
  returns = { { "W", "sparse", "n x n weights, post in rows" },
              { "sensory", "array", "the sensory neurons' indices, ascending" } },
  example = [[local W, sensory = ci.random_connectome(1000, 20000, {seed = 1})
print(W:size(1), #sensory)  --> 1000 50
local net = ci.MultilayeredNetwork(W, sensory, {num_layers = 3})]] }

return function(ci)
  local E = ci._engine
  local C, check = E.C, E.check

  --- W, sensory = ci.random_connectome(n, nnz, {seed = 1, sensory_fraction = 0.05})
  function ci.random_connectome(n, nnz, opts)
    opts = O.check(RANDOM, opts)
    local where = "ci.random_connectome"
    if type(n) ~= "number" or n ~= math.floor(n) or n < 2 then
      error(where .. ": n must be an integer >= 2, got " .. tostring(n), 2)
    end
    if type(nnz) ~= "number" or nnz ~= math.floor(nnz) or nnz < 1 then
      error(where .. ": nnz must be an integer >= 1, got " .. tostring(nnz), 2)
    end
    local seed = opts.seed or (20240601 + n)
    local frac = opts.sensory_fraction
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
