using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Kernels;
using Xunit;

namespace Kiln.Tests;

/// <summary>Scalar double-precision references (the test oracles) and shared test data.</summary>
internal static class Reference
{
    public static IEnumerable<object[]> Variants() => KernelInfo.Supported.Select(v => new object[] { v });

    public static float[] Random(int length, int seed, float scale = 1f)
    {
        var random = new KilnRandom(seed);
        var values = new float[length];
        for (int i = 0; i < length; i++) values[i] = random.Uniform(-scale, scale);
        return values;
    }

    public static void AssertClose(ReadOnlySpan<double> expected, ReadOnlySpan<float> actual, double relative, double absolute, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]);
            if (!(error <= absolute + relative * Math.Abs(expected[i])) && !(double.IsNaN(expected[i]) && float.IsNaN(actual[i])))
                Assert.Fail($"{what}: element {i} is {actual[i]:R}, expected {expected[i]:R} (error {error:E2})");
        }
    }

    public static double Gelu(double x) => 0.5 * x * (1 + Erf(x / Math.Sqrt(2)));
    public static double GeluGrad(double x) => 0.5 * (1 + Erf(x / Math.Sqrt(2))) + x * Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
    public static double GeluTanh(double x) => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    public static double GeluTanhGrad(double x)
    {
        double u = Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x), t = Math.Tanh(u);
        return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * Math.Sqrt(2 / Math.PI) * (1 + 3 * 0.044715 * x * x);
    }
    public static double Sigmoid(double x) => 1 / (1 + Math.Exp(-x));

    /// <summary>erf to double precision (series / continued fraction).</summary>
    public static double Erf(double x)
    {
        double ax = Math.Abs(x);
        double result;
        if (ax < 2.5)
        {
            double sum = 0, term = ax;
            for (int n = 0; n < 200; n++)
            {
                sum += term / (2 * n + 1);
                term *= -ax * ax / (n + 1);
                if (Math.Abs(term) < 1e-17) break;
            }
            result = 2 / Math.Sqrt(Math.PI) * sum;
        }
        else
        {
            // erfc continued fraction (Lentz), accurate for large |x|.
            double f = ax, c = ax, d = 0, tiny = 1e-300;
            for (int n = 1; n < 300; n++)
            {
                double an = n / 2.0;
                d = ax + an * d; d = Math.Abs(d) < tiny ? tiny : d; d = 1 / d;
                c = ax + an / c; c = Math.Abs(c) < tiny ? tiny : c;
                double delta = c * d; f *= delta;
                if (Math.Abs(delta - 1) < 1e-16) break;
            }
            result = 1 - Math.Exp(-ax * ax) / Math.Sqrt(Math.PI) / f;
        }
        return x < 0 ? -result : result;
    }
}
