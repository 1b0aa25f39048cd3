-- refnet.lua: a naive double-precision Lua implementation of the network forward
-- (DESIGN.md's equations, written independently of the C engine), used to check
-- the engine's forward and, by central finite differences, its gradients.
local R = {}

-- m: {kind = "ml"|"linear", n, L, th, edges = {{post, pre, w}} (1-based),
--     sensory = {...}, group_of = {...} or nil, slope, raw_bias, tau (per group
--     arrays, or scalars without groups), div = {[pre_group] = {post_group=true}},
--     sig = per group array, manip = {{layer, batch (0 = all), neuron, value}}}
-- u[b][s][t]. Returns out[b][i][t].
function R.forward(m, u)
  local n, L, th = m.n, m.L, m.th
  local B = #u
  local k, c, tau, sig = {}, {}, {}, {}
  for i = 1, n do
    if m.group_of then
      local g = m.group_of[i]
      k[i] = m.slope[g]; c[i] = math.abs(m.raw_bias[g])
      tau[i] = math.max(m.tau[g], 1); sig[i] = m.sig and m.sig[g] or 1
    else
      k[i], c[i], tau[i] = m.slope, m.raw_bias, m.tau
    end
  end
  local main, div = {}, {}
  for i = 1, n do main[i], div[i] = {}, {} end
  for _, e in ipairs(m.edges) do
    local post, pre, w = e[1], e[2], e[3]
    local isdiv = m.div and m.group_of and m.div[m.group_of[pre]] and m.div[m.group_of[pre]][m.group_of[post]]
    table.insert(isdiv and div[post] or main[post], { pre, w })
  end
  local out = {}
  for b = 1, B do
    out[b] = {}
    for i = 1, n do out[b][i] = {} end
    local x = {}
    for i = 1, n do x[i] = 0 end
    for s, i in ipairs(m.sensory) do x[i] = u[b][s][1] end
    for t = 1, L do
      local nx = {}
      for i = 1, n do
        local p, d = 0, 0
        for _, e in ipairs(main[i]) do p = p + e[2] * x[e[1]] end
        for _, e in ipairs(div[i]) do d = d + e[2] * x[e[1]] * sig[e[1]] end
        local s = k[i]
        if #div[i] > 0 then s = math.max(0, k[i] * (1 + d)) end
        local a = s * p + c[i]
        local y
        if m.kind == "ml" then
          local h = a >= th and a or 0
          y = math.tanh(h) / tau[i] + (tau[i] - 1) / tau[i] * x[i]
        else
          y = a / tau[i] + (tau[i] - 1) / tau[i] * x[i]
        end
        nx[i] = y
      end
      if t < L then
        for s, i in ipairs(m.sensory) do nx[i] = nx[i] + u[b][s][t + 1] end
        if m.kind == "ml" then
          for i = 1, n do
            local z = nx[i] >= th and nx[i] or 0
            nx[i] = math.min(z, 1)
          end
        end
      end
      for _, mp in ipairs(m.manip or {}) do
        if mp[1] == t and (mp[2] == 0 or mp[2] == b) then nx[mp[3]] = mp[4] end
      end
      for i = 1, n do out[b][i][t] = nx[i] end
      x = nx
    end
  end
  return out
end

-- A random model description with n neurons, about deg inputs each; with
-- o.blocks, neuron i belongs to block i % blocks and 4 in 5 of its inputs come
-- from its own block (locality for the engine's reordering, tests/reorder_spec.lua).
function R.random_model(rng, o)
  local n, deg = o.n, o.deg or 4
  local m = { kind = o.kind or "ml", n = n, L = o.L or 4, th = o.th or 0.01, edges = {},
              sensory = {}, manip = o.manip }
  local seen = {}
  for post = 1, n do
    for _ = 1, deg do
      local pre = rng(n)
      if o.blocks and rng() < 0.8 then -- a neuron of post's block: same index mod blocks
        pre = (post - 1) % o.blocks + 1 + o.blocks * (rng(math.floor((n - 1 - (post - 1) % o.blocks) / o.blocks) + 1) - 1)
      end
      if not seen[post * (n + 1) + pre] then
        seen[post * (n + 1) + pre] = true
        local w = (rng() - 0.3) * 0.6
        m.edges[#m.edges + 1] = { post, pre, w }
      end
    end
  end
  local used = {}
  while #m.sensory < (o.S or 3) do
    local i = rng(n)
    if not used[i] then used[i] = true; m.sensory[#m.sensory + 1] = i end
  end
  if o.groups then
    m.group_of, m.groups = {}, o.groups
    for i = 1, n do m.group_of[i] = ((i - 1) % #o.groups) + 1 end
    m.slope, m.raw_bias, m.tau, m.sig = {}, {}, {}, {}
    for g = 1, #o.groups do
      m.slope[g] = 2 + 3 * rng(); m.raw_bias[g] = (rng() - 0.5) * 0.1
      m.tau[g] = 1.5 + 4 * rng(); m.sig[g] = 0.5 + rng()
    end
    if o.div then
      m.div = o.div
      -- divisive connections must be inhibitory
      for _, e in ipairs(m.edges) do
        local gp, gq = m.group_of[e[2]], m.group_of[e[1]]
        if m.div[gp] and m.div[gp][gq] then e[3] = -math.abs(e[3]) end
      end
    end
  else
    m.slope, m.raw_bias, m.tau = 4, 0.02, 3
  end
  return m
end

-- The same model as a cinterp network (extra: more constructor options).
function R.build(ci, m, extra)
  local rows, cols, vals = {}, {}, {}
  for k, e in ipairs(m.edges) do rows[k], cols[k], vals[k] = e[1], e[2], e[3] end
  local W = ci.sparse(rows, cols, vals, m.n, m.n)
  local opts = { num_layers = m.L, threshold = m.th }
  if m.group_of then
    local names = {}
    for i = 1, m.n do names[i] = m.groups[m.group_of[i]] end
    opts.idx_to_group = names
    opts.slope_dict, opts.bias_dict, opts.tau_dict, opts.divisive_strength = {}, {}, {}, {}
    for g, name in ipairs(m.groups) do
      opts.slope_dict[name] = m.slope[g]; opts.bias_dict[name] = m.raw_bias[g]
      opts.tau_dict[name] = m.tau[g]; opts.divisive_strength[name] = m.sig[g]
    end
    if m.div then
      opts.divisive_normalization = {}
      for gp, posts in pairs(m.div) do
        local list = {}
        for gq in pairs(posts) do list[#list + 1] = m.groups[gq] end
        opts.divisive_normalization[m.groups[gp]] = list
      end
    end
  else
    opts.tanh_steepness, opts.default_bias, opts.tau = m.slope, m.raw_bias, m.tau
  end
  for k, v in pairs(extra or {}) do opts[k] = v end
  local ctor = m.kind == "linear" and ci.LinearNetwork or ci.MultilayeredNetwork
  return ctor(W, m.sensory, opts)
end

-- The model configurations the network specs run (CPU and CUDA alike).
R.configs = {
  { name = "multilayered, no groups", kind = "ml" },
  { name = "linear, no groups", kind = "linear" },
  { name = "multilayered, groups", kind = "ml", groups = { "A", "B", "C" } },
  { name = "linear, groups", kind = "linear", groups = { "A", "B", "C" } },
  { name = "multilayered, divisive", kind = "ml", groups = { "A", "B", "C" }, div = { [1] = { [2] = true, [3] = true } } },
  { name = "linear, divisive", kind = "linear", groups = { "A", "B", "C" }, div = { [3] = { [1] = true } } },
  { name = "multilayered, manipulate", kind = "ml", manip = { { 2, 0, 5, 0.3 }, { 3, 2, 7, 0.1 }, { 1, 1, 2, 0.6 } } },
  { name = "linear, manipulate", kind = "linear", manip = { { 2, 0, 5, 0.3 }, { 4, 3, 9, -0.2 } } },
}

-- The API's per-batch manipulate table for a list {layer, batch (0 = all),
-- neuron, value} and B batches.
function R.manip_table(list, B)
  if not list then return nil end
  local t = {}
  for b = 1, B do t[b] = {} end
  for _, mp in ipairs(list) do
    for b = 1, B do
      if mp[2] == 0 or mp[2] == b then
        t[b][mp[1]] = t[b][mp[1]] or {}
        t[b][mp[1]][mp[3]] = mp[4]
      end
    end
  end
  return t
end

-- Random inputs u[b][s][t]: each entry nonzero (uniform [0, scale)) with probability p.
function R.random_input(rng, B, S, L, p, scale)
  local u = {}
  for b = 1, B do
    u[b] = {}
    for s = 1, S do
      u[b][s] = {}
      for t = 1, L do u[b][s][t] = rng() < p and rng() * scale or 0 end
    end
  end
  return u
end

-- A deterministic generator: rng() in [0,1), rng(n) in 1..n.
function R.rng(seed)
  local state = seed
  return function(n)
    state = (state * 1103515245 + 12345) % 2147483648
    local r = state / 2147483648
    if n then return math.floor(r * n) + 1 end
    return r
  end
end

return R
