using System;
using BenchmarkDotNet.Attributes;
using Kiln.Kernels;

namespace Kiln.Benchmarks;

/// <summary>
/// Kiln's GEMM at the cube sizes and at the zoo's training shapes in all three forms, single thread, plus the
/// FMA-peak probe they are fractions of (GFLOP/s = 2·M·N·K / mean). The side-by-side with OpenBLAS is
/// <c>gemm-vs-openblas.sh</c>.
/// </summary>
public class GemmBenchmarks
{
    private float[] _a = null!, _b = null!, _c = null!;

    [ParamsSource(nameof(Shapes))]
    public string Shape { get; set; } = "";

    [Params(GemmForm.Nt, GemmForm.Nn, GemmForm.Tn)]
    public GemmForm Form { get; set; }

    public static string[] Shapes => new[]
    {
        "64,64,64", "128,128,128", "256,256,256", "512,512,512", "1024,1024,1024",
        "64,256,784", "64,128,256", "64,10,128", "32,512,128", "1,512,512",
    };

    private int _m, _n, _k;

    [GlobalSetup]
    public void Setup()
    {
        int[] dims = Array.ConvertAll(Shape.Split(','), int.Parse);
        (_m, _n, _k) = (dims[0], dims[1], dims[2]);
        var random = new KilnRandom(1);
        _a = new float[_m * _k];
        _b = new float[_n * _k];
        _c = new float[_m * _n];
        random.FillUniform(_a, -1, 1);
        random.FillUniform(_b, -1, 1);
    }

    [Benchmark]
    public void Gemm() => Kernels.Gemm.Run(KernelInfo.Best, GemmKernel.Auto, Form, _a, _b, _c, _m, _n, _k, false, default, default(IdentityOp), default);
}

/// <summary>The FMA peak: 12 independent FMA chains on the widest vectors, 10⁶ iterations (384 MFLOP per call with AVX-512, 192 with AVX2).</summary>
public class FmaPeakBenchmark
{
    [Benchmark(Description = "FMA peak probe (10⁶ iterations)")]
    public float Probe() => FmaPeak.Run(1_000_000);
}
