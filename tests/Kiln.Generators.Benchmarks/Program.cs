using BenchmarkDotNet.Running;

// dotnet run -c Release --project tests/Kiln.Generators.Benchmarks [-- --filter '*Cold*']
BenchmarkSwitcher.FromAssembly(typeof(Kiln.Generators.Benchmarks.GeneratorBenchmarks).Assembly).Run(args);
