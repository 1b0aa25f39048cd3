-- harness.lua: the benchmark's bookkeeping, kept apart from the timing so that
-- tests/bench_spec.lua can check it without running anything big: the order
-- in which the sides run (reference and cinterp alternately), the medians and
-- spreads, the choice of the faster reference runtime, the ratios (only ever
-- between figures of the same run), the CSV and the README's table.
local M = {}
local fmt = string.format

------------------------------------------------------------------------------
-- statistics
------------------------------------------------------------------------------
local function finite(v) return type(v) == "number" and v == v and v ~= math.huge and v ~= -math.huge end

-- the median of the finite numbers in xs (NaN when there are none)
function M.median(xs)
  local t = {}
  for _, v in ipairs(xs) do if finite(v) then t[#t + 1] = v end end
  if #t == 0 then return 0 / 0 end
  table.sort(t)
  local m = #t
  if m % 2 == 1 then return t[(m + 1) / 2] end
  return 0.5 * (t[m / 2] + t[m / 2 + 1])
end

-- { median, min, max, n } over the finite numbers in xs
function M.summary(xs)
  local lo, hi, n = math.huge, -math.huge, 0
  for _, v in ipairs(xs) do
    if finite(v) then
      n = n + 1
      if v < lo then lo = v end
      if v > hi then hi = v end
    end
  end
  if n == 0 then return { median = 0 / 0, min = 0 / 0, max = 0 / 0, n = 0 } end
  return { median = M.median(xs), min = lo, max = hi, n = n }
end

-- a / b when both are finite and b > 0, else nil
function M.ratio(a, b)
  if finite(a) and finite(b) and b > 0 then return a / b end
  return nil
end

------------------------------------------------------------------------------
-- the order of the runs
------------------------------------------------------------------------------
-- The runs of one configuration: in each round, every reference runtime in
-- turn, each followed by a cinterp run (ref, ci, ref, ci, ...: the sides
-- alternate and every reference run has a cinterp run beside it, its pair);
-- with no reference runtime, one cinterp run per round.
-- Returns { { side = "ref"|"ci", runtime = name|nil, round = r, pair = k }, ... }
-- where pair numbers a reference run and the cinterp run after it.
function M.plan(runtimes, rounds)
  local order, pair = {}, 0
  for r = 1, rounds do
    if #runtimes == 0 then
      order[#order + 1] = { side = "ci", round = r }
    else
      for _, rt in ipairs(runtimes) do
        pair = pair + 1
        order[#order + 1] = { side = "ref", runtime = rt, round = r, pair = pair }
        order[#order + 1] = { side = "ci", round = r, pair = pair }
      end
    end
  end
  return order
end

-- After the first round: the runtimes so much slower than the fastest one
-- (by more than `factor` on every measure in `keys`, e.g. { "fwd_s",
-- "am_iter_s" }) that later rounds could not make them the faster one; the
-- driver times them in the first round only. A set { name = true }; a runtime
-- whose first run failed is not dropped here (its failure is reported).
function M.slower_runtimes(runs, runtimes, keys, factor)
  local first = {}
  for _, run in ipairs(runs) do
    if run.side == "ref" and run.round == 1 and run.res then first[run.runtime] = run.res end
  end
  local drop = {}
  for _, rt in ipairs(runtimes) do
    local mine = first[rt]
    if mine then
      local slower_everywhere = true
      for _, key in ipairs(keys) do
        local best
        for _, other in ipairs(runtimes) do
          local v = first[other] and first[other][key]
          if other ~= rt and finite(v) and (not best or v < best) then best = v end
        end
        if not (best and finite(mine[key]) and mine[key] > factor * best) then
          slower_everywhere = false
        end
      end
      if slower_everywhere then drop[rt] = true end
    end
  end
  return drop
end

------------------------------------------------------------------------------
-- one configuration's figures from its runs
------------------------------------------------------------------------------
-- runs: the plan's entries, each with its result (res: the RESULT table or nil)
-- and why (the reason when res is nil). measures: keys of a RESULT, e.g.
-- { fwd = "fwd_s", am = "am_iter_s", peak = "peak_mb" }.
-- Returns a row: ci_<m>_s / _min_s / _max_s (peak: ci_peak_mb...), the same
-- per runtime (<runtime>_<m>...), and for each measure the faster runtime's
-- median (ref_<m>..., ref_<m>_runtime), the ratio reference / cinterp of the
-- medians (<m>_ratio) and its spread over the back-to-back pairs of that
-- runtime (<m>_ratio_min / _max). Peak memory: the runtime with the lower
-- median peak, ratio reference / cinterp.
function M.combine(runs, runtimes, measures)
  local row = {}
  local by = { ci = {} }
  for _, rt in ipairs(runtimes) do by[rt] = {} end
  local pairs_ = {} -- pair number -> { ref = res, ci = res, runtime = rt }
  for _, run in ipairs(runs) do
    local who = run.side == "ci" and "ci" or run.runtime
    if run.res then
      local list = by[who]
      list[#list + 1] = run.res
      if run.pair then
        local p = pairs_[run.pair] or {}
        pairs_[run.pair] = p
        p[run.side] = run.res
        if run.side == "ref" then p.runtime = run.runtime end
      end
    end
  end
  local function col(list, key)
    local xs = {}
    for _, r in ipairs(list) do xs[#xs + 1] = r[key] end
    return xs
  end
  for m, key in pairs(measures) do
    local unit = m == "peak" and "mb" or "s"
    for who, list in pairs(by) do
      local s = M.summary(col(list, key))
      if s.n > 0 then
        row[fmt("%s_%s_%s", who, m, unit)] = s.median
        row[fmt("%s_%s_min_%s", who, m, unit)] = s.min
        row[fmt("%s_%s_max_%s", who, m, unit)] = s.max
      end
    end
    -- the faster (or, for memory, the leaner) reference runtime
    local best, best_v
    for _, rt in ipairs(runtimes) do
      local v = row[fmt("%s_%s_%s", rt, m, unit)]
      if v and (not best_v or v < best_v) then best, best_v = rt, v end
    end
    if best then
      row[fmt("ref_%s_%s", m, unit)] = best_v
      row[fmt("ref_%s_min_%s", m, unit)] = row[fmt("%s_%s_min_%s", best, m, unit)]
      row[fmt("ref_%s_max_%s", m, unit)] = row[fmt("%s_%s_max_%s", best, m, unit)]
      row[fmt("ref_%s_runtime", m)] = best
      row[m .. "_ratio"] = M.ratio(best_v, row[fmt("ci_%s_%s", m, unit)])
      local rs = {}
      for _, p in pairs(pairs_) do
        if p.runtime == best and p.ref and p.ci then
          rs[#rs + 1] = M.ratio(p.ref[key], p.ci[key])
        end
      end
      local s = M.summary(rs)
      if s.n > 0 then row[m .. "_ratio_min"], row[m .. "_ratio_max"] = s.min, s.max end
    end
  end
  return row
end

-- Checks that every run timed the same network (bench/nets.lua's checksums):
-- nil when they agree, else a message naming the runs that differ.
function M.same_network(runs)
  local first, first_who
  for _, run in ipairs(runs) do
    local r = run.res
    if r and r.nnz then
      local who = run.side == "ci" and "cinterp" or ("reference " .. tostring(run.runtime))
      if not first then
        first, first_who = r, who
      else
        local function close(a, b)
          a, b = tonumber(a), tonumber(b)
          return a and b and math.abs(a - b) <= 1e-5 * math.max(1, math.abs(a), math.abs(b))
        end
        if tonumber(r.nnz) ~= tonumber(first.nnz) or tonumber(r.n) ~= tonumber(first.n) or
            not close(r.wsum, first.wsum) or not close(r.wchk, first.wchk) then
          return fmt("different networks: %s has n=%s nnz=%s wsum=%s wchk=%s, %s has n=%s " ..
                     "nnz=%s wsum=%s wchk=%s", first_who, tostring(first.n), tostring(first.nnz),
                     tostring(first.wsum), tostring(first.wchk), who, tostring(r.n),
                     tostring(r.nnz), tostring(r.wsum), tostring(r.wchk))
        end
      end
    end
  end
  return nil
end

------------------------------------------------------------------------------
-- the CSV: one table, a union of columns, one row per figure
------------------------------------------------------------------------------
local per_side = {}
for _, who in ipairs { "ci", "pypi", "debian", "ref" } do
  for _, m in ipairs { "fwd", "am" } do
    for _, suffix in ipairs { "_s", "_min_s", "_max_s" } do
      per_side[#per_side + 1] = who .. "_" .. m .. suffix
    end
    if who == "ref" then per_side[#per_side + 1] = "ref_" .. m .. "_runtime" end
  end
  for _, suffix in ipairs { "_mb", "_min_mb", "_max_mb" } do
    per_side[#per_side + 1] = who .. "_peak" .. suffix
  end
  if who == "ref" then per_side[#per_side + 1] = "ref_peak_runtime" end
end

M.COLS = { "section", "date", "net", "n", "nnz", "S", "B", "L", "rounds", "seq", "round", "side",
           "runtime" }
for _, c in ipairs(per_side) do M.COLS[#M.COLS + 1] = c end
for _, c in ipairs { "fwd_ratio", "fwd_ratio_min", "fwd_ratio_max", "am_ratio", "am_ratio_min",
                     "am_ratio_max", "peak_ratio", "peak_ratio_min", "peak_ratio_max",
                     "fwd_s", "am_iter_s", "peak_mb", "variant", "ms_per_product", "min_ms",
                     "max_ms", "ns_per_nnz", "spmm_ms", "spmm_per_col_ms", "fwd_per_col_s",
                     "am_per_col_s", "am_vs_b1", "triad_gbs", "read_gbs", "actmax_total_s",
                     "actmax_iters", "actmax_first_loss", "actmax_last_loss",
                     -- section 'step': ms per timestep (core/profile.c)
                     "fwd_product_ms", "floor_ms", "product_vs_floor", "fwd_activation_ms",
                     "fwd_rest_ms", "fwd_output_ms", "bwd_elementwise_ms", "bwd_product_ms",
                     "bwd_rest_ms", "am_iter_ms", "am_outside_ms", "info", "status" } do
  M.COLS[#M.COLS + 1] = c
end

local function cell(v)
  if v == nil then return "" end
  if type(v) == "number" then
    if v ~= v then return "" end
    if v == math.floor(v) and math.abs(v) < 1e15 then return fmt("%d", v) end
    return fmt("%.6g", v)
  end
  v = tostring(v)
  if v:find('[,"\n]') then return '"' .. v:gsub('"', '""') .. '"' end
  return v
end

function M.csv_text(rows, cols)
  cols = cols or M.COLS
  local out = { table.concat(cols, ",") }
  for _, r in ipairs(rows) do
    local cells = {}
    for k, c in ipairs(cols) do cells[k] = cell(r[c]) end
    out[#out + 1] = table.concat(cells, ",")
  end
  return table.concat(out, "\n") .. "\n"
end

-- writes through path .. ".tmp" renamed over path, so a reader never sees half a file
function M.write_csv(path, rows, cols)
  local tmp = path .. ".tmp"
  local f, err = io.open(tmp, "w")
  if not f then return nil, err end
  f:write(M.csv_text(rows, cols))
  f:close()
  local ok, err2 = os.rename(tmp, path)
  if not ok then return nil, err2 end
  return true
end

-- parses M.csv_text's output: a list of rows keyed by the header's names
-- (numbers as numbers, empty cells absent)
function M.parse_csv(text)
  local records, rec, field, i, quoted = {}, {}, {}, 1, false
  local n = #text
  while i <= n do
    local ch = text:sub(i, i)
    if quoted then
      if ch == '"' then
        if text:sub(i + 1, i + 1) == '"' then field[#field + 1] = '"'; i = i + 1
        else quoted = false end
      else field[#field + 1] = ch end
    elseif ch == '"' then quoted = true
    elseif ch == "," then rec[#rec + 1] = table.concat(field); field = {}
    elseif ch == "\n" then
      rec[#rec + 1] = table.concat(field); field = {}
      records[#records + 1] = rec; rec = {}
    elseif ch ~= "\r" then field[#field + 1] = ch end
    i = i + 1
  end
  if #field > 0 or #rec > 0 then rec[#rec + 1] = table.concat(field); records[#records + 1] = rec end
  local head = table.remove(records, 1) or {}
  local rows = {}
  for _, r in ipairs(records) do
    local row = {}
    for k, name in ipairs(head) do
      local v = r[k]
      if v and v ~= "" then row[name] = tonumber(v) or v end
    end
    rows[#rows + 1] = row
  end
  return rows, head
end

------------------------------------------------------------------------------
-- printing figures
------------------------------------------------------------------------------
function M.sec(s)
  if not finite(s) then return "-" end
  if s < 0.1 then return fmt("%.4f", s) end
  if s < 10 then return fmt("%.3f", s) end
  return fmt("%.1f", s)
end

-- "median [min-max]" of seconds
function M.spread(med, lo, hi)
  if not finite(med) then return "-" end
  if finite(lo) and finite(hi) and hi > lo then
    return fmt("%s [%s-%s]", M.sec(med), M.sec(lo), M.sec(hi))
  end
  return M.sec(med)
end

function M.times(r)
  if not finite(r) then return "-" end
  return r >= 10 and fmt("%.0fx", r) or fmt("%.1fx", r)
end

-- "ratio [min-max]" over the back-to-back pairs
function M.ratio_spread(r, lo, hi)
  if not finite(r) then return "-" end
  if finite(lo) and finite(hi) and hi > lo then
    return fmt("%s [%s-%s]", M.times(r), M.times(lo):gsub("x$", ""), M.times(hi))
  end
  return M.times(r)
end

------------------------------------------------------------------------------
-- the README's table, from the CSV
------------------------------------------------------------------------------
M.README_BEGIN = "<!-- bench-table: begin (make bench-readme writes this from bench/results.csv) -->"
M.README_END = "<!-- bench-table: end -->"

local NET_LABEL = { ref10k = "10k / 0.5M", ref50k = "50k / 3.0M" }
function M.net_label(net, n, nnz)
  if NET_LABEL[net] then return NET_LABEL[net] end
  if n and nnz then
    local function size(v)
      if v >= 1e6 then return fmt("%.1fM", v / 1e6) end
      if v >= 1e4 then return fmt("%.0fk", v / 1e3) end
      return fmt("%d", v)
    end
    return size(n) .. " / " .. size(nnz)
  end
  return tostring(net)
end

-- the Markdown lines quoting a results CSV (rows of M.parse_csv)
function M.readme_lines(rows)
  local run
  for _, r in ipairs(rows) do if r.section == "run" then run = r end end
  local side = {}
  for _, r in ipairs(rows) do if r.section == "side" then side[#side + 1] = r end end
  if not run or #side == 0 then
    return { "No side-by-side run is recorded in bench/results.csv yet: run `make bench`, " ..
             "then `make bench-readme`." }
  end
  local lines = {
    fmt("Measured side by side by `make bench` on %s (%s; reference runtimes: %s). Medians " ..
        "over %s rounds, [min-max] over the rounds; x = reference / cinterp, the reference " ..
        "being the faster of its runtimes for each figure (pypi: torch from PyPI, debian: " ..
        "Debian's python3-torch).", tostring(run.date), tostring(run.info or ""),
        tostring(run.runtime or "none"), tostring(run.rounds or "?")),
    "",
    "| network | B | L | reference forward | cinterp forward | x | reference AM iteration | " ..
    "cinterp AM iteration | x | peak MB reference / cinterp |",
    "|---|---|---|---|---|---|---|---|---|---|",
  }
  for _, r in ipairs(side) do
    local function ref(m)
      if not r["ref_" .. m .. "_s"] then return "not timed" end
      return fmt("%s s (%s)", M.spread(r["ref_" .. m .. "_s"], r["ref_" .. m .. "_min_s"],
                                       r["ref_" .. m .. "_max_s"]), r["ref_" .. m .. "_runtime"])
    end
    local function ours(m)
      local v = r["ci_" .. m .. "_s"]
      if not v then return "-" end
      return M.spread(v, r["ci_" .. m .. "_min_s"], r["ci_" .. m .. "_max_s"]) .. " s"
    end
    lines[#lines + 1] = fmt("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s |",
      M.net_label(r.net, r.n, r.nnz), tostring(r.B), tostring(r.L), ref("fwd"), ours("fwd"),
      M.ratio_spread(r.fwd_ratio, r.fwd_ratio_min, r.fwd_ratio_max), ref("am"), ours("am"),
      M.ratio_spread(r.am_ratio, r.am_ratio_min, r.am_ratio_max),
      r.ref_peak_mb and fmt("%.0f", r.ref_peak_mb) or "-",
      r.ci_peak_mb and fmt("%.0f", r.ci_peak_mb) or "-")
  end
  -- the product against its floor and the cost per batch column, same run
  local floor, width = {}, {}
  for _, r in ipairs(rows) do
    if r.section == "floor" and r.ms_per_product then
      floor[r.net .. "|" .. r.B .. "|" .. r.variant] = r.ms_per_product
    elseif r.section == "width" and r.B == 32 and r.am_vs_b1 then
      width[#width + 1] = fmt("%s %.2f", M.net_label(r.net, r.n, r.nnz), r.am_vs_b1)
    end
  end
  local prod = {}
  for _, r in ipairs(side) do
    local f, c = floor[r.net .. "|" .. r.B .. "|floor"], floor[r.net .. "|" .. r.B .. "|csr_spmm"]
    if f and c then
      prod[#prod + 1] = fmt("%s B=%d %.1f ms (floor %.1f ms)", M.net_label(r.net, r.n, r.nnz), r.B, c, f)
    end
  end
  if #prod > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "The sparse product alone (ci_csr_spmm) against its floor measured in the " ..
        "same run (core/floorbench.c): " .. table.concat(prod, "; ") .. "."
  end
  if #width > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "One AM iteration at batch 32 costs this fraction of 32 iterations at " ..
        "batch 1 (target <= 0.33): " .. table.concat(width, "; ") .. "."
  end
  local notes = {}
  for _, r in ipairs(side) do
    if r.status and r.status ~= "ok" then
      notes[#notes + 1] = fmt("%s B=%s: %s", M.net_label(r.net, r.n, r.nnz), tostring(r.B), r.status)
    end
  end
  if #notes > 0 then
    lines[#lines + 1] = ""
    lines[#lines + 1] = "Notes: " .. table.concat(notes, "; ") .. "."
  end
  return lines
end

-- text with the part between the markers replaced by lines; nil and a
-- message when the markers are missing or out of order
function M.replace_section(text, lines)
  local a = text:find(M.README_BEGIN, 1, true)
  local b = text:find(M.README_END, 1, true)
  if not a or not b or b < a then
    return nil, "the README has no '" .. M.README_BEGIN .. "' ... '" .. M.README_END .. "' section"
  end
  return text:sub(1, a + #M.README_BEGIN - 1) .. "\n" .. table.concat(lines, "\n") .. "\n" ..
      text:sub(b)
end

return M
