#!/usr/bin/env bash
# The TypeScript SDK's suite (run by scripts/test.sh / `make test`):
# npm ci, a strict type check, the build, then node's test runner against a
# real heraldd that the tests start from $HERALD_BUILD_DIR (default build/).
set -euo pipefail
cd "$(dirname "$0")"
ROOT=$(cd ../.. && pwd)
export HERALD_BUILD_DIR=${HERALD_BUILD_DIR:-$ROOT/build}
case "$HERALD_BUILD_DIR" in /*) ;; *) HERALD_BUILD_DIR=$ROOT/$HERALD_BUILD_DIR ;; esac

step() { echo "--- sdk/typescript: $*"; }

step "npm ci"
npm ci --no-audit --no-fund --loglevel=error

step "tsc --noEmit (strict)"
node_modules/.bin/tsc -p tsconfig.json --noEmit

step "build dist/ (npm run build, as npm pack's prepack does)"
rm -rf dist build-test
npm run build --silent

step "compile tests and examples (strict, against the built package)"
node_modules/.bin/tsc -p tsconfig.test.json

if [ ! -x "$HERALD_BUILD_DIR/server/heraldd" ]; then
  step "heraldd missing: building it"
  cmake --build "$HERALD_BUILD_DIR" --target heraldd -j2
fi

step "node --test"
node --test --test-timeout=180000 build-test/test/*.test.js
