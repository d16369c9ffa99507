using System;
using System.Linq;
using Kiln.Data;
using Xunit;

namespace Kiln.Tests;

public class DataTests
{
    [Fact]
    public void KilnRandom_IsDeterministic_AndRoughlyUniform()
    {
        var a = new KilnRandom(42);
        var b = new KilnRandom(42);
        var c = new KilnRandom(43);
        uint[] first = Enumerable.Range(0, 1000).Select(_ => a.NextUInt()).ToArray();
        Assert.Equal(first, Enumerable.Range(0, 1000).Select(_ => b.NextUInt()).ToArray());
        Assert.NotEqual(first, Enumerable.Range(0, 1000).Select(_ => c.NextUInt()).ToArray());
        var random = new KilnRandom(7);
        double[] values = Enumerable.Range(0, 100_000).Select(_ => (double)random.NextFloat()).ToArray();
        Assert.InRange(values.Average(), 0.49, 0.51);
        Assert.All(values, v => Assert.InRange(v, 0, 0.99999999));
        double[] gaussian = Enumerable.Range(0, 100_000).Select(_ => (double)random.Gaussian()).ToArray();
        Assert.InRange(gaussian.Average(), -0.02, 0.02);
        Assert.InRange(gaussian.Select(g => g * g).Average(), 0.97, 1.03);
    }

    [Fact]
    public void SyntheticDigits_AreDeterministic_Balanced_AndInRange()
    {
        Dataset a = SyntheticDigits.Generate(500, seed: 3);
        Dataset b = SyntheticDigits.Generate(500, seed: 3);
        Assert.Equal(a.Features, b.Features);
        Assert.Equal(a.Labels, b.Labels);
        Assert.All(Enumerable.Range(0, 10), d => Assert.Equal(50, a.Labels.Count(l => l == d)));
        Assert.All(a.Features, v => Assert.InRange(v, 0f, 1f));
        // Every image has ink: the mean brightness of a sample is well above the noise floor.
        Assert.All(Enumerable.Range(0, a.Count), i => Assert.True(a.Sample(i).ToArray().Average() > 0.05, $"sample {i} is blank"));
    }

    [Fact]
    public void Dataset_Gather_CopiesTheChosenSamples()
    {
        var data = new Dataset(new float[] { 1, 2, 3, 4, 5, 6 }, new[] { 0, 1, 2 }, featureSize: 2, classes: 3);
        var x = new float[4];
        var y = new int[2];
        data.Gather(new[] { 2, 0 }, x, y);
        Assert.Equal(new float[] { 5, 6, 1, 2 }, x);
        Assert.Equal(new[] { 2, 0 }, y);
        Assert.Throws<ArgumentException>(() => new Dataset(new float[5], new int[3], 2, 3));
    }
}
