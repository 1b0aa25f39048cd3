-- frame_spec.lua: ci.frame construction, access and every verb, against
-- expectations worked out by hand.
local ci = require "cinterp"

local nan = 0 / 0
local function is_nan(x) return x ~= x end

local function people()
  return ci.frame({
    name = {"ann", "bob", "cy", "dee", "eve"},
    team = {"red", "blue", "red", "blue", "red"},
    score = {3, 5, 1, 5, 2},
  }, {"name", "team", "score"})
end

describe("ci.frame construction and access", function()
  it("orders columns by name, or as given", function()
    local f = ci.frame{b = {1, 2}, a = {"x", "y"}}
    assert.are.same({"a", "b"}, f:columns())
    local g = ci.frame({b = {1, 2}, a = {"x", "y"}}, {"b", "a"})
    assert.are.same({"b", "a"}, g:columns())
    assert.are.equal(2, g:nrow())
    assert.are.equal(2, g:ncol())
  end)

  it("copies its input columns", function()
    local col = {1, 2}
    local f = ci.frame{a = col}
    col[1] = 99
    assert.are.equal(1, f.a[1])
  end)

  it("rejects columns of unequal length and bad orders", function()
    assert.has_error(function() ci.frame({a = {1, 2}, b = {1}}, {"a", "b"}) end,
      "ci.frame: column 'b' has 1 values, expected 2 (column 'a')")
    assert.has_error(function() ci.frame({a = {1}}, {"a", "z"}) end,
      "ci.frame: order[2] = 'z' is not a column of the table")
  end)

  it("builds from rows, positional or keyed", function()
    local f = ci.frame.from_rows({"k", "v"}, {{"a", 1}, {"b", 2}})
    local g = ci.frame.from_rows({"k", "v"}, {{k = "a", v = 1}, {v = 2, k = "b"}})
    assert.are.same({"a", "b"}, f.k)
    assert.is_true(f:equals(g))
    assert.has_error(function() ci.frame.from_rows({"k", "v"}, {{"a"}}) end,
      "ci.frame.from_rows: row 1 has 1 values, expected 2")
  end)

  it("gives methods before columns, f:col for clashing names, errors for unknown names", function()
    local f = ci.frame{sort = {3, 1}, x = {1, 2}}
    assert.are.equal("function", type(f.sort))
    assert.are.same({3, 1}, f:col("sort"))
    assert.are.same({1, 2}, f.x)
    assert.is_nil(f.nothing)
    assert.has_error(function() f:col("nothing") end,
      "ci.frame:col: unknown column 'nothing' (columns: sort, x)")
  end)

  it("sets and removes columns in place with f[col] = array", function()
    local f = people()
    f.double = {6, 10, 2, 10, 4}
    assert.are.equal("double", f:columns()[4])
    assert.has_error(function() f.bad = {1} end, "ci.frame: column 'bad' has 1 values, expected 5")
    f.double = nil
    assert.are.equal(3, f:ncol())
  end)

  it("returns rows, heads, tails and row lists", function()
    local f = people()
    assert.are.same({name = "cy", team = "red", score = 1}, f:row(3))
    assert.has_error(function() f:row(6) end, "ci.frame:row: index 6 is out of range 1..5")
    assert.are.same({"ann", "bob"}, f:head(2).name)
    assert.are.same({"dee", "eve"}, f:tail(2).name)
    assert.are.equal(5, f:head(10):nrow())
    local rows = f:to_rows()
    assert.are.equal(5, #rows)
    assert.are.same({name = "eve", team = "red", score = 2}, rows[5])
  end)

  it("prints aligned, and abbreviated when large", function()
    local f = ci.frame({k = {"a", "bb"}, v = {1.5, 10}}, {"k", "v"})
    -- row numbers, then k left-aligned (width 2), v right-aligned (width 3), two spaces apart
    assert.are.equal("   k     v\n1  a   1.5\n2  bb   10", tostring(f))
    local xs = {}
    for i = 1, 30 do xs[i] = i end
    local s = tostring(ci.frame{x = xs})
    local lines = {}
    for l in s:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(13, #lines)       -- header, 5 rows, "...", 5 rows, footer
    assert.are.equal("...  ...", lines[7])   -- widths: 3 ("...") and 3 ("...")
    assert.are.equal(" 30   30", lines[12])
    assert.are.equal("[30 rows x 1 columns]", lines[13])
  end)
end)

describe("frame verbs", function()
  it("filter by function, by column values, by a list of values and by a mask", function()
    local f = people()
    assert.are.same({"bob", "dee"}, f:filter(function(r) return r.score >= 4 end).name)
    assert.are.same({"ann", "cy", "eve"}, f:filter{team = "red"}.name)
    assert.are.same({"ann"}, f:filter{team = "red", score = 3}.name)
    assert.are.same({"bob", "cy"}, f:filter{name = {"cy", "bob", "zed"}}.name)
    assert.are.same({"ann", "eve"}, f:filter{true, false, false, false, true}.name)
    assert.has_error(function() f:filter{colour = "red"} end,
      "ci.frame:filter: unknown column 'colour' (columns: name, team, score)")
  end)

  it("select and drop", function()
    local f = people()
    local s = f:select{"score", "name"}
    assert.are.same({"score", "name"}, s:columns())
    assert.are.same({3, 5, 1, 5, 2}, s.score)
    assert.are.same({"name", "score"}, f:drop("team"):columns())
    assert.has_error(function() f:select{"nope"} end,
      "ci.frame:select: unknown column 'nope' (columns: name, team, score)")
  end)

  it("sorts stably, by several keys, descending, NaN last", function()
    local f = people()
    assert.are.same({"cy", "eve", "ann", "bob", "dee"}, f:sort("score").name)
    assert.are.same({"bob", "dee", "ann", "eve", "cy"},
                    f:sort("score", {descending = true}).name)
    -- blue (bob 5, dee 5: tie, stable) before red (ann 3, eve 2, cy 1)
    assert.are.same({"bob", "dee", "ann", "eve", "cy"},
                    f:sort({"team", "score"}, {descending = {false, true}}).name)
    local g = ci.frame{x = {2, nan, 1, 3}}
    local s = g:sort("x").x
    assert.are.same({1, 2, 3}, {s[1], s[2], s[3]})
    assert.is_true(is_nan(s[4]))
    local d = g:sort("x", {descending = true}).x
    assert.are.same({3, 2, 1}, {d[1], d[2], d[3]})
    assert.is_true(is_nan(d[4]))
    local mixed = ci.frame{x = {"b", 2, "a", 1}}:sort("x").x
    assert.are.same({1, 2, "a", "b"}, mixed)
  end)

  it("groupby + agg with mean, sum, count, max, min, first, size", function()
    local f = ci.frame({
      g = {"b", "a", "b", "a", "b"},
      v = {1, 2, 3, nan, 5},
      w = {10, 20, 30, 40, 50},
    }, {"g", "v", "w"})
    local r = f:groupby("g"):agg{
      mean_v = {"mean", "v"}, sum_w = {"sum", "w"}, n = {"count", "v"},
      top = {"max", "w"}, low = {"min", "v"}, fst = {"first", "w"}, rows = {"size", "v"},
    }
    assert.are.same({"g", "fst", "low", "mean_v", "n", "rows", "sum_w", "top"}, r:columns())
    assert.are.same({"a", "b"}, r.g)
    assert.are.same({2, 3}, r.mean_v)           -- a: (2) ; b: (1+3+5)/3
    assert.are.same({60, 90}, r.sum_w)
    assert.are.same({1, 3}, r.n)                -- NaN not counted
    assert.are.same({40, 50}, r.top)
    assert.are.same({2, 1}, r.low)
    assert.are.same({20, 10}, r.fst)
    assert.are.same({2, 3}, r.rows)
    -- shortcut form, several keys
    local s = ci.frame({k1 = {1, 1, 2, 1}, k2 = {"x", "y", "x", "x"}, v = {1, 2, 3, 4}},
                       {"k1", "k2", "v"}):groupby({"k1", "k2"}, {v = "sum"})
    assert.are.same({1, 1, 2}, s.k1)
    assert.are.same({"x", "y", "x"}, s.k2)
    assert.are.same({5, 2, 3}, s.v)
    assert.are.same({2.5, 3}, ci.frame({k = {1, 1, 2}, v = {2, 3, 3}}, {"k", "v"}):groupby("k"):mean().v)
    assert.has_error(function() f:groupby("g"):agg{x = {"mode", "v"}} end)
  end)

  it("groupby shortcuts mean/sum keep the frame's column order", function()
    local f = ci.frame({k = {1, 2, 1}, b = {1, 2, 3}, a = {4, 5, 6}}, {"k", "b", "a"})
    local m = f:groupby("k"):sum()
    assert.are.same({"k", "b", "a"}, m:columns())
    assert.are.same({4, 2}, m.b)
    assert.are.same({10, 5}, m.a)
  end)

  it("joins inner, left, right and outer, with suffixes", function()
    local l = ci.frame({id = {1, 2, 3, 2}, x = {"a", "b", "c", "d"}}, {"id", "x"})
    local r = ci.frame({id = {2, 3, 4, 3}, y = {20, 30, 40, 31}, x = {"B", "C", "D", "E"}},
                       {"id", "y", "x"})
    local i = l:join(r, "id")
    assert.are.same({"id", "x_x", "y", "x_y"}, i:columns())
    assert.are.same({2, 3, 3, 2}, i.id)
    assert.are.same({"b", "c", "c", "d"}, i.x_x)
    assert.are.same({20, 30, 31, 20}, i.y)
    local le = l:join(r, "id", {how = "left"})
    assert.are.same({1, 2, 3, 3, 2}, le.id)
    assert.is_true(is_nan(le.y[1]))
    assert.are.equal("", le.x_y[1])
    local ri = l:join(r, "id", {how = "right"})
    assert.are.same({2, 2, 3, 4, 3}, ri.id)
    assert.are.same({"b", "d", "c", "", "c"}, ri.x_x)
    local o = l:join(r, "id", {how = "outer"})
    assert.are.same({1, 2, 3, 3, 2, 4}, o.id)
    assert.are.same({40}, {o.y[6]})
    assert.has_error(function() l:join(r, "zz") end,
      "ci.frame:join: unknown column 'zz' (columns: id, x)")
  end)

  it("map, mutate, add_column", function()
    local f = people()
    assert.are.same({1, 0, 1, 0, 1}, f:map("team", {red = 1, blue = 0}))
    assert.are.same({"R", "", "R", "", "R"}, f:map("team", {red = "R"}))
    assert.are.same({6, 10, 2, 10, 4}, f:map("score", function(v) return 2 * v end))
    local g = f:add_column("half", function(r) return r.score / 2 end)
    assert.are.same({1.5, 2.5, 0.5, 2.5, 1}, g.half)
    assert.is_nil(f.half)
    local m = f:mutate{b = 1, a = {5, 4, 3, 2, 1}}
    assert.are.same({"name", "team", "score", "a", "b"}, m:columns())
    assert.are.same({1, 1, 1, 1, 1}, m.b)
    assert.has_error(function() f:add_column("z", {1}) end,
      "ci.frame:add_column: column 'z' has 1 values, expected 5 (rows)")
  end)

  it("melts and pivots", function()
    local w = ci.frame({id = {"p", "q"}, a = {1, 2}, b = {3, 4}}, {"id", "a", "b"})
    local m = w:melt("id", {"a", "b"}, "var", "val")
    assert.are.same({"id", "var", "val"}, m:columns())
    assert.are.same({"p", "q", "p", "q"}, m.id)
    assert.are.same({"a", "a", "b", "b"}, m.var)
    assert.are.same({1, 2, 3, 4}, m.val)
    local d = w:melt("id")
    assert.are.same({"id", "variable", "value"}, d:columns())
    local back = m:pivot("id", "var", "val")
    assert.is_true(back:equals(w))
    local sparse = ci.frame({r = {2, 1, 2}, c = {"x", "y", "y"}, v = {1, 2, 3}}, {"r", "c", "v"})
    local p = sparse:pivot("r", "c", "v")
    assert.are.same({"r", "x", "y"}, p:columns())
    assert.are.same({1, 2}, p.r)
    assert.is_true(is_nan(p.x[1]))
    assert.are.same({2, 3}, p.y)
    local dup = ci.frame({r = {1, 1}, c = {"x", "x"}, v = {1, 2}}, {"r", "c", "v"})
    assert.has_error(function() dup:pivot("r", "c", "v") end,
      "ci.frame:pivot: index 1 has two values for column x")
  end)

  it("renames, concatenates, finds unique values, compares", function()
    local f = people()
    local r = f:rename{score = "points"}
    assert.are.same({"name", "team", "points"}, r:columns())
    assert.has_error(function() f:rename{nope = "x"} end)
    local a = ci.frame({k = {1, 2}, s = {"x", "y"}}, {"k", "s"})
    local b = ci.frame({k = {3}, t = {9}}, {"k", "t"})
    local c = a:concat(b)
    assert.are.same({"k", "s", "t"}, c:columns())
    assert.are.same({1, 2, 3}, c.k)
    assert.are.same({"x", "y", ""}, c.s)
    assert.is_true(is_nan(c.t[1]) and c.t[3] == 9)
    assert.are.same({"red", "blue"}, f:unique("team"))
    local u = ci.frame{x = {nan, 1, nan, 1}}:unique("x")
    assert.are.equal(2, #u)
    assert.is_true(is_nan(u[1]) and u[2] == 1)
    assert.is_true(ci.frame{x = {nan, 1}}:equals(ci.frame{x = {nan, 1}}))
    local same, why = ci.frame{x = {1, 2}}:equals(ci.frame{x = {1, 3}})
    assert.is_false(same)
    assert.are.equal("column 'x' row 2: 2 vs 3", why)
    assert.is_true(ci.frame{x = {1}}:equals(ci.frame{x = {1 + 1e-12}}, {tol = 1e-9}))
  end)

  it("counts values", function()
    local counts, order = people():value_counts("team")
    assert.are.same({red = 3, blue = 2}, counts)
    assert.are.same({"red", "blue"}, order)
  end)

  it("checks the options of its verbs: unknown keys, wrong types, the table forms", function()
    local f = people()
    local function err_of(fn, ...)
      local ok, e = pcall(fn, ...)
      assert.is_false(ok)
      return e
    end
    assert.matches("ci.frame:sort: unknown option 'decending' (did you mean 'descending'?)",
                   err_of(f.sort, f, "score", {decending = true}), 1, true)
    assert.are.same(f:sort("score", {descending = true}):to_rows(), f:sort("score", {reverse = true}):to_rows())
    assert.matches("ci.frame:join: option 'how' must be one of \"inner\", \"left\", \"right\" or \"outer\", got a string (\"full\")",
                   err_of(f.join, f, f, "name", {how = "full"}), 1, true)
    -- a misspelled key of melt's table form was read as no id columns at all
    assert.matches("ci.frame:melt: unknown option 'id_var' (did you mean 'id_vars'?)",
                   err_of(f.melt, f, {id_var = "name"}), 1, true)
    assert.matches("ci.frame:pivot: unknown option 'colums' (did you mean 'columns'?)",
                   err_of(f.pivot, f, {index = "name", colums = "team"}), 1, true)
    assert.matches("ci.frame:tostring: option 'max_rows' must be an integer >= 1, got a number (0)",
                   err_of(f.tostring, f, {max_rows = 0}), 1, true)
    assert.matches("ci.frame:equals: opts is a Lua array {0.1}", err_of(f.equals, f, f, {0.1}), 1, true)
  end)

  it("refuses a numeric aggregate of a text column, naming the column and the row", function()
    local f = people()
    local ok, e = pcall(function() return f:groupby("team"):mean() end)
    assert.is_false(ok)
    assert.matches("ci.frame:groupby():agg: mean of column 'name' needs numbers, but row 1 holds a string", e, 1, true)
    assert.are.same({"blue", "red"}, f:select{"team", "score"}:groupby("team"):mean().team)
    assert.are.equal(2, f:groupby("team"):agg{first = {"first", "name"}}:nrow())   -- text is fine for first
  end)

  it("leaves its receiver untouched", function()
    local f = people()
    local before = f:copy()
    f:sort("score"); f:filter{team = "red"}; f:rename{name = "n"}; f:add_column("z", 1)
    f:groupby("team", {score = "sum"}); f:melt("name"); f:join(f:select{"name"}, "name")
    assert.is_true(f:equals(before))
  end)
end)
