using System;
using System.Numerics.Tensors;

namespace Kiln.Kernels;

/// <summary>
/// Dropout (PyTorch's <c>nn.Dropout</c>): in training each value is zeroed with probability p and the rest scaled by
/// 1/(1 − p), with a mask drawn from the model's generator and kept for the backward; in evaluation, the identity.
/// </summary>
public static class Dropout
{
    /// <summary>Draws a mask: each value 0 with probability <paramref name="p"/>, else 1/(1 − p). One 32-bit draw per value.</summary>
    public static void DrawMask(Span<float> mask, float p, KilnRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (!(p >= 0f && p < 1f)) throw new ArgumentOutOfRangeException(nameof(p), p, "A dropout probability lies in [0, 1).");
        uint threshold = (uint)Math.Min(uint.MaxValue, Math.Round(p * 4294967296.0));
        float keep = 1f / (1f - p);
        for (int i = 0; i < mask.Length; i++) mask[i] = random.NextUInt() >= threshold ? keep : 0f;
    }

    /// <summary>y = x·mask with a new mask in training; y = x in evaluation (the mask is then not touched).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, Span<float> mask, float p, bool training, KilnRandom random)
    {
        Guard.Length(y.Length, x.Length, 1, nameof(y));
        if (!training)
        {
            x.CopyTo(y);
            return;
        }
        Guard.Length(mask.Length, x.Length, 1, nameof(mask));
        DrawMask(mask, p, random);
        TensorPrimitives.Multiply(x, mask, y);
    }

    /// <summary>dx (+)= dy·mask in training, dx (+)= dy in evaluation.</summary>
    public static void Backward(ReadOnlySpan<float> dy, ReadOnlySpan<float> mask, Span<float> dx, bool training, bool accumulate)
    {
        Guard.Length(dx.Length, dy.Length, 1, nameof(dx));
        if (!training)
        {
            Add.Backward(dy, dx, accumulate);
            return;
        }
        Guard.Length(mask.Length, dy.Length, 1, nameof(mask));
        if (accumulate) TensorPrimitives.MultiplyAdd(dy, mask, dx, dx);
        else TensorPrimitives.Multiply(dy, mask, dx);
    }
}

/// <summary>Gaussian input noise: y = x + σ·N(0, 1) in training (drawn from the model's generator), the identity in
/// evaluation; the gradient passes through unchanged.</summary>
public static class GaussianNoise
{
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, float standardDeviation, bool training, KilnRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        Guard.Length(y.Length, x.Length, 1, nameof(y));
        if (!training || standardDeviation == 0f)
        {
            x.CopyTo(y);
            return;
        }
        for (int i = 0; i < x.Length; i++) y[i] = x[i] + standardDeviation * random.Gaussian();
    }
}
