-- pending_declarations.lua: the declarations (cinterp.options) of the public
-- functions of the modules being restructured under issue 12 (network.lua,
-- targets.lua, actmax.lua, train.lua, saliency.lua, plot.lua), written while those
-- modules could not be edited. Paste each table into its module as
--   local NAME = O.declare{ ... }          (local O = require "cinterp.options")
-- and check the options at the top of the function with
--   opts = O.check(NAME, opts)             -- a new table, defaults filled
-- then read every option from that table (drop the module's own `or default`
-- fallbacks and its type checks of single options: the declaration does both).
-- Afterwards: `make docs`, and remove the names from NOT_YET_DECLARED in
-- tests/options_spec.lua (the list must become empty); tests/options_spec.lua
-- then wants a probe (PROBES[name]) for each function with options.
--
-- Besides the declarations, issue 13 asks of these modules:
--   network.lua  - O.define_type("network", "a ci.MultilayeredNetwork or ci.LinearNetwork",
--                  ci.is_network) and O.class{prefix = "net", var = "net", name =
--                  "ci.MultilayeredNetwork", methods = Network, is = ci.is_network,
--                  topic = "Models", doc = ...} (help(net) then lists the methods;
--                  declare the methods not below: biases, effective_tau, set_num_layers,
--                  stored_bytes, as the one-line entries at the end of this file);
--                - net:forward / net:vjp: manipulate keys are checked: with groups, a
--                  key must be one of net.groups (a number that is not a group is an
--                  error naming it and the groups, where it matched nothing before); a
--                  layer beyond num_layers is an error ("layer 5 is out of range
--                  1..3 (num_layers)") instead of being ignored: turn the case "a
--                  manipulation at a layer past num_layers is ignored" of
--                  tests/bad_input_spec.lua into an error case;
--                - ci.MultilayeredNetwork(W, s, {num_layer = 5}) and {tanh_steepnes = 3}
--                  then raise through O.check (test them in network_spec.lua).
--   targets.lua  - O.class{prefix = "targets", var = "t", name = "ci.TargetActivation",
--                  methods = TA, ...}; the table form {targets =, batch_size =} goes
--                  through O.check (a misspelled key is an error, not read as a layer).
--   actmax.lua   - activation_maximisation(net, t, {num_iteration = 3}) raises; add the
--                  options the restructured module gained (independent_batches, and
--                  keep_best if issue 13 item 4 is done) to the declaration.
--   plot.lua     - O.class{prefix = "fig", var = "fig", name = "ci.plot", methods =
--                  Figure, ...}; the options of the figures as merged (the list below
--                  is that of the code before the rework); a trace without color in a
--                  ci.plot spec fails inside plot.lua (arithmetic on nil): check it.
-- O.check lets keys starting with "_" through (actmax's _tape_path test switch).

local DEVICE = { "device", { "cpu", "cuda" }, nil, "must be the device the network lives on (never a silent fallback)",
                 default_text = "the network's" }
local NET_EXAMPLE = [[local W = ci.sparse({2, 3}, {1, 2}, {1, 1}, 3, 3)   -- the chain 1 -> 2 -> 3, post in rows
]]
local MANIPULATE = { "manipulate", "table", nil,
  "{[layer] = {[neuron or group] = value}} (or per batch {[b] = {[layer] = ...}}): activations held at value",
  default_text = "none" }

local NETWORK_OPTS = {
  { "num_layers", "integer >= 1", 2, "the number of timesteps (layers) of the forward pass" },
  { "threshold", "number", 0.01, "activations below it are set to 0 (MultilayeredNetwork)" },
  { "tanh_steepness", "number", 5, "the slope of every neuron (of the groups without slope_dict)" },
  { "idx_to_group", "table", nil, "the group of each neuron (a Lua array of n values); per-group parameters",
    default_text = "none: one set of parameters" },
  { "default_bias", "number", 0, "the bias of the groups without bias_dict" },
  { "bias_dict", "table", nil, "{group = bias}" },
  { "slope_dict", "table", nil, "{group = slope}" },
  { "divisive_normalization", "table", nil, "{pre_group = {post_group, ...}}: divisive inhibition" },
  { "divisive_strength", "number|table", 1, "a number or {pre_group = strength}" },
  { "activation_function", "function", nil, "function(net, x, x_previous) made of tensor ops (CPU, taped)",
    default_text = "the built-in one" },
  { "tau", "number", 10, "the time constant of the groups without tau_dict" },
  { "tau_dict", "table", nil, "{group = tau}" },
  { "device", { "cpu", "cuda" }, "cpu", "where the network runs (\"cuda\" needs make CUDA=1 and a GPU)" },
}

return {
  ---------------------------------------------------------------- network.lua
  {
    name = "ci.MultilayeredNetwork", where = "MultilayeredNetwork", topic = "Models",
    doc = [[The seed's rate model: at each of num_layers timesteps every neuron takes the
    weighted sum of the previous activations (post in rows of all_weights), applies
    tanh(slope * x + bias) above threshold, leaks with its time constant tau, and the sensory
    neurons get the input of that timestep. Parameters are per group when idx_to_group is
    given (net.slope, net.raw_biases, net.tau_param, net.divisive_strength, aligned with
    net.groups).]],
    args = { { "all_weights", "sparse|tensor", "n x n weights, post in rows" },
             { "sensory_indices", "array|tensor", "the neurons that take the input, in input-row order" } },
    opts = NETWORK_OPTS,
    returns = { { "net", "network", "help(net) lists its methods" } },
    example = NET_EXAMPLE .. [[local net = ci.MultilayeredNetwork(W, {1}, {num_layers = 3, threshold = 0})
local out = net:forward(ci.tensor{{1, 0, 0}})       -- input: 1 sensory neuron x 3 layers
print(out:size(1), out:size(2), out:get(2, 1) > 0, out:get(3, 1))  --> 3 3 true 0]],
  },
  {
    name = "ci.LinearNetwork", where = "LinearNetwork", topic = "Models",
    doc = [[The seed's linear rate model: as ci.MultilayeredNetwork without the threshold and
    the tanh (slope * x + bias, leaking with tau). Same arguments and options.]],
    args = { { "all_weights", "sparse|tensor", "n x n weights, post in rows" },
             { "sensory_indices", "array|tensor", "the neurons that take the input" } },
    opts = NETWORK_OPTS,
    returns = { { "net", "network", "" } },
    example = NET_EXAMPLE .. [[local net = ci.LinearNetwork(W, {1}, {num_layers = 2, tau = 1})
print(net:forward(ci.tensor{{1, 0}}):get(2, 1))  --> 5]],
  },
  {
    name = "ci.is_network", topic = "Models", doc = "Whether x is a ci.MultilayeredNetwork or ci.LinearNetwork.",
    args = "x", returns = "boolean",
    example = [[print(ci.is_network(ci.LinearNetwork(ci.sparse({2}, {1}, {1}, 2, 2), {1})), ci.is_network({}))  --> true false]],
  },
  {
    name = "net:forward", where = "MultilayeredNetwork.forward", topic = "Models",
    doc = [[Runs the model on an input (B, S, num_layers) or (S, num_layers) and returns the
    activations (B, n, num_layers) or (n, num_layers), also kept in net.activations. manipulate
    holds chosen activations at fixed values (silencing: 0); with groups its keys are group
    names, without them neuron indices. net(x, opts) is the same.]],
    args = { { "inputs", "tensor|table", "(B, S, L) or (S, L)" } },
    opts = {
      MANIPULATE,
      { "checkpoint_steps", "integer >= 0", 0, "store every k-th state only and recompute the rest in backward (0: store all)" },
      { "return_layer_list", "boolean", false, "return a Lua array of L tensors (n, B) instead" },
    },
    returns = { { "out", "tensor", "(B, n, L) or (n, L)" } },
    example = NET_EXAMPLE .. [[local net = ci.LinearNetwork(W, {1}, {num_layers = 2, tau = 1})
local x = ci.tensor{{1, 0}}
print(net:forward(x):get(2, 1))  --> 5
print(net:forward(x, {manipulate = {[1] = {[2] = 0}}}):get(2, 1))  --> 0]],
  },
  {
    name = "net:vjp", where = "MultilayeredNetwork.vjp", topic = "Models",
    doc = [[The vector-Jacobian product of the forward pass without the tape: the gradient of
    sum(grad_out * forward(inputs)) with respect to the input (and, with grad_x, to every
    activation); parameter gradients accumulate into their .grad.]],
    args = { { "inputs", "tensor", "(B, S, L) or (S, L)" }, { "grad_out", "tensor", "the shape of the output" } },
    opts = {
      MANIPULATE,
      { "checkpoint_steps", "integer >= 0", 0, "as in forward" },
      { "grad_x", "boolean", false, "also return the gradient with respect to every activation" },
    },
    returns = { { "grad_input", "tensor", "the input's shape" }, { "grad_x", "tensor|nil", "the output's shape" } },
    example = NET_EXAMPLE .. [[local net = ci.LinearNetwork(W, {1}, {num_layers = 2, tau = 1})
local g = net:vjp(ci.tensor{{1, 0}}, ci.tensor{{0, 0}, {1, 0}, {0, 0}})
print(g:get(1, 1))  --> 5]],
  },
  {
    name = "net:set_param_grads", where = "MultilayeredNetwork.set_param_grads", topic = "Models",
    doc = "Switches the gradients of the per-group parameters on or off (a network with groups).",
    opts_name = "flags",
    opts = {
      { "slopes", "boolean", nil, "net.slope", default_text = "unchanged" },
      { "raw_biases", "boolean", nil, "net.raw_biases", default_text = "unchanged" },
      { "divisive_strength", "boolean", nil, "net.divisive_strength", default_text = "unchanged" },
      { "tau", "boolean", nil, "net.tau_param", default_text = "unchanged" },
    },
    example = NET_EXAMPLE .. [[local net = ci.MultilayeredNetwork(W, {1}, {idx_to_group = {"a", "b", "b"}})
net:set_param_grads{slopes = true}
print(net.slope:requires_grad(), net.tau_param:requires_grad())  --> true false]],
  },
  {
    name = "net:to", where = "MultilayeredNetwork.to", topic = "Models",
    doc = [[Moves the network to "cpu" or "cuda" (every forward, backward and recipe follows);
    "cuda" without the CUDA build or a GPU is an error.]],
    args = { { "device", "string", "\"cpu\" or \"cuda\"" } }, returns = "net",
    example = NET_EXAMPLE .. [[print(ci.LinearNetwork(W, {1}):to("cpu").device)  --> cpu]],
  },
  {
    name = "net:activation_function", where = "MultilayeredNetwork.activation_function", topic = "Models",
    doc = [[The built-in activation as tensor ops on x = W x_previous (n, B): the template of a
    custom activation_function.]],
    args = { { "x", "tensor", "(n, B)" }, { "x_previous", "tensor", "(n, B)", optional = true } },
    opts = {
      { "slopes_full", "tensor", nil, "(n, 1) slopes instead of the network's" },
      { "biases_full", "tensor", nil, "(n, 1) biases instead of the network's" },
      { "taus_full", "tensor", nil, "(n, 1) time constants instead of the network's" },
    },
    returns = "tensor",
    example = NET_EXAMPLE .. [[local net = ci.LinearNetwork(W, {1}, {tau = 1})
print(net:activation_function(ci.ones(3, 1)):get(1, 1))  --> 5]],
  },
  {
    name = "ci.training_mode", where = "ci.training_mode", topic = "Models",
    doc = [[Runs fn(net) with the gradients of the chosen per-group parameters on, and restores
    them afterwards, even when fn raises (the seed's context manager).]],
    args = { { "net", "network", "a network with groups" } },
    opts = {
      { "train_slopes", "boolean", true, "net.slope" },
      { "train_biases", "boolean", true, "net.raw_biases" },
      { "divisive_strength", "boolean", true, "net.divisive_strength" },
      { "train_tau", "boolean", true, "net.tau_param" },
    },
    signature = "ci.training_mode(net, opts?, fn) -> fn's results",
    example = NET_EXAMPLE .. [[local net = ci.MultilayeredNetwork(W, {1}, {idx_to_group = {"a", "b", "b"}})
local on = ci.training_mode(net, {train_tau = false}, function(n) return n.slope:requires_grad() end)
print(on, net.slope:requires_grad())  --> true false]],
  },
  {
    name = "ci.legacy_activation_function", topic = "Models",
    doc = [[The reference's legacy activation tanh(relu(slope * x + bias)), leaking as
    y * (1 - tau) + x_previous * tau (tau between 0 and 1): for activation_function = ...]],
    args = { { "net", "network", "" }, { "x", "tensor", "(n, B)" }, { "x_previous", "tensor", "(n, B)", optional = true } },
    returns = "tensor",
    example = NET_EXAMPLE .. [[local net = ci.MultilayeredNetwork(W, {1}, {activation_function = ci.legacy_activation_function})
print(ci.legacy_activation_function(net, ci.zeros(3, 1)):get(1, 1))  --> 0]],
  },
  {
    name = "ci.legacy_activation_function_linear", topic = "Models",
    doc = "The linear legacy activation slope * x + bias, leaking as legacy_activation_function.",
    args = { { "net", "network", "" }, { "x", "tensor", "(n, B)" }, { "x_previous", "tensor", "(n, B)", optional = true } },
    returns = "tensor",
    example = NET_EXAMPLE .. [[local net = ci.LinearNetwork(W, {1})
print(ci.legacy_activation_function_linear(net, ci.ones(3, 1)):get(1, 1))  --> 5]],
  },

  ---------------------------------------------------------------- targets.lua
  {
    name = "ci.TargetActivation", where = "ci.TargetActivation", topic = "Targets",
    doc = [[The target activations of activation maximisation: {[layer] = {[neuron] = value}}
    (the same for every batch) or a frame with columns layer, neuron, value and optionally
    batch (1-based). Fields targets_df (a frame) and batch_size; t:get_batch_targets(b). Also
    ci.TargetActivation(targets, batch_size).]],
    signature = "ci.TargetActivation{targets = t, batch_size = B} -> targets",
    opts = {
      { "targets", "table|frame", nil, "{[layer] = {[neuron] = value}} or a frame", default_text = "required" },
      { "batch_size", "integer >= 1", nil, "the number of batches", default_text = "the frame's largest batch, or 1" },
    },
    returns = "targets",
    example = [[local t = ci.TargetActivation{targets = {[2] = {[3] = 0.5}}, batch_size = 2}
print(t.batch_size, t:get_batch_targets(2)[2][3])  --> 2 0.5]],
  },
  {
    name = "ci.is_target_activation", topic = "Targets", doc = "Whether x is a ci.TargetActivation.",
    args = "x", returns = "boolean",
    example = [[print(ci.is_target_activation(ci.TargetActivation{targets = {[1] = {[1] = 1}}}))  --> true]],
  },
  {
    name = "targets:get_batch_targets", where = "TargetActivation:get_batch_targets", topic = "Targets",
    doc = "The targets of batch b as {[layer] = {[neuron] = value}} (a copy).",
    args = "b", returns = "table",
    example = [[local t = ci.TargetActivation{targets = {[1] = {[4] = 0.2}}}
print(t:get_batch_targets(1)[1][4])  --> 0.2]],
  },

  ---------------------------------------------------------------- actmax.lua
  {
    name = "ci.activation_maximisation", where = "ci.activation_maximisation", topic = "Recipes",
    doc = [[Finds an input that drives chosen neurons to target activations: Adam on the input
    (B, S, num_layers) of a network, minimising the mean squared distance to the targets plus
    L1 + L2 regularisation of the input and of the activations (or custom regularisers),
    stopping early when the loss settles. Returns the reference's six results, output
    regularisation before input regularisation.]],
    args = { { "net", "network", "the model" },
             { "targets", "TargetActivation|table|frame", "what to reach (a plain table or frame is wrapped)" } },
    opts = {
      { "input_tensor", "tensor|table", nil, "the starting input (B, S, L)", default_text = "uniform random" },
      { "num_iterations", "integer >= 0", 50, "Adam steps" },
      { "learning_rate", "number", 0.1, "Adam's step size" },
      { "in_reg_lambda", "number", 0.01, "weight of the input's L1 + L2 regularisation" },
      { "out_reg_lambda", "number", 0.01, "weight of the activations' L1 + L2 regularisation" },
      { "custom_reg_functions", "table", nil, "{[\"in\"] = f, out = g}: Lua functions of a tensor returning a scalar tensor" },
      { "early_stopping", "boolean", true, "stop when the loss changes less than stopping_threshold for n_runs steps" },
      { "stopping_threshold", "number", 1e-5, "the change that counts as settled" },
      { "n_runs", "integer >= 1", 10, "steps the loss must stay settled" },
      { "use_tqdm", "boolean", true, "a progress bar on stderr when it is a terminal", alias = "progress" },
      { "print_output", "boolean", true, "print the losses every few iterations" },
      DEVICE,
      { "seed", "integer", nil, "seeds the random start", default_text = "the current random state" },
      { "normalize_gradients", "boolean", false, "divide the input's gradient by its norm" },
      { "quiet", "boolean", false, "no bar, no printing" },
      { "log", "function|string", nil, "a function called with each iteration's figures, or a CSV path" },
      { "batch_size", "integer >= 1", nil, "the batches of a plain targets table", default_text = "1" },
    },
    returns = {
      { "input", "tensor", "the optimised input (B, S, L) or (S, L)" },
      { "output", "tensor", "its activations" },
      { "act_loss", "array", "the activation loss per iteration" },
      { "out_reg_losses", "array", "the output regularisation per iteration" },
      { "in_reg_losses", "array", "the input regularisation per iteration" },
      { "snapshots", "array", "thresholded tanh of the input every few iterations" },
    },
    example = NET_EXAMPLE .. [[local net = ci.LinearNetwork(W, {1}, {num_layers = 2, tau = 1})
local t = ci.TargetActivation{targets = {[2] = {[3] = 1}}}
local x, out, loss = ci.activation_maximisation(net, t, {num_iterations = 40, seed = 1, quiet = true,
                                                       in_reg_lambda = 0, out_reg_lambda = 0})
print(loss[#loss] < loss[1])  --> true]],
  },

  ---------------------------------------------------------------- train.lua
  {
    name = "ci.train_model", where = "ci.train_model", topic = "Recipes",
    doc = [[Trains the per-group parameters of a network (slopes, biases, time constants,
    divisive strengths) so that its activations match target values: Adam over epochs on a
    seeded train/validation split of the batches, with a regularisation that keeps the
    parameters near their start. Returns the reference's eight results.]],
    args = { { "net", "network", "a network with groups" },
             { "inputs", "tensor", "(B, S, L)" },
             { "targets", "frame", "columns batch, neuron_idx, [layer,] value" } },
    opts = {
      { "num_epochs", "integer >= 0", 100, "passes over the training batches" },
      { "learning_rate", "number >= 0", 0.01, "Adam's step size" },
      { "param_reg_lambda", "number", 0.01, "weight of the mean |parameter - start|" },
      { "train_fraction", "number 0..1", 0.8, "the share of batches trained on (the rest validate)" },
      { "seed", "integer", 42, "seeds the split" },
      { "train_slopes", "boolean", true, "train net.slope" },
      { "train_biases", "boolean", true, "train net.raw_biases" },
      { "train_divisive_strength", "boolean", true, "train net.divisive_strength" },
      { "train_tau", "boolean", true, "train net.tau_param" },
      { "checkpoint_steps", "integer >= 0", 50, "as in net:forward" },
      { "activation_loss_fn", "string|function", "mse", "\"mse\", \"mae\" or a function (pred, target) -> scalar tensor" },
      { "nudge_zero_biases", "boolean", true, "start zero biases slightly above 0, as the reference" },
      { "param_reg_gradient", "boolean", false, "let the regulariser's anchors move (the reference does not)" },
      { "quiet", "boolean", false, "no progress output" },
      DEVICE,
      { "train_indices", "array", nil, "1-based training batches, in order, instead of the seeded split" },
      { "log", "function|string", nil, "a function called per epoch with the figures, or a CSV path" },
    },
    returns = "net, history, ...",
    example = NET_EXAMPLE .. [[local net = ci.MultilayeredNetwork(W, {1}, {num_layers = 2, idx_to_group = {"s", "a", "b"}})
local inputs = ci.rand(4, 1, 2)
local targets = ci.frame.from_rows({"batch", "neuron_idx", "value"}, {{1, 2, 0.5}, {2, 2, 0.5}, {3, 2, 0.5}, {4, 2, 0.5}})
local _, history = ci.train_model(net, inputs, targets, {num_epochs = 3, quiet = true})
print(#history.loss)  --> 3]],
  },

  ---------------------------------------------------------------- saliency.lua
  {
    name = "ci.saliency", where = "ci.saliency", topic = "Recipes",
    doc = [[How much each input value matters to chosen neurons: the gradient of the sum of
    their activations (at the given layers) with respect to the input ("vanilla") or that
    gradient times the input ("input_x_gradient"), optionally scaled per batch to a maximum of 1.]],
    args = { { "net", "network", "" }, { "x", "tensor", "(B, S, L) or (S, L)" },
             { "neurons_of_interest", "table", "{[layer] = {neuron, ...}}" } },
    opts = {
      { "method", { "vanilla", "input_x_gradient" }, "vanilla", "the attribution" },
      { "normalize", "boolean", false, "divide each batch by its largest value (when positive)" },
      { "checkpoint_steps", "integer >= 0", 0, "as in net:forward" },
      DEVICE,
    },
    returns = { { "saliency", "tensor", "the input's shape" } },
    example = NET_EXAMPLE .. [[local net = ci.LinearNetwork(W, {1}, {num_layers = 2, tau = 1})
print(ci.saliency(net, ci.tensor{{1, 0}}, {[2] = {3}}):get(1, 1))  --> 25]],
  },
  {
    name = "ci.get_gradients", where = "ci.get_gradients", topic = "Recipes",
    doc = [[Gradients of the mean activation of target neurons (or groups) with respect to the
    activations of monitored neurons (or groups), per layer and batch, as a frame with columns
    group, batch_name, time_1 ... (monitored groups summed over their neurons).]],
    args = { { "net", "network", "" }, { "x", "tensor", "(B, S, L) or (S, L)" },
             { "monitor_neurons", "array", "neuron indices or group names" },
             { "target_neurons", "table", "{[layer] = {neuron or group, ...}}" } },
    opts = {
      { "monitor_layers", "array", nil, "the layers reported", default_text = "all" },
      { "method", { "vanilla", "input_x_gradient" }, "vanilla", "gradient, or gradient times activation" },
      { "batch_names", "array", nil, "names of the batches", default_text = "batch_1 .. batch_B" },
      { "checkpoint_steps", "integer >= 0", 50, "as in net:forward" },
      { "normalize_per_layer", "boolean", false, "scale each layer to unit norm" },
      DEVICE,
    },
    returns = "frame",
    example = NET_EXAMPLE .. [[local net = ci.LinearNetwork(W, {1}, {num_layers = 2, tau = 1})
local g = ci.get_gradients(net, ci.tensor{{1, 0}}, {2}, {[2] = {3}})
print(g.group[1], g.time_1[1])  --> 2 5]],
  },

  ---------------------------------------------------------------- plot.lua (before the figures rework)
  {
    name = "ci.plot", topic = "Figures",
    doc = [[A figure from a spec (panels of traces or images, a legend, a title), rendered through
    gnuplot: fig:save("f.png" / ".svg" / ".pdf"), fig:show(), fig:script().]],
    args = { { "spec", "table", "{title =, panels = {...}, legend =, ...}" } },
    returns = "fig",
    aliases = { "ci.plot.new" },
    example = [[local fig = ci.plot{title = "t", panels = {{traces = {{x = {1, 2}, y = {3, 4}, color = 1, mode = "lines"}}}}}
print(fig:script():find("plot") ~= nil)  --> true]],
  },
  {
    name = "ci.plot_timeseries", topic = "Figures",
    doc = [[Line plots of activations over time from a frame of get_neuron_activation (one
    trace per group; a panel per batch with slider_dim = "batch").]],
    args = { { "df", "frame", "columns [batch_name,] group, time_1 ..." } },
    opts = {
      { "style", "table", nil, "{group = {color =, dash =}}" },
      { "sizing", "table", nil, "{width =, height =, ...}" },
      { "x_label", "string", "Time", "the x axis label" },
      { "y_label", "string", "Activation", "the y axis label" },
      { "title", "string", nil, "the title" },
      { "slider_dim", "string|false", "batch", "a panel per value of this column (false: one panel)" },
      { "ymin", "number", nil, "the y range's lower end" },
      { "ymax", "number", nil, "the y range's upper end" },
      { "scatter_mode", { "lines", "markers", "lines+markers" }, "lines", "how the traces are drawn" },
    },
    returns = "fig",
    example = [[local df = ci.get_neuron_activation(ci.tensor{{0, 0.5, 1}}, {1})
print(ci.plot_timeseries(df):ntraces() >= 1)  --> true]],
  },
  {
    name = "ci.plot_activity_by_column", topic = "Figures",
    doc = "The figure of activity_by_column: activation by column, a panel per time step.",
    args = { { "activity", "tensor|frame", "(n, T), or activity_by_column's frame" },
             { "idx_to_group", "table", "" }, { "idx_to_column", "table", "" }, { "selected_group", "any", "" } },
    opts = {
      { "plot_type", { "line", "heatmap" }, "line", "lines per group, or a heat map" },
      { "model_input", "tensor|table", nil, "as activity_by_column" },
      { "sensory_indices", "array|tensor", nil, "as activity_by_column" },
      { "figsize", "array", { 800, 600 }, "{width, height} in pixels" },
      { "global_min", "number", nil, "the y range's lower end" },
      { "global_max", "number", nil, "the y range's upper end" },
      { "title", "string", "Neural activity by column", "the title" },
      { "panel_width", "integer", nil, "pixels per panel" },
      { "panel_height", "integer", nil, "pixels per panel" },
      { "font_size", "number", 12, "the base font size" },
    },
    returns = "fig",
    example = [[local acts = ci.tensor{{1, 0}, {0.5, 1}, {0.25, 0.25}}
local fig = ci.plot_activity_by_column(acts, {"EPG", "EPG", "PEN"}, {1, 2, 1}, "EPG")
print(fig:ntraces() >= 1)  --> true]],
  },
  {
    name = "ci.plot_losses", topic = "Figures",
    doc = "Loss curves from named lists (act_loss, out_reg_losses, in_reg_losses, or history's keys).",
    args = { { "t", "table", "{name = {values...}, ...}" } },
    opts = {
      { "log", "boolean", false, "a log-scale y axis" },
      { "title", "string", "Losses", "the title" },
      { "xlabel", "string", "Iteration", "the x axis label" },
      { "ylabel", "string", "Loss", "the y axis label" },
      { "width", "integer", 700, "pixels" },
      { "height", "integer", 420, "pixels" },
      { "names", "table", nil, "{key = label}" },
      { "font_size", "number", 12, "the base font size" },
    },
    returns = "fig",
    example = [[print(ci.plot_losses{act_loss = {3, 2, 1.5}}:ntraces())  --> 1]],
  },
  {
    name = "ci.plot_heatmap", topic = "Figures",
    doc = "A heat map of a (rows, time) or (batch, rows, time) tensor, a panel per batch.",
    args = { { "x", "tensor", "(rows, T) or (B, rows, T)" } },
    opts = {
      { "row_labels", "array", nil, "a label per row" },
      { "col_labels", "array", nil, "a label per column" },
      { "batch_names", "array", nil, "panel titles" },
      { "title", "string", nil, "the title" },
      { "xlabel", "string", "Time step", "the x axis label" },
      { "ylabel", "string", nil, "the y axis label" },
      { "palette", { "sequential", "diverging" }, nil, "colours", default_text = "diverging when the values change sign" },
      { "cbrange", "array", nil, "{lo, hi} of the colour bar" },
      { "cblabel", "string", nil, "the colour bar's label" },
      { "panel_width", "integer", nil, "pixels" },
      { "panel_height", "integer", nil, "pixels" },
      { "cols", "integer", nil, "panels per row" },
      { "font_size", "number", 11, "the base font size" },
    },
    returns = "fig",
    example = [[print(ci.plot_heatmap(ci.rand(3, 4)):script():find("image") ~= nil)  --> true]],
  },
}
