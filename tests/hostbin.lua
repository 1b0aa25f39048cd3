-- hostbin.lua: the cinterp host binary for the specs that run it as a child process
-- (host_spec, scripts_spec, cli_spec), as an absolute path (a test may change folder):
-- $CINTERP_BIN, else <dir>/cinterp for a LUA_CPATH entry <dir>/?.so that holds one
-- (tests/run.sh sets LUA_CPATH="$BUILD/?.so;;"), else build/cinterp.
--   local H = require "hostbin"   -- H.bin, H.root (the current folder), H.exists, H.q, H.sh
local H = {}

function H.exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- a shell-quoted string
function H.q(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

local p = io.popen("pwd")
H.root = p:read("*l")
p:close()

local function find_bin()
  local env = os.getenv("CINTERP_BIN")
  if env and env ~= "" then return env end
  for entry in ((os.getenv("LUA_CPATH") or "") .. ";" .. package.cpath):gmatch("[^;]+") do
    local dir = entry:match("^(.*)/%?%.so$")
    if dir and H.exists(dir .. "/cinterp") then return dir .. "/cinterp" end
  end
  return "build/cinterp"
end

-- runs a shell command; returns its output (stdout and stderr together) and exit status
function H.sh(cmd)
  local p = io.popen("(" .. cmd .. ") 2>&1; echo \"__rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)%s*$"))
  return (out:gsub("__rc=%d+%s*$", "")), rc
end

H.bin = find_bin()
if H.bin:sub(1, 1) ~= "/" then H.bin = H.root .. "/" .. H.bin end

return H
