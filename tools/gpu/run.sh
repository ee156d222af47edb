#!/usr/bin/env bash
# On the CUDA machine (Linux x64, NVIDIA driver, Python with a CUDA build of PyTorch; no .NET needed):
#   bash .gpu/run.sh NAME/YourApp.dll [args...]
# Unpacks the .NET runtime packed by tools/gpu/pack-for-device.sh once (to $SHIP_DOTNET_RT, default /tmp/dotnet-rt),
# points the loader at PyTorch's libtorch (the `python3` on PATH, or $SHIP_PYTHON), and runs the DLL.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dn=${SHIP_DOTNET_RT:-/tmp/dotnet-rt}
[ -x "$dn/dotnet" ] || { mkdir -p "$dn" && tar -C "$dn" -xJf "$here/dotnet-rt.tar.xz"; }
py=${SHIP_PYTHON:-python3}
tl=$("$py" -c 'import torch, os; print(os.path.join(os.path.dirname(torch.__file__), "lib"))') ||
  { echo "run.sh: '$py' cannot import torch; install PyTorch with CUDA or set SHIP_PYTHON" >&2; exit 2; }
export DOTNET_ROOT=$dn DOTNET_SYSTEM_GLOBALIZATION_INVARIANT=1 LD_LIBRARY_PATH=$tl:${LD_LIBRARY_PATH:-}
dll=${1:?usage: bash .gpu/run.sh NAME/YourApp.dll [args...]}; shift
exec "$dn/dotnet" "$here/$dll" "$@"
