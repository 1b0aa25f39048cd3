-- cli_spec.lua: ci.cli (lua/cinterp/cli.lua), the command line of the scripts: a tiny
-- script, written under <tmp>/scripts/, runs through the host binary (hostbin.lua)
-- and prints what ci.cli.parse returned; --help and usage errors end the process.
local ci = require "cinterp"
local H = require "hostbin"
local q = H.q

local TINY = [[
local ci = rawget(_G, "ci") or require "cinterp"
local o = ci.cli.parse(arg, {
  usage = "usage: tiny.lua [options]",
  { "--n N", 3, "a number (default 3)" },
  { "--name S", "x", "a string" },
  { "--verbose", false, "a flag" },
  { "--t X", nil, "repeatable", type = "list" },
  { "--k N", nil, "a number without a default", type = "number" },
  { "--hidden X", "h" },
  "  free text line",
})
print(string.format("n=%s:%s name=%s verbose=%s t=%s k=%s hidden=%s", tostring(o.n), type(o.n), o.name,
                    tostring(o.verbose), table.concat(o.t, ","), tostring(o.k), o.hidden))
print("data=" .. ci.cli.data_dir(nil) .. " given=" .. ci.cli.data_dir("D"))
]]

local dir
setup(function()
  local p = io.popen("mktemp -d")
  dir = p:read("*l")
  p:close()
  os.execute("mkdir -p " .. q(dir .. "/scripts"))
  local f = assert(io.open(dir .. "/scripts/tiny.lua", "w"))
  f:write(TINY)
  f:close()
end)
teardown(function() if dir then os.execute("rm -rf " .. q(dir)) end end)

-- runs the tiny script; returns stdout, stderr, exit status
local function run(args)
  local err = dir .. "/stderr"
  local p = io.popen(q(H.bin) .. " " .. q(dir .. "/scripts/tiny.lua") .. " " .. args .. " 2>" .. q(err) ..
                     "; echo \"__rc=$?\"")
  local out = p:read("*a")
  p:close()
  local f = io.open(err, "rb")
  local e = f and f:read("*a") or ""
  if f then f:close() end
  return out:gsub("__rc=%d+%s*$", ""), e, tonumber(out:match("__rc=(%d+)%s*$"))
end

describe("ci.cli.parse", function()
  it("returns the defaults", function()
    local out, err, rc = run("")
    assert.are.equal(0, rc, err)
    assert.is_truthy(out:find("n=3:number name=x verbose=false t= k=nil hidden=h", 1, true), out)
  end)

  it("parses numbers, strings, flags, repeated and --name=value options", function()
    local out, err, rc = run("--n 2.5 --name 'a b' --verbose --t one --t=two --k -1 --hidden=z")
    assert.are.equal(0, rc, err)
    assert.is_truthy(out:find("n=2.5:number name=a b verbose=true t=one,two k=-1 hidden=z", 1, true), out)
  end)

  it("--help prints the usage and exits 0", function()
    for _, h in ipairs { "--help", "-h" } do
      local out, _, rc = run("--n 1 " .. h)
      assert.are.equal(0, rc)
      assert.is_truthy(out:find("^usage: tiny.lua %[options%]\n"), out)
      assert.is_truthy(out:find("\n  %-%-n N%s+a number %(default 3%)\n"), out)
      assert.is_truthy(out:find("\n  free text line\n", 1, true), out)
      assert.is_truthy(out:find("\n  %-%-help%s+this text\n"), out)
      assert.is_falsy(out:find("--hidden", 1, true), out)
      assert.is_falsy(out:find("n=", 1, true), out)
    end
  end)

  it("usage errors: a message and the usage on stderr, exit 1", function()
    for args, msg in pairs {
      ["--bogus 1"] = "tiny.lua: unknown option --bogus",
      ["stray"] = "tiny.lua: unexpected argument stray",
      ["--n abc"] = "tiny.lua: --n needs a number, got 'abc'",
      ["--name"] = "tiny.lua: --name needs a value",
      ["--verbose=1"] = "tiny.lua: --verbose takes no value",
    } do
      local out, err, rc = run(args)
      assert.are.equal(1, rc, args)
      assert.are.equal("", out, args)
      assert.is_truthy(err:find(msg, 1, true), err)
      assert.is_truthy(err:find("usage: tiny.lua", 1, true), err)
    end
  end)
end)

describe("ci.cli files", function()
  it("data_dir: the given folder, else ../shared/data next to the script's repository", function()
    local out, err, rc = run("")
    assert.are.equal(0, rc, err)
    assert.is_truthy(out:find("data=" .. dir .. "/../shared/data given=D", 1, true), out)
  end)

  it("mkdir makes nested folders; exists sees files", function()
    local d = dir .. "/a/b c"
    assert.is_false(ci.cli.exists(d .. "/f"))
    ci.cli.mkdir(d)
    local f = assert(io.open(d .. "/f", "w"))
    f:close()
    assert.is_true(ci.cli.exists(d .. "/f"))
  end)
end)
