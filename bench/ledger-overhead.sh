#!/usr/bin/env bash
# Hardware ledger overhead (issue #14, docs/energy.md), one command: builds the benchmark program in Release and runs
# benchmark A's network (input -> dense -> LIF, batch 10, 500 steps) at N = 512 on the CPU with and without a ledger,
# alternating the two, in three modes. Raw output -> bench/results/ledger-overhead-cpu.log, the table -> .csv.
# Settings through the environment: N (512), THREADS (all cores), MIN_RUNS (9 pairs at least), MIN_TIME (10 s per mode).
# LEDGER_PASSES=1 measures the tensor-pass counting (CountInKernels = false) instead, for comparison.
# Target: overhead < 10 % of a step of benchmark A (the first row). Takes about 1 minute on a quiet machine.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${N:-512}
THREADS=${THREADS:-$(nproc)}
MIN_RUNS=${MIN_RUNS:-9}
MIN_TIME=${MIN_TIME:-10}
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
dotnet build bench/Ship.Bench -c Release -v q -nologo >/dev/null
log="$OUT/ledger-overhead-cpu.log"
{
  echo "# LEDGER_PASSES=${LEDGER_PASSES:-0}"
  echo "# bench ledger --ns $N --threads $THREADS --min-runs $MIN_RUNS --min-time $MIN_TIME, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
  dotnet bench/Ship.Bench/bin/Release/net10.0/Ship.Bench.dll ledger --ns "$N" --threads "$THREADS" --min-runs "$MIN_RUNS" --min-time "$MIN_TIME"
  echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$log"
grep -E '^(#|mode,|")' "$log" | grep -v '^# Ship.NET' > "$OUT/ledger-overhead-cpu.csv"
echo "wrote $log and $OUT/ledger-overhead-cpu.csv"
