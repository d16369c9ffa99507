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
}
