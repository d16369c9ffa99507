using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
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
    public static float Run(long iterations) => KernelInfo.Best == KernelIsa.Avx512 ? Run512(iterations) : Run256(iterations);

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Run512(long iterations)
    {
        Vector512<float> a = Vector512.Create(0.999999f), b = Vector512.Create(1e-7f);
        Vector512<float> c0 = Vector512.Create(1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        Vector512<float> c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Avx512F.FusedMultiplyAdd(c0, a, b); c1 = Avx512F.FusedMultiplyAdd(c1, a, b);
            c2 = Avx512F.FusedMultiplyAdd(c2, a, b); c3 = Avx512F.FusedMultiplyAdd(c3, a, b);
            c4 = Avx512F.FusedMultiplyAdd(c4, a, b); c5 = Avx512F.FusedMultiplyAdd(c5, a, b);
            c6 = Avx512F.FusedMultiplyAdd(c6, a, b); c7 = Avx512F.FusedMultiplyAdd(c7, a, b);
            c8 = Avx512F.FusedMultiplyAdd(c8, a, b); c9 = Avx512F.FusedMultiplyAdd(c9, a, b);
            c10 = Avx512F.FusedMultiplyAdd(c10, a, b); c11 = Avx512F.FusedMultiplyAdd(c11, a, b);
        }
        return Vector512.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
    }

    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    private static float Run256(long iterations)
    {
        Vector256<float> a = Vector256.Create(0.999999f), b = Vector256.Create(1e-7f);
        Vector256<float> c0 = Vector256.Create(1f), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0;
        Vector256<float> c6 = c0, c7 = c0, c8 = c0, c9 = c0, c10 = c0, c11 = c0;
        for (long i = 0; i < iterations; i++)
        {
            c0 = Fma.MultiplyAdd(c0, a, b); c1 = Fma.MultiplyAdd(c1, a, b);
            c2 = Fma.MultiplyAdd(c2, a, b); c3 = Fma.MultiplyAdd(c3, a, b);
            c4 = Fma.MultiplyAdd(c4, a, b); c5 = Fma.MultiplyAdd(c5, a, b);
            c6 = Fma.MultiplyAdd(c6, a, b); c7 = Fma.MultiplyAdd(c7, a, b);
            c8 = Fma.MultiplyAdd(c8, a, b); c9 = Fma.MultiplyAdd(c9, a, b);
            c10 = Fma.MultiplyAdd(c10, a, b); c11 = Fma.MultiplyAdd(c11, a, b);
        }
        return Vector256.Sum(c0 + c1 + c2 + c3 + c4 + c5 + c6 + c7 + c8 + c9 + c10 + c11);
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
