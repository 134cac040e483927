#!/usr/bin/env bash
# Regenerates the expected bytes of every golden vector with Go's encoder
# (tests/vectors/gojson). Run after adding or editing a case, then review
# the diff: the C++ renderers must produce these bytes.
set -euo pipefail
cd "$(dirname "$0")"
bin="$(mktemp -d)/gojson"
(cd gojson && GOTOOLCHAIN=local go build -buildvcs=false -o "$bin" .)
"$bin" cases cases cases
"$bin" strings strings/strings.json strings/strings.expected.json
echo "regenerated; review with: git diff -- tests/vectors"
