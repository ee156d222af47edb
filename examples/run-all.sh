#!/usr/bin/env bash
# Runs every example study and tutorial (file-based programs, `dotnet run file.cs`) in its short setting, each into
# its own folder of a temporary directory, and checks that every file it should write exists and is not empty.
# Exit status: 0 when all pass, 1 otherwise (every program is still tried). Keep the outputs with KEEP_OUTPUTS=1.
#   examples/run-all.sh            # from the repository root (or anywhere: it finds the root itself)
set -uo pipefail
cd "$(dirname "$0")/.."
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

out=$(mktemp -d "${TMPDIR:-/tmp}/ship-examples.XXXXXX")
if [ "${KEEP_OUTPUTS:-0}" != "1" ]; then trap 'rm -rf "$out"' EXIT; fi
failures=()

figures() { for f in "$@"; do printf '%s.png %s.svg %s.csv ' "$f" "$f" "$f"; done; }

# run <program without .cs, relative to examples/> <expected files...>
run() {
  local program=$1; shift
  local dir="$out/${program//\//-}"
  mkdir -p "$dir"
  echo "=== $program"
  local start=$SECONDS
  if ! dotnet run "examples/$program.cs" -- --quick --out "$dir" > "$dir/stdout.txt" 2>&1; then
    tail -n 30 "$dir/stdout.txt"
    failures+=("$program: exit status non-zero")
    return
  fi
  tail -n 3 "$dir/stdout.txt"
  local missing=()
  for f in "$@"; do [ -s "$dir/$f" ] || missing+=("$f"); done
  if [ ${#missing[@]} -gt 0 ]; then failures+=("$program: missing or empty: ${missing[*]}"); fi
  echo "    $(( SECONDS - start )) s"
}

run variable-dt summary.txt provenance.json membrane-long.csv $(figures membrane membrane-vs-reference input-charge dt raster)
run device-characterization summary.txt provenance.json $(figures pulse-response drift weight-drift)
run crossbar-ir-drop summary.txt provenance.json $(figures column-current-vs-activity ir-drop-vs-activity approximation-error)
run ship-network-example summary.txt provenance.json rate-vs-tau.csv $(figures membrane membrane-tau-10ms membrane-tau-100ms raster input-raster firing-rate)
run reservoir summary.txt provenance.json $(figures recurrent-weights connection-probability input-raster excitatory-raster inhibitory-raster training-curve accuracy accuracy-per-seed)
run training summary.txt provenance.json $(figures training-curve confusion input-raster hidden-raster output-raster)
run recurrent-lif summary.txt provenance.json $(figures training-curve accuracy-per-epoch accuracy-vs-levels accuracy-vs-drift input-raster hidden-raster membrane-hidden membrane-readout)
run izhikevich-network summary.txt provenance.json $(figures training-curve accuracy input-raster l0-raster l1-raster membrane-l0 membrane-readout)
run nir-conformance summary.txt provenance.json lif.nir $(figures membrane deviation)
# STDP features on the digits: also exits non-zero below 80 % test accuracy.
run stdp-conv-digits summary.txt provenance.json $(figures accuracy kernels)
run tutorials/01-build
run tutorials/02-simulate provenance.json membrane-long.csv $(figures raster membrane)
run tutorials/03-train provenance.json $(figures training-curve)
run tutorials/04-model provenance.json $(figures resources membrane)

if [ ${#failures[@]} -gt 0 ]; then
  echo "examples: ${#failures[@]} failed"
  printf '  %s\n' "${failures[@]}"
  exit 1
fi
echo "examples: all passed (outputs in $out$([ "${KEEP_OUTPUTS:-0}" = "1" ] || echo ', removed'))"
