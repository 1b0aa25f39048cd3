-- repl_spec.lua: the prompt's logic in lua/cinterp/repl.lua and its printer
-- lua/cinterp/inspect.lua, called directly: table printing, what counts as an
-- incomplete entry, `?name`, errors with the user's frames only and `:trace`, and
-- completion of every method of the library's objects. host_spec drives the same
-- through the real host (a pipe and a pty).
local ci = require "cinterp"
local R = require "cinterp.repl"
local inspect = require "cinterp.inspect"

-- Runs f with io.stdout and io.stderr captured; returns what each received.
local function capture(f, ...)
  local out, err = {}, {}
  local function sink(t)
    return { write = function(self, ...) for _, s in ipairs({ ... }) do t[#t + 1] = tostring(s) end
                                         return self end,
             flush = function() end }
  end
  local stdout, stderr = io.stdout, io.stderr
  io.stdout, io.stderr = sink(out), sink(err)
  local ok, e = pcall(f, ...)
  io.stdout, io.stderr = stdout, stderr
  assert(ok, e)
  return table.concat(out), table.concat(err)
end

local function eval(entry) return capture(R.eval, entry) end

local function set_of(list)
  local s = {}
  for _, v in ipairs(list) do s[v] = true end
  return s
end

describe("inspect.format", function()
  it("puts a short array of plain values on one line", function()
    assert.equal("{2, 3}", inspect.format({ 2, 3 }))
    assert.equal('{"a", "b c", true}', inspect.format({ "a", "b c", true }))
    assert.equal("{}", inspect.format({}))
  end)

  it("shows a table nested, keys sorted (numbers, then strings), strings quoted", function()
    local t = { b = { 1, 2 }, a = 1, [10] = true, [2.5] = "x\ny", c = { d = {} } }
    assert.equal(table.concat({
      "{",
      "  2.5 : \"x\\ny\"",
      "  10 : true",
      "  a : 1",
      "  b : {1, 2}",
      "  c : {",
      "    d : {}",
      "  }",
      "}" }, "\n"), inspect.format(t))
  end)

  it("abbreviates long tables and wraps long arrays at the width", function()
    local long = {}
    for i = 1, 130 do long[i] = i end
    local s = inspect.format(long)
    assert.truthy(s:find("^{1, 2, 3,"), s)
    assert.equal("50, ... (80 more)}", s:sub(-18))
    assert.falsy(s:find("51,", 1, true), s)
    for line in s:gmatch("[^\n]+") do assert.truthy(#line <= 80, line) end
    local rec = {}
    for i = 1, 60 do rec["k" .. i] = i end
    local r = inspect.format(rec, { items = 5 })
    assert.equal("{\n  k1 : 1\n  k2 : 2\n  k3 : 3\n  k4 : 4\n  k5 : 5\n  ... (55 more)\n}", r)
  end)

  it("marks a table inside itself and stops at the depth limit", function()
    local t = { name = "loop" }
    t.self = t
    assert.equal('{\n  name : "loop"\n  self : <cycle>\n}', inspect.format(t))
    local deep = { a = { b = { c = { d = { e = 1 } } } } }
    assert.truthy(inspect.format(deep):find("d : {...}", 1, true))
    assert.falsy(inspect.format(deep):find("e :", 1, true))
  end)

  it("lets tensors and other objects with a __tostring show themselves", function()
    local t = ci.tensor { { 1, 2 } }
    assert.equal(tostring(t), inspect.format(t))
    local s = inspect.format({ x = t })
    assert.truthy(s:find("x : " .. tostring(t):match("^[^\n]*"), 1, true), s)
    local obj = setmetatable({}, { __tostring = function() return "OBJ" end })
    assert.equal("{OBJ, 2}", inspect.format({ obj, 2 }))
    assert.equal("plain text", inspect.format("plain text"))
  end)
end)

describe("repl printing", function()
  it("prints tables returned by methods instead of their address", function()
    _G.repl_t = ci.zeros(2, 3)
    assert.equal("{2, 3}\n", (eval("repl_t:size()")))
    _G.repl_f = ci.frame { a = { 1, 2 }, b = { "x", "y" } }
    assert.equal('{"a", "b"}\n', (eval("repl_f:columns()")))
    _G.repl_t, _G.repl_f = nil, nil
  end)

  it("prints every returned value, a nil among them, and nothing after a ';'", function()
    assert.equal("1\tnil\t{3}\n", (eval("1, nil, {3}")))
    assert.equal("", (eval("1, 2;")))
    assert.equal("", (eval("nil")))
  end)

  it("puts several values one per line when one takes several lines", function()
    assert.equal("{\n  a : 1\n}\n7\n", (eval("{a = 1}, 7")))
  end)
end)

describe("repl entries", function()
  it("knows an entry that stops too early from a syntax error", function()
    for _, s in ipairs({ "for i = 1, 2 do", "x = ", "f(", "t = {1,", "s = [[abc", "if x then",
                         "function g()", "--[[ comment", "x = (1 +" }) do
      local f, why = R.compile(s)
      assert.is_nil(f, s)
      assert.equal("incomplete", why, s)
    end
    for _, s in ipairs({ "o = {1}; o[1]", "x y", 's = "abc', "t:size", "return 1 2", "x = )" }) do
      local f, why = R.compile(s)
      assert.is_nil(f, s)
      assert.truthy(why:find("^ci:1: "), s .. " -> " .. tostring(why))
    end
  end)

  it("reports a one-line syntax error at once, with a hint for a trailing expression", function()
    local out, err = eval("o = {1, 2}; o[2]")
    assert.equal("", out)
    assert.truthy(err:find("ci:1: '=' expected near '<eof>'", 1, true), err)
    assert.truthy(err:find("type the expression alone", 1, true), err)
    _G.o = nil
  end)

  it("translates ?name, ?expr and name? into help(...)", function()
    local seen = {}
    local old_help = ci.help
    ci.help = function(...) seen[#seen + 1] = { n = select("#", ...), ... } end
    eval("?ci.saliency")
    eval("?activation_maximisation")
    eval("ci.zeros?")
    eval("? ci.saliency")
    eval("?")
    eval("?(1 + 2)")
    ci.help = old_help
    assert.equal(ci.saliency, seen[1][1])
    assert.equal("activation_maximisation", seen[2][1])  -- no such global: a topic
    assert.equal(ci.zeros, seen[3][1])
    assert.equal(ci.saliency, seen[4][1])
    assert.equal(0, seen[5].n)
    assert.equal(3, seen[6][1])
  end)

  it("has a global help that finds ci.help at each call, and says so when there is none", function()
    local old_help = ci.help
    ci.help = nil
    local out = capture(R.help, ci.zeros)
    assert.truthy(out:find("no ci.help", 1, true), out)
    assert.truthy(out:find("README.md", 1, true), out)
    ci.help = function(x) io.stdout:write("HELP:", tostring(x), "\n") end
    assert.equal("HELP:7\n", (capture(R.help, 7)))
    ci.help = old_help
  end)

  it("runs :trace commands and refuses unknown ones", function()
    local _, err = eval(":nosuch")
    assert.truthy(err:find("unknown REPL command ':nosuch'", 1, true), err)
    assert.equal("full tracebacks on\n", (eval(":trace on")))
    assert.is_true(R.full_traceback)
    eval(":trace off")
    assert.is_false(R.full_traceback)
  end)
end)

describe("repl errors", function()
  it("shows the message alone for an error in the entry or inside the library", function()
    local _, err = eval("ci.zeros('a')")
    assert.equal("ci:1: ci.zeros: size 1 = a must be a non-negative integer\n", err)
    _, err = eval("error('plain')")
    assert.equal("ci:1: plain\n", err)
  end)

  it("shows the user's own frames, never the library's or C's", function()
    eval("function repl_inner(x) local t = ci.zeros(x); return t end")
    eval("function repl_outer() local t = repl_inner('bad'); return t end")
    local _, err = eval("repl_outer()")
    _G.repl_inner, _G.repl_outer = nil, nil
    local lines = {}
    for l in err:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.truthy(lines[1]:find("ci.zeros: size 1 = bad", 1, true), err)
    assert.equal("  ci:1: in function 'repl_inner'", lines[2])
    assert.truthy(lines[3]:find("^  ci:1: in function"), err)
    assert.equal("  ci:1: in main chunk", lines[4])
    assert.equal(4, #lines, err)
    assert.falsy(err:find("[C]", 1, true), err)
    assert.falsy(err:find("tensor.lua", 1, true), err)
  end)

  it("keeps the full traceback for :trace", function()
    eval("ci.zeros('a')")
    local out = eval(":trace")
    assert.truthy(out:find("stack traceback:", 1, true), out)
    assert.truthy(out:find("cinterp/tensor.lua:%d+: in function"), out)
    R.full_traceback = true
    local _, err = eval("ci.zeros('a')")
    R.full_traceback = false
    assert.truthy(err:find("stack traceback:", 1, true), err)
  end)
end)

describe("repl completion", function()
  local function complete(word) return R.complete(word) end

  after_each(function()
    for _, k in ipairs({ "repl_t", "repl_f", "repl_W", "repl_net", "repl_c", "repl_fig", "repl_s" }) do
      _G[k] = nil
    end
  end)

  it("offers every tensor method from the first keystroke (cdata, from the registry)", function()
    _G.repl_t = ci.zeros(2, 3)
    assert.same({ "repl_t:size" }, complete("repl_t:siz"))
    assert.same({ "repl_t:sigmoid", "repl_t:sign", "repl_t:size" }, complete("repl_t:si"))
    local methods = ci._methods_of(repl_t)
    local n = 0
    for name, f in pairs(methods) do
      if name:sub(1, 1) ~= "_" and type(f) == "function" then
        n = n + 1
        assert.same({ "repl_t:" .. name }, (function()
          local r = {}
          for _, c in ipairs(complete("repl_t:" .. name)) do
            if c == "repl_t:" .. name then r[1] = c end
          end
          return r
        end)(), name)
      end
    end
    assert.truthy(n >= 50, "only " .. n .. " tensor methods")
    assert.equal(n, #complete("repl_t:"))
    assert.truthy(set_of(complete("repl_t:"))["repl_t:backward"])  -- added by the tape module
  end)

  it("completes frame methods and columns, sparse, network, connectome and figure methods", function()
    _G.repl_f = ci.frame { alpha = { 1 }, beta = { 2 } }
    local fc = set_of(complete("repl_f:co"))
    assert.truthy(fc["repl_f:columns"] and fc["repl_f:copy"])
    assert.same({ "repl_f.alpha" }, complete("repl_f.al"))
    _G.repl_W = ci.sparse({ 2, 3 }, { 1, 2 }, { 0.5, 0.8 }, 3, 3)
    assert.same({ "repl_W:nnz" }, complete("repl_W:nn"))
    assert.same({ "repl_W:todense" }, complete("repl_W:tod"))
    _G.repl_net = ci.MultilayeredNetwork(repl_W, { 1 }, { num_layers = 2 })
    assert.truthy(set_of(complete("repl_net:f"))["repl_net:forward"])
    _G.repl_fig = ci.plot_losses { act_loss = { 3, 2 } }
    assert.same({ "repl_fig:save" }, complete("repl_fig:sav"))
    local edges, neurons = os.tmpname(), os.tmpname()
    local fe, fn = assert(io.open(edges, "w")), assert(io.open(neurons, "w"))
    fe:write("pre,post,w\na,b,1\nb,a,2\n")
    fn:write("id,type\na,x\nb,y\n")
    fe:close()
    fn:close()
    _G.repl_c = ci.connectome.read { edges = edges, neurons = neurons, weight = "w" }
    os.remove(edges)
    os.remove(neurons)
    assert.same({ "repl_c:select" }, complete("repl_c:sel"))
    assert.same({ "repl_c:model" }, complete("repl_c:mod"))
  end)

  it("offers private names only once an _ is typed", function()
    for _, c in ipairs(complete("ci.")) do
      assert.falsy(c:find("^ci%._"), c)
    end
    _G.repl_t = ci.zeros(1)
    for _, c in ipairs(complete("repl_t:")) do
      assert.falsy(c:find(":_", 1, true), c)
    end
    local private = complete("ci._")
    assert.truthy(#private > 0)
    assert.truthy(set_of(private)["ci._methods_of"])
  end)

  it("completes globals, keywords, fields on dotted paths and string methods", function()
    assert.same({ "ci.saliency" }, complete("ci.salien"))
    assert.truthy(set_of(complete("whi"))["while"])
    _G.repl_s = "text"
    assert.same({ "repl_s:upper" }, complete("repl_s:upp"))
    assert.same({}, complete("nosuch.thing"))
    assert.same({}, complete("ci.nosuch:x"))
  end)

  it("registers the method tables of tensors, sparse matrices and frames", function()
    local m, kind = ci._methods_of(ci.zeros(1))
    assert.equal("tensor", kind)
    assert.is_function(m.size)
    assert.equal("sparse", select(2, ci._methods_of(ci.sparse({ 1 }, { 1 }, { 1 }, 1, 1))))
    assert.equal("frame", select(2, ci._methods_of(ci.frame { a = { 1 } })))
    assert.is_nil(ci._methods_of({}))
    assert.is_nil(ci._methods_of("x"))
  end)
end)
