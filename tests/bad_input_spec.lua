-- bad_input_spec.lua: a battery of bad inputs over the whole public Lua API. Each
-- case must raise a Lua error (never crash the process) whose message names the
-- function (first pattern) and the argument or problem (second pattern), and must
-- leave every object it was given unchanged (tensor contents, frame contents,
-- sparse triplets, network parameters and weights are snapshotted before and
-- compared after). NaN and inf in weights and inputs are not errors: they
-- propagate, checked at the end. Cases are generated from tables to stay readable.
local ci = require "cinterp"

local TMP = os.tmpname()
os.remove(TMP)
local function tmpfile(suffix, content)
  local p = TMP .. suffix
  local f = assert(io.open(p, "wb"))
  f:write(content)
  f:close()
  return p
end

-- gzip bytes of `text` through the gzip program (for truncated-gzip cases)
local function gzip_of(text)
  local p = tmpfile(".plain", text)
  local h = assert(io.popen("gzip -c " .. p))
  local gz = h:read("*a")
  h:close()
  os.remove(p)
  return gz
end

-- ---------------------------------------------------------------- fixtures
local X = {}
local function fixtures()
  X.t = ci.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  X.v = ci.tensor { 1, 2, 3 }
  X.e = ci.zeros(0)
  X.f = ci.frame { a = { 1, 2, 3 }, b = { "x", "y", "z" } }
  X.ef = ci.frame.from_rows({ "a", "b" }, {})
  X.W = ci.sparse({ 2, 3, 1, 4, 3 }, { 1, 2, 3, 3, 4 }, { 0.5, -0.25, 0.75, 1.0, 0.5 }, 4, 4)
  X.groups = { "A", "B", "A", "C" }
  X.net = ci.MultilayeredNetwork(X.W, { 1, 2 }, { num_layers = 3, idx_to_group = X.groups })
  X.lin = ci.LinearNetwork(X.W, { 1, 2 }, { num_layers = 3 })
  X.u = ci.rand(2, 3)          -- one batch: (S, L)
  X.ub = ci.rand(2, 2, 3)      -- (B, S, L)
  X.acts = X.net:forward(X.ub)  -- (B, n, L)
  X.ta = ci.TargetActivation { targets = { [2] = { [3] = 0.5 } }, batch_size = 1 }
  X.tf = ci.frame.from_rows({ "batch", "neuron_idx", "layer", "value" }, { { 1, 3, 2, 0.5 } })
  X.path = ci.frame.from_rows({ "pre", "post", "layer", "weight" }, { { 1, 3, 1, 0.75 } })
end

-- a deep snapshot of everything a case could touch
local function snapshot()
  local s = {}
  for _, k in ipairs { "t", "v", "u", "ub", "acts" } do s[k] = X[k]:totable() end
  s.e = X.e:numel()
  for _, k in ipairs { "f", "ef", "tf", "path" } do
    s[k] = { names = X[k]:columns(), rows = X[k]:to_rows() }
  end
  local r, c, v = X.W:triplets()
  s.W = { r, c, v, X.W:size() }
  for _, k in ipairs { "net", "lin" } do
    local n = X[k]
    s[k] = { n.num_layers }
    for _, p in ipairs { "slope", "raw_biases", "tau_param", "divisive_strength" } do
      if n[p] ~= nil then s[k][p] = n[p]:totable() end
    end
  end
  s.groups = { unpack(X.groups) }
  return s
end

local function same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b or (a ~= a and b ~= b) end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

-- ---------------------------------------------------------------- the cases
-- { description, function raising the error, function pattern, argument pattern }
local cases = {}
local function case(desc, fn, fpat, apat) cases[#cases + 1] = { desc, fn, fpat, apat } end

-- tensors: construction
for _, c in ipairs {
  { "ragged rows", function() return ci.tensor { { 1, 2, 3 }, { 4, 5 } } end, "row 2" },
  { "a string element", function() return ci.tensor { 1, "x", 3 } end, "" },
  { "a boolean", function() return ci.tensor(true) end, "" },
  { "nil", function() return ci.tensor(nil) end, "" },
  { "a function", function() return ci.tensor(print) end, "" },
  { "five dimensions", function() return ci.tensor { { { { { 1 } } } } } end, "" },
  { "a frame", function() return ci.tensor(X.f) end, "" },
} do case("ci.tensor: " .. c[1], c[2], "ci%.tensor", c[3]) end

for _, fname in ipairs { "zeros", "ones", "rand", "randn" } do
  for _, c in ipairs {
    { "negative size", { -1 } }, { "fractional size", { 2.5 } }, { "string size", { "a" } },
    { "five sizes", { 1, 1, 1, 1, 1 } }, { "overflowing sizes", { 2 ^ 40, 2 ^ 40 } },
  } do
    case("ci." .. fname .. ": " .. c[1], function() return ci[fname](unpack(c[2])) end,
         "ci%." .. fname, "")
  end
end
case("ci.full: value not a number", function() return ci.full("x", 2) end, "ci%.full", "")
case("ci.full: negative size", function() return ci.full(1, -2) end, "ci%.full", "")
case("ci.manual_seed: a string", function() return ci.manual_seed("x") end, "manual_seed", "")

-- tensors: methods with bad indices / dims
local tcases = {
  { "get: index 0", function() return X.t:get(0, 1) end, "get" },
  { "get: negative", function() return X.t:get(1, -1) end, "get" },
  { "get: past the end", function() return X.t:get(3, 1) end, "get" },
  { "get: too few indices", function() return X.t:get(1) end, "get" },
  { "get: fractional", function() return X.t:get(1.5, 1) end, "get" },
  { "set: index 0", function() return X.t:set(9, 0, 1) end, "set" },
  { "set: past the end", function() return X.t:set(9, 2, 4) end, "set" },
  { "set: value a string", function() return X.t:set("x", 1, 1) end, "set" },
  { "size: dim 0", function() return X.t:size(0) end, "size" },
  { "size: dim 3", function() return X.t:size(3) end, "size" },
  { "select: dim 0", function() return X.t:select(0, 1) end, "select" },
  { "select: dim 3", function() return X.t:select(3, 1) end, "select" },
  { "select: index 0", function() return X.t:select(1, 0) end, "select" },
  { "select: index past end", function() return X.t:select(1, 3) end, "select" },
  { "select: negative index", function() return X.t:select(2, -1) end, "select" },
  { "narrow: start 0", function() return X.t:narrow(2, 0, 1) end, "narrow" },
  { "narrow: too long", function() return X.t:narrow(2, 2, 3) end, "narrow" },
  { "narrow: negative length", function() return X.t:narrow(2, 1, -1) end, "narrow" },
  { "index: index 0", function() return X.t:index(2, { 1, 0 }) end, "index" },
  { "index: past end", function() return X.t:index(2, { 4 }) end, "index" },
  { "index: not a table", function() return X.t:index(2, "a") end, "index" },
  { "index: dim 9", function() return X.t:index(9, { 1 }) end, "index" },
  { "sum: dim 0", function() return X.t:sum(0) end, "sum" },
  { "sum: dim 3", function() return X.t:sum(3) end, "sum" },
  { "sum: dim -3", function() return X.t:sum(-3) end, "sum" },
  { "mean: dim 0", function() return X.t:mean(0) end, "mean" },
  { "mean: dim 5", function() return X.t:mean(5) end, "mean" },
  { "max of an empty tensor", function() return X.e:max() end, "max" },
  { "min of an empty tensor", function() return X.e:min() end, "min" },
  { "norm: p = 0", function() return X.t:norm(0) end, "norm" },
  { "norm: p a string", function() return X.t:norm("x") end, "norm" },
  { "pow: exponent a table", function() return X.t:pow({}) end, "pow" },
  { "clamp: lo a string", function() return X.t:clamp("a", 1) end, "clamp" },
  { "add: shapes", function() return X.t + ci.ones(2, 2) end, "" },
  { "sub: shapes", function() return X.t - ci.ones(3) - ci.ones(2, 2) end, "" },
  { "mul: with a string", function() return X.t * "x" end, "" },
  { "div: with a table", function() return X.t / {} end, "" },
  { "add: with a frame", function() return X.t + X.f end, "" },
  { "backward on a non-scalar", function()
      local a = ci.ones(2):requires_grad(true); return (a * 2):backward() end, "backward" },
  { "backward on a leaf without grad", function() return X.v:backward() end, "backward" },
  { "requires_grad: a string", function() return ci.ones(2):requires_grad("yes") end, "requires_grad" },
}
for _, c in ipairs(tcases) do case("tensor:" .. c[1], c[2], c[3] == "" and "" or c[3], "") end
case("ci.tensor method with a frame as self", function() return X.t.sum(X.f) end, "sum", "")
case("ci.tensor method with a number as self", function() return X.t.numel(3) end, "numel", "")
case("ci.tensor method with a sparse as self", function() return X.t.clone(X.W) end, "clone", "")
case("tensor:totable with a table as self", function() return X.t.totable({}) end, "totable", "")

-- sparse
local scases = {
  { "row 0", function() return ci.sparse({ 0 }, { 1 }, { 1 }, 2, 2) end, "row" },
  { "row past nrows", function() return ci.sparse({ 3 }, { 1 }, { 1 }, 2, 2) end, "row" },
  { "negative column", function() return ci.sparse({ 1 }, { -1 }, { 1 }, 2, 2) end, "col" },
  { "column past ncols", function() return ci.sparse({ 1 }, { 3 }, { 1 }, 2, 2) end, "col" },
  { "lengths differ", function() return ci.sparse({ 1, 2 }, { 1 }, { 1 }, 2, 2) end, "" },
  { "negative nrows", function() return ci.sparse({}, {}, {}, -1, 2) end, "" },
  { "string value", function() return ci.sparse({ 1 }, { 1 }, { "x" }, 2, 2) end, "" },
  { "fractional index", function() return ci.sparse({ 1.5 }, { 1 }, { 1 }, 2, 2) end, "" },
  { "rows not a table", function() return ci.sparse(1, { 1 }, { 1 }, 2, 2) end, "rows" },
  { "from_dense of a 3-d tensor", function() return ci.sparse.from_dense(ci.ones(2, 2, 2)) end, "from_dense" },
  { "from_dense of a frame", function() return ci.sparse.from_dense(X.f) end, "from_dense" },
  { "get: row 0", function() return X.W:get(0, 1) end, "get" },
  { "get: past the end", function() return X.W:get(1, 5) end, "get" },
  { "size: dim 3", function() return X.W:size(3) end, "size" },
  { "times a wrong-sized tensor", function() return X.W * ci.ones(3) end, "" },
  { "times a string", function() return X.W * "x" end, "" },
  { "scale_rows: wrong length", function() return X.W:scale_rows { 1, 2 } end, "scale_rows" },
  { "scale_cols: not numbers", function() return X.W:scale_cols { "a", "b", "c", "d" } end, "scale_cols" },
  { "method with a tensor as self", function() return X.W.nnz(X.t) end, "nnz" },
  { "transpose with a frame as self", function() return X.W.transpose(X.f) end, "transpose" },
}
for _, c in ipairs(scases) do case("ci.sparse: " .. c[1], c[2], c[3] == "" and "sparse" or c[3], "") end

-- frames
local fcases = {
  { "ci.frame of ragged columns", function() return ci.frame { a = { 1, 2 }, b = { 1 } } end, "frame", "" },
  { "ci.frame of a number", function() return ci.frame(3) end, "frame", "" },
  { "from_rows: ragged row", function() return ci.frame.from_rows({ "a", "b" }, { { 1, 2 }, { 1 } }) end, "from_rows", "" },
  { "from_rows: names not a table", function() return ci.frame.from_rows("a", {}) end, "from_rows", "" },
  { "from_rows: duplicate names", function() return ci.frame.from_rows({ "a", "a" }, { { 1, 2 } }) end, "from_rows", "" },
  { "col: unknown column", function() return X.f:col("nope") end, "col", "nope" },
  { "row: 0", function() return X.f:row(0) end, "row", "0" },
  { "row: past the end", function() return X.f:row(4) end, "row", "4" },
  { "row: of an empty frame", function() return X.ef:row(1) end, "row", "" },
  { "row: negative", function() return X.f:row(-1) end, "row", "" },
  { "select: unknown column", function() return X.f:select { "a", "zz" } end, "select", "zz" },
  { "drop: unknown column", function() return X.f:drop { "zz" } end, "drop", "zz" },
  { "sort: unknown column", function() return X.f:sort "zz" end, "sort", "zz" },
  { "head: negative", function() return X.f:head(-1) end, "head", "" },
  { "tail: a string", function() return X.f:tail("x") end, "tail", "" },
  { "filter: not a function", function() return X.f:filter(3) end, "filter", "" },
  { "groupby: unknown key", function() return X.f:groupby("zz") end, "groupby", "zz" },
  { "join: unknown key", function() return X.f:join(X.f, "zz") end, "join", "zz" },
  { "join: not a frame", function() return X.f:join({}, "a") end, "join", "" },
  { "add_column: wrong length", function() return X.f:add_column("c", { 1, 2 }) end, "add_column", "" },
  { "map: unknown column", function() return X.f:map("zz", {}) end, "map", "zz" },
  { "method with a tensor as self", function() return X.f.nrow(X.t) end, "nrow", "" },
  { "col with a sparse as self", function() return X.f.col(X.W, "a") end, "col", "" },
  { "write_csv to a missing directory", function() return X.f:write_csv("/nonexistent/dir/o.csv") end, "write_csv", "nonexistent" },
  { "write_csv: path not a string", function() return X.f:write_csv(3) end, "write_csv", "path" },
  { "write_csv with a tensor as self", function() return ci.write_csv(X.t, TMP .. ".w.csv") end, "write_csv", "" },
}
for _, c in ipairs(fcases) do case("frame: " .. c[1], c[2], c[3], c[4]) end

-- CSV files: missing and malformed
local long_line = string.rep("1,", 1500000) .. "1\n"   -- a 3 MB header line
local gz = gzip_of("pre,post,weight\n1,2,3\n2,3,4\n")
local csvcases = {
  { "missing file", function() return ci.read_csv(TMP .. ".missing.csv") end, "missing%.csv" },
  { "a directory", function() return ci.read_csv("/tmp") end, "/tmp" },
  { "path a number", function() return ci.read_csv(42) end, "path" },
  { "opts a string", function() return ci.read_csv(tmpfile(".o.csv", "a\n1\n"), "x") end, "opts" },
  { "ragged rows", function() return ci.read_csv(tmpfile(".r.csv", "a,b\n1,2\n3\n")) end, "line 3" },
  { "stray quote", function() return ci.read_csv(tmpfile(".q.csv", "a,b\n1,\"2\n")) end, "quote" },
  { "empty file", function() return ci.read_csv(tmpfile(".e.csv", "")) end, "empty" },
  { "truncated gzip", function() return ci.read_csv(tmpfile(".t.csv.gz", gz:sub(1, 20))) end, "t%.csv%.gz" },
  { "gzip with a corrupt body", function()
      return ci.read_csv(tmpfile(".c.csv.gz", gz:sub(1, 12) .. string.rep("\255", 30))) end, "c%.csv%.gz" },
  { "a very long ragged line", function()
      return ci.read_csv(tmpfile(".l.csv", "a,b\n" .. long_line)) end, "line 2" },
  { "sep of two characters", function() return ci.read_csv(tmpfile(".s.csv", "a\n1\n"), { sep = ";;" }) end, "sep" },
  { "read_csv_string of a number", function() return ci.read_csv_string(5) end, "text" },
}
for _, c in ipairs(csvcases) do case("ci.read_csv: " .. c[1], c[2], "read_csv", c[3]) end

-- connectomes
local function edges(text) return tmpfile(".edges.csv", text) end
local ccases = {
  { "options not a table", function() return ci.connectome.read("e.csv") end, "options" },
  { "unknown option", function() return ci.connectome.read { edges = edges "pre,post,weight\n1,2,3\n", bogus = 1 } end, "bogus" },
  { "missing edge file", function() return ci.connectome.read { edges = TMP .. ".nope.csv" } end, "nope%.csv" },
  { "non-numeric weight", function() return ci.connectome.read { edges = edges "pre,post,weight\n1,2,3\n2,1,abc\n" } end, "weight" },
  { "negative weight", function() return ci.connectome.read { edges = edges "pre,post,weight\n1,2,-3\n" } end, "weight" },
  { "ragged row", function() return ci.connectome.read { edges = edges "pre,post,weight\n1,2\n" } end, "line 2" },
  { "no weight column", function() return ci.connectome.read { edges = edges "pre,post,w\n1,2,3\n" } end, "weight" },
  { "empty id", function() return ci.connectome.read { edges = edges "pre,post,weight\n,2,3\n" } end, "pre" },
  { "truncated gzip", function() return ci.connectome.read { edges = tmpfile(".e.csv.gz", gz:sub(1, 25)) } end, "e%.csv%.gz" },
  { "id absent from the neuron table", function()
      return ci.connectome.read { edges = edges "pre,post,weight\n1,2,3\n",
                                  neurons = tmpfile(".n.csv", "id\n1\n") } end, "'2'" },
  { "duplicate id in the neuron table", function()
      return ci.connectome.read { edges = edges "pre,post,weight\n1,2,3\n",
                                  neurons = tmpfile(".n.csv", "id\n1\n2\n1\n") } end, "1" },
}
for _, c in ipairs(ccases) do case("ci.connectome.read: " .. c[1], c[2], "connectome", c[3]) end

-- networks
for _, ctor in ipairs { "MultilayeredNetwork", "LinearNetwork" } do
  local function mk(w, s, o)  -- "W" stands for the fixture matrix (built later, in setup)
    return function() return ci[ctor](w == "W" and X.W or w, s, o) end
  end
  for _, c in ipairs {
    { "weights a tensor of the wrong shape", mk(ci.ones(2, 3), { 1 }, {}), "square" },
    { "weights a string", mk("w", { 1 }, {}), "all_weights" },
    { "weights a frame", mk(X.f, { 1 }, {}), "all_weights" },
    { "sensory index 0", mk("W", { 0, 1 }, {}), "sensory_indices" },
    { "sensory index past n", mk("W", { 1, 5 }, {}), "sensory_indices" },
    { "negative sensory index", mk("W", { -1 }, {}), "sensory_indices" },
    { "duplicated sensory indices", mk("W", { 2, 2 }, {}), "sensory_indices" },
    { "fractional sensory index", mk("W", { 1.5 }, {}), "sensory_indices" },
    { "sensory indices a number", mk("W", 1, {}), "sensory_indices" },
    { "num_layers 0", mk("W", { 1 }, { num_layers = 0 }), "num_layers" },
    { "num_layers negative", mk("W", { 1 }, { num_layers = -2 }), "num_layers" },
    { "num_layers a string", mk("W", { 1 }, { num_layers = "3" }), "num_layers" },
    { "idx_to_group too short", mk("W", { 1 }, { idx_to_group = { "A", "B" } }), "idx_to_group" },
    { "idx_to_group a string", mk("W", { 1 }, { idx_to_group = "A" }), "idx_to_group" },
    { "opts a number", mk("W", { 1 }, 3), "" },
    { "num_layer (misspelled)", mk("W", { 1 }, { num_layer = 5 }), "did you mean 'num_layers'" },
    { "tanh_steepnes (misspelled)", mk("W", { 1 }, { tanh_steepnes = 3 }), "did you mean 'tanh_steepness'" },
    { "opts an array", mk("W", { 1 }, { 3, 2 }), "Lua array" },
  } do case(ctor .. ": " .. c[1], c[2], ctor, c[3]) end
end
for _, c in ipairs {
  { "inputs of the wrong sensory size", function() return X.net:forward(ci.ones(3, 3)) end, "inputs" },
  { "inputs of the wrong number of layers", function() return X.net:forward(ci.ones(2, 4)) end, "inputs" },
  { "inputs 4-d", function() return X.net:forward(ci.ones(1, 1, 2, 3)) end, "inputs" },
  { "inputs a frame", function() return X.net:forward(X.f) end, "inputs" },
  { "inputs a string", function() return X.net:forward("x") end, "inputs" },
  { "empty inputs", function() return X.net:forward(X.e) end, "inputs" },
  { "manipulate a number", function() return X.net:forward(X.u, { manipulate = 3 }) end, "manipulate" },
  { "manipulate layer 0", function() return X.lin:forward(X.u, { manipulate = { [0] = { [1] = 1 } } }) end, "layer" },
  { "manipulate layer -2", function() return X.lin:forward(X.u, { manipulate = { [-2] = { [1] = 1 } } }) end, "layer" },
  { "manipulate neuron 0", function() return X.lin:forward(X.u, { manipulate = { [1] = { [0] = 1 } } }) end, "neuron" },
  { "manipulate neuron past n", function() return X.lin:forward(X.u, { manipulate = { [1] = { [5] = 1 } } }) end, "neuron" },
  { "manipulate unknown group", function() return X.net:forward(X.u, { manipulate = { [1] = { Z = 1 } } }) end, "Z" },
  { "manipulate value a string", function() return X.net:forward(X.u, { manipulate = { [1] = { A = "x" } } }) end, "value" },
  { "manipulate batch 3 of 2", function() return X.lin:forward(X.ub, { manipulate = { [3] = { [1] = { [1] = 1 } } } }) end, "batch" },
  -- issue 13: the reference ignores these, and the experiment vanishes in silence
  { "manipulate layer past num_layers", function() return X.lin:forward(X.u, { manipulate = { [4] = { [3] = 9 } } }) end, "layer 4 is out of range 1..3" },
  { "manipulate a numeric key with groups", function() return X.net:forward(X.u, { manipulate = { [1] = { [3] = 0.5 } } }) end, "key 3 is not a group" },
  { "manipulate misspelled", function() return X.net:forward(X.u, { manipulte = { [1] = { A = 0 } } }) end, "manipulte" },
  { "checkpoint_steps negative", function() return X.net:forward(X.u, { checkpoint_steps = -1 }) end, "checkpoint_steps" },
  { "forward with a tensor as self", function() return X.net.forward(X.t, X.u) end, "forward" },
  { "forward with a frame as self", function() return X.net.forward(X.f, X.u) end, "forward" },
} do case("net:forward: " .. c[1], c[2], "forward", c[3]) end
case("net:set_param_grads: unknown name", function() return X.net:set_param_grads { bogus = true } end, "set_param_grads", "bogus")
case("ci.training_mode: fn not a function", function() return ci.training_mode(X.net, {}, 3) end, "training_mode", "")

-- targets
for _, c in ipairs {
  { "targets a number", function() return ci.TargetActivation(3) end, "targets" },
  { "layer 0", function() return ci.TargetActivation { targets = { [0] = { [1] = 1 } } } end, "layer" },
  { "neuron 0", function() return ci.TargetActivation { targets = { [1] = { [0] = 1 } } } end, "neuron" },
  { "value a string", function() return ci.TargetActivation { targets = { [1] = { [1] = "x" } } } end, "must be a number" },
  { "batch_size 0", function() return ci.TargetActivation { targets = { [1] = { [1] = 1 } }, batch_size = 0 } end, "batch_size" },
  { "frame without a value column", function()
      return ci.TargetActivation { targets = ci.frame { layer = { 1 }, neuron = { 1 } } } end, "value" },
  { "frame with layer -1", function()
      return ci.TargetActivation { targets = ci.frame { layer = { -1 }, neuron = { 1 }, value = { 1 } } } end, "layer" },
  { "get_batch_targets(0)", function() return X.ta:get_batch_targets(0) end, "get_batch_targets" },
  { "get_batch_targets past batch_size", function() return X.ta:get_batch_targets(2) end, "get_batch_targets" },
  { "target (misspelled)", function() return ci.TargetActivation { target = { [1] = { [1] = 1 } } } end, "did you mean 'targets'" },
} do case("ci.TargetActivation: " .. c[1], c[2], "TargetActivation", c[3]) end

-- activation maximisation
local function ta(t, B) return ci.TargetActivation { targets = t, batch_size = B or 1 } end
for _, c in ipairs {
  { "net a table", function() return ci.activation_maximisation({}, X.ta) end, "net" },
  { "targets a number", function() return ci.activation_maximisation(X.net, 3) end, "targets" },
  { "target at a layer past num_layers", function() return ci.activation_maximisation(X.net, ta { [4] = { [1] = 1 } }, { num_iterations = 1, quiet = true }) end, "layer" },
  { "target neuron past n", function() return ci.activation_maximisation(X.net, ta { [1] = { [9] = 1 } }, { num_iterations = 1, quiet = true }) end, "neuron" },
  { "num_iterations negative", function() return ci.activation_maximisation(X.net, X.ta, { num_iterations = -1 }) end, "num_iterations" },
  { "learning_rate a string", function() return ci.activation_maximisation(X.net, X.ta, { learning_rate = "x" }) end, "learning_rate" },
  { "input_tensor of the wrong shape", function() return ci.activation_maximisation(X.net, X.ta, { input_tensor = ci.ones(1, 3, 3), num_iterations = 1, quiet = true }) end, "input_tensor" },
  { "device cuda on a cpu build", function() return ci.activation_maximisation(X.net, X.ta, { device = "tpu" }) end, "device" },
  { "num_iteration (misspelled)", function() return ci.activation_maximisation(X.net, X.ta, { num_iteration = 3 }) end, "did you mean 'num_iterations'" },
  { "keep_best a string", function() return ci.activation_maximisation(X.net, X.ta, { keep_best = "yes" }) end, "keep_best" },
  { "custom_reg_functions not functions", function() return ci.activation_maximisation(X.net, X.ta, { custom_reg_functions = { ["in"] = 3 }, num_iterations = 1, quiet = true }) end, "custom_reg_functions" },
} do case("ci.activation_maximisation: " .. c[1], c[2], "activation_maximisation", c[3]) end

-- train_model
for _, c in ipairs {
  { "inputs a string", function() return ci.train_model(X.net, "x", X.tf, { quiet = true }) end, "inputs" },
  { "inputs of the wrong shape", function() return ci.train_model(X.net, ci.ones(2, 3, 3), X.tf, { quiet = true }) end, "inputs" },
  { "targets a number", function() return ci.train_model(X.net, X.ub, 3, { quiet = true }) end, "targets" },
  { "targets frame without value", function() return ci.train_model(X.net, X.ub, ci.frame { batch = { 1 }, neuron_idx = { 1 } }, { quiet = true }) end, "value" },
  { "target batch past B", function() return ci.train_model(X.net, X.ub, ci.frame.from_rows({ "batch", "neuron_idx", "value" }, { { 3, 1, 0.5 } }), { quiet = true }) end, "batch" },
  { "target neuron 0", function() return ci.train_model(X.net, X.ub, ci.frame.from_rows({ "batch", "neuron_idx", "value" }, { { 1, 0, 0.5 } }), { quiet = true }) end, "neuron" },
  { "target layer past num_layers", function() return ci.train_model(X.net, X.ub, ci.frame.from_rows({ "batch", "neuron_idx", "layer", "value" }, { { 1, 1, 4, 0.5 } }), { quiet = true }) end, "layer" },
  { "num_epochs negative", function() return ci.train_model(X.net, X.ub, X.tf, { num_epochs = -1, quiet = true }) end, "num_epochs" },
  { "activation_loss_fn unknown", function() return ci.train_model(X.net, X.ub, X.tf, { activation_loss_fn = "huber", quiet = true }) end, "activation_loss_fn" },
  { "train_fraction 2", function() return ci.train_model(X.net, X.ub, X.tf, { train_fraction = 2, quiet = true }) end, "train_fraction" },
  { "num_epoch (misspelled)", function() return ci.train_model(X.net, X.ub, X.tf, { num_epoch = 3 }) end, "did you mean 'num_epochs'" },
  { "empty targets frame", function() return ci.train_model(X.net, X.ub, ci.frame.from_rows({ "batch", "neuron_idx", "value" }, {}), { quiet = true }) end, "targets" },
} do case("ci.train_model: " .. c[1], c[2], "train_model", c[3]) end

-- saliency and gradients
for _, c in ipairs {
  { "saliency: x of the wrong shape", function() return ci.saliency(X.net, ci.ones(3, 3), { [1] = { 3 } }) end, "saliency", "" },
  { "saliency: neuron 0", function() return ci.saliency(X.net, X.u, { [1] = { 0 } }) end, "saliency", "neuron" },
  { "saliency: neuron past n", function() return ci.saliency(X.net, X.u, { [1] = { 7 } }) end, "saliency", "" },
  { "saliency: layer past num_layers", function() return ci.saliency(X.net, X.u, { [4] = { 1 } }) end, "saliency", "layer" },
  { "saliency: unknown method", function() return ci.saliency(X.net, X.u, { [1] = { 1 } }, { method = "magic" }) end, "saliency", "method" },
  { "saliency: neurons a number", function() return ci.saliency(X.net, X.u, 3) end, "saliency", "" },
  { "saliency: normalise (misspelled)", function() return ci.saliency(X.net, X.u, { [1] = { 1 } }, { normalise = true }) end, "saliency", "did you mean 'normalize'" },
  { "get_gradients: monitor neuron 0", function() return ci.get_gradients(X.net, X.u, { 0 }, { 1 }) end, "get_gradients", "" },
  { "get_gradients: target past n", function() return ci.get_gradients(X.net, X.u, { 1 }, { 9 }) end, "get_gradients", "" },
  { "get_gradients: x a frame", function() return ci.get_gradients(X.net, X.f, { 1 }, { 1 }) end, "get_gradients", "" },
} do case("ci." .. c[1], c[2], c[3], c[4]) end

-- data and path functions
for _, c in ipairs {
  { "add_sign: inprop a tensor of the wrong shape", function() return ci.add_sign(ci.ones(2, 3), { 1, 1 }) end, "add_sign", "" },
  { "add_sign: sign key past n", function() return ci.add_sign(X.W:transpose(), { [9] = -1 }) end, "add_sign", "idx_to_sign" },
  { "add_sign: sign key 0", function() return ci.add_sign(X.W:transpose(), { [0] = -1 }) end, "add_sign", "idx_to_sign" },
  { "add_sign: sign a string", function() return ci.add_sign(X.W:transpose(), { 1, "x", 1, 1 }) end, "add_sign", "" },
  { "input_from_df: not a frame", function() return ci.input_from_df(3, { 1, 2 }, X.groups, 3) end, "input_from_df", "" },
  { "input_from_df: a text response", function()
      return ci.input_from_df(ci.frame.from_rows({ "glom", "odour" }, { { "A", "x" } }), { 1, 2 }, X.groups, 3) end, "input_from_df", "odour" },
  { "input_from_df: timepoint past num_layers", function()
      return ci.input_from_df(ci.frame.from_rows({ "glom", "odour" }, { { "A", 1 } }), { 1, 2 }, X.groups, 3, 4) end, "input_from_df", "timepoints" },
  { "input_from_df: num_layers 0", function()
      return ci.input_from_df(ci.frame.from_rows({ "glom", "odour" }, { { "A", 1 } }), { 1, 2 }, X.groups, 0) end, "input_from_df", "num_layers" },
  { "get_neuron_activation: neuron 0", function() return ci.get_neuron_activation(X.acts, { 0 }) end, "get_neuron_activation", "" },
  { "get_neuron_activation: past n", function() return ci.get_neuron_activation(X.acts, { 9 }) end, "get_neuron_activation", "" },
  { "get_neuron_activation: not a tensor", function() return ci.get_neuron_activation(X.f, { 1 }) end, "get_neuron_activation", "" },
  { "get_input_activation: wrong shape", function() return ci.get_input_activation(ci.ones(5, 3), { 1, 2 }, X.groups) end, "get_input_activation", "" },
  { "activity_by_column: unknown group", function()
      return ci.activity_by_column(X.acts:select(1, 1), X.groups, { 1, 1, 2, 2 }, "ZZ") end, "activity_by_column", "ZZ" },
  { "activity_by_column: short column map", function()
      return ci.activity_by_column(X.acts:select(1, 1), X.groups, { 1 }, "A") end, "activity_by_column", "" },
  { "guess_optimal_stimulus: sensory index 0", function()
      return ci.guess_optimal_stimulus(X.W:transpose(), { 0 }, { 1, 1, 1, 1 }, { [3] = 1 }) end, "guess_optimal_stimulus", "" },
  { "get_activations_for_path: not a frame", function() return ci.get_activations_for_path(3, X.acts:select(1, 1)) end, "get_activations_for_path", "" },
  { "get_activations_for_path: neuron past n", function()
      return ci.get_activations_for_path(ci.frame.from_rows({ "pre", "post", "layer", "weight" }, { { 1, 9, 1, 0.5 } }), X.acts:select(1, 1)) end, "get_activations_for_path", "" },
  { "get_activations_for_path: layer past L", function()
      return ci.get_activations_for_path(ci.frame.from_rows({ "pre", "post", "layer", "weight" }, { { 1, 3, 9, 0.5 } }), X.acts:select(1, 1)) end, "get_activations_for_path", "" },
  { "activated_path_for_ngl: missing columns", function() return ci.activated_path_for_ngl(X.f) end, "activated_path_for_ngl", "" },
  { "activations_to_df: wrong shapes", function()
      return ci.activations_to_df(X.W:transpose(), ci.ones(5, 3), X.acts:select(1, 1), { 1, 2 }) end, "activations_to_df", "" },
} do case("ci." .. c[1], c[2], c[3], c[4]) end

-- plots (nothing is rendered: each fails on its arguments)
for _, c in ipairs {
  { "plot_timeseries: not a frame", function() return ci.plot_timeseries(3) end, "plot_timeseries" },
  { "plot_timeseries: empty frame", function() return ci.plot_timeseries(X.ef) end, "plot_timeseries" },
  { "plot_heatmap: an empty tensor", function() return ci.plot_heatmap(ci.zeros(0, 3)) end, "plot_heatmap" },
  { "plot_heatmap: a string", function() return ci.plot_heatmap("x") end, "plot_heatmap" },
  { "plot_heatmap: a 4-d tensor", function() return ci.plot_heatmap(ci.ones(2, 2, 2, 2)) end, "plot_heatmap" },
  { "plot_losses: a number", function() return ci.plot_losses(3) end, "plot_losses" },
  { "plot_activity_by_column: unknown group", function()
      return ci.plot_activity_by_column(X.acts:select(1, 1), X.groups, { 1, 1, 2, 2 }, "ZZ") end, "activity_by_column" },
} do case("ci." .. c[1], c[2], c[3], "") end

-- ---------------------------------------------------------------- running them
describe("bad input", function()
  setup(fixtures)
  teardown(function()
    for _, s in ipairs { ".o.csv", ".r.csv", ".q.csv", ".e.csv", ".t.csv.gz", ".c.csv.gz", ".l.csv",
                         ".s.csv", ".edges.csv", ".e.csv.gz", ".n.csv", ".w.csv" } do
      os.remove(TMP .. s)
    end
  end)

  it("the battery holds at least 150 cases", function()
    assert.is_true(#cases >= 150, #cases .. " cases")
  end)

  for k, c in ipairs(cases) do
    local desc, fn, fpat, apat = c[1], c[2], c[3], c[4]
    it(string.format("#%d %s: raises an error naming %s%s, objects unchanged", k, desc, fpat,
                     apat ~= "" and (" and " .. apat) or ""), function()
      local before = snapshot()
      local ok, err = pcall(fn)
      assert.is_false(ok, "no error was raised")
      assert.are.equal("string", type(err), "the error is not a string: " .. tostring(err))
      assert.is_truthy(err:find(fpat), "message does not name '" .. fpat .. "': " .. err)
      if apat ~= "" then
        assert.is_truthy(err:find(apat), "message does not name '" .. apat .. "': " .. err)
      end
      assert.is_true(same(before, snapshot()), "an argument was modified")
    end)
  end
end)

describe("accepted as the reference does", function()
  setup(fixtures)
  it("totable of a temporary tensor survives a garbage collection mid-read (was a crash)", function()
    for _ = 1, 3 do
      local r = ci.full(0.5, 40000, 3):totable()
      assert.are.equal(40000, #r)
      assert.are.equal(0.5, r[40000][3])
    end
  end)

end)

describe("a very long line", function()
  it("in an edge table reads cleanly (extra fields are ignored)", function()
    local p = tmpfile(".long.csv", "pre,post,weight\n" .. string.rep("7,", 1500000) .. "7\n")
    local c = ci.connectome.read { edges = p }
    os.remove(p)
    assert.are.equal(1, c.inprop:size(1))
    assert.are.equal(1, c.inprop:get(1, 1))   -- a self-loop of weight 7, normalised to 1
  end)
end)

describe("NaN and inf propagate, they are not errors", function()
  setup(fixtures)
  local nan, inf = 0 / 0, math.huge

  it("through tensor ops", function()
    local t = ci.tensor { nan, inf, -inf, 1 }
    local s = t:sum():get()
    assert.is_true(s ~= s)
    local m = (t * 2):totable()
    assert.is_true(m[1] ~= m[1]); assert.are.equal(inf, m[2]); assert.are.equal(-inf, m[3]); assert.are.equal(2, m[4])
    assert.is_true(t:max():get() ~= t:max():get() or t:max():get() == inf)
  end)

  it("through a sparse product", function()
    local W = ci.sparse({ 1, 2 }, { 1, 2 }, { nan, inf }, 2, 2)
    local y = (W * ci.tensor { 1, 1 }):totable()
    assert.is_true(y[1] ~= y[1]); assert.are.equal(inf, y[2])
  end)

  it("from a NaN input through a linear network to every downstream neuron", function()
    -- chain 1 -> 2 -> 3 (post in rows): neuron 2 at layer 1 reads the input of neuron 1
    local W = ci.sparse({ 2, 3 }, { 1, 2 }, { 1, 1 }, 3, 3)
    local net = ci.LinearNetwork(W, { 1 }, { num_layers = 3 })
    local out = net:forward(ci.tensor { { nan, 0, 0 } })
    assert.is_true(out:get(2, 1) ~= out:get(2, 1))
    assert.is_true(out:get(3, 2) ~= out:get(3, 2))
  end)

  it("an inf weight through a multilayered network acts like a huge finite one", function()
    local function run(w)
      local W = ci.sparse({ 2, 3 }, { 1, 2 }, { w, 1 }, 3, 3)
      return ci.MultilayeredNetwork(W, { 1 }, { num_layers = 2 }):forward(ci.tensor { { 1, 1 } }):totable()
    end
    local a, b = run(inf), run(1e30)
    assert.is_true(same(a, b))
  end)

  it("a NaN weight reaches the loss of activation maximisation without an error", function()
    local W = ci.sparse({ 2, 3 }, { 1, 2 }, { nan, 1 }, 3, 3)
    local net = ci.LinearNetwork(W, { 1 }, { num_layers = 2 })
    local tgt = ci.TargetActivation { targets = { [2] = { [3] = 1 } }, batch_size = 1 }
    local _, _, act_loss = ci.activation_maximisation(net, tgt, { num_iterations = 2, quiet = true })
    assert.is_true(act_loss[1] ~= act_loss[1])
  end)
end)
