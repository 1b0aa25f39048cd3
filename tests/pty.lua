-- pty.lua: runs a program on a pseudo-terminal, for the specs that need a terminal
-- (readline, Tab completion, Ctrl-C). The child is a session leader whose
-- controlling terminal is the pty, so "\3" written to it is a SIGINT, as when a user
-- presses Ctrl-C.
--   local pty = require "pty"
--   local p = pty.spawn({"/path/prog", "arg"}, {TERM = "dumb"})  -- env added to ours
--   p:send("x = 1\n"); p:expect("ci> ", 10)  -- output so far when found, else nil
--   p:output()  p:wait(10) -> exit status or nil  p:kill()
local ffi = require "ffi"

ffi.cdef [[
int posix_openpt(int flags);
int grantpt(int fd);
int unlockpt(int fd);
char *ptsname(int fd);
int posix_spawnattr_init(void *attr);
int posix_spawnattr_setflags(void *attr, short flags);
int posix_spawnattr_destroy(void *attr);
int posix_spawn_file_actions_init(void *fa);
int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, unsigned mode);
int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd);
int posix_spawn_file_actions_destroy(void *fa);
int posix_spawnp(int *pid, const char *file, const void *fa, const void *attr,
                 char *const argv[], char *const envp[]);
long read(int fd, void *buf, size_t n);
long write(int fd, const void *buf, size_t n);
int close(int fd);
struct pollfd { int fd; short events; short revents; };
int poll(struct pollfd *fds, unsigned long n, int timeout_ms);
int ioctl(int fd, unsigned long request, ...);
int kill(int pid, int sig);
int waitpid(int pid, int *status, int options);
extern char **environ;
struct cinterp_winsize { unsigned short rows, cols, xpixel, ypixel; };
]]

local C = ffi.C
local O_RDWR, O_NOCTTY, O_CLOEXEC = 2, 256, 524288
local POSIX_SPAWN_SETSID = 128           -- glibc >= 2.26
local TIOCSWINSZ, POLLIN, WNOHANG = 0x5414, 1, 1

local M = {}
local Pty = {}
Pty.__index = Pty

local function check(ok, what)
  if not ok then error("pty: " .. what .. " failed (errno " .. ffi.errno() .. ")", 3) end
end

-- The environment of this process with `extra` (name -> value) set on top.
local function environment(extra)
  local list, seen = {}, {}
  for name, value in pairs(extra or {}) do
    list[#list + 1] = name .. "=" .. value
    seen[name] = true
  end
  local i = 0
  while C.environ[i] ~= nil do
    local entry = ffi.string(C.environ[i])
    if not seen[entry:match("^([^=]*)")] then list[#list + 1] = entry end
    i = i + 1
  end
  return list
end

local function cstrings(list)
  local arr = ffi.new("char *[?]", #list + 1)
  local keep = {}
  for i, s in ipairs(list) do
    keep[i] = ffi.new("char[?]", #s + 1, s)
    arr[i - 1] = keep[i]
  end
  return arr, keep
end

-- Starts argv[1] (looked up in PATH) with the pty as its stdin, stdout and stderr.
function M.spawn(argv, env)
  local master = C.posix_openpt(O_RDWR + O_NOCTTY + O_CLOEXEC)
  check(master >= 0, "posix_openpt")
  check(C.grantpt(master) == 0 and C.unlockpt(master) == 0, "grantpt")
  local slave = ffi.string(C.ptsname(master))
  C.ioctl(master, TIOCSWINSZ, ffi.new("struct cinterp_winsize", 40, 200, 0, 0))
  local attr, fa = ffi.new("char[1024]"), ffi.new("char[1024]")  -- larger than glibc's types
  C.posix_spawnattr_init(attr)
  C.posix_spawnattr_setflags(attr, POSIX_SPAWN_SETSID)
  C.posix_spawn_file_actions_init(fa)
  -- After setsid, opening the terminal makes it the controlling one.
  C.posix_spawn_file_actions_addopen(fa, 0, slave, O_RDWR, 0)
  C.posix_spawn_file_actions_adddup2(fa, 0, 1)
  C.posix_spawn_file_actions_adddup2(fa, 0, 2)
  local args, keep_args = cstrings(argv)
  local envp, keep_env = cstrings(environment(env))
  local pid = ffi.new("int[1]")
  local rc = C.posix_spawnp(pid, argv[1], fa, attr, args, envp)
  C.posix_spawn_file_actions_destroy(fa)
  C.posix_spawnattr_destroy(attr)
  local _ = { keep_args, keep_env }
  if rc ~= 0 then
    C.close(master)
    error("pty: cannot start " .. argv[1] .. " (error " .. rc .. ")", 2)
  end
  return setmetatable({ fd = master, pid = pid[0], out = {}, status = nil }, Pty)
end

-- Reads what the child wrote within timeout seconds (less when it ends sooner).
local function pump(p, timeout)
  local pfd = ffi.new("struct pollfd[1]", { { p.fd, POLLIN, 0 } })
  local buf = ffi.new("char[4096]")
  if C.poll(pfd, 1, math.floor(timeout * 1000)) <= 0 then return false end
  local n = C.read(p.fd, buf, 4096)
  if n <= 0 then return false end
  p.out[#p.out + 1] = ffi.string(buf, n)
  return true
end

function Pty:output() return table.concat(self.out) end

function Pty:send(s)
  check(C.write(self.fd, s, #s) == #s, "write")
end

-- Waits until `text` appears in the output after position `from` (default: 1);
-- returns the output and the end of the match, or nil after timeout seconds.
function Pty:expect(text, timeout, from)
  local deadline = os.time() + (timeout or 10)
  repeat
    local s = self:output()
    local _, e = s:find(text, from or 1, true)
    if e then return s, e end
  until not pump(self, 0.2) and os.time() > deadline
  return nil
end

-- Reads output for `seconds`.
function Pty:drain(seconds)
  local deadline = os.time() + seconds
  repeat pump(self, 0.1) until os.time() >= deadline
end

-- The exit status once the child ends within timeout seconds, else nil.
function Pty:wait(timeout)
  local st = ffi.new("int[1]")
  local deadline = os.time() + (timeout or 10)
  repeat
    pump(self, 0.1)
    local r = C.waitpid(self.pid, st, WNOHANG)
    if r == self.pid then
      self.status = st[0]
      return math.floor(st[0] / 256) % 256, st[0] % 128
    end
  until os.time() > deadline
  return nil
end

function Pty:kill()
  if not self.status then
    C.kill(self.pid, 9)
    self:wait(5)
  end
  C.close(self.fd)
end

return M
