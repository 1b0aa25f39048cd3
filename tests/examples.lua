-- examples.lua: runs the example of a declaration (help_spec.lua, options_spec.lua):
-- each `print(args)  --> expected` line must print that text (runs of whitespace
-- count as one space); other prints are swallowed, and so is what help writes.
local ci = require "cinterp"

local M = {}

local function squash(s) return (s:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")) end

-- Runs fn with io.stdout replaced; returns what was written to it.
function M.capture_stdout(fn)
  local real = io.stdout
  local buf = {}
  io.stdout = { write = function(_, ...) for _, s in ipairs { ... } do buf[#buf + 1] = tostring(s) end end,
                flush = function() end }
  local ok, err = pcall(fn)
  io.stdout = real
  if not ok then error(err, 0) end
  return table.concat(buf)
end

-- The example's source with each `print(args)  --> expected` line turned into a
-- check of the printed text; and the number of such lines.
function M.checked_source(src)
  local n = 0
  local lines = {}
  for line in (src .. "\n"):gmatch("(.-)\n") do
    local indent, args, expected = line:match("^(%s*)print%((.*)%)%s*%-%->%s*(.-)%s*$")
    if indent then
      n = n + 1
      line = string.format("%s__expect(%q, %s)", indent, expected, args)
    end
    lines[#lines + 1] = line
  end
  return table.concat(lines, "\n"), n
end

-- Runs d.example (d.name names it in messages); returns the number of checked lines.
function M.run(d)
  local src, nchecks = M.checked_source(d.example)
  local function text_of(...)
    local parts = {}
    for k = 1, select("#", ...) do parts[k] = tostring((select(k, ...))) end
    return table.concat(parts, " ")
  end
  local env = setmetatable({
    ci = ci, help = ci.help,
    print = function() end,
    __expect = function(expected, ...)
      local got = text_of(...)
      if squash(got) ~= squash(expected) then
        error(string.format("%s: the example prints %q where it says %q", d.name, got, expected), 2)
      end
    end,
  }, { __index = _G })
  local chunk, err = loadstring(src, "example of " .. d.name)
  assert(chunk, err)
  setfenv(chunk, env)
  M.capture_stdout(chunk)
  return nchecks
end

return M
