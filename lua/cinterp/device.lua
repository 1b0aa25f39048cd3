-- device.lua: where the engine runs: ci.cuda_available(), ci.device_info(),
-- and the checks behind every `device = "cpu" | "cuda"` option (networks and
-- recipes). Asking for "cuda" without the CUDA build (make CUDA=1) or without
-- a usable GPU is an error naming the function and the reason, never a silent
-- fallback to the CPU.
local ffi = require "ffi"
local O = require "cinterp.options"

O.declare{ name = "ci.cuda_available", topic = "Devices",
  doc = [[Whether the engine can run on a GPU: true, or false and the reason (cinterp was built
without CUDA, make CUDA=1; or no usable GPU). device = "cuda" options need it; they never fall
back to the CPU in silence.]],
  returns = { { "ok", "boolean", "" }, { "reason", "string", "why not, when ok is false" } },
  example = [[local ok, why = ci.cuda_available()
print(type(ok))  --> boolean]] }
O.declare{ name = "ci.device_info", topic = "Devices",
  doc = "A line about the GPU (name, memory), or nil and the reason.",
  returns = { { "info", "string|nil", "" }, { "reason", "string", "why not, when info is nil" } },
  example = [[local info, why = ci.device_info()
print(info ~= nil or why ~= nil)  --> true]] }

return function(ci)
  if ci._check_device then return end -- installed already (network.lua loads it early)
  local C = ci._engine.C

  -- The engine's message without its "ci_xxx: " prefix.
  local function reason()
    return (ffi.string(C.ci_last_error()):gsub("^ci_[%w_]+: ", ""))
  end

  --- ci.cuda_available() -> true, or false and the reason
  --- ("cinterp was built without CUDA (make CUDA=1)" / "no usable GPU: ...").
  function ci.cuda_available()
    if C.ci_cuda_available() ~= 0 then return true end
    return false, reason()
  end

  --- ci.device_info() -> a line about the GPU, or nil and the reason.
  function ci.device_info()
    local buf = ffi.new("char[?]", 512)
    local rc = C.ci_device_info(buf, 512)
    if rc ~= 0 then return nil, ffi.string(buf) end
    return ffi.string(buf)
  end

  -- Validates a device option; returns "cpu" or "cuda". `level` is the
  -- error level of the public caller (its caller).
  function ci._check_device(where, device, level)
    level = (level or 2) + 1
    if device == nil or device == "cpu" then return "cpu" end
    if device ~= "cuda" then
      error(where .. ": unknown device " .. tostring(device) .. " (use \"cpu\" or \"cuda\")", level)
    end
    local ok, why = ci.cuda_available()
    if not ok then
      error(where .. ": device = \"cuda\" is unavailable: " .. why, level)
    end
    return "cuda"
  end

  -- The `device` option of a recipe: must name the device the network lives on.
  function ci._recipe_device(where, net, device, level)
    level = (level or 2) + 1
    if device == nil then return net.device end
    local d = ci._check_device(where, device, level)
    if d ~= net.device then
      error(string.format("%s: device = %q but the network lives on the %s; build it with " ..
                          "device = %q (or call net:to(%q))", where, d, net.device, d, d), level)
    end
    return d
  end
end
