-- csv_spec.lua: ci.read_csv / f:write_csv: quoting, types, missing cells, gzip,
-- errors with file and line, round trips, and the real data under ../shared/data.
local ci = require "cinterp"

local tmp = os.tmpname()
os.remove(tmp)
local made = {}
local function path(name) made[#made + 1] = tmp .. "_" .. name return tmp .. "_" .. name end
local function write(name, text)
  local p = path(name)
  local fh = assert(io.open(p, "wb"))
  fh:write(text)
  fh:close()
  return p
end
local function gzip(src, dst)
  local p = io.popen("gzip -c " .. src .. " > " .. dst)
  p:close()
  return dst
end
local function is_nan(x) return x ~= x end

describe("ci.read_csv", function()
  it("reads quoted fields with separators, doubled quotes and newlines", function()
    local p = write("q.csv", 'name,note,n\n"Smith, J","said ""hi""",1\nplain,"two\nlines",2\n')
    local f = ci.read_csv(p)
    assert.are.same({"name", "note", "n"}, f:columns())
    assert.are.equal(2, f:nrow())
    assert.are.same({"Smith, J", "plain"}, f.name)
    assert.are.same({'said "hi"', "two\nlines"}, f.note)
    assert.are.same({1, 2}, f.n)
  end)

  it("types columns: numeric when every non-empty cell is a number", function()
    local p = write("t.csv", "a,b,c,d,e\n1,x,1.5,,nan\n-2e3,2,inf,,3\n0.1,3,-inf,,\n")
    local f = ci.read_csv(p)
    assert.are.same({a = "number", b = "string", c = "number", d = "number", e = "number"},
                    f:dtypes())
    assert.are.same({1, -2000, 0.1}, f.a)
    assert.are.same({"x", "2", "3"}, f.b)
    assert.are.equal(math.huge, f.c[2])
    assert.are.equal(-math.huge, f.c[3])
    assert.is_true(is_nan(f.d[1]) and is_nan(f.d[2]) and is_nan(f.d[3]))
    assert.is_true(is_nan(f.e[1]) and f.e[2] == 3 and is_nan(f.e[3]))
  end)

  it("reads empty cells as NaN (numeric) or \"\" (string) and na_values as missing", function()
    local p = write("m.csv", "k,v\nx,1\n,\nNA,NA\n")
    local f = ci.read_csv(p, {na_values = {"NA"}})
    assert.are.same({"x", "", ""}, f.k)
    assert.are.equal(1, f.v[1])
    assert.is_true(is_nan(f.v[2]) and is_nan(f.v[3]))
    local g = ci.read_csv(p)
    assert.are.same({"x", "", "NA"}, g.k)
    assert.are.equal("string", g:dtypes().v)
  end)

  it("keeps every cell's text when a column turns to text late (numbers kept alone until then)", function()
    -- the reader keeps a numeric column's numbers only; a late text cell makes it
    -- read the file again with that column as text: each column below turns at
    -- another row, one in the last record (no final newline), one on a big integer
    local text = 'a,b,c,d,e\n1,0.5,,7,x\n"2",1e3,3,8,y\n03,2,,12345678901234567890,z\n4,abc,"",10,w\n5,6,7,11,"q"'
    for _, name in ipairs { "late.csv", "late.csv.gz" } do
      local p = write("late_src.csv", text)
      if name:match("gz$") then p = gzip(p, path(name)) end
      local f = ci.read_csv(p)
      assert.are.same({ a = "number", b = "string", c = "number", d = "string", e = "string" }, f:dtypes())
      assert.are.same({ 1, 2, 3, 4, 5 }, f.a)
      assert.are.same({ "0.5", "1e3", "2", "abc", "6" }, f.b)
      assert.are.same({ "7", "8", "12345678901234567890", "10", "11" }, f.d)
      assert.are.same({ "x", "y", "z", "w", "q" }, f.e)
      assert.is_true(is_nan(f.c[1]) and f.c[2] == 3 and is_nan(f.c[3]) and is_nan(f.c[4]) and f.c[5] == 7)
    end
    local g = ci.read_csv_string("n\n1\n2\nthree")  -- in memory, turning in the last record
    assert.are.same({ "1", "2", "three" }, g.n)
    local h = ci.read_csv_string("a,b\n,1\n,2\nx,3\n")  -- only missing cells before the text
    assert.are.same({ "", "", "x" }, h.a)
    assert.are.same({ 1, 2, 3 }, h.b)
  end)

  it("keeps 18-digit ids exactly as strings", function()
    local f = ci.read_csv_string("id,w\n720575940596125868,1\n720575940597856265,2\n")
    assert.are.same({"720575940596125868", "720575940597856265"}, f.id)
    assert.are.same({1, 2}, f.w)
  end)

  it("reads tsv by extension, headerless files, names and duplicate headers", function()
    local p = write("t.tsv", "a\tb\n1\tx,y\n")
    local f = ci.read_csv(p)
    assert.are.same({"x,y"}, f.b)
    local g = ci.read_csv_string("1,2\n3,4\n", {header = false})
    assert.are.same({"col1", "col2"}, g:columns())
    assert.are.same({2, 4}, g.col2)
    local h = ci.read_csv_string("1,2\n", {header = false, names = {"p", "q"}})
    assert.are.same({2}, h.q)
    local d = ci.read_csv_string("a,a,b,a\n1,2,3,4\n")
    assert.are.same({"a", "a.1", "b", "a.2"}, d:columns())
    assert.are.same({4}, d["a.2"])
  end)

  it("gives 0 rows for a header-only file and an error for an empty file", function()
    local f = ci.read_csv(write("h.csv", "a,b\n"))
    assert.are.equal(0, f:nrow())
    assert.are.same({"a", "b"}, f:columns())
    local p = write("e.csv", "")
    assert.has_error(function() ci.read_csv(p) end, "ci.read_csv: " .. p .. ": empty file (no header row)")
  end)

  it("reads gzip input detected by magic bytes", function()
    local src = write("g.csv", "a,b\n1,\"x\"\"y\"\n2,z\n")
    local gz = gzip(src, path("g.csv.gz"))
    local f = ci.read_csv(gz)
    assert.are.same({1, 2}, f.a)
    assert.are.same({'x"y', "z"}, f.b)
    local disguised = gzip(src, path("disguised.csv"))
    assert.is_true(ci.read_csv(disguised):equals(f))
  end)

  it("reports a truncated gzip naming the file", function()
    local rows = {"a,b"}
    for i = 1, 5000 do rows[#rows + 1] = i .. "," .. (i * 3) end
    local gz = gzip(write("big.csv", table.concat(rows, "\n") .. "\n"), path("big.csv.gz"))
    local data = assert(io.open(gz, "rb")):read("*a")
    local cut = write("cut.csv.gz", data:sub(1, math.floor(#data / 2)))
    local ok, err = pcall(ci.read_csv, cut)
    assert.is_false(ok)
    assert.matches("ci.read_csv: " .. cut:gsub("%p", "%%%0") .. ": gzip data: unexpected end of file", err)
  end)

  it("reports a ragged row with file, line and counts", function()
    local p = write("r.csv", "a,b,c,d\n1,2,3,4\n\"x\ny\",2,3,4\n1,2,3,4,5\n")
    assert.has_error(function() ci.read_csv(p) end,
      "ci.read_csv: " .. p .. " line 5: 5 fields, expected 4 (header has 4)")
    local q = write("r2.csv", "a,b\n1,2\n3\n")
    assert.has_error(function() ci.read_csv(q) end,
      "ci.read_csv: " .. q .. " line 3: 1 fields, expected 2 (header has 2)")
  end)

  it("reports malformed quoting with file and line", function()
    local p = write("bad.csv", "a,b\n1,2\n3,\"ab\"c\n")
    local ok, err = pcall(ci.read_csv, p)
    assert.is_false(ok)
    assert.matches("ci.read_csv: " .. p:gsub("%p", "%%%0") .. " line 3: malformed quoting in field 2", err)
    local q = write("open.csv", "a,b\n1,\"never closed\n")
    ok, err = pcall(ci.read_csv, q)
    assert.is_false(ok)
    assert.matches("line 2: end of file inside a quoted field", err)
  end)

  it("reports a missing file", function()
    assert.has_error(function() ci.read_csv("/nonexistent/missing.csv") end,
      "ci.read_csv: /nonexistent/missing.csv: No such file or directory")
    assert.has_error(function() ci.read_csv(42) end, "ci.read_csv: path must be a string, got number")
  end)
end)

describe("f:write_csv", function()
  local function tricky()
    return ci.frame({
      s = {"plain", "a,b", 'q"uote', "line\nbreak", " edge ", ""},
      x = {1, 0.1, 1 / 3, -2.5e-300, 0 / 0, 1e300},
      i = {1, 2, 3, 4, 5, 123456789012},
    }, {"s", "x", "i"})
  end

  it("quotes fields as RFC 4180 asks", function()
    local p = path("w.csv")
    tricky():write_csv(p)
    local text = assert(io.open(p, "rb")):read("*a")
    local expect = 's,x,i\nplain,1,1\n"a,b",0.1,2\n"q""uote",0.33333333333333331,3\n' ..
                   '"line\nbreak",-2.5e-300,4\n" edge ",,5\n,1e+300,123456789012\n'
    assert.are.equal(expect, text)
  end)

  it("round-trips exactly (plain, gzip, tsv)", function()
    local f = tricky()
    for _, name in ipairs({"rt.csv", "rt.csv.gz", "rt.tsv"}) do
      local p = path(name)
      f:write_csv(p)
      local g = ci.read_csv(p)
      local same, why = f:equals(g)
      assert.is_true(same, name .. ": " .. tostring(why))
    end
    local gzdata = assert(io.open(path("rt.csv.gz"), "rb")):read(2)
    assert.are.equal("\31\139", gzdata)
  end)

  it("round-trips random doubles bit for bit", function()
    local xs = {}
    math.randomseed(7)
    for i = 1, 2000 do xs[i] = (math.random() - 0.5) * 10 ^ math.random(-30, 30) end
    xs[#xs + 1] = 2 ^ 60 + 2 ^ 9
    xs[#xs + 1] = -(2 ^ 53 + 2)
    local f = ci.frame{x = xs}
    f:write_csv(path("rand.csv"))
    local g = ci.read_csv(path("rand.csv"))
    for i = 1, #xs do assert.are.equal(xs[i], g.x[i]) end
  end)

  it("keeps missing cells of a one-column frame (a lone empty field is written as \"\")", function()
    ci.frame{x = {1.5, 0 / 0, 2}}:write_csv(path("one.csv"))
    local text = assert(io.open(path("one.csv"), "rb")):read("*a")
    assert.are.equal('x\n1.5\n""\n2\n', text)
    local g = ci.read_csv(path("one.csv"))
    assert.are.equal(3, g:nrow())
    assert.is_true(g.x[2] ~= g.x[2])
    ci.frame{s = {"a", ""}}:write_csv(path("ones.csv"))
    assert.are.same({"a", ""}, ci.read_csv(path("ones.csv")).s)
    ci.frame{a = {0 / 0}, b = {0 / 0}}:write_csv(path("two.csv"))    -- two fields: "," is no blank line
    assert.are.equal("a,b\n,\n", assert(io.open(path("two.csv"), "rb")):read("*a"))
  end)

  it("checks its options: unknown ones and wrong types name the option", function()
    local f = ci.frame{x = {1}}
    local ok, err = pcall(f.write_csv, f, path("o.csv"), {seperator = ";"})
    assert.is_false(ok)
    assert.matches("ci.frame:write_csv: unknown option 'seperator' (did you mean 'sep'?)", err, 1, true)
    ok, err = pcall(f.write_csv, f, path("o.csv"), {header = "no"})
    assert.matches("ci.frame:write_csv: option 'header' must be a boolean, got a string (\"no\")", err, 1, true)
    ok, err = pcall(ci.read_csv_string, "a\n1\n", {sep = ";;"})
    assert.matches("ci.read_csv_string: option 'sep' must be a one-character string", err, 1, true)
    ok, err = pcall(ci.read_csv_string, "a\n1\n", {"a"})
    assert.matches("ci.read_csv_string: opts is a Lua array {\"a\"}, but options are named fields", err, 1, true)
    assert.are.same({"q"}, ci.read_csv_string("1\n", {header = false, names = {"q"}}):columns())
  end)

  it("errors naming the path when the folder is missing", function()
    assert.has_error(function() tricky():write_csv("/nonexistent/dir/x.csv") end,
      "ci.frame:write_csv: /nonexistent/dir/x.csv: No such file or directory")
  end)
end)

describe("real data in ../shared/data", function()
  teardown(function() for _, p in ipairs(made) do os.remove(p) end end)
  local root = "../shared/data"
  local have = io.open(root .. "/door/processed_door_adult.csv", "rb")
  if have then have:close() end

  it("reads the DoOR table: 49 glomeruli x (1 + 693 odours), writes it back equal", function()
    if not have then pending("../shared/data is absent: real-data checks skipped") return end
    local f = ci.read_csv(root .. "/door/processed_door_adult.csv")
    assert.are.equal(49, f:nrow())
    assert.are.equal(694, f:ncol())
    assert.are.equal("glomerulus", f:columns()[1])
    local types = f:dtypes()
    assert.are.equal("string", types.glomerulus)
    for j, n in ipairs(f:columns()) do
      if j > 1 then assert.are.equal("number", types[n], n) end
    end
    f:write_csv(path("door.csv"))
    local same, why = f:equals(ci.read_csv(path("door.csv")))
    assert.is_true(same, why)
  end)

  it("reads the larva edges (110,677 edges, 352,611 synapses) and writes them back equal", function()
    if not have then pending("../shared/data is absent: real-data checks skipped") return end
    local f = ci.read_csv(root .. "/larva_winding2023/edges.csv.gz")
    assert.are.same({"pre", "post", "weight"}, f:columns())
    assert.are.same({pre = "number", post = "number", weight = "number"}, f:dtypes())
    assert.are.equal(110677, f:nrow())
    local syn = 0
    for _, w in ipairs(f.weight) do syn = syn + w end
    assert.are.equal(352611, syn)
    f:write_csv(path("edges.csv.gz"))
    local same, why = f:equals(ci.read_csv(path("edges.csv.gz")))
    assert.is_true(same, why)
  end)

  it("keeps FlyWire ids as strings (139,255 neurons)", function()
    if not have then pending("../shared/data is absent: real-data checks skipped") return end
    local f = ci.read_csv(root .. "/flywire_783_annotations/neurons.csv.gz")
    assert.are.equal(139255, f:nrow())
    assert.are.equal("string", f:dtypes().id)
    assert.are.equal(18, #f.id[1])
  end)
end)
