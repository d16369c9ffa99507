using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Text;
using Kiln.Data;
using Kiln.IO;
using Kiln.Optimizers;
using Xunit;

namespace Kiln.Tests;

/// <summary>Checkpoints with optimizer state: round trip, atomicity, the file layout the reference reader expects,
/// and every way a file can be wrong.</summary>
public sealed class CheckpointTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("kiln-checkpoint-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private string PathOf(string name) => Path.Combine(_directory, name);

    /// <summary>Two tensors with alignment padding between them, as a model lays them out.</summary>
    private static (AlignedBuffer, ParameterSet) Model(int seed)
    {
        var memory = new AlignedBuffer(64);
        var set = new ParameterSet(memory, 0, 48, new[] { new TensorSlice("fc.weight", new[] { 3, 5 }, 0), new TensorSlice("fc.bias", new[] { 3 }, 16) });
        Reference.Random(15, seed).CopyTo(set["fc.weight"]);
        Reference.Random(3, seed + 1).CopyTo(set["fc.bias"]);
        return (memory, set);
    }

    private static void Train(Optimizer optimizer, ParameterSet set, int steps, int seed)
    {
        for (int t = 0; t < steps; t++)
        {
            float[] g = new float[48];
            Reference.Random(15, seed + t).CopyTo(g.AsSpan(0));
            Reference.Random(3, seed + 100 + t).CopyTo(g.AsSpan(16));
            optimizer.Step(set.Span, g);
        }
    }

    [Fact]
    public void SaveThenLoad_RestoresParametersOptimizerStateStepRateAndMetadata_BitExactly()
    {
        var (m1, a) = Model(1);
        var (m2, b) = Model(7);
        using (m1) using (m2)
        {
            using var adam = new Adam(a, lr: 0.01f);
            Train(adam, a, 4, 10);
            adam.LearningRate = 0.005f;
            Checkpoint.Save(PathOf("c.safetensors"), a, adam, new Dictionary<string, string> { ["epoch"] = "3" });

            using var resumed = new Adam(b, lr: 0.5f);
            var metadata = Checkpoint.Load(PathOf("c.safetensors"), b, resumed);
            Assert.Equal("3", metadata["epoch"]);
            Assert.DoesNotContain(metadata.Keys, k => k.StartsWith("kiln.", StringComparison.Ordinal));
            Assert.Equal(a.Span.ToArray(), b.Span.ToArray());
            Assert.Equal(adam.FirstMoments.ToArray(), resumed.FirstMoments.ToArray());
            Assert.Equal(adam.SecondMoments.ToArray(), resumed.SecondMoments.ToArray());
            Assert.Equal(4, resumed.StepCount);
            Assert.Equal(0.005f, resumed.LearningRate);

            // Both continue identically.
            Train(adam, a, 3, 50);
            Train(resumed, b, 3, 50);
            Assert.Equal(a.Span.ToArray(), b.Span.ToArray());
        }
    }

    [Fact]
    public void FileLayout_IsWhatTheReferenceReaderExpects_TensorsBackToBackWithoutGaps()
    {
        var (m, set) = Model(1);
        using (m)
        {
            using var sgd = new Sgd(set, lr: 0.1f, momentum: 0.9f);
            Train(sgd, set, 2, 3);
            Checkpoint.Save(PathOf("c.safetensors"), set, sgd);
            byte[] file = File.ReadAllBytes(PathOf("c.safetensors"));
            var header = SafeTensors.Describe(file);
            int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
            Assert.Equal(0, headerLength % 8);
            string json = Encoding.UTF8.GetString(file, 8, headerLength);
            using var document = System.Text.Json.JsonDocument.Parse(json);
            var spans = document.RootElement.EnumerateObject().Where(p => p.Name != "__metadata__")
                .Select(p => (Begin: p.Value.GetProperty("data_offsets")[0].GetInt64(), End: p.Value.GetProperty("data_offsets")[1].GetInt64()))
                .OrderBy(s => s.Begin).ToList();
            Assert.Equal(0, spans[0].Begin);
            for (int i = 1; i < spans.Count; i++) Assert.Equal(spans[i - 1].End, spans[i].Begin);
            Assert.Equal(file.Length - 8 - headerLength, spans[^1].End);
            Assert.Equal(new[] { "fc.bias", "fc.weight", "optimizer/momentum_buffer/fc.bias", "optimizer/momentum_buffer/fc.weight" }, header.Keys.OrderBy(k => k, StringComparer.Ordinal));
        }
    }

    [Fact]
    public void ModelOnlyLoad_ReadsACheckpoint_AndLeavesItsOptimizerStateAlone()
    {
        var (m1, a) = Model(1);
        var (m2, b) = Model(9);
        using (m1) using (m2)
        {
            using var adam = new Adam(a);
            Train(adam, a, 2, 1);
            Checkpoint.Save(PathOf("c.safetensors"), a, adam);
            SafeTensors.Load(PathOf("c.safetensors"), b);
            Assert.Equal(a.Span.ToArray(), b.Span.ToArray());
        }
    }

    [Fact]
    public void CrashBetweenWriteAndRename_KeepsThePreviousCheckpointLoadable()
    {
        var (m1, a) = Model(1);
        var (m2, b) = Model(2);
        using (m1) using (m2)
        {
            using var adam = new Adam(a);
            Train(adam, a, 2, 1);
            Checkpoint.Save(PathOf("c.safetensors"), a, adam);
            float[] saved = a.Span.ToArray(), moments = adam.FirstMoments.ToArray();
            Train(adam, a, 2, 5);
            SafeTensors.BeforeCommit = _ => throw new IOException("simulated crash");
            try { Assert.Throws<IOException>(() => Checkpoint.Save(PathOf("c.safetensors"), a, adam)); }
            finally { SafeTensors.BeforeCommit = null; }
            using var resumed = new Adam(b);
            Checkpoint.Load(PathOf("c.safetensors"), b, resumed);
            Assert.Equal(saved, b.Span.ToArray());
            Assert.Equal(moments, resumed.FirstMoments.ToArray());
            Assert.Equal(2, resumed.StepCount);
            Assert.Empty(Directory.GetFiles(_directory, "*.tmp"));
        }
    }

    [Fact]
    public void ResumingTheWrongOptimizer_OrFromAParametersOnlyFile_IsACheckpointException_AndChangesNothing()
    {
        var (m1, a) = Model(1);
        var (m2, b) = Model(2);
        using (m1) using (m2)
        {
            using var adam = new Adam(a);
            Train(adam, a, 1, 1);
            Checkpoint.Save(PathOf("adam.safetensors"), a, adam);
            SafeTensors.Save(PathOf("plain.safetensors"), a);
            float[] before = b.Span.ToArray();

            using var sgd = new Sgd(b, lr: 0.1f, momentum: 0.9f);
            Assert.Contains("holds the state of Adam", Assert.Throws<CheckpointException>(() => Checkpoint.Load(PathOf("adam.safetensors"), b, sgd)).Message);
            Assert.Contains("holds no optimizer state", Assert.Throws<CheckpointException>(() => Checkpoint.Load(PathOf("plain.safetensors"), b, sgd)).Message);

            using var centered = new RmsProp(a, centered: true);
            Train(centered, a, 1, 1);
            Checkpoint.Save(PathOf("centered.safetensors"), a, centered);
            using var plainRms = new RmsProp(b);
            Assert.Contains("grad_avg", Assert.Throws<CheckpointException>(() => Checkpoint.Load(PathOf("centered.safetensors"), b, plainRms)).Message);
            Assert.Equal(before, b.Span.ToArray());
            Assert.Equal(0, sgd.StepCount);

            Assert.Throws<ArgumentException>(() => Checkpoint.Save(PathOf("x.safetensors"), a, adam, new Dictionary<string, string> { ["kiln.step"] = "9" }));
        }
    }

    [Fact]
    public void RandomGeneratorState_RoundTrips_AndIsRequiredWhenTheModelDraws()
    {
        var (m1, a) = Model(1);
        var (m2, b) = Model(2);
        using (m1) using (m2)
        {
            var random = new KilnRandom(42);
            random.NextUInt();
            Checkpoint.Save(PathOf("with.safetensors"), a, random: random);
            var restored = new KilnRandom(0);
            Checkpoint.Load(PathOf("with.safetensors"), b, random: restored);
            Assert.Equal(random.State, restored.State);
            Assert.Equal(random.NextUInt(), restored.NextUInt());

            SafeTensors.Save(PathOf("without.safetensors"), a);
            Assert.Contains("random-generator state", Assert.Throws<CheckpointException>(() => Checkpoint.Load(PathOf("without.safetensors"), b, random: restored)).Message);
        }
    }

    public static IEnumerable<object[]> Damages() => new[]
    {
        new object[] { "truncated", "8-byte header length" },
        new object[] { "huge header", "header claims" },
        new object[] { "offsets past end", "outside the" },
        new object[] { "wrong dtype", "dtype F16" },
        new object[] { "wrong shape", "the model expects [3]" },
        new object[] { "state shape", "'optimizer/momentum_buffer/fc.bias' has shape [4]" },
        new object[] { "bad step", "step count" },
    };

    [Theory]
    [MemberData(nameof(Damages))]
    public void DamagedCheckpoint_IsACheckpointExceptionNamingTheProblem_AndChangesNothing(string damage, string message)
    {
        var (m1, a) = Model(1);
        var (m2, b) = Model(2);
        using (m1) using (m2)
        {
            using var sgd = new Sgd(a, lr: 0.1f, momentum: 0.9f);
            Train(sgd, a, 2, 1);
            Checkpoint.Save(PathOf("good.safetensors"), a, sgd);
            byte[] file = File.ReadAllBytes(PathOf("good.safetensors"));
            int headerLength = (int)BinaryPrimitives.ReadUInt64LittleEndian(file);
            string header = Encoding.UTF8.GetString(file, 8, headerLength);
            byte[] data = file[(8 + headerLength)..];
            switch (damage)
            {
                case "truncated": file = file[..6]; break;
                case "huge header": BinaryPrimitives.WriteUInt64LittleEndian(file, 1UL << 40); break;
                case "offsets past end": file = Rebuild(header.Replace("\"data_offsets\":[0,", "\"data_offsets\":[4096,"), data); break;
                case "wrong dtype": file = Rebuild(ReplaceFirst(header, "\"F32\"", "\"F16\""), data); break;
                case "wrong shape": file = Rebuild(header.Replace("\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[3]", "\"fc.bias\":{\"dtype\":\"F32\",\"shape\":[4]"), data); break;
                case "state shape": file = Rebuild(header.Replace("\"optimizer/momentum_buffer/fc.bias\":{\"dtype\":\"F32\",\"shape\":[3]", "\"optimizer/momentum_buffer/fc.bias\":{\"dtype\":\"F32\",\"shape\":[4]"), data); break;
                case "bad step": file = Rebuild(header.Replace("\"kiln.step\":\"2\"", "\"kiln.step\":\"two\""), data); break;
            }
            File.WriteAllBytes(PathOf("bad.safetensors"), file);
            float[] before = b.Span.ToArray();
            using var resumed = new Sgd(b, lr: 0.1f, momentum: 0.9f);
            var e = Assert.Throws<CheckpointException>(() => Checkpoint.Load(PathOf("bad.safetensors"), b, resumed));
            Assert.Contains(message, e.Message);
            Assert.Equal(before, b.Span.ToArray());
            Assert.All(resumed.State(0).ToArray(), v => Assert.Equal(0f, v));
            Assert.Equal(0, resumed.StepCount);
        }
    }

    private static string ReplaceFirst(string text, string what, string with)
    {
        int at = text.IndexOf(what, StringComparison.Ordinal);
        return text[..at] + with + text[(at + what.Length)..];
    }

    private static byte[] Rebuild(string header, byte[] data)
    {
        byte[] json = Encoding.UTF8.GetBytes(header);
        byte[] file = new byte[8 + json.Length + data.Length];
        BinaryPrimitives.WriteUInt64LittleEndian(file, (ulong)json.Length);
        json.CopyTo(file, 8);
        data.CopyTo(file, 8 + json.Length);
        return file;
    }
}

public class BatchIteratorTests
{
    private static Dataset Data(int count) =>
        new(Enumerable.Range(0, count * 2).Select(i => (float)i).ToArray(), Enumerable.Range(0, count).ToArray(), 2, count);

    [Fact]
    public void EachEpoch_HandsOutEverySampleOnce_InANewSeededOrder()
    {
        var iterator = new BatchIterator(Data(10), batchSize: 4, seed: 3);
        var x = new float[8];
        var y = new int[4];
        var epochs = new List<List<int>>();
        for (int epoch = 0; epoch < 3; epoch++)
        {
            var seen = new List<int>();
            while (iterator.Next(x, y, out int rows))
            {
                for (int r = 0; r < rows; r++)
                {
                    Assert.Equal(2f * y[r], x[2 * r]); // features follow their label
                    seen.Add(y[r]);
                }
            }
            Assert.Equal(Enumerable.Range(0, 10), seen.OrderBy(v => v));
            epochs.Add(seen);
        }
        Assert.NotEqual(epochs[0], epochs[1]);
        Assert.Equal(3, iterator.Epoch);
        var again = new BatchIterator(Data(10), batchSize: 4, seed: 3);
        var first = new List<int>();
        while (again.Next(x, y, out int rows)) first.AddRange(y[..rows]);
        Assert.Equal(epochs[0], first);
    }

    [Fact]
    public void Restore_ContinuesWhereASavedRunWas_AndDropLastSkipsTheShortBatch()
    {
        var x = new float[8];
        var y = new int[4];
        var full = new BatchIterator(Data(10), 4, seed: 5);
        var sequence = new List<int>();
        for (int i = 0; i < 8; i++)
            if (full.Next(x, y, out int rows)) sequence.AddRange(y[..rows]);
        var resumed = new BatchIterator(Data(10), 4, seed: 5);
        resumed.Restore(epoch: 1, position: 4);
        var tail = new List<int>();
        while (resumed.Next(x, y, out int rows)) tail.AddRange(y[..rows]); // the rest of epoch 1
        Assert.Equal(sequence.Skip(10 + 4), tail);

        var drop = new BatchIterator(Data(10), 4, seed: 5, dropLast: true);
        Assert.Equal(2, drop.BatchesPerEpoch);
        Assert.True(drop.Next(x, y, out _));
        Assert.True(drop.Next(x, y, out _));
        Assert.False(drop.Next(x, y, out _));
    }

    [Fact]
    public void Next_AllocatesNothing()
    {
        var iterator = new BatchIterator(Data(100), 8, seed: 1);
        var x = new float[16];
        var y = new int[8];
        for (int i = 0; i < 20; i++) iterator.Next(x, y, out _);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++) iterator.Next(x, y, out _);
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
