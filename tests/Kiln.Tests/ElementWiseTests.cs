using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Kernels;
using Kiln.Testing;
using Xunit;

namespace Kiln.Tests;

/// <summary>Activations, softmax and losses: forward and backward against double references, every variant,
/// every length 0..67 plus a long one (tails and vector edges), special values.</summary>
public class ElementWiseTests
{
    public enum Act { Relu, LeakyRelu, Sigmoid, Tanh, Gelu, GeluTanh }

    public static IEnumerable<object[]> Cases() =>
        from isa in KernelInfo.Supported
        from act in Enum.GetValues<Act>()
        select new object[] { isa, act };

    private static readonly int[] Lengths = Enumerable.Range(0, 68).Append(1000).ToArray();

    private static double Forward(Act act, double x) => act switch
    {
        Act.Relu => Math.Max(x, 0),
        Act.LeakyRelu => x > 0 ? x : 0.2 * x,
        Act.Sigmoid => ReferenceMath.Sigmoid(x),
        Act.Tanh => Math.Tanh(x),
        Act.Gelu => ReferenceMath.Gelu(x),
        _ => ReferenceMath.GeluTanh(x),
    };

    /// <summary>d act / dx, as a function of the input x.</summary>
    private static double Derivative(Act act, double x) => act switch
    {
        Act.Relu => x > 0 ? 1 : 0,
        Act.LeakyRelu => x > 0 ? 1 : 0.2,
        Act.Sigmoid => ReferenceMath.Sigmoid(x) * (1 - ReferenceMath.Sigmoid(x)),
        Act.Tanh => 1 - Math.Tanh(x) * Math.Tanh(x),
        Act.Gelu => ReferenceMath.GeluGrad(x),
        _ => ReferenceMath.GeluTanhGrad(x),
    };

    private static void RunForward(KernelIsa isa, Act act, float[] x, float[] y)
    {
        switch (act)
        {
            case Act.Relu: Activations.ReluForward(isa, x, y); break;
            case Act.LeakyRelu: Activations.LeakyReluForward(isa, x, y, 0.2f); break;
            case Act.Sigmoid: Activations.SigmoidForward(isa, x, y); break;
            case Act.Tanh: Activations.TanhForward(isa, x, y); break;
            case Act.Gelu: Activations.GeluForward(isa, x, y, approximate: false); break;
            default: Activations.GeluForward(isa, x, y, approximate: true); break;
        }
    }

    /// <summary>The backward reads the output for ReLU/sigmoid/tanh and the input for the others.</summary>
    private static void RunBackward(KernelIsa isa, Act act, float[] x, float[] y, float[] dy, float[] dx, bool accumulate)
    {
        switch (act)
        {
            case Act.Relu: Activations.ReluBackward(isa, y, dy, dx, accumulate); break;
            case Act.LeakyRelu: Activations.LeakyReluBackward(isa, x, dy, dx, 0.2f, accumulate); break;
            case Act.Sigmoid: Activations.SigmoidBackward(isa, y, dy, dx, accumulate); break;
            case Act.Tanh: Activations.TanhBackward(isa, y, dy, dx, accumulate); break;
            case Act.Gelu: Activations.GeluBackward(isa, x, dy, dx, approximate: false, accumulate); break;
            default: Activations.GeluBackward(isa, x, dy, dx, approximate: true, accumulate); break;
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Activation_ForwardAndBackward_MatchDoubleReference(KernelIsa isa, Act act)
    {
        foreach (int n in Lengths)
        {
            float[] x = Reference.Random(n, seed: n + 1, scale: 6f);
            float[] y = new float[n], dy = Reference.Random(n, seed: n + 2), dx = Reference.Random(n, seed: n + 3);
            float[] before = (float[])dx.Clone();
            RunForward(isa, act, x, y);
            Reference.AssertClose(x.Select(v => Forward(act, v)).ToArray(), y, 2e-6, 1e-6, $"{act} forward n={n}");
            foreach (bool accumulate in new[] { false, true })
            {
                Array.Copy(before, dx, n);
                RunBackward(isa, act, x, y, dy, dx, accumulate);
                var expected = x.Select((v, i) => (accumulate ? before[i] : 0) + dy[i] * Derivative(act, v)).ToArray();
                Reference.AssertClose(expected, dx, 1e-5, 2e-6, $"{act} backward n={n} accumulate={accumulate}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Activation_SpecialValues(KernelIsa isa, Act act)
    {
        float[] x = { 0f, -0f, 1e-30f, -1e-30f, 80f, -80f, 1e30f, -1e30f, float.MaxValue, float.MinValue };
        var y = new float[x.Length];
        RunForward(isa, act, x, y);
        for (int i = 0; i < x.Length; i++)
        {
            Assert.False(float.IsNaN(y[i]), $"{act}({x[i]}) is NaN");
            double expected = Forward(act, x[i]);
            if (double.IsFinite(expected)) Assert.True(Math.Abs(expected - y[i]) <= 1e-6 + 1e-6 * Math.Abs(expected), $"{act}({x[i]}) = {y[i]}, expected {expected}");
        }
        // NaN in whole vectors (either ISA's width) and in the scalar tail: it propagates, and only where it stands.
        var nan = new float[37];
        for (int i = 0; i < nan.Length; i++) nan[i] = 0.25f * (i - 18);
        int[] at = { 0, 9, 17, 36 };
        foreach (int i in at) nan[i] = float.NaN;
        var output = new float[nan.Length];
        RunForward(isa, act, nan, output);
        for (int i = 0; i < nan.Length; i++)
        {
            if (!at.Contains(i)) Assert.False(float.IsNaN(output[i]), $"{act}({nan[i]}) at {i} is NaN");
            else if (act != Act.Relu) Assert.True(float.IsNaN(output[i]), $"{act}(NaN) at {i} should be NaN"); // max(NaN, 0) is either, as in hardware
        }
    }

    public static IEnumerable<object[]> Widths() =>
        from isa in KernelInfo.Supported from width in new[] { 1, 3, 10, 16, 17, 65 } select new object[] { isa, width };

    [Theory]
    [MemberData(nameof(Widths))]
    public void Softmax_ForwardAndBackward_MatchDoubleReference(KernelIsa isa, int width)
    {
        const int rows = 5;
        float[] x = Reference.Random(rows * width, seed: width, scale: 30f);
        x[0] = 1e4f; // a huge logit must not overflow
        float[] y = new float[x.Length], dy = Reference.Random(x.Length, seed: 4), dx = new float[x.Length];
        Softmax.Forward(x, y, rows, width);
        var expected = new double[x.Length];
        var expectedDx = new double[x.Length];
        for (int r = 0; r < rows; r++)
        {
            double max = Enumerable.Range(0, width).Max(j => (double)x[r * width + j]);
            double sum = Enumerable.Range(0, width).Sum(j => Math.Exp(x[r * width + j] - max));
            for (int j = 0; j < width; j++) expected[r * width + j] = Math.Exp(x[r * width + j] - max) / sum;
            double dot = Enumerable.Range(0, width).Sum(j => expected[r * width + j] * dy[r * width + j]);
            for (int j = 0; j < width; j++) expectedDx[r * width + j] = expected[r * width + j] * (dy[r * width + j] - dot);
        }
        Reference.AssertClose(expected, y, 1e-5, 1e-7, "softmax");
        Softmax.Backward(isa, y, dy, dx, rows, width, accumulate: false);
        Reference.AssertClose(expectedDx, dx, 1e-4, 1e-6, "softmax backward");
    }

    [Fact]
    public void SoftmaxCrossEntropy_MatchesDoubleReference_AndRejectsBadLabels()
    {
        const int rows = 7, classes = 10;
        float[] logits = Reference.Random(rows * classes, seed: 11, scale: 8f);
        int[] labels = { 0, 9, 3, 3, 5, 1, 8 };
        float[] p = new float[logits.Length], d = new float[logits.Length];
        float loss = Losses.SoftmaxCrossEntropyForward(logits, labels, p, rows, classes);
        double expected = 0;
        var expectedD = new double[logits.Length];
        for (int r = 0; r < rows; r++)
        {
            double max = Enumerable.Range(0, classes).Max(j => (double)logits[r * classes + j]);
            double sum = Enumerable.Range(0, classes).Sum(j => Math.Exp(logits[r * classes + j] - max));
            expected += Math.Log(sum) + max - logits[r * classes + labels[r]];
            for (int j = 0; j < classes; j++)
                expectedD[r * classes + j] = (Math.Exp(logits[r * classes + j] - max) / sum - (j == labels[r] ? 1 : 0)) / rows;
        }
        Assert.Equal(expected / rows, loss, 5);
        Losses.SoftmaxCrossEntropyBackward(p, labels, d, rows, classes, accumulate: false);
        Reference.AssertClose(expectedD, d, 1e-5, 1e-7, "cross-entropy gradient");

        labels[2] = 10;
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Losses.SoftmaxCrossEntropyForward(logits, labels, p, rows, classes));
        Assert.Contains("[0, 10)", e.Message);
    }

    [Theory]
    [MemberData(nameof(Reference.Variants), MemberType = typeof(Reference))]
    public void MeanSquaredError_MatchesDoubleReference(KernelIsa isa)
    {
        foreach (int n in Lengths.Where(l => l > 0))
        {
            float[] p = Reference.Random(n, seed: n), t = Reference.Random(n, seed: n + 50), d = new float[n];
            double expected = p.Zip(t, (a, b) => (double)(a - b) * (a - b)).Sum() / n;
            Assert.True(Math.Abs(expected - Losses.MeanSquaredErrorForward(isa, p, t)) <= 1e-6 * expected + 1e-9, $"n={n}");
            Losses.MeanSquaredErrorBackward(isa, p, t, d, accumulate: false);
            Reference.AssertClose(p.Zip(t, (a, b) => 2.0 * (a - b) / n).ToArray(), d, 1e-6, 1e-9, $"mse gradient n={n}");
        }
    }

    [Fact]
    public void Dense_ForwardAndBackward_MatchReference_WithAndWithoutBias()
    {
        const int rows = 3, inF = 5, outF = 4;
        float[] x = Reference.Random(rows * inF, 1), w = Reference.Random(outF * inF, 2), b = Reference.Random(outF, 3), dy = Reference.Random(rows * outF, 4);
        var y = new float[rows * outF];
        Dense.Forward(x, w, b, y, rows, inF, outF);
        var expected = new double[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
                expected[r * outF + o] = b[o] + Enumerable.Range(0, inF).Sum(i => (double)x[r * inF + i] * w[o * inF + i]);
        Reference.AssertClose(expected, y, 1e-6, 1e-6, "dense forward");
        Dense.Forward(x, w, default, y, rows, inF, outF);
        Reference.AssertClose(expected.Select((v, i) => v - b[i % outF]).ToArray(), y, 1e-6, 1e-6, "dense forward without bias");

        var dw = new float[outF * inF];
        var db = new float[outF];
        Dense.BackwardParameters(x, dy, dw, db, rows, inF, outF, accumulate: false);
        var expectedDw = new double[outF * inF];
        for (int o = 0; o < outF; o++)
            for (int i = 0; i < inF; i++)
                expectedDw[o * inF + i] = Enumerable.Range(0, rows).Sum(r => (double)dy[r * outF + o] * x[r * inF + i]);
        Reference.AssertClose(expectedDw, dw, 1e-6, 1e-6, "dW");
        Reference.AssertClose(Enumerable.Range(0, outF).Select(o => Enumerable.Range(0, rows).Sum(r => (double)dy[r * outF + o])).ToArray(), db, 1e-6, 1e-6, "db");
    }
}
