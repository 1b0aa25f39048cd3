-- golden.lua: loads the reference cases in ../shared/golden and translates them
-- from the reference's 0-based indices to the Lua API's 1-based ones; compares
-- tensors with the tolerances of the golden README.
local G = {}

G.dir = os.getenv("CINTERP_GOLDEN") or "../shared/golden"

function G.available()
  local f = io.open(G.dir .. "/index.lua", "r")
  if f then f:close() return true end
  return false
end

G.missing_message = "golden cases not found at " .. G.dir ..
  " (set CINTERP_GOLDEN to the folder holding index.lua)"

-- Cases whose fn matches one of the given names.
function G.cases(...)
  local want = {}
  for _, fn in ipairs { ... } do want[fn] = true end
  local list = {}
  if not G.available() then return list end
  for _, entry in ipairs(dofile(G.dir .. "/index.lua")) do
    if want[entry.fn] then list[#list + 1] = entry end
  end
  return list
end

function G.load(entry) return dofile(G.dir .. "/" .. entry.file) end

-- A busted describe block with one test per golden case of fn: body(case, entry);
-- pending with a message when the golden folder is absent.
function G.describe_cases(fn, body)
  local env = getfenv(2) -- busted's describe/it/pending live in the spec's environment
  env.describe(fn .. " golden cases", function()
    local cases = G.cases(fn)
    if #cases == 0 then env.pending(G.missing_message) end
    for _, entry in ipairs(cases) do
      env.it(entry.name, function() body(G.load(entry), entry) end)
    end
  end)
end

-- The model of a case, as a cinterp network (1-based).
function G.model(ci, case)
  local w = case.weights
  local n = w.shape[1]
  local rows, cols, vals = {}, {}, {}
  for k, e in ipairs(w.edges) do rows[k], cols[k], vals[k] = e[1] + 1, e[2] + 1, e[3] end
  local W = ci.sparse(rows, cols, vals, n, w.shape[2])
  local sens = {}
  for s, i in ipairs(case.sensory_indices) do sens[s] = i + 1 end
  local a = case.model_args
  local opts = {
    num_layers = a.num_layers, threshold = a.threshold, tanh_steepness = a.tanh_steepness,
    default_bias = a.default_bias, tau = a.tau,
    idx_to_group = case.idx_to_group, slope_dict = case.slope_dict, bias_dict = case.bias_dict,
    tau_dict = case.tau_dict, divisive_normalization = case.divisive_normalization,
    divisive_strength = case.divisive_strength,
  }
  local ctor = a.class == "LinearNetwork" and ci.LinearNetwork or ci.MultilayeredNetwork
  return ctor(W, sens, opts), W
end

-- manipulate, translated: layers and batches +1; neuron keys +1 without groups.
function G.manipulate(case)
  local m = case.manipulate
  if not m then return nil end
  local grouped = case.idx_to_group ~= nil
  local function inner(spec)
    local out = {}
    for key, v in pairs(spec) do
      if type(key) == "number" and not grouped then out[key + 1] = v else out[key] = v end
    end
    return out
  end
  local res = {}
  if case.args and case.args.manipulate_per_batch then
    for b, layers in pairs(m) do
      res[b + 1] = {}
      for l, spec in pairs(layers) do res[b + 1][l + 1] = inner(spec) end
    end
  else
    for l, spec in pairs(m) do res[l + 1] = inner(spec) end
  end
  return res
end

-- The reference ignores a manipulation at a layer past num_layers and, on a network
-- with groups, a numeric key that is no group; cinterp refuses both (issue 13: the
-- experiment must not vanish in silence). Returns the manipulate table without those
-- entries (what the reference effectively applied) and whether any was dropped.
function G.without_ignored(net, manipulate, per_batch)
  if manipulate == nil then return nil, false end
  local dropped = false
  local function layers_of(m)
    local kept = {}
    for l, spec in pairs(m) do
      if l > net.num_layers then
        dropped = true
      else
        kept[l] = {}
        for key, v in pairs(spec) do
          if net.groups and net.group_index[key] == nil then dropped = true else kept[l][key] = v end
        end
      end
    end
    return kept
  end
  if not per_batch then return layers_of(manipulate), dropped end
  local kept = {}
  for b, m in pairs(manipulate) do kept[b] = layers_of(m) end
  return kept, dropped
end

-- net:forward of the case's input with the case's manipulations, as the reference
-- ran it: what the reference ignores must raise here (checked), and the output
-- comes from the rest.
function G.forward_as_reference(net, case, name)
  local ci = require "cinterp"
  local manipulate = G.manipulate(case)
  local kept, dropped = G.without_ignored(net, manipulate, case.args and case.args.manipulate_per_batch)
  if dropped then
    local ok, err = pcall(net.forward, net, ci.tensor(case.input), { manipulate = manipulate })
    assert(not ok, name .. ": a manipulation the reference ignores was accepted")
    assert(tostring(err):find("forward: manipulate: ", 1, true), name .. ": " .. tostring(err))
  end
  return net:forward(ci.tensor(case.input), { manipulate = kept })
end

local function flatten(t, out)
  out = out or {}
  if type(t) == "table" then
    for _, v in ipairs(t) do flatten(v, out) end
  else
    out[#out + 1] = t
  end
  return out
end
G.flatten = flatten

-- Compares a tensor (or flat Lua array) with a nested expected table.
-- Returns true, or false and a message naming the first mismatch.
-- rtol/atol as in the README; boundary_ok: tolerate isolated mismatches of
-- size <= that value (values flipping at a threshold).
function G.compare(actual, expected, rtol, atol, boundary_ok)
  local a = type(actual) == "table" and flatten(actual) or flatten(actual:totable())
  local e = flatten(expected)
  if #a ~= #e then return false, ("size %d, expected %d"):format(#a, #e) end
  local bad, first = 0, nil
  for k = 1, #e do
    local x, y = a[k], e[k]
    local ok
    if y ~= y then ok = x ~= x
    elseif y == math.huge or y == -math.huge then ok = x == y
    else ok = math.abs(x - y) <= atol + rtol * math.abs(y) end
    if not ok and boundary_ok and math.abs(x - y) <= boundary_ok + atol then
      bad = bad + 1
      ok = bad <= math.max(1, math.floor(#e / 1000))
    end
    if not ok then
      first = first or ("element %d: got %.9g, expected %.9g"):format(k, x, y)
      return false, first
    end
  end
  return true
end

-- Runs a param_grads case on net (all parameter gradients on): forward, the
-- loss of the case's terms, backward; asserts the loss and every group's
-- gradient against the reference with the README's tolerances.
function G.check_param_grads(ci, case, net, name)
  net:set_param_grads { slopes = true, raw_biases = true, divisive_strength = true, tau = true }
  local out = net:forward(ci.tensor(case.input))
  local sel = ci.zeros(out:size(1), out:size(2), out:size(3))
  for _, term in ipairs(case.loss_terms) do
    local b, i, l = term[1] + 1, term[2] + 1, term[3] + 1
    sel:set(sel:get(b, i, l) + 1, b, i, l)
  end
  local loss = (out * sel):sum()
  loss:backward()
  local want = case.expected.loss
  assert(math.abs(loss:item() - want) <= 1e-4 * math.abs(want) + 1e-6,
    ("%s: loss %.9g expected %.9g"):format(name, loss:item(), want))
  local fields = { slope = net.slope, raw_biases = net.raw_biases, tau_param = net.tau_param,
                   divisive_strength = net.divisive_strength }
  for field, expected in pairs(case.expected.grads) do
    local grad = fields[field].grad
    local scale = 0
    for _, v in pairs(expected) do scale = math.max(scale, math.abs(v)) end
    for group, v in pairs(expected) do
      local got = grad and grad:get(net.group_index[group]) or 0
      assert(math.abs(got - v) <= 1e-3 * math.abs(v) + 1e-6 * math.max(scale, 1e-3),
        ("%s grad of %s[%s]: got %.9g, expected %.9g"):format(name, field, group, got, v))
    end
  end
end

function G.max_abs(expected)
  local m = 0
  for _, v in ipairs(flatten(expected)) do if v == v and math.abs(v) > m and math.abs(v) < math.huge then m = math.abs(v) end end
  return m
end

return G
