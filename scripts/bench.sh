#!/usr/bin/env bash
# Real-client benchmark of aim-mcp proxy: the official MCP TypeScript SDK client
# against @modelcontextprotocol/server-everything three ways in one run —
# direct, through a bare Go line relay (e2e/benchrelay, the floor), and through
# `aim-mcp proxy` — interleaved, 2,000+ tools/call echo calls per path, plus
# ping (pass-through) and tools/list; p50/p90/p99 per path, the ratios to
# direct, the proxy-relay delta, and the proxy's idle and peak RSS after an
# 8 MiB message. Then the remote row: the same client talking streamable
# HTTP to server-everything on loopback directly, through `aim-mcp proxy
# --url` and through mcp-remote (pinned in e2e/node), interleaved, p50/p99
# side by side (e2e/node/bench-remote.mjs). Takes about two minutes; needs
# Linux (/proc), Go and Node 20.
#
#   scripts/bench.sh                 # build ./cmd/aim-mcp and run
#   BENCH_CALLS=5000 scripts/bench.sh       # default 3000
#   AIM_MCP_BIN=/path/aim-mcp scripts/bench.sh   # benchmark a prebuilt binary
#   BENCH_JSON=out.json scripts/bench.sh         # also write the numbers as JSON (the remote row in out-remote.json)
#   BENCH_ONLY=remote scripts/bench.sh           # only the remote row (or local: only the stdio paths)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
node_dir="$root/e2e/node"
calls="${BENCH_CALLS:-3000}"
big_mib="${BENCH_BIG_MIB:-8}"

if [[ ! -d "$node_dir/node_modules/@modelcontextprotocol/server-everything" ]]; then
	echo "bench.sh: error: e2e/node/node_modules is missing" >&2
	echo "hint: npm ci --prefix e2e/node" >&2
	exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/aim-bench-XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "building benchrelay and aim-mcp..." >&2
(cd "$root" && go build -o "$work/benchrelay" ./e2e/benchrelay)
if [[ -n "${AIM_MCP_BIN:-}" ]]; then
	aim="$AIM_MCP_BIN"
else
	aim="$work/aim-mcp"
	(cd "$root" && go build -o "$aim" ./cmd/aim-mcp)
fi

echo "go $(go env GOVERSION), node $(node --version), $(nproc) cores, $calls calls per path" >&2
args=(--relay-bin "$work/benchrelay" --aim-bin "$aim" --home "$work/home" --calls "$calls" --big-mib "$big_mib")
remote_args=(--aim-bin "$aim" --home "$work/home" --calls "$calls")
if [[ -n "${BENCH_JSON:-}" ]]; then
	json="$(realpath -m "$BENCH_JSON")"
	args+=(--json "$json")
	remote_args+=(--json "${json%.json}-remote.json")
fi
cd "$node_dir"
# The proxies read config.yaml from the user's config directory: give them
# an empty one, so a personal policy cannot skew the figures.
mkdir -p "$work/user"
export HOME="$work/user" XDG_CONFIG_HOME="$work/user/.config" XDG_DATA_HOME="$work/user/.local/share" \
	AIM_MCP_CONFIG= AIM_URL= AIM_PRIVATE_KEY=
if [[ "${BENCH_ONLY:-}" != remote ]]; then
	node bench.mjs "${args[@]}"
fi
if [[ "${BENCH_ONLY:-}" != local ]]; then
	node bench-remote.mjs "${remote_args[@]}"
fi
