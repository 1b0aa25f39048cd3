-- readme_table.lua: `make bench-readme`. Rewrites the README's benchmark table
-- (between the bench-table markers of its "Benchmark" section) from a results
-- CSV of bench/bench.lua, so that the README quotes only the figures of one
-- side-by-side run, with its date.
--
--   cinterp bench/readme_table.lua [--csv bench/results.csv] [--readme README.md] [--print]
-- --print writes the table to stdout instead of the README.
local root = (debug.getinfo(1, "S").source:match("^@(.*)/bench/[^/]*$")) or "."
package.path = root .. "/bench/?.lua;" .. package.path
local H = require "harness"

local o = { csv = root .. "/bench/results.csv", readme = root .. "/README.md" }
do
  local a, k = arg or {}, 1
  while k <= #a do
    if a[k] == "--print" then o.print = true; k = k + 1
    elseif (a[k] == "--csv" or a[k] == "--readme") and a[k + 1] then
      o[a[k]:sub(3)] = a[k + 1]; k = k + 2
    else
      io.stderr:write("readme_table.lua: bad argument " .. tostring(a[k]) ..
                      " (--csv FILE, --readme FILE, --print)\n")
      os.exit(2)
    end
  end
end

local function slurp(path)
  local f, err = io.open(path)
  if not f then
    io.stderr:write("readme_table.lua: cannot read " .. path .. ": " .. tostring(err) .. "\n")
    os.exit(1)
  end
  local s = f:read("*a")
  f:close()
  return s
end

local rows = H.parse_csv(slurp(o.csv))
for _, r in ipairs(rows) do
  if r.section == "run" and r.status ~= "complete" then
    io.stderr:write("readme_table.lua: warning: " .. o.csv .. " is from a run that did not finish " ..
                    "(status " .. tostring(r.status) .. ")\n")
  end
end
local lines = H.readme_lines(rows)
if o.print then
  print(table.concat(lines, "\n"))
  os.exit(0)
end
local text, err = H.replace_section(slurp(o.readme), lines)
if not text then
  io.stderr:write("readme_table.lua: " .. o.readme .. ": " .. err .. "\n")
  os.exit(1)
end
local f = assert(io.open(o.readme, "w"))
f:write(text)
f:close()
print("readme_table.lua: " .. o.readme .. " now quotes " .. o.csv)
