#!/usr/bin/env bash
# scan-targets.sh: the poisoning scanner against its targets, on the labelled
# set in poison/testdata/labelled (sources in SOURCES.md there).
#
# Prints recall overall and per attack class, findings on real tools (all,
# and those whose text holds trigger words), hard findings on real tools,
# and the speed: a first-seen tools/list of 50 real tools, the prefilter
# over a megabyte of real results, and the whole scan of those results.
#
# `go test ./...` (CI) runs the same labelled set and fails when a target is
# missed; this script adds the table and the benchmarks, on demand.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "== labelled set"
go test ./poison -run '^TestTargets$' -count=1 -v -targets | grep -v -E '^(=== RUN|--- PASS|PASS|ok )'

echo
echo "== speed (same run; ns/op of a 50-tool first-seen tools/list, MB/s of the results prefilter and scan)"
go test ./poison -run '^$' -bench 'ToolsFirstSeen|ResultPrefilter|ResultScan' -benchtime "${BENCHTIME:-2s}" -count=1 |
	grep -E '^Benchmark'
