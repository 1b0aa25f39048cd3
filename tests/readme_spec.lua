-- readme_spec.lua: runs every ```lua block of README.md, so the manual stays
-- true. Blocks marked "-- needs ../shared/data" are pending without the data.
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

describe("README recipes", function()
  for k, code in ipairs(blocks()) do
    local title = code:match("^%-%- ([^\n]*)") or code:match("^([^\n]*)")
    it(("block %d (%s) runs"):format(k, title), function()
      if code:find("needs ../shared/data", 1, true) and not data_present() then
        pending("../shared/data is absent")
        return
      end
      local env = setmetatable({ ci = ci, print = function() end }, { __index = _G })
      local chunk = assert(loadstring(code, "README block " .. k))
      setfenv(chunk, env)
      chunk()
    end)
  end
end)
