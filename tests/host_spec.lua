-- host_spec.lua: tests of the `cinterp` host executable (bindings/host.c), run as a
-- child process: options, the `arg` table, exit statuses, error reports, stdin
-- scripts, environment variables, the prompt driven through a pipe, completion.
-- The binary: see hostbin.lua.

local H = require "hostbin"
local exists, q, BIN = H.exists, H.q, H.bin

local function write_file(path, text)
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return "" end
  local s = f:read("*a")
  f:close()
  return s
end

local tmpfiles = {}
local function tmp(text)
  local path = os.tmpname()
  tmpfiles[#tmpfiles + 1] = path
  if text then write_file(path, text) end
  return path
end

-- Runs the host with a shell-quoted argument string; returns stdout, stderr, status.
local function run(args, input, env)
  local errf = tmp()
  local inf = input and tmp(input) or "/dev/null"
  local cmd = (env or "") .. " " .. q(BIN) .. " " .. args .. " <" .. q(inf) .. " 2>" .. q(errf)
  local p = io.popen(cmd .. "; echo \"__rc=$?\"")
  local out = p:read("*a")
  p:close()
  local rc = tonumber(out:match("__rc=(%d+)\n?$"))
  out = out:gsub("__rc=%d+\n?$", "")
  return out, read_file(errf), rc
end

describe("cinterp host", function()
  teardown(function()
    for _, f in ipairs(tmpfiles) do os.remove(f) end
  end)

  it("is built", function()
    assert.is_true(exists(BIN), "no host binary at " .. BIN)
  end)

  it("runs -e chunks in order and exits 0", function()
    local out, err, rc = run("-e " .. q("x = 20") .. " -e " .. q("print(x + 22)"))
    assert.equal("42\n", out)
    assert.equal(0, rc)
  end)

  it("preloads the library as the global ci (the same table require returns)", function()
    local out, _, rc = run("-e " .. q("print(type(ci), require('cinterp') == ci, type(ci.version))"))
    assert.equal("table\ttrue\tstring\n", out)
    assert.equal(0, rc)
  end)

  it("gives a script its arguments in arg and in ...", function()
    local script = tmp([[
local n = select("#", ...)
local a, b = ...
print(#arg, arg[0], arg[1], arg[2], n, a, b)
print(arg[-1] ~= nil, arg[-2])
]])
    local out, err, rc = run(q(script) .. " one " .. q("two words"))
    assert.equal(0, rc, err)
    local l1, l2 = out:match("^([^\n]*)\n([^\n]*)\n$")
    assert.equal("2\t" .. script .. "\tone\ttwo words\t2\tone\ttwo words", l1)
    assert.equal("true\tnil", l2)  -- arg[-1] is the interpreter, nothing before it
  end)

  it("puts the interpreter and options at negative arg indices, as luajit does", function()
    local script = tmp("print(arg[-3], arg[-2], arg[-1], arg[0], arg[1])")
    local out, err, rc = run("-e " .. q("y=1") .. " " .. q(script) .. " z")
    assert.equal(0, rc, err)
    assert.equal(BIN .. "\t-e\ty=1\t" .. script .. "\tz\n", out)
  end)

  it("reports a script error with a traceback and exits with status 1", function()
    local script = tmp("local function f()\n  error('boom')\nend\nf()\n")
    local out, err, rc = run(q(script))
    assert.equal(1, rc)
    assert.equal("", out)
    assert.truthy(err:find("cinterp: " .. script .. ":2: boom", 1, true), err)
    assert.truthy(err:find("stack traceback:", 1, true), err)
    assert.truthy(err:find("in function 'f'", 1, true), err)
  end)

  it("exits with status 1 and says so when the script file is missing", function()
    local out, err, rc = run(q("/nonexistent/dir/nothing.lua"))
    assert.equal(1, rc)
    assert.truthy(err:find("cinterp: cannot open /nonexistent/dir/nothing.lua", 1, true), err)
  end)

  it("exits 1 on an -e error and does not run the script after it", function()
    local script = tmp("print('should not run')")
    local out, err, rc = run("-e " .. q("error('bad chunk')") .. " " .. q(script))
    assert.equal(1, rc)
    assert.equal("", out)
    assert.truthy(err:find("cinterp: (command line):1: bad chunk", 1, true), err)
  end)

  it("is silent but fails for error() without a message (busted's way to exit 1)", function()
    local out, err, rc = run("-e " .. q("error()"))
    assert.equal(1, rc)
    assert.equal("", err)
  end)

  it("lets os.exit set the status", function()
    local _, _, rc = run("-e " .. q("io.write('x'); os.exit(3)"))
    assert.equal(3, rc)
  end)

  it("prints a usage text for --help and rejects unknown options", function()
    local out, _, rc = run("--help")
    assert.equal(0, rc)
    for _, want in ipairs({ "usage: cinterp", "-e chunk", "-l name", "-i ", "LUA_PATH",
                            "LUA_INIT", "README.md", "busted --lua=" }) do
      assert.truthy(out:find(want, 1, true), "missing " .. want)
    end
    local out2, err2, rc2 = run("--bogus")
    assert.equal(1, rc2)
    assert.truthy(err2:find("usage: cinterp", 1, true))
  end)

  it("prints 'cinterp <version> (LuaJIT x.y)' for --version", function()
    local ver = run("-e " .. q("io.write(ci.version, '|', jit.version)"))
    local v, lj = ver:match("^(.-)|(.*)$")
    local out, _, rc = run("--version")
    assert.equal(0, rc)
    assert.equal("cinterp " .. v .. " (" .. lj .. ")\n", out)
    assert.truthy(out:match("^cinterp %d+%.%d+[%.%d]* %(LuaJIT 2%.%d"))
  end)

  it("runs stdin as a script without arguments, and with - and arguments", function()
    local out, _, rc = run("", "print('from stdin', select('#', ...))\n")
    assert.equal("from stdin\t0\n", out)
    assert.equal(0, rc)
    out, _, rc = run("- p q", "print(arg[0], ...)\n")
    assert.equal("-\tp\tq\n", out)
    assert.equal(0, rc)
  end)

  it("requires a module with -l and stores it in a global", function()
    local out, _, rc = run("-l string -e " .. q("print(string == require('string'))"))
    assert.equal("true\n", out)
    assert.equal(0, rc)
  end)

  it("honours LUA_INIT (code and @file) before -e, and -E ignores it", function()
    local out = run("-e " .. q("print(init_ran)"), nil, "LUA_INIT='init_ran = 7'")
    assert.equal("7\n", out)
    local f = tmp("init_file = 'yes'")
    out = run("-e " .. q("print(init_file)"), nil, "LUA_INIT=@" .. q(f))
    assert.equal("yes\n", out)
    out = run("-E -e " .. q("print(init_ran)"), nil, "LUA_INIT='init_ran = 7'")
    assert.equal("nil\n", out)
  end)

  it("keeps LUA_PATH (with ;; for the default) behind its own library paths", function()
    local dir = tmp()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
    write_file(dir .. "/hostspecmod.lua", "return { answer = 41 + 1 }")
    local code = "print(require('hostspecmod').answer, package.path:find(" ..
                 "'/lua/?.lua', 1, true) < package.path:find(" .. "'" .. dir .. "', 1, true))"
    local out, err, rc = run("-e " .. q(code), nil, "LUA_PATH=" .. q(dir .. "/?.lua;;"))
    os.remove(dir .. "/hostspecmod.lua")
    os.remove(dir)
    assert.equal(0, rc, err)
    assert.equal("42\ttrue\n", out)
  end)

  it("finds the library from its own location whatever the current folder", function()
    local out, err, rc = run("-e " .. q("print(require('cinterp') == ci)"), nil,
                             "cd / && LUA_PATH= LUA_CPATH=")
    assert.equal(0, rc, err)
    assert.equal("true\n", out)
  end)

  describe("prompt (-i, lines read from a pipe)", function()
    it("prints values of expressions, nothing for nil or statements, tab-separates several", function()
      local out, err, rc = run("-i", "1 + 1\nx = 5\nx\nnil\n'a', nil, 3\n=x * 3\nprint('p')\n")
      assert.equal(0, rc, err)
      assert.equal("2\n5\na\tnil\t3\n15\np\n", out)
    end)

    it("uses __tostring and sets _ to the last value", function()
      local input = "setmetatable({}, {__tostring = function() return 'OBJ' end})\n" ..
                    "type(_)\n"
      local out = run("-i", input)
      assert.equal("OBJ\ntable\n", out)
    end)

    it("suppresses printing with a trailing ';' but still evaluates", function()
      local out = run("-i", "z = 0\nfunction bump() z = z + 1 return z end\nbump();\nz\n")
      assert.equal("1\n", out)
    end)

    it("continues an incomplete chunk on the next lines", function()
      local input = "function f(a)\n  return a * 10,\n    a + 1\nend\nf(4)\nt = {\n1,\n2}\n#t\n(1 +\n 2)\n"
      local out, err = run("-i", input)
      assert.equal("", err)
      assert.equal("40\t5\n2\n3\n", out)
    end)

    it("reports an error with its position and a traceback, then carries on", function()
      local out, err, rc = run("-i", "error('oops')\nprint('still here')\nnosuch.field\n")
      assert.equal(0, rc)
      assert.equal("still here\n", out)
      assert.truthy(err:find("ci:1: oops", 1, true), err)
      assert.truthy(err:find("stack traceback:", 1, true), err)
      assert.truthy(err:find("attempt to index global 'nosuch'", 1, true), err)
    end)

    it("runs the script first, then the prompt sees its globals", function()
      local script = tmp("from_script = 'S'")
      local out = run("-i " .. q(script), "from_script .. '!'\n")
      assert.equal("S!\n", out)
    end)
  end)

  describe("completion", function()
    local function complete(setup, word)
      local code = setup .. "\nlocal r = debug.getregistry()['cinterp.host'].complete(" ..
                   string.format("%q", word) .. "); io.write(table.concat(r, ' '))"
      local out, err, rc = run("-e " .. q(code))
      assert.equal(0, rc, err)
      return out
    end

    it("completes global names and keywords", function()
      assert.equal("hostglobal_a hostglobal_b",
                   complete("hostglobal_a = 1; hostglobal_b = 2", "hostglobal_"))
      assert.equal("while", complete("", "whil"))
    end)

    it("completes fields on a dotted path, following __index tables", function()
      local setup = "obj = {inner = setmetatable({alpha = 1}, {__index = {beta = 2, alps = 3}})}"
      assert.equal("obj.inner.alpha obj.inner.alps", complete(setup, "obj.inner.al"))
      assert.equal("obj.inner.alpha obj.inner.alps obj.inner.beta", complete(setup, "obj.inner."))
    end)

    it("offers only callables after ':' and string methods on strings", function()
      local setup = "o = {run = function() end, runs = 3}; s = 'x'"
      assert.equal("o:run", complete(setup, "o:ru"))
      assert.equal("s:upper", complete(setup, "s:upp"))
    end)

    it("completes library fields (ci.ver -> ci.version) and nothing for unknown paths", function()
      assert.equal("ci.version", complete("", "ci.versio"))
      assert.equal("", complete("", "nosuch.thing"))
    end)
  end)

  it("can serve as busted's interpreter", function()
    local dir = tmp()
    os.remove(dir)
    assert(os.execute("mkdir -p " .. q(dir)))
    write_file(dir .. "/inner_spec.lua", [[
describe("inner", function()
  it("sees ci and arg", function() assert.is_table(ci); assert.is_table(arg) end)
  it("fails on purpose", function() assert.equal(1, 2) end)
end)]])
    local p = io.popen("busted --lua=" .. q(BIN) .. " -o TAP " .. q(dir) .. " 2>&1; echo \"__rc=$?\"")
    local out = p:read("*a")
    p:close()
    os.remove(dir .. "/inner_spec.lua")
    os.remove(dir)
    assert.truthy(out:find("ok 1 - inner sees ci and arg\n", 1, true), out)
    assert.truthy(out:find("not ok 2 - inner fails on purpose", 1, true), out)
    assert.equal("1", out:match("__rc=(%d+)"))
  end)
end)
