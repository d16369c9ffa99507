using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Kernels;
using Kiln.Testing;
using Xunit;

namespace Kiln.Tests;

/// <summary>Pooling, batch normalization, layout changes and concatenation on every ISA against double references.</summary>
public class ImageOpTests
{
    private static readonly Dictionary<string, PoolGeometry> Pools = new()
    {
        ["2x2 stride 2, 32 channels"] = PoolGeometry.Square(32, 8, 8, 2),
        ["2x2 stride 2, odd map (drops the last row and column), 13 channels"] = PoolGeometry.Square(13, 7, 9, 2),
        ["3x3 stride 2 pad 1 (ResNet stem), 17 channels"] = PoolGeometry.Square(17, 9, 8, 3, stride: 2, padding: 1),
        ["3x3 stride 1 (overlapping windows), 8 channels"] = PoolGeometry.Square(8, 6, 5, 3, stride: 1),
        ["3x2 window, stride 1x2, 3 channels"] = new PoolGeometry(3, 7, 8, 3, 2, 1, 2, 1, 1),
    };

    public static IEnumerable<object[]> PoolCases() =>
        from isa in KernelInfo.Supported from name in Pools.Keys select new object[] { isa, name };

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void MaxPool_ForwardAndBackward_MatchReference(KernelIsa isa, string name)
    {
        PoolGeometry g = Pools[name];
        const int images = 3;
        float[] x = Reference.Random(images * g.InputSize, 1), dy = Reference.Random(images * g.OutputSize, 2);
        var y = new float[images * g.OutputSize];
        MaxPool.Forward(isa, g, x, y, images);
        Reference.AssertClose(ReferenceConv.Pool(g, ReferenceConv.ToDouble(x), images, max: true), y, 0, 0, $"{name} forward");

        double[] expected = ReferenceConv.PoolBackward(g, ReferenceConv.ToDouble(x), ReferenceConv.ToDouble(dy), images, max: true);
        float[] dx = Reference.Random(x.Length, 3);
        MaxPool.Backward(isa, g, x, y, dy, dx, images, accumulate: false);
        Reference.AssertClose(expected, dx, 1e-6, 1e-6, $"{name} backward");
        float[] previous = Reference.Random(x.Length, 4), sum = (float[])previous.Clone();
        MaxPool.Backward(isa, g, x, y, dy, sum, images, accumulate: true);
        Reference.AssertClose(expected.Select((v, i) => v + previous[i]).ToArray(), sum, 1e-6, 1e-6, $"{name} backward accumulated");
    }

    [Theory]
    [MemberData(nameof(PoolCases))]
    public void AvgPool_ForwardAndBackward_MatchReference_WithAndWithoutThePadding(KernelIsa isa, string name)
    {
        PoolGeometry g = Pools[name];
        const int images = 2;
        float[] x = Reference.Random(images * g.InputSize, 5), dy = Reference.Random(images * g.OutputSize, 6);
        foreach (bool includePad in new[] { true, false })
        {
            var y = new float[images * g.OutputSize];
            AvgPool.Forward(isa, g, x, y, images, includePad);
            Reference.AssertClose(ReferenceConv.Pool(g, ReferenceConv.ToDouble(x), images, max: false, includePad), y, 1e-6, 1e-6, $"{name} forward, pad counted {includePad}");
            float[] dx = Reference.Random(x.Length, 7);
            AvgPool.Backward(isa, g, dy, dx, images, accumulate: false, includePad);
            Reference.AssertClose(ReferenceConv.PoolBackward(g, ReferenceConv.ToDouble(x), ReferenceConv.ToDouble(dy), images, max: false, includePad), dx, 1e-6, 1e-6, $"{name} backward, pad counted {includePad}");
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void MaxPool_Ties_SendTheGradientToTheFirstMaximumOnly(KernelIsa isa)
    {
        var g = PoolGeometry.Square(9, 2, 2, 2);
        float[] x = Enumerable.Repeat(1f, 4 * 9).ToArray(); // every position ties
        var y = new float[9];
        MaxPool.Forward(isa, g, x, y, 1);
        float[] dy = Enumerable.Range(1, 9).Select(v => (float)v).ToArray();
        var dx = new float[x.Length];
        MaxPool.Backward(isa, g, x, y, dy, dx, 1, accumulate: false);
        Assert.Equal(dy, dx.Take(9));                 // pixel (0, 0) of the window
        Assert.All(dx.Skip(9), v => Assert.Equal(0f, v));
    }

    public static IEnumerable<object[]> Variants() => Reference.Variants();

    [Theory]
    [MemberData(nameof(Variants))]
    public void GlobalAvgPool_IsTheMeanOfEachChannel_AndSpreadsItsGradient(KernelIsa isa)
    {
        const int images = 3, pixels = 7 * 5, channels = 19;
        float[] x = Reference.Random(images * pixels * channels, 8), dy = Reference.Random(images * channels, 9);
        var y = new float[images * channels];
        GlobalAvgPool.Forward(isa, x, y, images, pixels, channels);
        var expected = new double[y.Length];
        for (int n = 0; n < images; n++)
            for (int p = 0; p < pixels; p++)
                for (int c = 0; c < channels; c++) expected[n * channels + c] += x[(n * pixels + p) * channels + c] / (double)pixels;
        Reference.AssertClose(expected, y, 1e-6, 1e-6, "mean");
        var dx = new float[x.Length];
        GlobalAvgPool.Backward(dy, dx, images, pixels, channels, accumulate: false);
        Reference.AssertClose(Enumerable.Range(0, dx.Length).Select(i => dy[i / (pixels * channels) * channels + i % channels] / (double)pixels).ToArray(), dx, 1e-6, 0, "dx");
    }

    private const double Epsilon = 1e-5;

    [Theory]
    [MemberData(nameof(Variants))]
    public void BatchNorm_Training_NormalizesWithBatchStatistics_AndMovesTheRunningOnes(KernelIsa isa)
    {
        foreach (int channels in new[] { 3, 8, 19, 40, 70 })
        {
            const int rows = 37;
            float[] x = Reference.Random(rows * channels, 10, 3f).Select(v => v + 2f).ToArray();
            float[] gamma = Reference.Random(channels, 11), beta = Reference.Random(channels, 12);
            float[] runningMean = Reference.Random(channels, 13), runningVariance = Reference.Random(channels, 14).Select(v => v + 2f).ToArray();
            float[] mean0 = (float[])runningMean.Clone(), var0 = (float[])runningVariance.Clone();
            var y = new float[x.Length];
            var saved = new float[2 * channels];
            BatchNorm.ForwardTraining(isa, x, gamma, beta, y, runningMean, runningVariance, saved, rows, channels, 0.1f, (float)Epsilon);
            double[] expected = ReferenceConv.BatchNorm(ReferenceConv.ToDouble(x), ReferenceConv.ToDouble(gamma), ReferenceConv.ToDouble(beta), rows, channels, Epsilon, out double[] mean, out double[] variance);
            Reference.AssertClose(expected, y, 1e-5, 1e-5, $"{channels} channels, y");
            Reference.AssertClose(mean.Select((m, c) => 0.9 * mean0[c] + 0.1 * m).ToArray(), runningMean, 1e-5, 1e-6, "running mean");
            Reference.AssertClose(variance.Select((v, c) => 0.9 * var0[c] + 0.1 * v * rows / (rows - 1)).ToArray(), runningVariance, 1e-5, 1e-6, "running variance (unbiased)");
        }
    }

    [Theory]
    [MemberData(nameof(Variants))]
    public void BatchNorm_Backward_MatchesFiniteDifferences_InTrainingAndInEvaluation(KernelIsa isa)
    {
        foreach (int channels in new[] { 5, 16, 19 })
        foreach (bool training in new[] { true, false })
        {
            const int rows = 9;
            float[] x = Reference.Random(rows * channels, 20, 2f), gamma = Reference.Random(channels, 21), beta = Reference.Random(channels, 22);
            float[] g = Reference.Random(rows * channels, 23); // the loss is Σ g·y, so dy = g
            float[] runningMean = Reference.Random(channels, 24), runningVariance = Reference.Random(channels, 25).Select(v => v + 1.5f).ToArray();
            var saved = new float[2 * channels];
            var y = new float[x.Length];
            float[] rm = (float[])runningMean.Clone(), rv = (float[])runningVariance.Clone();
            if (training) BatchNorm.ForwardTraining(isa, x, gamma, beta, y, rm, rv, saved, rows, channels, 0.1f, (float)Epsilon);
            else BatchNorm.ForwardEvaluation(isa, x, gamma, beta, y, runningMean, runningVariance, saved, rows, channels, (float)Epsilon);
            var dx = new float[x.Length];
            var dgamma = new float[channels];
            var dbeta = new float[channels];
            BatchNorm.Backward(isa, x, g, gamma, saved, dx, dgamma, dbeta, rows, channels, training, accumulate: false);

            double Loss(double[] xs, double[] gs, double[] bs)
            {
                double[] out_;
                if (training) out_ = ReferenceConv.BatchNorm(xs, gs, bs, rows, channels, Epsilon, out _, out _);
                else out_ = xs.Select((v, i) => (v - runningMean[i % channels]) / Math.Sqrt(runningVariance[i % channels] + Epsilon) * gs[i % channels] + bs[i % channels]).ToArray();
                return out_.Select((v, i) => v * g[i]).Sum();
            }
            double[] xd = ReferenceConv.ToDouble(x), gd = ReferenceConv.ToDouble(gamma), bd = ReferenceConv.ToDouble(beta);
            Reference.CheckGradient(xd, dx, () => Loss(xd, gd, bd), $"{channels} channels, training {training}, dx", tolerance: 1e-3);
            Reference.CheckGradient(gd, dgamma, () => Loss(xd, gd, bd), $"{channels} channels, training {training}, dγ", tolerance: 1e-3);
            Reference.CheckGradient(bd, dbeta, () => Loss(xd, gd, bd), $"{channels} channels, training {training}, dβ", tolerance: 1e-3);
        }
    }

    [Fact]
    public void BatchNorm_OneRowInTraining_IsRejectedAsPyTorchDoes()
    {
        var e = Assert.Throws<ArgumentException>(() => BatchNorm.ForwardTraining(new float[4], default, default, new float[4], new float[4], new float[4], new float[8], 1, 4, 0.1f, 1e-5f));
        Assert.Contains("more than one value per channel", e.Message);
    }

    /// <summary>Enough work to split (2¹⁶ values read and more), over an odd image count: 2 threads give the 1-thread
    /// result exactly, for max and average pooling and each layout change.</summary>
    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void PoolingAndLayout_SplitBetweenThreads_GiveTheOneThreadResult(int threads)
    {
        const int images = 5;
        PoolGeometry g = PoolGeometry.Square(32, 32, 32, 2);
        float[] x = Reference.Random(images * g.InputSize, 40);
        Assert.True(Pool.Parts(threads, images, (long)images * g.OutputSize * 4) > 1);
        foreach (KernelIsa isa in KernelInfo.Supported)
        {
            float[] one = new float[images * g.OutputSize], split = new float[one.Length];
            MaxPool.Forward(isa, g, x, one, images);
            MaxPool.Forward(isa, g, x, split, images, threads);
            Assert.Equal(ReferenceConv.Pool(g, ReferenceConv.ToDouble(x), images, max: true).Select(v => (float)v), split);
            Assert.Equal(one, split);
            AvgPool.Forward(isa, g, x, one, images, countIncludePad: true);
            AvgPool.Forward(isa, g, x, split, images, countIncludePad: true, threads);
            Assert.Equal(one, split);
        }
        float[] nhwc = new float[x.Length], nhwcSplit = new float[x.Length], back = new float[x.Length];
        Layout.ToChannelsLast(x, nhwc, images, 32, 1024);
        Layout.ToChannelsLast(x, nhwcSplit, images, 32, 1024, threads);
        Assert.Equal(nhwc, nhwcSplit);
        Layout.ToChannelsFirst(nhwcSplit, back, images, 32, 1024, threads);
        Assert.Equal(x, back);
        float[] previous = Reference.Random(x.Length, 41), sum = (float[])previous.Clone(), sumSplit = (float[])previous.Clone();
        Layout.ToChannelsFirstBackward(x, sum, images, 32, 1024, accumulate: true);
        Layout.ToChannelsFirstBackward(x, sumSplit, images, 32, 1024, accumulate: true, threads);
        Assert.Equal(sum, sumSplit);
    }

    [Fact]
    public void Layout_ChannelsLastAndFirst_AreInverseTransposes_AndTheirBackwardsAccumulate()
    {
        const int images = 2, channels = 11, pixels = 13;
        float[] nchw = Reference.Random(images * channels * pixels, 30);
        var nhwc = new float[nchw.Length];
        Layout.ToChannelsLast(nchw, nhwc, images, channels, pixels);
        for (int n = 0; n < images; n++)
            for (int c = 0; c < channels; c++)
                for (int p = 0; p < pixels; p++)
                    Assert.Equal(nchw[(n * channels + c) * pixels + p], nhwc[(n * pixels + p) * channels + c]);
        var back = new float[nchw.Length];
        Layout.ToChannelsFirst(nhwc, back, images, channels, pixels);
        Assert.Equal(nchw, back);

        float[] previous = Reference.Random(nchw.Length, 31), sum = (float[])previous.Clone();
        Layout.ToChannelsLastBackward(nhwc, sum, images, channels, pixels, accumulate: true);   // dy in NHWC → dx in NCHW
        Assert.Equal(nchw.Select((v, i) => v + previous[i]), sum);
        float[] sum2 = (float[])previous.Clone();
        Layout.ToChannelsFirstBackward(nchw, sum2, images, channels, pixels, accumulate: true); // dy in NCHW → dx in NHWC
        Assert.Equal(nhwc.Select((v, i) => v + previous[i]), sum2);
    }

    [Fact]
    public void Concat_JoinsRows_AndSplitsTheGradient()
    {
        const int rows = 5, wa = 3, wb = 7;
        float[] a = Reference.Random(rows * wa, 40), b = Reference.Random(rows * wb, 41);
        var y = new float[rows * (wa + wb)];
        Concat.Forward(a, b, y, rows, wa, wb);
        for (int r = 0; r < rows; r++)
        {
            Assert.Equal(a.Skip(r * wa).Take(wa), y.Skip(r * (wa + wb)).Take(wa));
            Assert.Equal(b.Skip(r * wb).Take(wb), y.Skip(r * (wa + wb) + wa).Take(wb));
        }
        float[] da = Reference.Random(a.Length, 42), db = new float[b.Length];
        float[] daBefore = (float[])da.Clone();
        Concat.Backward(y, da, db, rows, wa, wb, accumulateA: true, accumulateB: false);
        Assert.Equal(a.Select((v, i) => v + daBefore[i]), da);
        Assert.Equal(b, db);
        Concat.Backward(y, default, db, rows, wa, wb, false, true);
        Assert.Equal(b.Select(v => v + v), db);
    }
}
