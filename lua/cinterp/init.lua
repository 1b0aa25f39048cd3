-- cinterp: the Lua library of the cinterp workbench. `local ci = require "cinterp"`.
-- Each concept lives in its own module under cinterp/; a module returns a function
-- install(ci) that adds its public names to the ci table. Modules are installed in
-- the order below (later ones may use earlier ones); a missing one is an error.
-- Plain helper modules (cinterp.util, cinterp.progress) are required where used.
local ci = {}
local engine = require "cinterp.ffi"

ci._engine = engine
ci.version = require("ffi").string(engine.C.ci_version())

local modules = {
  "cli", "tensor", "tape", "sparse", "frame", "csv", "generator", "device", "network", "targets",
  "actmax", "train", "saliency", "data", "paths", "connectome", "plot",
}

for _, name in ipairs(modules) do
  require("cinterp." .. name)(ci)
end

return ci
