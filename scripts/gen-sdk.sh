#!/usr/bin/env bash
# Regenerates every SDK's generated code from protos/ with pinned generators
# (`make sdk`). Each language's script lives in sdk/<lang>/generate.sh.
# With --check, regenerates into the tree and fails if anything changed
# (the drift check `make test` runs).
set -euo pipefail
cd "$(dirname "$0")/.."
check=0
[ "${1:-}" = "--check" ] && check=1
for lang in python go typescript; do
  if [ -x "sdk/$lang/generate.sh" ]; then
    echo "gen-sdk: $lang"
    "sdk/$lang/generate.sh"
  fi
done
if [ $check = 1 ]; then
  if ! git diff --quiet -- sdk/ || [ -n "$(git ls-files --others --exclude-standard -- sdk/)" ]; then
    echo "gen-sdk: generated code is out of date; run 'make sdk' and commit:" >&2
    git status --short -- sdk/ >&2
    exit 1
  fi
  echo "gen-sdk: generated code is up to date"
fi
