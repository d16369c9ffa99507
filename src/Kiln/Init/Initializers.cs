using System;

namespace Kiln;

/// <summary>Weight initialisers, matching PyTorch's definitions (bounds), drawn from a <see cref="KilnRandom"/>.</summary>
public static class Initializers
{
    /// <summary>PyTorch's <c>nn.Linear</c> default (kaiming_uniform with a=√5): U(±1/√fan_in), for weight and bias.</summary>
    public static void PyTorchLinear(Span<float> values, int fanIn, KilnRandom random)
    {
        float bound = 1f / MathF.Sqrt(fanIn);
        random.FillUniform(values, -bound, bound);
    }

    /// <summary>He/Kaiming uniform: U(±gain·√(3/fan_in)); gain √2 for ReLU, √(2/(1+α²)) for leaky ReLU.</summary>
    public static void KaimingUniform(Span<float> values, int fanIn, float gain, KilnRandom random)
    {
        float bound = gain * MathF.Sqrt(3f / fanIn);
        random.FillUniform(values, -bound, bound);
    }

    /// <summary>Xavier/Glorot uniform: U(±gain·√(6/(fan_in + fan_out))).</summary>
    public static void XavierUniform(Span<float> values, int fanIn, int fanOut, float gain, KilnRandom random)
    {
        float bound = gain * MathF.Sqrt(6f / (fanIn + fanOut));
        random.FillUniform(values, -bound, bound);
    }

    /// <summary>N(0, σ²) (PyTorch's <c>nn.Embedding</c> default with σ = 1).</summary>
    public static void Normal(Span<float> values, float standardDeviation, KilnRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        for (int i = 0; i < values.Length; i++) values[i] = standardDeviation * random.Gaussian();
    }

    /// <summary>The ReLU-family gain: √(2/(1+α²)) (α = 0 for ReLU).</summary>
    public static float ReluGain(float negativeSlope = 0f) => MathF.Sqrt(2f / (1f + negativeSlope * negativeSlope));
}
