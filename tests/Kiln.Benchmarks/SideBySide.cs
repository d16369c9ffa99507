using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.Linq;
using System.Runtime.InteropServices;
using Kiln.Kernels;

namespace Kiln.Benchmarks;

/// <summary>
/// Kiln's GEMM and OpenBLAS's <c>cblas_sgemm</c> on the same shapes, in one process, interleaved in rounds
/// (the host clock drifts with load): prints medians, Kiln/OpenBLAS ratios and fractions of the FMA peak.
/// Run through <c>tests/Kiln.Benchmarks/gemm-vs-openblas.sh</c>, which installs OpenBLAS when missing.
/// </summary>
public static unsafe class SideBySide
{
    private const int RowMajor = 101, NoTrans = 111, Trans = 112;
    private static int s_threads = 1;
    private static bool s_best, s_quiet;
    private static double s_lastMedianRatio;
    private static double s_lastPeak;

    [DllImport("libopenblas.so.0")] private static extern void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float alpha, float* a, int lda, float* b, int ldb, float beta, float* c, int ldc);
    [DllImport("libopenblas.so.0")] private static extern void openblas_set_num_threads(int threads);

    public static void Run(string[] args)
    {
        int threads = args.Length > 1 && char.IsDigit(args[1][0]) ? int.Parse(args[1], CultureInfo.InvariantCulture) : 1;
        if (args.Contains("--register-blocked")) Gemm.Kernel = GemmKernel.RegisterBlocked;
        s_best = args.Contains("--best");
        s_quiet = args.Contains("--quiet-gaps");
        int roundsAt = Array.IndexOf(args, "--rounds");
        int rounds = roundsAt >= 0 ? int.Parse(args[roundsAt + 1], CultureInfo.InvariantCulture) : 7;
        openblas_set_num_threads(threads);
        s_threads = threads;
        double peak = FmaPeak.Measure(s_best);
        Console.WriteLine($"FMA peak (1 core) at start: {peak:F1} GFLOP/s; threads: {threads}; kernels: {KernelInfo.Describe(KernelInfo.Best)}, GEMM {Gemm.Kernel}; " +
            $"{rounds} rounds, {(s_best ? "fastest round" : "median")}");
        if (threads > 1) Scaling(threads, rounds);
        Console.WriteLine("Kiln/peak is against the FMA probe timed in the same rounds as the shape (the clock of a shared host moves with load).");
        Console.WriteLine($"{"shape (M,N,K)",-18} {"form",-4} {"Kiln GF/s",10} {"OpenBLAS",10} {"ratio",7} {"Kiln/peak",10} {"median ratio",13} {"peak GF/s",10}");
        var shapes = new List<(int, int, int)> { (64, 64, 64), (128, 128, 128), (256, 256, 256), (512, 512, 512), (1024, 1024, 1024),
            (64, 256, 784), (64, 128, 256), (64, 10, 128), (32, 512, 128), (1, 512, 512) };
        // --shapes "Tn:256,784,64;Nn:64,256,128" measures just those.
        int at = Array.IndexOf(args, "--shapes");
        var only = at >= 0 ? args[at + 1].Split(';').Select(t => t.Split(':')).Select(t => (Form: Enum.Parse<GemmForm>(t[0]), Dims: t[1].Split(',').Select(int.Parse).ToArray())).ToList() : null;
        if (only is not null) shapes = only.Select(o => (o.Dims[0], o.Dims[1], o.Dims[2])).Distinct().ToList();
        // Warm every code path first (worker threads, tiered JIT), so the first shape measured is not penalised.
        foreach (var (m, n, k) in shapes)
            foreach (GemmForm form in new[] { GemmForm.Nt, GemmForm.Nn, GemmForm.Tn })
                Compare(form, m, n, k, rounds: 1);
        foreach (var (m, n, k) in shapes)
        {
            foreach (GemmForm form in new[] { GemmForm.Nt, GemmForm.Nn, GemmForm.Tn })
            {
                if (only is not null && !only.Any(o => o.Form == form && o.Dims[0] == m && o.Dims[1] == n && o.Dims[2] == k)) continue;
                if (m >= 512 && form != GemmForm.Nn && args.Contains("--quick")) continue;
                var (kiln, blas) = Compare(form, m, n, k, rounds);
                double flops = 2.0 * m * n * k;
                double kilnRate = flops / kiln / 1e9, blasRate = flops / blas / 1e9;
                Console.WriteLine($"{$"({m},{n},{k})",-18} {form,-4} {kilnRate,10:F1} {blasRate,10:F1} {blas / kiln,6:F2}x {kilnRate / (s_lastPeak * threads),9:P0} {s_lastMedianRatio,12:F2}x {s_lastPeak,10:F1}");
            }
        }
    }

    /// <summary>Kiln's speed-up from 1 thread to <paramref name="threads"/> at 512³, measured before OpenBLAS has run anything:
    /// once it has, its idle workers spin on the other cores for a while after every call and slow whichever pool runs
    /// next, so the table's 2-thread figures mix the two pools. The two thread counts alternate, round by round.</summary>
    private static void Scaling(int threads, int rounds)
    {
        const int size = 512;
        float* pa = Aligned(size * size, 1), pb = Aligned(size * size, 2), pc = Aligned(size * size, 0);
        try
        {
            var line = new List<string>();
            foreach (GemmForm form in new[] { GemmForm.Nt, GemmForm.Nn, GemmForm.Tn })
            {
                var times = new[] { new List<double>(), new List<double>() };
                for (int round = 0; round < rounds + 1; round++)
                {
                    for (int side = 0; side < 2; side++)
                    {
                        s_threads = side == 0 ? 1 : threads;
                        TimeKiln(form, pa, pb, pc, size, size, size, 1);
                        double seconds = TimeKiln(form, pa, pb, pc, size, size, size, 4);
                        if (round > 0) times[side].Add(seconds); // round 0 warms both
                    }
                }
                double one = s_best ? times[0].Min() : Median(times[0]), many = s_best ? times[1].Min() : Median(times[1]);
                double flops = 2.0 * size * size * size;
                line.Add($"{form} {flops / one / 1e9:F1} -> {flops / many / 1e9:F1} GF/s ({one / many:F2}x)");
            }
            Console.WriteLine($"Kiln at {size}^3, 1 -> {threads} threads, before any OpenBLAS call: {string.Join("; ", line)}");
        }
        finally
        {
            s_threads = threads;
            NativeMemory.AlignedFree(pa);
            NativeMemory.AlignedFree(pb);
            NativeMemory.AlignedFree(pc);
        }
    }

    /// <summary>Seconds per call of each side, measured in alternating rounds: the median, or with <c>--best</c> the
    /// fastest round (on a shared host, interference only ever slows a round down).</summary>
    private static (double Kiln, double Blas) Compare(GemmForm form, int m, int n, int k, int rounds = 7)
    {
        // 64-byte aligned, like a model's arena; both sides read and write the same buffers.
        float* pa = Aligned(m * k, 1), pb = Aligned(n * k, 2), pc = Aligned(m * n, 0);
        double flops = 2.0 * m * n * k;
        // Short rounds (about 0.2 ms of work): on a shared host a short round is more often a quiet one.
        int repeats = (int)Math.Clamp(2e7 / flops, 2, 20000);
        var kiln = new List<double>();
        var blas = new List<double>();
        var peak = new List<double>();
        // The probe does about as much work per round as one side, on one core (a thread's share of the product).
        long probeIterations = Math.Max(1000, (long)(flops * repeats / s_threads / FmaPeak.Flops(1)));
        try
        {
            for (int warm = 0; warm < 3; warm++) { TimeKiln(form, pa, pb, pc, m, n, k, repeats); TimeBlas(form, pa, pb, pc, m, n, k, repeats); }
            for (int round = 0; round < rounds; round++)
            {
                Quiet();
                TimeKiln(form, pa, pb, pc, m, n, k, 1);
                kiln.Add(TimeKiln(form, pa, pb, pc, m, n, k, repeats));
                Quiet();
                TimeBlas(form, pa, pb, pc, m, n, k, 1);
                blas.Add(TimeBlas(form, pa, pb, pc, m, n, k, repeats));
                long start = Stopwatch.GetTimestamp();
                FmaPeak.Run(probeIterations);
                peak.Add(FmaPeak.Flops(probeIterations) / Stopwatch.GetElapsedTime(start).TotalSeconds / 1e9);
            }
        }
        finally
        {
            NativeMemory.AlignedFree(pa);
            NativeMemory.AlignedFree(pb);
            NativeMemory.AlignedFree(pc);
        }
        s_lastMedianRatio = Median(blas) / Median(kiln);
        s_lastPeak = s_best ? peak.Max() : Median(peak);
        return s_best ? (kiln.Min(), blas.Min()) : (Median(kiln), Median(blas));
    }

    /// <summary>With several threads, both pools spin between calls (OpenBLAS's for up to about 2^28 cycles): a pause
    /// before each side's round lets the other side's workers block, so neither measures the other's spinning. Each
    /// round then starts with one untimed call that wakes its own workers.</summary>
    private static void Quiet()
    {
        if (s_threads > 1 && s_quiet) System.Threading.Thread.Sleep(120);
    }

    private static double TimeKiln(GemmForm form, float* a, float* b, float* c, int m, int n, int k, int repeats)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < repeats; i++)
            Gemm.Run(KernelInfo.Best, Gemm.Kernel, form, new ReadOnlySpan<float>(a, m * k), new ReadOnlySpan<float>(b, n * k), new Span<float>(c, m * n),
                m, n, k, false, default, default(IdentityOp), default, s_threads);
        return Stopwatch.GetElapsedTime(start).TotalSeconds / repeats;
    }

    private static double TimeBlas(GemmForm form, float* a, float* b, float* c, int m, int n, int k, int repeats)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < repeats; i++)
        {
            switch (form)
            {
                case GemmForm.Nt: cblas_sgemm(RowMajor, NoTrans, Trans, m, n, k, 1f, a, k, b, k, 0f, c, n); break;
                case GemmForm.Nn: cblas_sgemm(RowMajor, NoTrans, NoTrans, m, n, k, 1f, a, k, b, n, 0f, c, n); break;
                default: cblas_sgemm(RowMajor, Trans, NoTrans, m, n, k, 1f, a, m, b, n, 0f, c, n); break;
            }
        }
        return Stopwatch.GetElapsedTime(start).TotalSeconds / repeats;
    }

    private static float* Aligned(int length, int seed)
    {
        float* p = (float*)NativeMemory.AlignedAlloc((nuint)Math.Max(1, length) * sizeof(float), 64);
        var random = new KilnRandom(seed + 1);
        for (int i = 0; i < length; i++) p[i] = seed == 0 ? 0f : random.Uniform(-1f, 1f);
        return p;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}
