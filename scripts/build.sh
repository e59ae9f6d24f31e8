#!/usr/bin/env bash
# Builds the release worker into build/ (index.js + index_bg.wasm), the form that
# Miniflare, wrangler dev and wrangler deploy load. Assumes scripts/bootstrap.sh ran.
#
# KEEP_NAMES=1 builds the same release worker into bench/results/.profile-build/
# instead, with the wasm name section kept and the JS glue not minified, so that a CPU
# profile (bench/profile.mjs) names the wasm and glue functions; build/ is left alone.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

out=build
names=(--strip-debug)
if [ -n "${KEEP_NAMES:-}" ]; then
  out=bench/results/.profile-build
  # binaryen writes the name section only when asked to (-g), as worker-build does.
  names=(--debuginfo)
  # worker-build's esbuild step honours NO_MINIFY; the glue's names are then its own.
  export NO_MINIFY=1
fi

# Skip the (slow) wasm build when nothing it depends on changed since the last one.
if [ -z "${FORCE_BUILD:-}" ] && [ -f "$out/index_bg.wasm" ] && [ -f "$out/index.js" ] &&
   [ -z "$(find src Cargo.toml Cargo.lock wrangler.toml scripts/build.sh -newer "$out/index_bg.wasm" -print -quit)" ]; then
  echo "build: $out/ is up to date" >&2
  exit 0
fi

worker-build --release --out-dir "$out"

# worker-build keeps the wasm name section (about a fifth of the module); the upload
# is smaller without it. worker-build's own wasm-opt pass is `-O` (speed); a second
# pass with `-Oz` matches the crate's `opt-level = "z"` and takes ~3 KB more off the
# gzip upload. The feature flags are the ones worker-build itself enables. With
# KEEP_NAMES the pass is the same but keeps the name section instead of stripping it.
"$WASM_OPT_BIN" "$out/index_bg.wasm" -o "$out/index_bg.wasm" -Oz "${names[@]}" --strip-producers \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling

raw=$(stat -c %s "$out/index_bg.wasm")
gz=$(gzip -9 -c "$out/index_bg.wasm" | wc -c)
echo "build: $out/index_bg.wasm ${raw} bytes raw, ${gz} bytes gzip" >&2
