using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/Kiln.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Kiln.Benchmarks.ZooBenchmarks).Assembly).Run(args);
