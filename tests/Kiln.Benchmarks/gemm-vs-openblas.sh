#!/usr/bin/env bash
# Kiln's GEMM and OpenBLAS's cblas_sgemm on the same shapes, in one process, interleaved in rounds: prints
# GFLOP/s, Kiln/OpenBLAS ratios and fractions of the measured FMA peak.
#   tests/Kiln.Benchmarks/gemm-vs-openblas.sh [threads] [--best] [--rounds N] [--quiet-gaps] [--register-blocked] [--shapes "Tn:256,784,64;Nt:64,256,784"]
# Kiln/peak is against the FMA probe timed in the same rounds as each shape; with 2+ threads, Kiln's 1 -> N thread
# scaling at 512³ is measured first, before OpenBLAS's pool has run (its spinning workers would slow Kiln's).
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! ldconfig -p | grep -q 'libopenblas.so.0'; then
  echo "installing OpenBLAS (Debian libopenblas-dev)..."
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenblas-dev >/dev/null
fi
dotnet build -c Release tests/Kiln.Benchmarks -nologo -v quiet >/dev/null
# OpenBLAS's own pool follows openblas_set_num_threads; keep OpenMP/pthreads from adding a second pool.
export OPENBLAS_NUM_THREADS="${1:-1}" OMP_NUM_THREADS="${1:-1}"
# Steady-state code from the first call (no tier-0 rounds mixed into the measurement).
export DOTNET_TieredCompilation=0
exec dotnet run -c Release --no-build --project tests/Kiln.Benchmarks -- gemm-vs-openblas "${1:-1}" "${@:2}"
