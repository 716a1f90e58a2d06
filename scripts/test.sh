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

echo "== wine and mingw-w64 (the Windows build runs under Wine: e2e/wine)"
if [ "$(uname -s)/$(uname -m)" = Linux/x86_64 ]; then
	if ! command -v wine >/dev/null || ! command -v x86_64-w64-mingw32-gcc >/dev/null; then
		echo "installing the Debian packages wine, wine64 and gcc-mingw-w64-x86-64-win32 (missing)"
		sudo=
		[ "$(id -u)" = 0 ] || sudo=sudo
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends \
			wine wine64 gcc-mingw-w64-x86-64-win32 >/dev/null
	fi
	# From here a missing wine fails e2e/wine instead of skipping it.
	export AIM_MCP_WINE=1
fi

echo "== chromium and dbus (the dashboard's browser test and its notification test)"
if [ "$(uname -s)" = Linux ]; then
	missing=
	[ -x /usr/bin/chromium ] || missing="$missing chromium"
	command -v dbus-daemon >/dev/null || missing="$missing dbus"
	if [ -n "$missing" ]; then
		echo "installing the Debian packages$missing (missing)"
		sudo=
		[ "$(id -u)" = 0 ] || sudo=sudo
		$sudo apt-get update -qq
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
	fi
fi

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
