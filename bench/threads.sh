#!/usr/bin/env bash
# Threads that never hurt (issue 18): the main job's training and benchmark A's forward/backward at 1 and 2 intra-op
# threads, on the quiet machine and with a competing busy loop (one core kept busy by another process); RUNS fresh
# processes per setting (default 5), medians, and the 2-thread / 1-thread ratio (requirement: <= 1.05).
# Writes bench/results/threads-cpu.log (raw output of every run) and bench/results/threads-cpu.csv (medians).
#   bash bench/threads.sh                          # full setting (roughly 15 minutes on the quiet 2-core machine)
#   RUNS=1 EPOCHS=2 NS=128 bash bench/threads.sh   # end-to-end check in a few minutes
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-5}
NS=${NS:-512}
EPOCHS=${EPOCHS:-30}
OUT=${OUT:-bench/results}
mkdir -p "$OUT"
log="$OUT/threads-cpu.log"
csv="$OUT/threads-cpu.csv"
dotnet build Ship.Cli -c Release -v q -nologo >/dev/null
dotnet build bench/Ship.Bench -c Release -v q -nologo >/dev/null
cli=(dotnet Ship.Cli/bin/Release/net10.0/ship.dll)
bench=(dotnet bench/Ship.Bench/bin/Release/net10.0/Ship.Bench.dll)
tmp=$(mktemp -d)
busy_pid=""
stop_busy() { if [ -n "$busy_pid" ]; then kill "$busy_pid" 2>/dev/null || true; wait "$busy_pid" 2>/dev/null || true; busy_pid=""; fi; }
trap 'stop_busy; rm -rf "$tmp"' EXIT
: > "$log"
echo "# $(date -u +%FT%TZ) $(git rev-parse --short HEAD) nproc=$(nproc) runs=$RUNS epochs=$EPOCHS ns=$NS" | tee -a "$log"
echo "workload,load,threads,run,seconds" > "$tmp/raw.csv"
for load in quiet busy; do
  if [ "$load" = busy ]; then bash -c 'while :; do :; done' & busy_pid=$!; fi
  for run in $(seq 1 "$RUNS"); do
    for threads in 1 2; do   # interleaved, so a change of machine load hits both thread counts alike
      # Main job: seconds of training of the plain network (the CLI's own clock around its training loop).
      out=$("${cli[@]}" --epochs "$EPOCHS" --threads "$threads" --levels 4 --times 1 --seeds 1 --out "$tmp/cli" 2>&1 || true)
      echo "## training load=$load threads=$threads run=$run" >> "$log"; echo "$out" >> "$log"
      s=$(echo "$out" | grep -oE 'after [0-9.]+ s of training' | head -n1 | grep -oE '[0-9.]+' || echo nan)
      echo "training,$load,$threads,$run,$s" >> "$tmp/raw.csv"
      # Benchmark A: median forward and backward of one process (>= 5 timed calls after a warm-up).
      out=$("${bench[@]}" A --ns "$NS" --threads "$threads" --min-time 2 --out "$tmp/bench" 2>&1 || true)
      echo "## benchmark-A load=$load threads=$threads run=$run" >> "$log"; echo "$out" >> "$log"
      line=$(echo "$out" | grep -E '^Ship.NET,' | head -n1)
      echo "A-forward-N$NS,$load,$threads,$run,$(echo "$line" | cut -d, -f3)" >> "$tmp/raw.csv"
      echo "A-backward-N$NS,$load,$threads,$run,$(echo "$line" | cut -d, -f4)" >> "$tmp/raw.csv"
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
    groups.setdefault((r["workload"], r["load"], r["threads"]), []).append(v)
with open(sys.argv[2], "w") as f:
    f.write("workload,load,median_1_thread_s,median_2_threads_s,ratio_2_over_1,runs,meets_1.05\n")
    for (w, l) in sorted({(k[0], k[1]) for k in groups}):
        a, b = groups.get((w, l, "1"), []), groups.get((w, l, "2"), [])
        if not a or not b: continue
        m1, m2 = statistics.median(a), statistics.median(b)
        line = f"{w},{l},{m1:.6f},{m2:.6f},{m2 / m1:.3f},{min(len(a), len(b))},{'yes' if m2 <= 1.05 * m1 else 'NO'}"
        print(line); f.write(line + "\n")
PY
echo "wrote $csv and $log"
