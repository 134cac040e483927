#!/usr/bin/env bash
# Runs pytest in the project's own virtualenv (.tools/venv), creating it and
# installing tests/requirements.txt when missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.tools/venv
REQ=tests/requirements.txt
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv "$VENV"
fi
stamp="$VENV/.requirements.sha"
want=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  echo "$want" > "$stamp"
fi
export PATH="$PWD/.tools/bin:$PATH"
export HERALD_BUILD_DIR="${BUILD_DIR:-build}"
exec "$VENV/bin/python" -m pytest -q "$@"
