-- cinterp: the Lua library of the cinterp workbench. `local ci = require "cinterp"`.
-- Each concept lives in its own module under cinterp/; a module returns a function
-- install(ci) that adds its public names to the ci table. Modules are installed in
-- the order below (later ones may use earlier ones); a missing one is an error.
-- Plain helper modules (cinterp.util, cinterp.progress) are required where used.
local ci = {}
local engine = require "cinterp.ffi"

ci._engine = engine
ci.version = require("ffi").string(engine.C.ci_version())

-- Objects whose methods no __index table shows (cdata tensors and sparse matrices,
-- frames) register them here, for the REPL's completion: ci._methods_of(x) returns the
-- methods table of x and its kind ("tensor", ...), or nil.
local method_kinds = {}
function ci._register_methods(kind, is_kind, methods)
  method_kinds[#method_kinds + 1] = { kind = kind, is_kind = is_kind, methods = methods }
end
function ci._methods_of(x)
  for _, k in ipairs(method_kinds) do
    if k.is_kind(x) then return k.methods, k.kind end
  end
  return nil
end

local modules = {
  "cli", "tensor", "tape", "sparse", "frame", "csv", "generator", "device", "network", "targets",
  "actmax", "train", "saliency", "data", "paths", "connectome", "plot",
  "grid",
  "help",   -- last: ci.help and the declarations' name resolution (cinterp.options)
}
modules[#modules + 1] = "screen" -- ci.screen, ci.screen_merge (screen*.lua)

for _, name in ipairs(modules) do
  require("cinterp." .. name)(ci)
end

return ci
