-- tool.lua: what the single-process benchmark tools (ab.lua, orders.lua) share:
-- their "--name value" arguments, a clock and a median.
local ffi = require "ffi"
local M = {}

pcall(ffi.cdef, [[
typedef struct { long tv_sec; long tv_nsec; } tool_ts;
int clock_gettime(int clk, tool_ts *tp);
]])

-- o (the defaults) with every "--name value" pair of a set; an error names who
function M.args(o, a, who)
  local k = 1
  while k <= #a do
    local name = a[k]:match("^%-%-([%w%-]+)$")
    if not name or a[k + 1] == nil then error(who .. ": bad argument " .. tostring(a[k]), 0) end
    o[name] = a[k + 1]
    k = k + 2
  end
  return o
end

-- a function returning seconds: clock "cpu" is the process's CPU time
-- (CLOCK_PROCESS_CPUTIME_ID), anything else CLOCK_MONOTONIC
function M.clock(which)
  local ts, id = ffi.new("tool_ts"), which == "cpu" and 2 or 1
  return function()
    ffi.C.clock_gettime(id, ts)
    return tonumber(ts.tv_sec) + tonumber(ts.tv_nsec) * 1e-9
  end
end

function M.median(xs)
  local t = { unpack(xs) }
  table.sort(t)
  local m = #t
  if m == 0 then return 0 / 0 end
  return m % 2 == 1 and t[(m + 1) / 2] or 0.5 * (t[m / 2] + t[m / 2 + 1])
end

return M
