using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Kernels;
using Xunit;
using static Kiln.Models.Tests.GradientTests;
using static Kiln.Models.Tests.RefOps;
using P = System.Collections.Generic.IReadOnlyDictionary<string, double[]>;

namespace Kiln.Models.Tests;

/// <summary>
/// The generated backward of every image op against central finite differences of a double-precision reference
/// forward (the same checks as <see cref="GradientTests"/>): convolutions with stride, padding, dilation, groups and
/// depthwise, max and average pooling, global average pooling, batch norm (2d and 1d, training statistics), flatten,
/// residual blocks and dense (concatenating) blocks, and a loss on an image.
/// </summary>
public class CnnGradientTests
{
    private static double[] Image(float[] nchw, int images, int channels, int pixels) => ToChannelsLast(ToDouble(nchw), images, channels, pixels);

    [Fact]
    public void Conv_Relu_MaxPool_StridedConv_Flatten()
    {
        using var model = new ConvPoolNet(seed: 1);
        const int n = 3;
        float[] x = Inputs(n * 2 * 6 * 4, 1), t = Inputs(n * 3, 2, 1f);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] h = Map(Conv(Image(x, n, 2, 24), p, "C1", ConvGeometry.Square(2, 6, 4, 4, 3, padding: 1), n), Relu);
            h = Kiln.Testing.ReferenceConv.Pool(PoolGeometry.Square(4, 6, 4, 2), h, n, max: true);
            h = Conv(h, p, "C2", ConvGeometry.Square(4, 3, 2, 3, 3, stride: 2, padding: 1), n);
            return Mse(Dense(ToChannelsFirst(h, n, 3, 2), p, "Out", 6, 3), t);
        });
    }

    [Fact]
    public void GroupedDilatedConv_Pointwise_AvgPools_Depthwise_GlobalAverage()
    {
        using var model = new ConvVariantsNet(seed: 2);
        const int n = 2;
        float[] x = Inputs(n * 4 * 49, 3), t = Inputs(n * 2, 4, 1f);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] h = Map(Conv(Image(x, n, 4, 49), p, "Grouped", ConvGeometry.Square(4, 7, 7, 4, 3, padding: 2, dilation: 2, groups: 2), n, bias: false),
                v => v > 0 ? v : 0.1 * v);
            h = Conv(h, p, "Pointwise", ConvGeometry.Square(4, 7, 7, 6, 1, stride: 2), n);
            h = Kiln.Testing.ReferenceConv.Pool(new PoolGeometry(6, 4, 4, 2, 2, 1, 1, 1, 1), h, n, max: false, countIncludePad: false);
            h = Map(Conv(h, p, "Depthwise", ConvGeometry.Square(6, 5, 5, 6, 3, padding: 1, groups: 6), n), Math.Tanh);
            h = Kiln.Testing.ReferenceConv.Pool(PoolGeometry.Square(6, 5, 5, 3, stride: 2, padding: 1), h, n, max: false);
            return Mse(Dense(GlobalAverage(h, n, 9, 6), p, "Out", 6, 2), t);
        });
    }

    [Fact]
    public void BatchNorm2d_And1d_InTraining()
    {
        using var model = new BatchNormNet(seed: 3);
        const int n = 4;
        float[] x = Inputs(n * 3 * 25, 5), t = Inputs(n * 3, 6, 1f);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] h = Conv(Image(x, n, 3, 25), p, "C1.0", ConvGeometry.Square(3, 5, 5, 4, 3, padding: 1), n, bias: false);
            h = Map(BatchNorm(h, p, "C1.1", 4), Relu);
            h = BatchNorm(ToChannelsFirst(h, n, 4, 25), p, "Features", 100, epsilon: 1e-3);
            return Mse(Dense(h, p, "Out", 100, 3), t);
        });
    }

    private static double[] BasicBlock(double[] x, P p, string prefix, int n)
    {
        var g = ConvGeometry.Square(4, 4, 4, 4, 3, padding: 1);
        double[] h = Map(BatchNorm(Conv(x, p, prefix + ".0", g, n, bias: false), p, prefix + ".1", 4), Relu);
        h = BatchNorm(Conv(h, p, prefix + ".3", g, n, bias: false), p, prefix + ".4", 4);
        return Map(Add(h, x), Relu);
    }

    [Fact]
    public void ResidualBlocks_Repeated_WithBatchNorm_AndCrossEntropy()
    {
        using var model = new ResidualNet(seed: 4);
        const int n = 3;
        float[] x = Inputs(n * 2 * 16, 7);
        int[] y = { 2, 0, 1 };
        float loss = model.ComputeGradients(x, y);
        Assert.Contains("Blocks.1.Body.4.weight", model.Parameters.Tensors.Select(s => s.Name));
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] h = Conv(Image(x, n, 2, 16), p, "Stem", ConvGeometry.Square(2, 4, 4, 4, 3, padding: 1), n);
            h = BasicBlock(h, p, "Blocks.0.Body", n);
            h = BasicBlock(h, p, "Blocks.1.Body", n);
            return CrossEntropy(Dense(GlobalAverage(h, n, 16, 4), p, "Logits", 4, 3), y, 3);
        });
    }

    [Fact]
    public void DenseBlocks_ConcatenateOntoTheirInput_WithGrowingChannels()
    {
        using var model = new DenseNet(seed: 5);
        const int n = 2;
        float[] x = Inputs(n * 2 * 16, 8), t = Inputs(n * 3, 9, 1f);
        float loss = model.ComputeGradients(x, t);
        Assert.Equal(new[] { 13, 4, 4 }, DenseNet.Nodes[2].Shape);
        Check(model.Parameters, model.Gradients, loss, p =>
        {
            double[] h = Conv(Image(x, n, 2, 16), p, "Stem", ConvGeometry.Square(2, 4, 4, 4, 3, padding: 1), n);
            int channels = 4;
            for (int i = 0; i < 3; i++)
            {
                string prefix = $"Dense.{i}.Layer";
                double[] grown = Conv(Map(BatchNorm(h, p, prefix + ".0", channels), Relu), p, prefix + ".2", ConvGeometry.Square(channels, 4, 4, 3, 3, padding: 1), n);
                h = Concat(h, grown, channels, 3);
                channels += 3;
            }
            h = Kiln.Testing.ReferenceConv.Pool(PoolGeometry.Square(13, 4, 4, 2), h, n, max: false);
            return Mse(Dense(ToChannelsFirst(h, n, 13, 4), p, "Out", 52, 3), t);
        });
    }

    [Fact]
    public void LossOnAnImage_ComparesChannelsFirst()
    {
        using var model = new ImageRegression(seed: 6);
        const int n = 2;
        float[] x = Inputs(n * 2 * 9, 10), t = Inputs(n * 3 * 9, 11, 1f);
        float loss = model.ComputeGradients(x, t);
        Check(model.Parameters, model.Gradients, loss, p =>
            Mse(ToChannelsFirst(Conv(Image(x, n, 2, 9), p, "Y", ConvGeometry.Square(2, 3, 3, 3, 3, padding: 1), n), n, 3, 9), t));
    }

    [Fact]
    public void ImageOutput_IsReturnedChannelsFirst()
    {
        using var model = new ImageFilter(seed: 7);
        const int n = 2;
        float[] x = Inputs(n * 2 * 12, 12);
        var y = new float[n * ImageFilter.OutputSize];
        model.Forward(x, y);
        P p = model.Parameters.Tensors.ToDictionary(s => s.Name, s => ToDouble(model.Parameters[s]));
        double[] expected = ToChannelsFirst(Map(Conv(Image(x, n, 2, 12), p, "Y", ConvGeometry.Square(2, 3, 4, 3, 3, padding: 1), n), Relu), n, 3, 12);
        for (int i = 0; i < y.Length; i++) Assert.True(Math.Abs(y[i] - expected[i]) < 1e-5, $"y[{i}] = {y[i]}, expected {expected[i]}");
        Assert.Equal(new[] { 3, 3, 4 }, ImageFilter.Nodes[1].Shape);
    }
}
