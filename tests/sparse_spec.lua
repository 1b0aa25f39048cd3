-- sparse_spec.lua: ci.sparse (CSR matrices): construction from COO with
-- duplicates, errors, get, transpose, todense, triplets, scaling, from_dense,
-- the sparse x dense product against a naive Lua product for several batch
-- widths, and its gradient through the tape (central finite differences).
local ci = require "cinterp"

-- Random COO with power-law row degrees (Pareto), empty rows and duplicates.
local function random_coo(nr, nc, mean)
  local rows, cols, vals = {}, {}, {}
  for i = 1, nr do
    if math.random() > 0.15 then
      local deg = math.floor(mean / 3 * (1 - math.random()) ^ (-1 / 1.5))
      if deg > nc then deg = nc end
      for _ = 1, deg do
        rows[#rows + 1] = i
        cols[#cols + 1] = math.random(nc)
        vals[#vals + 1] = math.random() * 2 - 1
      end
    end
  end
  -- a few explicit duplicates, then shuffle
  for k = 1, #rows - 1, 9 do rows[k + 1], cols[k + 1] = rows[k], cols[k] end
  for k = #rows, 2, -1 do
    local j = math.random(k)
    rows[k], rows[j] = rows[j], rows[k]
    cols[k], cols[j] = cols[j], cols[k]
    vals[k], vals[j] = vals[j], vals[k]
  end
  return rows, cols, vals
end

-- Naive dense matrix (Lua tables, double) from COO.
local function dense_of(nr, nc, rows, cols, vals)
  local d = {}
  for i = 1, nr do
    d[i] = {}
    for j = 1, nc do d[i][j] = 0 end
  end
  for k = 1, #rows do d[rows[k]][cols[k]] = d[rows[k]][cols[k]] + vals[k] end
  return d
end

local function random_table(n, b)
  local t = {}
  for i = 1, n do
    if b then
      t[i] = {}
      for j = 1, b do t[i][j] = math.random() - 0.5 end
    else
      t[i] = math.random() - 0.5
    end
  end
  return t
end

local function close(a, b, tol) return math.abs(a - b) <= tol * (1 + math.abs(b)) end

describe("ci.sparse", function()
  before_each(function() math.randomseed(20240611) end)

  it("builds from 1-based COO triplets, summing duplicates", function()
    local m = ci.sparse({ 1, 2, 1, 3, 1 }, { 2, 2, 2, 1, 3 }, { 1, 2, 3, 4, -0.5 }, 3, 4)
    assert.is_true(ci.is_sparse(m))
    assert.same({ 3, 4 }, m:size())
    assert.equal(3, m:size(1))
    assert.equal(4, m:size(2))
    assert.equal(4, m:nnz())
    assert.equal(4, m:get(1, 2))   -- 1 + 3
    assert.equal(-0.5, m:get(1, 3))
    assert.equal(2, m:get(2, 2))
    assert.equal(4, m:get(3, 1))
    assert.equal(0, m:get(2, 1))
    assert.equal(0, m:get(3, 4))
    local r, c, v = m:triplets()
    assert.same({ 1, 1, 2, 3 }, r)
    assert.same({ 2, 3, 2, 1 }, c)
    assert.same({ 4, -0.5, 2, 4 }, v)
  end)

  it("infers the size from the largest indices when nrows/ncols are omitted", function()
    local m = ci.sparse({ 2, 5 }, { 7, 1 }, { 1, 1 })
    assert.same({ 5, 7 }, m:size())
  end)

  it("accepts tensors for rows, cols and vals", function()
    local m = ci.sparse(ci.tensor { 1, 2 }, ci.tensor { 2, 1 }, ci.tensor { 0.5, 0.25 }, 2, 2)
    assert.equal(0.5, m:get(1, 2))
    assert.equal(0.25, m:get(2, 1))
  end)

  it("rejects bad input with messages naming the argument and the entry", function()
    local function err(f)
      local ok, msg = pcall(f)
      assert.is_false(ok)
      return tostring(msg)
    end
    assert.matches("ci.sparse: rows%[2%] = 0 is out of range 1..3",
      err(function() ci.sparse({ 1, 0 }, { 1, 1 }, { 1, 1 }, 3, 3) end))
    assert.matches("ci.sparse: cols%[1%] = %-2 is out of range 1..3",
      err(function() ci.sparse({ 1 }, { -2 }, { 1 }, 3, 3) end))
    assert.matches("ci.sparse: rows%[3%] = 4 is out of range 1..3",
      err(function() ci.sparse({ 1, 2, 4 }, { 1, 1, 1 }, { 1, 1, 1 }, 3, 3) end))
    assert.matches("ci.sparse: cols%[2%] = 1.5 is not an integer",
      err(function() ci.sparse({ 1, 1 }, { 1, 1.5 }, { 1, 1 }, 3, 3) end))
    assert.matches("ci.sparse: rows has 2 entries but cols has 1",
      err(function() ci.sparse({ 1, 1 }, { 1 }, { 1, 1 }, 3, 3) end))
    assert.matches("ci.sparse: rows has 2 entries but vals has 3",
      err(function() ci.sparse({ 1, 1 }, { 1, 2 }, { 1, 1, 1 }, 3, 3) end))
    assert.matches("ci.sparse: vals%[1%] = x is not a number",
      err(function() ci.sparse({ 1 }, { 1 }, { "x" }, 3, 3) end))
    assert.matches("ci.sparse: nrows must be a non%-negative integer",
      err(function() ci.sparse({ 1 }, { 1 }, { 1 }, -1, 3) end))
    assert.matches("ci.sparse: rows must be a Lua array or a tensor",
      err(function() ci.sparse(5, { 1 }, { 1 }, 3, 3) end))
    local m = ci.sparse({ 1 }, { 1 }, { 1 }, 3, 3)
    assert.matches("sparse:get: i = 4 is out of range 1..3", err(function() m:get(4, 1) end))
    assert.matches("sparse:get: j = 0 is out of range 1..3", err(function() m:get(1, 0) end))
    assert.matches("sparse:size: dimension 3", err(function() m:size(3) end))
  end)

  it("agrees with a naive dense matrix on a random power-law matrix", function()
    local nr, nc = 60, 45
    local rows, cols, vals = random_coo(nr, nc, 6)
    local D = dense_of(nr, nc, rows, cols, vals)
    local m = ci.sparse(rows, cols, vals, nr, nc)
    local nnz = 0
    for i = 1, nr do
      for j = 1, nc do
        if D[i][j] ~= 0 then nnz = nnz + 1 end
        assert.is_true(close(m:get(i, j), D[i][j], 1e-6), ("get(%d, %d)"):format(i, j))
      end
    end
    assert.equal(nnz, m:nnz())
    local d = m:todense()
    assert.same({ nr, nc }, d:size())
    for i = 1, nr do
      for j = 1, nc do assert.is_true(close(d:get(i, j), D[i][j], 1e-6)) end
    end
    -- triplets: sorted by row then column, matching the dense sums
    local r, c, v = m:triplets()
    assert.equal(nnz, #r)
    for k = 1, #r do
      if k > 1 then
        assert.is_true(r[k] > r[k - 1] or (r[k] == r[k - 1] and c[k] > c[k - 1]))
      end
      assert.is_true(close(v[k], D[r[k]][c[k]], 1e-6))
    end
    -- transpose
    local t = m:transpose()
    assert.same({ nc, nr }, t:size())
    assert.equal(nnz, t:nnz())
    for i = 1, nr do
      for j = 1, nc do assert.is_true(close(t:get(j, i), D[i][j], 1e-6)) end
    end
  end)

  it("converts from a dense tensor, skipping zeros", function()
    local m = ci.sparse.from_dense(ci.tensor { { 0, 1.5, 0 }, { 0, 0, 0 }, { -2, 0, 3 } })
    assert.same({ 3, 3 }, m:size())
    assert.equal(3, m:nnz())
    local r, c, v = m:triplets()
    assert.same({ 1, 3, 3 }, r)
    assert.same({ 2, 1, 3 }, c)
    assert.same({ 1.5, -2, 3 }, v)
    assert.has_error(function() ci.sparse.from_dense({ 1, 2 }) end,
      "ci.sparse.from_dense: t must be a tensor, got table")
  end)

  it("scales rows and columns into new matrices", function()
    local m = ci.sparse({ 1, 1, 2 }, { 1, 3, 2 }, { 2, 4, 8 }, 2, 3)
    local a = m:scale_rows({ -1, 0.5 })
    local b = m:scale_cols(ci.tensor { 10, 100, 1000 })
    assert.equal(-2, a:get(1, 1)); assert.equal(-4, a:get(1, 3)); assert.equal(4, a:get(2, 2))
    assert.equal(20, b:get(1, 1)); assert.equal(4000, b:get(1, 3)); assert.equal(800, b:get(2, 2))
    assert.equal(2, m:get(1, 1)) -- unchanged
    local ok, msg = pcall(function() m:scale_rows({ 1, 2, 3 }) end)
    assert.is_false(ok)
    assert.matches("sparse:scale_rows: v has 3 entries, expected 2", msg)
    assert.equal(6, (m * 3):get(1, 1))
  end)

  it("prints readably", function()
    local m = ci.sparse({ 1, 2 }, { 3, 1 }, { 0.5, -1 }, 100, 100)
    local s = tostring(m)
    assert.matches("^ci.sparse 100x100, 2 nonzeros", s)
    assert.matches("%(1, 3%)%s+0.5", s)
    assert.matches("%(2, 1%)%s+%-1", s)
  end)

  describe("m * t", function()
    local nr, nc = 90, 70
    local rows, cols, vals, D, m
    before_each(function()
      rows, cols, vals = random_coo(nr, nc, 8)
      D = dense_of(nr, nc, rows, cols, vals)
      m = ci.sparse(rows, cols, vals, nr, nc)
    end)

    it("multiplies a 1-d tensor (B = 1)", function()
      local x = random_table(nc)
      local y = m * ci.tensor(x)
      assert.same({ nr }, y:size())
      for i = 1, nr do
        local want = 0
        for j = 1, nc do want = want + D[i][j] * x[j] end
        assert.is_true(close(y:get(i), want, 1e-5), ("row %d: %g vs %g"):format(i, y:get(i), want))
      end
    end)

    for _, B in ipairs { 1, 3, 8, 17, 32, 40 } do
      it(("multiplies an (ncols, %d) tensor"):format(B), function()
        local x = random_table(nc, B)
        local y = m * ci.tensor(x)
        assert.same({ nr, B }, y:size())
        local worst = 0
        for i = 1, nr do
          for b = 1, B do
            local want = 0
            for j = 1, nc do want = want + D[i][j] * x[j][b] end
            local e = math.abs(y:get(i, b) - want)
            if e > worst then worst = e end
          end
        end
        assert.is_true(worst < 1e-4, "max error " .. worst)
      end)
    end

    it("names both shapes on a mismatch", function()
      local ok, msg = pcall(function() return m * ci.zeros(nc + 1, 2) end)
      assert.is_false(ok)
      assert.matches("sparse %*: matrix of size 90x70 cannot multiply a tensor of shape %(71x2%)", msg)
      ok, msg = pcall(function() return m * "x" end)
      assert.is_false(ok)
      assert.matches("sparse %*: expected a tensor or a number on the right, got string", msg)
    end)

    it("differentiates through the tape (central finite differences)", function()
      local B = 3
      local x = random_table(nc, B)
      local w = random_table(nr, B)
      -- loss = sum((A x)^2 * w), evaluated naively in double
      local function loss_of(xx)
        local s = 0
        for i = 1, nr do
          for b = 1, B do
            local y = 0
            for j = 1, nc do y = y + D[i][j] * xx[j][b] end
            s = s + y * y * w[i][b]
          end
        end
        return s
      end
      local X = ci.tensor(x):requires_grad(true)
      local Y = m * X
      local loss = (Y * Y * ci.tensor(w)):sum()
      assert.is_true(close(loss:item(), loss_of(x), 1e-4))
      loss:backward()
      local g = X.grad
      assert.is_not_nil(g)
      assert.same({ nc, B }, g:size())
      local h = 1e-4
      for _ = 1, 25 do
        local j, b = math.random(nc), math.random(B)
        local old = x[j][b]
        x[j][b] = old + h
        local lp = loss_of(x)
        x[j][b] = old - h
        local lm = loss_of(x)
        x[j][b] = old
        local fd = (lp - lm) / (2 * h)
        assert.is_true(math.abs(g:get(j, b) - fd) <= 1e-3 * (1 + math.abs(fd)),
          ("d/dx[%d,%d]: %g vs %g"):format(j, b, g:get(j, b), fd))
      end
      -- a second backward through a new product reuses the cached transpose
      X.grad = nil
      local loss2 = (m * X):sum()
      loss2:backward()
      for j = 1, nc do
        local colsum = 0
        for i = 1, nr do colsum = colsum + D[i][j] end
        assert.is_true(close(X.grad:get(j, 1), colsum, 1e-5))
      end
    end)
  end)
end)
