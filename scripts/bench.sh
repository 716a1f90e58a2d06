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
#   BENCH_STARTS=51 scripts/bench.sh        # starts per path for the start row, default 31
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

# Static binaries, as the README builds aim-mcp for real use: a dynamically
# linked one pays the loader at every start.
echo "building benchrelay, scalegen and aim-mcp (static)..." >&2
export CGO_ENABLED=0
(cd "$root" && go build -o "$work/benchrelay" ./e2e/benchrelay && go build -o "$work/scalegen" ./e2e/scalegen)
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
	# A proxy's start to its first forwarded byte: a Go echo server (which
	# starts in a few ms) notes when the client's initialize reaches it,
	# started directly, behind the bare relay and behind the proxy, in turn.
	runs="${BENCH_STARTS:-31}"
	read -r d_first d_answer r_first r_answer p_first p_answer < <("$work/scalegen" start --runs "$runs" -- \
		"$work/scalegen" echo ::: "$work/benchrelay" -- "$work/scalegen" echo ::: \
		"$aim" proxy --server start-echo --home "$work/home" -- "$work/scalegen" echo 2>/dev/null | tr '\n' ' ')
	echo
	echo "start to the first byte the server reads, Go echo server, median of $runs (ms):"
	echo "  direct $d_first, relay $r_first, proxy $p_first; proxy - direct $(awk -v a="$p_first" -v b="$d_first" 'BEGIN { printf "%.2f", a - b }')"
	echo "  to the initialize answer: direct $d_answer, relay $r_answer, proxy $p_answer"
fi
if [[ "${BENCH_ONLY:-}" != local ]]; then
	node bench-remote.mjs "${remote_args[@]}"
fi
