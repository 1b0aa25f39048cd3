-- tape_spec.lua: reverse-mode autodiff (core/tape.c, the backward functions of
-- core/tensor_ops.c): every differentiable op's gradient against central finite
-- differences of an independent Lua implementation evaluated in doubles, plus
-- accumulation, no_grad, detach and the error cases.
local ci = require "cinterp"

-- ---------------------------------------------------------------- helpers

local function numel(shape)
  local n = 1
  for _, s in ipairs(shape) do n = n * s end
  return n
end

-- flat row-major Lua array of a tensor's values
local function flat(t)
  local r = {}
  for i = 0, t:numel() - 1 do r[i + 1] = t.data[i] end
  return r
end

local function from_flat(values, shape)
  local t = ci.zeros(shape)
  for i = 1, #values do t.data[i - 1] = values[i] end
  return t
end

-- values in [lo, hi], kept away from `avoid` points by at least 0.1
local function draw(n, lo, hi, avoid)
  local r = {}
  for i = 1, n do
    local v
    repeat
      v = lo + (hi - lo) * math.random()
      local ok = true
      for _, a in ipairs(avoid or {}) do if math.abs(v - a) < 0.1 then ok = false end end
    until ok
    r[i] = v
  end
  return r
end

-- gradcheck{ inputs = { {shape=, lo=, hi=, avoid=} ...}, build = f(tensors...) -> tensor,
--            ref = f(flat double arrays...) -> flat double array }
-- Checks build's forward against ref and the tape's gradients of
-- L = sum(out .* W) (W random) against central differences of ref in doubles.
local function gradcheck(spec)
  local leaves, xs = {}, {}
  for k, inp in ipairs(spec.inputs) do
    local t = from_flat(draw(numel(inp.shape), inp.lo or -2, inp.hi or 2, inp.avoid), inp.shape)
    leaves[k] = t:requires_grad(true)
    xs[k] = flat(t)   -- the exact float32 values, as doubles
  end
  local out = spec.build(unpack(leaves))
  local ref_out = spec.ref(unpack(xs))
  assert.are.equal(#ref_out, out:numel(), "output size")
  for i = 1, #ref_out do
    local a, b = out.data[i - 1], ref_out[i]
    assert(math.abs(a - b) <= 1e-4 * (1 + math.abs(b)),
           string.format("forward[%d]: %.7g vs reference %.7g", i, a, b))
  end
  local w = draw(#ref_out, -1, 1)
  local loss = (out * from_flat(w, out:size())):sum()
  loss:backward()
  local function L()
    local o = spec.ref(unpack(xs))
    local s = 0
    for i = 1, #o do s = s + w[i] * o[i] end
    return s
  end
  for k, x in ipairs(xs) do
    local g = leaves[k].grad
    if spec.no_grad_for and spec.no_grad_for[k] then
      assert.is_nil(g)
    else
      assert.is_not_nil(g, "input " .. k .. " got no gradient")
      assert.are.same(leaves[k]:size(), g:size())
      for j = 1, #x do
        local h = 1e-6 * math.max(1, math.abs(x[j]))
        local old = x[j]
        x[j] = old + h; local lp = L()
        x[j] = old - h; local lm = L()
        x[j] = old
        local fd = (lp - lm) / (2 * h)
        local an = g.data[j - 1]
        assert(math.abs(an - fd) <= 1e-3 * (1 + math.abs(fd)),
               string.format("input %d element %d: tape %.7g vs finite differences %.7g", k, j, an, fd))
      end
    end
  end
end

-- elementwise reference builders
local function map1(f) return function(x) local r = {} for i = 1, #x do r[i] = f(x[i]) end return r end end
local function map2(f) return function(x, y) local r = {} for i = 1, #x do r[i] = f(x[i], y[i]) end return r end end

-- broadcast reference for 2-d outputs: a (ra x ca), b (rb x cb) -> (max r x max c)
local function bcast2(f, ra, ca, rb, cb)
  return function(x, y)
    local R, Cc = math.max(ra, rb), math.max(ca, cb)
    local r = {}
    for i = 1, R do
      for j = 1, Cc do
        local xa = x[((ra == 1) and 0 or (i - 1)) * ca + ((ca == 1) and 1 or j)]
        local yb = y[((rb == 1) and 0 or (i - 1)) * cb + ((cb == 1) and 1 or j)]
        r[#r + 1] = f(xa, yb)
      end
    end
    return r
  end
end

local function sign(v) return v > 0 and 1 or (v < 0 and -1 or 0) end

describe("the tape: gradients agree with finite differences", function()
  before_each(function() math.randomseed(7) end)

  -- binary ops, same shape
  for name, f in pairs {
    add = function(a, b) return a + b end, sub = function(a, b) return a - b end,
    mul = function(a, b) return a * b end, div = function(a, b) return a / b end,
  } do
    it("tensor " .. name .. " tensor", function()
      gradcheck { inputs = { { shape = { 2, 3 } }, { shape = { 2, 3 }, lo = 0.5, hi = 2 } },
                  build = function(a, b) return a[name](a, b) end, ref = map2(f) }
    end)
  end

  it("operators + - * / and unary minus", function()
    gradcheck { inputs = { { shape = { 3 } }, { shape = { 3 }, lo = 0.5, hi = 2 } },
                build = function(a, b) return -(a + b) * a - a / b end,
                ref = map2(function(a, b) return -(a + b) * a - a / b end) }
  end)

  it("numbers on either side", function()
    gradcheck { inputs = { { shape = { 4 }, lo = 0.5, hi = 2 } },
                build = function(a) return (1 - a) * 3 + 2 / a - a / 4 + (a - 1) + (2 + a) end,
                ref = map1(function(a) return (1 - a) * 3 + 2 / a - a / 4 + (a - 1) + (2 + a) end) }
  end)

  it("pow with a number exponent, a number base and a tensor exponent", function()
    gradcheck { inputs = { { shape = { 5 }, lo = 0.3, hi = 2 } },
                build = function(a) return a:pow(3) + a:pow(-0.5) + a ^ 2 end,
                ref = map1(function(a) return a ^ 3 + a ^ -0.5 + a ^ 2 end) }
    gradcheck { inputs = { { shape = { 5 } } },
                build = function(a) return 2 ^ a end, ref = map1(function(a) return 2 ^ a end) }
    gradcheck { inputs = { { shape = { 2, 2 }, lo = 0.3, hi = 2 }, { shape = { 2, 2 } } },
                build = function(a, b) return a:pow(b) end, ref = map2(function(a, b) return a ^ b end) }
  end)

  it("maximum and minimum", function()
    gradcheck { inputs = { { shape = { 6 } }, { shape = { 6 } } },
                build = function(a, b) return a:maximum(b) + a:minimum(b) * 2 end,
                ref = map2(function(a, b) return math.max(a, b) + 2 * math.min(a, b) end) }
  end)

  local unary = {
    abs = { math.abs, avoid = { 0 } }, sqrt = { math.sqrt, lo = 0.2 }, exp = { math.exp },
    log = { math.log, lo = 0.2 },
    tanh = { function(v) return (math.exp(v) - math.exp(-v)) / (math.exp(v) + math.exp(-v)) end },
    relu = { function(v) return v > 0 and v or 0 end, avoid = { 0 } },
    sigmoid = { function(v) return 1 / (1 + math.exp(-v)) end },
    neg = { function(v) return -v end },
  }
  for name, u in pairs(unary) do
    it(name, function()
      gradcheck { inputs = { { shape = { 2, 3 }, lo = u.lo, avoid = u.avoid } },
                  build = function(a) return a[name](a) end, ref = map1(u[1]) }
    end)
  end

  it("sign has a zero gradient", function()
    gradcheck { inputs = { { shape = { 4 }, avoid = { 0 } } },
                build = function(a) return a:sign() end, ref = map1(sign) }
  end)

  it("clamp with both bounds and with one", function()
    local avoid = { -0.5, 0.7 }
    gradcheck { inputs = { { shape = { 8 }, avoid = avoid } },
                build = function(a) return a:clamp(-0.5, 0.7) end,
                ref = map1(function(v) return math.min(math.max(v, -0.5), 0.7) end) }
    gradcheck { inputs = { { shape = { 8 }, avoid = avoid } },
                build = function(a) return a:clamp(nil, 0.7) + a:clamp(-0.5) end,
                ref = map1(function(v) return math.min(v, 0.7) + math.max(v, -0.5) end) }
  end)

  it("broadcasting reduces the gradient over the broadcast dims", function()
    gradcheck { inputs = { { shape = { 2, 3 } }, { shape = { 3 } } },
                build = function(a, b) return a * b end,
                ref = bcast2(function(x, y) return x * y end, 2, 3, 1, 3) }
    gradcheck { inputs = { { shape = { 2, 1 } }, { shape = { 1, 3 }, lo = 0.5 } },
                build = function(a, b) return a / b + a - b end,
                ref = bcast2(function(x, y) return x / y + x - y end, 2, 1, 1, 3) }
    gradcheck { inputs = { { shape = { 1 } }, { shape = { 2, 3 } } },
                build = function(a, b) return a:reshape() * b end,   -- 0-d times 2-d
                ref = function(x, y) local r = {} for i = 1, 6 do r[i] = x[1] * y[i] end return r end }
  end)

  it("sum and mean, whole and over a dim", function()
    gradcheck { inputs = { { shape = { 2, 3 } } },
                build = function(a) return a:sum() * 2 + a:mean() end,
                ref = function(x) local s = 0 for i = 1, 6 do s = s + x[i] end return { 2 * s + s / 6 } end }
    gradcheck { inputs = { { shape = { 2, 3 } } },
                build = function(a) return ci.cat({ a:sum(1), a:mean(2) }, 1) end,
                ref = function(x)
                  return { x[1] + x[4], x[2] + x[5], x[3] + x[6],
                           (x[1] + x[2] + x[3]) / 3, (x[4] + x[5] + x[6]) / 3 }
                end }
  end)

  it("max and min, whole and over a dim", function()
    local function mx(t) local m = t[1] for i = 2, #t do m = math.max(m, t[i]) end return m end
    local function mn(t) local m = t[1] for i = 2, #t do m = math.min(m, t[i]) end return m end
    gradcheck { inputs = { { shape = { 2, 3 } } },
                build = function(a) return a:max() + a:min() * 3 end,
                ref = function(x) return { mx(x) + 3 * mn(x) } end }
    gradcheck { inputs = { { shape = { 2, 3 } } },
                build = function(a) return (a:max(2)) end,
                ref = function(x) return { mx { x[1], x[2], x[3] }, mx { x[4], x[5], x[6] } } end }
    gradcheck { inputs = { { shape = { 2, 3 } } },
                build = function(a) return (a:min(1)) end,
                ref = function(x) return { math.min(x[1], x[4]), math.min(x[2], x[5]), math.min(x[3], x[6]) } end }
  end)

  it("norm 1 and 2", function()
    gradcheck { inputs = { { shape = { 2, 3 }, avoid = { 0 } } },
                build = function(a) return a:norm(1) + a:norm() * 2 + a:norm(3) end,
                ref = function(x)
                  local s1, s2, s3 = 0, 0, 0
                  for i = 1, #x do
                    s1 = s1 + math.abs(x[i]); s2 = s2 + x[i] ^ 2; s3 = s3 + math.abs(x[i]) ^ 3
                  end
                  return { s1 + 2 * math.sqrt(s2) + s3 ^ (1 / 3) }
                end }
  end)

  it("select, narrow and index (with repeats)", function()
    gradcheck { inputs = { { shape = { 3, 2 } } },
                build = function(a) return ci.cat({ a:select(1, 2), a:select(2, 1) }, 1) end,
                ref = function(x) return { x[3], x[4], x[1], x[3], x[5] } end }
    gradcheck { inputs = { { shape = { 3, 2 } } },
                build = function(a) return a:narrow(1, 2, 2) end,
                ref = function(x) return { x[3], x[4], x[5], x[6] } end }
    gradcheck { inputs = { { shape = { 3, 2 } } },
                build = function(a) return a:index(1, { 3, 1, 3 }) end,
                ref = function(x) return { x[5], x[6], x[1], x[2], x[5], x[6] } end }
  end)

  it("reshape, transpose, permute, clone", function()
    gradcheck { inputs = { { shape = { 2, 3 } } },
                build = function(a) return a:reshape(3, 2):clone() * ci.tensor { 1, 2 } end,
                ref = function(x) local r = {} for i = 1, 6 do r[i] = x[i] * (i % 2 == 1 and 1 or 2) end return r end }
    gradcheck { inputs = { { shape = { 2, 3 } } },
                build = function(a) return a:transpose(1, 2) * ci.tensor { 1, 2 } end,
                ref = function(x) return { x[1], 2 * x[4], x[2], 2 * x[5], x[3], 2 * x[6] } end }
    gradcheck { inputs = { { shape = { 2, 3, 2 } } },
                build = function(a) return a:permute(3, 1, 2) end,
                ref = function(x)
                  local r = {}
                  for k = 1, 2 do for i = 1, 2 do for j = 1, 3 do
                    r[#r + 1] = x[(i - 1) * 6 + (j - 1) * 2 + k]
                  end end end
                  return r
                end }
  end)

  it("cat and stack (also of more tensors than a node holds)", function()
    gradcheck { inputs = { { shape = { 2, 1 } }, { shape = { 2, 2 } } },
                build = function(a, b) return ci.cat({ a, b, a }, 2) end,
                ref = function(x, y) return { x[1], y[1], y[2], x[1], x[2], y[3], y[4], x[2] } end }
    gradcheck { inputs = { { shape = { 2 } }, { shape = { 2 } } },
                build = function(a, b) return ci.stack({ a, b }, 2) end,
                ref = function(x, y) return { x[1], y[1], x[2], y[2] } end }
    gradcheck { inputs = { { shape = { 2 } } },
                build = function(a)
                  local list = {}
                  for k = 1, 11 do list[k] = a * k end
                  return ci.stack(list)
                end,
                ref = function(x) local r = {} for k = 1, 11 do r[#r + 1] = k * x[1]; r[#r + 1] = k * x[2] end return r end }
  end)

  it("where gives the gradient to both branches, none to the mask", function()
    local mask = ci.tensor { { 1, 0, 1 }, { 0, 0, 1 } }
    local m = flat(mask)
    gradcheck { inputs = { { shape = { 2, 3 } }, { shape = { 3 } } },
                build = function(a, b) return ci.where(mask, a * 2, b) end,
                ref = function(x, y)
                  local r = {}
                  for i = 1, 6 do r[i] = m[i] ~= 0 and 2 * x[i] or y[(i - 1) % 3 + 1] end
                  return r
                end }
  end)

  it("matmul 2-d x 2-d, 2-d x 1-d, 1-d x 2-d, 1-d x 1-d", function()
    local function mm(x, y, m, k, n)
      local r = {}
      for i = 1, m do for j = 1, n do
        local s = 0
        for l = 1, k do s = s + x[(i - 1) * k + l] * y[(l - 1) * n + j] end
        r[#r + 1] = s
      end end
      return r
    end
    gradcheck { inputs = { { shape = { 2, 3 } }, { shape = { 3, 4 } } },
                build = function(a, b) return a:matmul(b) end,
                ref = function(x, y) return mm(x, y, 2, 3, 4) end }
    gradcheck { inputs = { { shape = { 2, 3 } }, { shape = { 3 } } },
                build = function(a, b) return a:matmul(b) end,
                ref = function(x, y) return mm(x, y, 2, 3, 1) end }
    gradcheck { inputs = { { shape = { 3 } }, { shape = { 3, 2 } } },
                build = function(a, b) return a:matmul(b) end,
                ref = function(x, y) return mm(x, y, 1, 3, 2) end }
    gradcheck { inputs = { { shape = { 3 } }, { shape = { 3 } } },
                build = function(a, b) return a:matmul(b) end,
                ref = function(x, y) return mm(x, y, 1, 3, 1) end }
  end)

  it("a composite loss (mse + L1/L2 regulariser through tanh)", function()
    local target = ci.tensor { { 0.5, -0.2, 0.1 }, { 0.3, 0.0, -0.4 } }
    local tv = flat(target)
    gradcheck { inputs = { { shape = { 2, 3 } } },
                build = function(a)
                  local y = a:tanh()
                  return ((y - target):pow(2)):mean() + 0.1 * (y:norm(1) + y:norm(2))
                end,
                ref = function(x)
                  local mse, n1, n2 = 0, 0, 0
                  for i = 1, 6 do
                    local y = math.tanh and math.tanh(x[i]) or
                              (math.exp(x[i]) - math.exp(-x[i])) / (math.exp(x[i]) + math.exp(-x[i]))
                    mse = mse + (y - tv[i]) ^ 2
                    n1 = n1 + math.abs(y); n2 = n2 + y * y
                  end
                  return { mse / 6 + 0.1 * (n1 + math.sqrt(n2)) }
                end }
  end)
end)

describe("the tape: conventions at kinks (as torch)", function()
  local function grad_of(x, f)
    local t = ci.tensor(x):requires_grad(true)
    f(t):sum():backward()
    return t.grad:totable()
  end
  it("relu'(0) = 0, abs'(0) = 0, sign' = 0", function()
    assert.are.same({ 0, 1, 0 }, grad_of({ 0, 2, -1 }, function(t) return t:relu() end))
    assert.are.same({ 0, 1, -1 }, grad_of({ 0, 2, -1 }, function(t) return t:abs() end))
    assert.are.same({ 0, 0, 0 }, grad_of({ 0, 2, -1 }, function(t) return t:sign() end))
  end)
  it("clamp passes the gradient on the bounds (inclusive)", function()
    assert.are.same({ 0, 1, 1, 1, 0 },
                    grad_of({ -2, -1, 0, 1, 2 }, function(t) return t:clamp(-1, 1) end))
  end)
  it("max / min send the gradient to the first extreme only", function()
    assert.are.same({ 0, 1, 0, 0 }, grad_of({ 1, 3, 3, 0 }, function(t) return t:max() end))
    assert.are.same({ 1, 0, 0, 0 }, grad_of({ 0, 3, 3, 0 }, function(t) return t:min() end))
  end)
  it("norm(2) of zeros has a zero gradient; norm(1) is sign", function()
    assert.are.same({ 0, 0 }, grad_of({ 0, 0 }, function(t) return t:norm(2) end))
    assert.are.same({ 1, -1, 0 }, grad_of({ 2, -3, 0 }, function(t) return t:norm(1) end))
  end)
end)

describe("the tape: behaviour", function()
  it("accumulates leaf gradients across backward calls until zero_grad", function()
    local x = ci.tensor { 1, 2, 3 }:requires_grad(true)
    assert.is_nil(x.grad)
    local y = (x * x):sum()     -- dy/dx = 2x (x used twice by one node)
    y:backward()
    assert.are.same({ 2, 4, 6 }, x.grad:totable())
    y:backward()                -- the graph is kept: runs again and accumulates
    assert.are.same({ 4, 8, 12 }, x.grad:totable())
    local z = (x * 3):sum()
    z:backward()
    assert.are.same({ 7, 11, 15 }, x.grad:totable())
    x:zero_grad()
    assert.is_nil(x.grad)
    x.grad = nil                -- torch's idiom also works
    z:backward()
    assert.are.same({ 3, 3, 3 }, x.grad:totable())
  end)

  it("backward(grad) for a non-scalar output, and errors without it", function()
    local x = ci.tensor { 1, 2 }:requires_grad(true)
    local y = x * x
    assert.has_error(function() y:backward() end)
    local ok, err = pcall(function() y:backward() end)
    assert.is_false(ok)
    assert.truthy(err:find("tensor:backward", 1, true))
    y:backward(ci.tensor { 1, 10 })
    assert.are.same({ 2, 40 }, x.grad:totable())
  end)

  it("a tensor that is not on the tape cannot backward", function()
    local ok, err = pcall(function() ci.tensor { 1 }:sum():backward() end)
    assert.is_false(ok)
    assert.truthy(err:find("does not require grad", 1, true))
  end)

  it("backward on a leaf sets its own gradient", function()
    local x = ci.tensor(3):requires_grad(true)
    x:backward()
    assert.are.equal(1, x.grad:item())
  end)

  it("no_grad records nothing, returns fn's results and restores the mode on error", function()
    local x = ci.tensor { 1, 2 }:requires_grad(true)
    assert.is_true(ci.grad_enabled())
    local y, extra = ci.no_grad(function(a) return (x * a):sum(), "extra" end, 2)
    assert.are.equal("extra", extra)
    assert.are.equal(6, y:item())
    assert.is_false(y:requires_grad())
    assert.is_true(y:is_leaf())
    assert.is_true(ci.grad_enabled())
    local ok, err = pcall(ci.no_grad, function() error("boom") end)
    assert.is_false(ok)
    assert.truthy(tostring(err):find("boom", 1, true))
    assert.is_true(ci.grad_enabled())
    -- nested
    ci.no_grad(function()
      ci.no_grad(function() end)
      assert.is_false(ci.grad_enabled())
    end)
    assert.is_true(ci.grad_enabled())
  end)

  it("detach leaves the tape and shares no memory", function()
    local x = ci.tensor { 1, 2 }:requires_grad(true)
    local y = x * 2
    local d = y:detach()
    assert.is_false(d:requires_grad())
    assert.is_true(d:is_leaf())
    d:set(100, 1)
    assert.are.equal(2, y:get(1))
    local loss = (d * x):sum()  -- d is a constant here
    loss:backward()
    assert.are.same({ 100, 4 }, x.grad:totable())
  end)

  it("requires_grad: method, state, non-leaf error, non-leaves get no .grad", function()
    local x = ci.zeros(2)
    assert.is_false(x:requires_grad())
    assert.are.equal(x, x:requires_grad(true))
    assert.is_true(x:requires_grad())
    local y = x + 1
    assert.is_true(y:requires_grad())
    assert.is_false(y:is_leaf())
    assert.are.equal("add", y:grad_fn_name())
    assert.has_error(function() y:requires_grad(false) end)
    y:sum():backward()
    assert.is_nil(y.grad)
    assert.are.same({ 1, 1 }, x.grad:totable())
    x:requires_grad(false)
    assert.is_false(x:requires_grad())
  end)

  it("comparison masks carry no gradient", function()
    local x = ci.tensor { 1, -1 }:requires_grad(true)
    local m = x:gt(0)
    assert.is_false(m:requires_grad())
    local y = (x * m):sum()
    y:backward()
    assert.are.same({ 1, 0 }, x.grad:totable())
  end)

  it("handles long chains and diamonds", function()
    local x = ci.tensor { 0.5 }:requires_grad(true)
    local y = x
    for _ = 1, 2000 do y = y * 1.0001 + 0 end
    y:sum():backward()
    assert.is_true(math.abs(x.grad:item() - 1.0001 ^ 2000) < 1e-3 * 1.0001 ^ 2000)
    local a = ci.tensor { 2 }:requires_grad(true)
    local b = a * 3
    local c = b * b + b       -- dc/da = (2b + 1) * 3 = 39
    c:sum():backward()
    assert.are.equal(39, a.grad:item())
  end)

  it("set_grad_enabled returns the previous mode", function()
    assert.is_true(ci.set_grad_enabled(false))
    local x = ci.ones(1):requires_grad(true)
    assert.is_true((x * 2):is_leaf())
    assert.is_false(ci.set_grad_enabled(true))
    assert.is_false((x * 2):is_leaf())
  end)
end)
