-- install_spec.lua: `make install` / `make uninstall` (scripts/install.sh). The
-- working tree and the build folder this spec runs under are copied to a
-- temporary folder; the copy is installed with DESTDIR into a staged prefix,
-- the copy is deleted and the staged prefix moved elsewhere, and the moved
-- installation must then work on its own, from a folder outside any source
-- tree with LUA_PATH / LUA_CPATH unset: `require "cinterp"` in the installed
-- host and in the stock luajit, a screen run by the installed `cinterp screen`,
-- a job-array script that calls the installed `cinterp` by absolute path, and
-- a C program built against the installed header and library. Nothing
-- installed may name the source tree. `make uninstall` then leaves the prefix
-- empty. A copy of the source tree keeps working from its own build folder.
local H = require "hostbin"
local q, exists, ROOT, BIN = H.q, H.exists, H.root, H.bin
local SANITIZED = os.getenv("CINTERP_SANITIZED") == "1"

local SH = require "screenhelp"
local sh, write, read = H.sh, SH.write, SH.read

local function ok(cmd)
  local out, rc = sh(cmd)
  assert(rc == 0, "`" .. cmd .. "` failed (" .. tostring(rc) .. "):\n" .. out)
  return out
end

-- the commands run with the library's paths unset, from folder `dir`
local function clean(dir, cmd) return "cd " .. q(dir) .. " && env -u LUA_PATH -u LUA_CPATH -u LUA_INIT " .. cmd end

describe("make install", function()
  local tmp, build_dir, src, moved
  setup(function()
    tmp = ok("mktemp -d"):match("[^\n]+")
    build_dir = BIN:match("^(.*)/[^/]+$")
    if build_dir:sub(1, 1) ~= "/" then build_dir = ROOT .. "/" .. build_dir end
    src = tmp .. "/src"
    moved = tmp .. "/moved/cinterp"
  end)
  teardown(function()
    if tmp and tmp:match("^/tmp/") then os.execute("rm -rf " .. q(tmp)) end
  end)

  it("installs a copy of the tree that works moved, with the tree gone, and uninstalls to nothing", function()
    local build = build_dir:match("([^/]+)$")
    -- the working tree (its files that git tracks or would, else all but the build
    -- folders) and what `make` built, copied
    local list = tmp .. "/files.txt"
    local files = sh("cd " .. q(ROOT) .. " && git ls-files -co --exclude-standard")
    local f = assert(io.open(list, "w"))
    if files:find("^fatal") or files == "" then
      f:write(ok("cd " .. q(ROOT) .. " && find . -path './build*' -prune -o -path './.git' -prune -o -type f -print"))
    else
      for path in files:gmatch("[^\n]+") do
        if exists(ROOT .. "/" .. path) then f:write(path, "\n") end
      end
    end
    f:close()
    ok("mkdir -p " .. q(src .. "/" .. build .. "/lua/cinterp") .. " && cd " .. q(ROOT) .. " && tar -cf - -T " .. q(list) ..
       " | tar -xf - -C " .. q(src))
    ok("cd " .. q(build_dir) .. " && cp -a cinterp libcinterp.so " .. q(src .. "/" .. build) ..
       " && cp -a lua/cinterp/cdef.lua " .. q(src .. "/" .. build .. "/lua/cinterp/"))
    -- the copy keeps working from its own build folder, on its own Lua files
    local where = ok(clean(tmp, q(src .. "/" .. build .. "/cinterp") ..
                           [[ -e 'print(package.searchpath("cinterp", package.path))']]))
    assert.are.equal(src .. "/lua/cinterp/init.lua", where:match("[^\n]+"))
    -- make install with DESTDIR into a staged prefix, from the copy (-o all: no rebuild)
    local stage, prefix = tmp .. "/stage", "/opt/cinterp-test"
    local out = ok("cd " .. q(src) .. " && make --no-print-directory -o all install BUILD=" .. q(build) ..
                   " PREFIX=" .. prefix .. " DESTDIR=" .. q(stage))
    assert.truthy(out:find("installed cinterp", 1, true), out)
    local dest = stage .. prefix
    for _, f in ipairs { "bin/cinterp", "lib/libcinterp.so", "include/cinterp.h", "share/doc/cinterp/README.md",
                         "share/lua/5.1/cinterp/init.lua", "share/lua/5.1/cinterp/cdef.lua",
                         "share/lua/5.1/cinterp/ffi.lua", "share/lua/5.1/cinterp/screen_cli.lua" } do
      assert.is_true(exists(dest .. "/" .. f), "not installed: " .. f)
    end
    -- nothing installed names the source trees it came from (the compiled-in strings
    -- and the text files; the debug information keeps its compile folders), and the
    -- binaries look for libraries relative to themselves only
    for _, tree in ipairs { ROOT, src } do
      assert.are.equal("", sh("grep -rlF " .. q(tree) .. " " .. q(dest .. "/share") .. " " .. q(dest .. "/include")))
      for _, bin in ipairs { "bin/cinterp", "lib/libcinterp.so" } do
        assert.is_nil(ok("readelf -p .rodata " .. q(dest .. "/" .. bin)):find(tree, 1, true), bin .. " names " .. tree)
      end
    end
    assert.truthy(ok("readelf -d " .. q(dest .. "/bin/cinterp")):find("runpath: [$ORIGIN:$ORIGIN/../lib]", 1, true))
    -- the tree is deleted, the installation moved: it must work on its own
    ok("rm -rf " .. q(src) .. " && mkdir -p " .. q(tmp .. "/moved") .. " && mv " .. q(dest) .. " " .. q(moved))
    local cinterp = moved .. "/bin/cinterp"
    local run = tmp .. "/run"
    ok("mkdir -p " .. q(run))
    out = ok(clean(run, q(cinterp) .. [[ -e 'print(package.searchpath("cinterp", package.path)); print(ci.version)']]))
    assert.are.equal(moved .. "/share/lua/5.1/cinterp/init.lua", out:match("[^\n]+"))
    -- a small screen by the installed `cinterp screen`
    write(run .. "/spec.lua", [[
local W, sensory = ci.random_connectome(300, 6000, {seed = 4})
local types = {}
for i = 1, 300 do types[i] = "t" .. i % 5 end
return {kind = "silence", connectome = {weights = W, neurons = ci.frame{type = types}},
        sensory = sensory, tasks = "type", input = 0.5, model = {num_layers = 3, tau = 1}, batch = 2}
]])
    out = ok(clean(run, q(cinterp) .. " screen spec.lua --out out --quiet"))
    local results = read(run .. "/out/results.csv")
    assert.is_truthy(results, out)
    local rows = 0
    for _ in results:gmatch("\n") do rows = rows + 1 end
    assert.are.equal(1 + 5 * 5, rows)   -- the header, 5 silenced types x 5 read-out types
    -- the job-array script calls the installed cinterp by its absolute path
    out = ok(clean(run, q(cinterp) .. " screen sbatch spec.lua --array 2 --out out2"))
    assert.truthy(out:find("\nexec '" .. cinterp .. "' screen '" .. run .. "/spec.lua'", 1, true), out)
    -- the stock luajit: with LUA_PATH and LUA_CPATH at the prefix, and with LUA_PATH
    -- alone (the library found next to the Lua files, as in /usr/local)
    -- (not in the sanitizer build: its library needs the ASan runtime loaded first)
    if sh("command -v luajit") ~= "" and not SANITIZED then
      local lua_path = moved .. "/share/lua/5.1/?.lua;" .. moved .. "/share/lua/5.1/?/init.lua;;"
      out = ok(clean(run, "LUA_PATH=" .. q(lua_path) .. " LUA_CPATH=" .. q(moved .. "/lib/?.so;;") ..
                          [[ luajit -e 'local ci = require "cinterp"; print(ci.version, ci.tensor{1, 2, 4}:numel())']]))
      assert.truthy(out:match("^%S+\t3\n$"), out)
      out = ok(clean(run, "LUA_PATH=" .. q(lua_path) ..
                          [[ luajit -e 'local ci = require "cinterp"; print(ci.zeros(2, 3):numel())']]))
      assert.are.equal("6\n", out)
      -- `cinterp screen sbatch` run by the stock luajit still has its jobs run the installed host
      out = ok(clean(run, "LUA_PATH=" .. q(lua_path) .. [[ luajit -e 'ci = require "cinterp"' ]] ..
                          [[-e 'require("cinterp.screen_cli")("sbatch", "spec.lua", "--array", "2", "--out", "out3")']]))
      assert.truthy(out:find("\nexec '" .. cinterp .. "' screen '" .. run .. "/spec.lua'", 1, true), out)
    end
    -- a C program against the installed header and library
    write(run .. "/hello.c", '#include <stdio.h>\n#include "cinterp.h"\n' ..
                             'int main(void) { printf("%s\\n", ci_version()); return 0; }\n')
    ok(clean(run, "cc " .. (SANITIZED and "-fsanitize=address,undefined " or "") .. "-o hello hello.c -I" ..
                  q(moved .. "/include") .. " -L" .. q(moved .. "/lib") ..
                  " -lcinterp -Wl,-rpath," .. q(moved .. "/lib")))
    assert.are.equal(ok(clean(run, q(cinterp) .. " -e 'io.write(ci.version)'")) .. "\n", ok(clean(run, "./hello")))
    -- make uninstall (from the working tree) removes exactly what install put there
    out = ok("cd " .. q(ROOT) .. " && make --no-print-directory uninstall PREFIX=" .. q(moved))
    assert.truthy(out:find("removed cinterp", 1, true), out)
    assert.are.equal("", ok("find " .. q(moved) .. " -mindepth 1"))
    -- and says so when there is nothing to remove
    local _, rc = sh("cd " .. q(ROOT) .. " && make --no-print-directory uninstall PREFIX=" .. q(moved))
    assert.are_not.equal(0, rc)
  end)

  it("leaves what it did not install, and reinstalling replaces the last install", function()
    local prefix = tmp .. "/shared_prefix"
    ok("mkdir -p " .. q(prefix .. "/bin") .. " && echo mine > " .. q(prefix .. "/bin/other-tool"))
    local make = "cd " .. q(ROOT) .. " && make --no-print-directory -o all BUILD=" ..
                 q(build_dir:match("([^/]+)$")) .. " PREFIX=" .. q(prefix) .. " "
    ok(make .. "install")
    -- a module of an older install that is gone from the tree does not linger
    local stale = prefix .. "/share/lua/5.1/cinterp/gone.lua"
    write(stale, "return {}\n")
    ok("echo 'f share/lua/5.1/cinterp/gone.lua' >> " .. q(prefix .. "/share/cinterp/installed.txt"))
    ok(make .. "install")
    assert.is_false(exists(stale))
    ok(make .. "uninstall")
    assert.are.equal("bin\nbin/other-tool\n", ok("cd " .. q(prefix) .. " && find . -mindepth 1 | sed 's|^./||' | sort"))
  end)
end)
