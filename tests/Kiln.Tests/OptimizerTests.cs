using System;
using System.Linq;
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

    [Theory]
    [InlineData(0.01f)]
    [InlineData(0.3f)]
    public void AdamW_MatchesPyTorchFormula_DecayIsDecoupled(float weightDecay)
    {
        var (memory, set) = Parameters();
        using var _ = memory;
        using var adam = new AdamW(set, lr: 0.01f, weightDecay: weightDecay);
        double[] p = Array.ConvertAll(set.Span.ToArray(), v => (double)v);
        var m = new double[Count];
        var v = new double[Count];
        for (int t = 1; t <= 6; t++)
        {
            float[] g = Gradient(t);
            adam.Step(set.Span, g);
            for (int i = 0; i < Count; i++)
            {
                p[i] *= 1 - 0.01 * weightDecay;
                m[i] = 0.9 * m[i] + 0.1 * g[i];
                v[i] = 0.999 * v[i] + 0.001 * g[i] * g[i];
                p[i] -= 0.01 / (1 - Math.Pow(0.9, t)) * m[i] / (Math.Sqrt(v[i]) / Math.Sqrt(1 - Math.Pow(0.999, t)) + 1e-8);
            }
            Reference.AssertClose(p, set.Span, 1e-5, 1e-6, $"AdamW step {t}");
        }
    }

    [Theory]
    [InlineData(0f, 0f, 0f)]
    [InlineData(0.1f, 0.02f, 0.5f)]
    public void Adagrad_MatchesPyTorchFormula(float learningRateDecay, float weightDecay, float initial)
    {
        var (memory, set) = Parameters();
        using var _ = memory;
        using var adagrad = new Adagrad(set, lr: 0.05f, learningRateDecay: learningRateDecay, weightDecay: weightDecay, initialAccumulatorValue: initial);
        double[] p = Array.ConvertAll(set.Span.ToArray(), v => (double)v);
        var sum = new double[Count];
        Array.Fill(sum, initial);
        for (int t = 1; t <= 6; t++)
        {
            float[] g = Gradient(t);
            adagrad.Step(set.Span, g);
            double clr = 0.05 / (1 + (t - 1) * learningRateDecay);
            for (int i = 0; i < Count; i++)
            {
                double d = g[i] + weightDecay * p[i];
                sum[i] += d * d;
                p[i] -= clr * d / (Math.Sqrt(sum[i]) + 1e-10);
            }
            Reference.AssertClose(p, set.Span, 1e-5, 1e-6, $"Adagrad step {t}");
        }
        Reference.AssertClose(sum, adagrad.State("sum"), 1e-5, 1e-6, "Adagrad sum");
    }

    [Theory]
    [InlineData(0f)]
    [InlineData(0.05f)]
    public void Adadelta_MatchesPyTorchFormula(float weightDecay)
    {
        var (memory, set) = Parameters();
        using var _ = memory;
        using var adadelta = new Adadelta(set, lr: 1f, rho: 0.9f, epsilon: 1e-6f, weightDecay: weightDecay);
        double[] p = Array.ConvertAll(set.Span.ToArray(), v => (double)v);
        var v = new double[Count];
        var u = new double[Count];
        for (int t = 1; t <= 6; t++)
        {
            float[] g = Gradient(t);
            adadelta.Step(set.Span, g);
            for (int i = 0; i < Count; i++)
            {
                double d = g[i] + weightDecay * p[i];
                v[i] = 0.9 * v[i] + 0.1 * d * d;
                double delta = Math.Sqrt(u[i] + 1e-6) / Math.Sqrt(v[i] + 1e-6) * d;
                u[i] = 0.9 * u[i] + 0.1 * delta * delta;
                p[i] -= delta;
            }
            Reference.AssertClose(p, set.Span, 1e-5, 1e-6, $"Adadelta step {t}");
        }
    }

    [Theory]
    [InlineData(0f, false, 0f)]
    [InlineData(0f, true, 0f)]
    [InlineData(0.9f, false, 0.01f)]
    [InlineData(0.9f, true, 0.01f)]
    public void RmsProp_MatchesPyTorchFormula(float momentum, bool centered, float weightDecay)
    {
        var (memory, set) = Parameters();
        using var _ = memory;
        using var rms = new RmsProp(set, lr: 0.01f, alpha: 0.99f, epsilon: 1e-8f, weightDecay: weightDecay, momentum: momentum, centered: centered);
        double[] p = Array.ConvertAll(set.Span.ToArray(), v => (double)v);
        var square = new double[Count];
        var mean = new double[Count];
        var buffer = new double[Count];
        for (int t = 1; t <= 6; t++)
        {
            float[] g = Gradient(t);
            rms.Step(set.Span, g);
            for (int i = 0; i < Count; i++)
            {
                double d = g[i] + weightDecay * p[i];
                square[i] = 0.99 * square[i] + 0.01 * d * d;
                double variance = square[i];
                if (centered)
                {
                    mean[i] = 0.99 * mean[i] + 0.01 * d;
                    variance -= mean[i] * mean[i];
                }
                double scaled = d / (Math.Sqrt(variance) + 1e-8);
                if (momentum > 0)
                {
                    buffer[i] = momentum * buffer[i] + scaled;
                    scaled = buffer[i];
                }
                p[i] -= 0.01 * scaled;
            }
            Reference.AssertClose(p, set.Span, 2e-5, 2e-6, $"RMSprop step {t}");
        }
        Assert.Equal(centered ? (momentum > 0 ? 3 : 2) : (momentum > 0 ? 2 : 1), rms.StateNames.Count);
    }

    [Fact]
    public void StateBuffers_CarryPyTorchsNames()
    {
        var (memory, set) = Parameters();
        using var _ = memory;
        using var adam = new Adam(set);
        using var sgd = new Sgd(set, lr: 0.1f, momentum: 0.9f);
        using var plain = new Sgd(set, lr: 0.1f);
        using var rms = new RmsProp(set, momentum: 0.9f, centered: true);
        Assert.Equal(new[] { "exp_avg", "exp_avg_sq" }, adam.StateNames);
        Assert.Equal(new[] { "momentum_buffer" }, sgd.StateNames);
        Assert.Empty(plain.StateNames);
        Assert.Equal(new[] { "square_avg", "momentum_buffer", "grad_avg" }, rms.StateNames);
        Assert.Equal(Count, adam.State("exp_avg").Length);
        Assert.Contains("exp_avg", Assert.Throws<ArgumentException>(() => adam.State("momentum_buffer")).Message);
    }

    /// <summary>Two nodes, a [3, 5] weight each, laid out with alignment padding between them as a model's are.</summary>
    private static (AlignedBuffer, ParameterSet) TwoNodes()
    {
        var memory = new AlignedBuffer(64);
        var set = new ParameterSet(memory, 0, 32, new[] { new TensorSlice("Early.weight", new[] { 3, 5 }, 0), new TensorSlice("Head.weight", new[] { 3, 5 }, 16) });
        Reference.Random(15, seed: 1).CopyTo(set["Early.weight"]);
        Reference.Random(15, seed: 2).CopyTo(set["Head.weight"]);
        return (memory, set);
    }

    [Fact]
    public void FrozenNode_KeepsItsBytesAndState_WhileTheOthersTrain()
    {
        var (memory, set) = TwoNodes();
        using var _ = memory;
        using var adam = new AdamW(set, lr: 0.01f);
        adam.Freeze("Early");
        Assert.True(adam.IsFrozen("Early"));
        float[] early = set["Early.weight"].ToArray(), head = set["Head.weight"].ToArray();
        for (int t = 1; t <= 5; t++) adam.Step(set.Span, Reference.Random(32, seed: t));
        Assert.Equal(early, set["Early.weight"].ToArray());
        Assert.All(adam.FirstMoments.Slice(0, 15).ToArray(), m => Assert.Equal(0f, m));
        Assert.NotEqual(head, set["Head.weight"].ToArray());
        adam.Unfreeze("Early");
        adam.Step(set.Span, Reference.Random(32, seed: 9));
        Assert.NotEqual(early, set["Early.weight"].ToArray());
        Assert.Contains("Early.weight", Assert.Throws<ArgumentException>(() => adam.Freeze("Missing")).Message);
    }

    [Fact]
    public void NodeLearningRate_IsARatioToTheBase_AndFollowsIt()
    {
        var (m1, a) = TwoNodes();
        var (m2, b) = TwoNodes();
        using (m1) using (m2)
        {
            // SGD: the head at a tenth of the base rate moves a tenth as far, before and after the base changes.
            using var sgd = new Sgd(a, lr: 0.1f);
            sgd.SetLearningRate("Head", 0.01f);
            float[] g = Reference.Random(32, seed: 3);
            float[] before = a["Head.weight"].ToArray(), earlyBefore = a["Early.weight"].ToArray();
            sgd.Step(a.Span, g);
            for (int i = 0; i < 15; i++)
            {
                Assert.Equal(before[i] - 0.01f * g[16 + i], a["Head.weight"][i], 6);
                Assert.Equal(earlyBefore[i] - 0.1f * g[i], a["Early.weight"][i], 6);
            }
            sgd.LearningRate = 0.05f; // a schedule halves the base: the head follows to 0.005
            before = a["Head.weight"].ToArray();
            sgd.Step(a.Span, g);
            for (int i = 0; i < 15; i++) Assert.Equal(before[i] - 0.005f * g[16 + i], a["Head.weight"][i], 6);
        }
    }

    [Fact]
    public void ClipByGlobalNorm_ScalesToTheLimit_AndReturnsTheNormBefore()
    {
        float[] g = { 3f, 4f, 0f, 12f }; // norm 13
        float norm = GradientClipping.ClipByGlobalNorm(g, 6.5f);
        Assert.Equal(13f, norm, 5);
        double scale = 6.5 / (13 + 1e-6);
        Assert.Equal(new[] { 3 * scale, 4 * scale, 0, 12 * scale }, Array.ConvertAll(g, v => (double)v), new Tolerance(1e-6));
        float[] small = { 0.1f, -0.2f };
        GradientClipping.ClipByGlobalNorm(small, 1f);
        Assert.Equal(new[] { 0.1f, -0.2f }, small);
        float[] bad = { float.NaN, 1f };
        Assert.True(float.IsNaN(GradientClipping.ClipByGlobalNorm(bad, 1f)));
        Assert.Throws<ArgumentOutOfRangeException>(() => GradientClipping.ClipByGlobalNorm(g, 0f));
    }

    [Fact]
    public void ClipByValue_Clamps()
    {
        float[] g = { -3f, -0.5f, 0.25f, 9f };
        GradientClipping.ClipByValue(g, 1f);
        Assert.Equal(new[] { -1f, -0.5f, 0.25f, 1f }, g);
    }

    private sealed class Tolerance(double epsilon) : System.Collections.Generic.IEqualityComparer<double>
    {
        public bool Equals(double x, double y) => Math.Abs(x - y) <= epsilon;
        public int GetHashCode(double value) => 0;
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
    /// <summary>Every update rule's per-vector body (and a computed state count) is marked for inlining into the update
    /// loop: left to the JIT, Adam's was called once per 16 parameters with its vectors passed through memory (6× slower;
    /// see <c>IUpdateOp</c>). Found by reflection over the library, so a new optimizer is held to it too.</summary>
    [Fact]
    public void EveryUpdateRule_IsInlinedIntoTheUpdateLoop()
    {
        Type contract = typeof(Optimizer).Assembly.GetType("Kiln.Optimizers.IUpdateOp", throwOnError: true)!;
        var rules = typeof(Optimizer).Assembly.GetTypes().Where(t => t.IsValueType && contract.IsAssignableFrom(t)).ToList();
        Assert.True(rules.Count >= 6, $"found {rules.Count} update rules");
        foreach (Type rule in rules)
        {
            var invoke = rule.GetMethods(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public).Single(m => m.Name == "Invoke");
            Assert.True(invoke.MethodImplementationFlags.HasFlag(System.Reflection.MethodImplAttributes.AggressiveInlining), $"{rule.Name}.Invoke is not AggressiveInlining");
            var states = rule.GetProperty("States", System.Reflection.BindingFlags.Static | System.Reflection.BindingFlags.Public)!.GetMethod!;
            bool constant = states.GetMethodBody()!.GetILAsByteArray()!.Length <= 2; // ldc.i4.N; ret
            Assert.True(constant || states.MethodImplementationFlags.HasFlag(System.Reflection.MethodImplAttributes.AggressiveInlining),
                $"{rule.Name}.States is computed and not AggressiveInlining");
        }
    }
}
