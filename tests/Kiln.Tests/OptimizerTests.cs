using System;
using Kiln.Optimizers;
using Xunit;

namespace Kiln.Tests;

/// <summary>Each optimizer over several steps against a double-precision reference of PyTorch's documented update.</summary>
public class OptimizerTests
{
    private const int Count = 37; // several vectors and a tail

    private static (AlignedBuffer Memory, ParameterSet Set) Parameters()
    {
        var memory = new AlignedBuffer(64);
        var set = new ParameterSet(memory, 0, Count, new[] { new TensorSlice("w", new[] { Count }, 0) });
        Reference.Random(Count, seed: 5).CopyTo(set.Span);
        return (memory, set);
    }

    private static float[] Gradient(int step) => Reference.Random(Count, seed: 100 + step);

    [Theory]
    [InlineData(0f, 0f, 0f, false)]
    [InlineData(0.9f, 0f, 0f, false)]
    [InlineData(0.9f, 0.1f, 0.01f, false)]
    [InlineData(0.9f, 0f, 0.01f, true)]
    public void Sgd_MatchesPyTorchFormula(float momentum, float dampening, float weightDecay, bool nesterov)
    {
        var (memory, set) = Parameters();
        using var _ = memory;
        using var sgd = new Sgd(set, lr: 0.1f, momentum: momentum, dampening: dampening, weightDecay: weightDecay, nesterov: nesterov);
        double[] p = Array.ConvertAll(set.Span.ToArray(), v => (double)v);
        var buffer = new double[Count];
        for (int step = 1; step <= 5; step++)
        {
            float[] g = Gradient(step);
            sgd.Step(set.Span, g);
            for (int i = 0; i < Count; i++)
            {
                double d = g[i] + weightDecay * p[i];
                if (momentum != 0)
                {
                    buffer[i] = step == 1 ? d : momentum * buffer[i] + (1 - dampening) * d;
                    d = nesterov ? d + momentum * buffer[i] : buffer[i];
                }
                p[i] -= 0.1 * d;
            }
            Reference.AssertClose(p, set.Span, 1e-5, 1e-6, $"SGD step {step}");
        }
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.05f)]
    public void Adam_MatchesPyTorchFormula(float weightDecay)
    {
        var (memory, set) = Parameters();
        using var _ = memory;
        using var adam = new Adam(set, lr: 0.01f, beta1: 0.9f, beta2: 0.999f, epsilon: 1e-8f, weightDecay: weightDecay);
        double[] p = Array.ConvertAll(set.Span.ToArray(), v => (double)v);
        var m = new double[Count];
        var v = new double[Count];
        for (int t = 1; t <= 6; t++)
        {
            float[] g = Gradient(t);
            adam.Step(set.Span, g);
            for (int i = 0; i < Count; i++)
            {
                double d = g[i] + weightDecay * p[i];
                m[i] = 0.9 * m[i] + 0.1 * d;
                v[i] = 0.999 * v[i] + 0.001 * d * d;
                double stepSize = 0.01 / (1 - Math.Pow(0.9, t));
                double denominator = Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(0.999, t)) + 1e-8;
                p[i] -= stepSize * m[i] / denominator;
            }
            Reference.AssertClose(p, set.Span, 1e-5, 1e-6, $"Adam step {t}");
        }
        Assert.Equal(6, adam.StepCount);
    }

    [Fact]
    public void Optimizer_RejectsWrongLengths_AndBadHyperParameters()
    {
        var (memory, set) = Parameters();
        using var _ = memory;
        using var adam = new Adam(set);
        var e = Assert.Throws<ArgumentException>(() => adam.Step(set.Span, new float[Count - 1]));
        Assert.Contains($"[{Count}]", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(set, lr: float.NaN));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Adam(set, beta1: 1f));
        Assert.Throws<ArgumentException>(() => new Sgd(set, lr: 0.1f, nesterov: true));
    }
}
