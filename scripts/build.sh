#!/usr/bin/env bash
# Builds the release worker into build/ (index.js + index_bg.wasm), the form that
# Miniflare, wrangler dev and wrangler deploy load. Assumes scripts/bootstrap.sh ran.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh

# Skip the (slow) wasm build when nothing it depends on changed since the last one.
if [ -z "${FORCE_BUILD:-}" ] && [ -f build/index_bg.wasm ] && [ -f build/index.js ] &&
   [ -z "$(find src Cargo.toml Cargo.lock wrangler.toml scripts/build.sh -newer build/index_bg.wasm -print -quit)" ]; then
  echo "build: build/ is up to date" >&2
  exit 0
fi

worker-build --release

# worker-build keeps the wasm name section (about a fifth of the module); the upload
# is smaller without it. worker-build's own wasm-opt pass is `-O` (speed); a second
# pass with `-Oz` matches the crate's `opt-level = "z"` and takes ~3 KB more off the
# gzip upload. The feature flags are the ones worker-build itself enables.
"$WASM_OPT_BIN" build/index_bg.wasm -o build/index_bg.wasm -Oz --strip-debug --strip-producers \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling

raw=$(stat -c %s build/index_bg.wasm)
gz=$(gzip -9 -c build/index_bg.wasm | wc -c)
echo "build: build/index_bg.wasm ${raw} bytes raw, ${gz} bytes gzip" >&2
