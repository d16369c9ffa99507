using System;
using System.Linq;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>How the generated surface reduces a loss over several chunks of rows.</summary>
public class LossModelTests
{
    private static float[] Inputs(int length, int seed)
    {
        var random = new KilnRandom(seed);
        return Enumerable.Range(0, length).Select(_ => random.Uniform(-1f, 1f)).ToArray();
    }

    [Fact]
    public void Evaluate_OfASummedLoss_AddsTheChunks()
    {
        using var model = new SmoothedClassifier(seed: 1);
        float[] x = Inputs(8 * 5, 2);
        int[] y = { 0, 1, 2, 3, 3, 2, 1, 0 };
        float first = model.ComputeGradients(x.AsSpan(0, 20), y.AsSpan(0, 4));
        float second = model.ComputeGradients(x.AsSpan(20, 20), y.AsSpan(4, 4));
        Assert.Equal(first + second, model.Evaluate(x, y), 4);
    }

    [Fact]
    public void Evaluate_OfAMeanLoss_AveragesOverRows()
    {
        using var model = new HuberNet(seed: 1);
        float[] x = Inputs(8 * 5, 3), t = Inputs(8 * 3, 4);
        float first = model.ComputeGradients(x.AsSpan(0, 20), t.AsSpan(0, 12));
        float second = model.ComputeGradients(x.AsSpan(20, 20), t.AsSpan(12, 12));
        Assert.Equal((first + second) / 2, model.Evaluate(x, t), 5);
    }

    [Fact]
    public void FocalLoss_ClassifierPredictsTheArgMax_AndRejectsBadLabels()
    {
        using var model = new FocalNet(seed: 1);
        float[] x = Inputs(4 * 5, 5);
        var classes = new int[4];
        model.Predict(x, classes);
        Assert.All(classes, c => Assert.InRange(c, 0, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.ComputeGradients(x, new[] { 0, 1, 4, 2 }));
    }
}
