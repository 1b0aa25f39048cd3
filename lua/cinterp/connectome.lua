-- connectome.lua: ci.connectome.read{edges = path, neurons = path, ...}, real
-- connection tables into a model in one call (the engine side is
-- core/connectome.c: streaming CSV, id hashing, duplicate sums, threshold,
-- inprop). The returned connectome c has
--   c.n, c.nnz, c.n_rows (edge rows read), c.ids (Lua array: id of neuron i),
--   c.inprop (ci.sparse n x n, pre in rows, columns with input sum to 1),
--   c.sign (Lua array of +1/-1 per neuron), c.in_synapses / c.out_synapses
--   (Lua arrays of summed weights over the kept pairs), c.neurons (the neuron
--   frame, rows aligned with the indices, or nil),
--   c:index(id) -> 1-based index or nil, c:groups(column[, fill]) -> Lua array,
--   c:select{column = value or {values} or function(v) ... end, ...} -> sorted
--   indices, c:model(opts) -> ci.MultilayeredNetwork.
local ffi = require "ffi"
local O = require "cinterp.options"

local fmt, concat = string.format, table.concat
local ok_new, table_new = pcall(require, "table.new")
if not ok_new then table_new = function() return {} end end

-- transmitters that inhibit by default (flies: GABA, glutamate, histamine);
-- keys are compared in lower case
local DEFAULT_NT_SIGN = {
  gaba = -1, glut = -1, glutamate = -1, glu = -1, histamine = -1, ha = -1, his = -1,
}

return function(ci)
  local C = ci._engine.C
  local where_read = "ci.connectome.read"

  local function raise(where, level)
    local msg = ffi.string(C.ci_last_error()):gsub("^ci_connectome_read: ", "")
    error(where .. ": " .. msg, level + 1)
  end

  local function is_missing(v) return v == nil or v ~= v or v == "" end

  -- text form of an id, as it appears in a CSV cell
  local function id_text(id)
    if type(id) == "string" then return id end
    if type(id) == "number" then
      if id == math.floor(id) and math.abs(id) < 2 ^ 63 then return fmt("%d", id) end
      return fmt("%.17g", id)
    end
    return nil
  end

  local Connectome = {}
  Connectome.__index = Connectome

  function Connectome.__tostring(c)
    return fmt("ci.connectome: %d neurons, %d connections (from %d edge rows)%s", c.n, c.nnz,
               c.n_rows, c.neurons and fmt(", neuron table with %d columns", c.neurons:ncol()) or "")
  end

  -- c:index(id): 1-based index of the neuron with this id (a string or a number), or nil.
  function Connectome:index(id)
    local s = id_text(id)
    if s == nil then
      error(fmt("connectome:index: id must be a string or a number, got %s", type(id)), 2)
    end
    local k = C.ci_connectome_find(self._c, s, #s)
    if k < 0 then return nil end
    return k + 1
  end

  local function neuron_column(self, name, where)
    if type(name) ~= "string" then
      error(fmt("%s: column must be a string, got %s", where, type(name)), 3)
    end
    local f = self.neurons
    if not f then
      error(fmt("%s: this connectome has no neuron table (give neurons = path to " ..
                "ci.connectome.read)", where), 3)
    end
    if not f:has_column(name) then
      local cols = f:columns()
      cols[#cols + 1] = "id"
      local close = O.closest(name, cols, 3)
      for k, c in ipairs(close) do close[k] = "'" .. c .. "'" end
      error(fmt("%s: the neuron table has no column '%s' (%s)", where, name,
                #close > 0 and ("did you mean " .. O.either(close) .. "?") or
                ("columns: " .. concat(f:columns(), ", "))), 3)
    end
    return f:col(name)
  end

  -- c:groups(column, fill): the column's value for every neuron (a Lua array of
  -- length n, ready as idx_to_group); missing values become fill (default "unknown").
  function Connectome:groups(name, fill)
    if name == "id" or (name == nil and not self.neurons) then
      local out = table_new(self.n, 0)
      for i = 1, self.n do out[i] = self.ids[i] end
      return out
    end
    local col = neuron_column(self, name, "connectome:groups")
    if fill == nil then fill = "unknown" end
    local out = table_new(self.n, 0)
    for i = 1, self.n do
      local v = col[i]
      if is_missing(v) then v = fill end
      out[i] = v
    end
    return out
  end

  local function value_text(v) return type(v) == "string" and fmt("'%s'", v) or tostring(v) end

  -- Why a selection came out empty: the first condition that matches no neuron
  -- alone, with the closest values the column has; else the conditions together.
  local function empty_selection_message(self, conds, where)
    for _, c in ipairs(conds) do
      local matched, distinct, seen = false, {}, {}
      for i = 1, self.n do
        if c.test(i) then matched = true; break end
        local v = c.col[i]
        if v == v and not seen[v] then seen[v] = true; distinct[#distinct + 1] = v end
      end
      if not matched then
        if type(c.want) == "function" then
          return fmt("%s: no neuron's '%s' passes the function", where, c.name)
        end
        local wanted = type(c.want) == "table" and c.want or { c.want }
        local texts, close = {}, {}
        for k, w in ipairs(wanted) do
          texts[k] = value_text(w)
          for _, v in ipairs(O.closest(tostring(w), distinct, 3)) do
            if #close < 3 then close[#close + 1] = value_text(v) end
          end
        end
        local what = #wanted == 1 and (" = " .. texts[1]) or (" in {" .. concat(texts, ", ") .. "}")
        local hint = #close > 0 and (" (did you mean " .. O.either(close) .. "?)") or ""
        return fmt("%s: no neuron has %s%s%s", where, c.name, what, hint)
      end
    end
    local texts = {}
    for k, c in ipairs(conds) do
      texts[k] = c.name .. (type(c.want) == "function" and " (a function)" or
        (type(c.want) == "table" and " in {...}" or " = " .. value_text(c.want)))
    end
    return fmt("%s: no neuron matches %s together (each matches some neurons alone)", where,
               O.either(texts, "and"))
  end

  -- c:select{column = value | {v1, v2, ...} | function(v) -> bool, ...,
  -- allow_empty = false}: the sorted 1-based indices of the neurons matching
  -- every condition; an empty result is an error unless allow_empty.
  function Connectome:select(cond)
    local where = "connectome:select"
    if type(cond) ~= "table" then
      error(fmt("%s: expected a table {column = value, ...}, got %s", where, type(cond)), 2)
    end
    local allow_empty = false
    local conds = {}
    for name, want in pairs(cond) do
      if name == "allow_empty" then
        if type(want) ~= "boolean" then
          error(fmt("%s: allow_empty must be a boolean, got %s", where, O.describe(want)), 2)
        end
        allow_empty = want
      else
        if type(name) ~= "string" then
          error(fmt("%s: conditions are {column = value}, got the key %s", where, O.describe(name)), 2)
        end
        local col = name == "id" and self.ids or neuron_column(self, name, where)
        local test
        if type(want) == "function" then
          test = function(i) return want(col[i]) and true or false end
        elseif type(want) == "table" then
          local set = {}
          for _, v in ipairs(want) do set[v] = true end
          test = function(i) return set[col[i]] == true end
        elseif type(want) == "string" or type(want) == "number" or type(want) == "boolean" then
          test = function(i) return col[i] == want end
        else
          error(fmt("%s: condition for '%s' must be a value, a list or a function, got %s", where,
                    tostring(name), type(want)), 2)
        end
        conds[#conds + 1] = { name = name, want = want, col = col, test = test }
      end
    end
    table.sort(conds, function(a, b) return a.name < b.name end)
    local out = {}
    for i = 1, self.n do
      local ok = true
      for t = 1, #conds do
        if not conds[t].test(i) then ok = false; break end
      end
      if ok then out[#out + 1] = i end
    end
    if #out == 0 and #conds > 0 and not allow_empty then
      error(empty_selection_message(self, conds, where) ..
            " (give allow_empty = true to accept an empty selection)", 2)
    end
    return out
  end

  -- Sensory indices from a list of indices or a selection table.
  local function sensory_arg(self, s, where)
    if type(s) ~= "table" then
      error(fmt("%s: sensory must be a list of indices or a selection table {column = value}, got %s",
                where, type(s)), 3)
    end
    local is_list = #s > 0 or next(s) == nil
    for k in pairs(s) do
      if type(k) ~= "number" then is_list = false; break end
    end
    if is_list then return s end
    return self:select(s)
  end

  -- c:model(opts): a ci.MultilayeredNetwork over the signed weights (post in
  -- rows: inprop scaled by each pre neuron's sign, transposed). opts.sensory:
  -- indices or a selection table; opts.group: a neuron column for idx_to_group;
  -- opts.linear = true builds a LinearNetwork; other options go to the network.
  local MODEL -- declared below
  function Connectome:model(opts)
    local where = "connectome:model"
    opts = O.check(MODEL, opts)
    if opts.sensory == nil then
      error(where .. ": opts.sensory is required (indices or a selection table {column = value})", 2)
    end
    local sensory = sensory_arg(self, opts.sensory, where)
    if #sensory == 0 then error(where .. ": the sensory selection is empty", 2) end
    local pass = {}
    for k, v in pairs(opts) do
      if not MODEL.opt_by_key[k] then pass[k] = v end
    end
    if opts.group ~= nil then
      if pass.idx_to_group ~= nil then
        error(where .. ": give either opts.group (a column) or opts.idx_to_group, not both", 2)
      end
      pass.idx_to_group = self:groups(opts.group)
    end
    local ctor = opts.linear and ci.LinearNetwork or ci.MultilayeredNetwork
    return ctor(self:weights(), sensory, pass)
  end

  -- c:weights(): the signed weights, post in rows (what ci.add_sign gives). Cached.
  function Connectome:weights()
    if not self._weights then
      self._weights = self.inprop:scale_rows(self.sign):transpose()
    end
    return self._weights
  end

  -- signs from the neuron table
  local function signs(c, o, f)
    local n = c.n
    local out = table_new(n, 0)
    local missing = o.sign_missing
    if missing == nil then missing = 1 end
    if missing ~= 1 and missing ~= -1 and missing ~= 0 then
      error(fmt("%s: sign_missing must be 1, -1 or 0, got %s", where_read, tostring(missing)), 3)
    end
    if o.sign ~= nil and o.nt ~= nil then
      error(where_read .. ": give either sign (a numeric +1/-1 column) or nt (a transmitter column), not both", 3)
    end
    local sign_col = o.sign
    if sign_col == nil and o.nt == nil and f and f:has_column("sign") then sign_col = "sign" end
    if sign_col == false then sign_col = nil end
    if (sign_col or o.nt) and not f then
      error(fmt("%s: %s = '%s' needs a neuron table (neurons = path)", where_read,
                sign_col and "sign" or "nt", sign_col or o.nt), 3)
    end
    local npath = o.neurons
    if sign_col then
      if not f:has_column(sign_col) then
        error(fmt("%s: %s: no column '%s' for the signs (columns: %s)", where_read, npath,
                  sign_col, concat(f:columns(), ", ")), 3)
      end
      local col = f:col(sign_col)
      for i = 1, n do
        local v = col[i]
        if is_missing(v) then
          v = missing
        elseif type(v) ~= "number" then
          error(fmt("%s: %s line %d, column %s: '%s' is not a sign (+1 or -1)", where_read, npath,
                    i + 1, sign_col, tostring(v)), 3)
        elseif v > 0 then v = 1
        elseif v < 0 then v = -1
        else
          error(fmt("%s: %s line %d, column %s: sign 0 (expected +1 or -1)", where_read, npath,
                    i + 1, sign_col), 3)
        end
        out[i] = v
      end
    elseif o.nt then
      if not f:has_column(o.nt) then
        error(fmt("%s: %s: no column '%s' for the transmitters (columns: %s)", where_read, npath,
                  o.nt, concat(f:columns(), ", ")), 3)
      end
      local map = {}
      for k, v in pairs(o.nt_sign or DEFAULT_NT_SIGN) do
        if type(k) ~= "string" or (v ~= 1 and v ~= -1) then
          error(fmt("%s: nt_sign must map transmitter names to +1 or -1, got %s = %s", where_read,
                    tostring(k), tostring(v)), 3)
        end
        map[k:lower()] = v
      end
      local other = o.nt_other or 1
      local col = f:col(o.nt)
      for i = 1, n do
        local v = col[i]
        if is_missing(v) then out[i] = missing
        else
          local s = map[tostring(v):lower()]
          out[i] = s or other
        end
      end
    else
      for i = 1, n do out[i] = 1 end
    end
    return out
  end


  -- ci.connectome.read{edges =, neurons =, pre = "pre", post = "post", weight =
  -- "weight" (false: each row counts 1), id = "id", threshold = 0, sign = column
  -- (default "sign" when the neuron table has it), nt = column, nt_sign = {GABA
  -- = -1, ...}, nt_other = 1, sign_missing = 1, sep = ","}
  local READ -- declared at the end
  local function read(o)
    if type(o) ~= "table" then
      error(where_read .. ": expected an options table {edges = path, neurons = path, ...}", 2)
    end
    o = O.check(READ, o)
    if o.edges == nil then error(where_read .. ": edges (the path of the edge table) is required", 2) end
    local weight = o.weight
    if weight == false then weight = "" end
    local threshold = o.threshold
    if threshold ~= threshold then
      error(fmt("%s: threshold must be a number, got %s", where_read, tostring(threshold)), 2)
    end
    local sep = o.sep and o.sep:byte() or 0

    local copt = ffi.new("ci_connectome_options")
    copt.pre, copt.post, copt.weight = o.pre, o.post, weight
    copt.neurons, copt.id = o.neurons, o.id
    copt.threshold = threshold
    copt.sep = sep
    local box = ffi.new("ci_connectome*[1]")
    if C.ci_connectome_read(o.edges, copt, box) ~= 0 then raise(where_read, 2) end
    local cc = ffi.gc(box[0], C.ci_connectome_free)
    local n = cc.n

    -- the neuron frame (rows aligned with the engine's indices)
    local f
    if o.neurons then
      f = ci.read_csv(o.neurons, o.sep and { sep = o.sep } or nil)
      if f:nrow() ~= n then
        error(fmt("%s: %s has %d rows but %d ids were read", where_read, o.neurons, f:nrow(), n), 2)
      end
    end

    -- ids: the neuron table's id values, or the edges' id texts (numbers when
    -- every one is a plain integer below 2^53, as ci.read_csv does)
    local ids
    if f then
      ids = f:col(o.id or "id")
    else
      ids = table_new(n, 0)
      local all_int = true
      local chars, off, len = cc.id_chars, cc.id_off, cc.id_len
      for i = 0, n - 1 do
        local s = ffi.string(chars + off[i], len[i])
        ids[i + 1] = s
        if all_int and not (s:find("^%-?%d+$") and #s <= 16 and
                            math.abs(tonumber(s)) < 2 ^ 53 and fmt("%d", tonumber(s)) == s) then
          all_int = false
        end
      end
      if all_int then
        for i = 1, n do ids[i] = tonumber(ids[i]) end
      end
    end

    C.ci_csr_retain(cc.inprop)
    local inprop = ci._sparse.wrap(cc.inprop)
    local ins, outs = table_new(n, 0), table_new(n, 0)
    for i = 0, n - 1 do
      ins[i + 1] = cc.in_total[i]
      outs[i + 1] = cc.out_total[i]
    end

    local c = setmetatable({
      _c = cc,
      n = n,
      nnz = tonumber(cc.nnz),
      n_rows = tonumber(cc.n_rows),
      ids = ids,
      inprop = inprop,
      in_synapses = ins,
      out_synapses = outs,
      neurons = f,
      edges_path = o.edges,
      neurons_path = o.neurons,
    }, Connectome)
    c.sign = signs(c, o, f)
    return c
  end

  -- ci.connectome.toy(): a six-neuron connectome for trying things out (read
  -- from CSV files written to a temporary folder and removed).
  local TOY_EDGES = "pre,post,weight\n101,103,3\n102,104,2\n104,103,1\n103,105,3\n104,105,1\n105,106,2\n"
  local TOY_NEURONS = "id,type,flow,nt\n101,ORN_a,afferent,ACh\n102,ORN_b,afferent,ACh\n" ..
    "103,PN,intrinsic,ACh\n104,LN,intrinsic,GABA\n105,KC,intrinsic,ACh\n106,MBON,efferent,Glu\n"
  local function toy()
    local base = os.tmpname()
    local files = { base .. ".edges.csv", base .. ".neurons.csv" }
    for k, text in ipairs { TOY_EDGES, TOY_NEURONS } do
      local f = assert(io.open(files[k], "w"))
      f:write(text)
      f:close()
    end
    local ok, c = pcall(read, { edges = files[1], neurons = files[2], nt = "nt" })
    for _, p in ipairs(files) do os.remove(p) end
    os.remove(base)
    if not ok then error(c, 0) end
    return c
  end


  ------------------------------------------------------------------ declarations (help, docs/API.md)

  local TOPIC = "Connectomes"
  READ = O.declare{ name = "ci.connectome.read", where = where_read, topic = TOPIC,
    doc = [[Reads a real connectome from CSV tables (plain or gzip) in one call: an edge list
    (pre id, post id, synapse count; duplicate pairs summed, pairs below threshold dropped) and
    optionally a neuron table (one row per neuron, its id and other columns such as type). It
    gives c.n, c.nnz, c.ids (the id of neuron i), c.inprop (sparse, pre in rows, each post
    column summing to 1), c.sign (+1/-1 per neuron), c.in_synapses, c.out_synapses and
    c.neurons (the neuron frame, rows aligned with the indices). Signs come from a numeric
    sign column, or from a transmitter column (nt; GABA, glutamate and histamine inhibit).]],
    opts_name = "spec",
    opts = {
      { "edges", "string", nil, "the edge table's path (required)", default_text = "required" },
      { "neurons", "string", nil, "the neuron table's path; its rows fix the order of the indices",
        default_text = "none: ids in order of appearance" },
      { "pre", "string", "pre", "the edge table's presynaptic id column" },
      { "post", "string", "post", "the edge table's postsynaptic id column" },
      { "weight", "string|false", "weight", "the synapse count column (false: each row counts 1)" },
      { "id", "string", "id", "the neuron table's id column" },
      { "threshold", "number", 0, "pairs with fewer summed synapses are dropped" },
      { "sign", "string|false", nil, "a numeric +1/-1 column of the neuron table (false: none)",
        default_text = "\"sign\" when the table has it" },
      { "nt", "string", nil, "a transmitter column of the neuron table, for the signs", default_text = "none" },
      { "nt_sign", "table", nil, "{transmitter = +1 or -1}, case-insensitive",
        default_text = "GABA, glutamate, histamine = -1" },
      { "nt_other", { 1, -1 }, 1, "the sign of transmitters nt_sign does not list" },
      { "sign_missing", { 1, -1, 0 }, 1, "the sign of a neuron whose sign or transmitter is missing" },
      { "sep", "char", nil, "the field separator of both tables", default_text = "\",\" (a tab for .tsv)" },
    },
    returns = { { "c", "connectome", "see help\"connectome\" for its methods" } },
    example = [[local base = os.tmpname()
    local e, n = base .. "_edges.csv", base .. "_neurons.csv"
    ci.frame{pre = {1, 1, 2}, post = {2, 3, 3}, weight = {2, 1, 3}}:write_csv(e)
    ci.frame({id = {1, 2, 3}, nt = {"ACh", "GABA", "ACh"}}, {"id", "nt"}):write_csv(n)
    local c = ci.connectome.read{edges = e, neurons = n, nt = "nt"}
    os.remove(e); os.remove(n); os.remove(base)
    print(c.n, c.nnz, c.sign[2])  --> 3 3 -1
    print(c.inprop:get(1, 3), c.inprop:get(2, 3))  --> 0.25 0.75]] }
  O.declare{ name = "ci.connectome.toy", topic = TOPIC,
    doc = [[A six-neuron connectome for trying things out: two receptor neurons (ORN_a, ORN_b,
    flow "afferent"), a PN, an inhibitory LN (GABA), a KC and an MBON (glutamate), ids 101 to
    106, with neuron columns id, type, flow and nt.]],
    returns = "c",
    example = [[local c = ci.connectome.toy()
    print(c.n, c.nnz, c.ids[4], c.sign[4])  --> 6 6 104 -1]] }

  O.class{ prefix = "connectome", var = "c", name = "ci.connectome.read", methods = Connectome,
    is = function(v) return getmetatable(v) == Connectome end, topic = TOPIC,
    doc = [[A connectome (ci.connectome.read) holds a real connection table as an inprop matrix,
    signs, ids and the neuron table; its methods select neurons and build models.]] }
  local TOY = "local c = ci.connectome.toy()\n"
  O.declare_methods("connectome", TOPIC, {
    { "index", "id", "integer|nil", "The 1-based index of the neuron with this id (a string or a number), or nil.",
      TOY .. "print(c:index(105), c:index(\"105\"), c:index(999))  --> 5 5 nil" },
    { "groups", "column, fill?", "array",
      "A neuron column's value for every neuron (a Lua array of length n, ready as idx_to_group); missing values become fill (default \"unknown\"); \"id\" gives the ids.",
      TOY .. "print(c:groups(\"type\")[3])  --> PN" },
    { "weights", "", "sparse", "The signed weights, post in rows (what ci.add_sign gives); cached.",
      TOY .. "print(c:weights():get(4, 2), c:weights():get(3, 4))  --> 1 -0.25" },
  })
  O.declare{ name = "connectome:select", topic = TOPIC, opts_name = "cond",
    doc = [[The sorted indices of the neurons that meet every condition {column = value}: a value
    (equal), a Lua array of values (any of them) or a function(value) -> boolean; the column
    "id" holds the ids. An empty result is an error naming the condition that matches nothing and
    the closest values its column has, unless allow_empty = true.]],
    signature = "c:select{column = value, ..., allow_empty = false} -> indices",
    opts = { { "allow_empty", "boolean", false, "return {} instead of raising when nothing matches" } },
    returns = "indices",
    example = TOY .. O.dedent[[print(#c:select{flow = "afferent"})  --> 2
    print(c:select{type = {"KC", "MBON"}, nt = "ACh"}[1])  --> 5
    print(#c:select{type = "DAN", allow_empty = true})  --> 0
    local ok, err = pcall(c.select, c, {type = "KCs"})
    print(err:match("no neuron.-%?%)"))  --> no neuron has type = 'KCs' (did you mean 'KC'?)]] }
  MODEL = O.declare{ name = "connectome:model", topic = TOPIC, extends = "ci.MultilayeredNetwork",
    doc = [[A ci.MultilayeredNetwork (or LinearNetwork) over the connectome's signed weights (post
    in rows: inprop scaled by each pre neuron's sign, transposed). Its sensory neurons are a list
    of indices or a selection table as c:select takes; group names a neuron column for
    idx_to_group; the other options are the network's.]],
    opts = { { "sensory", "table", nil, "the sensory neurons: indices or a selection {column = value}",
               default_text = "required", alias = "sensory_indices" },
             { "group", "string", nil, "a neuron column whose values group the neurons (idx_to_group)" },
             { "linear", "boolean", false, "build a ci.LinearNetwork" } },
    returns = { { "net", "network", "" } },
    example = TOY .. O.dedent[[local net = c:model{sensory = {flow = "afferent"}, num_layers = 3, group = "type"}
    print(net.n, #net.sensory_indices, #net.groups)  --> 6 2 6]] }

  ci.connectome = {
    read = read,
    toy = toy,
    Connectome = Connectome,
    default_nt_sign = DEFAULT_NT_SIGN,
  }
end
