using System;
using Kiln.Kernels;
using Xunit;

namespace Kiln.Tests;

/// <summary>The loss kernels at their numerical edges (their values and gradients in general: GradientTests and the
/// PyTorch parity tests).</summary>
public class LossKernelTests
{
    [Fact]
    public void BinaryCrossEntropyWithLogits_IsFiniteAndExact_ForHugeLogits()
    {
        float[] x = { 100f, -100f, 100f, -100f }, t = { 1f, 0f, 0f, 1f };
        float loss = Losses.BinaryCrossEntropyWithLogitsForward(x, t, Reduction.Sum);
        Assert.Equal(200f, loss, 3); // two confident right answers cost ~0, two confident wrong ones 100 each
        var d = new float[4];
        Losses.BinaryCrossEntropyWithLogitsBackward(x, t, d, accumulate: false, Reduction.Sum);
        float[] expected = { 0f, 0f, 1f, -1f }; // σ(−100) ≈ 3.8e−44 is the exact gradient at index 1
        for (int i = 0; i < 4; i++) Assert.True(Math.Abs(d[i] - expected[i]) < 1e-30f, $"[{i}] {d[i]:R}");
    }

    [Fact]
    public void FocalLoss_AtCertainty_HasAFiniteGradient_TakenByItsLimit()
    {
        // Logits so confident that p_y rounds to 1 in float: (1 − p_y)^(γ−1) with γ = 0.5 would be infinite.
        float[] logits = { 60f, 0f, 0f }, probabilities = new float[3], d = new float[3];
        int[] labels = { 0 };
        float loss = Losses.FocalLossForward(logits, labels, probabilities, 1, 3, gamma: 0.5f);
        Losses.FocalLossBackward(probabilities, labels, d, 1, 3, accumulate: false, gamma: 0.5f);
        Assert.True(float.IsFinite(loss) && loss >= 0f);
        Assert.All(d, g => Assert.True(float.IsFinite(g) && Math.Abs(g) < 1e-6f, $"{g}"));
    }

    [Fact]
    public void FocalLoss_WithGammaZeroAndAlphaOne_IsCrossEntropy()
    {
        float[] logits = { 0.3f, -1.2f, 2.0f, 0.5f, 0.1f, -0.4f };
        int[] labels = { 2, 0 };
        float[] p1 = new float[6], p2 = new float[6], d1 = new float[6], d2 = new float[6];
        float focal = Losses.FocalLossForward(logits, labels, p1, 2, 3, gamma: 0f);
        float ce = Losses.SoftmaxCrossEntropyForward(logits, labels, p2, 2, 3);
        Losses.FocalLossBackward(p1, labels, d1, 2, 3, accumulate: false, gamma: 0f);
        Losses.SoftmaxCrossEntropyBackward(p2, labels, d2, 2, 3, accumulate: false);
        Assert.Equal(ce, focal, 6);
        for (int i = 0; i < 6; i++) Assert.Equal(d2[i], d1[i], 6);
    }

    [Fact]
    public void L1_GradientIsZero_WherePredictionEqualsTarget_AndHuberIsContinuousAtDelta()
    {
        var d = new float[3];
        Losses.L1Backward(new[] { 1f, 2f, 3f }, new[] { 1f, 1f, 4f }, d, accumulate: false, Reduction.Sum);
        Assert.Equal(new[] { 0f, 1f, -1f }, d);
        float below = Losses.HuberForward(new[] { 0.999999f }, new[] { 0f }, delta: 1f);
        float above = Losses.HuberForward(new[] { 1.000001f }, new[] { 0f }, delta: 1f);
        Assert.Equal(0.5f, below, 5);
        Assert.Equal(0.5f, above, 5);
    }
}
