#!/usr/bin/env bash
# Publishes every sample as a NativeAOT binary and measures it against the JIT build of the same sample: binary size,
# start-up (launch to exit on the usage path) and a short fixed run (best of 3 each). Prints a Markdown table.
#   samples/publish-aot.sh [OUT_DIR]        (default artifacts/aot-bin)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-artifacts/aot-bin}
declare -A run=(
  [Mnist]="--epochs 1 --train-samples 2000 --checkpoint $out/mnist.safetensors --log $out/mnist.csv"
  [Cifar]="--epochs 1 --train-samples 128 --checkpoint $out/cifar.safetensors --log $out/cifar.csv"
  [CharRnn]="--steps 40 --sample-every 1000 --length 40"
  [Gpt]="--steps 20 --sample-every 1000 --length 40"
  [Seq2Seq]="--steps 100 --evaluate-every 1000"
)
samples=(Mnist Cifar CharRnn Gpt Seq2Seq)
mkdir -p "$out"
for s in "${samples[@]}"; do
  dotnet publish "samples/$s" -c Release -p:KilnAot=true -o "$out/$s" -nologo -v quiet >/dev/null
  dotnet publish "samples/$s" -c Release -o "$out/$s-jit" -nologo -v quiet >/dev/null
done
# Best wall time of 3 runs, in ms.
best() { local b=999999; for _ in 1 2 3; do local t0 t1; t0=$(date +%s%N); "$@" >/dev/null 2>&1 || true; t1=$(date +%s%N); local ms=$(( (t1 - t0) / 1000000 )); (( ms < b )) && b=$ms; done; echo "$b"; }
echo "| sample | AOT binary | kernels | start-up AOT / JIT (ms) | short run | AOT / JIT (ms) |"
echo "|---|---:|---|---:|---|---:|"
for s in "${samples[@]}"; do
  bin="$out/$s/$s"
  size=$(stat -c %s "$bin")
  kernels=$("$bin" ${run[$s]} 2>&1 | grep -m1 -oE "AVX-512|AVX2|[Pp]ortable" || echo "?")
  sa=$(best "$bin" --no-such-option); sj=$(best dotnet "$out/$s-jit/$s.dll" --no-such-option)
  ra=$(best "$bin" ${run[$s]}); rj=$(best dotnet "$out/$s-jit/$s.dll" ${run[$s]})
  printf "| %s | %.1f MB | %s | %s / %s | \`%s\` | %s / %s |\n" "$s" "$(echo "$size / 1048576" | bc -l)" "$kernels" "$sa" "$sj" "${run[$s]//$out\//}" "$ra" "$rj"
done
