-- readme_spec.lua: runs every ```lua block of README.md, so the manual stays
-- true. Blocks marked "-- needs ../shared/data" are pending (shown as such, never
-- passed in silence) without the data. A comment `--> text` states a line the
-- block prints: the printed lines must hold each such line, in the order of the
-- comments (runs of spaces and tabs compare equal, so `print(a, b)` matches
-- `--> a b`). A value stated in a plain comment after a print (`print(x)  -- 0.77`)
-- is an error: it would go unchecked. Every fence that opens a Lua block is run:
-- one written otherwise (```Lua, ``` lua) is an error rather than a block skipped.
local ci = require "cinterp"

local function readme()
  local f = assert(io.open("README.md", "r"))
  local text = f:read("*a")
  f:close()
  return text
end

-- The ```lua blocks, and the fences that open a block whose info string names Lua
-- in any other spelling (they would not run).
local function blocks()
  local list, odd = {}, {}
  local state, current, n = "outside", nil, 0
  for line in (readme() .. "\n"):gmatch("([^\n]*)\n") do
    n = n + 1
    local fence = line:match("^%s*```") ~= nil
    if state == "outside" and fence then
      local info = line:match("^%s*```+%s*(.-)%s*$")
      if line == "```lua" then
        state, current = "lua", {}
      else
        if info:lower():find("^lua") then odd[#odd + 1] = "line " .. n .. ": " .. line end
        state = "other"
      end
    elseif state == "lua" and fence then
      list[#list + 1] = table.concat(current, "\n") .. "\n"
      state = "outside"
    elseif state == "lua" then
      current[#current + 1] = line
    elseif state == "other" and fence then
      state = "outside"
    end
  end
  assert(state == "outside", "README.md: a code block is not closed")
  return list, odd
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

-- the print lines of a block whose plain comment states a value (a number, a quote
-- or "...": what a reader takes for the output) instead of a checked `-->`
local function unchecked_values(code)
  local list = {}
  for line in (code .. "\n"):gmatch("([^\n]*)\n") do
    local comment = line:find("print(", 1, true) and line:match("%)%s*%-%-%s+([^>].*)$")
    if comment and (comment:match("^[%-%d%.]") or comment:match("^[\"'{]")) then list[#list + 1] = line end
  end
  return list
end

describe("README", function()
  local list, odd = blocks()
  it("has its Lua blocks all fenced as ```lua (none left out of the run)", function()
    assert.are.same({}, odd)
    assert.is_true(#list >= 10, #list .. " blocks found")
  end)
  for k, code in ipairs(list) do
    it(("block %d states printed values only in checked --> comments"):format(k), function()
      assert.are.same({}, unchecked_values(code))
    end)
  end
end)

describe("README recipes", function()
  for k, code in ipairs((blocks())) do
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
