#!/usr/bin/env bash
# Installs everything the build, the local stack and the tests need, skipping what is
# already present at the right version. Every npm script calls it first, so a fresh
# clone (or a fresh CI machine) needs nothing installed by hand beyond rustup and Node.
#
# worker-build would otherwise download wasm-bindgen and wasm-opt from a host these
# machines cannot reach; scripts/env.sh points it at the tools installed here instead.
set -euo pipefail
cd "$(dirname "$0")/.."

WORKER_BUILD_VERSION=0.8.7
# The CLI must match the wasm-bindgen crate exactly; Cargo.toml pins that crate.
WASM_BINDGEN_VERSION=$(sed -n 's/^wasm-bindgen = "=\([0-9.]*\)"/\1/p' Cargo.toml)
[ -n "$WASM_BINDGEN_VERSION" ] || { echo "bootstrap: wasm-bindgen pin not found in Cargo.toml" >&2; exit 1; }

export PATH="$HOME/.cargo/bin:$PATH"
say() { echo "bootstrap: $*" >&2; }

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# `--version` prints "0.8.7" for worker-build and "wasm-bindgen 0.2.130" for the CLI.
has_version() { "$1" --version 2>/dev/null | grep -qw -- "$2"; }

if ! has_version worker-build "$WORKER_BUILD_VERSION"; then
  say "installing worker-build $WORKER_BUILD_VERSION (a few minutes, once)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
fi

if ! has_version wasm-bindgen "$WASM_BINDGEN_VERSION"; then
  say "installing wasm-bindgen-cli $WASM_BINDGEN_VERSION (a few minutes, once)"
  # Not --locked: one of the CLI's locked dependencies is gone from the index.
  cargo install wasm-bindgen-cli --version "$WASM_BINDGEN_VERSION" --force
fi

# npm ci whenever the lock changed since the last install (npm keeps a copy of the
# lock it installed from in node_modules/.package-lock.json).
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing npm packages"
  npm ci --no-audit --no-fund
fi

# The browser test (tests/demo.spec.mjs) drives Debian's Chromium through
# playwright-core; Playwright's own browser download cannot reach its host from here.
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    say "installing Debian's chromium for the browser test (once)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    say "skipping Chromium: /usr/bin/chromium is missing and installing it needs root."
    say "  run: sudo apt-get update && sudo apt-get install -y chromium"
    say "  (tests/demo.spec.mjs is skipped until then)"
  fi
fi
