using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using Kiln.Kernels;

namespace Kiln.Benchmarks;

/// <summary>The FMA peak: GFLOP/s of a loop of independent fused multiply-adds (12 accumulators hide the
/// latency) on the widest vectors the machine has (Vector512 with AVX-512, else Vector256 with FMA), the ceiling
/// every GEMM figure is a fraction of.</summary>
public static class FmaPeak
{
    public const int Accumulators = 12;

    /// <summary>The vector width the probe runs (and the kernels use): 16 floats with AVX-512, 8 with AVX2.</summary>
    public static int Lanes => KernelInfo.Best == KernelIsa.Avx512 ? 16 : 8;

    /// <summary>FLOPs of one call of <see cref="Run"/> with <paramref name="iterations"/>.</summary>
    public static long Flops(long iterations) => iterations * Accumulators * Lanes * 2;

    /// <summary>Runs the probe on the best ISA.</summary>
    public static float Run(long iterations) =>
        KernelInfo.Best == KernelIsa.Avx512 ? Run<Vector512<float>, Simd512>(iterations) : Run<Vector256<float>, Simd256>(iterations);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Run<TVec, TSimd>(long iterations) where TVec : struct where TSimd : ISimd<TVec>
    {
        TVec a = TSimd.Broadcast(0.999999f), b = TSimd.Broadcast(1e-7f);
        TVec c0 = TSimd.Broadcast(1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        TVec c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = TSimd.MultiplyAdd(c0, a, b); c1 = TSimd.MultiplyAdd(c1, a, b);
            c2 = TSimd.MultiplyAdd(c2, a, b); c3 = TSimd.MultiplyAdd(c3, a, b);
            c4 = TSimd.MultiplyAdd(c4, a, b); c5 = TSimd.MultiplyAdd(c5, a, b);
            c6 = TSimd.MultiplyAdd(c6, a, b); c7 = TSimd.MultiplyAdd(c7, a, b);
            c8 = TSimd.MultiplyAdd(c8, a, b); c9 = TSimd.MultiplyAdd(c9, a, b);
            c10 = TSimd.MultiplyAdd(c10, a, b); c11 = TSimd.MultiplyAdd(c11, a, b);
        }
        TVec sum = TSimd.Add(TSimd.Add(TSimd.Add(c0, c1), TSimd.Add(c2, c3)), TSimd.Add(TSimd.Add(c4, c5), TSimd.Add(c6, c7)));
        return TSimd.Sum(TSimd.Add(sum, TSimd.Add(TSimd.Add(c8, c9), TSimd.Add(c10, c11))));
    }

    /// <summary>GFLOP/s over timed runs (for the side-by-side harness): the median of 7 long runs, or with
    /// <paramref name="best"/> the fastest of 100 short ones (on a shared host interference only slows a run down).</summary>
    public static double Measure(bool best = false)
    {
        long iterations = (KernelInfo.Best == KernelIsa.Avx512 ? 20_000_000 : 40_000_000) / (best ? 50 : 1);
        Run(iterations / 10);
        var rates = new double[best ? 100 : 7];
        for (int r = 0; r < rates.Length; r++)
        {
            long start = Stopwatch.GetTimestamp();
            Run(iterations);
            rates[r] = Flops(iterations) / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9;
        }
        System.Array.Sort(rates);
        return best ? rates[^1] : rates[rates.Length / 2];
    }
}
