-- progress.lua: a one-line progress bar on stderr (xlua.progress style: the line is
-- redrawn with \r, with the count, elapsed time, ETA and a short status text).
-- Silent when quiet or when stderr is not a terminal. A plain module (not
-- installed into ci): local P = require "cinterp.progress"; local bar = P.new(total,
-- {quiet = q}); bar:update(done, "loss 0.12"); bar:finish().
local ffi = require "ffi"

local M = {}

pcall(ffi.cdef, "int isatty(int fd);")
pcall(ffi.cdef, "int clock_gettime(int clk, void *tp);")

local tty_cache
--- Whether stderr is a terminal (checked once).
function M.stderr_is_tty()
  if tty_cache == nil then
    local ok, r = pcall(function() return ffi.C.isatty(2) end)
    if ok then
      tty_cache = r == 1
    else
      local r = os.execute("test -t 2")
      tty_cache = r == 0 or r == true
    end
  end
  return tty_cache
end

local ts = ffi.new("struct { long s; long ns; }")
local function now()
  local ok = pcall(function() ffi.C.clock_gettime(1, ts) end)
  if not ok then return os.time() end
  return tonumber(ts.s) + tonumber(ts.ns) * 1e-9
end
M.now = now

local function hms(t)
  if t ~= t or t == math.huge then return "--:--" end
  t = math.floor(t + 0.5)
  local h, m, s = math.floor(t / 3600), math.floor(t / 60) % 60, t % 60
  if h > 0 then return string.format("%d:%02d:%02d", h, m, s) end
  return string.format("%02d:%02d", m, s)
end

local Bar = {}
Bar.__index = Bar

--- P.new(total, {quiet=, stream=, width=, force=}): force draws even off a terminal.
function M.new(total, opts)
  opts = opts or {}
  local active = not opts.quiet and (opts.force or M.stderr_is_tty())
  return setmetatable({ total = total, start = now(), last = -1, active = active,
                        stream = opts.stream or io.stderr, width = opts.width or 30,
                        drawn = false }, Bar)
end

function Bar:update(done, status)
  if not self.active then return end
  local t = now()
  if done < self.total and t - self.last < 0.1 then return end -- at most 10 redraws/s
  self.last = t
  local frac = self.total > 0 and math.min(done / self.total, 1) or 1
  local fill = math.floor(frac * self.width + 0.5)
  local el = t - self.start
  local eta = done > 0 and el / done * (self.total - done) or math.huge
  local line = string.format("\r [%s%s] %d/%d | %s < %s%s", string.rep("=", fill),
                             string.rep(".", self.width - fill), done, self.total, hms(el),
                             hms(eta), status and (" | " .. status) or "")
  self.stream:write(line, "\027[K")
  self.stream:flush()
  self.drawn = true
end

--- Erases the bar (before printing other lines).
function Bar:clear()
  if self.active and self.drawn then
    self.stream:write("\r\027[K")
    self.stream:flush()
    self.last = -1
  end
end

function Bar:finish(done, status)
  if not self.active then return end
  self.last = -1
  self:update(done or self.total, status)
  self.stream:write("\n")
  self.stream:flush()
  self.active = false
end

return M
