-- ffi.lua: loads libcinterp through the LuaJIT FFI, declares the engine's public
-- header (the CI_FFI part of core/cinterp.h, generated into cinterp.cdef) and turns
-- engine status codes into Lua errors.
local ffi = require "ffi"

local M = {}

ffi.cdef(require "cinterp.cdef")

-- Inside the cinterp host the engine is linked in and exported (-Wl,-E): use ffi.C.
-- Under the stock luajit, find libcinterp.so: $CINTERP_LIB, else on LUA_CPATH, else
-- where `make install` puts it beside this file (PREFIX/share/lua/5.1/cinterp/ffi.lua
-- -> PREFIX/lib/libcinterp.so).
local function find_library()
  local ok = pcall(function() return ffi.C.ci_version end)
  if ok then return ffi.C end
  local path = os.getenv("CINTERP_LIB") or package.searchpath("libcinterp", package.cpath)
  if not path then
    local here = debug.getinfo(1, "S").source:match("^@(.*)/share/lua/5%.1/cinterp/ffi%.lua$")
    local installed = here and here .. "/lib/libcinterp.so"
    local f = installed and io.open(installed, "rb")
    if f then f:close(); path = installed end
  end
  if not path then
    error("cinterp: libcinterp.so not found on LUA_CPATH (" .. package.cpath ..
          "); build it with `make` and add build/?.so to LUA_CPATH, or `make install`", 2)
  end
  return ffi.load(path)
end

M.C = find_library()
M.ffi = ffi

-- Raises the engine's last error as a Lua error prefixed with `where`
-- (the public function's name) when rc is not CI_OK. Returns rc otherwise.
function M.check(rc, where, level)
  if rc ~= 0 then
    local msg = ffi.string(M.C.ci_last_error())
    if where and msg:sub(1, #where + 1) ~= where .. ":" then msg = where .. ": " .. msg end
    error(msg, level or 3)
  end
  return rc
end

return M
