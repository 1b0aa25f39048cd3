-- util_spec.lua: the shared helpers of cinterp.util (one meaning of an integer,
-- the group order, labels, the self check of methods, views for the engine, the
-- log option, interrupts) and init.lua's module list.
local ci = require "cinterp"
local util = require "cinterp.util"

describe("util", function()
  it("is_int means a finite integer", function()
    for _, v in ipairs { 0, 3, -7, 2 ^ 52, -2 ^ 60 } do assert.is_true(util.is_int(v), tostring(v)) end
    for _, v in ipairs { 2.5, -0.1, 1 / 0, -1 / 0, 0 / 0, "3", true } do
      assert.is_false(util.is_int(v), tostring(v))
    end
    assert.is_false(util.is_int(nil))
    assert.is_true(util.is_finite(2.5))
    assert.is_false(util.is_finite(1 / 0) or util.is_finite(0 / 0) or util.is_finite("1"))
  end)

  it("orders numbers before strings, NaN after the numbers, other values by text", function()
    local list = { "b", 3, 0 / 0, "a", -1, 2 }
    table.sort(list, util.less)
    assert.are.equal(-1, list[1]); assert.are.equal(2, list[2]); assert.are.equal(3, list[3])
    assert.is_true(list[4] ~= list[4])
    assert.are.equal("a", list[5]); assert.are.equal("b", list[6])
    assert.are.same({ 1, 2, "x" }, util.sorted_unique { "x", 2, 1, 2, "x" })
    assert.are.same({ 1, 5, "k" }, util.sorted_keys { k = 1, [5] = 2, [1] = 3 })
  end)

  it("writes labels without .0 and shapes as (AxB)", function()
    assert.are.equal("3", util.label_text(3))
    assert.are.equal("2.5", util.label_text(2.5))
    assert.are.equal("KC", util.label_text("KC"))
    assert.are.equal("(2x3)", util.shape_str(ci.zeros(2, 3)))
    assert.are.equal("tensor", util.type_name(ci.zeros(1)))
    assert.are.equal("sparse matrix", util.type_name(ci.sparse({ 1 }, { 1 }, { 1 }, 1, 1)))
    assert.are.equal("number", util.type_name(1))
  end)

  it("guards methods: a wrong self is an error naming the method", function()
    local Thing = { size = function(self) return self.n end }
    local mt = { __index = Thing }
    util.guard_methods(Thing, function(x) return getmetatable(x) == mt end,
                       { prefix = "thing", what = "a thing", var = "t", later = true })
    assert.are.equal(4, setmetatable({ n = 4 }, mt):size())
    local ok, err = pcall(Thing.size, ci.zeros(1))
    assert.is_false(ok)
    assert.matches("thing:size: self must be a thing (call it as t:size(...)), got tensor", err, 1, true)
    Thing.later = function(self) return self.n + 1 end -- added afterwards: guarded too
    ok, err = pcall(Thing.later, 5)
    assert.is_false(ok)
    assert.matches("thing:later: self must be a thing", err, 1, true)
    -- the library's classes use it
    ok, err = pcall(ci._tensor.methods.sum, {})
    assert.matches("tensor:sum: self must be a tensor", err, 1, true)
  end)

  it("flat_view lets the engine work on a range of a tensor in place", function()
    local x = ci.tensor { 1, -2, 3, 4 }
    local g = ci.full(7, 4)
    local v = util.flat_view(x, 1, 2)
    local gv = util.flat_view(g, 1, 2)
    collectgarbage(); collectgarbage() -- the views keep their fields alive
    local out = require("ffi").new("double[1]")
    assert.are.equal(0, ci._engine.C.ci_l1l2_regulariser(v, 1, gv, out))
    assert.is_true(math.abs(out[0] - (5 + math.sqrt(13))) < 1e-6)
    -- d/dx of |x| + ||x||_2 on elements 2 and 3 only; elements 1 and 4 untouched
    assert.are.equal(7, g:get(1)); assert.are.equal(7, g:get(4))
    assert.is_true(math.abs(g:get(2) - (-1 - 2 / math.sqrt(13))) < 1e-6)
    assert.is_true(math.abs(g:get(3) - (1 + 3 / math.sqrt(13))) < 1e-6)
  end)

  it("recognises an interrupt by its message", function()
    assert.is_true(util.is_interrupt("interrupted!"))
    assert.is_true(util.is_interrupt("stdin:1: interrupted!"))
    local ok, err = pcall(error, "interrupted!")
    assert.is_true(util.is_interrupt(err))
    assert.is_false(util.is_interrupt("interrupted! no"))
    assert.is_false(util.is_interrupt({}))
  end)

  it("opens the log option: a function, a CSV path, nothing, or an error", function()
    local rows = {}
    local write, close = util.open_log("f", function(r) rows[#rows + 1] = r end, { "a" })
    write { a = 1 }; close()
    assert.are.same({ { a = 1 } }, rows)
    local path = os.tmpname()
    write, close = util.open_log("f", path, { "a", "b" })
    write { a = 1, b = 0.5 }; write { a = 2, b = 1 / 3 }; close()
    local text = io.open(path):read("*a")
    os.remove(path)
    assert.are.equal("a,b\n1,0.5\n2,0.333333333\n", text)
    write, close = util.open_log("f", nil, { "a" })
    write { a = 1 }; close()
    local ok, err = pcall(util.open_log, "f", 3, { "a" })
    assert.is_false(ok)
    assert.matches("f: log must be a function", err, 1, true)
  end)

  it("packs values with their count", function()
    local t = util.pack(1, nil, 3, nil)
    assert.are.equal(4, t.n)
    assert.are.equal(3, t[3])
  end)
end)

describe("init.lua", function()
  it("fails loudly on a module it lists that does not exist", function()
    local f = assert(io.open("lua/cinterp/init.lua"))
    local src = f:read("*a")
    f:close()
    -- the module list alone (installing the others again would redefine their ffi types)
    local patched, count = src:gsub("local modules = %b{}", 'local modules = { "no_such_module" }')
    assert.are.equal(1, count)
    local ok, err = pcall(assert(loadstring(patched, "init.lua")))
    assert.is_false(ok)
    assert.matches("module 'cinterp.no_such_module' not found", err, 1, true)
  end)
end)
