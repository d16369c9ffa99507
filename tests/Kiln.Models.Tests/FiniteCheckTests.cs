using System;
using System.Linq;
using Kiln.Data;
using Kiln.Optimizers;
using Kiln.Samples.Mnist;
using Xunit;

namespace Kiln.Models.Tests;

/// <summary>The check mode (CheckFinite): off by default; when on, the first NaN or infinity of a step throws, naming the node,
/// the tensor and the step.</summary>
public class FiniteCheckTests
{
    private static readonly Dataset Data = SyntheticDigits.Generate(MnistMlp.Batch, seed: 21);

    /// <summary>Z1 trained with SGD at a learning rate of 1e30: the first step is finite; the second step's forward pass overflows.
    /// A double-precision forward pass over the same parameters decides which node overflows first, independently of the kernels.</summary>
    [Fact]
    public void ADivergingModel_ReportsTheFirstNonFiniteNodeByName()
    {
        using var model = new MnistMlp(seed: 5) { CheckFinite = true };
        using var sgd = new Sgd(model.Parameters, lr: 1e30f);
        float first = model.TrainStep(Data.Features, Data.Labels, sgd);
        Assert.True(float.IsFinite(first));
        float[] parameters = model.Parameters.Span.ToArray();
        Assert.All(parameters, p => Assert.True(float.IsFinite(p)));

        var error = Assert.Throws<NonFiniteException>(() => model.TrainStep(Data.Features, Data.Labels, sgd));

        string expected = FirstOverflowingLayer(model, parameters);
        Assert.Equal(expected, error.Node);
        Assert.Equal(2, error.Step);
        Assert.StartsWith("output of its Dense(", error.Tensor, StringComparison.Ordinal);
        Assert.Contains($"node '{expected}'", error.Message, StringComparison.Ordinal);
        Assert.Contains("training step 2", error.Message, StringComparison.Ordinal);
        Assert.False(float.IsFinite(error.Value));
    }

    /// <summary>The index of the first layer whose double-precision output leaves the float range, as its node name.</summary>
    private static string FirstOverflowingLayer(MnistMlp model, float[] p)
    {
        double[] x = Data.Features.Select(v => (double)v).ToArray();
        int rows = MnistMlp.Batch, width = MnistMlp.InputSize;
        foreach (var (name, units, relu) in new[] { ("Hidden1", 256, true), ("Hidden2", 128, true), ("Logits", 10, false) })
        {
            TensorSlice w = model.Parameters.Find(name + ".weight"), b = model.Parameters.Find(name + ".bias");
            var y = new double[rows * units];
            bool overflow = false;
            for (int r = 0; r < rows; r++)
                for (int o = 0; o < units; o++)
                {
                    double sum = p[b.Offset + o];
                    for (int i = 0; i < width; i++) sum += x[r * width + i] * p[w.Offset + o * width + i];
                    if (relu) sum = Math.Max(sum, 0);
                    overflow |= Math.Abs(sum) > float.MaxValue;
                    y[r * units + o] = sum;
                }
            if (overflow) return name;
            (x, width) = (y, units);
        }
        return "Loss";
    }

    [Fact]
    public void CheckModeIsOffByDefault_TheSameDivergenceReturnsANonFiniteLoss()
    {
        using var model = new MnistMlp(seed: 5);
        Assert.False(model.CheckFinite);
        using var sgd = new Sgd(model.Parameters, lr: 1e30f);
        model.TrainStep(Data.Features, Data.Labels, sgd);
        float second = model.TrainStep(Data.Features, Data.Labels, sgd);
        Assert.False(float.IsFinite(second) && model.Gradients.Span.ToArray().All(float.IsFinite), "the run should have diverged");
    }

    [Fact]
    public void CheckMode_ChangesNoResult()
    {
        float[] Run(bool check)
        {
            using var model = new MnistMlp(seed: 5) { CheckFinite = check };
            using var adam = new Adam(model.Parameters, lr: 1e-3f);
            var losses = new float[5];
            for (int i = 0; i < losses.Length; i++) losses[i] = model.TrainStep(Data.Features, Data.Labels, adam);
            return losses.Concat(model.Parameters.Span.ToArray()).ToArray();
        }
        Assert.Equal(Run(false).Select(BitConverter.SingleToInt32Bits), Run(true).Select(BitConverter.SingleToInt32Bits));
    }

    [Fact]
    public void ANaNInTheInput_IsReportedAsTheInput()
    {
        using var model = new MnistMlp(seed: 5) { CheckFinite = true };
        float[] x = Data.Features.ToArray();
        x[3 * MnistMlp.InputSize + 100] = float.NaN;
        var error = Assert.Throws<NonFiniteException>(() => model.ComputeGradients(x, Data.Labels));
        Assert.Equal(("Pixels", "input", 1L, 3L * MnistMlp.InputSize + 100), (error.Node, error.Tensor, error.Step, error.Index));
        // Inference checks too (a forward pass names the training steps before it).
        var logits = new float[MnistMlp.Batch * MnistMlp.OutputSize];
        error = Assert.Throws<NonFiniteException>(() => model.Forward(x, logits));
        Assert.Equal(("Pixels", 1L), (error.Node, error.Step));
    }

    [Fact]
    public void AnInfiniteParameter_IsReportedByItsName()
    {
        using var model = new MnistMlp(seed: 5) { CheckFinite = true };
        model.Parameters["Hidden2.bias"][7] = float.NegativeInfinity;
        var error = Assert.Throws<NonFiniteException>(() => model.ComputeGradients(Data.Features, Data.Labels));
        Assert.Equal(("Hidden2", "parameter Hidden2.bias", 7L, float.NegativeInfinity), (error.Node, error.Tensor, error.Index, error.Value));
    }

    /// <summary>A weight large enough that one output overflows (3e38 · a positive activation summed over the row) while every
    /// parameter is finite: the node that computes it is named, not the ones before or after.</summary>
    [Fact]
    public void AnOverflowingActivation_NamesItsNode()
    {
        using var model = new MnistMlp(seed: 5) { CheckFinite = true };
        model.Parameters["Hidden2.weight"].Slice(0, 256).Fill(3e38f);
        var error = Assert.Throws<NonFiniteException>(() => model.ComputeGradients(Data.Features, Data.Labels));
        Assert.Equal(("Hidden2", "output of its Dense(128) -> Relu", float.PositiveInfinity), (error.Node, error.Tensor, error.Value));
        Assert.Equal(0, error.Index % 128); // unit 0 of some row
    }

    [Fact]
    public void ANonFiniteLoss_IsReportedAsTheLoss()
    {
        using var model = new ConvPoolNet(seed: 1) { CheckFinite = true };
        var x = new float[2 * ConvPoolNet.InputSize];
        var t = Enumerable.Repeat(3e38f, 2 * ConvPoolNet.OutputSize).ToArray(); // (y − 3e38)² overflows
        var error = Assert.Throws<NonFiniteException>(() => model.ComputeGradients(x, t));
        Assert.Equal(("Loss", "loss", float.PositiveInfinity), (error.Node, error.Tensor, error.Value));
    }
}
