-- cinterp.tape: the Lua face of reverse-mode autodiff (core/tape.c): t:requires_grad,
-- t:backward, t.grad, t:zero_grad, t:is_leaf, ci.no_grad, ci.grad_enabled,
-- ci.set_grad_enabled. The ops themselves record their nodes in C.
local engine = require "cinterp.ffi"
local util = require "cinterp.util"
local ffi, C = engine.ffi, engine.C
local pack = util.pack

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
