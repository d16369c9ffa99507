using System;
using System.Collections.Generic;
using System.Linq;
using System.Runtime.Intrinsics;
using Kiln.Kernels;
using Xunit;

namespace Kiln.Tests;

/// <summary>The shared transcendentals and the clamp under them, on every ISA this machine runs: each lane of a
/// vector is checked against double precision, with NaN, infinities and the clamp edges in every lane position.</summary>
public class FastMathTests
{
    public static IEnumerable<object[]> Isas() => KernelInfo.Supported.Select(isa => new object[] { isa });

    private static readonly float[] Special =
        [float.NaN, float.PositiveInfinity, float.NegativeInfinity, 0f, -0f, 88.7f, 88.71f, -87.3f, -87.31f, 1e30f, -1e30f, 1f, -1f, 20f];

    private static float[] Apply(KernelIsa isa, float[] x, Func<Vector512<float>, Vector512<float>> v512,
        Func<Vector256<float>, Vector256<float>> v256, Func<float, float> scalar)
    {
        var y = new float[x.Length];
        int w = isa switch { KernelIsa.Avx512 => 16, KernelIsa.Avx2 => 8, _ => 1 };
        int padded = (x.Length + w - 1) / w * w;
        var input = new float[padded];
        x.CopyTo(input, 0);
        var output = new float[padded];
        for (int i = 0; i < padded; i += w)
        {
            if (isa == KernelIsa.Avx512) v512(Vector512.Create(input.AsSpan(i, 16))).CopyTo(output.AsSpan(i));
            else if (isa == KernelIsa.Avx2) v256(Vector256.Create(input.AsSpan(i, 8))).CopyTo(output.AsSpan(i));
            else output[i] = scalar(input[i]);
        }
        Array.Copy(output, y, x.Length);
        return y;
    }

    /// <summary>Every special value in every lane position: the values rotated through a vector's worth of slots.</summary>
    private static float[] Rotations()
    {
        var x = new List<float>();
        for (int shift = 0; shift < 16; shift++)
            for (int i = 0; i < 16; i++) x.Add(Special[(i + shift) % Special.Length]);
        return x.ToArray();
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Clamp_IsMinOfMax_AndLetsNaNThrough(KernelIsa isa)
    {
        float[] x = Rotations();
        float[] y = Apply(isa, x,
            v => Simd512.Clamp(v, Vector512.Create(-4f), Vector512.Create(4f)),
            v => Simd256.Clamp(v, Vector256.Create(-4f), Vector256.Create(4f)),
            v => SimdScalar.Clamp(v, -4f, 4f));
        for (int i = 0; i < x.Length; i++)
        {
            if (float.IsNaN(x[i])) Assert.True(float.IsNaN(y[i]), $"clamp(NaN) at {i} is {y[i]}");
            else Assert.Equal(Math.Clamp(x[i], -4f, 4f), y[i]);
        }
    }

    [Theory]
    [MemberData(nameof(Isas))]
    public void Exp_MatchesDoublePrecision_AndSaturatesAtTheClampEdges(KernelIsa isa)
    {
        var rng = new Random(11);
        float[] x = Rotations().Concat(Enumerable.Range(0, 400).Select(_ => (float)(rng.NextDouble() * 180 - 90))).ToArray();
        float[] y = Apply(isa, x, Simd512.Exp, Simd256.Exp, SimdScalar.Exp);
        for (int i = 0; i < x.Length; i++)
        {
            float v = x[i];
            if (float.IsNaN(v)) { Assert.True(float.IsNaN(y[i]), $"exp(NaN) at {i} is {y[i]}"); continue; }
            // e^x of x clamped to the float bounds [-87.3f, 88.7f]: finite and positive for every input but NaN.
            double expected = Math.Exp(Math.Clamp(v, -87.3f, 88.7f));
            Assert.True(Math.Abs(y[i] - expected) <= 1e-6 * expected, $"exp({v}) = {y[i]}, expected {expected}");
        }
    }
}
