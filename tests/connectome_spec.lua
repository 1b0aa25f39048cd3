-- connectome_spec.lua: ci.connectome.read on small hand-made tables (ids,
-- duplicates, threshold, normalisation, signs from a sign column and from a
-- transmitter column, groups, selections, c:model), malformed tables (errors
-- naming file, line and column), and the real tables under ../shared/data.
local ci = require "cinterp"

local tmp = os.tmpname()
os.remove(tmp)
local made = {}
local function write(name, text)
  local p = tmp .. "_" .. name
  made[#made + 1] = p
  local fh = assert(io.open(p, "wb"))
  fh:write(text)
  fh:close()
  return p
end

local function dense(m)
  local r, c, v = m:triplets()
  local d = {}
  for k = 1, #r do
    d[r[k]] = d[r[k]] or {}
    d[r[k]][c[k]] = v[k]
  end
  return d, #r
end

local function colsums(m)
  local _, c, v = m:triplets()
  local s = {}
  for k = 1, #c do s[c[k]] = (s[c[k]] or 0) + v[k] end
  return s
end

-- 18-digit ids that a double cannot hold exactly (they differ in the last digit)
local A, B, Cc, D = "720575940600000001", "720575940600000002", "720575940600000003",
                    "720575940600000004"
local neurons_text = table.concat({
  "id,type,super_class,sign,nt",
  A .. ",PN_DA1,sensory,1,ACH",
  B .. ",PN_DL5,sensory,-1,GABA",
  Cc .. ",KC,central,1,",
  D .. ",MBON,output,,glutamate",
}, "\n") .. "\n"
-- rows: A->C twice (3 + 4 = 7), A->D 2, B->C 1, C->D 6, D->A 1 (below threshold 2), C->C 5
local edges_text = table.concat({
  "pre,post,syn",
  A .. "," .. Cc .. ",3",
  A .. "," .. D .. ",2",
  B .. "," .. Cc .. ",1",
  Cc .. "," .. D .. ",6",
  A .. "," .. Cc .. ",4",
  D .. "," .. A .. ",1",
  "",
  Cc .. "," .. Cc .. ",5",
}, "\n") .. "\n"

describe("ci.connectome.read", function()
  local npath, epath
  setup(function()
    npath = write("n.csv", neurons_text)
    epath = write("e.csv", edges_text)
  end)
  teardown(function()
    for _, p in ipairs(made) do os.remove(p) end
  end)

  it("maps ids to indices in neuron-table order, exactly (18-digit ids)", function()
    local c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn" }
    assert.are.equal(4, c.n)
    assert.are.same({ A, B, Cc, D }, c.ids)
    assert.are.equal(1, c:index(A))
    assert.are.equal(4, c:index(D))
    assert.is_nil(c:index("720575940600000005"))
    assert.are.equal(7, c.n_rows)
    assert.are.equal(4, c.neurons:nrow())
  end)

  it("sums duplicate pairs and normalises each post column to its total input", function()
    local c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn" }
    -- pairs: A->C 7, A->D 2, B->C 1, C->D 6, D->A 1, C->C 5
    assert.are.equal(6, c.nnz)
    local d = dense(c.inprop)
    local inC = 7 + 1 + 5
    local inD = 2 + 6
    assert.is_near(7 / inC, d[1][3], 1e-6)
    assert.is_near(1 / inC, d[2][3], 1e-6)
    assert.is_near(5 / inC, d[3][3], 1e-6)
    assert.is_near(2 / inD, d[1][4], 1e-6)
    assert.is_near(6 / inD, d[3][4], 1e-6)
    assert.is_near(1, d[4][1], 1e-6)
    assert.are.same({ 1, 0, 13, 8 }, c.in_synapses)
    assert.are.same({ 9, 1, 11, 1 }, c.out_synapses)
    local s = colsums(c.inprop)
    for j, x in pairs(s) do assert.is_near(1, x, 1e-6) end
    assert.is_nil(s[2])   -- B has no input
  end)

  it("drops pairs whose summed count is below the threshold", function()
    local c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn", threshold = 2 }
    -- B->C 1 and D->A 1 go; A->C (3 + 4) stays although each row is < 7
    assert.are.equal(4, c.nnz)
    local d = dense(c.inprop)
    assert.is_nil(d[2])
    assert.is_nil(d[4])
    assert.is_near(7 / 12, d[1][3], 1e-6)
    assert.is_near(5 / 12, d[3][3], 1e-6)
    c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn", threshold = 7 }
    assert.are.equal(1, c.nnz)
    assert.is_near(1, dense(c.inprop)[1][3], 1e-6)
  end)

  it("reads signs from a numeric sign column (missing -> sign_missing)", function()
    local c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn", sign = "sign" }
    assert.are.same({ 1, -1, 1, 1 }, c.sign)
    c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn", sign_missing = -1 }
    assert.are.same({ 1, -1, 1, -1 }, c.sign)   -- "sign" is the default column
  end)

  it("reads signs from a transmitter column with a default and a custom mapping", function()
    local c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn", nt = "nt" }
    assert.are.same({ 1, -1, 1, -1 }, c.sign)   -- ACH +, GABA -, missing +, glutamate -
    c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn", nt = "nt",
                             nt_sign = { ACH = -1 }, sign_missing = -1 }
    assert.are.same({ -1, 1, -1, 1 }, c.sign)
  end)

  it("gives groups and selections from neuron columns", function()
    local c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn" }
    assert.are.same({ "PN_DA1", "PN_DL5", "KC", "MBON" }, c:groups("type"))
    assert.are.same({ 1, 2 }, c:select { super_class = "sensory" })
    assert.are.same({ 1, 3 }, c:select { super_class = { "sensory", "central" }, sign = 1 })
    assert.are.same({ 3, 4 }, c:select { type = function(t) return not t:find("^PN") end })
    assert.are.same({}, c:select { type = "nothing", allow_empty = true })
    assert.has_error(function() c:groups("nope") end,
                     "connectome:groups: the neuron table has no column 'nope' (columns: id, type, super_class, sign, nt)")
  end)

  it("builds a MultilayeredNetwork from the signed transpose", function()
    local c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn", nt = "nt" }
    local W = c:weights()
    local d = dense(W)
    -- post in rows, pre in columns, times the pre neuron's sign
    assert.is_near(7 / 13, d[3][1], 1e-6)
    assert.is_near(-1 / 13, d[3][2], 1e-6)
    assert.is_near(-1, d[1][4], 1e-6)       -- D (glutamate) -> A
    local net = c:model { sensory = { super_class = "sensory" }, group = "type", num_layers = 3 }
    assert.are.same({ 1, 2 }, net.sensory_indices)
    assert.are.equal(3, net.num_layers)
    assert.are.same({ "KC", "MBON", "PN_DA1", "PN_DL5" }, net.groups)
    local out = net:forward(ci.ones(2, 3))
    assert.are.same({ 4, 3 }, out:size())
    local net2 = c:model { sensory = { 1 } }
    assert.are.same({ 1 }, net2.sensory_indices)
  end)

  it("takes the sensory neurons as sensory_indices too (the seed's name), not both", function()
    local c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn" }
    local net = c:model { sensory_indices = { 2, 1 }, num_layers = 2 }
    assert.are.same({ 2, 1 }, net.sensory_indices)
    local ok, err = pcall(c.model, c, { sensory = { 1 }, sensory_indices = { 1 } })
    assert.is_false(ok)
    assert.matches("connectome:model: give either 'sensory' or 'sensory_indices', not both", err, 1, true)
    ok, err = pcall(c.model, c, { sensory = { 1 }, linear = "yes" })
    assert.matches("connectome:model: option 'linear' must be a boolean, got a string (\"yes\")", err, 1, true)
  end)

  it("refuses an empty selection, naming the condition and the closest values", function()
    local c = ci.connectome.read { edges = epath, neurons = npath, weight = "syn" }
    local ok, err = pcall(c.select, c, { type = "MBONs" })
    assert.is_false(ok)
    assert.matches("connectome:select: no neuron has type = 'MBONs' (did you mean 'MBON'?) " ..
                   "(give allow_empty = true to accept an empty selection)", err, 1, true)
    ok, err = pcall(c.select, c, { type = { "KC", "PN_DA2" }, super_class = "sensory" })
    assert.matches("no neuron matches super_class = 'sensory' and type in {...} together", err, 1, true)
    ok, err = pcall(c.select, c, { type = "MBON", super_class = "zzz" })
    assert.matches("no neuron has super_class = 'zzz' (give allow_empty", err, 1, true)
    ok, err = pcall(c.select, c, { tpye = "KC" })
    assert.matches("the neuron table has no column 'tpye' (did you mean 'type'?)", err, 1, true)
    ok, err = pcall(c.select, c, { type = "KC", allow_empty = 1 })
    assert.matches("allow_empty must be a boolean", err, 1, true)
    assert.are.same({}, c:select { type = "MBONs", allow_empty = true })
    assert.are.same({ 3 }, c:select { type = "KC", allow_empty = true })
    -- a selection for c:model's sensory goes through the same check
    ok, err = pcall(c.model, c, { sensory = { super_class = "sensorry" } })
    assert.matches("did you mean 'sensory'?", err, 1, true)
  end)

  it("numbers neurons by first appearance without a neuron table", function()
    local p = write("plain.csv", "a,b,w\n10,20,1\n20,30,2\n10,30,3\n10,20,1\n")
    local c = ci.connectome.read { edges = p, pre = "a", post = "b", weight = "w" }
    assert.are.same({ 10, 20, 30 }, c.ids)
    assert.are.equal(3, c.nnz)
    local d = dense(c.inprop)
    assert.is_near(1, d[1][2], 1e-6)
    assert.is_near(2 / 5, d[2][3], 1e-6)
    assert.is_near(3 / 5, d[1][3], 1e-6)
    assert.are.same({ 1, 1, 1 }, c.sign)
    assert.are.equal(2, c:index(20))
    local g = write("p.csv.gz.src", "pre\tpost\nx\ty\nx\ty\ny\tz\n")
    local gz = tmp .. "_e.tsv.gz"
    made[#made + 1] = gz
    os.execute("gzip -c " .. g .. " > " .. gz)
    c = ci.connectome.read { edges = gz, weight = false }
    assert.are.same({ "x", "y", "z" }, c.ids)
    assert.are.equal(2, c.nnz)
    assert.are.same({ 0, 2, 1 }, c.in_synapses)
  end)

  describe("malformed tables", function()
    it("names file, line and column for a missing column", function()
      local p = write("m1.csv", "pre,post,count\n1,2,3\n")
      local ok, err = pcall(ci.connectome.read, { edges = p })
      assert.is_false(ok)
      assert.matches("ci.connectome.read: " .. p:gsub("%p", "%%%0") .. " line 1: no column 'weight'", err)
      ok, err = pcall(ci.connectome.read, { edges = epath, neurons = npath, weight = "syn", id = "root" })
      assert.matches(npath:gsub("%p", "%%%0") .. " line 1: no column 'root'", err)
    end)

    it("names file, line and column for a non-numeric weight", function()
      local p = write("m2.csv", "pre,post,weight\n1,2,3\n\n2,3,abc\n")
      local ok, err = pcall(ci.connectome.read, { edges = p })
      assert.is_false(ok)
      assert.matches(p:gsub("%p", "%%%0") .. " line 4, column weight: 'abc' is not a finite number", err)
      p = write("m3.csv", "pre,post,weight\n1,2,\n")
      ok, err = pcall(ci.connectome.read, { edges = p })
      assert.matches("line 2, column weight: missing value", err)
      p = write("m4.csv", "pre,post,weight\n1,2,-3\n")
      ok, err = pcall(ci.connectome.read, { edges = p })
      assert.matches("line 2, column weight: negative weight '%-3'", err)
    end)

    it("names file, line and column for an id absent from the neuron table", function()
      local p = write("m5.csv", "pre,post,syn\n" .. A .. "," .. B .. ",1\n" .. B .. ",720575940600000009,2\n")
      local ok, err = pcall(ci.connectome.read, { edges = p, neurons = npath, weight = "syn" })
      assert.is_false(ok)
      assert.matches(p:gsub("%p", "%%%0") ..
                     " line 3, column post: id '720575940600000009' is not in the neuron table", err)
    end)

    it("rejects duplicate neuron ids, short rows and bad sign values", function()
      local n2 = write("n2.csv", "id,type\n1,a\n2,b\n1,c\n")
      local e2 = write("e2.csv", "pre,post,weight\n1,2,1\n")
      local ok, err = pcall(ci.connectome.read, { edges = e2, neurons = n2 })
      assert.matches(n2:gsub("%p", "%%%0") .. " line 4, column id: duplicate id '1'", err)
      local e3 = write("e3.csv", "pre,post,weight\n1,2,1\n2,1\n")
      ok, err = pcall(ci.connectome.read, { edges = e3 })
      assert.matches(e3:gsub("%p", "%%%0") .. " line 3, column weight: the row has 2 fields", err)
      local n3 = write("n3.csv", "id,sign\n1,1\n2,0\n")
      ok, err = pcall(ci.connectome.read, { edges = e2, neurons = n3 })
      assert.matches(n3:gsub("%p", "%%%0") .. " line 3, column sign: sign 0", err)
      ok, err = pcall(ci.connectome.read, { edges = tmp .. "_absent.csv" })
      assert.matches("ci.connectome.read: .*absent.csv: No such file", err)
      ok, err = pcall(ci.connectome.read, { edges = e2, colour = 1 })
      assert.matches("unknown option 'colour'", err)
      ok, err = pcall(ci.connectome.read, { edges = e2, treshold = 1 })
      assert.matches("ci.connectome.read: unknown option 'treshold' (did you mean 'threshold'?)", err, 1, true)
      ok, err = pcall(ci.connectome.read, { edges = e2, sign_missing = 2 })
      assert.matches("option 'sign_missing' must be one of 1, -1 or 0, got a number (2)", err, 1, true)
    end)
  end)
end)

-- the real tables, when ../shared/data is present
local DATA
for _, d in ipairs({ os.getenv("CINTERP_DATA") or "", "../shared/data", "/work/shared/data" }) do
  if d ~= "" then
    local fh = io.open(d .. "/larva_winding2023/SOURCE.md")
    if fh then fh:close(); DATA = d; break end
  end
end

describe("ci.connectome.read on the real tables", function()
  -- counts from each folder's SOURCE.md
  local cases = {
    { "larva_winding2023", 2952, 110677, 352611, nil },
    { "flywire_783_mushroom_body", 5966, 53452, 601793, { 5562 + 318, 86 } },
    { "celegans_cook2019", 448, 4681, 27019, { 200 + 222, 26 } },
  }
  for _, case in ipairs(cases) do
    local name, n, nnz, syn, signs = case[1], case[2], case[3], case[4], case[5]
    it(name .. ": neurons, connections, synapses and column sums as SOURCE.md gives", function()
      if not DATA then pending("../shared/data is absent") return end
      local c = ci.connectome.read { edges = DATA .. "/" .. name .. "/edges.csv.gz",
                                     neurons = DATA .. "/" .. name .. "/neurons.csv.gz" }
      assert.are.equal(n, c.n)
      assert.are.equal(nnz, c.nnz)
      local total = 0
      for i = 1, c.n do total = total + c.in_synapses[i] end
      assert.are.equal(syn, total)
      local s = colsums(c.inprop)
      local with_input, bad = 0, 0
      for i = 1, c.n do
        if c.in_synapses[i] > 0 then
          with_input = with_input + 1
          if math.abs(s[i] - 1) > 1e-5 then bad = bad + 1 end
        else
          assert.is_nil(s[i])
        end
      end
      assert.is_true(with_input > 0)
      assert.are.equal(0, bad)
      if signs then
        local plus, minus = 0, 0
        for i = 1, c.n do
          if c.sign[i] == 1 then plus = plus + 1 else minus = minus + 1 end
        end
        assert.are.same(signs, { plus, minus })
      end
    end)
  end

  it("flywire mushroom body: groups and selections on real columns", function()
    if not DATA then pending("../shared/data is absent") return end
    local c = ci.connectome.read { edges = DATA .. "/flywire_783_mushroom_body/edges.csv.gz",
                                   neurons = DATA .. "/flywire_783_mushroom_body/neurons.csv.gz",
                                   nt = "nt_type" }
    assert.are.equal(5154, #c:select { group = "Kenyon_Cell" })
    assert.are.equal(94, #c:select { class = "MBON" })
    local types = c:groups("type")
    assert.are.equal(c.n, #types)
    local id = c.ids[10]
    assert.are.equal(10, c:index(id))
    assert.are.equal(18, #id)
  end)
end)
