#!/usr/bin/env bash
# Training comparison with SHIP (docs/benchmarks.md, "Training"): builds the benchmark in Release, then ONE invocation
# writes the shared data folder, trains Ship.NET (fresh child process) and SHIP (../shared/peers/ship_train_digits.py)
# at each thread count on bit-identical spikes and initial weights, checks that both computed the same thing, and prints
# s/epoch, total, accuracy, peak memory and growth over the idle baseline. Raw output: bench/results/bench-train-cpu.log
# (quiet) and bench-train-cpu-loaded.log (with one competing busy-loop process). Options after the script name go to
# the program, e.g. `bench/train.sh --epochs 3` for a short check. Full setting: about 2-3 minutes on the quiet 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."
dotnet build bench/Ship.Bench -c Release -v q -nologo
app=bench/Ship.Bench/bin/Release/net10.0/Ship.Bench.dll
mkdir -p bench/results
dotnet "$app" train --thread-counts 1,2 --peer --out bench/results "$@" 2>&1 | tee bench/results/bench-train-cpu.log
if [ "${SHIP_TRAIN_LOADED:-1}" = 1 ]; then
  dotnet "$app" train --thread-counts 1,2 --peer --busy 1 --out bench/results "$@" 2>&1 | tee bench/results/bench-train-cpu-loaded.log
fi
