#!/usr/bin/env bash
# Threads that never hurt (issue 18): the main job's training and benchmark A's forward/backward at 1 and 2 intra-op
# threads, on the quiet machine and with a competing busy loop (one core kept busy by another process). Per load and
# repetition, interleaved (so a change of machine load hits every variant alike), each in a fresh process:
#   1         torch threads 1
#   2         torch threads 2, the engine's per-run thread policy deciding (KernelPolicy.ChooseThreads)
#   2-forced  torch threads 2 and SHIP_INTRAOP_THREADS=2: every run at 2 threads (the behaviour before the policy)
# Figures: training s/epoch (the process's median over epochs), A forward and backward (the process's median call);
# medians over RUNS processes (default 5) and the ratios to the 1-thread median; requirement: 2 / 1 <= 1.05.
# Writes bench/results/threads-cpu.log (raw output of every run) and bench/results/threads-cpu.csv (medians, ratios).
#   bash bench/threads.sh                                  # full setting (about 15 minutes on the quiet 2-core machine)
#   RUNS=1 EPOCHS=3 NS=32,512 OUT=$(mktemp -d) bash bench/threads.sh   # end-to-end check (about 3 minutes); OUT keeps
#                                                         # the committed quiet-machine results in bench/results intact
# NS may list several sizes (NS=128,512). Training: `Ship.Bench train` without the peer (the network of bench/train.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
NS=${NS:-512}
EPOCHS=${EPOCHS:-30}
LOADS=${LOADS:-quiet busy}
VARIANTS=${VARIANTS:-1 2 2-forced}
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
log="$OUT/threads-cpu.log"
csv="$OUT/threads-cpu.csv"
dotnet build bench/Ship.Bench -c Release -v q -nologo >/dev/null
bench=(dotnet bench/Ship.Bench/bin/Release/net10.0/Ship.Bench.dll)
tmp=$(mktemp -d)
busy_pid=""
stop_busy() { if [ -n "$busy_pid" ]; then kill "$busy_pid" 2>/dev/null || true; wait "$busy_pid" 2>/dev/null || true; busy_pid=""; fi; }
trap 'stop_busy; rm -rf "$tmp"' EXIT
: > "$log"
started=$(date +%s)
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) nproc=$(nproc) runs=$RUNS epochs=$EPOCHS ns=$NS loads='$LOADS' variants='$VARIANTS' loadavg=$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$log"
echo "workload,load,variant,run,seconds" > "$tmp/raw.csv"
for load in $LOADS; do
  if [ "$load" = busy ]; then bash -c 'while :; do :; done' & busy_pid=$!; fi
  for run in $(seq 1 "$RUNS"); do
    for variant in $VARIANTS; do
      threads=${variant%%-*}
      env=(env -u SHIP_INTRAOP_THREADS)
      [ "$variant" = 2-forced ] && env=(env SHIP_INTRAOP_THREADS=2)
      # Main job's training network (bench "train" mode without the peer, a fresh child process): median s/epoch,
      # training plus the per-epoch test, as in docs/benchmarks.md "Training".
      out=$("${env[@]}" "${bench[@]}" train --thread-counts "$threads" --epochs "$EPOCHS" --data "$tmp/data" --out "$tmp/train" 2>&1 || true)
      echo "## training load=$load variant=$variant run=$run loadavg=$(cut -d' ' -f1 /proc/loadavg)" >> "$log"; echo "$out" >> "$log"
      s=$(echo "$out" | grep -E '^RESULT Ship.NET' | head -n1 | sed -E 's/.*train\+eval\) ([0-9.]+).*/\1/' || true)
      echo "training,$load,$variant,$run,${s:-nan}" >> "$tmp/raw.csv"
      # Benchmark A: the process's median forward and backward (>= 5 timed calls after a warm-up) at every N.
      out=$("${env[@]}" "${bench[@]}" A --ns "$NS" --threads "$threads" --min-time 2 --out "$tmp/bench" 2>&1 || true)
      echo "## benchmark-A load=$load variant=$variant run=$run loadavg=$(cut -d' ' -f1 /proc/loadavg)" >> "$log"; echo "$out" >> "$log"
      for n in ${NS//,/ }; do
        line=$(echo "$out" | grep -E "^Ship.NET,$n," | head -n1 || true)
        f=$(echo "$line" | cut -d, -f3); b=$(echo "$line" | cut -d, -f4)
        echo "A-forward-N$n,$load,$variant,$run,${f:-nan}" >> "$tmp/raw.csv"
        echo "A-backward-N$n,$load,$variant,$run,${b:-nan}" >> "$tmp/raw.csv"
      done
    done
  done
  stop_busy
done
cat "$tmp/raw.csv" >> "$log"
/usr/bin/env python3 - "$tmp/raw.csv" "$csv" <<'PY'
import csv, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))
groups = {}
for r in rows:
    try: v = float(r["seconds"])
    except ValueError: continue
    if v != v: continue
    groups.setdefault((r["workload"], r["load"], r["variant"]), []).append(v)
head = "workload,load,median_1_thread_s,median_2_threads_s,ratio_2_over_1,meets_1.05,median_2_forced_s,ratio_2_forced_over_1,runs"
print(head)
with open(sys.argv[2], "w") as f:
    f.write(head + "\n")
    for (w, l) in sorted({(k[0], k[1]) for k in groups}):
        one, two, forced = (groups.get((w, l, v), []) for v in ("1", "2", "2-forced"))
        if not one: continue
        m1 = statistics.median(one)
        m2 = statistics.median(two) if two else float("nan")
        mf = statistics.median(forced) if forced else float("nan")
        meets = "yes" if two and m2 <= 1.05 * m1 else ("NO" if two else "")
        line = f"{w},{l},{m1:.6f},{m2:.6f},{m2 / m1:.3f},{meets},{mf:.6f},{mf / m1:.3f},{min(len(one), len(two) or len(one))}"
        print(line); f.write(line + "\n")
PY
echo "wrote $csv and $log in $(( $(date +%s) - started )) s"
