#!/usr/bin/env bash
# gpu_bundle.sh DIR: makes the CUDA build in DIR (from `make CUDA=1 BUILD=DIR`)
# self-contained for a GPU machine that has the CUDA toolkit but neither the
# Debian packages nor a network (`make gpu-bundle` runs it):
#   DIR/lib      the shared libraries the host and libcinterp load beyond the
#                C/C++ runtime and CUDA's own (LuaJIT, OpenBLAS, libcsv, ...)
#   DIR/lua51    busted and its Lua modules (pure Lua and Lua 5.1 C modules)
#   DIR/busted   busted's runner, run by the cinterp host
#   DIR/golden   the golden cases tests/cuda_spec.lua reads, with their index
# About 45 MB: carry DIR to that machine and run `make gpu-check` there.
set -eu
cd "$(dirname "$0")/.."
B=${1:?usage: gpu_bundle.sh BUILD_DIR}
[ -x "$B/cinterp" ] || { echo "gpu_bundle.sh: $B/cinterp is missing (make CUDA=1 BUILD=$B first)"; exit 1; }
rm -rf "$B/lib" "$B/lua51" "$B/golden"
mkdir -p "$B/lib" "$B/lua51/share" "$B/lua51/lib" "$B/golden"
system='^(libc|libm|libdl|libpthread|librt|ld-linux-x86-64|libgcc_s|libstdc\+\+|libcudart|libcusparse|libnvJitLink|libcinterp)\.so'
for lib in $(ldd "$B/cinterp" "$B/libcinterp.so" | awk '/=> \//{print $3}' | sort -u); do
  name=$(basename "$lib")
  echo "$name" | grep -qE "$system" || cp -L "$lib" "$B/lib/$name"
done
cp -rL /usr/share/lua/5.1/. "$B/lua51/share/"
cp -rL /usr/lib/x86_64-linux-gnu/lua/5.1/. "$B/lua51/lib/"
cp -L "$(command -v busted)" "$B/busted"
golden=${CINTERP_GOLDEN:-../shared/golden}
if [ -f "$golden/index.lua" ]; then
  GOLDEN_FROM=$golden GOLDEN_TO=$B/golden env -u LUA_PATH -u LUA_CPATH "$B/cinterp" -e '
    local from, to = os.getenv("GOLDEN_FROM"), os.getenv("GOLDEN_TO")
    local keep = { ["MultilayeredNetwork.forward"] = true, ["LinearNetwork.forward"] = true,
                   param_grads = true }
    local out = assert(io.open(to .. "/index.lua", "w"))
    out:write("return {\n")
    for _, e in ipairs(dofile(from .. "/index.lua")) do
      if keep[e.fn] then
        local fields = {}
        for k, v in pairs(e) do
          fields[#fields + 1] = k .. " = " .. (type(v) == "string" and string.format("%q", v) or tostring(v))
        end
        table.sort(fields)
        out:write("  {", table.concat(fields, ", "), "},\n")
        os.execute(string.format("cp %q %q", from .. "/" .. e.file, to .. "/" .. e.file))
      end
    end
    out:write("}\n")
    out:close()'
else
  echo "gpu_bundle.sh: no golden cases at $golden: the GPU golden tests will be pending there"
fi
echo "gpu_bundle.sh: $B is ready to carry ($(du -sh "$B" | cut -f1))"
