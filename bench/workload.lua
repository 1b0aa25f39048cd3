-- workload.lua: what both sides of the benchmark feed the model, defined
-- exactly so that bench/ref_one.py computes the same numbers: the input x and
-- the activation-maximisation targets. Neither draws from a random generator
-- (their streams differ between cinterp and torch), so both sides run the same
-- work (cinterp skips rows of zeros: the same zeros matter).
--
--   input: x has shape (B, S, L), C order; element number i = (b*S + s)*L + l
--          (0-based) is u = fmix32(2i) / 2^32 when fmix32(2i+1) / 2^32 < 0.3,
--          else 0 (about 30 % non-zero uniform values, REFERENCE.md's input);
--          fmix32 is MurmurHash3's 32-bit finaliser:
--          h ^= h >> 16; h *= 0x85ebca6b; h ^= h >> 13; h *= 0xc2b2ae35; h ^= h >> 16
--          (products modulo 2^32), stored as float32.
--   targets: 10 neurons, 0-based t_k = floor((2k+1) n / 20) for k = 0..9, each
--          moved to the next neuron (cyclically) while it is sensory; target
--          value 1 at the last layer, for every batch.
local bit = require "bit"

local M = {}

local TWO32 = 4294967296

-- (a * b) mod 2^32 for 0 <= a, b < 2^32, exact in doubles (products < 2^49)
local function mul32(a, b)
  local bl, bh = b % 65536, math.floor(b / 65536)
  return (a * bl + ((a * bh) % 65536) * 65536) % TWO32
end

local function u32(x) return x % TWO32 end -- a bit op's signed result as 0..2^32-1

function M.fmix32(h)
  h = u32(bit.bxor(h, bit.rshift(h, 16)))
  h = mul32(h, 0x85ebca6b)
  h = u32(bit.bxor(h, bit.rshift(h, 13)))
  h = mul32(h, 0xc2b2ae35)
  return u32(bit.bxor(h, bit.rshift(h, 16)))
end

-- the value of element i (0-based, C order of (B, S, L))
function M.input_value(i)
  if M.fmix32(2 * i + 1) / TWO32 < 0.3 then return M.fmix32(2 * i) / TWO32 end
  return 0
end

-- fills a float buffer of B*S*L elements (C order of (B, S, L))
function M.fill_input(buf, count)
  for i = 0, count - 1 do buf[i] = M.input_value(i) end
end

-- the 10 target neurons, 0-based; sensory0 is a set of 0-based sensory indices
function M.targets(n, sensory0)
  local t = {}
  for k = 0, 9 do
    local i = math.floor((2 * k + 1) * n / 20)
    local guard = 0
    while sensory0[i] and guard < n do i = (i + 1) % n; guard = guard + 1 end
    t[#t + 1] = i
  end
  return t
end

return M
