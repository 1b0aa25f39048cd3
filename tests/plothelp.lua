-- plothelp.lua: helpers shared by plot_spec.lua, plot_html_spec.lua and
-- grid_spec.lua: temporary names, a whole-PNG check, the texts of a rendered SVG
-- with a check that no two of them overlap, a PNG decoder (zlib through the FFI)
-- that counts the drawn pixels of a region, and headless Chromium.
local H = {}
local fmt, min = string.format, math.min

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
H.text_width = text_width

-- gnuplot's SVG text turned by an angle: {x, y, angle (degrees, counter-clockwise),
-- size, anchor, text, left = the smallest x the text reaches}
function H.svg_turned_texts(path)
  local out = {}
  for x, y, rot, attrs, text in H.slurp(path):gmatch(
      '<g transform="translate%(([%d%.%-]+),([%d%.%-]+)%) rotate%(([%d%.%-]+)%)"([^>]*)>%s*<text>(.-)</text>') do
    local t = { x = tonumber(x), y = tonumber(y), angle = -tonumber(rot), text = text,
                size = tonumber(attrs:match('font%-size="([%d%.]+)"')),
                anchor = attrs:match('text%-anchor="(%a+)"') or "start" }
    local w = text_width(t.text, t.size)
    local dx = w * math.cos(math.rad(t.angle))
    local lift = t.size * math.sin(math.rad(t.angle))   -- the text's height, turned
    t.left = (t.anchor == "end" and t.x - dx or t.anchor == "middle" and t.x - dx / 2 or t.x) - lift
    out[#out + 1] = t
  end
  return out
end

-- the plot boxes of a rendered SVG (gnuplot's border paths M x0,y0 L x0,y1 L x1,y1
-- L x1,y0 L x0,y0 Z): {x0, x1, y0, y1} each, left to right
function H.svg_plot_boxes(path)
  local out = {}
  for a, b, c, d, e, f in H.slurp(path):gmatch(
      "d='M([%d%.]+),([%d%.]+) L[%d%.]+,([%d%.]+) L([%d%.]+),[%d%.]+ L[%d%.]+,[%d%.]+ L([%d%.]+),([%d%.]+) Z") do
    if a == e and b == f then
      out[#out + 1] = { x0 = tonumber(a), y0 = tonumber(b), y1 = tonumber(c), x1 = tonumber(d) }
    end
  end
  table.sort(out, function(p, q) return p.x0 < q.x0 end)
  return out
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

-- a get_neuron_activation-like frame: 2 batches x 3 groups x 5 time steps
-- (with_nan: two values missing)
function H.ts_frame(with_nan)
  local cols = { "batch_name", "group", "time_1", "time_2", "time_3", "time_4", "time_5" }
  local rows = {}
  for _, b in ipairs { "odour_a", "odour_b" } do
    for g, grp in ipairs { "ORN", "PN", "KC" } do
      local row = { b, grp }
      for t = 1, 5 do row[#row + 1] = math.sin(t * g) * (b == "odour_a" and 1 or 0.5) end
      rows[#rows + 1] = row
    end
  end
  if with_nan then rows[2][4] = 0 / 0; rows[5][7] = 0 / 0 end
  return require("cinterp").frame.from_rows(cols, rows)
end

-- ------------------------------------------------------------------ PNG pixels

local ffi = require "ffi"
local zlib
local function inflate(src, size)
  if not zlib then
    pcall(ffi.cdef, "int uncompress(uint8_t *dest, unsigned long *destLen, const uint8_t *source,"
                    .. " unsigned long sourceLen);")
    local ok, lib = pcall(ffi.load, "z")
    zlib = ok and lib or ffi.load("libz.so.1")
  end
  local dest = ffi.new("uint8_t[?]", size)
  local len = ffi.new("unsigned long[1]", size)
  local rc = zlib.uncompress(dest, len, src, #src)
  assert(rc == 0 and tonumber(len[0]) == size, "the PNG's image data does not inflate to its size")
  return dest
end

-- an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes) as
-- {w =, h =, rgb = function(x, y) -> r, g, b} (x, y from 0, from the top left)
function H.png_pixels(path)
  local s = H.slurp(path)
  H.png_size(path)
  local w, h, depth, ctype, interlace = be32(s, 17), be32(s, 21), s:byte(25), s:byte(26), s:byte(29)
  assert(depth == 8 and (ctype == 2 or ctype == 6) and interlace == 0,
         path .. ": expected an 8-bit RGB(A) non-interlaced PNG")
  local bpp = ctype == 6 and 4 or 3
  local idat, pos = {}, 9
  while pos + 8 <= #s do
    local len, kind = be32(s, pos), s:sub(pos + 4, pos + 7)
    if kind == "IDAT" then idat[#idat + 1] = s:sub(pos + 8, pos + 7 + len) end
    pos = pos + 12 + len
  end
  local stride = w * bpp
  local raw = inflate(table.concat(idat), h * (stride + 1))
  local px = ffi.new("uint8_t[?]", h * stride)
  for y = 0, h - 1 do   -- undo each scanline's filter (PNG spec, section 9)
    local f, src, row, up = raw[y * (stride + 1)], y * (stride + 1) + 1, y * stride, (y - 1) * stride
    for i = 0, stride - 1 do
      local a = i >= bpp and px[row + i - bpp] or 0
      local b = y > 0 and px[up + i] or 0
      local c = (i >= bpp and y > 0) and px[up + i - bpp] or 0
      local v = raw[src + i]
      if f == 1 then v = v + a
      elseif f == 2 then v = v + b
      elseif f == 3 then v = v + math.floor((a + b) / 2)
      elseif f == 4 then
        local p = a + b - c
        local pa, pb, pc = math.abs(p - a), math.abs(p - b), math.abs(p - c)
        v = v + ((pa <= pb and pa <= pc) and a or (pb <= pc) and b or c)
      end
      px[row + i] = v % 256
    end
  end
  return { w = w, h = h, rgb = function(x, y)
    local i = y * stride + x * bpp
    return px[i], px[i + 1], px[i + 2]
  end }
end

-- in the box {left, top, width, height} of an image: the pixels that are not the
-- white background (ink) and those of them with a colour (not grey: max - min
-- of the channels >= 50), which gnuplot's traces and heat maps draw and the
-- page's own text and buttons do not
function H.drawn_pixels(img, box)
  local ink, colour = 0, 0
  for y = box.top, min(img.h, box.top + box.height) - 1 do
    for x = box.left, min(img.w, box.left + box.width) - 1 do
      local r, g, b = img.rgb(x, y)
      if r < 235 or g < 235 or b < 235 then
        ink = ink + 1
        if math.max(r, g, b) - math.min(r, g, b) >= 50 then colour = colour + 1 end
      end
    end
  end
  return ink, colour
end

-- ------------------------------------------------------------------ headless Chromium

local function shell_quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end
H.shell_quote = shell_quote

-- Chromium's program (make deps installs Debian's chromium), or nil
function H.chromium()
  for _, name in ipairs { "chromium", "chromium-browser" } do
    local p = io.popen("command -v " .. name .. " 2>/dev/null")
    local out = p:read("*a")
    p:close()
    if out:match("%S") then return name end
  end
  return nil
end

-- runs headless Chromium on a local HTML file with a fresh profile (so that
-- runs in parallel do not share one); mode: "--screenshot=PNG --window-size=W,H"
-- or "--dump-dom"; returns its stdout
function H.run_chromium(html_path, mode)
  local exe = assert(H.chromium(), "chromium not found: `make deps` installs the Debian package chromium")
  local profile = H.tmpbase()
  assert(os.execute("mkdir -p " .. shell_quote(profile)) == 0)
  local p = io.popen(fmt("timeout 90 %s --headless --disable-gpu --no-sandbox --hide-scrollbars --no-first-run"
                         .. " --user-data-dir=%s %s file://%s 2>/dev/null", exe, shell_quote(profile), mode,
                         shell_quote(html_path)))
  local out = p:read("*a")
  p:close()
  os.execute("rm -rf " .. shell_quote(profile))
  return out
end

return H
