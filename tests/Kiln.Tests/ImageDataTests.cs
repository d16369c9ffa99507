using System;
using System.IO;
using System.Linq;
using Kiln.Data;
using Kiln.Training;
using Xunit;

namespace Kiln.Tests;

/// <summary>The CIFAR-10 reader on small files the tests write (whole, truncated, with a bad label, missing, nested),
/// the built-in shapes, and the image augmentation against a direct per-pixel definition.</summary>
public sealed class ImageDataTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kiln-cifar-" + Guid.NewGuid().ToString("N"));

    public ImageDataTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    /// <summary>Records with label (first + i) % 10 and pixel byte (i·7 + c·3 + p) % 256 for channel c, pixel p.</summary>
    private static byte[] Records(int count, int first = 0)
    {
        var bytes = new byte[count * Cifar10.RecordSize];
        for (int i = 0; i < count; i++)
        {
            bytes[i * Cifar10.RecordSize] = (byte)((first + i) % 10);
            for (int c = 0; c < 3; c++)
                for (int p = 0; p < 1024; p++)
                    bytes[i * Cifar10.RecordSize + 1 + c * 1024 + p] = (byte)((i * 7 + c * 3 + p) % 256);
        }
        return bytes;
    }

    private void WriteAll(string directory, int perBatch = 3)
    {
        Directory.CreateDirectory(directory);
        for (int b = 1; b <= 5; b++) File.WriteAllBytes(Path.Combine(directory, $"data_batch_{b}.bin"), Records(perBatch, first: b));
        File.WriteAllBytes(Path.Combine(directory, "test_batch.bin"), Records(2, first: 7));
    }

    [Fact]
    public void ReadBatch_DecodesLabelsAndChannelsFirstPixels()
    {
        string path = Path.Combine(_directory, "one.bin");
        File.WriteAllBytes(path, Records(4, first: 8));
        Dataset raw = Cifar10.ReadBatch(path, normalize: false);
        Assert.Equal(4, raw.Count);
        Assert.Equal(3 * 32 * 32, raw.FeatureSize);
        Assert.Equal(new[] { 8, 9, 0, 1 }, raw.Labels);
        for (int i = 0; i < 4; i++)
            for (int c = 0; c < 3; c++)
                foreach (int p in new[] { 0, 1, 31, 32, 555, 1023 })
                    Assert.Equal(((i * 7 + c * 3 + p) % 256) / 255f, raw.Sample(i)[c * 1024 + p]);

        Dataset normalized = Cifar10.ReadBatch(path);
        for (int c = 0; c < 3; c++)
        {
            float expected = ((2 * 7 + c * 3 + 100) % 256 / 255f - Cifar10.Mean[c]) / Cifar10.StandardDeviation[c];
            Assert.Equal(expected, normalized.Sample(2)[c * 1024 + 100], 5);
        }
    }

    [Fact]
    public void Load_JoinsTheFiveTrainingBatches_AndFindsTheArchiveSubdirectory()
    {
        WriteAll(Path.Combine(_directory, "cifar-10-batches-bin"));
        var (train, test) = Cifar10.Load(_directory, normalize: false);
        Assert.Equal(15, train.Count);
        Assert.Equal(2, test.Count);
        Assert.Equal(new[] { 1, 2, 3, 2, 3, 4, 3, 4, 5, 4, 5, 6, 5, 6, 7 }, train.Labels);
        Assert.Equal(new[] { 7, 8 }, test.Labels);
        Assert.Equal(Cifar10.ReadBatch(Path.Combine(_directory, "cifar-10-batches-bin", "data_batch_2.bin"), normalize: false).Features,
            train.Features.AsSpan(3 * 3072, 3 * 3072).ToArray());
    }

    [Fact]
    public void TruncatedFile_IsADataFormatException_NamingTheRecordSize()
    {
        string path = Path.Combine(_directory, "short.bin");
        File.WriteAllBytes(path, Records(2).AsSpan(0, 2 * Cifar10.RecordSize - 100).ToArray());
        var e = Assert.Throws<DataFormatException>(() => Cifar10.ReadBatch(path));
        Assert.Contains("short.bin", e.Message);
        Assert.Contains("3073", e.Message);
        Assert.Contains("truncated", e.Message);

        File.WriteAllBytes(path, Array.Empty<byte>());
        Assert.Throws<DataFormatException>(() => Cifar10.ReadBatch(path));
    }

    [Fact]
    public void LabelAboveNine_IsADataFormatException_NamingTheRecord()
    {
        string path = Path.Combine(_directory, "bad.bin");
        byte[] bytes = Records(3);
        bytes[2 * Cifar10.RecordSize] = 10;
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<DataFormatException>(() => Cifar10.ReadBatch(path));
        Assert.Contains("record 2", e.Message);
        Assert.Contains("label 10", e.Message);
    }

    [Fact]
    public void MissingBatch_Or_Directory_IsNamed()
    {
        WriteAll(_directory);
        File.Delete(Path.Combine(_directory, "data_batch_4.bin"));
        var missing = Assert.Throws<FileNotFoundException>(() => Cifar10.Load(_directory));
        Assert.Contains("data_batch_4.bin", missing.Message);
        Assert.Throws<DirectoryNotFoundException>(() => Cifar10.Load(Path.Combine(_directory, "nope")));
    }

    [Fact]
    public void SyntheticShapes_AreDeterministic_Balanced_InRange_AndDistinct()
    {
        Dataset a = SyntheticShapes.Generate(200, seed: 3);
        Dataset b = SyntheticShapes.Generate(200, seed: 3);
        Assert.Equal(a.Features, b.Features);
        Assert.Equal(a.Labels, b.Labels);
        Assert.NotEqual(a.Features, SyntheticShapes.Generate(200, seed: 4).Features);
        Assert.Equal(3 * 32 * 32, a.FeatureSize);
        Assert.All(Enumerable.Range(0, 10), s => Assert.Equal(20, a.Labels.Count(l => l == s)));
        Assert.All(a.Features, v => Assert.InRange(v, 0f, 1f));
        Assert.Equal(10, SyntheticShapes.Names.Distinct().Count());

        // The same draws rendered as two different shapes differ, and the shape covers a good part of the image:
        // the pixels that change between a disc and a ring of the same colours, place and size.
        var first = new float[SyntheticShapes.Size];
        var second = new float[SyntheticShapes.Size];
        SyntheticShapes.Render(0, new KilnRandom(9), first);
        SyntheticShapes.Render(1, new KilnRandom(9), second);
        int changed = first.Zip(second, (x, y) => MathF.Abs(x - y) > 0.2f).Count(c => c);
        Assert.InRange(changed, 60, 3 * 900);
        Assert.Throws<ArgumentOutOfRangeException>(() => SyntheticShapes.Render(10, new KilnRandom(1), first));
        Assert.Throws<ArgumentException>(() => SyntheticShapes.Render(0, new KilnRandom(1), new float[10]));
    }

    // ---- augmentation ----

    /// <summary>Torchvision's RandomCrop(padding) then RandomHorizontalFlip, written per output pixel.</summary>
    private static float[] CropFlipReference(float[] image, int channels, int height, int width, int dy, int dx, bool flip)
    {
        var result = new float[image.Length];
        for (int c = 0; c < channels; c++)
            for (int y = 0; y < height; y++)
                for (int x = 0; x < width; x++)
                {
                    int sy = y + dy, sx = flip ? width - 1 - (x + dx) : x + dx;
                    bool inside = sy >= 0 && sy < height && x + dx >= 0 && x + dx < width;
                    result[(c * height + y) * width + x] = inside ? image[(c * height + sy) * width + sx] : 0f;
                }
        return result;
    }

    [Theory]
    [InlineData(0, 0, false)]
    [InlineData(0, 0, true)]
    [InlineData(2, -3, false)]
    [InlineData(-4, 1, true)]
    [InlineData(3, 3, true)]
    public void CropAndFlip_MatchThePerPixelDefinition(int dy, int dx, bool flip)
    {
        const int c = 2, h = 6, w = 7;
        float[] image = Enumerable.Range(1, c * h * w).Select(v => (float)v).ToArray();
        // Find a seed whose first draws are the wanted (dy, dx, flip): the augmentation's draw order is dy, dx, flip.
        for (int seed = 0; seed < 100_000; seed++)
        {
            var probe = new KilnRandom(seed);
            if (probe.Next(9) - 4 != dy || probe.Next(9) - 4 != dx || ((probe.NextUInt() & 1) != 0) != flip) continue;
            var augmentation = new ImageAugmentation(c, h, w, cropPadding: 4, horizontalFlip: true, seed: seed);
            float[] actual = (float[])image.Clone();
            augmentation.Apply(actual, 1);
            Assert.Equal(CropFlipReference(image, c, h, w, dy, dx, flip), actual);
            return;
        }
        Assert.Fail("no seed draws that crop");
    }

    [Fact]
    public void Augmentation_OverManyImages_ShiftsAndFlipsAtTheExpectedRates_AndIsSeeded()
    {
        const int rows = 2000, c = 1, h = 8, w = 8;
        // Each image: a single bright pixel at (3, 2); where it lands tells the crop and the flip.
        var batch = new float[rows * c * h * w];
        for (int r = 0; r < rows; r++) batch[r * 64 + 3 * 8 + 2] = 1f;
        float[] again = (float[])batch.Clone();
        new ImageAugmentation(c, h, w, cropPadding: 2, seed: 5).Apply(batch, rows);
        new ImageAugmentation(c, h, w, cropPadding: 2, seed: 5).Apply(again, rows);
        Assert.Equal(batch, again);
        int unshifted = 0, mirrored = 0, lost = 0;
        for (int r = 0; r < rows; r++)
        {
            int at = Array.FindIndex(batch, r * 64, 64, v => v == 1f);
            if (at < 0) { lost++; continue; }
            int y = (at - r * 64) / 8, x = (at - r * 64) % 8;
            Assert.InRange(y, 1, 5); // 3 − dy with |dy| ≤ 2
            if (y == 3) unshifted++;
            if (x >= 4) mirrored++;  // 2 − dx ∈ 0..4 unflipped; 5 − dx ∈ 3..7 flipped
        }
        Assert.Equal(0, lost); // a shift of at most 2 never pushes (3, 2) out of an 8×8 image
        Assert.InRange(unshifted, rows / 5 - 80, rows / 5 + 80);
        Assert.InRange(mirrored, (int)(rows * 0.4 * 0.8), (int)(rows * 0.6 * 1.2));
    }

    [Fact]
    public void Cutout_ZeroesAClippedSquare_AndNothingElse()
    {
        const int rows = 300, c = 3, h = 10, w = 10, size = 4;
        var batch = Enumerable.Repeat(1f, rows * c * h * w).ToArray();
        new ImageAugmentation(c, h, w, cropPadding: 0, horizontalFlip: false, cutoutSize: size, seed: 2).Apply(batch, rows);
        int clipped = 0;
        for (int r = 0; r < rows; r++)
        {
            var zeros = Enumerable.Range(0, h * w).Where(p => batch[r * c * h * w + p] == 0f).ToArray();
            // Every channel has the same hole.
            for (int ch = 1; ch < c; ch++)
                Assert.Equal(zeros, Enumerable.Range(0, h * w).Where(p => batch[r * c * h * w + ch * h * w + p] == 0f).ToArray());
            int y0 = zeros.Min() / w, y1 = zeros.Max() / w, x0 = zeros.Min(p => p % w), x1 = zeros.Max(p => p % w);
            Assert.Equal((y1 - y0 + 1) * (x1 - x0 + 1), zeros.Length); // a rectangle
            Assert.True(y1 - y0 + 1 <= size && x1 - x0 + 1 <= size);
            if (zeros.Length < size * size) clipped++;
        }
        Assert.InRange(clipped, 1, rows - 1); // some squares are clipped at the border, most are not
    }

    [Fact]
    public void Augmentation_RejectsBadSizes_AndAllocatesNothingPerBatch()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageAugmentation(3, 4, 4, cropPadding: 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => new ImageAugmentation(0, 4, 4));
        var augmentation = new ImageAugmentation(3, 32, 32, cutoutSize: 8);
        var batch = new float[32 * 3 * 32 * 32];
        var e = Assert.Throws<ArgumentException>(() => augmentation.Apply(batch, 33));
        Assert.Contains("[3, 32, 32]", e.Message);
        // Warm up past tiered compilation's re-JIT of Apply (its counting and on-stack replacement may allocate on this thread).
        for (int i = 0; i < 200; i++) augmentation.Apply(batch, 2);
        augmentation.Apply(batch, 32);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10; i++) augmentation.Apply(batch, 32);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
