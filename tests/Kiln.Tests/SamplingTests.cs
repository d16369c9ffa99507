using System;
using System.Linq;
using Xunit;

namespace Kiln.Tests;

/// <summary>Drawing tokens from logits: the frequencies follow softmax(logits / T), top-k excludes all but the k most
/// likely, the same generator state gives the same draws, and bad arguments are named.</summary>
public class SamplingTests
{
    private static int[] Counts(float[] logits, float temperature, int topK, int draws = 40_000)
    {
        var random = new KilnRandom(3);
        var counts = new int[logits.Length];
        for (int i = 0; i < draws; i++) counts[Sampling.Sample(logits, temperature, topK, random)]++;
        return counts;
    }

    [Theory]
    [InlineData(1f)]
    [InlineData(0.5f)]
    [InlineData(2f)]
    public void Frequencies_FollowTheSoftmaxAtTheTemperature(float temperature)
    {
        float[] logits = { 1f, 2f, 0.5f, -1f };
        int[] counts = Counts(logits, temperature, topK: 0);
        double[] p = logits.Select(l => Math.Exp(l / temperature)).ToArray();
        double total = p.Sum();
        for (int i = 0; i < logits.Length; i++)
            Assert.InRange(counts[i] / 40_000.0, p[i] / total - 0.01, p[i] / total + 0.01);
    }

    [Fact]
    public void TopK_DrawsOnlyTheKMostLikely_InTheirRenormalisedProportions()
    {
        float[] logits = { 1f, 3f, 2f, 0f, 2.5f };
        int[] counts = Counts(logits, 1f, topK: 2);
        Assert.Equal(0, counts[0] + counts[2] + counts[3]);
        double ratio = counts[1] / (double)counts[4];
        Assert.InRange(ratio, Math.Exp(0.5) * 0.95, Math.Exp(0.5) * 1.05);
        Assert.Equal(new[] { 0, 40_000, 0, 0, 0 }, Counts(logits, 1f, topK: 1));
    }

    [Fact]
    public void TheSameGeneratorState_GivesTheSameDraws()
    {
        float[] logits = { 0.1f, 0.2f, 0.3f };
        Assert.Equal(Counts(logits, 1f, 0, 500), Counts(logits, 1f, 0, 500));
    }

    [Fact]
    public void BadArguments_AreRejected()
    {
        var random = new KilnRandom(1);
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampling.Sample(new float[3], 0f, 0, random));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampling.Sample(new float[3], float.NaN, 0, random));
        Assert.Throws<ArgumentOutOfRangeException>(() => Sampling.Sample(new float[3], 1f, -1, random));
        Assert.Throws<ArgumentException>(() => Sampling.Sample(ReadOnlySpan<float>.Empty, 1f, 0, random));
    }
}
