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
      error(fmt("%s: the neuron table has no column '%s' (columns: %s)", where, name,
                concat(f:columns(), ", ")), 3)
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

  -- c:select{column = value | {v1, v2, ...} | function(v) -> bool, ...}: the
  -- sorted 1-based indices of the neurons matching every condition.
  function Connectome:select(cond)
    local where = "connectome:select"
    if type(cond) ~= "table" then
      error(fmt("%s: expected a table {column = value, ...}, got %s", where, type(cond)), 2)
    end
    local tests = {}
    for name, want in pairs(cond) do
      local col = name == "id" and self.ids or neuron_column(self, name, where)
      if type(want) == "function" then
        tests[#tests + 1] = function(i) return want(col[i]) and true or false end
      elseif type(want) == "table" then
        local set = {}
        for _, v in ipairs(want) do set[v] = true end
        tests[#tests + 1] = function(i) return set[col[i]] == true end
      elseif type(want) == "string" or type(want) == "number" or type(want) == "boolean" then
        tests[#tests + 1] = function(i) return col[i] == want end
      else
        error(fmt("%s: condition for '%s' must be a value, a list or a function, got %s", where,
                  tostring(name), type(want)), 2)
      end
    end
    local out = {}
    for i = 1, self.n do
      local ok = true
      for t = 1, #tests do
        if not tests[t](i) then ok = false; break end
      end
      if ok then out[#out + 1] = i end
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
  function Connectome:model(opts)
    local where = "connectome:model"
    opts = opts or {}
    if type(opts) ~= "table" then error(where .. ": opts must be a table", 2) end
    if opts.sensory == nil then
      error(where .. ": opts.sensory is required (indices or a selection table {column = value})", 2)
    end
    local sensory = sensory_arg(self, opts.sensory, where)
    if #sensory == 0 then error(where .. ": the sensory selection is empty", 2) end
    local pass = {}
    for k, v in pairs(opts) do
      if k ~= "sensory" and k ~= "group" and k ~= "linear" then pass[k] = v end
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

  local STRING_OPTS = { "edges", "neurons", "pre", "post", "id" }
  local KNOWN = {
    edges = true, neurons = true, pre = true, post = true, weight = true, id = true,
    threshold = true, sign = true, nt = true, nt_sign = true, nt_other = true,
    sign_missing = true, sep = true,
  }

  -- ci.connectome.read{edges =, neurons =, pre = "pre", post = "post", weight =
  -- "weight" (false: each row counts 1), id = "id", threshold = 0, sign = column
  -- (default "sign" when the neuron table has it), nt = column, nt_sign = {GABA
  -- = -1, ...}, nt_other = 1, sign_missing = 1, sep = ","}
  local function read(o)
    if type(o) ~= "table" then
      error(where_read .. ": expected an options table {edges = path, neurons = path, ...}", 2)
    end
    for k in pairs(o) do
      if not KNOWN[k] then
        local names = {}
        for name in pairs(KNOWN) do names[#names + 1] = name end
        table.sort(names)
        error(fmt("%s: unknown option '%s' (options: %s)", where_read, tostring(k),
                  concat(names, ", ")), 2)
      end
    end
    if o.edges == nil then error(where_read .. ": edges (the path of the edge table) is required", 2) end
    for _, k in ipairs(STRING_OPTS) do
      if o[k] ~= nil and type(o[k]) ~= "string" then
        error(fmt("%s: %s must be a string, got %s", where_read, k, type(o[k])), 2)
      end
    end
    for _, k in ipairs({ "sign", "nt" }) do
      if o[k] ~= nil and o[k] ~= false and type(o[k]) ~= "string" then
        error(fmt("%s: %s must be a column name, got %s", where_read, k, type(o[k])), 2)
      end
    end
    local weight = o.weight
    if weight == false then weight = ""
    elseif weight ~= nil and type(weight) ~= "string" then
      error(fmt("%s: weight must be a column name or false, got %s", where_read, type(weight)), 2)
    end
    local threshold = o.threshold or 0
    if type(threshold) ~= "number" or threshold ~= threshold then
      error(fmt("%s: threshold must be a number, got %s", where_read, tostring(threshold)), 2)
    end
    local sep = 0
    if o.sep ~= nil then
      if type(o.sep) ~= "string" or #o.sep ~= 1 then
        error(where_read .. ": sep must be a one-character string", 2)
      end
      sep = o.sep:byte()
    end

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

  ci.connectome = {
    read = read,
    Connectome = Connectome,
    default_nt_sign = DEFAULT_NT_SIGN,
  }
end
