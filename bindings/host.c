/* host.c: the `cinterp` executable, a LuaJIT host with the cinterp engine linked in.
 *
 * Behaves like the stock `luajit` (same options, `arg` table, LUA_PATH/LUA_CPATH/
 * LUA_INIT handling, exit codes), so it can serve as busted's interpreter, plus
 * workbench niceties: the cinterp Lua library is preloaded as the global `ci`,
 * module paths are found from the executable's location, and the interactive
 * prompt has readline editing, persistent history, TAB completion of names and
 * fields, and prints the value of an expression typed alone.
 * Modelled on LuaJIT's luajit.c (stock behaviour) and torch's trepl (niceties).
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "lauxlib.h"
#include "lua.h"
#include "luajit.h"
#include "lualib.h"

#include "cinterp.h"

#ifndef CI_SOURCE_DIR
#define CI_SOURCE_DIR "."
#endif
#define PROGNAME "cinterp"
#define HISTORY_MAX 1000

static lua_State *globalL = NULL;

/* ---------- errors, tracebacks and protected calls (as in luajit.c) ---------- */

static void l_message(const char *msg) {
  fflush(stdout);
  fprintf(stderr, "%s: %s\n", PROGNAME, msg);
  fflush(stderr);
}

static int report(lua_State *L, int status) {
  if (status && !lua_isnil(L, -1)) {
    const char *msg = lua_tostring(L, -1);
    l_message(msg ? msg : "(error object is not a string)");
    lua_pop(L, 1);
  }
  return status;
}

/* Message handler: adds a stack traceback to the error message. */
static int traceback(lua_State *L) {
  if (lua_isnoneornil(L, 1)) return 1;  /* error() with no message: a silent failure */
  if (!lua_isstring(L, 1)) {
    if (!luaL_callmeta(L, 1, "__tostring") || !lua_isstring(L, -1)) {
      lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    }
    lua_replace(L, 1);
  }
  luaL_traceback(L, L, lua_tostring(L, 1), 1);
  return 1;
}

/* Ctrl-C while Lua runs: a hook raises "interrupted!" at the next instruction. */
static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  luaL_error(L, "interrupted!");
}

static void laction(int sig) {
  signal(sig, SIG_DFL);
  lua_sethook(globalL, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  signal(SIGINT, laction);
  int status = lua_pcall(L, narg, nres, base);
  signal(SIGINT, SIG_DFL);
  lua_remove(L, base);
  if (status) lua_gc(L, LUA_GCCOLLECT, 0);
  return status;
}

static int dostring(lua_State *L, const char *s, const char *name) {
  int status = luaL_loadbuffer(L, s, strlen(s), name) || docall(L, 0, 0);
  return report(L, status);
}

/* ---------- helpers written in Lua: REPL printing, completion, -j/-O ---------- */

static const char helper_lua[] =
  "local H = {}\n"
  /* Prints the results of an expression typed at the prompt; sets _ to the first. */
  "function H.show(...)\n"
  "  local n, out = select('#', ...), {}\n"
  "  if n == 0 or (n == 1 and (...) == nil) then return end\n"
  "  for i = 1, n do out[i] = tostring((select(i, ...))) end\n"
  "  _G._ = (...)\n"
  "  io.stdout:write(table.concat(out, '\\t'), '\\n')\n"
  "end\n"
  /* Visits t and the tables of its __index chain (no metamethod is called). */
  "local function chain(t, f)\n"
  "  for _ = 1, 16 do\n"
  "    if type(t) ~= 'table' then return end\n"
  "    if f(t) then return end\n"
  "    local mt = getmetatable(t); t = type(mt) == 'table' and rawget(mt, '__index') or nil\n"
  "  end\n"
  "end\n"
  "local function index(v, k)\n"
  "  if type(v) == 'string' then return string[k] end\n"
  "  if type(v) ~= 'table' then\n"
  "    local ok, x = pcall(function() return v[k] end); return ok and x or nil\n"
  "  end\n"
  "  local r; chain(v, function(t) r = rawget(t, k); return r ~= nil end); return r\n"
  "end\n"
  /* cdata metatables are not reachable from Lua: probe the names found in loaded
   * modules, their sub-tables and the tables their functions close over. */
  "local function corpus()\n"
  "  local names, seen = {}, {}\n"
  "  local function scan(t, depth)\n"
  "    if seen[t] or depth > 2 then return end\n"
  "    seen[t] = true\n"
  "    for k, v in pairs(t) do\n"
  "      if type(k) == 'string' then names[k] = true end\n"
  "      if type(v) == 'table' then scan(v, depth + 1)\n"
  "      elseif type(v) == 'function' and not seen[v] then\n"
  "        seen[v] = true\n"
  "        for i = 1, 60 do\n"
  "          local un, uv = debug.getupvalue(v, i); if not un then break end\n"
  "          if type(uv) == 'table' then scan(uv, depth + 1) end\n"
  "        end\n"
  "      end\n"
  "    end\n"
  "  end\n"
  "  for _, m in pairs(package.loaded) do if type(m) == 'table' then scan(m, 1) end end\n"
  "  return names\n"
  "end\n"
  "local function fields(v)\n"
  "  local out = {}\n"
  "  local function add(t) for k in pairs(t) do out[k] = true end end\n"
  "  if type(v) == 'string' then v = string\n"
  "  elseif type(v) == 'userdata' then v = getmetatable(v); v = type(v) == 'table' and rawget(v, '__index')\n"
  "  elseif type(v) == 'cdata' then\n"
  "    for k in pairs(corpus()) do if index(v, k) ~= nil then out[k] = true end end\n"
  "  end\n"
  "  chain(v, add)\n"
  "  return out\n"
  "end\n"
  "local keywords = {'and','break','do','else','elseif','end','false','for','function',\n"
  "  'goto','if','in','local','nil','not','or','repeat','return','then','true','until','while'}\n"
  /* Completions of a word: a global name, or a.b.c.<field> / a.b:<method>. */
  "function H.complete(word)\n"
  "  local res, v, head, sep, last = {}, _G, word:match('^(.-)([%.:])([%w_]*)$')\n"
  "  if not head then head, sep, last = '', '', word elseif head == '' then return res end\n"
  "  for seg in (head .. '.'):gmatch('([^%.]*)%.') do\n"
  "    if head == '' then break end\n"
  "    if not seg:match('^[%a_][%w_]*$') then return res end\n"
  "    v = index(v, seg); if v == nil then return res end\n"
  "  end\n"
  "  local names = fields(v)\n"
  "  if sep == '' then for _, k in ipairs(keywords) do names[k] = true end end\n"
  "  for k in pairs(names) do\n"
  "    if type(k) == 'string' and k:sub(1, #last) == last and k:match('^[%a_][%w_]*$') then\n"
  "      local f, ok = sep == ':' and index(v, k), sep ~= ':'\n"
  "      if not ok then local mt = getmetatable(f); ok = type(f) == 'function' or type(mt) == 'table' and mt.__call ~= nil end\n"
  "      if ok then res[#res + 1] = head .. sep .. k end\n"
  "    end\n"
  "  end\n"
  "  table.sort(res)\n"
  "  return res\n"
  "end\n"
  /* -j cmd[=a,b] and -O[opts], as luajit does them. */
  "local function split(s) local t = {}; for a in (s or ''):gmatch('[^,]+') do t[#t+1] = a end; return t end\n"
  "function H.jitcmd(s)\n"
  "  local name, args = s:match('^([^=]*)=?(.*)$')\n"
  "  if name == 'on' or name == 'off' or name == 'flush' then return jit[name]() end\n"
  "  return require('jit.' .. name).start(unpack(split(args)))\n"
  "end\n"
  "function H.jitopt(s) return jit.opt.start(unpack(split(s))) end\n"
  "return H\n";

/* Pushes helper function `name`. */
static void push_helper(lua_State *L, const char *name) {
  lua_getfield(L, LUA_REGISTRYINDEX, "cinterp.host");
  lua_getfield(L, -1, name);
  lua_remove(L, -2);
}

/* ---------- module paths and the preloaded library ---------- */

/* Prepends `prefix` to package[field] (which luaL_openlibs set from the environment). */
static void prepend_path(lua_State *L, const char *field, const char *prefix) {
  lua_getglobal(L, "package");
  lua_getfield(L, -1, field);
  lua_pushfstring(L, "%s;%s", prefix, lua_tostring(L, -1));
  lua_setfield(L, -3, field);
  lua_pop(L, 2);
}

static void setup_paths(lua_State *L, const char *argv0) {
  char exe[PATH_MAX], src[PATH_MAX], up[PATH_MAX + 8], probe[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = '\0';
  else if (!argv0 || !realpath(argv0, exe)) strcpy(exe, "./" PROGNAME);
  char *slash = strrchr(exe, '/');
  if (slash) *slash = '\0'; else strcpy(exe, ".");
  /* The source tree: the folder above the executable if it holds the library, else the
   * tree the executable was built from. */
  snprintf(up, sizeof up, "%s/..", exe);
  snprintf(probe, sizeof probe, "%s/lua/cinterp/init.lua", up);
  if (access(probe, R_OK) != 0 || !realpath(up, src)) snprintf(src, sizeof src, "%s", CI_SOURCE_DIR);
  lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?.lua;%s/lua/?/init.lua;%s/bindings/?.lua",
                  exe, src, src, src);
  prepend_path(L, "path", lua_tostring(L, -1));
  lua_pop(L, 1);
  lua_pushfstring(L, "%s/?.so", exe);
  prepend_path(L, "cpath", lua_tostring(L, -1));
  lua_pop(L, 1);
}

/* ci = require "cinterp"; on failure warns on stderr and carries on with plain Lua. */
static int preload_ci(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushstring(L, "cinterp");
  int status = docall(L, 1, 1);
  if (status == 0) {
    lua_setglobal(L, "ci");
    return 0;
  }
  const char *msg = lua_tostring(L, -1);
  fprintf(stderr, "%s: warning: could not load the cinterp library (global `ci` is unset):\n%s\n",
          PROGNAME, msg ? msg : "?");
  lua_pop(L, 1);
  return status;
}

/* ---------- command-line options (as in luajit.c) ---------- */

enum { FLAGS_INTERACTIVE = 1, FLAGS_VERSION = 2, FLAGS_EXEC = 4, FLAGS_OPTION = 8,
       FLAGS_NOENV = 16, FLAGS_HELP = 32 };

static void print_usage(FILE *f) {
  fprintf(f,
    "cinterp %s (%s): the connectome-interpreter workbench.\n"
    "LuaJIT with the cinterp engine (tensors, sparse connectivity, network models,\n"
    "activation maximisation, training) built in; the library is preloaded as the\n"
    "global `ci` (scripts may also write local ci = require \"cinterp\").\n"
    "\n"
    "usage: cinterp [options] [script [args...]]\n"
    "  -e chunk   run the Lua string chunk (repeatable; runs in order, before the script)\n"
    "  -l name    require module `name` and store it in the global `name`\n"
    "  -i         enter the interactive prompt after running the script / -e chunks\n"
    "  -v         print the version\n"
    "  -E         ignore LUA_PATH, LUA_CPATH and LUA_INIT\n"
    "  -j cmd     LuaJIT JIT control: -joff, -jon, -jflush, -jv, -jdump, -jp=opts ...\n"
    "  -O[opt]    LuaJIT optimisation level / flags (-O3, -Ohotloop=10 ...)\n"
    "  --         stop handling options\n"
    "  -          run stdin as the script and stop handling options\n"
    "  --help     print this text        --version  print the version\n"
    "\n"
    "The script sees its arguments as arg[1], arg[2], ... and as `...`; arg[0] is the\n"
    "script. Without a script or -e, cinterp opens the interactive prompt when stdin is\n"
    "a terminal (else it runs stdin as a script). At the prompt an expression typed\n"
    "alone prints its value (a trailing ';' suppresses that, _ holds the last value),\n"
    "incomplete input continues on a '..>' line, TAB completes global names and fields\n"
    "(ci.ten<TAB>, t:si<TAB>), Ctrl-C interrupts, Ctrl-D quits.\n"
    "\n"
    "environment:\n"
    "  LUA_PATH, LUA_CPATH  module search paths (';;' stands for the default); the\n"
    "                       cinterp library folders are put in front of them\n"
    "  LUA_INIT             Lua code, or @file, run before the options\n"
    "  CINTERP_HISTORY      history file of the prompt (default ~/.cinterp_history,\n"
    "                       empty to keep no history)\n"
    "  OMP_NUM_THREADS      threads the engine uses\n"
    "\n"
    "examples:\n"
    "  cinterp                                   interactive workbench\n"
    "  cinterp model.lua conn.csv 10             run a script with two arguments\n"
    "  cinterp -e 'print(ci.version)'            run a one-liner\n"
    "  cinterp -i setup.lua                      run setup.lua, then stay at the prompt\n"
    "  busted --lua=build/cinterp tests/         run the busted specs under cinterp\n"
    "\n"
    "documentation: %s/README.md\n",
    ci_version(), LUAJIT_VERSION, CI_SOURCE_DIR);
}

static void print_version(void) {
  printf("%s %s (%s)\n", PROGNAME, ci_version(), LUAJIT_VERSION);
  fflush(stdout);
}

/* Returns the index of the script in argv (argc if none), or -1 on a bad option. */
static int collectargs(char **argv, int *flags) {
  int i;
  for (i = 1; argv[i] != NULL; i++) {
    const char *a = argv[i];
    if (a[0] != '-') return i;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) { *flags |= FLAGS_HELP; return i + 1; }
    if (strcmp(a, "--version") == 0) { *flags |= FLAGS_VERSION; continue; }
    switch (a[1]) {
    case '-': if (a[2]) return -1; return i + 1;
    case '\0': return i;
    case 'i': if (a[2]) return -1; *flags |= FLAGS_INTERACTIVE; break;
    case 'v': if (a[2]) return -1; *flags |= FLAGS_VERSION; break;
    case 'E': if (a[2]) return -1; *flags |= FLAGS_NOENV; break;
    case 'O': break;
    case 'e': *flags |= FLAGS_EXEC; /* fallthrough */
    case 'j': case 'l':
      *flags |= FLAGS_OPTION;
      if (a[2] == '\0' && argv[++i] == NULL) return -1;
      break;
    default: return -1;
    }
  }
  return i;
}

/* The global `arg`: arg[0] = script, arg[1..] its arguments, interpreter and
 * options at negative indices (exactly as luajit builds it). */
static void createargtable(lua_State *L, char **argv, int argc, int argn) {
  lua_createtable(L, argc - argn, argn);
  for (int i = 0; i < argc; i++) {
    lua_pushstring(L, argv[i]);
    lua_rawseti(L, -2, i - argn);
  }
  lua_setglobal(L, "arg");
}

static int dolibrary(lua_State *L, const char *name) {
  lua_getglobal(L, "require");
  lua_pushstring(L, name);
  int status = docall(L, 1, 1);
  if (status == 0) {
    if (!lua_isnil(L, -1) && !strchr(name, '.')) lua_setglobal(L, name);
    else lua_pop(L, 1);
  }
  return report(L, status);
}

static int dohelper(lua_State *L, const char *fn, const char *s) {
  push_helper(L, fn);
  lua_pushstring(L, s);
  return report(L, docall(L, 1, 0));
}

static int runargs(lua_State *L, char **argv, int argn) {
  for (int i = 1; i < argn; i++) {
    const char *a = argv[i], *v = a + 2;
    int st = 0;
    switch (a[1]) {
    case 'e': if (!*v) v = argv[++i]; st = dostring(L, v, "=(command line)"); break;
    case 'l': if (!*v) v = argv[++i]; st = dolibrary(L, v); break;
    case 'j': if (!*v) v = argv[++i]; st = dohelper(L, "jitcmd", v); break;
    case 'O': st = dohelper(L, "jitopt", v); break;
    default: break;
    }
    if (st) return st;
  }
  return 0;
}

static int handle_luainit(lua_State *L) {
  const char *init = getenv("LUA_INIT");
  if (init == NULL) return 0;
  if (init[0] == '@') return report(L, luaL_loadfile(L, init + 1) || docall(L, 0, 0));
  return dostring(L, init, "=LUA_INIT");
}

/* Runs the script argx[0] ("-" = stdin) with the arguments from the `arg` table. */
static int handle_script(lua_State *L, char **argx) {
  const char *fname = argx[0];
  if (strcmp(fname, "-") == 0 && strcmp(argx[-1], "--") != 0) fname = NULL;
  int status = luaL_loadfile(L, fname);
  if (status == 0) {
    int narg = 0;
    lua_getglobal(L, "arg");  /* -e or LUA_INIT may have changed arg: read it back */
    if (lua_istable(L, -1)) {
      do {
        narg++;
        lua_rawgeti(L, -narg, narg);
      } while (!lua_isnil(L, -1));
      lua_pop(L, 1);
      lua_remove(L, -narg);
      narg--;
    } else {
      lua_pop(L, 1);
    }
    status = docall(L, narg, 0);
  }
  return report(L, status);
}

/* ---------- the interactive prompt ---------- */

static int use_readline = 0;
static char history_path[PATH_MAX] = "";
static volatile sig_atomic_t at_prompt = 0;
static sigjmp_buf prompt_jmp;

/* Ctrl-C at the prompt: abandon the line (and any pending multi-line chunk). */
static void prompt_sigint(int sig) {
  (void)sig;
  if (at_prompt) siglongjmp(prompt_jmp, 1);
}

static int completion_index = 0;

static char *completion_generator(const char *text, int state) {
  lua_State *L = globalL;
  if (state == 0) {  /* compute the candidates once per TAB */
    completion_index = 0;
    push_helper(L, "complete");
    lua_pushstring(L, text);
    if (lua_pcall(L, 1, 1, 0) != 0 || !lua_istable(L, -1)) {
      lua_pop(L, 1);
      lua_newtable(L);
    }
    lua_setfield(L, LUA_REGISTRYINDEX, "cinterp.completions");
  }
  lua_getfield(L, LUA_REGISTRYINDEX, "cinterp.completions");
  lua_rawgeti(L, -1, ++completion_index);
  const char *s = lua_tostring(L, -1);
  char *r = s ? strdup(s) : NULL;
  lua_pop(L, 2);
  return r;
}

static char **attempted_completion(const char *text, int start, int end) {
  (void)start; (void)end;
  rl_attempted_completion_over = 1;  /* no file-name completion */
  rl_completion_append_character = '\0';  /* readline resets it before each attempt */
  return rl_completion_matches(text, completion_generator);
}

static void repl_init(void) {
  use_readline = isatty(0);
  if (!use_readline) return;
  rl_readline_name = PROGNAME;
  rl_attempted_completion_function = attempted_completion;
  rl_completer_word_break_characters = (char *)" \t\n\"\\'`@$><=;|&{}()[],+-*/%^~#";
  const char *h = getenv("CINTERP_HISTORY"), *home = getenv("HOME");
  if (h) snprintf(history_path, sizeof history_path, "%s", h);
  else if (home) snprintf(history_path, sizeof history_path, "%s/.cinterp_history", home);
  if (history_path[0]) {
    using_history();
    stifle_history(HISTORY_MAX);
    if (read_history(history_path) == ENOENT) write_history(history_path);
  }
  signal(SIGINT, prompt_sigint);
}

static void repl_add_history(const char *line) {
  if (!use_readline || !*line) return;
  add_history(line);
  if (history_path[0]) {
    append_history(1, history_path);
    history_truncate_file(history_path, HISTORY_MAX);
  }
}

/* Reads one line (without the newline); NULL at end of input. Caller frees. */
static char *repl_read(const char *prompt) {
  if (use_readline) {
    signal(SIGINT, prompt_sigint);
    at_prompt = 1;
    char *line = readline(prompt);
    at_prompt = 0;
    return line;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  if (n < 0) { free(line); return NULL; }
  if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
  return line;
}

/* A syntax error at the end of the input means the chunk is incomplete. */
static int incomplete(lua_State *L, int status) {
  if (status != LUA_ERRSYNTAX) return 0;
  size_t len;
  const char *msg = lua_tolstring(L, -1, &len);
  const char *tail = "'<eof>'";
  size_t tl = strlen(tail);
  return msg && len >= tl && strcmp(msg + len - tl, tail) == 0;
}

/* Compiles the chunk in buf as an expression list first, else as statements. The
 * expression is evaluated as an argument (not a tail call), so error("x") typed
 * alone still reports its position. Returns the load status with the function (or
 * the error message) on the stack; *quiet is set by a trailing ';'. */
static int repl_compile(lua_State *L, const char *buf, int *quiet) {
  const char *code = buf[0] == '=' ? buf + 1 : buf;  /* lua 5.1's "=expr" */
  size_t n = strlen(code);
  while (n > 0 && strchr(" \t\r\n", code[n - 1])) n--;
  *quiet = n > 0 && code[n - 1] == ';';
  if (*quiet) n--;
  lua_pushliteral(L, "return (function(...) return ... end)(");
  lua_pushlstring(L, code, n);
  lua_pushstring(L, strstr(code, "--") ? "\n)" : ")");  /* a comment needs the newline */
  lua_concat(L, 3);
  int status = luaL_loadbuffer(L, lua_tostring(L, -1), lua_objlen(L, -1), "=ci");
  lua_remove(L, -2);
  if (status == 0) return 0;
  lua_pop(L, 1);
  return luaL_loadbuffer(L, buf, strlen(buf), "=ci");
}

/* The pending chunk; static so that it survives the siglongjmp of Ctrl-C. */
static char *buf = NULL;
static size_t cap = 0, len = 0;
static int repl_top = 0;

static void dotty(lua_State *L) {
  repl_init();
  repl_top = lua_gettop(L);
  if (use_readline && sigsetjmp(prompt_jmp, 1)) {  /* Ctrl-C at the prompt lands here */
    at_prompt = 0;
    fputc('\n', stdout);
    lua_settop(L, repl_top);
  }
  len = 0;
  for (;;) {
    char *line = repl_read(len ? "..> " : "ci> ");
    if (!line) break;
    repl_add_history(line);
    size_t ln = strlen(line);
    if (len + ln + 2 > cap) {
      size_t ncap = (len + ln + 2) * 2;
      char *nb = realloc(buf, ncap);
      if (!nb) { free(line); break; }
      buf = nb; cap = ncap;
    }
    if (len) buf[len++] = '\n';
    memcpy(buf + len, line, ln + 1);
    len += ln;
    free(line);
    int quiet, status = repl_compile(L, buf, &quiet);
    if (incomplete(L, status)) { lua_pop(L, 1); continue; }  /* read another line */
    len = 0;
    if (status == 0) {
      int base = lua_gettop(L);
      status = docall(L, 0, LUA_MULTRET);
      if (status == 0) {
        int nres = lua_gettop(L) - base + 1;
        if (nres > 0 && !quiet) {
          push_helper(L, "show");
          lua_insert(L, base);
          status = docall(L, nres, 0);
        } else {
          lua_settop(L, base - 1);
        }
      }
    }
    if (status) {
      const char *msg = lua_tostring(L, -1);
      fflush(stdout);
      fprintf(stderr, "%s\n", msg ? msg : "(error object is not a string)");
      fflush(stderr);
      lua_pop(L, 1);
    }
  }
  if (use_readline) fputc('\n', stdout);
  fflush(stdout);
  signal(SIGINT, SIG_DFL);
}

/* ---------- main ---------- */

/* `cinterp screen ARGS...` runs require("cinterp.screen_cli")(ARGS...) (screens, README). */
static int run_screen(lua_State *L, char **args, int n) {
  lua_getglobal(L, "require");
  lua_pushstring(L, "cinterp.screen_cli");
  int status = docall(L, 1, 1);
  for (int i = 0; status == 0 && i < n; i++) lua_pushstring(L, args[i]);
  if (status == 0) status = docall(L, n, 0);
  return report(L, status);
}

struct Smain {
  char **argv;
  int argc;
  int status;
};

static int pmain(lua_State *L) {
  struct Smain *s = (struct Smain *)lua_touserdata(L, 1);
  char **argv = s->argv;
  int flags = 0;
  globalL = L;
  int argn = collectargs(argv, &flags);
  if (argn < 0) {
    fprintf(stderr, "%s: bad option or missing option argument\n"
            "usage: cinterp [options] [script [args...]]  (cinterp --help tells more)\n", PROGNAME);
    s->status = 1;
    return 0;
  }
  if (flags & FLAGS_HELP) { print_usage(stdout); return 0; }
  if (flags & FLAGS_NOENV) {
    lua_pushboolean(L, 1);
    lua_setfield(L, LUA_REGISTRYINDEX, "LUA_NOENV");
  }
  lua_gc(L, LUA_GCSTOP, 0);
  luaL_openlibs(L);  /* reads LUA_PATH / LUA_CPATH (';;' = default) */
  lua_gc(L, LUA_GCRESTART, -1);
  createargtable(L, argv, s->argc, argn);
  setup_paths(L, argv[0]);
  if (luaL_loadbuffer(L, helper_lua, sizeof helper_lua - 1, "=cinterp.host") || lua_pcall(L, 0, 1, 0)) {
    s->status = report(L, 1);
    return 0;
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "cinterp.host");
  if (flags & FLAGS_VERSION) print_version();
  preload_ci(L);
  if (!(flags & FLAGS_NOENV) && (s->status = handle_luainit(L)) != 0) return 0;
  if (argn == 1 && s->argc > 1 && strcmp(argv[1], "screen") == 0) { s->status = run_screen(L, argv + 2, s->argc - 2); return 0; }
  if ((s->status = runargs(L, argv, argn)) != 0) return 0;
  if (s->argc > argn && (s->status = handle_script(L, argv + argn)) != 0) return 0;
  if (flags & FLAGS_INTERACTIVE) {
    if (isatty(0)) print_version();
    dotty(L);
  } else if (s->argc == argn && !(flags & (FLAGS_EXEC | FLAGS_VERSION))) {
    if (isatty(0)) {
      print_version();
      lua_getglobal(L, "ci");
      printf("%sTAB completes, Ctrl-D quits, `cinterp --help` tells more.\n",
             lua_isnil(L, -1) ? "" : "The cinterp library is the global `ci`. ");
      lua_pop(L, 1);
      dotty(L);
    } else {
      s->status = report(L, luaL_loadfile(L, NULL) || docall(L, 0, 0));
    }
  }
  return 0;
}

int main(int argc, char **argv) {
  struct Smain s = { argv, argc, 0 };
  lua_State *L = luaL_newstate();
  if (L == NULL) {
    l_message("cannot create state: not enough memory");
    return EXIT_FAILURE;
  }
  int status = lua_cpcall(L, pmain, &s);
  report(L, status);
  lua_close(L);
  return (status || s.status) ? EXIT_FAILURE : EXIT_SUCCESS;
}
