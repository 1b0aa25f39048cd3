-- tensor_spec.lua: dense float32 tensors (core/tensor*.c, lua/cinterp/tensor.lua):
-- construction, errors, 1-based indexing, printing, broadcasting and every op
-- against a naive Lua computation.
local ci = require "cinterp"

local function close(a, b, tol)
  return math.abs(a - b) <= (tol or 1e-5) * (1 + math.abs(b))
end

local function assert_values(t, expected, tol)
  local flat = {}
  local function walk(v) if type(v) == "table" then for _, x in ipairs(v) do walk(x) end else flat[#flat + 1] = v end end
  walk(expected)
  assert.are.equal(#flat, t:numel())
  for i = 1, #flat do
    assert(close(t.data[i - 1], flat[i], tol),
           string.format("element %d: %.7g, expected %.7g", i, t.data[i - 1], flat[i]))
  end
end

local function err_of(f, ...)
  local ok, err = pcall(f, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("tensor construction", function()
  it("ci.tensor from nested tables, up to 4-d, and from a number", function()
    local t = ci.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
    assert.are.equal(2, t:dim())
    assert.are.same({ 2, 3 }, t:size())
    assert.are.equal(3, t:size(2))
    assert.are.equal(3, t:size(-1))
    assert.are.equal(6, t:numel())
    assert.are.same({ { 1, 2, 3 }, { 4, 5, 6 } }, t:totable())
    local s = ci.tensor(2.5)
    assert.are.equal(0, s:dim())
    assert.are.same({}, s:size())
    assert.are.equal(2.5, s:item())
    local t4 = ci.tensor { { { { 1, 2 } }, { { 3, 4 } } } }
    assert.are.same({ 1, 2, 1, 2 }, t4:size())
    assert.are.equal(4, t4:get(1, 2, 1, 2))
    assert.are.same({ 0 }, ci.tensor {}:size())
  end)

  it("rejects ragged tables, naming the position", function()
    assert.truthy(err_of(ci.tensor, { { 1, 2 }, { 3, 4, 5 } })
                  :find("ci.tensor: row 2 has 3 elements, expected 2", 1, true))
    assert.truthy(err_of(ci.tensor, { { { 1, 2 }, { 3 } } })
                  :find("ci.tensor: entry [1][2] has 1 elements, expected 2", 1, true))
    assert.truthy(err_of(ci.tensor, { { 1, 2 }, 3 }):find("row 2 is a number", 1, true))
  end)

  it("rejects non-numbers", function()
    assert.truthy(err_of(ci.tensor, { { 1, "x" } }):find("element [1][2] is a string, expected a number", 1, true))
    assert.truthy(err_of(ci.tensor, { 1, true }):find("element [2] is a boolean", 1, true))
    assert.truthy(err_of(ci.tensor, "abc"):find("ci.tensor:", 1, true))
    assert.truthy(err_of(ci.tensor, { { { { { 1 } } } } }):find("at most 4", 1, true))
  end)

  it("zeros, ones, full (sizes as numbers or a table), arange", function()
    assert.are.same({ { 0, 0, 0 }, { 0, 0, 0 } }, ci.zeros(2, 3):totable())
    assert.are.same({ { 1, 1 } }, ci.ones({ 1, 2 }):totable())
    assert.are.same({ 7, 7 }, ci.full(7, 2):totable())
    assert.are.equal(0, ci.zeros():dim())
    assert.are.same({ 0, 1, 2, 3 }, ci.arange(4):totable())
    assert.are.same({ 1, 1.5, 2, 2.5 }, ci.arange(1, 3, 0.5):totable())
    assert.truthy(err_of(ci.zeros, 2, -1):find("ci.zeros: size 2 = -1", 1, true))
    assert.truthy(err_of(ci.ones, 1.5):find("ci.ones: size 1", 1, true))
  end)

  it("rand / randn: ranges, moments and seeded reproducibility", function()
    ci.manual_seed(42)
    local a = ci.rand(1000)
    local b = ci.randn(2000)
    ci.manual_seed(42)
    local a2 = ci.rand(1000)
    local b2 = ci.randn(2000)
    assert.are.same(a:totable(), a2:totable())
    assert.are.same(b:totable(), b2:totable())
    local s, lo, hi = 0, 1, 0
    for i = 0, 999 do s = s + a.data[i]; lo = math.min(lo, a.data[i]); hi = math.max(hi, a.data[i]) end
    assert.is_true(lo >= 0 and hi < 1)
    assert.is_true(math.abs(s / 1000 - 0.5) < 0.05)
    local m, v = 0, 0
    for i = 0, 1999 do m = m + b.data[i] end
    m = m / 2000
    for i = 0, 1999 do v = v + (b.data[i] - m) ^ 2 end
    v = v / 2000
    assert.is_true(math.abs(m) < 0.1 and math.abs(v - 1) < 0.1)
    ci.manual_seed(43)
    assert.are_not.same(a:totable(), ci.rand(1000):totable())
  end)

  it("is_tensor", function()
    assert.is_true(ci.is_tensor(ci.zeros(1)))
    assert.is_false(ci.is_tensor({}))
    assert.is_false(ci.is_tensor(3))
  end)
end)

describe("tensor indexing", function()
  local t = ci.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  it("get / set are 1-based", function()
    assert.are.equal(1, t:get(1, 1))
    assert.are.equal(6, t:get(2, 3))
    local u = t:clone()
    u:set(9, 2, 1)
    assert.are.equal(9, u:get(2, 1))
    assert.are.equal(4, t:get(2, 1))   -- clone copies
  end)
  it("errors name the index and the range", function()
    assert.truthy(err_of(t.get, t, 0, 1):find("tensor:get: index 1 = 0 is out of range 1..2", 1, true))
    assert.truthy(err_of(t.get, t, 1, 4):find("index 2 = 4 is out of range 1..3", 1, true))
    assert.truthy(err_of(t.set, t, 1, 3, 1):find("tensor:set: index 1 = 3 is out of range 1..2", 1, true))
    assert.truthy(err_of(t.get, t, 1):find("2 dimensions, got 1 indices", 1, true))
    assert.truthy(err_of(t.item, t):find("tensor:item", 1, true))
  end)
  it("select, narrow, index", function()
    assert.are.same({ 4, 5, 6 }, t:select(1, 2):totable())
    assert.are.same({ 2, 5 }, t:select(2, 2):totable())
    assert.are.same({ { 2, 3 }, { 5, 6 } }, t:narrow(2, 2, 2):totable())
    assert.are.same({ { 3, 1, 3 }, { 6, 4, 6 } }, t:index(2, { 3, 1, 3 }):totable())
    assert.are.same({ { 4, 5, 6 } }, t:index(1, ci.tensor { 2 }):totable())
    assert.truthy(err_of(t.select, t, 1, 3):find("out of range 1..2", 1, true))
    assert.truthy(err_of(t.narrow, t, 2, 2, 3):find("tensor:narrow", 1, true))
    assert.truthy(err_of(t.index, t, 2, { 1, 4 }):find("idx[2] = 4 is out of range 1..3", 1, true))
    assert.truthy(err_of(t.sum, t, 3):find("tensor:sum: dim = 3 is out of range 1..2", 1, true))
  end)
end)

describe("tensor shapes", function()
  local t = ci.tensor { { 1, 2, 3 }, { 4, 5, 6 } }
  it("reshape / view (with -1), flatten, unsqueeze, squeeze", function()
    assert.are.same({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, t:reshape(3, 2):totable())
    assert.are.same({ 3, 2 }, t:view(-1, 2):size())
    assert.are.same({ 1, 2, 3, 4, 5, 6 }, t:flatten():totable())
    assert.are.same({ 2, 1, 3 }, t:unsqueeze(2):size())
    assert.are.same({ 2, 3 }, t:unsqueeze(1):squeeze():size())
    assert.truthy(err_of(t.reshape, t, 4, 2):find("cannot reshape (2x3)", 1, true))
  end)
  it("transpose and permute against index arithmetic", function()
    assert.are.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, t:transpose(1, 2):totable())
    assert.are.same({ { 1, 4 }, { 2, 5 }, { 3, 6 } }, t:t():totable())
    ci.manual_seed(1)
    local x = ci.rand(2, 3, 4)
    local p = x:permute(3, 1, 2)
    assert.are.same({ 4, 2, 3 }, p:size())
    for i = 1, 2 do for j = 1, 3 do for k = 1, 4 do
      assert.are.equal(x:get(i, j, k), p:get(k, i, j))
    end end end
  end)
  it("cat and stack", function()
    local a, b = ci.tensor { { 1, 2 } }, ci.tensor { { 3, 4 }, { 5, 6 } }
    assert.are.same({ { 1, 2 }, { 3, 4 }, { 5, 6 } }, ci.cat({ a, b }):totable())
    assert.are.same({ { 1, 2, 1, 2 } }, ci.cat({ a, a }, 2):totable())
    assert.are.same({ { 1, 3 }, { 2, 4 } }, ci.stack({ ci.tensor { 1, 2 }, ci.tensor { 3, 4 } }, 2):totable())
    assert.are.same({ { 1, 2 }, { 3, 4 } }, ci.stack({ ci.tensor { 1, 2 }, ci.tensor { 3, 4 } }):totable())
    assert.truthy(err_of(ci.cat, { a, ci.zeros(1, 3) }, 1):find("ci.cat:", 1, true))
    assert.truthy(err_of(ci.stack, { a, b }):find("ci.stack:", 1, true))
  end)
  it("fill, copy, add_", function()
    local u = ci.zeros(2, 2):fill(3)
    assert.are.same({ { 3, 3 }, { 3, 3 } }, u:totable())
    u:copy(ci.tensor { 1, 2, 3, 4 })
    assert.are.same({ { 1, 2 }, { 3, 4 } }, u:totable())
    u:add_(ci.ones(2, 2), -2)
    assert.are.same({ { -1, 0 }, { 1, 2 } }, u:totable())
    assert.truthy(err_of(u.copy, u, ci.zeros(3)):find("tensor:copy", 1, true))
  end)
end)

describe("tensor arithmetic", function()
  ci.manual_seed(5)
  local a = ci.randn(3, 4)
  local b = ci.rand(3, 4) + 0.5
  local function each(t, f)
    local r = {}
    for i = 0, t:numel() - 1 do r[i + 1] = f(t.data[i], i) end
    return r
  end
  it("+ - * / and unary minus against Lua", function()
    assert_values(a + b, each(a, function(v, i) return v + b.data[i] end))
    assert_values(a - b, each(a, function(v, i) return v - b.data[i] end))
    assert_values(a * b, each(a, function(v, i) return v * b.data[i] end))
    assert_values(a / b, each(a, function(v, i) return v / b.data[i] end))
    assert_values(-a, each(a, function(v) return -v end))
    assert_values(a + 1, each(a, function(v) return v + 1 end))
    assert_values(1 + a, each(a, function(v) return v + 1 end))
    assert_values(a - 1, each(a, function(v) return v - 1 end))
    assert_values(1 - a, each(a, function(v) return 1 - v end))
    assert_values(2 * a, each(a, function(v) return 2 * v end))
    assert_values(a / 2, each(a, function(v) return v / 2 end))
    assert_values(2 / b, each(b, function(v) return 2 / v end))
    assert_values(b ^ 2, each(b, function(v) return v * v end))
    assert_values(2 ^ a, each(a, function(v) return 2 ^ v end))
  end)
  it("broadcasting as torch", function()
    local row = ci.tensor { 10, 20, 30, 40 }
    local col = ci.tensor { { 1 }, { 2 }, { 3 } }
    assert_values(a + row, each(a, function(v, i) return v + row.data[i % 4] end))
    assert_values(a * col, each(a, function(v, i) return v * col.data[math.floor(i / 4)] end))
    assert.are.same({ { 11, 21, 31, 41 }, { 12, 22, 32, 42 }, { 13, 23, 33, 43 } }, (col + row):totable())
    assert.are.same({ 2, 3, 4 }, (ci.zeros(2, 1, 4) + ci.zeros(3, 1)):size())
    local msg = err_of(function() return a + ci.ones(3) end)
    assert.truthy(msg:find("shapes (3x4) and (3) cannot be broadcast", 1, true))
    assert.truthy(err_of(function() return a + "x" end):find("expected tensors or numbers", 1, true))
  end)
  it("elementwise functions", function()
    local function sgn(v) return v > 0 and 1 or (v < 0 and -1 or 0) end
    assert_values(a:abs(), each(a, math.abs))
    assert_values(b:sqrt(), each(b, math.sqrt))
    assert_values(a:exp(), each(a, math.exp))
    assert_values(b:log(), each(b, function(v) return math.log(v) end))
    assert_values(a:tanh(), each(a, function(v) return (math.exp(2 * v) - 1) / (math.exp(2 * v) + 1) end))
    assert_values(a:relu(), each(a, function(v) return math.max(v, 0) end))
    assert_values(a:sign(), each(a, sgn))
    assert_values(a:sigmoid(), each(a, function(v) return 1 / (1 + math.exp(-v)) end))
    assert_values(b:pow(1.5), each(b, function(v) return v ^ 1.5 end))
    assert_values(a:clamp(-0.5, 0.5), each(a, function(v) return math.min(math.max(v, -0.5), 0.5) end))
    assert_values(a:clamp(nil, 0.5), each(a, function(v) return math.min(v, 0.5) end))
    assert_values(a:clamp(0), each(a, function(v) return math.max(v, 0) end))
    assert_values(a:maximum(b), each(a, function(v, i) return math.max(v, b.data[i]) end))
  end)
  it("comparison masks and where", function()
    local x = ci.tensor { -1, 0, 2 }
    assert.are.same({ 0, 0, 1 }, x:gt(0):totable())
    assert.are.same({ 0, 1, 1 }, x:ge(0):totable())
    assert.are.same({ 1, 0, 0 }, x:lt(0):totable())
    assert.are.same({ 1, 1, 0 }, x:le(0):totable())
    assert.are.same({ 0, 1, 0 }, x:eq(0):totable())
    assert.are.same({ 1, 0, 1 }, x:ne(ci.tensor { 0, 0, 0 }):totable())
    assert.are.same({ 5, 0, 2 }, ci.where(x:ge(0), x, 5):totable())
    assert.are.same({ { -1, 7 }, { -1, 7 } }, ci.where(ci.tensor { 1, 0 }, -1, ci.full(7, 2, 2)):totable())
  end)
  it("matmul against a naive product", function()
    local m, k, n = 3, 4, 5
    local A, B = ci.randn(m, k), ci.randn(k, n)
    local C = A:matmul(B)
    assert.are.same({ m, n }, C:size())
    for i = 1, m do for j = 1, n do
      local s = 0
      for l = 1, k do s = s + A:get(i, l) * B:get(l, j) end
      assert(close(C:get(i, j), s, 1e-5))
    end end
    local v = ci.randn(k)
    local Av = A:matmul(v)
    assert.are.same({ m }, Av:size())
    for i = 1, m do
      local s = 0
      for l = 1, k do s = s + A:get(i, l) * v:get(l) end
      assert(close(Av:get(i), s, 1e-5))
    end
    assert.are.equal(0, v:matmul(v):dim())
    assert.truthy(err_of(A.matmul, A, A):find("tensor:matmul: shapes (3x4) and (3x4) do not match", 1, true))
  end)
end)

describe("tensor reductions", function()
  local t = ci.tensor { { 1, 5, 3 }, { 4, 2, 6 } }
  it("sum and mean, whole and over a dim (dim removed)", function()
    assert.are.equal(21, t:sum():item())
    assert.are.equal(0, t:sum():dim())
    assert.are.equal(3.5, t:mean():item())
    assert.are.same({ 5, 7, 9 }, t:sum(1):totable())
    assert.are.same({ 3, 4 }, t:mean(2):totable())
    assert.are.same({ 3, 4 }, t:mean(-1):totable())
  end)
  it("sums large tensors accurately (double accumulation)", function()
    local n = 300000
    local x = ci.full(0.1, n)
    local s = x:sum():item()
    assert.is_true(math.abs(s - n * 0.1) < 1e-3 * n * 0.1)
    assert.are.equal(s, x:sum():item())   -- deterministic
  end)
  it("max / min, whole and with dim (1-based indices)", function()
    assert.are.equal(6, t:max():item())
    assert.are.equal(1, t:min():item())
    local v, i = t:max(2)
    assert.are.same({ 5, 6 }, v:totable())
    assert.are.same({ 2, 3 }, i:totable())
    v, i = t:min(1)
    assert.are.same({ 1, 2, 3 }, v:totable())
    assert.are.same({ 1, 2, 1 }, i:totable())
  end)
  it("norm 1 and 2", function()
    local x = ci.tensor { 3, -4 }
    assert.are.equal(7, x:norm(1):item())
    assert.are.equal(5, x:norm():item())
    assert.are.equal(5, x:norm(2):item())
  end)
end)

describe("tensor printing", function()
  it("has a shape header and aligned rows", function()
    local s = tostring(ci.tensor { { 1, 2.5 }, { -3, 4 } })
    local lines = {}
    for l in s:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("ci.tensor (2x2) float32", lines[1])
    assert.are.equal(3, #lines)
    assert.truthy(lines[2]:find("2.5", 1, true))
    assert.truthy(lines[3]:find("-3", 1, true))
    assert.are.equal(#lines[2], #lines[3])
  end)
  it("shows 0-d, 1-d and the grad state", function()
    assert.are.equal("ci.tensor () float32\n1.5", tostring(ci.tensor(1.5)))
    local x = ci.tensor { 1, 2, 3 }
    assert.truthy(tostring(x):find("^ci.tensor %(3%) float32\n"))
    x:requires_grad(true)
    assert.truthy(tostring(x):find("requires_grad", 1, true))
    assert.truthy(tostring(x * 2):find("grad_fn=mul", 1, true))
  end)
  it("abbreviates large tensors and prints 3-d slices", function()
    local big = ci.arange(400):reshape(20, 20)
    local s = tostring(big)
    assert.truthy(s:find("ci.tensor (20x20) float32", 1, true))
    assert.truthy(s:find("...", 1, true))
    assert.truthy(s:find("399", 1, true))       -- last element shown
    assert.falsy(s:find("%f[%d]200%f[%D]"))       -- a middle element is not
    local n = 0
    for _ in s:gmatch("\n") do n = n + 1 end
    assert.is_true(n <= 8)
    local t3 = tostring(ci.zeros(2, 2, 3))
    assert.truthy(t3:find("[1,:,:]", 1, true) and t3:find("[2,:,:]", 1, true))
    local t4 = tostring(ci.zeros(2, 2, 1, 1))
    assert.truthy(t4:find("[2,1,:,:]", 1, true))
  end)
end)
