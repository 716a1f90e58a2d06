#!/usr/bin/env bash
# Runs each fuzz target for a few minutes (FUZZTIME, default 3m). Not part of
# CI: a run this long belongs on a machine of its own. New failing inputs land
# in the package's testdata/fuzz directory; commit them with the fix.
set -euo pipefail
cd "$(dirname "$0")/.."
t="${FUZZTIME:-3m}"
for target in "./mcpproxy FuzzScan" "./mcpproxy FuzzRedacted" "./internal/redact FuzzString" \
	"./internal/jsonedit FuzzParse" "./internal/jsonedit FuzzQuote"; do
	set -- $target
	echo "fuzz: $1 $2 for $t"
	go test "$1" -run '^$' -fuzz "^$2\$" -fuzztime "$t"
done
