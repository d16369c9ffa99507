using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Kernels;
using Xunit;

namespace Kiln.Tests;

/// <summary>Every GEMM form and variant against a scalar double-precision reference, across tile edges.</summary>
public class GemmTests
{
    public enum Form { Nt, Nn, Tn }

    private static readonly int[] Rows = { 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 64, 67 };
    private static readonly int[] Depths = { 1, 2, 3, 7, 8, 16, 17, 33, 67 };

    public static IEnumerable<object[]> Cases() =>
        from isa in KernelInfo.Supported
        from form in new[] { Form.Nt, Form.Nn, Form.Tn }
        from accumulate in new[] { false, true }
        select new object[] { isa, form, accumulate };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemm_MatchesDoubleReference_AcrossShapes(KernelIsa isa, Form form, bool accumulate)
    {
        foreach (int m in Rows)
        foreach (int n in Rows)
        foreach (int k in Depths)
            Check(isa, form, accumulate, m, n, k);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Gemm_MatchesDoubleReference_AtZooShapes(KernelIsa isa, Form form, bool accumulate)
    {
        foreach (var (m, n, k) in new[] { (64, 256, 784), (64, 128, 256), (64, 10, 128), (1, 256, 784), (32, 512, 128) })
            Check(isa, form, accumulate, m, n, k);
    }

    private static void Check(KernelIsa isa, Form form, bool accumulate, int m, int n, int k)
    {
        float[] a = Reference.Random(m * k, seed: m * 1000 + k);
        float[] b = Reference.Random(n * k, seed: n * 7 + k);
        float[] c = Reference.Random(m * n, seed: 99);
        var expected = new double[m * n];
        var magnitude = new double[m * n];
        for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++)
        {
            double sum = accumulate ? c[i * n + j] : 0, abs = accumulate ? Math.Abs(c[i * n + j]) : 0;
            for (int p = 0; p < k; p++)
            {
                double x = form == Form.Tn ? a[p * m + i] : a[i * k + p];
                double y = form == Form.Nt ? b[j * k + p] : b[p * n + j];
                sum += x * y;
                abs += Math.Abs(x * y);
            }
            expected[i * n + j] = sum;
            magnitude[i * n + j] = abs;
        }
        switch (form)
        {
            case Form.Nt: Gemm.Nt(isa, a, b, c, m, n, k, accumulate); break;
            case Form.Nn: Gemm.Nn(isa, a, b, c, m, n, k, accumulate); break;
            default: Gemm.Tn(isa, a, b, c, m, n, k, accumulate); break;
        }
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - c[i]);
            Assert.True(error <= 1e-6 * magnitude[i] + 1e-6, $"{form} {isa} m={m} n={n} k={k} acc={accumulate}: C[{i}] = {c[i]:R}, expected {expected[i]:R}");
        }
    }

    [Fact]
    public void Gemm_RejectsTooShortSpans_NamingTheShape()
    {
        var e = Assert.Throws<ArgumentException>(() => Gemm.Nt(new float[5], new float[6], new float[6], 2, 3, 3, false));
        Assert.Contains("A[m,k]", e.Message);
        Assert.Contains("needs 6", e.Message);
    }

    [Fact]
    public void Gemm_WithEmptyDimensions_DoesNothing()
    {
        var c = new float[] { 1, 2 };
        Gemm.Nn(Array.Empty<float>(), Array.Empty<float>(), c, 0, 0, 0, false);
        Gemm.Nn(Array.Empty<float>(), Array.Empty<float>(), c, 1, 2, 0, accumulate: true);
        Assert.Equal(new float[] { 1, 2 }, c);
    }
}
