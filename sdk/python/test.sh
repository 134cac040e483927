#!/usr/bin/env bash
# The Python SDK's suite (run by scripts/test.sh, i.e. `make test`):
#   1. a venv in .tools/venv-sdk-python with tests/requirements.txt (pinned),
#      then `pip install ./sdk/python` as a user would;
#   2. mypy --strict on the hand-written code (herald/, examples/, tests/);
#   3. pytest on sdk/python/tests against real heraldd processes started from
#      $HERALD_BUILD_DIR (default build/), importing the installed package;
#   4. on Python 3.9 when one is found (the oldest the SDK supports), the SDK
#      with its oldest allowed dependencies (tests/requirements-floor.txt)
#      and tests/compat_smoke.py.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
PYTHON="${PYTHON:-python3}"
VENV="$ROOT/.tools/venv-sdk-python"
export HERALD_BUILD_DIR="${HERALD_BUILD_DIR:-$ROOT/build}"
case "$HERALD_BUILD_DIR" in /*) ;; *) HERALD_BUILD_DIR="$ROOT/$HERALD_BUILD_DIR" ;; esac

if [ ! -x "$HERALD_BUILD_DIR/server/heraldd" ]; then
  if [ -f "$HERALD_BUILD_DIR/CMakeCache.txt" ]; then
    cmake --build "$HERALD_BUILD_DIR" --target heraldd -j2
  else
    echo "sdk/python/test.sh: $HERALD_BUILD_DIR/server/heraldd is missing (run make test or build heraldd)" >&2
    exit 1
  fi
fi

# pip install <venv> <requirements file>: (re)installs when the file changed.
install_requirements() {
  local venv=$1 req=$2 stamp want
  stamp="$venv/.requirements.sha"
  want=$(sha256sum "$req" | cut -d' ' -f1)
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$req"
    echo "$want" > "$stamp"
  fi
}

# pip builds in the source tree; keep that out of the work tree.
install_sdk() { # <venv>
  local src
  src=$(mktemp -d)
  cp -r "$HERE/pyproject.toml" "$HERE/README.md" "$HERE/herald" "$src/"
  "$1/bin/pip" install -q --disable-pip-version-check --no-deps --no-build-isolation \
    --force-reinstall "$src"
  rm -rf "$src"
  "$1/bin/pip" check >/dev/null
}

[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
install_requirements "$VENV" "$HERE/tests/requirements.txt"
install_sdk "$VENV"

echo "sdk/python: mypy --strict"
(cd "$HERE" && "$VENV/bin/mypy" --strict herald examples tests)

echo "sdk/python: pytest"
status=0
(cd "$HERE/tests" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$@") || status=$?

# The oldest supported Python, with the oldest allowed dependencies.
py39=""
for candidate in "${HERALD_PYTHON39:-}" python3.9 \
    "$(command -v pyenv >/dev/null && pyenv root)"/versions/3.9*/bin/python3.9; do
  if [ -n "$candidate" ] && "$candidate" -c 'import sys; assert sys.version_info[:2] == (3, 9)' 2>/dev/null; then
    py39=$candidate
    break
  fi
done
if [ -n "$py39" ]; then
  echo "sdk/python: Python 3.9 with the oldest allowed dependencies"
  VENV39="$ROOT/.tools/venv-sdk-python39"
  [ -x "$VENV39/bin/python" ] || "$py39" -m venv "$VENV39"
  install_requirements "$VENV39" "$HERE/tests/requirements-floor.txt"
  install_sdk "$VENV39"
  (cd "$HERE/tests" && "$VENV39/bin/python" compat_smoke.py) || status=1
else
  echo "sdk/python: no Python 3.9 found; skipped the oldest-version check (set HERALD_PYTHON39)"
fi
exit $status
