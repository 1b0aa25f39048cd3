# Makefile: builds libcinterp.so, the cinterp host and the Lua bindings; runs tests, demo, bench.
#   make            build everything into build/
#   make test       install missing Debian packages, build, run the C tests and busted specs
#   make demo       install, build, run scripts/demo.lua
#   make bench      install, build, run the benchmark (see README; BENCH_ARGS=--quick for a smoke run)
#   make asan       build into build-asan/ with AddressSanitizer + UBSan and run the tests there
#   make fuzz       build the libFuzzer harnesses (clang) and run each FUZZ_SECONDS (60) seconds
#   make valgrind   the C tests and a Lua workload under valgrind memcheck (tests/valgrind.sh)
#   make CUDA=1     also compile kernels/ with nvcc and link cuSPARSE/cuBLAS
#   make deps       install the Debian packages listed in ../shared/TOOLCHAIN.md when missing

BUILD    ?= build
CC       ?= gcc
OPT      ?= -O3 -march=native
SAN      ?=
CFLAGS   += -std=gnu11 $(OPT) -g -fPIC -fopenmp -Wall -Wextra -Wno-unused-parameter \
            -Icore -I/usr/include/x86_64-linux-gnu/openblas-pthread $(SAN)
LUAJIT_CFLAGS := $(shell pkg-config --cflags luajit 2>/dev/null || echo -I/usr/include/luajit-2.1)
LUAJIT_LIBS   := $(shell pkg-config --libs luajit 2>/dev/null || echo -lluajit-5.1)
LIBS     := -lopenblas -lcsv -lz -lm
CUDA     ?= 0
NVCC     ?= /usr/local/cuda/bin/nvcc

CORE_SRC := $(wildcard core/*.c)
CORE_OBJ := $(CORE_SRC:core/%.c=$(BUILD)/obj/%.o)
HDRS     := $(wildcard core/*.h)

ifeq ($(CUDA),1)
CU_SRC   := $(wildcard kernels/*.cu)
CU_OBJ   := $(CU_SRC:kernels/%.cu=$(BUILD)/obj/cu_%.o)
CFLAGS   += -DCI_CUDA=1
LIBS     += -L/usr/local/cuda/lib64 -Wl,-rpath,/usr/local/cuda/lib64 -lcusparse -lcublas -lcudart -lstdc++
NVFLAGS  := -O3 -std=c++17 -Xcompiler -fPIC -Icore -DCI_CUDA=1 -arch=sm_75 -Werror all-warnings
endif

DEB_PKGS := luajit libluajit-5.1-dev libopenblas-dev libcsv-dev zlib1g-dev gnuplot-nox \
            lua-busted libreadline-dev pkg-config chromium
DEB_PKGS += slurm-wlm munge  # tests/slurm_spec.lua: a private Slurm cluster for `cinterp screen sbatch`

.PHONY: all deps test test-c test-lua demo bench asan fuzz fuzz-build valgrind clean
all: $(BUILD)/libcinterp.so $(BUILD)/cinterp $(BUILD)/lua/cinterp/cdef.lua

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/obj/%.o: core/%.c $(HDRS) | $(BUILD)/obj
	$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/obj/cu_%.o: kernels/%.cu $(HDRS) $(wildcard kernels/*.cuh) | $(BUILD)/obj
	$(NVCC) $(NVFLAGS) -c $< -o $@

$(BUILD)/libcinterp.so: $(CORE_OBJ) $(CU_OBJ)
	$(CC) -shared -fopenmp $(SAN) -Wl,-z,nodelete -o $@ $^ $(LIBS)

# The host: embeds LuaJIT, links the engine, exports its symbols for ffi.C.
$(BUILD)/cinterp: bindings/host.c $(BUILD)/libcinterp.so | $(BUILD)/obj
	$(CC) $(CFLAGS) $(LUAJIT_CFLAGS) -DCI_SOURCE_DIR='"$(CURDIR)"' -o $@ bindings/host.c \
	  -Wl,-E -L$(BUILD) -lcinterp -Wl,-rpath,'$$ORIGIN' $(LUAJIT_LIBS) -lreadline -ldl -lm

# The FFI declarations: the marked part of the public header, as a Lua string.
$(BUILD)/lua/cinterp/cdef.lua: core/cinterp.h
	@mkdir -p $(dir $@)
	@{ echo "-- generated from core/cinterp.h by the Makefile: do not edit"; \
	   echo "return [==["; \
	   sed -n '/^\/\* CI_FFI_BEGIN/,/^\/\* CI_FFI_END/p' $< | grep -v 'CI_FFI_'; \
	   echo "]==]"; } > $@

$(BUILD)/obj:
	@mkdir -p $@

# C tests: each tests/c/test_*.c is a program that exits non-zero on failure.
C_TESTS := $(patsubst tests/c/%.c,$(BUILD)/tests/%,$(wildcard tests/c/test_*.c))
$(BUILD)/tests/%: tests/c/%.c $(BUILD)/libcinterp.so
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< -L$(BUILD) -lcinterp -Wl,-rpath,'$$ORIGIN/..' $(LIBS)

test: deps
	@$(MAKE) --no-print-directory all $(C_TESTS)
	@BUILD=$(BUILD) bash tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/cinterp scripts/demo.lua

bench: deps
	@$(MAKE) --no-print-directory all
	$(BUILD)/cinterp bench/bench.lua $(BENCH_ARGS)

asan: deps
	@CINTERP_SANITIZED=1 $(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -fno-omit-frame-pointer" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined" test

# libFuzzer harnesses (fuzz/*_fuzz.c) built with clang + ASan + UBSan, the core
# sources compiled straight into each (no OpenMP, no shared library). `make fuzz`
# (fuzz/run.sh) replays fuzz/regressions/<harness>/ then fuzzes each harness
# FUZZ_SECONDS seconds from fuzz/corpus/<harness>/.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 60
FUZZ_FLAGS   := -std=gnu11 -g -O1 -fno-omit-frame-pointer -Icore \
                -I/usr/include/x86_64-linux-gnu/openblas-pthread -Wno-unknown-pragmas \
                -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZERS      := $(patsubst fuzz/%.c,fuzz/build/%,$(wildcard fuzz/*_fuzz.c))
fuzz/build/%: fuzz/%.c $(CORE_SRC) $(HDRS)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(CORE_SRC) $(LIBS)
fuzz-build: $(FUZZERS)
fuzz: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS="clang libclang-rt-14-dev"
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) bash fuzz/run.sh

valgrind: deps
	@$(MAKE) --no-print-directory deps DEB_PKGS=valgrind
	@bash tests/valgrind.sh

clean:
	rm -rf build build-asan build-valgrind fuzz/build

# The API reference docs/API.md, generated from the declarations of the public
# functions (lua/cinterp/options.lua, help.lua); tests/help_spec.lua fails when it
# is out of date.
.PHONY: docs
docs:
	@$(MAKE) --no-print-directory all
	@mkdir -p docs
	$(BUILD)/cinterp -e 'io.write(ci._help.markdown())' > docs/API.md.tmp && mv docs/API.md.tmp docs/API.md

# The reference for `make bench`: connectome_interpreter in build/ref-venv (PyPI,
# bench/ref-requirements.txt) and build/ref-venv-debian (Debian's python3-torch);
# REF_RUNTIMES=pypi or debian installs one. `make bench-readme` rewrites the
# README's benchmark table from bench/results.csv (the last full `make bench`).
.PHONY: bench-ref bench-readme
bench-ref:
	@BUILD=$(BUILD) bash bench/setup_ref.sh $(or $(REF_RUNTIMES),all)

bench-readme: all
	$(BUILD)/cinterp bench/readme_table.lua
