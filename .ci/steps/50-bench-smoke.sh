#!/usr/bin/env bash
# Benchmark smoke run: every benchmark of the suite runs once with the `ci` profile (a few seconds each,
# never a timed gate) through `ipi perf record`, then `ipi perf check` fails the step if a benchmark
# errored or a benchmark tagged ZeroAlloc allocated bytes. Expects .ci/run's Release build of the solution.
set -euo pipefail
cd "$(dirname "$0")/../.."

ipi=src/IpiEngine.Cli/bin/Release/net10.0/ipi.dll
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

start=$(date +%s)
# Bounded: the whole suite takes a few minutes with the ci profile; 20 minutes means something hangs.
if ! timeout 1200 dotnet "$ipi" perf record --profile ci --no-build --results "$out/results" >"$out/record.out" 2>"$out/record.log"; then
  echo "benchmark smoke run failed; last lines of its log:"
  tail -n 60 "$out/record.log"
  cat "$out/record.out"
  # A record is still written when some benchmarks failed: let the check name them.
  dotnet "$ipi" perf check "$out/results/runs" || true
  exit 1
fi
cat "$out/record.out"
grep -E '^\|' "$out/record.log" | grep -vE '^\|-' | head -n 200 || true
dotnet "$ipi" perf check "$out/results/runs"
echo "benchmark smoke run took $(( $(date +%s) - start )) s"
