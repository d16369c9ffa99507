using System;
using System.Collections.Generic;
using System.Linq;
using Kiln.Kernels;
using Kiln.Testing;
using Xunit;

namespace Kiln.Tests;

/// <summary>The convolution kernels (forward with its epilogue, input gradient, weight and bias gradients) on every
/// ISA, against the double-precision reference, over strides, paddings, dilations, groups and edge sizes.</summary>
public class ConvTests
{
    /// <summary>Named geometries: each stresses a different part of the tables or tiles.</summary>
    private static readonly Dictionary<string, ConvGeometry> Geometries = new()
    {
        ["3x3 pad 1, 3 -> 8 (first layer)"] = ConvGeometry.Square(3, 9, 7, 8, 3, padding: 1),
        ["3x3 pad 1, 32 -> 32 (Z2's second layer, small map)"] = ConvGeometry.Square(32, 6, 6, 32, 3, padding: 1),
        ["3x3 no padding, 5 -> 10"] = ConvGeometry.Square(5, 8, 9, 10, 3),
        ["3x3 stride 2 pad 1, 16 -> 24"] = ConvGeometry.Square(16, 9, 8, 24, 3, stride: 2, padding: 1),
        ["3x3 dilation 2 pad 2, 6 -> 7"] = ConvGeometry.Square(6, 9, 9, 7, 3, padding: 2, dilation: 2),
        ["5x3 kernel, stride 2x1, padding 2/1/0/1"] = new ConvGeometry(4, 10, 7, 9, 5, 3, 2, 1, 2, 1, 0, 1, 1, 1, 1),
        ["same padding with an even kernel (4x4: 1/2/1/2)"] = new ConvGeometry(5, 7, 6, 6, 4, 4, 1, 1, 1, 2, 1, 2, 1, 1, 1),
        ["groups 2, 8 -> 12"] = ConvGeometry.Square(8, 7, 7, 12, 3, padding: 1, groups: 2),
        ["depthwise 16"] = ConvGeometry.Square(16, 7, 6, 16, 3, padding: 1, groups: 16),
        ["depthwise multiplier 2"] = ConvGeometry.Square(4, 6, 6, 8, 3, padding: 1, groups: 4),
        ["1x1 pointwise, 24 -> 40"] = ConvGeometry.Square(24, 5, 6, 40, 1),
        ["1x1 stride 2 (a ResNet shortcut)"] = ConvGeometry.Square(16, 8, 8, 32, 1, stride: 2),
        ["7x7 stride 2 pad 3, 3 -> 64 (ResNet stem)"] = ConvGeometry.Square(3, 12, 12, 64, 7, stride: 2, padding: 3),
        ["kernel larger than the input, padded"] = ConvGeometry.Square(3, 2, 2, 5, 5, padding: 2),
        ["1x1 map"] = ConvGeometry.Square(40, 1, 1, 33, 1),
        // Large enough that 2 threads split it (the weight gradient by images, 3 images over 2 parts).
        ["3x3 pad 1, 32 -> 32 at 16x16 (threaded)"] = ConvGeometry.Square(32, 16, 16, 32, 3, padding: 1),
        // Winograd F(2x2, 3x3): odd map sizes (clipped tiles), a map smaller than a tile block, more tiles than a block.
        ["3x3 pad 1, 8 -> 16 at 7x9 (Winograd, odd map)"] = ConvGeometry.Square(8, 7, 9, 16, 3, padding: 1),
        ["3x3 pad 1, 24 -> 8 at 2x2 (Winograd, tiny map)"] = ConvGeometry.Square(24, 2, 2, 8, 3, padding: 1),
        ["3x3 pad 1, 16 -> 16 at 20x22 (Winograd, several blocks)"] = ConvGeometry.Square(16, 20, 22, 16, 3, padding: 1),
        // F(4×4) holds at most 24 tiles of 64 + 64 channels a block: 3 images' 75 tiles are 2 blocks per thread.
        ["3x3 pad 1, 64 -> 64 at 20x20 (Winograd, several blocks a thread)"] = ConvGeometry.Square(64, 20, 20, 64, 3, padding: 1),
    };

    /// <summary>Every ISA, geometry and thread count, with the default algorithm; where Winograd applies, F(2×2, 3×3)
    /// forced as well (the default runs F(4×4, 3×3) for the forward and input gradient).</summary>
    public static IEnumerable<object[]> Cases() =>
        from isa in KernelInfo.Supported
        from name in Geometries.Keys
        from threads in new[] { 1, 2 }
        from algorithm in Winograd3x3.Applies(Geometries[name]) && isa != KernelIsa.Portable
            ? new[] { ConvAlgorithm.Auto, ConvAlgorithm.Winograd2x2 } : new[] { ConvAlgorithm.Auto }
        select new object[] { isa, name, threads, algorithm };

    /// <summary>The float32 tolerance of an output that sums n = 9·<paramref name="inChannels"/> products: a direct sum
    /// (im2col, the portable loop) 2e-6·√n, at least 1e-5 (576 products: 4.8e-5; the portable loop measured 1.5e-5);
    /// Winograd 1e-5·√n, as its transforms scale values up before they cancel (F(4×4, 3×3)'s hold 4, 5 and 8; its error
    /// measured about 4× F(2×2)'s: up to 2.1e-5 of the output's scale).</summary>
    private static double Tolerance(Conv2d conv, int inChannels) =>
        conv.UsesWinograd ? 1e-5 * Math.Sqrt(9 * inChannels) : Math.Max(1e-5, 2e-6 * Math.Sqrt(9 * inChannels));

    private static float[] Random(int length, int seed) => Reference.Random(length, seed);

    private static Conv2d Create(KernelIsa isa, string name, ConvAlgorithm algorithm = ConvAlgorithm.Auto) =>
        new(Geometries[name]) { Isa = isa, Algorithm = algorithm };

    [Fact]
    public void Winograd_RunsWhereItApplies_AndIm2colCanBeForced()
    {
        Assert.True(new Conv2d(Geometries["3x3 pad 1, 8 -> 16 at 7x9 (Winograd, odd map)"]).UsesWinograd == (KernelInfo.Best != KernelIsa.Portable));
        Assert.False(new Conv2d(Geometries["3x3 pad 1, 8 -> 16 at 7x9 (Winograd, odd map)"]) { Algorithm = ConvAlgorithm.Im2col }.UsesWinograd);
        Assert.False(new Conv2d(Geometries["3x3 pad 1, 3 -> 8 (first layer)"]).UsesWinograd);   // channels not a multiple of 8
        Assert.False(new Conv2d(Geometries["3x3 stride 2 pad 1, 16 -> 24"]).UsesWinograd);  // strided
        Assert.False(new Conv2d(Geometries["3x3 dilation 2 pad 2, 6 -> 7"]).UsesWinograd);
    }

    [Fact]
    public void PaddedRows_GatherFewChannelLayers_AndNotDilatedGroupedOrWide()
    {
        bool vectors = KernelInfo.Best != KernelIsa.Portable;
        Assert.Equal(vectors, new Conv2d(Geometries["3x3 pad 1, 3 -> 8 (first layer)"]).UsesPaddedRows);
        Assert.Equal(vectors, new Conv2d(Geometries["7x7 stride 2 pad 3, 3 -> 64 (ResNet stem)"]).UsesPaddedRows);   // runs of 21
        Assert.Equal(vectors, new Conv2d(Geometries["5x3 kernel, stride 2x1, padding 2/1/0/1"]).UsesPaddedRows);
        Assert.False(new Conv2d(Geometries["3x3 dilation 2 pad 2, 6 -> 7"]).UsesPaddedRows);
        Assert.False(new Conv2d(Geometries["groups 2, 8 -> 12"]).UsesPaddedRows);
        Assert.False(new Conv2d(Geometries["3x3 stride 2 pad 1, 16 -> 24"]).UsesPaddedRows);   // runs of 48: the table's
        Assert.False(new Conv2d(Geometries["3x3 pad 1, 3 -> 8 (first layer)"]) { Isa = KernelIsa.Portable }.UsesPaddedRows);
    }

    [Fact]
    public void Winograd_SeesAWeightChangedInPlace()
    {
        ConvGeometry g = Geometries["3x3 pad 1, 8 -> 16 at 7x9 (Winograd, odd map)"];
        var conv = new Conv2d(g);
        var im2col = new Conv2d(g) { Algorithm = ConvAlgorithm.Im2col };
        float[] x = Random(g.InputSize, 31), w = Random(g.WeightSize, 32), y = new float[g.OutputSize], expected = new float[g.OutputSize];
        conv.Forward(x, w, default, y, 1);
        conv.Forward(x, w, default, y, 1); // the same weight again: the transformed copy is reused
        w[5] += 1f;                        // an optimizer step, in place
        conv.Forward(x, w, default, y, 1);
        im2col.Forward(x, w, default, expected, 1);
        Reference.AssertClose(expected.Select(v => (double)v).ToArray(), y, 1e-4, 1e-4, "after the weight changed");
    }

    /// <summary>Winograd against the im2col path on the same data: both within the float32 tolerance of each other.</summary>
    [Theory]
    [InlineData("3x3 pad 1, 8 -> 16 at 7x9 (Winograd, odd map)", 1, ConvAlgorithm.Auto)]
    [InlineData("3x3 pad 1, 8 -> 16 at 7x9 (Winograd, odd map)", 1, ConvAlgorithm.Winograd2x2)]
    [InlineData("3x3 pad 1, 16 -> 16 at 20x22 (Winograd, several blocks)", 2, ConvAlgorithm.Auto)]
    [InlineData("3x3 pad 1, 16 -> 16 at 20x22 (Winograd, several blocks)", 2, ConvAlgorithm.Winograd2x2)]
    [InlineData("3x3 pad 1, 32 -> 32 at 16x16 (threaded)", 2, ConvAlgorithm.Winograd4x4)]
    [InlineData("3x3 pad 1, 32 -> 32 at 16x16 (threaded)", 2, ConvAlgorithm.Winograd2x2)]
    public void Winograd_MatchesIm2col_ForwardInputAndWeightGradients(string name, int threads, ConvAlgorithm algorithm)
    {
        foreach (KernelIsa isa in KernelInfo.Supported)
        {
            if (isa == KernelIsa.Portable) continue;
            ConvGeometry g = Geometries[name];
            var winograd = new Conv2d(g) { Isa = isa, Algorithm = algorithm };
            var im2col = new Conv2d(g) { Isa = isa, Algorithm = ConvAlgorithm.Im2col };
            Assert.True(winograd.UsesWinograd);
            const int images = 3;
            float[] x = Random(images * g.InputSize, 21), w = Random(g.WeightSize, 22), b = Random(g.OutChannels, 23), dy = Random(images * g.OutputSize, 24);
            float[] y1 = new float[images * g.OutputSize], y2 = new float[y1.Length], z1 = new float[y1.Length], z2 = new float[y1.Length];
            winograd.Forward(x, w, b, y1, images, new Activations.LeakyReluOp(0.1f), z1, threads);
            im2col.Forward(x, w, b, y2, images, new Activations.LeakyReluOp(0.1f), z2, threads);
            double tolerance = 1e-5 * Math.Sqrt(9 * g.InChannels);
            Reference.AssertClose(z2.Select(v => (double)v).ToArray(), z1, tolerance, tolerance, $"{isa} {name}: pre-activation");
            Reference.AssertClose(y2.Select(v => (double)v).ToArray(), y1, tolerance, tolerance, $"{isa} {name}: output");
            float[] dx1 = Random(images * g.InputSize, 25), dx2 = (float[])dx1.Clone();
            winograd.BackwardInput(dy, w, dx1, images, accumulate: true, threads);
            im2col.BackwardInput(dy, w, dx2, images, accumulate: true, threads);
            Reference.AssertClose(dx2.Select(v => (double)v).ToArray(), dx1, tolerance, tolerance, $"{isa} {name}: input gradient accumulated");
            float[] dw1 = Random(g.WeightSize, 26), dw2 = (float[])dw1.Clone(), db1 = new float[g.OutChannels], db2 = new float[g.OutChannels];
            winograd.BackwardParameters(x, dy, dw1, db1, images, accumulate: true, threads);
            im2col.BackwardParameters(x, dy, dw2, db2, images, accumulate: true, threads);
            double sumTolerance = 2e-5 * Math.Sqrt(images * g.OutPixels);
            Reference.AssertClose(dw2.Select(v => (double)v).ToArray(), dw1, sumTolerance, sumTolerance, $"{isa} {name}: weight gradient accumulated");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Forward_WithBiasAndFusedActivation_MatchesReference(KernelIsa isa, string name, int threads, ConvAlgorithm algorithm)
    {
        Conv2d conv = Create(isa, name, algorithm);
        ConvGeometry g = conv.Geometry;
        double tolerance = Tolerance(conv, g.GroupInChannels);
        foreach (int images in new[] { 1, 3 })
        {
            float[] x = Random(images * g.InputSize, 1), w = Random(g.WeightSize, 2), b = Random(g.OutChannels, 3);
            double[] expected = ReferenceConv.Forward(g, ReferenceConv.ToDouble(x), ReferenceConv.ToDouble(w), ReferenceConv.ToDouble(b), images);

            var y = new float[images * g.OutputSize];
            conv.Forward(x, w, b, y, images, threads);
            Reference.AssertClose(expected, y, tolerance, tolerance, $"{name}, {images} images, forward");

            var act = new float[y.Length];
            var pre = new float[y.Length];
            conv.Forward(x, w, default, act, images, new Activations.LeakyReluOp(0.1f), pre, threads);
            double[] noBias = ReferenceConv.Forward(g, ReferenceConv.ToDouble(x), ReferenceConv.ToDouble(w), null, images);
            Reference.AssertClose(noBias, pre, tolerance, tolerance, $"{name}, {images} images, pre-activation");
            Reference.AssertClose(noBias.Select(v => v > 0 ? v : 0.1 * v).ToArray(), act, tolerance, tolerance, $"{name}, {images} images, leaky ReLU epilogue");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardInput_AssignsAndAccumulates_MatchesReference(KernelIsa isa, string name, int threads, ConvAlgorithm algorithm)
    {
        Conv2d conv = Create(isa, name, algorithm);
        ConvGeometry g = conv.Geometry;
        double tolerance = Tolerance(conv, g.GroupOutChannels);
        foreach (int images in new[] { 1, 3 })
        {
            float[] dy = Random(images * g.OutputSize, 4), w = Random(g.WeightSize, 5), previous = Random(images * g.InputSize, 6);
            double[] expected = ReferenceConv.BackwardInput(g, ReferenceConv.ToDouble(dy), ReferenceConv.ToDouble(w), images);

            float[] dx = Random(images * g.InputSize, 7); // garbage: assigned, not added to
            conv.BackwardInput(dy, w, dx, images, accumulate: false, threads);
            Reference.AssertClose(expected, dx, tolerance, tolerance, $"{name}, {images} images, dx");

            float[] sum = (float[])previous.Clone();
            conv.BackwardInput(dy, w, sum, images, accumulate: true, threads);
            Reference.AssertClose(expected.Select((v, i) => v + previous[i]).ToArray(), sum, tolerance, tolerance, $"{name}, {images} images, dx accumulated");
        }
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void BackwardParameters_AssignsAndAccumulates_MatchesReference(KernelIsa isa, string name, int threads, ConvAlgorithm algorithm)
    {
        Conv2d conv = Create(isa, name, algorithm);
        ConvGeometry g = conv.Geometry;
        foreach (int images in new[] { 1, 3 })
        {
            float[] x = Random(images * g.InputSize, 8), dy = Random(images * g.OutputSize, 9);
            float[] previousW = Random(g.WeightSize, 10), previousB = Random(g.OutChannels, 11);
            var (expectedW, expectedB) = ReferenceConv.BackwardParameters(g, ReferenceConv.ToDouble(x), ReferenceConv.ToDouble(dy), images);
            // The reduction runs over every pixel of the batch: allow for its length (5× for Winograd's transforms, as
            // for the forward; F(4×4) measured up to 1.6e-4 over 1,320 pixels).
            double tolerance = (conv.UsesWinograd ? 1e-5 : 2e-6) * Math.Sqrt(images * g.OutPixels) + 1e-5;

            float[] dw = Random(g.WeightSize, 12), db = Random(g.OutChannels, 13);
            conv.BackwardParameters(x, dy, dw, db, images, accumulate: false, threads);
            Reference.AssertClose(expectedW, dw, tolerance, tolerance, $"{name}, {images} images, dW");
            Reference.AssertClose(expectedB, db, tolerance, tolerance, $"{name}, {images} images, db");

            float[] sumW = (float[])previousW.Clone(), sumB = (float[])previousB.Clone();
            conv.BackwardParameters(x, dy, sumW, sumB, images, accumulate: true, threads);
            Reference.AssertClose(expectedW.Select((v, i) => v + previousW[i]).ToArray(), sumW, tolerance, tolerance, $"{name}, {images} images, dW accumulated");
            Reference.AssertClose(expectedB.Select((v, i) => v + previousB[i]).ToArray(), sumB, tolerance, tolerance, $"{name}, {images} images, db accumulated");

            conv.BackwardParameters(x, dy, dw, default, images, accumulate: false, threads);
            Reference.AssertClose(expectedW, dw, tolerance, tolerance, $"{name}, {images} images, dW without a bias");
        }
    }

    [Fact]
    public void AZ2SizedBatch_UsesSeveralTiles_AndMatchesReference()
    {
        // 32 channels on a 16×16 map, 4 images: rows span images, several depth blocks on AVX2 (K = 288 < 384, one),
        // and the 2-thread split.
        var g = ConvGeometry.Square(32, 16, 16, 64, 3, padding: 1);
        foreach (KernelIsa isa in KernelInfo.Supported)
        {
            var conv = new Conv2d(g) { Isa = isa };
            const int images = 4;
            float[] x = Random(images * g.InputSize, 21), w = Random(g.WeightSize, 22), dy = Random(images * g.OutputSize, 23);
            var y = new float[images * g.OutputSize];
            conv.Forward(x, w, default, y, images, threads: 2);
            // 288 (forward) and 576 (dx) products a sum, at 1e-5 relative and 1e-4 absolute, or Winograd's tolerance.
            double forward = conv.UsesWinograd ? Tolerance(conv, g.InChannels) : 1e-5, backward = conv.UsesWinograd ? Tolerance(conv, g.OutChannels) : 1e-5;
            Reference.AssertClose(ReferenceConv.Forward(g, ReferenceConv.ToDouble(x), ReferenceConv.ToDouble(w), null, images), y, forward, Math.Max(forward, 1e-4), $"{isa} forward");
            var dx = new float[x.Length];
            conv.BackwardInput(dy, w, dx, images, false, threads: 2);
            Reference.AssertClose(ReferenceConv.BackwardInput(g, ReferenceConv.ToDouble(dy), ReferenceConv.ToDouble(w), images), dx, backward, Math.Max(backward, 1e-4), $"{isa} dx");
            var dw = new float[w.Length];
            conv.BackwardParameters(x, dy, dw, default, images, false, threads: 2);
            Reference.AssertClose(ReferenceConv.BackwardParameters(g, ReferenceConv.ToDouble(x), ReferenceConv.ToDouble(dy), images).Weight, dw, 1e-4, 1e-4, $"{isa} dW");
        }
    }

    [Fact]
    public void WrongSpanLengths_AreArgumentExceptionsNamingTheShape()
    {
        var conv = new Conv2d(ConvGeometry.Square(3, 4, 4, 8, 3, padding: 1));
        var e = Assert.Throws<ArgumentException>(() => conv.Forward(new float[47], new float[216], default, new float[128], 1));
        Assert.Contains("48", e.Message);
        Assert.Throws<ArgumentException>(() => conv.Forward(new float[48], new float[215], default, new float[128], 1));
        Assert.Throws<ArgumentException>(() => conv.Forward(new float[48], new float[216], new float[7], new float[128], 1));
        Assert.Throws<ArgumentException>(() => conv.BackwardInput(new float[128], new float[216], new float[47], 1, false));
        Assert.Throws<ArgumentException>(() => conv.BackwardParameters(new float[48], new float[127], new float[216], default, 1, false));
        Assert.Throws<ArgumentOutOfRangeException>(() => conv.Forward(new float[48], new float[216], default, new float[128], -1));
    }

    [Fact]
    public void Geometry_ThatCannotFit_IsRejectedWithTheArithmetic()
    {
        var e = Assert.Throws<ArgumentException>(() => ConvGeometry.Square(3, 2, 2, 8, 3));
        Assert.Contains("0x0", e.Message);
        Assert.Contains("kernel 3x3", e.Message);
        Assert.Throws<ArgumentException>(() => ConvGeometry.Square(3, 8, 8, 8, 3, groups: 2));
        Assert.Equal(16, ConvGeometry.Square(3, 32, 32, 8, 3, stride: 2, padding: 1).OutHeight);
        Assert.Equal(28, ConvGeometry.Square(3, 32, 32, 8, 5).OutWidth);
        Assert.Equal(28, ConvGeometry.Square(3, 32, 32, 8, 3, dilation: 2).OutWidth);
    }
}
