#!/usr/bin/env bash
# `npm test`: native unit tests, the release wasm build, then the Miniflare suites
# against the built worker and the local stack — on PGlite, and again on a
# PostgreSQL server when TEST_DATABASE_URL is set.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source scripts/env.sh

cargo test --quiet
bash scripts/build.sh

echo "test: Miniflare suites on PGlite" >&2
TEST_BACKEND=pglite npx vitest run

if [ -n "${TEST_DATABASE_URL:-}" ]; then
  echo "test: Miniflare suites on the PostgreSQL server from TEST_DATABASE_URL" >&2
  TEST_BACKEND=postgres npx vitest run
fi
