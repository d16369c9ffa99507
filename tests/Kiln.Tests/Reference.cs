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

    /// <summary>Every value within 2e−5 of the reference, relative to the larger of 1 and its magnitude.</summary>
    public static void AssertClose(double[] expected, float[] actual, string what)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= 2e-5 * Math.Max(1, Math.Abs(expected[i])), $"{what}[{i}]: {actual[i]:R}, reference {expected[i]:R}");
    }

    /// <summary>Central differences (step 1e−5) of a double-precision <paramref name="loss"/> over every element of
    /// <paramref name="theta"/> against the analytic gradient: relative error below <paramref name="tolerance"/>.</summary>
    public static void CheckGradient(double[] theta, float[] analytic, Func<double> loss, string what, double tolerance = 2e-3)
    {
        const double step = 1e-5;
        for (int i = 0; i < theta.Length; i++)
        {
            double saved = theta[i];
            theta[i] = saved + step;
            double up = loss();
            theta[i] = saved - step;
            double down = loss();
            theta[i] = saved;
            double fd = (up - down) / (2 * step);
            double error = Math.Abs(analytic[i] - fd) / Math.Max(Math.Max(Math.Abs(analytic[i]), Math.Abs(fd)), 1e-3);
            Assert.True(error < tolerance, $"{what}[{i}]: backward {analytic[i]:R}, finite difference {fd:R} (relative error {error:E2})");
        }
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
}
