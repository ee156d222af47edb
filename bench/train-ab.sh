#!/usr/bin/env bash
# Old vs new training, interleaved in one invocation (docs/benchmarks.md, Training): builds BASE (default: main) in a
# temporary clone and the working tree in Release, writes the training data folder once, then trains the main job's
# network ROUNDS times per side (Ship.Bench train-run: a fresh process each, the order old/new alternating every round,
# so a change of machine load hits both sides alike) and prints each run's s/epoch (median over epochs, training + test)
# and memory growth over the idle baseline, then the medians and the ratio old/new. Raw output:
# bench/results/train-ab.log (LOG=path writes elsewhere, e.g. for a check run that must not overwrite the committed
# quiet-machine log). Settings: BASE, ROUNDS (5), EPOCHS (30), THREADS (1), LOG. About 4 minutes at the defaults on
# the quiet 2-core machine (2-3 of them building both sides).
set -euo pipefail
cd "$(dirname "$0")/.."
base=${BASE:-main}; rounds=${ROUNDS:-5}; epochs=${EPOCHS:-30}; threads=${THREADS:-1}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
log=${LOG:-bench/results/train-ab.log}
mkdir -p "$(dirname "$log")"
{
  echo "# train-ab: old $(git rev-parse --short "$base") ($base) vs new $(git rev-parse --short HEAD)$(git diff --quiet HEAD -- . ':!bench/results' || echo ' + uncommitted changes'); rounds $rounds, epochs $epochs, threads $threads; $(date -u '+%F %T') UTC"
  git clone -q --shared . "$tmp/old" && git -C "$tmp/old" checkout -q "$(git rev-parse "$base")"
  dotnet build "$tmp/old/bench/Ship.Bench" -c Release -v q -nologo > "$tmp/build-old.log" || { cat "$tmp/build-old.log"; exit 1; }
  dotnet build bench/Ship.Bench -c Release -v q -nologo > "$tmp/build-new.log" || { cat "$tmp/build-new.log"; exit 1; }
  old=$tmp/old/bench/Ship.Bench/bin/Release/net10.0/Ship.Bench.dll
  new=bench/Ship.Bench/bin/Release/net10.0/Ship.Bench.dll
  dotnet "$new" train --epochs "$epochs" --thread-counts "$threads" --data "$tmp/data" --out "$tmp/out" > "$tmp/prepare.log"
  for r in $(seq 1 "$rounds"); do
    if [ $((r % 2)) = 1 ]; then sides="old new"; else sides="new old"; fi
    for side in $sides; do
      if [ "$side" = old ]; then app=$old; else app=$new; fi
      dotnet "$app" train-run --data "$tmp/data" --threads "$threads" --epochs "$epochs" --json "$tmp/$side-$r.json" \
        | grep '^RESULT' | sed "s/^/$side round $r: /"
    done
  done
  # Same computation? Per-epoch mean losses and test accuracies of the first round, old against new.
  python3 - "$tmp/old-1.json" "$tmp/new-1.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
la, lb = a["mean_loss"], b["mean_loss"]
rel = max(abs(x - y) / max(abs(x), 1e-30) for x, y in zip(la, lb))
same_acc = a["test_accuracy"] == b["test_accuracy"]
print(f"# same computation: per-epoch mean loss max rel. diff old/new {rel:.3g} ({'bit-identical' if la == lb else 'differs'}); "
      f"test accuracies {'identical' if same_acc else 'differ'} (final {100 * a['test_accuracy'][-1]:.2f} % / {100 * b['test_accuracy'][-1]:.2f} %)")
PY
} 2>&1 | tee "$log"
# Medians per side: s/epoch is the field after "train+eval)", growth = peak RSS - idle.
awk '/ round [0-9]+: RESULT/ {
  side=$1; for (i=1;i<=NF;i++) { if ($i=="train+eval)") s=$(i+1); if ($i=="peak" && $(i+1)=="RSS") p=$(i+2); if ($i=="idle") b=$(i+1) }
  n[side]++; S[side, n[side]]=s; G[side, n[side]]=p-b }
function med(a, side, k,   i, j, t, v) { for (i=1;i<=k;i++) v[i]=a[side, i]; for (i=1;i<=k;i++) for (j=i+1;j<=k;j++) if (v[j]<v[i]) { t=v[i]; v[i]=v[j]; v[j]=t }
  return k%2 ? v[(k+1)/2] : (v[k/2]+v[k/2+1])/2 }
END { so=med(S,"old",n["old"]); sn=med(S,"new",n["new"]); go=med(G,"old",n["old"]); gn=med(G,"new",n["new"]);
  printf "MEDIAN old s/epoch %.4f growth %.0f MiB | new s/epoch %.4f growth %.0f MiB | old/new s/epoch %.2fx\n", so, go, sn, gn, so/sn }' "$log" | tee -a "$log"
