using System;
using Kiln.Kernels;
using Xunit;

namespace Kiln.Tests;

/// <summary>
/// A Dense forward with its weight packed beforehand (<see cref="PackedWeights"/>) gives what it gives without, on
/// every route a product takes (matrix-vector, a narrow head, the packed engine on one and two threads), and the packs
/// are used only while the parameters' version is the one they were sealed at.
/// </summary>
public class PackedWeightsTests
{
    public static TheoryData<int, int, int, int> Shapes() => new()
    {
        { 1, 784, 256, 1 }, { 2, 784, 256, 1 }, { 3, 5, 17, 1 }, { 7, 33, 16, 1 }, { 64, 784, 256, 1 }, { 64, 128, 10, 1 },
        { 13, 67, 40, 1 }, { 64, 784, 256, 2 }, { 96, 256, 512, 2 }, { 1, 512, 512, 2 },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void DenseForward_WithThePackedWeight_MatchesDoubleReference(int rows, int inFeatures, int outFeatures, int threads)
    {
        float[] x = Reference.Random(rows * inFeatures, rows + inFeatures), w = Reference.Random(outFeatures * inFeatures, 7 + outFeatures);
        float[] b = Reference.Random(outFeatures, 3);
        var z = new double[rows * outFeatures];
        for (int i = 0; i < rows; i++)
            for (int j = 0; j < outFeatures; j++)
            {
                double sum = b[j];
                for (int p = 0; p < inFeatures; p++) sum += (double)x[i * inFeatures + p] * w[j * inFeatures + p];
                z[i * outFeatures + j] = sum;
            }
        double[] relu = Array.ConvertAll(z, v => Math.Max(0, v));

        var packs = new PackedWeights(1);
        var set = SetOf(w);
        packs.Pack(0, w, outFeatures, inFeatures);
        packs.Seal(set);
        Assert.True(packs.Current);
        var y = new float[rows * outFeatures];
        var pre = new float[rows * outFeatures];
        Dense.Forward(x, w, b, y, rows, inFeatures, outFeatures, default(Activations.ReluOp), pre, threads, packs.For(0));
        Reference.AssertClose(relu, y, 1e-5, 2e-4, "y (packed)");
        Reference.AssertClose(z, pre, 1e-5, 2e-4, "pre-activation (packed)");

        // The pack stands in for the weight: a pack of other values shows whether the packed engine read it.
        var other = new PackedWeights(1);
        float[] doubled = Array.ConvertAll(w, v => 2 * v);
        other.Pack(0, doubled, outFeatures, inFeatures);
        other.Seal(set);
        Dense.Forward(x, w, b, y, rows, inFeatures, outFeatures, threads, other.For(0));
        bool packedEngine = KernelInfo.Best != KernelIsa.Portable
            && Gemm.UsesPackedEngine(KernelInfo.Best, Gemm.Kernel, GemmForm.Nt, rows, outFeatures, inFeatures, threads);
        // A layer's batch on vector hardware takes the packed engine (Z1's first layer); one row does not (a matrix-vector product).
        if (KernelInfo.Best != KernelIsa.Portable && Gemm.Kernel == GemmKernel.Auto) Assert.Equal(rows >= 3 && outFeatures >= 16, packedEngine);
        for (int i = 0; i < y.Length; i++)
        {
            double expected = packedEngine ? 2 * z[i] - b[i % outFeatures] : z[i];
            Assert.True(Math.Abs(expected - y[i]) <= 2e-4 + 1e-5 * Math.Abs(expected), $"y[{i}] = {y[i]:R}, expected {expected:R} (packed engine: {packedEngine})");
        }
    }

    [Fact]
    public void Packs_AreUsedOnlyWhileTheParametersAreUnchanged()
    {
        float[] w = Reference.Random(16 * 8, 1);
        ParameterSet set = SetOf(w);
        var packs = new PackedWeights(1);
        Assert.False(packs.Current);
        Assert.False(packs.For(0).Fits(KernelInfo.Best, 16, 8));
        packs.Pack(0, set.Values, 16, 8);
        Assert.False(packs.Current); // packed, not sealed
        packs.Seal(set);
        Assert.True(packs.Current);
        Assert.Equal(KernelInfo.Best != KernelIsa.Portable, packs.For(0).Fits(KernelInfo.Best, 16, 8));

        // Reading does not end them; any writable access does.
        _ = set.Values[3];
        _ = set.Read(set.Tensors[0])[5];
        Assert.True(packs.Current);
        set["w"][0] += 1f;
        Assert.False(packs.Current);
        Assert.False(packs.For(0).Fits(KernelInfo.Best, 16, 8));

        packs.Seal(set);
        Assert.True(packs.Current);
        _ = set.Span;
        Assert.False(packs.Current);

        packs.Seal(set);
        packs.Release();
        Assert.False(packs.Current);
    }

    [Fact]
    public void NarrowHead_IsNotPacked_AndTheWrongShapeIsIgnored()
    {
        var packs = new PackedWeights(2);
        float[] head = Reference.Random(10 * 128, 2), w = Reference.Random(32 * 24, 3);
        packs.Pack(0, head, 10, 128);
        packs.Pack(1, w, 32, 24);
        packs.Seal(SetOf(w));
        // A 10-column head is read as dot products on vector hardware: nothing is kept for it.
        if (KernelInfo.Best != KernelIsa.Portable) Assert.False(packs.For(0).Fits(KernelInfo.Best, 10, 128));
        // A pack of another shape is not taken for this product.
        float[] x = Reference.Random(5 * 32, 4);
        var y = new float[5 * 24];
        var expected = new float[5 * 24];
        float[] wt = Reference.Random(24 * 32, 5);
        Dense.Forward(x, wt, default, expected, 5, 32, 24);
        Dense.Forward(x, wt, default, y, 5, 32, 24, packed: packs.For(1));
        Assert.Equal(expected, y);
        Assert.Throws<ArgumentOutOfRangeException>(() => packs.Pack(2, w, 32, 24));
        Assert.Throws<ArgumentException>(() => packs.Pack(1, w, 33, 24));
    }

    private static ParameterSet SetOf(float[] values)
    {
        var memory = new AlignedBuffer(values.Length);
        values.CopyTo(memory.Span);
        return new ParameterSet(memory, 0, values.Length, new[] { new TensorSlice("w", new[] { values.Length }, 0) });
    }
}
