-- readme_spec.lua: runs every ```lua block of README.md, so the manual stays
-- true. Blocks marked "-- needs ../shared/data" are pending without the data.
-- A comment `--> text` states a line the block prints: the printed lines must
-- hold each such line, in the order of the comments (runs of spaces and tabs
-- compare equal, so `print(a, b)` matches `--> a b`).
local ci = require "cinterp"

local function blocks()
  local f = assert(io.open("README.md", "r"))
  local text = f:read("*a")
  f:close()
  local list = {}
  for code in text:gmatch("```lua\n(.-)```") do list[#list + 1] = code end
  return list
end

local function data_present()
  local f = io.open("../shared/data/larva_winding2023/SOURCE.md", "r")
  if f then f:close() return true end
  return false
end

local function squash(line) return (line:gsub("%s+", " "):gsub("^ ", ""):gsub(" $", "")) end

-- the `--> text` comments of a block, in order
local function expectations(code)
  local list = {}
  for line in (code .. "\n"):gmatch("([^\n]*)\n") do
    local want = line:match("%-%->%s*(.-)%s*$")
    if want then list[#list + 1] = squash(want) end
  end
  return list
end

-- checks that the printed lines hold each expectation, in order
local function check_printed(printed, wanted, k)
  local pos = 1
  for _, want in ipairs(wanted) do
    local found
    for i = pos, #printed do
      if squash(printed[i]) == want then found = i; break end
    end
    assert(found, ("README block %d: expected a printed line '%s'; printed:\n%s"):format(k, want,
           table.concat(printed, "\n")))
    pos = found + 1
  end
end

describe("README recipes", function()
  for k, code in ipairs(blocks()) do
    local title = code:match("^%-%- ([^\n]*)") or code:match("^([^\n]*)")
    it(("block %d (%s) runs"):format(k, title), function()
      if code:find("needs ../shared/data", 1, true) and not data_present() then
        pending("../shared/data is absent")
        return
      end
      local printed = {}
      local function capture(...)
        local parts = {}
        for i = 1, select("#", ...) do parts[i] = tostring((select(i, ...))) end
        for line in (table.concat(parts, "\t") .. "\n"):gmatch("([^\n]*)\n") do printed[#printed + 1] = line end
      end
      local env = setmetatable({ ci = ci, print = capture }, { __index = _G })
      local chunk = assert(loadstring(code, "README block " .. k))
      setfenv(chunk, env)
      chunk()
      check_printed(printed, expectations(code), k)
    end)
  end
end)
