using BenchmarkDotNet.Running;

// BenchmarkDotNet suites:   dotnet run -c Release --project tests/Kiln.Benchmarks -- --filter '*'
// Kiln vs OpenBLAS GEMM:    tests/Kiln.Benchmarks/gemm-vs-openblas.sh [threads]
if (args.Length > 0 && args[0] == "gemm-vs-openblas")
{
    Kiln.Benchmarks.SideBySide.Run(args);
    return;
}
BenchmarkSwitcher.FromAssembly(typeof(Kiln.Benchmarks.ZooBenchmarks).Assembly).Run(args);
