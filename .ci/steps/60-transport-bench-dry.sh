#!/usr/bin/env bash
# Transport benchmark smoke run (BenchmarkDotNet --job dry: one invocation each, no timing claims): proves the
# loopback-link benchmarks run and that forwarding allocates nothing per IPI (the Allocated column must be "-" or 0 B).
set -euo pipefail
cd "$(dirname "$0")/../.."
artifacts=$(mktemp -d)
trap 'rm -rf "$artifacts"' EXIT
cd bench/IpiEngine.Benchmarks
out=$(timeout 300 dotnet bin/Release/net10.0/IpiEngine.Benchmarks.dll --filter '*LoopbackLinkBenchmarks*' --job dry --memory \
  --artifacts "$artifacts" 2>&1) || { echo "$out" | tail -40; exit 1; }
rows=$(echo "$out" | grep -E '^\| ForwardOverLoopback' || true)
echo "$out" | grep -E '^\||// latency' || true
[ "$(echo "$rows" | grep -c .)" -eq 2 ] || { echo "expected 2 ForwardOverLoopback rows"; exit 1; }
# Last column is Allocated; per forwarded IPI it must be nothing.
if echo "$rows" | awk -F'|' '{ a=$(NF-1); gsub(/ /, "", a); if (a != "-" && a != "0B") bad=1 } END { exit !bad }'; then
  echo "forwarding allocates per IPI"; exit 1
fi
