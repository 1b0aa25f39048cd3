-- cinterp.tape: the Lua face of reverse-mode autodiff (core/tape.c): t:requires_grad,
-- t:backward, t.grad, t:zero_grad, t:is_leaf, ci.no_grad, ci.grad_enabled,
-- ci.set_grad_enabled. The ops themselves record their nodes in C.
local engine = require "cinterp.ffi"
local util = require "cinterp.util"
local ffi, C = engine.ffi, engine.C
local pack = util.pack

-- declarations (help, docs/API.md)
local O = require "cinterp.options"
local TOPIC = "Autodiff"
O.declare{ name = "ci.no_grad", topic = TOPIC,
  doc = [[Runs fn(...) with recording off (nothing it computes is on the tape) and returns its
results; the previous mode comes back even when fn raises.]],
  args = { { "fn", "function", "the code to run" }, { "...", "any", "its arguments", optional = true } },
  returns = "...",
  example = [[local w = ci.ones(2):requires_grad(true)
local y = ci.no_grad(function() return w * 3 end)
print(y:requires_grad())  --> false]] }
O.declare{ name = "ci.grad_enabled", topic = TOPIC, doc = "Whether ops are recorded on the tape now.",
  returns = "boolean", example = [[print(ci.grad_enabled())  --> true]] }
O.declare{ name = "ci.set_grad_enabled", topic = TOPIC,
  doc = "Switches recording on or off; returns the previous mode (prefer ci.no_grad, which restores it).",
  args = { { "on", "boolean", "record or not" } }, returns = "boolean",
  example = [[local old = ci.set_grad_enabled(false)
print(ci.grad_enabled())  --> false
ci.set_grad_enabled(old)]] }
O.declare_methods("tensor", TOPIC, {
  { "requires_grad", "on?", "t|boolean",
    "With on, marks (true) or unmarks (false) t as a leaf whose gradient is wanted and returns t; without, whether t takes part in the tape.",
    [[local w = ci.ones(3):requires_grad(true)
print(w:requires_grad(), (w * 2):requires_grad())  --> true true]] },
  { "is_leaf", "", "boolean", "Whether t was made by the user rather than by a recorded op.",
    [[local w = ci.ones(2):requires_grad(true)
print(w:is_leaf(), (w + 1):is_leaf())  --> true false]] },
  { "zero_grad", "", "t", "Clears t.grad (also t.grad = nil); returns t.",
    [[local w = ci.ones(2):requires_grad(true)
w:sum():backward()
print(w:zero_grad().grad)  --> nil]] },
  { "grad_fn_name", "", "string|nil", "The name of the op that made t, or nil for a leaf.",
    [[local w = ci.ones(2):requires_grad(true)
print((w * 2):grad_fn_name() ~= nil, w:grad_fn_name())  --> true nil]] },
  { "backward", "grad?", "",
    "Back-propagates from t: fills .grad of every leaf reached (accumulating, like torch). A one-element t needs no grad; otherwise grad is a tensor of t's size (or a number).",
    [[local w = ci.tensor{1, 2}:requires_grad(true)
local loss = (w * w):sum()
loss:backward()
print(w.grad:get(2))  --> 4]] },
})

return function(ci)
  local T = ci._tensor
  local methods, fail, is_tensor = T.methods, T.fail, T.is_tensor

  -- t:requires_grad(on) marks / unmarks a leaf and returns t;
  -- t:requires_grad() returns whether t takes part in the tape.
  function methods.requires_grad(t, on)
    if on == nil then return t.grad_on ~= 0 end
    if type(on) ~= "boolean" then
      error("tensor:requires_grad: on must be a boolean, got " .. type(on), 2)
    end
    if C.ci_tensor_requires_grad(t, on and 1 or 0) ~= 0 then fail("tensor:requires_grad") end
    return t
  end

  function methods.is_leaf(t) return t.grad_fn == nil end

  function methods.zero_grad(t)
    C.ci_tensor_zero_grad(t)
    return t
  end

  -- Name of the op that produced t, or nil for a leaf.
  function methods.grad_fn_name(t)
    if t.grad_fn == nil then return nil end
    return ffi.string(C.ci_tensor_grad_fn_name(t))
  end

  -- loss:backward() for a one-element loss, loss:backward(grad) otherwise
  -- (grad a tensor of the same number of elements, or a number for a scalar).
  function methods.backward(t, grad)
    if grad ~= nil and not is_tensor(grad) then
      if type(grad) ~= "number" then
        error("tensor:backward: grad must be a tensor or a number, got " .. type(grad), 2)
      end
      grad = ci.full(grad, t:size())
    end
    local rc = C.ci_tensor_backward(t, grad)
    if rc ~= 0 then fail("tensor:backward") end
  end

  function ci.grad_enabled() return C.ci_grad_enabled() ~= 0 end

  -- Sets the grad mode; returns the previous one.
  function ci.set_grad_enabled(on)
    return C.ci_set_grad_enabled(on and 1 or 0) ~= 0
  end

  -- ci.no_grad(fn, ...): fn(...) with recording off; the mode is restored even
  -- when fn raises (the error is re-raised). Returns fn's results.
  function ci.no_grad(fn, ...)
    if type(fn) ~= "function" then
      error("ci.no_grad: fn must be a function, got " .. type(fn), 2)
    end
    local old = C.ci_set_grad_enabled(0)
    local res = pack(pcall(fn, ...))
    C.ci_set_grad_enabled(old)
    if not res[1] then error(res[2], 0) end
    return unpack(res, 2, res.n)
  end
end
