-- host_spec.lua: tests of the `cinterp` host executable (bindings/host.c), run as a
-- child process: options, the `arg` table, exit statuses, error reports, stdin
-- scripts, environment variables, the prompt driven through a pipe (printing, errors,
-- ?name help) and through a pty (Ctrl-C, Tab completion), completion.
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

    it("reports an error as its message and the user's frames, then carries on", function()
      local input = "error('oops')\nprint('still here')\nnosuch.field\n" ..
                    "function f()\n  local t = ci.zeros('x')\n  return t\nend\nf()\n:trace\n"
      local out, err, rc = run("-i", input)
      assert.equal(0, rc)
      assert.truthy(out:find("^still here\n"), out)
      assert.equal(table.concat({
        "ci:1: oops",
        "ci:1: attempt to index global 'nosuch' (a nil value)",
        "ci:2: ci.zeros: size 1 = x must be a non-negative integer",
        "  ci:2: in function 'f'",
        "  ci:1: in main chunk", "" }, "\n"), err)
      -- :trace prints the full traceback of the last error, library frames included
      assert.truthy(out:find("stack traceback:", 1, true), out)
      assert.truthy(out:find("cinterp/tensor.lua:%d+: in function"), out)
    end)

    it("reports a syntax error on one line at once and runs the next line", function()
      local out, err = run("-i", "o = {1, 2}\no[2] = 3; o[2]\nprint('next')\nx y\no[2]\n")
      assert.equal("next\n2\n", out)
      assert.truthy(err:find("ci:1: '=' expected near '<eof>'", 1, true), err)
      assert.truthy(err:find("ci:1: '=' expected near 'y'", 1, true), err)
    end)

    it("prints tables nested with sorted keys, and every returned value", function()
      local out, err = run("-i", "t = ci.zeros(2, 3)\nt:size()\n{b = {1, 2}, a = 'x'}\n1, {2}, 'three'\n")
      assert.equal("", err)
      assert.equal('{2, 3}\n{\n  a : "x"\n  b : {1, 2}\n}\n1\t{2}\tthree\n', out)
    end)

    it("turns ?name into help(name), finding ci.help when it is called", function()
      local stub = "ci.help = function(x) print('HELP:' .. tostring(x)) end"
      local out, err = run("-i -e " .. q(stub),
                           "?ci.saliency\n?activation_maximisation\nhelp(42)\n")
      assert.equal("", err)
      local fn = run("-e " .. q("io.write(tostring(ci.saliency))")):match("^function: ")
      assert.truthy(fn)
      assert.truthy(out:find("^HELP:function: 0x%x+\n"), out)
      assert.truthy(out:find("\nHELP:activation_maximisation\nHELP:42\n$"), out)
    end)

    it("has a global help that says where the manual is when ci.help is missing", function()
      local out, _, rc = run("-e " .. q("ci.help = nil; help(ci.zeros)"))
      assert.equal(0, rc)
      assert.truthy(out:find("no ci.help", 1, true), out)
      assert.truthy(out:find("README.md", 1, true), out)
    end)

    it("prints what the README's REPL transcript shows", function()
      local f = assert(io.open(H.root .. "/README.md", "rb"))
      local readme = f:read("*a")
      f:close()
      local block = readme:match("\n    %$ build/cinterp\n(.-)\n\n")
      assert.truthy(block, "no transcript in the README")
      local input, expected = {}, {}
      for l in (block .. "\n"):gmatch("    ([^\n]*)\n") do
        local entry = l:match("^ci> (.*)$")
        if entry then input[#input + 1] = entry else expected[#expected + 1] = l end
      end
      local inf = tmp(table.concat(input, "\n") .. "\n")
      local p = io.popen(q(BIN) .. " -i <" .. q(inf) .. " 2>&1")
      local out = p:read("*a")
      p:close()
      assert.equal(table.concat(expected, "\n") .. "\n", out)
    end)

    it("runs the script first, then the prompt sees its globals", function()
      local script = tmp("from_script = 'S'")
      local out = run("-i " .. q(script), "from_script .. '!'\n")
      assert.equal("S!\n", out)
    end)
  end)

  describe("completion", function()
    local function complete(setup, word)
      local code = setup .. "\nlocal r = require('cinterp.repl').complete(" ..
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

    it("completes tensor methods in a fresh session (t:siz -> t:size)", function()
      assert.equal("t:size", complete("t = ci.zeros(2)", "t:siz"))
      assert.equal("t:reshape", complete("t = ci.zeros(2)", "t:resh"))
    end)
  end)

  describe("prompt on a terminal (a pty)", function()
    local pty = require "pty"
    local p

    local function start()
      local ok, child = pcall(pty.spawn, { BIN }, { TERM = "dumb", CINTERP_HISTORY = "" })
      if not ok then return nil, child end
      p = child
      assert.truthy(p:expect("ci> ", 30), p:output())
      return p
    end

    -- Sends a line and waits for the next prompt after it; returns the output since.
    local function line(s, timeout)
      local from = #p:output() + 1
      p:send(s .. "\n")
      local out, e = p:expect("ci> ", timeout or 20, from + #s)
      assert.truthy(out, "no prompt after " .. s .. ":\n" .. p:output())
      return out:sub(from, e)
    end

    after_each(function()
      if p then p:kill() end
      p = nil
    end)

    it("interrupts pure Lua loops (compiled or not) with Ctrl-C and keeps the session", function()
      local _, why = start()
      if not p then return pending("no pty: " .. tostring(why)) end
      line("keep = 42")
      line("function spin(n) local s = 0 for i = 1, n do s = s + i % 7 end return s end")
      for _, loop in ipairs({ "while true do end", "local i = 0 while true do i = i + 1 end",
                              "spin(1e15)" }) do
        local from = #p:output() + 1
        p:send(loop .. "\n")
        -- once readline has taken the line (a Ctrl-C before would flush it), wait long
        -- enough for LuaJIT to compile the loop
        assert.truthy(p:expect(loop .. "\r\n", 20, from), p:output())
        p:drain(1)
        p:send("\3")
        assert.truthy(p:expect("interrupted!", 20, from), p:output())
        assert.truthy(p:expect("ci> ", 20, from + #loop), p:output())
      end
      -- more Ctrl-C while the first is handled never kill the prompt
      local from = #p:output() + 1
      p:send("while true do end\n")
      assert.truthy(p:expect("while true do end\r\n", 20, from), p:output())
      p:drain(1)
      p:send("\3\3")
      p:drain(1)
      p:send("\3")
      assert.truthy(p:expect("interrupted!", 20, from), p:output())
      p:drain(1)
      assert.truthy(line("keep + 1"):find("\n43\r?\n"), p:output())
      p:send("\4")
      assert.equal(0, p:wait(20))
    end)

    it("clears the line on Ctrl-C at the prompt", function()
      local _, why = start()
      if not p then return pending("no pty: " .. tostring(why)) end
      line("keep = 7")
      p:send("keep = 1 +")
      p:drain(1)
      p:send("\3")
      p:drain(1)
      local out = line("keep")
      assert.truthy(out:find("\n7\r?\n"), p:output())
    end)

    it("completes a method with Tab and prints the table it returns", function()
      local _, why = start()
      if not p then return pending("no pty: " .. tostring(why)) end
      line("t = ci.zeros(2, 5)")
      local from = #p:output() + 1
      p:send("t:siz\t")
      assert.truthy(p:expect("t:size", 20, from), p:output())
      local out = line("()")
      assert.truthy(out:find("{2, 5}", 1, true), p:output())
      line("f = ci.frame{alpha = {1}}")
      from = #p:output() + 1
      p:send("f:colu\t")   -- a frame's methods
      assert.truthy(p:expect("f:columns", 20, from), p:output())
      out = line("()")
      assert.truthy(out:find('{"alpha"}', 1, true), p:output())
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
