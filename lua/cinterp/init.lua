-- cinterp: the Lua library of the cinterp workbench. `local ci = require "cinterp"`.
-- Each concept lives in its own module under cinterp/; a module returns a function
-- install(ci) that adds its public names to the ci table. Modules are installed in
-- the order below (later ones may use earlier ones).
local ci = {}
local engine = require "cinterp.ffi"

ci._engine = engine
ci.version = require("ffi").string(engine.C.ci_version())

local modules = {
  "util", "cli", "tensor", "tape", "sparse", "frame", "csv", "generator", "network", "targets",
  "actmax", "train", "saliency", "data", "paths", "connectome", "plot",
}
modules[#modules + 1] = "screen" -- ci.screen, ci.screen_merge (screen*.lua)

for _, name in ipairs(modules) do
  local modname = "cinterp." .. name
  if package.searchpath(modname, package.path) then
    require(modname)(ci)
  end
end

return ci
