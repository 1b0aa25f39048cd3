# Makefile: builds libcinterp.so, the cinterp host and the Lua bindings; runs tests, demo, bench.
#   make            build everything into build/
#   make test       install missing Debian packages, build, run the C tests and busted specs
#   make demo       install, build, run scripts/demo.lua
#   make bench      install, build, run the benchmark (see README; BENCH_ARGS=--quick for a smoke run)
#   make asan       build into build-asan/ with AddressSanitizer + UBSan and run the tests there
#   make fuzz       build the libFuzzer harnesses (clang) and run each FUZZ_SECONDS (60) seconds
#   make valgrind   the C tests and a Lua workload under valgrind memcheck (tests/valgrind.sh)
#   make CUDA=1     also compile kernels/ with nvcc and link cuSPARSE, into build-cuda/
#   make NATIVE=1   tuned for this machine's CPU (-march=native), into build-native/
#   make gpu-check  on a machine with a GPU: its golden cases, the CPU-vs-GPU agreement
#                   tests and a timing table (scripts/gpu_check.sh; make gpu-bundle
#                   prepares build-gpu/ to carry to a GPU machine without the packages)
#   make tanh-exhaustive  core/fast_tanh.h's tanh checked at all 2^32 floats (minutes);
#                   make tanh-fit prints the fit its coefficients come from
#   make deps       install the Debian packages listed in ../shared/TOOLCHAIN.md when missing
#   make install PREFIX=... [DESTDIR=...]   install (relocatable); make uninstall removes it
#
# Configurations never mix: each has its own folder (build, build-cuda,
# build-native, build-cuda-native, or BUILD=...), and every object also
# depends on $(BUILD)/config.stamp, the compilers' flags, which changes when
# they do. Header dependencies come from the compilers (-MMD -MP).

# plain `make` builds everything (the first rule below is the flags stamp's)
.DEFAULT_GOAL := all
CUDA     ?= 0
NATIVE   ?= 0
CONFIG_SUFFIX := $(if $(filter 1,$(CUDA)),-cuda)$(if $(filter 1,$(NATIVE)),-native)
BUILD    ?= build$(CONFIG_SUFFIX)
CC       ?= gcc
# portable default (any x86-64 with AVX2/FMA, 2015 on); NATIVE=1 tunes for this CPU
OPT      ?= -O3 $(if $(filter 1,$(NATIVE)),-march=native,-march=x86-64-v3)
SAN      ?=
CFLAGS   += -std=gnu11 $(OPT) -g -fPIC -fopenmp -fvisibility=hidden -Wall -Wextra \
            -Wno-unused-parameter -Icore -I/usr/include/x86_64-linux-gnu/openblas-pthread $(SAN)
LUAJIT_CFLAGS := $(shell pkg-config --cflags luajit 2>/dev/null || echo -I/usr/include/luajit-2.1)
LUAJIT_LIBS   := $(shell pkg-config --libs luajit 2>/dev/null || echo -lluajit-5.1)
LIBS     := -lopenblas -lcsv -lz -lm
NVCC     ?= /usr/local/cuda/bin/nvcc

CORE_SRC := $(wildcard core/*.c)
CORE_OBJ := $(CORE_SRC:core/%.c=$(BUILD)/obj/%.o)
HDRS     := $(wildcard core/*.h)

ifeq ($(CUDA),1)
CU_SRC   := $(wildcard kernels/*.cu)
CU_OBJ   := $(CU_SRC:kernels/%.cu=$(BUILD)/obj/cu_%.o)
CFLAGS   += -DCI_CUDA=1
LIBS     += -L/usr/local/cuda/lib64 -Wl,-rpath,/usr/local/cuda/lib64 -lcusparse -lcudart -lstdc++
# A100 (sm_80) and H100/H200 (sm_90) binaries, plus PTX that later GPUs compile
NVARCH   := -gencode arch=compute_80,code=sm_80 -gencode arch=compute_90,code=sm_90 \
            -gencode arch=compute_90,code=compute_90
NVFLAGS  := -O3 -std=c++17 -Xcompiler -fPIC,-fvisibility=hidden -Icore -DCI_CUDA=1 $(NVARCH) \
            -Werror all-warnings
endif

# The flags of this configuration; rewritten (so every object is rebuilt) only
# when they differ from the ones the folder was built with.
CONFIG   := $(CC) $(CFLAGS) | $(NVCC) $(NVFLAGS) | $(LIBS)
.PHONY: FORCE
$(BUILD)/config.stamp: FORCE
	@mkdir -p $(BUILD)/obj
	@printf '%s\n' '$(CONFIG)' | cmp -s - $@ || printf '%s\n' '$(CONFIG)' > $@

DEB_PKGS := luajit libluajit-5.1-dev libopenblas-dev libcsv-dev zlib1g-dev gnuplot-nox \
            lua-busted libreadline-dev pkg-config chromium
DEB_PKGS += slurm-wlm munge  # tests/slurm_spec.lua: a private Slurm cluster for `cinterp screen sbatch`

.PHONY: all deps test test-c test-lua demo bench asan fuzz fuzz-build valgrind gpu-check gpu-bundle clean \
        install uninstall tanh-exhaustive tanh-fit
all: $(BUILD)/libcinterp.so $(BUILD)/cinterp $(BUILD)/lua/cinterp/cdef.lua

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $$missing; \
	fi

$(BUILD)/obj/%.o: core/%.c $(BUILD)/config.stamp | $(BUILD)/obj
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/obj/cu_%.o: kernels/%.cu $(BUILD)/config.stamp | $(BUILD)/obj
	$(NVCC) $(NVFLAGS) -MMD -MP -c $< -o $@

-include $(CORE_OBJ:.o=.d) $(CU_OBJ:.o=.d)

$(BUILD)/libcinterp.so: $(CORE_OBJ) $(CU_OBJ)
	$(CC) -shared -fopenmp $(SAN) -Wl,-z,nodelete -o $@ $^ $(LIBS)

# The host: embeds LuaJIT, links the engine, exports its symbols for ffi.C. It
# finds the engine and its Lua library from its own location (bindings/host.c:
# ../lib and ../share/lua/5.1 installed, its folder and ../lua in a build folder),
# never from where it was built.
$(BUILD)/cinterp: bindings/host.c $(BUILD)/libcinterp.so | $(BUILD)/obj
	$(CC) $(CFLAGS) $(LUAJIT_CFLAGS) -o $@ bindings/host.c \
	  -Wl,-E -L$(BUILD) -lcinterp -Wl,-rpath,'$$ORIGIN:$$ORIGIN/../lib' $(LUAJIT_LIBS) -lreadline -ldl -lm

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
	$(CC) $(CFLAGS) -MMD -MP -o $@ $< -L$(BUILD) -lcinterp -Wl,-rpath,'$$ORIGIN/..' $(LIBS)
-include $(C_TESTS:=.d)

# core/fast_tanh.h: every float checked (tests/c/tanh_exhaustive.c), the coefficients' fit
tanh-exhaustive: $(BUILD)/tests/tanh_exhaustive
	$(BUILD)/tests/tanh_exhaustive
tanh-fit: $(BUILD)/tests/tanh_fit
	$(BUILD)/tests/tanh_fit

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
FUZZ_FLAGS   := -std=gnu11 -g -O1 -march=x86-64-v3 -fno-omit-frame-pointer -Icore \
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

# On a machine with a GPU: scripts/gpu_check.sh runs scripts/gpu_check.lua (the CUDA
# golden cases, the CPU-vs-GPU agreement tests and a timing table of the 140k/15M
# network, < 5 min) with the CUDA build in build-gpu/, built there when missing.
# A GPU machine without the Debian packages or a network gets build-gpu/ from
# `make gpu-bundle` here (the build plus the libraries, busted and the golden cases
# it needs, ~45 MB to carry). Without a GPU gpu-check says so and fails at once.
gpu-bundle: deps
	@$(MAKE) --no-print-directory CUDA=1 BUILD=build-gpu all
	@bash scripts/gpu_bundle.sh build-gpu
gpu-check:
	@bash scripts/gpu_check.sh build-gpu $(GPU_CHECK_ARGS)

# make install PREFIX=/usr/local [DESTDIR=]: bin/cinterp, lib/libcinterp.so,
# include/cinterp.h, the Lua library in share/lua/5.1/cinterp (with the generated
# cdef.lua; the stock luajit finds it too), share/doc/cinterp/README.md, and a
# record of it all in share/cinterp/installed.txt; `make uninstall` removes
# exactly what that record lists (scripts/install.sh). Relocatable: the host
# finds its library from its own location.
PREFIX ?= /usr/local
install: all
	@bash scripts/install.sh install '$(BUILD)' '$(DESTDIR)$(PREFIX)'
uninstall:
	@bash scripts/install.sh uninstall '$(DESTDIR)$(PREFIX)'

clean:
	rm -rf build build-cuda build-native build-cuda-native build-gpu build-asan build-valgrind fuzz/build

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
