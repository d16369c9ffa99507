using BenchmarkDotNet.Running;

// BenchmarkDotNet suites:   dotnet run -c Release --project tests/Kiln.Benchmarks -- --filter '*'
// Kiln vs OpenBLAS GEMM:    tests/Kiln.Benchmarks/gemm-vs-openblas.sh [threads]
// Zoo side by side with PyTorch/ONNX Runtime: tests/Kiln.Benchmarks/zoo-vs-pytorch.sh
if (args.Length > 0 && args[0] == "zoo")
{
    Kiln.Benchmarks.ZooRunner.Run(args);
    return;
}
if (args.Length > 1 && args[0] == "zoo-memory")
{
    Kiln.Benchmarks.ZooRunner.Memory(args[1]);
    return;
}
if (args.Length > 0 && args[0] == "gemm-vs-openblas")
{
    Kiln.Benchmarks.SideBySide.Run(args);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Kiln.Benchmarks.ZooBenchmarks).Assembly).Run(args);
