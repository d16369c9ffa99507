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

    [Theory]
    [InlineData(-100, 0f, Reduction.Mean)]
    [InlineData(-100, 0.1f, Reduction.Mean)]
    [InlineData(1, 0.2f, Reduction.Sum)]
    public void SoftmaxCrossEntropy_IgnoredRows_AddNothing_GetNoGradient_AndTheMeanIsOverTheRest(int ignore, float smoothing, Reduction reduction)
    {
        // Four rows of three classes, the second and fourth ignored: the loss and gradient of the other two alone.
        float[] logits = { 0.3f, -1.2f, 2.0f, 0.5f, 0.1f, -0.4f, 1.5f, 0.2f, -0.7f, -2f, 3f, 1f };
        int[] labels = { 2, ignore, 0, ignore };
        var p = new float[12];
        var d = new float[12];
        d.AsSpan().Fill(7f);
        float loss = Losses.SoftmaxCrossEntropyForward(logits, labels, p, 4, 3, smoothing, reduction, ignoreIndex: ignore);
        Losses.SoftmaxCrossEntropyBackward(p, labels, d, 4, 3, accumulate: false, smoothing, reduction, ignoreIndex: ignore);
        float[] kept = { 0.3f, -1.2f, 2.0f, 1.5f, 0.2f, -0.7f };
        int[] keptLabels = { 2, 0 };
        var pk = new float[6];
        var dk = new float[6];
        float expected = Losses.SoftmaxCrossEntropyForward(kept, keptLabels, pk, 2, 3, smoothing, reduction);
        Losses.SoftmaxCrossEntropyBackward(pk, keptLabels, dk, 2, 3, accumulate: false, smoothing, reduction);
        Assert.Equal(expected, loss, 6);
        for (int c = 0; c < 3; c++)
        {
            Assert.Equal(dk[c], d[c], 6);
            Assert.Equal(dk[3 + c], d[6 + c], 6);
            Assert.Equal(0f, d[3 + c]);
            Assert.Equal(0f, d[9 + c]);
        }
        // Every row ignored: 0 (PyTorch would give NaN) and no gradient.
        int[] none = { ignore, ignore, ignore, ignore };
        Assert.Equal(0f, Losses.SoftmaxCrossEntropyForward(logits, none, p, 4, 3, smoothing, reduction, ignoreIndex: ignore));
        Losses.SoftmaxCrossEntropyBackward(p, none, d, 4, 3, accumulate: false, smoothing, reduction, ignoreIndex: ignore);
        Assert.All(d, g => Assert.Equal(0f, g));
    }
}
