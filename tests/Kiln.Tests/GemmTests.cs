using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Kernels;
using Kiln.Testing;
using Xunit;

namespace Kiln.Tests;

/// <summary>Every GEMM kernel, ISA, form and epilogue against a scalar double-precision reference.</summary>
public class GemmTests
{
    /// <summary>Every variant the factory says this machine runs, and the Auto policy (packed or register-blocked by
    /// shape) on every ISA the machine has.</summary>
    public static IEnumerable<(KernelIsa Isa, GemmKernel Kernel)> Variants() =>
        GemmVariants.Supported.Select(v => (v.Isa, v.Technique))
            .Concat(KernelInfo.Supported.Select(isa => (isa, GemmKernel.Auto)));

    public static IEnumerable<object[]> Cases() =>
        from v in Variants()
        from form in new[] { GemmForm.Nt, GemmForm.Nn, GemmForm.Tn }
        from accumulate in new[] { false, true }
        select new object[] { v.Isa, v.Kernel, form, accumulate };

    private static readonly int[] Others = { 1, 13, 67 };

    [Theory]
    [MemberData(nameof(Cases))]
    public void EveryDimensionFrom1To67_MatchesDoubleReference(KernelIsa isa, GemmKernel kernel, GemmForm form, bool accumulate)
    {
        for (int v = 1; v <= 67; v++)
            foreach (int x in Others)
                foreach (int y in Others)
                {
                    Check(isa, kernel, form, accumulate, v, x, y);
                    Check(isa, kernel, form, accumulate, x, v, y);
                    Check(isa, kernel, form, accumulate, x, y, v);
                }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ZooShapes_AndShapesPastTheBlockSizes_MatchDoubleReference(KernelIsa isa, GemmKernel kernel, GemmForm form, bool accumulate)
    {
        // The last two have a C over 2^18 floats, whose tiles' rows the packed kernel prefetches before the last 96
        // depths (an odd depth past that split; a depth under it).
        foreach (var (m, n, k) in new[] { (64, 256, 784), (64, 128, 256), (64, 10, 128), (32, 512, 128), (1, 512, 512), (100, 37, 300), (13, 600, 5), (97, 33, 513), (520, 530, 201), (600, 450, 33), (160, 100, 70) })
            Check(isa, kernel, form, accumulate, m, n, k);
    }

    /// <summary>Narrow products (fewer columns than two vectors, not a whole vector) take the dot form for Nt and Nn:
    /// every column count, row counts around the row chunks (4, 8, 16 on AVX-512; 2, 4, 8 on AVX2) and depths around
    /// the vector width (the masked tail), against the double reference. Without vectors they run the portable kernel.</summary>
    [Theory]
    [MemberData(nameof(Reference.Variants), MemberType = typeof(Reference))]
    public void NarrowNtAndNn_TakeTheDotForm_AndMatchDoubleReference(KernelIsa isa)
    {
        if (isa == KernelIsa.Portable)
        {
            Assert.False(GemmDot.Pays(isa, GemmForm.Nt, 64, 10, 128));
            Check(isa, GemmKernel.Auto, GemmForm.Nt, true, 64, 10, 128);
            Check(isa, GemmKernel.Auto, GemmForm.Nn, true, 64, 10, 128);
            return;
        }
        int w = isa == KernelIsa.Avx512 ? 16 : 8;
        Assert.True(GemmDot.Pays(isa, GemmForm.Nt, 64, 10, 128));
        Assert.True(GemmDot.Pays(isa, GemmForm.Nn, 64, 10, 128));
        Assert.False(GemmDot.Pays(isa, GemmForm.Tn, 64, 10, 128));
        Assert.False(GemmDot.Pays(isa, GemmForm.Nt, 64, 2 * w, 128));
        int checkedShapes = 0;
        foreach (int n in Enumerable.Range(1, 2 * w - 1))
            foreach (int m in new[] { 2, 3, 5, 8, 9, 16, 17, 35 })
                foreach (int k in new[] { w, w + 1, 2 * w - 1, 67, 128 })
                    foreach (GemmForm form in new[] { GemmForm.Nt, GemmForm.Nn })
                    {
                        if (!GemmDot.Pays(isa, form, m, n, k)) continue;
                        Check(isa, GemmKernel.Auto, form, false, m, n, k);
                        Check(isa, GemmKernel.Auto, form, true, m, n, k);
                        checkedShapes++;
                    }
        Assert.True(checkedShapes > 500, $"{checkedShapes} shapes took the dot form");
    }

    /// <summary>A narrow Tn runs as Cᵀ = Bᵀ·A with its tiles stored transposed: accumulate, bias, the pre-activation
    /// copy and the activation there too, and B read in place as the packed panel when it is one.</summary>
    [Theory]
    [MemberData(nameof(Reference.Variants), MemberType = typeof(Reference))]
    public void NarrowTn_TransposedTiles_ApplyTheEpilogue(KernelIsa isa)
    {
        foreach (var (m, n, k) in new[] { (64, 10, 128), (40, 12, 37), (33, 5, 20), (70, 11, 300), (64, 14, 9) })
            foreach (bool accumulate in new[] { false, true })
            {
                CheckEpilogue(isa, GemmKernel.Auto, GemmForm.Tn, accumulate, Act.Gelu, m, n, k);
                CheckEpilogue(isa, GemmKernel.Auto, GemmForm.Tn, accumulate, Act.None, m, n, k);
            }
    }

    /// <summary>A row-major A whose rows lie a multiple of 4 KB apart (k a multiple of 1,024) is read in 8-row tiles:
    /// several column blocks (deep blocks are 128 columns wide), two depth blocks, every row count left after the
    /// 8-row tiles (6, 4, 2, 1 and their sums), one-vector products, on one and two threads.</summary>
    [Theory]
    [MemberData(nameof(Reference.Variants), MemberType = typeof(Reference))]
    public void PowerOfTwoDepth_EightRowTiles_MatchDoubleReference(KernelIsa isa)
    {
        Assert.Equal(8, GemmPacked.RowMajorTileHeight(12, 1024));
        Assert.Equal(8, GemmPacked.RowMajorTileHeight(12, 3072));
        Assert.Equal(12, GemmPacked.RowMajorTileHeight(12, 784));
        Assert.Equal(12, GemmPacked.RowMajorTileHeight(12, 512));
        Assert.Equal(6, GemmPacked.RowMajorTileHeight(6, 1024));
        foreach (var (m, n, k) in new[] { (30, 300, 1024), (17, 200, 2048), (9, 40, 1024), (15, 16, 1024), (28, 40, 1024), (26, 50, 1024), (31, 70, 1024) })
            foreach (GemmForm form in new[] { GemmForm.Nt, GemmForm.Nn })
                foreach (bool accumulate in new[] { false, true })
                    foreach (int threads in new[] { 1, 2 })
                    {
                        float[] a = Reference.Random(m * k, seed: m), b = Reference.Random(n * k, seed: n), c = Reference.Random(m * n, seed: 7);
                        double[] expected = Product(form, accumulate, a, b, c, m, n, k, out double[] magnitude);
                        Gemm.Run(isa, GemmKernel.Auto, form, a, b, c, m, n, k, accumulate, default, default(IdentityOp), default, threads);
                        for (int i = 0; i < expected.Length; i++)
                            Assert.True(Math.Abs(expected[i] - c[i]) <= 1e-6 * magnitude[i] + 1e-6,
                                $"{isa} {form} m={m} n={n} k={k} accumulate={accumulate} threads={threads}: C[{i}] = {c[i]:R}, expected {expected[i]:R}");
                    }
    }

    /// <summary>A small batch under a wide layer (Nt) runs as Cᵀ = B·Aᵀ with transposed tile stores where that pays:
    /// the epilogue (bias per column of C, the pre-activation copy, the activation) and accumulate there, rows of Cᵀ
    /// past the 12-row (AVX-512) or 6-row (AVX2) tiles. AVX2 takes the route only 12 times as deep as the batch, so
    /// its shapes are deeper.</summary>
    [Theory]
    [MemberData(nameof(Reference.Variants), MemberType = typeof(Reference))]
    public void SmallBatchWideLayer_TransposedNt_MatchesDoubleReference(KernelIsa isa)
    {
        var shapes = isa == KernelIsa.Avx512
            ? new[] { (32, 256, 200), (64, 301, 400), (96, 400, 600) }
            : new[] { (16, 256, 200), (32, 301, 400), (48, 400, 600) };
        if (isa == KernelIsa.Avx512)
            Assert.All(shapes, s => Assert.True(GemmPacked.TransposedNtPays(GemmPacked.Avx512, s.Item1, s.Item2, s.Item3, 16)));
        if (isa == KernelIsa.Avx2)
            Assert.All(shapes, s => Assert.True(GemmPacked.TransposedNtPays(GemmPacked.Avx2, s.Item1, s.Item2, s.Item3, 8)));
        Assert.False(GemmPacked.TransposedNtPays(GemmPacked.Avx512, 32, 512, 128, 16));
        Assert.False(GemmPacked.TransposedNtPays(GemmPacked.Avx2, 32, 512, 128, 8));
        Assert.False(GemmPacked.TransposedNtPays(GemmPacked.Avx2, 64, 512, 512, 8)); // 8 times as deep as the batch: not on AVX2
        Assert.False(GemmPacked.TransposedNtPays(GemmPacked.Avx2 with { TransposedNt = 0 }, 16, 256, 200, 8));
        foreach (var (m, n, k) in shapes)
            foreach (bool accumulate in new[] { false, true })
            {
                CheckEpilogue(isa, GemmKernel.Auto, GemmForm.Nt, accumulate, Act.Tanh, m, n, k);
                Check(isa, GemmKernel.Auto, GemmForm.Nt, accumulate, m, n, k);
            }
    }

    public enum Act { None, Relu, LeakyRelu, Sigmoid, Tanh, Gelu, GeluTanh }

    public static IEnumerable<object[]> EpilogueCases() =>
        from v in Variants()
        from act in Enum.GetValues<Act>()
        select new object[] { v.Isa, v.Kernel, act };

    [Theory]
    [MemberData(nameof(EpilogueCases))]
    public void FusedEpilogue_BiasPreActivationAndActivation_MatchDoubleReference(KernelIsa isa, GemmKernel kernel, Act act)
    {
        foreach (var (m, n, k) in new[] { (5, 7, 3), (12, 32, 17), (64, 256, 300), (13, 40, 0), (25, 600, 9), (21, 10, 40) })
            foreach (bool accumulate in new[] { false, true })
                foreach (GemmForm form in new[] { GemmForm.Nt, GemmForm.Nn })
                    CheckEpilogue(isa, kernel, form, accumulate, act, m, n, k);
    }

    private static void CheckEpilogue(KernelIsa isa, GemmKernel kernel, GemmForm form, bool accumulate, Act act, int m, int n, int k)
    {
        float[] a = Reference.Random(m * k, seed: 3), b = Reference.Random(n * k, seed: 4), bias = Reference.Random(n, seed: 5);
        float[] c = Reference.Random(m * n, seed: 6), z = new float[m * n];
        double[] pre = Product(form, accumulate, a, b, c, m, n, k, out double[] magnitude);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) { pre[i * n + j] += bias[j]; magnitude[i * n + j] += Math.Abs(bias[j]); }
        switch (act)
        {
            case Act.None: Gemm.Run(isa, kernel, form, a, b, c, m, n, k, accumulate, bias, default(IdentityOp), z); break;
            case Act.Relu: Gemm.Run(isa, kernel, form, a, b, c, m, n, k, accumulate, bias, default(Activations.ReluOp), z); break;
            case Act.LeakyRelu: Gemm.Run(isa, kernel, form, a, b, c, m, n, k, accumulate, bias, new Activations.LeakyReluOp(0.2f), z); break;
            case Act.Sigmoid: Gemm.Run(isa, kernel, form, a, b, c, m, n, k, accumulate, bias, default(Activations.SigmoidOp), z); break;
            case Act.Tanh: Gemm.Run(isa, kernel, form, a, b, c, m, n, k, accumulate, bias, default(Activations.TanhOp), z); break;
            case Act.Gelu: Gemm.Run(isa, kernel, form, a, b, c, m, n, k, accumulate, bias, default(Activations.GeluOp), z); break;
            default: Gemm.Run(isa, kernel, form, a, b, c, m, n, k, accumulate, bias, default(Activations.GeluTanhOp), z); break;
        }
        Func<double, double> f = act switch
        {
            Act.None => v => v,
            Act.Relu => v => Math.Max(v, 0),
            Act.LeakyRelu => v => v > 0 ? v : 0.2 * v,
            Act.Sigmoid => ReferenceMath.Sigmoid,
            Act.Tanh => Math.Tanh,
            Act.Gelu => ReferenceMath.Gelu,
            _ => ReferenceMath.GeluTanh,
        };
        for (int i = 0; i < pre.Length; i++)
        {
            double tolerance = 2e-6 * magnitude[i] + 2e-6;
            Assert.True(Math.Abs(pre[i] - z[i]) <= tolerance, $"{kernel} {isa} {form} {act} m={m} n={n} k={k}: pre-activation [{i}] {z[i]:R} vs {pre[i]:R}");
            double expected = f(pre[i]);
            Assert.True(Math.Abs(expected - c[i]) <= tolerance * 2 + 1e-6, $"{kernel} {isa} {form} {act} m={m} n={n} k={k}: C[{i}] {c[i]:R} vs {expected:R}");
        }
    }

    /// <summary>The double-precision product (plus C when accumulating) and Σ|terms| for the tolerance.</summary>
    internal static double[] Product(GemmForm form, bool accumulate, float[] a, float[] b, float[] c, int m, int n, int k, out double[] magnitude)
    {
        var result = new double[m * n];
        magnitude = new double[m * n];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                double sum = accumulate ? c[i * n + j] : 0, abs = Math.Abs(sum);
                for (int p = 0; p < k; p++)
                {
                    double x = form == GemmForm.Tn ? a[p * m + i] : a[i * k + p];
                    double y = form == GemmForm.Nt ? b[j * k + p] : b[p * n + j];
                    sum += x * y;
                    abs += Math.Abs(x * y);
                }
                result[i * n + j] = sum;
                magnitude[i * n + j] = abs;
            }
        return result;
    }

    private static void Check(KernelIsa isa, GemmKernel kernel, GemmForm form, bool accumulate, int m, int n, int k)
    {
        float[] a = Reference.Random(m * k, seed: m * 1000 + k);
        float[] b = Reference.Random(n * k, seed: n * 7 + k);
        float[] c = Reference.Random(m * n, seed: 99);
        double[] expected = Product(form, accumulate, a, b, c, m, n, k, out double[] magnitude);
        Gemm.Run(isa, kernel, form, a, b, c, m, n, k, accumulate, default, default(IdentityOp), default);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - c[i]);
            if (!(error <= 1e-6 * magnitude[i] + 1e-6))
                Assert.Fail($"{kernel} {isa} {form} m={m} n={n} k={k} accumulate={accumulate}: C[{i}] = {c[i]:R}, expected {expected[i]:R}");
        }
    }

    public static IEnumerable<object[]> PackedCases() =>
        from isa in KernelInfo.Supported
        from form in new[] { GemmForm.Nt, GemmForm.Nn }
        // (m, n, k): a recurrent step's shapes, a depth beyond one block (AVX2 KC 384, AVX-512 256), columns that end in a
        // 1-vector panel, a single row, more columns than one block (NC), and products split over 2 threads; a depth beyond
        // one deep block (AVX-512 1,024: two blocks of 550, each 224 columns wide).
        from shape in new[] { (32, 512, 128), (32, 128, 512), (7, 65, 400), (1, 24, 9), (13, 600, 33), (64, 384, 256), (13, 300, 1100), (30, 300, 1024) }
        from threads in new[] { 1, 2 }
        select new object[] { isa, form, shape.Item1, shape.Item2, shape.Item3, threads };

    /// <summary>B packed once and reused: the same product as the double reference, with bias and accumulate, and
    /// the same product twice from the same packing.</summary>
    [Theory]
    [MemberData(nameof(PackedCases))]
    public void PackedB_ReusedAcrossProducts_MatchesTheReference(KernelIsa isa, GemmForm form, int m, int n, int k, int threads)
    {
        float[] a = Reference.Random(m * k, 1), b = Reference.Random(n * k, 2), bias = Reference.Random(n, 3);
        var packed = new float[Gemm.PackedSize(isa, n, k)];
        Gemm.Pack(isa, form, b, n, k, packed);
        foreach (bool accumulate in new[] { false, true })
        {
            float[] c = Reference.Random(m * n, 4);
            double[] expected = Product(form, accumulate, a, b, c, m, n, k, out double[] magnitude);
            for (int j = 0; j < expected.Length; j++) expected[j] += bias[j % n];
            Gemm.RunPacked(isa, a, packed, c, m, n, k, accumulate, bias, default(IdentityOp), threads);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - c[i]) <= 1e-6 * magnitude[i] + 1e-5,
                    $"{isa} {form} m={m} n={n} k={k} accumulate={accumulate} threads={threads}: C[{i}] = {c[i]:R}, expected {expected[i]:R}");
        }
    }

    [Fact]
    public void PackedB_RejectsTooSmallBuffers()
    {
        var e = Assert.Throws<ArgumentException>(() => Gemm.Pack(KernelInfo.Best, GemmForm.Nt, new float[12], 3, 4, new float[5]));
        Assert.Equal("packed", e.ParamName);
        e = Assert.Throws<ArgumentException>(() => Gemm.RunPacked(KernelInfo.Best, new float[8], new float[3], new float[6], 2, 3, 4, false, default, default(IdentityOp)));
        Assert.Equal("packedB", e.ParamName);
    }

    [Fact]
    public void Gemm_RejectsTooShortSpans_NamingTheShape()
    {
        var e = Assert.Throws<ArgumentException>(() => Gemm.Nt(new float[5], new float[6], new float[6], 2, 3, 3, false));
        Assert.Contains("A[m,k]", e.Message);
        Assert.Contains("needs 6", e.Message);
        Assert.Throws<ArgumentException>(() => Gemm.Run(KernelInfo.Best, GemmKernel.Packed, GemmForm.Nn, new float[6], new float[6], new float[4], 2, 2, 3, false, new float[1], default(IdentityOp), default));
    }

    [Fact]
    public void Gemm_WithEmptyDimensions_DoesNothing_AndKZeroGivesZero()
    {
        var c = new float[] { 1, 2 };
        Gemm.Nn(Array.Empty<float>(), Array.Empty<float>(), c, 0, 0, 0, false);
        Gemm.Nn(Array.Empty<float>(), Array.Empty<float>(), c, 1, 2, 0, accumulate: true);
        Assert.Equal(new float[] { 1, 2 }, c);
        Gemm.Nn(Array.Empty<float>(), Array.Empty<float>(), c, 1, 2, 0, accumulate: false);
        Assert.Equal(new float[] { 0, 0 }, c);
    }
}

public class GemmVariantTests
{
    [Fact]
    public void Factory_ListsEverySupportedVariant_AndTheBestIsPackedOnTheWidestVectors()
    {
        Assert.Equal(5, GemmVariants.All.Count);
        Assert.Equal(GemmVariants.All.Select(v => v.Name).Distinct().Count(), GemmVariants.All.Count);
        Assert.Contains(GemmVariants.Supported, v => v is GemmPortable);
        Assert.All(GemmVariants.Supported, v => Assert.Contains(v.Isa, KernelInfo.Supported));
        Assert.Equal(KernelInfo.Best, GemmVariants.Best.Isa);
        Assert.Equal(KernelInfo.Best == KernelIsa.Portable ? GemmKernel.RegisterBlocked : GemmKernel.Packed, GemmVariants.Best.Technique);
        Assert.Equal(KernelInfo.Best switch { KernelIsa.Avx512 => "GemmAvx512Packed", KernelIsa.Avx2 => "GemmAvx2Packed", _ => "GemmPortable" }, GemmVariants.Best.Name);
    }

    [Fact]
    public void EveryVariant_ComputesTheSameProduct_WithinRounding()
    {
        const int m = 37, n = 45, k = 29;
        float[] a = Reference.Random(m * k, 1), b = Reference.Random(n * k, 2);
        float[] expected = new float[m * n];
        new GemmPortable().Run(GemmForm.Nt, a, b, expected, m, n, k, accumulate: false);
        foreach (GemmVariant variant in GemmVariants.Supported)
        {
            float[] c = new float[m * n];
            variant.Run(GemmForm.Nt, a, b, c, m, n, k, accumulate: false);
            for (int i = 0; i < c.Length; i++) Assert.True(Math.Abs(c[i] - expected[i]) <= 1e-5f * (1 + Math.Abs(expected[i])), $"{variant} [{i}]");
        }
    }
}

/// <summary>
/// The packed engine with other geometries than the machine's own: the AVX-512 tile heights (12 and 8 rows of 2
/// vectors) run on 256-bit vectors, and tiny depth and column blocks make small matrices cross many blocks (a later
/// depth block adds into C; the epilogue runs on the last one only). Runs wherever AVX2 is available.
/// </summary>
public unsafe class PackedGeometryTests
{
    /// <summary>(MR, KC, NC, DeepKC, Wide): (12, 5, 48, 16) and (6, 7, 24, 20) take deeper blocks for a row-major A
    /// (Nt, Nn) with B packed — at k = 40, 3 blocks of 14 (and 2 of 20), each 16 columns wide; the wide ones give a
    /// copied A (Tn) under more than NC columns one column block across them (at n = 50: 12 deep, and 3), where the
    /// others keep its panels across column blocks. InPlaceStride 0 packs every k-major B (Nn, Tn) under more rows than
    /// a tile, 8 reads in place only those of fewer than 8 columns, and with InPlaceBatch 13 those under fewer than 13
    /// rows; the rest read every such B in place, except that InPlaceStrideRows 13 (the last item) reads one in place
    /// by its stride only under fewer than 13 rows. CopyStride (the eighth item): a k-major B that is packed, its rows
    /// fewer floats apart than that, is copied by the first row panel while it reads B in place (20: at n ≤ 17 only). Then
    /// the C prefetch limits: floats of C above which, and the depth of block from which, C's tiles are prefetched
    /// before they are stored (0, 0: every tile; 40, 10: a C of more than 40 floats under blocks at least 10 deep);
    /// then the floats of a Tn's A above which the next group of its panels is prefetched (300: from m·k = 301); last,
    /// how many of a Tn's A panels are copied together (1 and 2 here; the AVX2 row's 8 groups 48 rows, more than these
    /// shapes have: the 1..67 sweep on the machine's own geometry covers it).</summary>
    public static IEnumerable<object[]> Geometries() =>
        from g in new[]
        {
            (6, 16, 32, 0, false, 1024, 0, 0, 1L << 16, 0, 0L, 4, 0), (12, 16, 32, 0, false, 1024, 0, 0, 1L << 16, 0, 0L, 4, 0),
            (12, 5, 48, 0, false, 1024, 0, 0, 1L << 16, 0, 0L, 4, 0), (6, 384, 256, 1024, false, 256, 64, 512, 4096, 192, 1L << 16, 8, 65),
            (12, 256, 512, 1024, true, 1024, 0, 0, 1L << 16, 0, 0L, 4, 0), (6, 7, 24, 0, false, 1024, 0, 0, 1L << 16, 0, 0L, 4, 0),
            (12, 5, 48, 16, false, 1024, 0, 0, 1L << 16, 0, 0L, 4, 0), (6, 7, 24, 20, false, 1024, 0, 0, 1L << 16, 0, 0L, 4, 0),
            (12, 16, 32, 0, true, 1024, 0, 0, 1L << 16, 0, 0L, 4, 0), (6, 7, 24, 0, true, 1024, 0, 0, 1L << 16, 0, 0L, 4, 0),
            (6, 16, 32, 0, false, 0, 0, 0, 1L << 16, 0, 0L, 4, 0), (12, 5, 48, 16, true, 8, 0, 0, 1L << 16, 0, 0L, 4, 0),
            (6, 7, 24, 0, false, 0, 13, 0, 1L << 16, 0, 0L, 4, 0), (6, 16, 32, 0, false, 0, 0, 1024, 1L << 16, 0, 0L, 4, 0),
            (12, 5, 48, 16, true, 8, 0, 1024, 1L << 16, 0, 0L, 4, 0), (6, 7, 24, 0, false, 0, 13, 20, 1L << 16, 0, 0L, 4, 0),
            (6, 16, 32, 0, false, 1024, 0, 0, 0, 0, 0L, 4, 0), (12, 5, 48, 16, true, 0, 0, 1024, 40, 10, 0L, 4, 0),
            (6, 16, 32, 0, false, 0, 0, 1024, 4096, 192, 300L, 4, 0), (6, 7, 24, 0, false, 1024, 0, 0, 1L << 16, 0, 0L, 2, 0),
            (6, 7, 24, 0, false, 1024, 0, 0, 40, 10, 0L, 1, 0), (6, 7, 24, 0, false, 1024, 0, 20, 1L << 16, 0, 0L, 4, 13),
        }
        from form in new[] { GemmForm.Nt, GemmForm.Nn, GemmForm.Tn }
        select new object[] { g.Item1, g.Item2, g.Item3, g.Item4, g.Item5, g.Item6, g.Item7, g.Item8, g.Item9, g.Item10, g.Item11, g.Item12, g.Item13, form };

    [Theory]
    [MemberData(nameof(Geometries))]
    public void SmallBlocks_EveryTileHeightAndWidth_MatchDoubleReference(int mr, int kc, int nc, int deepKc, bool wide, int inPlaceStride,
        int inPlaceBatch, int copyStride, long cPrefetchFloats, int cPrefetchDepth, long aPrefetchFloats, int panelGroup, int inPlaceStrideRows, GemmForm form)
    {
        if (!PackedEngineRuns()) return;
        var geometry = new GemmPacked.Geometry(mr, kc, nc, deepKc, wide, inPlaceStride, inPlaceBatch, copyStride, cPrefetchFloats, cPrefetchDepth, aPrefetchFloats,
            PanelGroup: panelGroup, InPlaceStrideRows: inPlaceStrideRows);
        int[] ms = { 1, 2, 3, 5, 6, 7, 8, 11, 12, 13, 19, 25, 40 };
        int[] ns = { 1, 7, 8, 9, 16, 17, 33, 50 };
        int[] ks = { 1, 6, 17, 40 };
        int index = 0;
        foreach (int m in ms)
            foreach (int n in ns)
                foreach (int k in ks)
                {
                    bool accumulate = index % 2 == 1, epilogue = index % 3 == 0;
                    index++;
                    float[] a = Reference.Random(m * k, m + 31 * k), b = Reference.Random(n * k, n + 17 * k), c = Reference.Random(m * n, 5);
                    float[] bias = Reference.Random(n, 7), z = new float[m * n];
                    double[] expected = GemmTests.Product(form, accumulate, a, b, c, m, n, k, out double[] magnitude);
                    if (epilogue)
                        for (int i = 0; i < m * n; i++) { expected[i] += bias[i % n]; magnitude[i] += Math.Abs(bias[i % n]); }
                    fixed (float* pa = a, pb = b, pc = c, pbias = bias, pz = z)
                    {
                        if (epilogue)
                            GemmPacked.RunWith(geometry, KernelIsa.Avx2, form, pa, pb, pc, m, n, k, accumulate, pbias, default(Activations.TanhOp), pz, 0, n);
                        else
                            GemmPacked.RunWith(geometry, KernelIsa.Avx2, form, pa, pb, pc, m, n, k, accumulate, null, default(IdentityOp), null, 0, n);
                    }
                    for (int i = 0; i < m * n; i++)
                    {
                        double tolerance = 2e-6 * magnitude[i] + 1e-6;
                        string where = $"MR={mr} KC={kc} NC={nc} DeepKC={deepKc} Wide={wide} InPlace<{inPlaceStride}/{inPlaceBatch}/{inPlaceStrideRows} Copy<{copyStride} CPrefetch>{cPrefetchFloats}/{cPrefetchDepth} APrefetch>{aPrefetchFloats} PanelGroup={panelGroup} {form} m={m} n={n} k={k} accumulate={accumulate} epilogue={epilogue} [{i}]";
                        if (epilogue)
                        {
                            Assert.True(Math.Abs(z[i] - expected[i]) <= tolerance, $"{where}: pre-activation {z[i]:R} vs {expected[i]:R}");
                            Assert.True(Math.Abs(c[i] - Math.Tanh(expected[i])) <= tolerance + 1e-6, $"{where}: {c[i]:R} vs tanh {Math.Tanh(expected[i]):R}");
                        }
                        else
                        {
                            Assert.True(Math.Abs(c[i] - expected[i]) <= tolerance, $"{where}: {c[i]:R} vs {expected[i]:R}");
                        }
                    }
                }
    }

    [Fact]
    public void ColumnRange_WritesOnlyThoseColumns()
    {
        if (!PackedEngineRuns()) return;
        const int m = 9, n = 70, k = 13;
        float[] a = Reference.Random(m * k, 1), b = Reference.Random(n * k, 2), c = new float[m * n], full = new float[m * n];
        Array.Fill(c, 42f);
        fixed (float* pa = a, pb = b, pc = c, pf = full)
        {
            GemmPacked.RunWith(GemmPacked.Avx2, KernelIsa.Avx2, GemmForm.Nt, pa, pb, pc, m, n, k, false, null, default(IdentityOp), null, 19, 53);
            GemmPacked.RunWith(GemmPacked.Avx2, KernelIsa.Avx2, GemmForm.Nt, pa, pb, pf, m, n, k, false, null, default(IdentityOp), null, 0, n);
        }
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
                Assert.Equal(j is >= 19 and < 53 ? full[i * n + j] : 42f, c[i * n + j]);
    }

    /// <summary>Whether this process can run the packed engine; where it cannot (every intrinsic switched off), the
    /// factory must not offer a packed variant either — that is what such a run checks.</summary>
    private static bool PackedEngineRuns()
    {
        if (KernelInfo.Supported.Contains(KernelIsa.Avx2)) return true;
        Assert.DoesNotContain(GemmVariants.Supported, v => v.Technique == GemmKernel.Packed);
        return false;
    }

    [Fact]
    public void Geometry_OutsideTheScratchLimits_IsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(5, 16, 32)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 385, 32)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(12, 384, 513)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(12, 256, 512, 255)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(12, 256, 512, 1025)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(12, 384, 512, 0, Wide: true)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 16, 32, InPlaceStride: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 16, 32, CopyStride: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 16, 32, CPrefetchFloats: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 16, 32, CPrefetchDepth: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 16, 32, APrefetchFloats: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 16, 32, TransposedNt: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 16, 32, PanelGroup: 3)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 16, 32, PanelGroup: 16)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 16, 32, InPlaceBatch: -1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => RunOne(new GemmPacked.Geometry(6, 16, 32, InPlaceStrideRows: -1)));
    }

    /// <summary>The group copy of a k-major A stores several depths of a panel at once (four of a 6-row panel, two of a
    /// 12-row one): every depth count around those steps, every group size, each panel exactly its columns of every
    /// depth and nothing else written — the padding between panels and after the last keeps its sentinel.</summary>
    [Theory]
    [InlineData(6)]
    [InlineData(12)]
    public void KMajorGroupCopy_LaysOutEveryDepth_AndWritesOnlyThePanels(int rows)
    {
        const float Sentinel = -12345f;
        foreach (int group in new[] { 1, 2, 4, 8 })
            foreach (int kc in new[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 13, 37 })
            {
                int ld = group * rows + 5, stride = GemmPacked.GroupPanelStride(rows, kc);
                float[] source = Reference.Random(kc * ld, kc * 31 + group);
                float[] panels = new float[group * stride + 16];
                Array.Fill(panels, Sentinel);
                fixed (float* s = source)
                fixed (float* p = panels)
                    GemmPacked.PackKMajorGroup(s + 3, ld, rows, kc, stride, p, group);
                for (int q = 0; q < group; q++)
                    for (int i = 0; i < stride; i++)
                    {
                        float got = panels[q * stride + i];
                        if (i < kc * rows)
                        {
                            int depth = i / rows, row = i % rows;
                            Assert.True(source[depth * ld + 3 + q * rows + row] == got, $"rows {rows}, group {group}, kc {kc}: panel {q} depth {depth} row {row} is {got}");
                        }
                        else Assert.True(got == Sentinel, $"rows {rows}, group {group}, kc {kc}: panel {q} padding [{i}] written ({got})");
                    }
                for (int i = group * stride; i < panels.Length; i++) Assert.Equal(Sentinel, panels[i]);
            }
    }

    private static void RunOne(GemmPacked.Geometry geometry)
    {
        float x = 1f;
        GemmPacked.RunWith(geometry, KernelIsa.Avx2, GemmForm.Nn, &x, &x, &x, 1, 1, 1, false, null, default(IdentityOp), null, 0, 1);
    }
}

public class MaskedLaneTests
{
    [Fact]
    public void LoadFirstAndStoreFirst_TouchExactlyTheFirstLanes_OnEveryVectorWidth()
    {
        if (KernelInfo.Supported.Contains(KernelIsa.Avx2)) Check<System.Runtime.Intrinsics.Vector256<float>, Simd256>();
        if (KernelInfo.Supported.Contains(KernelIsa.Avx512)) Check<System.Runtime.Intrinsics.Vector512<float>, Simd512>();
        Check<float, SimdScalar>();
    }

    private static void Check<TVec, TSimd>() where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        for (int count = 1; count <= w; count++)
        {
            float[] source = Enumerable.Range(1, w).Select(i => (float)i).ToArray();
            TVec loaded = TSimd.LoadFirst(ref source[0], count);
            float[] all = new float[w];
            TSimd.Store(loaded, ref all[0]);
            for (int i = 0; i < w; i++) Assert.Equal(i < count ? i + 1 : 0f, all[i]);

            float[] target = Enumerable.Repeat(-7f, w + 1).ToArray();
            TSimd.StoreFirst(TSimd.Broadcast(3f), ref target[0], count);
            for (int i = 0; i <= w; i++) Assert.Equal(i < count ? 3f : -7f, target[i]);
        }
    }
}

public class ShapedGemmTests
{
    private readonly struct Shape37x45x29 : IGemmShape { public static int M => 37; public static int N => 45; public static int K => 29; }
    private readonly struct Shape64x10x128 : IGemmShape { public static int M => 64; public static int N => 10; public static int K => 128; }

    [Theory]
    [InlineData(GemmForm.Nt)]
    [InlineData(GemmForm.Nn)]
    [InlineData(GemmForm.Tn)]
    public void TypeLevelShape_GivesTheSameBitsAsRunTimeSizes(GemmForm form)
    {
        Check<Shape37x45x29>(form);
        if (form != GemmForm.Tn) Check<Shape64x10x128>(form); // a narrow Tn runs transposed with run-time sizes only
    }

    private static void Check<TShape>(GemmForm form) where TShape : struct, IGemmShape
    {
        int m = TShape.M, n = TShape.N, k = TShape.K;
        float[] a = Reference.Random(m * k, 1), b = Reference.Random(n * k, 2), bias = Reference.Random(n, 3);
        float[] runtime = Reference.Random(m * n, 4), shaped = (float[])runtime.Clone();
        Gemm.Run(KernelInfo.Best, GemmKernel.Packed, form, a, b, runtime, m, n, k, true, bias, default(Activations.ReluOp), default);
        Gemm.Run<TShape, Activations.ReluOp>(KernelInfo.Best, form, a, b, shaped, true, bias, default, default);
        Assert.Equal(runtime, shaped);
    }

    [Fact]
    public void TypeLevelShape_RejectsSpansShorterThanTheShape()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            Gemm.Run<Shape37x45x29, IdentityOp>(KernelInfo.Best, GemmForm.Nt, new float[37 * 29], new float[45 * 29 - 1], new float[37 * 45], false, default, default, default));
        Assert.Contains("B[n,k]", e.Message);
    }
}

public class PanelPrefetchTests
{
    /// <summary>Tn's copied A: the panels of one group, between them, ask for every depth row of the next group's
    /// columns once (its first column, each row m floats apart), spread over their tiles with none left out; nothing
    /// when there is no whole next group, or when A is read in place.</summary>
    [Fact]
    public unsafe void KMajorA_PanelsOfAGroup_PrefetchEveryRowOfTheNextGroupOnce()
    {
        const int m = 200;
        float* a = (float*)0x1000000;  // never read: the plan is only addresses
        var source = new KMajorA(a, m);
        foreach (int rows in new[] { 12, 6 })
            foreach (var (pc, kc) in new[] { (0, 171), (171, 129), (40, 7) })
            {
                int span = GemmPacked.PanelGroup * rows;
                for (int first = 0; first < m; first += span)
                {
                    var seen = new int[kc];
                    for (int q = 0; q < GemmPacked.PanelGroup; q++)
                    {
                        PanelPrefetch ahead = source.Ahead(first + q * rows, rows, pc, kc, m);
                        if (first + 2 * span > m)
                        {
                            Assert.False(ahead.Any, $"rows={rows} group at {first}: no whole next group, yet a prefetch");
                            continue;
                        }
                        Assert.True(ahead.Rows > 0 || kc < GemmPacked.PanelGroup);
                        if (!ahead.Any) continue;
                        long offset = ahead.Start - a, depth = offset / m;
                        Assert.Equal(first + span, offset % m);
                        for (int tiles = 1; tiles <= 5; tiles += 4)
                        {
                            var covered = new int[ahead.Rows];
                            for (int t = 0; t < tiles; t++)
                            {
                                var (from, to) = ahead.Share(t, tiles);
                                for (int r = from; r < to; r++) covered[r]++;
                            }
                            Assert.All(covered, x => Assert.Equal(1, x));
                        }
                        for (int r = 0; r < ahead.Rows; r++) seen[depth - pc + r]++;
                    }
                    if (first + 2 * span <= m) Assert.All(seen, x => Assert.Equal(1, x));
                }
            }
        Assert.False(new KMajorA(a, 10).Ahead(0, 12, 0, 100, 10).Any);
    }
}

public class TransposeTests
{
    /// <summary>The narrow tile transpose (16 × 16 in registers, masked stores): every row and column count up to 16,
    /// exact, and nothing written past the first rows of each output row or past the last column.</summary>
    [Fact]
    public unsafe void NarrowTranspose_WritesExactlyTheTile()
    {
        if (!System.Runtime.Intrinsics.X86.Avx512F.IsSupported)
        {
            Assert.False(KernelInfo.Supported.Contains(KernelIsa.Avx512));
            return;
        }
        float[] source = Reference.Random(16 * 32, seed: 11);
        for (int rows = 1; rows <= 16; rows++)
            for (int cols = 1; cols <= 16; cols++)
            {
                const int ld = 19;
                float[] destination = Enumerable.Repeat(-7f, 17 * ld).ToArray();
                fixed (float* src = source, dst = destination) Transpose.Narrow16(src, 32, dst, ld, rows, cols);
                for (int c = 0; c < 17; c++)
                    for (int r = 0; r < ld; r++)
                    {
                        float expected = c < cols && r < rows ? source[r * 32 + c] : -7f;
                        Assert.True(expected == destination[c * ld + r], $"rows={rows} cols={cols}: [{c}, {r}] = {destination[c * ld + r]}, expected {expected}");
                    }
            }
    }

    [Theory]
    [MemberData(nameof(Reference.Variants), MemberType = typeof(Reference))]
    public void Transpose_IsExact_ForEveryShapeUpTo40(KernelIsa isa)
    {
        for (int rows = 0; rows <= 40; rows++)
            for (int cols = 0; cols <= 40; cols += rows % 3 + 1)
            {
                float[] source = Reference.Random(rows * cols, seed: rows * 100 + cols);
                var destination = new float[rows * cols];
                Transpose.Run(isa, source, rows, cols, destination);
                for (int r = 0; r < rows; r++)
                    for (int c = 0; c < cols; c++)
                        Assert.Equal(source[r * cols + c], destination[c * rows + r]);
            }
    }
}

public class ThreadedGemmTests
{
    [Theory]
    [InlineData(GemmForm.Nt)]
    [InlineData(GemmForm.Nn)]
    [InlineData(GemmForm.Tn)]
    public void TwoThreads_GiveTheSameBitsAsOne(GemmForm form)
    {
        foreach (var (m, n, k) in new[] { (64, 256, 784), (100, 130, 257), (200, 600, 33) })
        {
            float[] a = Reference.Random(m * k, 1), b = Reference.Random(n * k, 2), bias = Reference.Random(n, 3);
            float[] one = new float[m * n], two = new float[m * n];
            Gemm.Run(KernelInfo.Best, GemmKernel.Auto, form, a, b, one, m, n, k, false, bias, default(Activations.ReluOp), default, threads: 1);
            Gemm.Run(KernelInfo.Best, GemmKernel.Auto, form, a, b, two, m, n, k, false, bias, default(Activations.ReluOp), default, threads: 2);
            if (KernelInfo.Best != KernelIsa.Portable && Gemm.Partitions(2, m, n, k) == 2)
            {
                // The same packed kernel on disjoint column ranges: identical bits.
                float[] packed = new float[m * n];
                Gemm.Run(KernelInfo.Best, GemmKernel.Packed, form, a, b, packed, m, n, k, false, bias, default(Activations.ReluOp), default, threads: 1);
                Assert.Equal(packed, two);
            }
            for (int i = 0; i < one.Length; i++) Assert.True(Math.Abs(one[i] - two[i]) <= 1e-4f * (1 + Math.Abs(one[i])), $"{form} {m}x{n}x{k} [{i}]");
        }
    }

    /// <summary>A matrix-vector product (one row, Nt) with a large enough B is split by columns between the threads: each
    /// part runs the register-blocked kernel and the epilogue (bias, pre-activation copy, activation) on its own slice.</summary>
    [Theory]
    [InlineData(256, 784, false)]
    [InlineData(300, 1000, false)]
    [InlineData(130, 520, true)]
    [InlineData(1000, 77, true)]
    public void MatrixVector_SplitBetweenThreads_MatchesTheReference(int n, int k, bool accumulate)
    {
        int expectedParts = KernelInfo.Best == KernelIsa.Portable ? 1 : Math.Min(2, KernelThreads.MaxThreads);
        Assert.Equal(expectedParts, Gemm.MatrixVectorPartitions(GemmKernel.Auto, GemmForm.Nt, 2, 1, n, k, KernelInfo.Best));
        Assert.Equal(1, Gemm.MatrixVectorPartitions(GemmKernel.Auto, GemmForm.Nt, 2, 2, n, k, KernelInfo.Best));
        Assert.Equal(1, Gemm.MatrixVectorPartitions(GemmKernel.Auto, GemmForm.Nn, 2, 1, n, k, KernelInfo.Best));
        float[] a = Reference.Random(k, 1), b = Reference.Random(n * k, 2), bias = Reference.Random(n, 3), start = Reference.Random(n, 4);
        float[] two = (float[])start.Clone(), pre = new float[n];
        Gemm.Run(KernelInfo.Best, GemmKernel.Auto, GemmForm.Nt, a, b, two, 1, n, k, accumulate, bias, default(Activations.GeluOp), pre, threads: 2);

        var expectedPre = new double[n];
        var expected = new double[n];
        for (int j = 0; j < n; j++)
        {
            double sum = accumulate ? start[j] : 0;
            for (int p = 0; p < k; p++) sum += (double)a[p] * b[j * k + p];
            expectedPre[j] = sum + bias[j];
            expected[j] = ReferenceMath.Gelu(expectedPre[j]);
        }
        Reference.AssertClose(expectedPre, pre, relative: 1e-5, absolute: 1e-4, "pre-activation");
        Reference.AssertClose(expected, two, relative: 1e-5, absolute: 1e-4, "GELU output");

        float[] one = (float[])start.Clone(), preOne = new float[n];
        Gemm.Run(KernelInfo.Best, GemmKernel.Auto, GemmForm.Nt, a, b, one, 1, n, k, accumulate, bias, default(Activations.GeluOp), preOne, threads: 1);
        for (int j = 0; j < n; j++) Assert.True(Math.Abs(one[j] - two[j]) <= 1e-5f * (1 + Math.Abs(one[j])), $"[{j}] one thread {one[j]}, two {two[j]}");
    }

    [Fact]
    public void ThreadedRun_AllocatesNothing_AfterWarmUp()
    {
        float[] a = Reference.Random(64 * 784, 1), b = Reference.Random(256 * 784, 2), c = new float[64 * 256];
        for (int i = 0; i < 3; i++) Gemm.Run(KernelInfo.Best, GemmKernel.Auto, GemmForm.Nt, a, b, c, 64, 256, 784, false, default, default(IdentityOp), default, threads: 2);
        float[] vector = new float[256];
        for (int i = 0; i < 3; i++) Gemm.Run(KernelInfo.Best, GemmKernel.Auto, GemmForm.Nt, a, b, vector, 1, 256, 784, false, default, default(IdentityOp), default, threads: 2);
        long bytes = Allocations.SteadyState(() =>
        {
            for (int i = 0; i < 10; i++) Gemm.Run(KernelInfo.Best, GemmKernel.Auto, GemmForm.Nt, a, b, c, 64, 256, 784, false, default, default(IdentityOp), default, threads: 2);
            for (int i = 0; i < 10; i++) Gemm.Run(KernelInfo.Best, GemmKernel.Auto, GemmForm.Nt, a, b, vector, 1, 256, 784, false, default, default(IdentityOp), default, threads: 2);
        }, out string rounds);
        Assert.True(bytes == 0, $"bytes per round of 10 threaded products and 10 threaded matrix-vector products: {rounds}");
    }
}
