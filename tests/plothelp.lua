-- plothelp.lua: helpers shared by plot_spec.lua and grid_spec.lua: temporary
-- names, a whole-PNG check, and the texts of a rendered SVG with a check that
-- no two of them overlap.
local H = {}

function H.tmpbase()
  local p = os.tmpname()
  os.remove(p)
  return p
end

function H.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("*a")
  f:close()
  return s
end

local function be32(s, i)
  local a, b, c, d = s:byte(i, i + 3)
  return ((a * 256 + b) * 256 + c) * 256 + d
end

-- PNG: signature, then the IHDR chunk: width at bytes 17..20, height at 21..24;
-- a whole file: chunks chained by their lengths up to IEND, with image data
function H.png_size(path)
  local s = H.slurp(path)
  assert(s:sub(1, 8) == "\137PNG\r\n\26\n", path .. " is not a PNG (no signature)")
  assert(s:sub(13, 16) == "IHDR", path .. ": the PNG does not start with IHDR")
  local pos, idat, iend = 9, 0, false
  while pos + 8 <= #s do
    local len, kind = be32(s, pos), s:sub(pos + 4, pos + 7)
    if kind == "IDAT" then idat = idat + len end
    if kind == "IEND" then iend = true; break end
    pos = pos + 12 + len
  end
  assert(iend, path .. ": the PNG has no IEND chunk (truncated)")
  assert(idat > 1000, path .. ": the PNG holds almost no image data")
  return be32(s, 17), be32(s, 21)
end

-- gnuplot's SVG text: {x, y, size, anchor, text} for every unrotated <text>
function H.svg_texts(path)
  local out = {}
  for tr, attrs, text in H.slurp(path):gmatch('<g transform="([^"]*)"([^>]*)>%s*<text>(.-)</text>') do
    local x, y = tr:match("^translate%(([%d%.%-]+),([%d%.%-]+)%)$")
    if x then   -- rotated labels (rotate(...) after the translate) are left out
      out[#out + 1] = { x = tonumber(x), y = tonumber(y), size = tonumber(attrs:match('font%-size="([%d%.]+)"')),
                        anchor = attrs:match('text%-anchor="(%a+)"') or "start", text = text }
    end
  end
  return out
end

-- DejaVu Sans advance widths in em: digits 0.636, '.' and ' ' 0.318, '-' 0.361, others ~0.6
local function text_width(t, size)
  local w = 0
  for ch in t:gmatch(".") do
    w = w + (ch:match("%d") and 0.636 or (ch == "." or ch == " ") and 0.318 or ch == "-" and 0.361 or 0.6)
  end
  return w * size
end

-- pairs of texts of a rendered SVG that overlap or stand closer side by side
-- than 3/4 of a character (gnuplot's leading sign space counted, as cairo draws it)
function H.overlapping_texts(path)
  local boxes = {}
  for _, t in ipairs(H.svg_texts(path)) do
    if t.text:find("%S") then
      local w = text_width(t.text, t.size)
      local x0 = (t.anchor == "middle") and t.x - w / 2 or (t.anchor == "end") and t.x - w or t.x
      local pad = 0.375 * t.size
      boxes[#boxes + 1] = { x0 = x0 - pad, x1 = x0 + w + pad, y0 = t.y - 0.72 * t.size, y1 = t.y + 0.2 * t.size,
                            text = t.text }
    end
  end
  local bad = {}
  for i = 1, #boxes do
    for j = i + 1, #boxes do
      local a, b = boxes[i], boxes[j]
      if a.x0 < b.x1 and b.x0 < a.x1 and a.y0 < b.y1 and b.y0 < a.y1 then
        bad[#bad + 1] = "'" .. a.text .. "' / '" .. b.text .. "'"
      end
    end
  end
  return bad
end


-- asserts that a figure rendered as SVG has texts and none of them overlap
function H.no_overlap(fig)
  local svg = H.tmpbase() .. ".svg"
  fig:save(svg)
  local bad = H.overlapping_texts(svg)
  local n = #H.svg_texts(svg)
  os.remove(svg)
  assert(n > 5, "too few texts found in the SVG")
  assert(#bad == 0, "overlapping texts: " .. table.concat(bad, ", "))
end

return H
