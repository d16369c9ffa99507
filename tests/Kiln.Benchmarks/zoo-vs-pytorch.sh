#!/usr/bin/env bash
# The zoo side by side in one invocation: Kiln, PyTorch eager, PyTorch traced + frozen, ONNX Runtime; at 1 and 2
# threads; interleaved rounds; then the peak working set of training. Installs what is missing: Debian's
# python3-torch with OpenBLAS (pthread build for 1 thread, OpenMP build for 2), and onnxruntime-node from npm.
#   tests/Kiln.Benchmarks/zoo-vs-pytorch.sh [--rounds 7] [--threads 1,2] [--models Z1] [--markdown FILE]
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
need=()
/usr/bin/python3 -c "import torch" 2>/dev/null || need+=(python3-torch)
[ -d /usr/lib/x86_64-linux-gnu/openblas-pthread ] || need+=(libopenblas0-pthread)
[ -d /usr/lib/x86_64-linux-gnu/openblas-openmp ] || need+=(libopenblas0-openmp)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (Debian)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  # Installing the OpenMP build may make it the system libblas.so.3; the pthread build is the 1-thread reference.
  update-alternatives --set libblas.so.3-x86_64-linux-gnu /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3 >/dev/null 2>&1 || true
fi
if [ ! -d tests/Kiln.Benchmarks/onnx/node_modules/onnxruntime-node ]; then
  echo "installing onnxruntime-node (npm; its install script is skipped: the CPU binaries ship in the package)..."
  (cd tests/Kiln.Benchmarks/onnx && npm install --ignore-scripts --no-audit --no-fund >/dev/null)
fi
/usr/bin/python3 tests/Kiln.Benchmarks/pytorch/zoo.py --export tests/Kiln.Benchmarks/onnx/models >/dev/null
dotnet build -c Release tests/Kiln.Benchmarks -nologo -v quiet >/dev/null
exec dotnet run -c Release --no-build --project tests/Kiln.Benchmarks -- zoo --root "$root" "$@"
