#!/usr/bin/env bash
# `npm run soak`: the fault-injecting soak (soak/run.mjs) against the built worker, on
# PGlite and on the PostgreSQL server (TEST_DATABASE_URL, default the local one).
# Arguments go to soak/run.mjs: --seconds 60 --clients 32 --users 100 --backend both …
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
source scripts/env.sh
bash scripts/build.sh
export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/test}"
exec node soak/run.mjs "$@"
