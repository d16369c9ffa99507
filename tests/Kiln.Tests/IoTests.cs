using System;
using System.Buffers.Binary;
using System.IO;
using System.Linq;
using System.Text;
using Kiln.Data;
using Kiln.IO;
using Xunit;

namespace Kiln.Tests;

/// <summary>The IDX reader and safetensors checkpoints on small files the tests write, including broken ones.</summary>
public sealed class IoTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "kiln-io-" + Guid.NewGuid().ToString("N"));

    public IoTests() => Directory.CreateDirectory(_directory);

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    private static byte[] Pixels(int count) => Enumerable.Range(0, count * 2 * 3).Select(i => (byte)(i * 7)).ToArray();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Idx_RoundTrips_PlainAndGzip(bool gzip)
    {
        string path = PathOf("images");
        Idx.WriteBytes(path, new[] { 4, 2, 3 }, Pixels(4), gzip);
        var (pixels, count, rows, columns) = Idx.ReadImages(path);
        Assert.Equal((4, 2, 3), (count, rows, columns));
        Assert.Equal(Pixels(4).Select(b => b / 255f), pixels);
        Idx.WriteBytes(PathOf("labels"), new[] { 3 }, new byte[] { 7, 0, 9 }, gzip);
        Assert.Equal(new[] { 7, 0, 9 }, Idx.ReadLabels(PathOf("labels")));
    }

    [Fact]
    public void Mnist_LoadsADirectoryOfGzipFiles()
    {
        Idx.WriteBytes(PathOf("train-images-idx3-ubyte.gz"), new[] { 2, 2, 3 }, Pixels(2), gzip: true);
        Idx.WriteBytes(PathOf("train-labels-idx1-ubyte.gz"), new[] { 2 }, new byte[] { 1, 2 }, gzip: true);
        Idx.WriteBytes(PathOf("t10k-images-idx3-ubyte"), new[] { 1, 2, 3 }, Pixels(1));
        Idx.WriteBytes(PathOf("t10k-labels-idx1-ubyte"), new[] { 1 }, new byte[] { 3 });
        var (train, test) = Mnist.Load(_directory);
        Assert.Equal(2, train.Count);
        Assert.Equal(6, train.FeatureSize);
        Assert.Equal(new[] { 3 }, test.Labels);
    }

    [Fact]
    public void Mnist_LabelCountMismatch_IsAFormatError()
    {
        Idx.WriteBytes(PathOf("train-images-idx3-ubyte"), new[] { 2, 2, 3 }, Pixels(2));
        Idx.WriteBytes(PathOf("train-labels-idx1-ubyte"), new[] { 3 }, new byte[] { 1, 2, 3 });
        Idx.WriteBytes(PathOf("t10k-images-idx3-ubyte"), new[] { 1, 2, 3 }, Pixels(1));
        Idx.WriteBytes(PathOf("t10k-labels-idx1-ubyte"), new[] { 1 }, new byte[] { 3 });
        var e = Assert.Throws<DataFormatException>(() => Mnist.Load(_directory));
        Assert.Contains("2 train images but 3 labels", e.Message);
    }

    [Theory]
    [InlineData("truncated data", "truncated")]
    [InlineData("truncated header", "truncated")]
    [InlineData("empty", "truncated")]
    [InlineData("bad magic", "not an IDX file")]
    [InlineData("float type", "not supported")]
    [InlineData("extra data", "need 6 data bytes")]
    [InlineData("negative dimension", "negative")]
    public void Idx_BrokenFiles_ThrowDataFormatException(string damage, string message)
    {
        string path = PathOf("broken");
        Idx.WriteBytes(path, new[] { 1, 2, 3 }, Pixels(1));
        byte[] bytes = File.ReadAllBytes(path);
        bytes = damage switch
        {
            "truncated data" => bytes[..^2],
            "truncated header" => bytes[..9],
            "empty" => Array.Empty<byte>(),
            "bad magic" => bytes.Select((b, i) => i == 0 ? (byte)0x1A : b).ToArray(),
            "float type" => bytes.Select((b, i) => i == 2 ? (byte)0x0D : b).ToArray(),
            "extra data" => bytes.Concat(new byte[] { 1, 2 }).ToArray(),
            _ => bytes.Select((b, i) => i == 4 ? (byte)0x80 : b).ToArray(),
        };
        File.WriteAllBytes(path, bytes);
        var e = Assert.Throws<DataFormatException>(() => Idx.ReadBytes(path));
        Assert.Contains(message, e.Message);
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void Idx_GzipWithLyingHeader_ReportsTruncation_WithoutAllocatingTheClaim()
    {
        string path = PathOf("liar.gz");
        using (var file = File.Create(path))
        using (var gzip = new System.IO.Compression.GZipStream(file, System.IO.Compression.CompressionLevel.Fastest))
        {
            var header = new byte[16];
            BinaryPrimitives.WriteInt32BigEndian(header, 0x0803);
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), 60000);
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(8), 28);
            BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(12), 28);
            gzip.Write(header);
            gzip.Write(new byte[100]);
        }
        long before = GC.GetAllocatedBytesForCurrentThread();
        var e = Assert.Throws<DataFormatException>(() => Idx.ReadBytes(path));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "the reader allocated for the claimed size");
        Assert.Contains("truncated", e.Message);
    }

    [Fact]
    public void Idx_CorruptGzip_ThrowsDataFormatException()
    {
        string path = PathOf("corrupt.gz");
        Idx.WriteBytes(path, new[] { 50, 20, 20 }, new byte[20000], gzip: true);
        byte[] bytes = File.ReadAllBytes(path);
        for (int i = 12; i < bytes.Length - 8; i += 3) bytes[i] ^= 0x5A;
        File.WriteAllBytes(path, bytes);
        Assert.Throws<DataFormatException>(() => Idx.ReadBytes(path));
    }

    // ---- safetensors ----

    private static (AlignedBuffer, ParameterSet) Set(int seed)
    {
        var memory = new AlignedBuffer(64);
        var set = new ParameterSet(memory, 0, 48, new[] { new TensorSlice("fc.weight", new[] { 3, 4 }, 0), new TensorSlice("fc.bias", new[] { 3 }, 16) });
        Reference.Random(48, seed).CopyTo(set.Span);
        return (memory, set);
    }

    [Fact]
    public void SafeTensors_RoundTrip_IsBitExact_AndHeaderIsStandard()
    {
        var (m1, original) = Set(1);
        var (m2, loaded) = Set(2);
        using (m1) using (m2)
        {
            string path = PathOf("model.safetensors");
            SafeTensors.Save(path, original);
            SafeTensors.Load(path, loaded);
            Assert.Equal(original["fc.weight"].ToArray(), loaded["fc.weight"].ToArray());
            Assert.Equal(original["fc.bias"].ToArray(), loaded["fc.bias"].ToArray());
            byte[] file = File.ReadAllBytes(path);
            ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
            Assert.Equal(0UL, headerLength % 8);
            var described = SafeTensors.Describe(file);
            Assert.Equal("F32", described["fc.weight"].DType);
            Assert.Equal(new long[] { 3, 4 }, described["fc.weight"].Shape);
            Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
        }
    }

    [Fact]
    public void SafeTensors_CrashBetweenWriteAndRename_KeepsThePreviousFile()
    {
        var (m1, first) = Set(1);
        var (m2, second) = Set(2);
        var (m3, check) = Set(3);
        using (m1) using (m2) using (m3)
        {
            string path = PathOf("model.safetensors");
            SafeTensors.Save(path, first);
            SafeTensors.BeforeCommit = _ => throw new IOException("simulated crash");
            try
            {
                Assert.Throws<IOException>(() => SafeTensors.Save(path, second));
            }
            finally
            {
                SafeTensors.BeforeCommit = null;
            }
            SafeTensors.Load(path, check);
            foreach (TensorSlice tensor in first.Tensors)
                Assert.Equal(first[tensor].ToArray(), check[tensor].ToArray());
            Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
        }
    }

    [Theory]
    [InlineData("truncated", "8-byte header length")]
    [InlineData("huge header", "header claims")]
    [InlineData("bad json", "not valid JSON")]
    [InlineData("offsets past end", "outside the")]
    [InlineData("wrong dtype", "dtype F16")]
    [InlineData("wrong shape", "[4, 3]")]
    [InlineData("missing tensor", "'fc.bias' [3] is missing")]
    [InlineData("unexpected tensor", "unexpected tensor 'extra'")]
    public void SafeTensors_CorruptFiles_ThrowCheckpointException_AndChangeNothing(string damage, string message)
    {
        var (m1, set) = Set(1);
        using (m1)
        {
            float[] before = set.Span.ToArray();
            string header = damage switch
            {
                "wrong dtype" => """{"fc.weight":{"dtype":"F16","shape":[3,4],"data_offsets":[0,48]},"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[64,76]}}""",
                "wrong shape" => """{"fc.weight":{"dtype":"F32","shape":[4,3],"data_offsets":[0,48]},"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[64,76]}}""",
                "offsets past end" => """{"fc.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]},"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[1000,1012]}}""",
                "missing tensor" => """{"fc.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]}}""",
                "unexpected tensor" => """{"fc.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]},"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[64,76]},"extra":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}""",
                "bad json" => """{"fc.weight":{"dtype":"F32",""",
                _ => """{"fc.weight":{"dtype":"F32","shape":[3,4],"data_offsets":[0,48]},"fc.bias":{"dtype":"F32","shape":[3],"data_offsets":[64,76]}}""",
            };
            byte[] json = Encoding.UTF8.GetBytes(header);
            byte[] file = new byte[8 + json.Length + 192];
            BinaryPrimitives.WriteUInt64LittleEndian(file, damage == "huge header" ? ulong.MaxValue / 2 : (ulong)json.Length);
            json.CopyTo(file, 8);
            if (damage == "truncated") file = file[..5];
            var e = Assert.Throws<CheckpointException>(() => SafeTensors.Load(file, set));
            Assert.Contains(message, e.Message);
            Assert.Equal(before, set.Span.ToArray());
        }
    }

    [Fact]
    public void SafeTensors_ReadAll_ReturnsEveryTensorWithItsShape()
    {
        var (m1, set) = Set(4);
        using (m1)
        {
            string path = PathOf("all.safetensors");
            SafeTensors.Save(path, set);
            var all = SafeTensors.ReadAll(path);
            Assert.Equal(new[] { "fc.bias", "fc.weight" }, all.Keys.OrderBy(k => k, StringComparer.Ordinal));
            Assert.Equal(new long[] { 3, 4 }, all["fc.weight"].Shape);
            Assert.Equal(set["fc.weight"].ToArray(), all["fc.weight"].Values);
            Assert.Equal(set["fc.bias"].ToArray(), all["fc.bias"].Values);
        }
    }

    [Fact]
    public void SafeTensors_ReadAll_ConvertsI64Tensors()
    {
        byte[] json = Encoding.UTF8.GetBytes("""{"n":{"dtype":"I64","shape":[2],"data_offsets":[0,16]},"f":{"dtype":"F32","shape":[],"data_offsets":[16,20]}}""");
        byte[] file = new byte[8 + json.Length + 20];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(8 + json.Length), 3);
        BinaryPrimitives.WriteInt64LittleEndian(file.AsSpan(8 + json.Length + 8), -5);
        BinaryPrimitives.WriteSingleLittleEndian(file.AsSpan(8 + json.Length + 16), 1.5f);
        var all = SafeTensors.ReadAll(file);
        Assert.Equal(new[] { 3f, -5f }, all["n"].Values);
        Assert.Equal(new long[] { 2 }, all["n"].Shape);
        Assert.Equal(new[] { 1.5f }, all["f"].Values);
    }

    [Theory]
    [InlineData("""{"a":{"dtype":"F16","shape":[2],"data_offsets":[0,4]}}""", "dtype F16")]
    [InlineData("""{"a":{"dtype":"I64","shape":[3],"data_offsets":[0,16]}}""", "spans 16 bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}""", "spans 8 bytes")]
    [InlineData("""{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,200]}}""", "outside the")]
    [InlineData("""{"a":{"dtype":"F32","shape":[4611686018427387904,4611686018427387904],"data_offsets":[0,16]}}""", "more values than")]
    public void SafeTensors_ReadAll_BadFiles_ThrowCheckpointException(string header, string message)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        byte[] file = new byte[8 + json.Length + 16];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        var e = Assert.Throws<CheckpointException>(() => SafeTensors.ReadAll(file));
        Assert.Contains(message, e.Message);
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void SafeTensors_MissingFile_IsACheckpointException()
    {
        var (m1, set) = Set(1);
        using (m1)
            Assert.Contains("does not exist", Assert.Throws<CheckpointException>(() => SafeTensors.Load(PathOf("none.safetensors"), set)).Message);
    }
}
