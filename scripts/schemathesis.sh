#!/usr/bin/env bash
# `npm run schemathesis`: schemathesis (pinned in schemathesis/requirements.txt,
# installed into the git-ignored .venv-schemathesis/) against the built worker's own
# /openapi.json on the local stack; arguments go to scripts/schemathesis.mjs.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-schemathesis
requirements=schemathesis/requirements.txt
python=$(command -v python3.11 || command -v python3)
if [ ! -x "$venv/bin/schemathesis" ] || ! cmp -s "$requirements" "$venv/requirements.installed"; then
  echo "schemathesis: installing $(grep '^schemathesis==' "$requirements") into $venv" >&2
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check --no-input -r "$requirements"
  cp "$requirements" "$venv/requirements.installed"
fi

bash scripts/bootstrap.sh
source scripts/env.sh
bash scripts/build.sh
exec node scripts/schemathesis.mjs "$@"
