#!/usr/bin/env bash
# Runs every test of aim-mcp on a fresh machine with Go and Node.js 20:
# installs the pinned real MCP servers and the official TypeScript client
# the end-to-end tests drive, checks formatting, vet and staticcheck, then runs the Go
# tests (unit, CLI scripts, the proxy against real child processes, the
# real-server end-to-end suites and the demo) with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== npm ci (pinned MCP servers and SDK client for e2e)"
npm ci --prefix e2e/node --no-audit --no-fund --loglevel=error

echo "== gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './e2e/node/*'))
if [ -n "$unformatted" ]; then
	echo "gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi

echo "== go vet"
go vet ./...

echo "== staticcheck"
go run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

echo "== go test"
go test -race -timeout 20m "$@" ./...
