#!/usr/bin/env bash
# Scale benchmark of aim-mcp: each command at two sizes, 10x apart, with its
# wall time, CPU time (user+sys, what the growth is computed from: the
# machine may be shared), peak resident memory, and the growth exponent k
# of CPU time (t2/t1 = (n2/n1)^k: 1 is linear, 2 quadratic). Needs Linux and
# GNU time (/usr/bin/time). Not run in CI: it generates big inputs.
#
#   scripts/bench-scale.sh                              # default sizes, about fifteen minutes
#   SCALE_SERVERS="1000 10000" SCALE_RECORDS="20000 200000" scripts/bench-scale.sh
#   SCALE_PAD_MIB="4 40" scripts/bench-scale.sh         # size of ~/.claude.json around 100 servers
#   SCALE_MESSAGE_MIB="8 64" scripts/bench-scale.sh     # one message through a bare relay and the proxy
#   SCALE_PROXIES=0 scripts/bench-scale.sh              # skip the many-proxies benchmark
#   SCALE_ONLY="records message" scripts/bench-scale.sh # only these parts (servers, records, message, proxies)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
read -r s1 s2 <<<"${SCALE_SERVERS:-1000 10000}"
read -r r1 r2 <<<"${SCALE_RECORDS:-100000 1000000}"
read -r p1 p2 <<<"${SCALE_PAD_MIB:-4 40}"
read -r m1 m2 <<<"${SCALE_MESSAGE_MIB:-8 64}"

if [[ ! -x /usr/bin/time ]]; then
	echo "bench-scale.sh: error: /usr/bin/time is missing" >&2
	echo "hint: apt-get install time" >&2
	exit 1
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/aim-scale-XXXXXX")"
trap 'rm -rf "$work"' EXIT
echo "building aim-mcp, scalegen and benchrelay..." >&2
# Static, as the README builds aim-mcp for real use.
(cd "$root" && export CGO_ENABLED=0 && go build -o "$work/aim-mcp" ./cmd/aim-mcp && go build -o "$work/scalegen" ./e2e/scalegen &&
	go build -o "$work/benchrelay" ./e2e/benchrelay)
aim="$work/aim-mcp"
# The Go caches stay the user's (go test runs below), the rest is empty.
export GOPATH="$(go env GOPATH)" GOCACHE="$(go env GOCACHE)" GOMODCACHE="$(go env GOMODCACHE)"
# An empty user config, so a personal policy or AIM cannot skew the figures.
export HOME="$work/user" XDG_CONFIG_HOME="$work/user/.config" XDG_DATA_HOME="$work/user/.local/share"
export AIM_MCP_CONFIG= AIM_URL= AIM_PRIVATE_KEY=
mkdir -p "$HOME"

# part NAME: whether SCALE_ONLY (empty: every part) names this part.
part() { [[ -z "${SCALE_ONLY:-}" || " $SCALE_ONLY " == *" $1 "* ]]; }

# measure NAME CMD...: runs CMD, output discarded, and sets wall, cpu, rss.
measure() {
	local name="$1"
	shift
	if ! /usr/bin/time -f "%e %U %S %M" -o "$work/time" "$@" >/dev/null 2>"$work/stderr"; then
		echo "bench-scale.sh: $name failed:" >&2
		cat "$work/stderr" >&2
		exit 1
	fi
	read -r wall user sys rss <"$work/time"
	cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
	rss=$(awk -v k="$rss" 'BEGIN { printf "%.0f", k / 1024 }')
}

printf '%-34s %10s %8s %8s %10s %6s\n' "command" "size" "wall s" "cpu s" "peak MiB" "k"
# row NAME N1 N2 CMD1 -- CMD2: measures both and prints two lines.
row() {
	local name="$1" n1="$2" n2="$3" label1="$4" label2="$5"
	shift 5
	local -a c1=() c2=()
	while [[ "$1" != "--" ]]; do c1+=("$1"); shift; done
	shift
	c2=("$@")
	measure "$name-1" "${c1[@]}"
	local cpu1="$cpu"
	printf '%-34s %10s %8s %8s %10s %6s\n' "$name" "$label1" "$wall" "$cpu" "$rss" ""
	measure "$name-2" "${c2[@]}"
	local k
	k=$(awk -v a="$cpu1" -v b="$cpu" -v n1="$n1" -v n2="$n2" 'BEGIN { if (a < 0.01) a = 0.01; printf "%.2f", log(b / a) / log(n2 / n1) }')
	printf '%-34s %10s %8s %8s %10s %6s\n' "" "$label2" "$wall" "$cpu" "$rss" "$k"
}

if part servers; then
	# install and uninstall: servers in one pretty-printed file. Scanning is
	# off (--scan-timeout 0): it starts the servers, and this measures the
	# config editing.
	for n in "$s1" "$s2"; do
		"$work/scalegen" config --servers "$n" >"$work/servers-$n.json"
		cp "$work/servers-$n.json" "$work/orig-$n.json"
	done
	row "install (servers in one file)" "$s1" "$s2" "$s1 srv" "$s2 srv" \
		"$aim" install --scan-timeout 0 --config "$work/servers-$s1.json" --home "$work/hs1" -- \
		"$aim" install --scan-timeout 0 --config "$work/servers-$s2.json" --home "$work/hs2"
	# list: every server of the file registered, scored and shown.
	row "list (servers registered)" "$s1" "$s2" "$s1 srv" "$s2 srv" \
		"$aim" list --config "$work/servers-$s1.json" --home "$work/hs1" -- \
		"$aim" list --config "$work/servers-$s2.json" --home "$work/hs2"
	# An edit of the user's since the install: unwrapped entry by entry.
	for n in "$s1" "$s2"; do sed -i 's/"srv0"/"srv0-renamed"/' "$work/servers-$n.json"; done
	row "uninstall (edited since)" "$s1" "$s2" "$s1 srv" "$s2 srv" \
		"$aim" uninstall --config "$work/servers-$s1.json" --home "$work/hs1" -- \
		"$aim" uninstall --config "$work/servers-$s2.json" --home "$work/hs2"

	# install: 100 servers in a big ~/.claude.json.
	for m in "$p1" "$p2"; do "$work/scalegen" config --servers 100 --pad-mib "$m" >"$work/claude-$m.json"; done
	size1=$(( $(stat -c %s "$work/claude-$p1.json") >> 20 )) size2=$(( $(stat -c %s "$work/claude-$p2.json") >> 20 ))
	row "install (100 srv, ~/.claude.json)" "$size1" "$size2" "${size1} MiB" "${size2} MiB" \
		"$aim" install --scan-timeout 0 --client claude-code --config "$work/claude-$p1.json" --home "$work/hc1" -- \
		"$aim" install --scan-timeout 0 --client claude-code --config "$work/claude-$p2.json" --home "$work/hc2"

fi

if part records; then
	# list reads the servers of this file (written by the servers part too).
	[[ -f "$work/orig-$s1.json" ]] || "$work/scalegen" config --servers "$s1" >"$work/orig-$s1.json"
	# The audit trail.
	echo "generating $r1 and $r2 records..." >&2
	for n in "$r1" "$r2"; do mkdir -p "$work/hr$n" && "$work/scalegen" records --home "$work/hr$n" --n "$n"; done
	row "audit verify (every record)" "$r1" "$r2" "$r1 rec" "$r2 rec" \
		"$aim" audit verify --home "$work/hr$r1" -- "$aim" audit verify --home "$work/hr$r2"
	rate=$(awk -v n="$r2" -v w="$wall" 'BEGIN { printf "%.0f", n / (w > 0 ? w : 0.01) }')
	echo "  full verification: $rate records/s (wall, $(nproc) cores)"
	# The same records as a proxy under load leaves them: one signature a batch.
	echo "generating $r1 and $r2 records in batches of 24..." >&2
	for n in "$r1" "$r2"; do mkdir -p "$work/hb$n" && "$work/scalegen" records --home "$work/hb$n" --n "$n" --batch 24; done
	row "audit verify (batches of 24)" "$r1" "$r2" "$r1 rec" "$r2 rec" \
		"$aim" audit verify --home "$work/hb$r1" -- "$aim" audit verify --home "$work/hb$r2"
	rate=$(awk -v n="$r2" -v w="$wall" 'BEGIN { printf "%.0f", n / (w > 0 ? w : 0.01) }')
	echo "  full verification, batched: $rate records/s (wall, $(nproc) cores)"
	for n in "$r1" "$r2"; do "$work/scalegen" records --home "$work/hr$n" --n 100; done
	row "audit verify --since-checkpoint" "$r1" "$r2" "$r1+100" "$r2+100" \
		"$aim" audit verify --since-checkpoint --home "$work/hr$r1" -- "$aim" audit verify --since-checkpoint --home "$work/hr$r2"
	# The first list after an upgrade (or after the kept counts were refused)
	# counts the trust window's records once; later ones read what is new.
	row "list, first (counts the window)" "$r1" "$r2" "$r1 rec" "$r2 rec" \
		"$aim" list --config "$work/orig-$s1.json" --home "$work/hr$r1" -- "$aim" list --config "$work/orig-$s1.json" --home "$work/hr$r2"
	for n in "$r1" "$r2"; do "$work/scalegen" records --home "$work/hr$n" --n 100; done
	row "list (checkpoint + 100 new)" "$r1" "$r2" "$r1 rec" "$r2 rec" \
		"$aim" list --config "$work/orig-$s1.json" --home "$work/hr$r1" -- "$aim" list --config "$work/orig-$s1.json" --home "$work/hr$r2"
	for n in "$r1" "$r2"; do "$work/scalegen" records --home "$work/hr$n" --n 100; done
	row "trust SERVER (100 new)" "$r1" "$r2" "$r1 rec" "$r2 rec" \
		"$aim" trust everything --home "$work/hr$r1" -- "$aim" trust everything --home "$work/hr$r2"
	row "logs" "$r1" "$r2" "$r1 rec" "$r2 rec" \
		"$aim" logs --home "$work/hr$r1" -- "$aim" logs --home "$work/hr$r2"
	row "logs --json" "$r1" "$r2" "$r1 rec" "$r2 rec" \
		"$aim" logs --json --home "$work/hr$r1" -- "$aim" logs --json --home "$work/hr$r2"
	for f in json csv pdf; do
		row "report --format $f" "$r1" "$r2" "$r1 rec" "$r2 rec" \
			"$aim" report --format "$f" --home "$work/hr$r1" -o "$work/report.$f" -- \
			"$aim" report --format "$f" --home "$work/hr$r2" -o "$work/report.$f"
	done

	# The dashboard over the longer trail: its activity page's records and a
	# report downloaded as CSV, then its peak resident memory.
	"$aim" dashboard --addr 127.0.0.1:0 --no-open --home "$work/hr$r2" >"$work/dashboard" 2>&1 &
	dash=$!
	for _ in $(seq 50); do grep -q 'token=' "$work/dashboard" && break; sleep 0.1; done
	link=$(grep -o 'http://127[^ ]*' "$work/dashboard" | head -1)
	base=${link%%\?*}
	curl -s -c "$work/cookies" -o /dev/null "$link"
	echo
	echo "dashboard over $r2 records:"
	for p in /api/records "/api/report?type=soc2&format=csv"; do
		curl -s -b "$work/cookies" -o /dev/null -w "  GET $p: %{http_code}, %{time_total} s, %{size_download} bytes\n" "${base%/}$p"
	done
	echo "  peak resident: $(awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$dash/status")"
	kill "$dash"

fi

if part message; then
	# One big message each way (a tools/call echo and its result, both the
	# message's size) through a bare line relay and through the proxy: the
	# fastest of three round trips, and each one's peak resident memory.
	echo
	printf '%-10s %10s %10s %7s %12s %12s %10s\n' "message" "relay ms" "proxy ms" "ratio" "relay MiB" "proxy MiB" "proxy/msg"
	for m in "$m1" "$m2"; do
		read -r rms rkib < <("$work/scalegen" message --mib "$m" -- "$work/benchrelay" -- "$work/scalegen" echo 2>>"$work/stderr")
		read -r pms pkib < <("$work/scalegen" message --mib "$m" -- "$aim" proxy --server echo --home "$work/hm" -- "$work/scalegen" echo 2>>"$work/stderr")
		awk -v m="$m" -v rms="$rms" -v pms="$pms" -v rk="$rkib" -v pk="$pkib" 'BEGIN {
			printf "%-10s %10.0f %10.0f %7.2f %12.0f %12.0f %10.2f\n", m " MiB", rms, pms, pms / rms, rk / 1024, pk / 1024, pk / 1024 / m }'
	done

fi

# Many proxies on one home, each before its own echo server, driven back
# to back: records/s the home takes in and the p99 of a round trip.
if part proxies && [[ "${SCALE_PROXIES:-1}" != 0 ]]; then
		echo
		echo "proxies on one home (go test -bench BenchmarkProxiesOneHome):"
		(cd "$root" && go test -run '^$' -bench BenchmarkProxiesOneHome -benchtime 6000x ./mcpproxy) |
			awk '/^BenchmarkProxiesOneHome/ { print "  " $0 }'
fi
