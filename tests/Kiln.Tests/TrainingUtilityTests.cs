using System;
using System.Linq;
using Kiln.Training;
using Xunit;

namespace Kiln.Tests;

public class MetricsTests
{
    [Fact]
    public void Accuracy_AndTopK_CountWhereTheLabelRanks()
    {
        float[] scores = { 0.1f, 0.7f, 0.2f, /**/ 0.5f, 0.3f, 0.2f, /**/ 0.2f, 0.3f, 0.5f, /**/ 0.4f, 0.4f, 0.2f };
        int[] labels = { 1, 1, 0, 1 };
        Assert.Equal(0.5f, Metrics.Accuracy(scores, labels, 3));       // rows 0 and 3 (a tie counts)
        Assert.Equal(1f, Metrics.TopKAccuracy(scores, labels, 3, 3));
        Assert.Equal(0.75f, Metrics.TopKAccuracy(scores, labels, 3, 2)); // row 2's label is third
        Assert.Equal(0.5f, Metrics.Accuracy(new[] { 1, 2, 3, 4 }, new[] { 1, 0, 3, 0 }));
        Assert.Equal(1f, Metrics.ArgMaxAgreement(scores.AsSpan(0, 3), new float[] { 0.2f, 0.8f, 0f }, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.TopKAccuracy(scores, labels, 3, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => Metrics.Accuracy(scores, new[] { 1, 1, 3, 1 }, 3));
    }
}

public class EarlyStoppingTests
{
    [Fact]
    public void StopsAfterPatienceWithoutImprovement_AndRestoresTheBestWeights()
    {
        using var memory = new AlignedBuffer(16);
        var set = new ParameterSet(memory, 0, 4, new[] { new TensorSlice("w", new[] { 4 }, 0) });
        var stopping = new EarlyStopping(patience: 2, minDelta: 0.01f);
        float[] losses = { 1.0f, 0.8f, 0.795f, 0.79f, 0.85f };
        bool[] stop = new bool[losses.Length];
        for (int epoch = 0; epoch < losses.Length; epoch++)
        {
            set.Span.Fill(epoch);
            stop[epoch] = stopping.Update(losses[epoch], set);
        }
        Assert.Equal(new[] { false, false, false, false, true }, stop); // 0.795 and 0.79 improve by less than 0.01
        Assert.Equal(1, stopping.BestEpoch);
        Assert.Equal(0.8f, stopping.Best);
        Assert.True(stopping.RestoreBest(set));
        Assert.All(set.Span.ToArray(), v => Assert.Equal(1f, v));

        var accuracy = new EarlyStopping(patience: 0, higherIsBetter: true);
        Assert.False(accuracy.Update(0.5f, set));
        Assert.True(accuracy.Update(0.4f, set));
    }
}

public class MixupTests
{
    [Fact]
    public void Mixup_MixesFeaturesAndTargetsWithOneLambda_KeepingTargetsDistributions()
    {
        const int rows = 6, features = 3, classes = 4;
        var mixup = new Mixup(rows, features, classes, alpha: 0.4f, seed: 3);
        float[] x = Enumerable.Range(0, rows * features).Select(i => (float)(i / features)).ToArray(); // sample r is all r
        float[] t = new float[rows * classes];
        for (int r = 0; r < rows; r++) t[r * classes + r % classes] = 1f;
        float[] original = x.ToArray();
        mixup.Apply(x, t, rows);
        float lambda = mixup.LastLambda;
        Assert.InRange(lambda, 0f, 1f);
        for (int r = 0; r < rows; r++)
        {
            float sum = t.AsSpan(r * classes, classes).ToArray().Sum();
            Assert.Equal(1f, sum, 5);
            // x_r = λ·r + (1 − λ)·o for one partner o of the batch, the same for every feature.
            float partner = (x[r * features] - lambda * original[r * features]) / (1 - lambda);
            Assert.Contains(Enumerable.Range(0, rows), o => Math.Abs(o - partner) < 1e-3f);
            Assert.Equal(x[r * features], x[r * features + 2]);
        }
    }

    [Fact]
    public void Beta_HasTheRightMean_AndCutMixPastesABoxWithMatchingTargets()
    {
        var random = new KilnRandom(9);
        double[] draws = Enumerable.Range(0, 20000).Select(_ => (double)Mixup.SampleBeta(random, 0.5f)).ToArray();
        Assert.InRange(draws.Average(), 0.49, 0.51);                              // Beta(α, α) has mean ½
        Assert.InRange(draws.Select(d => (d - 0.5) * (d - 0.5)).Average(), 0.119, 0.131); // and variance 1/(4(2α + 1)) = 0.125

        var cutmix = new CutMix(batchSize: 4, channels: 1, height: 8, width: 8, targetSize: 2, alpha: 1f, seed: 4);
        float[] images = new float[4 * 64], targets = new float[4 * 2];
        for (int r = 0; r < 4; r++) { images.AsSpan(r * 64, 64).Fill(r); targets[r * 2 + r % 2] = 1f; }
        cutmix.Apply(images, targets, 4);
        for (int r = 0; r < 4; r++)
        {
            int mine = images.AsSpan(r * 64, 64).ToArray().Count(v => v == r);
            float kept = cutmix.LastLambda;
            Assert.True(mine >= (int)Math.Round(kept * 64), $"image {r} keeps {mine} of its pixels, λ = {kept}");
            Assert.Equal(1f, targets[r * 2] + targets[r * 2 + 1], 5);
        }
    }
}
