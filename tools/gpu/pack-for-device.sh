#!/usr/bin/env bash
# Packs a framework-dependent .NET build output so that it runs on a Linux x64 CUDA machine that has a Python PyTorch
# install but neither .NET nor NuGet (docs/gpu.md). TorchSharp's managed code and its native bridge
# (libLibTorchSharp.so) load there against PyTorch's own CUDA build of libtorch.
#
# usage (from anywhere inside the clone):
#   tools/gpu/pack-for-device.sh BUILD_OUTPUT_DIR [NAME]
#     BUILD_OUTPUT_DIR  e.g. Ship.Cli/bin/Release/net10.0 (after `dotnet build Ship.Cli -c Release`)
#     NAME              folder name under .gpu/ (default: app)
# then copy .gpu/ to the CUDA machine and, from the folder holding it: bash .gpu/run.sh NAME/YourApp.dll [args...]
set -euo pipefail
src=${1:?usage: tools/gpu/pack-for-device.sh BUILD_OUTPUT_DIR [NAME]}; name=${2:-app}
src=$(cd "$src" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
out=$root/.gpu            # ignored by git (.gitignore)
[ -f "$src/TorchSharp.dll" ] || { echo "$src holds no TorchSharp.dll: give a build output folder" >&2; exit 2; }
mkdir -p "$out"
rm -rf "${out:?}/$name"; mkdir -p "$out/$name"
# Everything but the natives under runtimes/ and cpu/: libtorch's CPU build is hundreds of MB, and the CUDA machine
# brings its own libtorch. The natives the app needs besides libtorch are copied back flat below.
# A RID-specific build of the same project (the ship tool's linux-x64 package) nests its own output in linux-x64/: not wanted.
tar -C "$src" --exclude ./runtimes --exclude ./cpu --exclude "./linux-*" --exclude "./win-*" --exclude "./osx-*" -cf - . | tar -C "$out/$name" -xf -
for lib in libLibTorchSharp.so libSkiaSharp.so libHarfBuzzSharp.so; do
  f=$(find "$src/runtimes/linux-x64" "$src" -maxdepth 3 -name "$lib" 2>/dev/null | head -n 1)
  [ -n "$f" ] && cp "$f" "$out/$name/"
done
# The .NET runtime this machine runs, once (about 26 MB compressed): the CUDA machine needs no .NET install.
if [ ! -f "$out/dotnet-rt.tar.xz" ]; then
  dn=$(dirname "$(readlink -f "$(command -v dotnet)")")
  rt=$(ls -d "$dn"/shared/Microsoft.NETCore.App/* | sort -V | tail -n 1)
  tar -C "$dn" -cJf "$out/dotnet-rt.tar.xz" dotnet host/fxr "shared/Microsoft.NETCore.App/$(basename "$rt")"
fi
cp "$here/run.sh" "$out/run.sh"
chmod +x "$out/run.sh"
du -sh "$out"
echo "packed $out/$name; on the CUDA machine, from the folder holding .gpu/: bash .gpu/run.sh $name/<YourApp>.dll [args...]"
