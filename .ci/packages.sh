#!/usr/bin/env bash
# Proves Ship.NET works outside its clone, as a person with only the .NET SDK would use it (docs/install.md):
#   1. pack every package into a local folder;
#   2. a project in a temporary folder outside the clone references the packages and runs a small network;
#   3. a project made from the template (`dotnet new ship-study`) builds and runs its study;
#   4. the `ship` tool is installed into a temporary tool path and `ship --quick` runs.
# Each stage prints its time. Everything temporary lives under one folder in /tmp, removed at the end
# (SHIP_KEEP_OUTSIDE=1 keeps it). usage: .ci/packages.sh   (from anywhere)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

work=$(mktemp -d /tmp/ship-outside.XXXXXX)
case "$work" in "$repo"/*) echo "temporary folder $work is inside the clone" >&2; exit 1 ;; esac
cleanup() { if [ "${SHIP_KEEP_OUTSIDE:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi; }
trap cleanup EXIT
feed=$work/feed
start=$(date +%s)
stage_start=$start
stage() { local now; now=$(date +%s); echo "== [$1] $((now - stage_start)) s (packages total $((now - start)) s)"; stage_start=$now; }

version=$(dotnet msbuild "$repo/Ship.Core/Ship.Core.csproj" -getProperty:Version)

# ---- 1. pack --------------------------------------------------------------------------------------------------------
dotnet pack "$repo/build/packages.slnf" -c Release -o "$feed" -v quiet -nologo
ls -l "$feed" | awk 'NR > 1 { printf "  %10d  %s\n", $5, $9 }'
stage "pack into $feed"

# ---- a private NuGet setup: the local folder for Ship.*, the usual source(s) for everything else ---------------------
# The temporary projects get their own NUGET_PACKAGES, so packages of this version restored by an earlier run are never
# picked up; the user's global folder serves the rest (TorchSharp, libtorch...) read-only as a fallback folder, so
# nothing large is extracted again. A Ship.* of this version in that folder would shadow the new one: it goes.
global=$(dotnet nuget locals global-packages --list | sed 's/^global-packages: *//')
for d in "$global"/ship.*/"$version"; do [ -d "$d" ] && { echo "removing stale $d"; rm -rf "$d"; }; done
mapfile -t upstream < <(dotnet nuget list source --format short 2>/dev/null | awk '$1 == "E" { print $2 }')
[ ${#upstream[@]} -gt 0 ] || upstream=(https://api.nuget.org/v3/index.json)
{
  echo '<?xml version="1.0" encoding="utf-8"?>'
  echo '<configuration>'
  echo '  <packageSources>'
  echo '    <clear />'
  echo "    <add key=\"ship-local\" value=\"$feed\" />"
  for i in "${!upstream[@]}"; do echo "    <add key=\"upstream$i\" value=\"${upstream[$i]}\" />"; done
  echo '  </packageSources>'
  echo '  <packageSourceMapping>'
  echo '    <packageSource key="ship-local"><package pattern="Ship.*" /></packageSource>'
  for i in "${!upstream[@]}"; do echo "    <packageSource key=\"upstream$i\"><package pattern=\"*\" /></packageSource>"; done
  echo '  </packageSourceMapping>'
  echo "  <fallbackPackageFolders><add key=\"user\" value=\"$global\" /></fallbackPackageFolders>"
  echo '</configuration>'
} > "$work/NuGet.Config"
export NUGET_PACKAGES=$work/packages

# ---- 2. a project of one's own, referencing the packages ----------------------------------------------------------
mkdir -p "$work/own"
cat > "$work/own/Own.csproj" <<PROJ
<Project Sdk="Microsoft.NET.Sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
  <ItemGroup>
    <PackageReference Include="Ship.Devices" Version="$version" />
  </ItemGroup>
</Project>
PROJ
cat > "$work/own/Program.cs" <<'CS'
using Ship.Core.Networks;
using Ship.Core.Parameters;
using Ship.Devices.Inputs;
using Ship.Devices.Neurons;
using Ship.Devices.Synapses;
using TorchSharp;

// A constant drive of 60 threshold units per second into LIF neurons with tau = 10 ms: u → 0.6 < 1, so none spikes;
// doubling the weight gives u → 1.2 and a regular spike train. Both are checked, so a wrong load or wiring fails.
int Spikes(double weight)
{
    var net = new Network { Dt = 1e-3, Steps = 200, BatchSize = 1, Seed = 1 };
    net.Add("I", new TensorInput(1));
    net.Add("W", new Dense(torch.full(1, 3, weight)), source: "I", target: "L");
    net.Add("L", new Lif(3, tau: 10e-3, threshold: 1.0));
    net.MarkOutput("L");
    double charge = 60 * 10e-3 * (1 - Math.Exp(-1e-3 / 10e-3));   // exact charge per step of a constant current
    return (int)net.Run(torch.full(1, 200, 1, charge))["L"].sum().item<float>();
}
int low = Spikes(1.0), high = Spikes(2.0);
Console.WriteLine($"outside project: {low} spikes at weight 1, {high} at weight 2");
return low == 0 && high > 0 ? 0 : 1;
CS
(cd "$work/own" && dotnet run -c Release)
stage "own project referencing Ship.Devices $version: build + run"

# ---- 3. a project from the template -----------------------------------------------------------------------------------
hive=$work/template-hive
dotnet new install "$feed/Ship.Templates.$version.nupkg" --debug:custom-hive "$hive" > /dev/null
(cd "$work" && dotnet new ship-study -o MyStudy --debug:custom-hive "$hive")
(cd "$work/MyStudy" && dotnet run -c Release -- --out "$work/study-output")
for f in output-rate.png output-rate.svg output-rate.csv raster.png membrane.csv provenance.json; do
  [ -s "$work/study-output/$f" ] || { echo "template study: $f missing" >&2; exit 1; }
done
stage "dotnet new ship-study: build + run"

# ---- 4. the tool --------------------------------------------------------------------------------------------------
dotnet tool install Ship.Cli --version "$version" --tool-path "$work/tools" --configfile "$work/NuGet.Config"
(cd "$work" && "$work/tools/ship" --quick --out "$work/ship-quick")
for f in summary.md settings.json provenance.json accuracy-vs-levels.png; do
  [ -s "$work/ship-quick/$f" ] || { echo "ship --quick: $f missing" >&2; exit 1; }
done
stage "dotnet tool install Ship.Cli + ship --quick"
echo "packages, outside project, template and tool: $(( $(date +%s) - start )) s"
