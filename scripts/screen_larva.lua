-- screen_larva.lua: the optimal sensory input of every cell type of the larval
-- Drosophila brain (Winding et al. 2023), as one screen.
--   cinterp scripts/screen_larva.lua [--data DIR] [--out DIR] [--limit N] ... (--help)
-- Loads ../shared/data/larva_winding2023 (no transmitter data: every neuron
-- excitatory), takes the sensory neurons (flow = afferent, 430 neurons of 8
-- modalities) as the input and runs ci.screen kind "actmax" with one task per
-- cell type of the other neurons (column type: 16 types, from KC and PN to the
-- descending DN-VNC; the 346 unannotated neurons belong to none): the type's
-- neurons driven to 1 at the target layers, the optimised input summarised per
-- sensory modality (super_class). Writes into OUT (a rerun resumes it; other
-- settings need another OUT): results.csv (a row per cell type), inputs/<type>.csv
-- (each optimised input), input_by_group.csv and figures/inputs.png (cell type x
-- modality).
--
-- Settings, and why:
--  * tau = 1, 4 timesteps, targets at layers 3 and 4: every neuron of every
--    type is at most 3 synapses from a sensory neuron (breadth-first from the
--    afferents: PN and KC 1-2, MBON 1-3, DN-VNC 1-3), and input at timestep t
--    reaches distance d at layer t + d - 1;
--  * every task starts from 0.02 on every input (--init): the screen's default
--    random start (uniform 0..1 on all 430 inputs) saturates this all-excitatory
--    network (first activation loss ~0 for KC, MBON, PN), leaving nothing to
--    optimise;
--  * 60 iterations at learning rate 0.4 (the reference author's screen),
--    in_reg_lambda 1e-3, out_reg_lambda 1e-5: the output regulariser sums over
--    2,952 neurons x 4 layers; at 1e-4 it outweighs the targets (the loss
--    halves for 10 of 16 types only; for PN and LN it ends higher than it
--    began), at 1e-5 with in_reg 1e-3 the input stays selective (one or two
--    modalities lead).
-- What the numbers show (the full run): the activation loss falls to half or
-- less for all 16 types (median 0.33 -> 0.036); KC and MBON reach 0.98-0.99 from
-- olfactory (and thermo-cold) input, LHN from thermo-cold, RGN from gut; the
-- hardest are PN-somato (0.63 -> 0.16), ascending (0.61 -> 0.16) and the
-- descending DN-VNC / pre-DN-VNC (0.56 / 0.54 -> 0.12), large types reached
-- over many paths.
local ci = rawget(_G, "ci") or require "cinterp"

local here = debug.getinfo(1, "S").source:match("^@(.*)/[^/]*$") or "."
local sc = dofile(here .. "/screen_common.lua")(ci)

local o = sc.parse("screen_larva.lua", { out = "screen_larva_out", in_reg = 1e-3, out_reg = 1e-5, layers = 4,
                                         targets = "3,4" })
local dir = sc.data_dir(o, "larva_winding2023", "the larval connectome")

local c = ci.connectome.read { edges = dir .. "/edges.csv.gz", neurons = dir .. "/neurons.csv.gz" }
print(tostring(c))
io.stdout:flush()
-- the task column: the cell type of every neuron that is not an input (the
-- sensory neurons' own type, "sensory", is the input, not a task)
local neurons = c.neurons:add_column("cell_type", function(r) return r.flow ~= "afferent" and r.type or "" end)
sc.run(o, { connectome = { weights = c:weights(), neurons = neurons }, sensory = { flow = "afferent" },
            tasks = "cell_type", input_groups = "super_class" }, #c:select { flow = "afferent" })
