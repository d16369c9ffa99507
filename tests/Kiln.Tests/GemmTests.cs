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
    /// <summary>Every (ISA, kernel) pair this machine runs: the packed kernel needs vectors.</summary>
    public static IEnumerable<(KernelIsa Isa, GemmKernel Kernel)> Variants() =>
        from isa in KernelInfo.Supported
        from kernel in new[] { GemmKernel.Packed, GemmKernel.RegisterBlocked, GemmKernel.Auto }
        where kernel != GemmKernel.Packed || isa != KernelIsa.Portable
        select (isa, kernel);

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
        foreach (var (m, n, k) in new[] { (64, 256, 784), (64, 128, 256), (64, 10, 128), (32, 512, 128), (1, 512, 512), (100, 37, 300), (13, 600, 5), (97, 33, 513) })
            Check(isa, kernel, form, accumulate, m, n, k);
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
        foreach (var (m, n, k) in new[] { (5, 7, 3), (12, 32, 17), (64, 256, 300), (13, 40, 0), (25, 600, 9) })
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
    private static double[] Product(GemmForm form, bool accumulate, float[] a, float[] b, float[] c, int m, int n, int k, out double[] magnitude)
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

public class TransposeTests
{
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

    [Fact]
    public void ThreadedRun_AllocatesNothing_AfterWarmUp()
    {
        float[] a = Reference.Random(64 * 784, 1), b = Reference.Random(256 * 784, 2), c = new float[64 * 256];
        for (int i = 0; i < 3; i++) Gemm.Run(KernelInfo.Best, GemmKernel.Auto, GemmForm.Nt, a, b, c, 64, 256, 784, false, default, default(IdentityOp), default, threads: 2);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) Gemm.Run(KernelInfo.Best, GemmKernel.Auto, GemmForm.Nt, a, b, c, 64, 256, 784, false, default, default(IdentityOp), default, threads: 2);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
