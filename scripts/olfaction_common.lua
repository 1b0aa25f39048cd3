-- olfaction_common.lua: the recipe shared by olfaction.lua and olfaction_figures.lua
-- (not a script of its own). They load it relative to their own path:
--   local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
--   local olf = dofile(here .. "/olfaction_common.lua")(ci)
-- and get:
--   olf.ODOURS_OPTION             the --odours entry of a ci.cli.parse spec
--   olf.files(script, data)       the mushroom body folder and the DoOR table under
--                                 data; absent: prints "<script>: skipped: ..." and exits 0
--   olf.load(mb, door)            the recipe: { c (the connectome, signs from nt_type),
--                                 read_s (CPU seconds reading c took), resp (DoOR:
--                                 glomerulus x odour), types, class (per
--                                 neuron), sensory (the uniglomerular projection neurons,
--                                 cell type "<glomerulus>_<lineage>PN", whose glomerulus
--                                 DoOR covers), group (per neuron: the glomerulus for
--                                 those, else the cell type, else the class, else
--                                 "unknown"), glomeruli (theirs, sorted), glom_index
--                                 (glomerulus -> its position there) }
--   olf.odours(resp, list, report) the DoOR columns of the odours in a comma-separated
--                                 list (column "<name>_<InChIKey>", first match): df,
--                                 names; report: print the ones DoOR lacks. None found:
--                                 "no odour found; nothing to do", exit 1
--   olf.target(target_idx, layer) the activation-maximisation target { [layer] = {i = 1} }
return function(ci)
  local olf = {}

  olf.ODOURS_OPTION = { "--odours LIST", "benzaldehyde,ethyl acetate,2-heptanone,1-octen-3-ol,isopentyl acetate",
                        "comma-separated DoOR odour names (default: benzaldehyde,\n" ..
                        "ethyl acetate,2-heptanone,1-octen-3-ol,isopentyl acetate)" }

  function olf.files(script, data)
    local mb = data .. "/flywire_783_mushroom_body"
    local door = data .. "/door/processed_door_adult.csv"
    if not ci.cli.exists(mb .. "/edges.csv.gz") or not ci.cli.exists(door) then
      print(script .. ": skipped: the FlyWire mushroom body or DoOR data is absent under " .. data ..
            " (give --data DIR)")
      os.exit(0)
    end
    return mb, door
  end

  function olf.load(mb, door)
    local r = {}
    local t0 = os.clock()
    r.c = ci.connectome.read { edges = mb .. "/edges.csv.gz", neurons = mb .. "/neurons.csv.gz", nt = "nt_type" }
    r.read_s = os.clock() - t0
    r.resp = ci.read_csv(door)
    local in_door = {}
    for _, g in ipairs(r.resp.glomerulus) do in_door[g] = true end
    local c, types, class = r.c, r.c:groups("type"), r.c:groups("class")
    local group, sensory = {}, {}
    for i = 1, c.n do
      group[i] = types[i] ~= "" and types[i] or (class[i] ~= "" and class[i] or "unknown")
      if class[i] == "ALPN" then
        local g = types[i]:match("^([%w]+)_%w*PN$")
        if g and in_door[g] then sensory[#sensory + 1] = i; group[i] = g end
      end
    end
    local glomeruli, glom_index = {}, {}
    for _, i in ipairs(sensory) do
      if not glom_index[group[i]] then glom_index[group[i]] = true; glomeruli[#glomeruli + 1] = group[i] end
    end
    table.sort(glomeruli)
    for k, g in ipairs(glomeruli) do glom_index[g] = k end
    r.types, r.class, r.group, r.sensory, r.glomeruli, r.glom_index = types, class, group, sensory, glomeruli,
                                                                        glom_index
    return r
  end

  function olf.odours(resp, list, report)
    local cols = resp:columns()
    local chosen, names = { "glomerulus" }, {}
    for name in list:gmatch("[^,]+") do
      local found
      for j = 2, #cols do
        if cols[j]:sub(1, #name + 1) == name .. "_" then found = cols[j] break end
      end
      if found then chosen[#chosen + 1] = found; names[#names + 1] = name
      elseif report then print("odour not in DoOR: " .. name) end
    end
    if #names == 0 then print("no odour found; nothing to do") os.exit(1) end
    return resp:select(chosen), names
  end

  function olf.target(target_idx, layer)
    local tgt = { [layer] = {} }
    for _, i in ipairs(target_idx) do tgt[layer][i] = 1 end
    return tgt
  end

  return olf
end
