-- screen_readme_spec.lua: the README's Screens example prints what its `-->`
-- comments say. The expected values follow from the example itself: 600
-- neurons typed i % 12 give 50 neurons per type, and "^type0" keeps type00 ..
-- type09 (tests/readme_spec.lua only checks that each block runs).
local ci = require "cinterp"

local function screens_blocks()
  local f = assert(io.open("README.md", "r"))
  local text = f:read("*a")
  f:close()
  local section = text:match("\n## Screens\n(.-)\n## ")
  assert(section, "README.md has no Screens section")
  local list = {}
  for code in section:gmatch("```lua\n(.-)```") do
    if code:find("ci.screen{", 1, true) then list[#list + 1] = code end
  end
  return list
end

describe("README Screens example", function()
  it("prints the values its comments give", function()
    local blocks = screens_blocks()
    assert.is_true(#blocks >= 1)
    for _, code in ipairs(blocks) do
      local printed = {}
      local env = setmetatable({ ci = ci, print = function(...)
        local parts = {}
        for k = 1, select("#", ...) do parts[k] = tostring((select(k, ...))) end
        printed[#printed + 1] = table.concat(parts, " ")
      end }, { __index = _G })
      local chunk = assert(loadstring(code, "README Screens"))
      setfenv(chunk, env)
      chunk()
      local expected = {}
      for want in code:gmatch("%-%->%s*([^\n]-)%s*\n") do expected[#expected + 1] = want end
      assert.is_true(#expected >= 1)
      assert.are.same(expected, printed)
    end
  end)
end)
