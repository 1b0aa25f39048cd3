-- help_spec.lua: ci.help and the declarations behind it: every declared function
-- resolves to a value and prints its help; names, methods, objects and topics are
-- looked up; an unknown name gives the closest names; every declaration's example
-- runs, and each `print(...)  --> value` line in it prints that value; docs/API.md
-- is what `make docs` generates now.
local ci = require "cinterp"
local O = require "cinterp.options"
local H = ci._help

local E = require "examples"
local capture_stdout, run_example = E.capture_stdout, E.run

describe("declarations", function()
  it("declare at least 150 functions and methods", function()
    assert.is_true(#O.list >= 150, #O.list .. " declarations")
  end)

  for _, d in ipairs(O.list) do
    it(d.name .. " resolves to a value whose help it is", function()
      local v = O.resolve(d.name)
      assert.is_not_nil(v, d.name .. " resolves to nothing")
      assert.are.equal(d, O.declaration_of(v))
      local text = H.text(v, 1)
      assert.is_truthy(text:find(H.signature(d), 1, true), text)
    end)
  end

  it("give every option a known type and a default of that type", function()
    for _, d in ipairs(O.list) do
      for _, o in ipairs(d.opts or {}) do
        for _, tn in ipairs(O.type_names(o[2])) do
          assert.is_true(O.known_type(tn), d.name .. ": option " .. o[1] .. " has unknown type " .. tn)
        end
        if o[3] ~= nil then
          assert.is_true(O.compile_type(o[2]).test(o[3]),
                         d.name .. ": the default of " .. o[1] .. " is not of its type")
        end
      end
    end
  end)
end)

describe("examples", function()
  for _, d in ipairs(O.list) do
    it("of " .. d.name .. " run and print what they say", function()
      run_example(d)
    end)
  end

  it("checks its printed values (a wrong value fails)", function()
    local d = { name = "fake", example = "print(1 + 1)  --> 3" }
    local ok, err = pcall(run_example, d)
    assert.is_false(ok)
    assert.is_truthy(tostring(err):find("prints \"2\" where it says \"3\"", 1, true), err)
  end)
end)

describe("ci.help", function()
  local function help(...)
    local args = { n = select("#", ...), ... }
    return capture_stdout(function() ci.help(unpack(args, 1, args.n)) end)
  end

  it("alone lists the library by topic", function()
    local text = help()
    for _, s in ipairs { "Tensors", "Frames", "CSV", "Connectomes", "ci.read_csv", "ci.zeros", "ci.help" } do
      assert.is_truthy(text:find(s, 1, true), s)
    end
  end)

  it("of a function prints its signature, paragraph, options, returns and example", function()
    local text = help(ci.read_csv)
    assert.is_truthy(text:find("ci.read_csv(path, opts?) -> frame", 1, true), text)
    assert.is_truthy(text:find("Options", 1, true))
    assert.is_truthy(text:find("header%s+boolean%s+true"), text)
    assert.is_truthy(text:find("Returns", 1, true))
    assert.is_truthy(text:find("Example", 1, true))
  end)

  it("finds names with or without ci., methods, globals holding objects, objects and topics", function()
    assert.are.equal(help(ci.get_neuron_activation), help("get_neuron_activation"))
    assert.are.equal(help(ci.get_neuron_activation), help("ci.get_neuron_activation"))
    assert.are.equal(help(ci.frame.methods.filter), help("frame:filter"))
    assert.are.equal(help(ci.frame.methods.filter), help("ci.frame:filter"))
    rawset(_G, "help_spec_frame", ci.frame { a = { 1 } })
    local via_global = help("help_spec_frame:filter")
    rawset(_G, "help_spec_frame", nil)
    assert.are.equal(help("frame:filter"), via_global)
    assert.is_truthy(help(ci.zeros(1)):find("t:sum(dim?)", 1, true))
    assert.is_truthy(help("frames"):find("f:filter", 1, true))
    assert.are.equal(help(ci.zeros(1).view), help("tensor:reshape"))
    assert.is_truthy(help("select"):find("frame:select", 1, true))
  end)

  it("of an unknown name is an error giving the closest names", function()
    local ok, err = pcall(ci.help, "read_cvs")
    assert.is_false(ok)
    assert.is_truthy(err:find("unknown name 'read_cvs'", 1, true), err)
    assert.is_truthy(err:find("'ci.read_csv'", 1, true), err)
    ok, err = pcall(ci.help, "get_neuron_activations")
    assert.is_truthy(err:find("did you mean 'ci.get_neuron_activation'", 1, true), err)
  end)

  it("of nil says so instead of listing the library", function()
    local ok, err = pcall(ci.help, nil)
    assert.is_false(ok)
    assert.is_truthy(err:find("got nil", 1, true), err)
  end)

  it("of an undeclared function says where it is defined", function()
    assert.is_truthy(help(function() end):find("no declaration", 1, true))
  end)
end)

describe("docs/API.md", function()
  it("is what make docs generates from the declarations (run make docs after a change)", function()
    local tmp = os.tmpname()
    local f = assert(io.open(tmp, "w"))
    f:write(H.markdown())
    f:close()
    local a = assert(io.open(tmp)):read("*a")
    os.remove(tmp)
    local g = io.open("docs/API.md")
    assert.is_not_nil(g, "docs/API.md is missing: run make docs")
    local b = g:read("*a")
    g:close()
    assert.is_true(a == b, "docs/API.md is out of date: run make docs")
  end)

  it("documents every declaration", function()
    local text = H.markdown()
    for _, d in ipairs(O.list) do
      assert.is_truthy(text:find("### `" .. H.signature(d) .. "`", 1, true), d.name)
    end
  end)
end)
