/* host.c: the `cinterp` executable, a LuaJIT host with the cinterp engine linked in.
 *
 * Behaves like the stock `luajit` (same options, `arg` table, LUA_PATH/LUA_CPATH/
 * LUA_INIT handling, exit codes), so it can serve as busted's interpreter, plus
 * workbench niceties: the cinterp Lua library is preloaded as the global `ci`,
 * module paths are found from the executable's location, and the interactive
 * prompt has readline editing, persistent history, TAB completion of names, fields
 * and methods, help (?name), printed values and short errors, and a Ctrl-C that
 * stops any running Lua code but never the session. What the prompt does with an
 * entry is Lua: lua/cinterp/repl.lua; this file reads the lines and handles Ctrl-C.
 * Modelled on LuaJIT's luajit.c (stock behaviour) and torch's trepl (niceties).
 */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
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

/* ---------- Ctrl-C ----------
 * Ctrl-C while Lua runs sets a debug hook that raises the error "interrupted!" at the
 * next Lua instruction (as luajit.c does). Library code that catches errors (the
 * activation-maximisation and training loops) recognises an interrupt by a message
 * that ends in "interrupted!": keep that text.
 * In a script, a second Ctrl-C kills the process (luajit's behaviour). At the prompt
 * the handler stays: Ctrl-C never kills the session, and at an empty prompt it clears
 * the line (prompt_jmp). Code inside a C function stops when it returns to Lua; a
 * second Ctrl-C then says so. JIT-compiled loops never run a debug hook: while the
 * prompt runs, LuaJIT's profiler in line mode ("l") compiles a check into every
 * traced line, its tick (every 10 ms of CPU time) leaves the trace for the
 * interpreter and calls interrupt_tick, which sets the hook when an interrupt is
 * pending. */

static volatile sig_atomic_t interrupt_pending = 0;
static volatile sig_atomic_t at_prompt = 0;   /* readline is reading a line */
static int interactive = 0;                   /* the prompt runs: Ctrl-C never kills */
static sigjmp_buf prompt_jmp;

static void lstop(lua_State *L, lua_Debug *ar) {
  (void)ar;
  lua_sethook(L, NULL, 0, 0);
  interrupt_pending = 0;
  luaL_error(L, "interrupted!");
}

static void set_interrupt_hook(lua_State *L) {
  lua_sethook(L, lstop, LUA_MASKCALL | LUA_MASKRET | LUA_MASKCOUNT, 1);
}

static void clear_interrupt(lua_State *L) {
  if (interrupt_pending) lua_sethook(L, NULL, 0, 0);
  interrupt_pending = 0;
}

static void laction(int sig) {
  if (at_prompt) siglongjmp(prompt_jmp, 1);
  if (!interactive) {
    signal(sig, SIG_DFL);
  } else if (interrupt_pending) {
    static const char note[] = "\n(interrupt pending: running C code stops when it returns to Lua;"
                               " Ctrl-\\ quits)\n";
    ssize_t ignored = write(STDERR_FILENO, note, sizeof note - 1);
    (void)ignored;
  }
  interrupt_pending = 1;
  set_interrupt_hook(globalL);
}

static void interrupt_tick(void *data, lua_State *L, int samples, int vmstate) {
  (void)data; (void)samples; (void)vmstate;
  if (interrupt_pending) set_interrupt_hook(L);
}

/* Starts the profiler that makes compiled loops interruptible (see above). */
static int watch_interrupts(lua_State *L) {
  luaJIT_profile_start(L, "li10", interrupt_tick, NULL);
  return 0;
}

static int docall(lua_State *L, int narg, int nres) {
  int base = lua_gettop(L) - narg;
  lua_pushcfunction(L, traceback);
  lua_insert(L, base);
  signal(SIGINT, laction);
  int status = lua_pcall(L, narg, nres, base);
  if (!interactive) signal(SIGINT, SIG_DFL);
  clear_interrupt(L);  /* an interrupt that came after the last Lua instruction */
  lua_remove(L, base);
  if (status) lua_gc(L, LUA_GCCOLLECT, 0);
  return status;
}

static int dostring(lua_State *L, const char *s, const char *name) {
  int status = luaL_loadbuffer(L, s, strlen(s), name) || docall(L, 0, 0);
  return report(L, status);
}

/* ---------- -j and -O, written in Lua (as luajit does them) ---------- */

static const char jit_lua[] =
  "local H = {}\n"
  "local function split(s) local t = {}; for a in (s or ''):gmatch('[^,]+') do t[#t+1] = a end; return t end\n"
  "function H.jitcmd(s)\n"
  "  local name, args = s:match('^([^=]*)=?(.*)$')\n"
  "  if name == 'on' or name == 'off' or name == 'flush' then return jit[name]() end\n"
  "  return require('jit.' .. name).start(unpack(split(args)))\n"
  "end\n"
  "function H.jitopt(s) return jit.opt.start(unpack(split(s))) end\n"
  "return H\n";

/* Pushes field `name` of the table kept in the registry under `key`. */
static void push_field(lua_State *L, const char *key, const char *name) {
  lua_getfield(L, LUA_REGISTRYINDEX, key);
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

/* Where the cinterp Lua library lies, found from the executable's own location
 * (never from where it was built, so a moved installation or source tree keeps
 * working):
 *   installed  PREFIX/bin/cinterp with PREFIX/share/lua/5.1/cinterp/ (the Lua
 *              modules and the generated cdef.lua) and PREFIX/lib/libcinterp.so
 *              (`make install`);
 *   built      SRC/<build folder>/cinterp in a source tree: SRC/lua, SRC/bindings
 *              and the generated <build folder>/lua/cinterp/cdef.lua.
 * Neither: the global `ci` stays unset (preload_ci says why) unless LUA_PATH
 * points at a library. */
enum { LIB_NONE, LIB_INSTALLED, LIB_BUILT };
static struct { int kind; char exe_dir[PATH_MAX]; char root[PATH_MAX]; } lib_home;

static void locate_library(const char *argv0) {
  char exe[PATH_MAX], probe[PATH_MAX + 64];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n > 0) exe[n] = '\0';
  else if (!argv0 || !realpath(argv0, exe)) strcpy(exe, "./" PROGNAME);
  char *slash = strrchr(exe, '/');
  if (slash) *slash = '\0'; else strcpy(exe, ".");
  snprintf(lib_home.exe_dir, sizeof lib_home.exe_dir, "%s", exe);
  lib_home.kind = LIB_NONE;
  snprintf(probe, sizeof probe, "%s/../share/lua/5.1/cinterp/init.lua", exe);
  if (access(probe, R_OK) == 0) {
    snprintf(probe, sizeof probe, "%s/..", exe);
    if (realpath(probe, lib_home.root)) lib_home.kind = LIB_INSTALLED;
    return;
  }
  snprintf(probe, sizeof probe, "%s/../lua/cinterp/init.lua", exe);
  if (access(probe, R_OK) == 0) {
    snprintf(probe, sizeof probe, "%s/..", exe);
    if (realpath(probe, lib_home.root)) lib_home.kind = LIB_BUILT;
  }
}

static void setup_paths(lua_State *L, const char *argv0) {
  locate_library(argv0);
  const char *root = lib_home.root, *exe = lib_home.exe_dir;
  if (lib_home.kind == LIB_INSTALLED) {
    lua_pushfstring(L, "%s/share/lua/5.1/?.lua;%s/share/lua/5.1/?/init.lua", root, root);
    prepend_path(L, "path", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushfstring(L, "%s/lib/?.so", root);
    prepend_path(L, "cpath", lua_tostring(L, -1));
    lua_pop(L, 1);
  } else if (lib_home.kind == LIB_BUILT) {
    lua_pushfstring(L, "%s/lua/?.lua;%s/lua/?.lua;%s/lua/?/init.lua;%s/bindings/?.lua",
                    exe, root, root, root);
    prepend_path(L, "path", lua_tostring(L, -1));
    lua_pop(L, 1);
    lua_pushfstring(L, "%s/?.so", exe);
    prepend_path(L, "cpath", lua_tostring(L, -1));
    lua_pop(L, 1);
  }
}

/* The manual: README.md of the installation or of the source tree. */
static const char *readme_path(void) {
  static char path[PATH_MAX + 64];
  if (lib_home.kind == LIB_NONE) locate_library(NULL);
  if (lib_home.kind == LIB_INSTALLED) snprintf(path, sizeof path, "%s/share/doc/cinterp/README.md", lib_home.root);
  else if (lib_home.kind == LIB_BUILT) snprintf(path, sizeof path, "%s/README.md", lib_home.root);
  else snprintf(path, sizeof path, "README.md of the cinterp sources");
  return path;
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
  if (lib_home.kind == LIB_NONE)
    fprintf(stderr, "%s: it is looked for next to this executable (%s): in ../share/lua/5.1 (make install)"
            " or ../lua (a build folder of the source tree); else set LUA_PATH\n", PROGNAME, lib_home.exe_dir);
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
    "incomplete input continues on a '..>' line, TAB completes names, fields and\n"
    "methods (ci.ten<TAB>, t:si<TAB>), ?name or help(f) shows help, :trace shows the\n"
    "full traceback of the last error, Ctrl-C interrupts, Ctrl-D quits.\n"
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
    "documentation: %s\n",
    ci_version(), LUAJIT_VERSION, readme_path());
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
  push_field(L, "cinterp.jit", fn);
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

/* ---------- the interactive prompt ----------
 * This loop reads lines (readline when stdin is a terminal: editing, history,
 * completion) and hands each entry to the Lua module cinterp.repl (lua/cinterp/
 * repl.lua), which compiles it, runs it, prints its values or its error, and says
 * when an entry needs more lines. */

static int use_readline = 0;
static char history_path[PATH_MAX] = "";
static int completion_index = 0;

/* Candidates for readline: cinterp.repl's complete(text), computed once per TAB. */
static char *completion_generator(const char *text, int state) {
  lua_State *L = globalL;
  if (state == 0) {
    completion_index = 0;
    push_field(L, "cinterp.repl", "complete");
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
  at_prompt = 0;  /* a Ctrl-C must not jump out of the Lua call */
  char **matches = rl_completion_matches(text, completion_generator);
  at_prompt = 1;
  return matches;
}

static void repl_init(void) {
  use_readline = isatty(0);
  if (!use_readline) return;
  rl_readline_name = PROGNAME;
  rl_attempted_completion_function = attempted_completion;
  rl_completer_word_break_characters = (char *)" \t\n\"\\'`@$><=;|&{}()[],+-*/%^~#?";
  const char *h = getenv("CINTERP_HISTORY"), *home = getenv("HOME");
  if (h) snprintf(history_path, sizeof history_path, "%s", h);
  else if (home) snprintf(history_path, sizeof history_path, "%s/.cinterp_history", home);
  if (history_path[0]) {
    using_history();
    stifle_history(HISTORY_MAX);
    if (read_history(history_path) == ENOENT) write_history(history_path);
  }
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
static char *repl_read(lua_State *L, const char *prompt) {
  if (use_readline) {
    at_prompt = 1;
    char *line = readline(prompt);
    at_prompt = 0;
    return line;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, stdin);
  clear_interrupt(L);  /* a Ctrl-C while waiting for the line is not for the entry */
  if (n < 0) { free(line); return NULL; }
  if (n > 0 && line[n - 1] == '\n') line[n - 1] = '\0';
  return line;
}

static int unwatch_interrupts(lua_State *L) {
  luaJIT_profile_stop(L);
  return 0;
}

/* Loads cinterp.repl into the registry, with the host functions it uses, and makes
 * the global `help` (unless there is one) its help: ci.help looked up at each call.
 * On failure warns and carries on (only the prompt needs the module). */
static void load_repl(lua_State *L) {
  lua_getglobal(L, "require");
  lua_pushstring(L, "cinterp.repl");
  if (docall(L, 1, 1)) {
    const char *msg = lua_tostring(L, -1);
    fprintf(stderr, "%s: warning: could not load cinterp.repl (no prompt, no `help`):\n%s\n",
            PROGNAME, msg ? msg : "?");
    lua_pop(L, 1);
    return;
  }
  lua_pushcfunction(L, watch_interrupts);
  lua_setfield(L, -2, "watch_interrupts");
  lua_pushcfunction(L, unwatch_interrupts);
  lua_setfield(L, -2, "unwatch_interrupts");
  lua_getglobal(L, "help");
  if (lua_isnil(L, -1)) {
    lua_getfield(L, -2, "help");
    lua_setglobal(L, "help");
  }
  lua_pop(L, 1);
  lua_setfield(L, LUA_REGISTRYINDEX, "cinterp.repl");
}

/* The engine's OpenMP threads, started with SIGINT and SIGPROF blocked (a thread
 * inherits the mask), so that these signals reach the thread that runs Lua. */
static void start_threads_without_signals(void) {
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGPROF);
  pthread_sigmask(SIG_BLOCK, &block, &old);
#pragma omp parallel
  { }
  pthread_sigmask(SIG_SETMASK, &old, NULL);
}

/* The pending entry; static so that it survives the siglongjmp of Ctrl-C. */
static char *buf = NULL;
static size_t cap = 0, len = 0;
static int repl_top = 0;

static int dotty(lua_State *L) {
  lua_getfield(L, LUA_REGISTRYINDEX, "cinterp.repl");
  int loaded = lua_istable(L, -1);
  lua_pop(L, 1);
  if (!loaded) {
    l_message("no prompt: the module cinterp.repl could not be loaded");
    return 1;
  }
  start_threads_without_signals();
  repl_init();
  interactive = 1;
  signal(SIGINT, laction);
  push_field(L, "cinterp.repl", "start");
  if (report(L, docall(L, 0, 0))) return 1;
  repl_top = lua_gettop(L);
  if (use_readline && sigsetjmp(prompt_jmp, 1)) {  /* Ctrl-C at the prompt lands here */
    at_prompt = 0;
    rl_readline_state &= ~(unsigned long)RL_STATE_SIGHANDLER;  /* we left its handler */
    fputc('\n', stdout);
    lua_settop(L, repl_top);
  }
  len = 0;
  for (;;) {
    char *line = repl_read(L, len ? "..> " : "ci> ");
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
    push_field(L, "cinterp.repl", "eval");
    lua_pushlstring(L, buf, len);
    int status = docall(L, 1, 1);
    if (status == 0 && lua_toboolean(L, -1)) {  /* incomplete: read another line */
      lua_pop(L, 1);
      continue;
    }
    if (status) {  /* an error outside the entry (an interrupt while printing): its message */
      const char *msg = lua_tostring(L, -1);
      const char *tb = msg ? strstr(msg, "\nstack traceback:") : NULL;
      fflush(stdout);
      fprintf(stderr, "%.*s\n", tb ? (int)(tb - msg) : (int)strlen(msg ? msg : ""), msg ? msg : "");
      fflush(stderr);
    }
    lua_pop(L, 1);
    len = 0;
  }
  if (use_readline) fputc('\n', stdout);
  fflush(stdout);
  push_field(L, "cinterp.repl", "stop");
  report(L, docall(L, 0, 0));
  interactive = 0;
  signal(SIGINT, SIG_DFL);
  return 0;
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
  if (luaL_loadbuffer(L, jit_lua, sizeof jit_lua - 1, "=cinterp.jit") || lua_pcall(L, 0, 1, 0)) {
    s->status = report(L, 1);
    return 0;
  }
  lua_setfield(L, LUA_REGISTRYINDEX, "cinterp.jit");
  if (flags & FLAGS_VERSION) print_version();
  preload_ci(L);
  load_repl(L);
  if (!(flags & FLAGS_NOENV) && (s->status = handle_luainit(L)) != 0) return 0;
  if (argn == 1 && s->argc > 1 && strcmp(argv[1], "screen") == 0) { s->status = run_screen(L, argv + 2, s->argc - 2); return 0; }
  if ((s->status = runargs(L, argv, argn)) != 0) return 0;
  if (s->argc > argn && (s->status = handle_script(L, argv + argn)) != 0) return 0;
  if (flags & FLAGS_INTERACTIVE) {
    if (isatty(0)) print_version();
    s->status = dotty(L);
  } else if (s->argc == argn && !(flags & (FLAGS_EXEC | FLAGS_VERSION))) {
    if (isatty(0)) {
      print_version();
      lua_getglobal(L, "ci");
      printf("%sTAB completes, ?name shows help, Ctrl-C interrupts, Ctrl-D quits,\n"
             "`cinterp --help` tells more.\n",
             lua_isnil(L, -1) ? "" : "The cinterp library is the global `ci`. ");
      lua_pop(L, 1);
      s->status = dotty(L);
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
