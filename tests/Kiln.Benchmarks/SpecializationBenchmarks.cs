using System;
using BenchmarkDotNet.Attributes;
using Kiln.Kernels;

namespace Kiln.Benchmarks;

public readonly struct Z1Layer1 : IGemmShape { public static int M => 64; public static int N => 256; public static int K => 784; }
public readonly struct Z1Layer2 : IGemmShape { public static int M => 64; public static int N => 128; public static int K => 256; }
public readonly struct Z1Logits : IGemmShape { public static int M => 64; public static int N => 10; public static int K => 128; }

/// <summary>
/// Does specialising the packed GEMM on its shape pay? Z1's three forward products (Nt with bias and ReLU, one
/// thread), once with the sizes as run-time arguments (what generated code passes today: literals that stop at the
/// first non-inlined call) and once with the sizes as type constants reaching the engine's driver
/// (<see cref="Gemm.Run{TShape, TAct}"/>: every block count and tile decision folds). Same kernel, same data.
/// </summary>
public class SpecializationBenchmarks
{
    private readonly float[] _x = new float[64 * 784], _w = new float[256 * 784], _bias = new float[256], _y = new float[64 * 256];
    private int _m, _n, _k;

    [Params("64x256x784", "64x128x256", "64x10x128")]
    public string Shape { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var random = new KilnRandom(1);
        random.FillUniform(_x, -1, 1);
        random.FillUniform(_w, -1, 1);
        random.FillUniform(_bias, -1, 1);
        int[] d = Array.ConvertAll(Shape.Split('x'), int.Parse);
        (_m, _n, _k) = (d[0], d[1], d[2]);
    }

    [Benchmark(Baseline = true, Description = "run-time sizes")]
    public void Runtime() =>
        Gemm.Run(KernelInfo.Best, GemmKernel.Packed, GemmForm.Nt, _x.AsSpan(0, _m * _k), _w.AsSpan(0, _n * _k), _y.AsSpan(0, _m * _n),
            _m, _n, _k, false, _bias.AsSpan(0, _n), default(Activations.ReluOp), default);

    [Benchmark(Description = "type-level sizes")]
    public void TypeLevel()
    {
        switch (_n)
        {
            case 256: Shaped<Z1Layer1>(); break;
            case 128: Shaped<Z1Layer2>(); break;
            default: Shaped<Z1Logits>(); break;
        }
    }

    private void Shaped<TShape>() where TShape : struct, IGemmShape =>
        Gemm.Run<TShape, Activations.ReluOp>(KernelInfo.Best, GemmForm.Nt, _x.AsSpan(0, TShape.M * TShape.K), _w.AsSpan(0, TShape.N * TShape.K),
            _y.AsSpan(0, TShape.M * TShape.N), false, _bias.AsSpan(0, TShape.N), default, default);
}
