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
if ! dotnet "$ipi" perf check "$out/results/runs" >"$out/check.out" 2>&1; then
  cat "$out/check.out"
  # A cross-thread rig's one-off allocation somewhere in the process (a thread's first park, the runtime's own work)
  # now and then lands in a few-iteration run's per-operation figure (6 B/op once for PingPongBenchmarks per-stage);
  # an allocation per operation shows again. So when every problem is a ZeroAlloc allocation, those benchmarks run
  # once more, and only a second allocation fails the step. Errors are never retried.
  problems=$(sed -nE 's/^check: ([0-9]+) problem\(s\).*/\1/p' "$out/check.out")
  allocations=$(grep -c 'is tagged ZeroAlloc but allocated' "$out/check.out" || true)
  if [ -z "$problems" ] || [ "$problems" != "$allocations" ]; then
    exit 1
  fi
  mapfile -t filters < <(sed -nE 's/^[^:]+: ([^ ]+)(\(.*\))? is tagged ZeroAlloc but allocated.*/*\1*/p' "$out/check.out" | sed -E 's/\(.*$/*/' | sort -u)
  echo "retrying the ZeroAlloc benchmark(s) that allocated, once: ${filters[*]}"
  args=()
  for f in "${filters[@]}"; do args+=(--filter "$f"); done
  timeout 600 dotnet "$ipi" perf record --profile ci --no-build --results "$out/retry" "${args[@]}" >"$out/retry.out" 2>"$out/retry.log" || { tail -n 40 "$out/retry.log"; exit 1; }
  dotnet "$ipi" perf check "$out/retry/runs"
fi
echo "benchmark smoke run took $(( $(date +%s) - start )) s"
