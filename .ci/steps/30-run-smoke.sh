#!/usr/bin/env bash
# The main job as a user runs it, out of process: a short generated run with JSON on stdout, a bundled trace in
# per-stage mode against its reference, and Ctrl-C (SIGINT) mid-run, which must drain, print the summary and exit 0.
# Bounded: about 5 s of runs, each under a hard timeout.
set -euo pipefail
cd "$(dirname "$0")/../.."
ipi=(dotnet src/IpiEngine.Cli/bin/Release/net10.0/ipi.dll)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

timeout 60 "${ipi[@]}" run --duration 0.5s --warmup 0.2s --json - > "$out/run.json" 2> "$out/run.txt"
grep -q '"conservationHeld": true' "$out/run.json"
grep -q 'conservation' "$out/run.txt"

timeout 60 "${ipi[@]}" run --trace x2apic-cluster-smp4 --threading per-stage > "$out/trace.txt"
grep -q 'equals sequential replay .* yes' "$out/trace.txt"

# Ctrl-C once the run shows progress (so the handler is surely installed): the 60 s run must end at once, cleanly.
# Job control on, so the background job does not start with SIGINT ignored, as a non-interactive shell's would.
set -m
"${ipi[@]}" run --duration 60s --plain > "$out/interrupted.txt" 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  grep -q 'warm-up\|measuring' "$out/interrupted.txt" && break
  sleep 0.1
done
kill -INT "$pid"
rc=0
timeout 30 tail --pid="$pid" -f /dev/null || { kill -KILL "$pid"; echo "ipi run did not stop after SIGINT"; exit 1; }
wait "$pid" || rc=$?
if [ "$rc" -ne 0 ]; then
  echo "ipi run exited $rc after SIGINT"; cat "$out/interrupted.txt"; exit 1
fi
grep -q '(interrupted)' "$out/interrupted.txt"
grep -q 'conservation .* held' "$out/interrupted.txt"
echo "ipi run smoke: generated run, trace replay and Ctrl-C all fine"
