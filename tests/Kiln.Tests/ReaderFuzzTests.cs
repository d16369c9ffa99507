using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.IO.Compression;
using System.Linq;
using System.Text;
using System.Text.RegularExpressions;
using System.Threading;
using Kiln.Data;
using Kiln.IO;
using Kiln.Optimizers;
using Xunit;
using Xunit.Abstractions;

namespace Kiln.Tests;

/// <summary>
/// Every reader fed files it must refuse: valid small files the test writes, then truncated, bit-flipped, overwritten
/// with hostile integers (lengths that overflow, offsets past the end, gigantic dimensions), with hostile numbers in a
/// safetensors header, with garbage appended, or replaced by noise. Each read must either succeed or throw the reader's
/// typed exception (<see cref="DataFormatException"/> or <see cref="CheckpointException"/>) naming the file; never another
/// exception, a hang, or an allocation out of proportion to the file. Seeded; a failure names the reader, case and seed.
/// The budget is <see cref="CasesPerReader"/> files per reader, times KILN_FUZZ_SCALE when set (docs/reliability.md).
/// </summary>
public sealed class ReaderFuzzTests(ITestOutputHelper output) : IDisposable
{
    private const int CasesPerReader = 1000;

    private readonly string _directory = Directory.CreateTempSubdirectory("kiln-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    internal static int Scale => Environment.GetEnvironmentVariable("KILN_FUZZ_SCALE") is { } text && int.TryParse(text, out int scale) && scale > 0 ? scale : 1;

    /// <summary>A reader under test: writes a valid file of its format (from a seed) and reads one.</summary>
    private sealed record Reader(string Name, Func<Random, string, byte[]> Valid, Action<string> Read, bool Json = false, bool Gzip = false);

    private static ParameterSet Parameters(int count, params (string Name, int[] Shape)[] tensors)
    {
        var slices = new List<TensorSlice>();
        int offset = 0;
        foreach (var (name, shape) in tensors)
        {
            slices.Add(new TensorSlice(name, shape, offset));
            offset += shape.Aggregate(1, (a, b) => a * b);
        }
        return new ParameterSet(new AlignedBuffer(count), 0, count, slices.ToArray());
    }

    private static ParameterSet SmallModel() => Parameters(6 * 4 + 6 + 3 * 6, ("Hidden.weight", new[] { 6, 4 }), ("Hidden.bias", new[] { 6 }), ("Out.weight", new[] { 3, 6 }));

    private static byte[] Idx(Random random, string path, int rank, bool gzip)
    {
        int[] dims = rank == 1 ? new[] { 1 + random.Next(40) } : new[] { 1 + random.Next(5), 1 + random.Next(8), 1 + random.Next(8) };
        var data = new byte[dims.Aggregate(1, (a, b) => a * b)];
        random.NextBytes(data);
        if (rank == 1) for (int i = 0; i < data.Length; i++) data[i] %= 10;
        Kiln.Data.Idx.WriteBytes(path, dims, data, gzip);
        return File.ReadAllBytes(path);
    }

    private static readonly Reader[] Readers =
    {
        new("IDX images", (r, p) => Idx(r, p, 3, gzip: false), p => Kiln.Data.Idx.ReadImages(p)),
        new("IDX labels", (r, p) => Idx(r, p, 1, gzip: false), p => Kiln.Data.Idx.ReadLabels(p)),
        new("IDX images, gzip", (r, p) => Idx(r, p, 3, gzip: true), p => Kiln.Data.Idx.ReadImages(p), Gzip: true),
        new("CIFAR-10 binary", (r, p) =>
        {
            var bytes = new byte[(1 + r.Next(3)) * Cifar10.RecordSize];
            r.NextBytes(bytes);
            for (int i = 0; i < bytes.Length; i += Cifar10.RecordSize) bytes[i] %= 10;
            File.WriteAllBytes(p, bytes);
            return bytes;
        }, p => Cifar10.ReadBatch(p)),
        new("text (UTF-8)", (r, p) =>
        {
            string text = string.Concat(Enumerable.Range(0, 20 + r.Next(200)).Select(_ => "abc déf\nΩ→ "[r.Next(11)]));
            File.WriteAllText(p, text, new UTF8Encoding(false));
            return File.ReadAllBytes(p);
        }, p => TextFile.Read(p)),
        new("safetensors", (r, p) =>
        {
            ParameterSet set = SmallModel();
            for (int i = 0; i < set.Count; i++) set.Span[i] = (float)r.NextDouble();
            SafeTensors.Save(p, set, new Dictionary<string, string> { ["note"] = "fuzz" });
            return File.ReadAllBytes(p);
        }, p => SafeTensors.Load(p, SmallModel()), Json: true),
        new("checkpoint (Adam, extra tensors)", (r, p) =>
        {
            ParameterSet set = SmallModel();
            using var adam = new Adam(set, lr: 0.01f);
            for (int i = 0; i < set.Count; i++) set.Span[i] = (float)r.NextDouble();
            var random = new KilnRandom(r.Next());
            Checkpoint.Save(p, set, adam, new Dictionary<string, string> { ["epoch"] = "3" }, random, tensors: new Dictionary<string, float[]> { ["best"] = new float[set.Count] });
            return File.ReadAllBytes(p);
        }, p =>
        {
            ParameterSet set = SmallModel();
            using var adam = new Adam(set, lr: 0.01f);
            Checkpoint.Load(p, set, adam, new KilnRandom(1), tensors: new Dictionary<string, float[]>());
        }, Json: true),
    };

    public static IEnumerable<object[]> ReaderNames() => Readers.Select(r => new object[] { r.Name });

    [Theory]
    [MemberData(nameof(ReaderNames))]
    public void HostileFiles_GiveATypedException_NeverACrashAHangOrAHugeAllocation(string name)
    {
        Reader reader = Readers.Single(r => r.Name == name);
        int cases = CasesPerReader * Scale;
        var outcomes = new SortedDictionary<string, int>(StringComparer.Ordinal);
        Exception? failure = null;
        // On its own thread, so that a hang fails the test instead of stalling the run.
        var worker = new Thread(() =>
        {
            try { Fuzz(reader, cases, outcomes); }
            catch (Exception e) { failure = e; }
        }, maxStackSize: 16 << 20);
        worker.Start();
        Assert.True(worker.Join(TimeSpan.FromMinutes(3 * Scale)), $"{name}: the fuzz run did not finish (a reader hangs?)");
        if (failure is not null) throw new Xunit.Sdk.XunitException(failure.Message, failure);
        string summary = $"{name}: {cases} files: " + string.Join(", ", outcomes.Select(o => $"{o.Key} {o.Value}"));
        output.WriteLine(summary);
        Report(summary);
        Assert.True(outcomes.Keys.Any(k => k != "read"), "no mutation was refused: the fuzzer is not reaching the checks");
    }

    private void Fuzz(Reader reader, int cases, SortedDictionary<string, int> outcomes)
    {
        string path = Path.Combine(_directory, Regex.Replace(reader.Name, @"\W+", "-") + ".bin");
        for (int seed = 0; seed < cases; seed++)
        {
            var random = new Random(seed * 7919 + reader.Name.Length);
            byte[] valid = reader.Valid(random, path);
            long decompressed = reader.Gzip ? Decompressed(valid) : valid.Length;
            (byte[] bytes, string mutation) = Mutate(valid, random, reader);
            File.WriteAllBytes(path, bytes);

            long before = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            string outcome;
            try
            {
                reader.Read(path);
                outcome = "read";
            }
            catch (Exception e) when (e is DataFormatException or CheckpointException)
            {
                if (!e.Message.Contains(path, StringComparison.Ordinal) || e.Message.Length < path.Length + 20)
                    throw new InvalidOperationException($"{reader.Name}, seed {seed}, {mutation}: the message does not name the file and the problem: {e.Message}");
                outcome = e.GetType().Name;
            }
            catch (Exception e)
            {
                throw new InvalidOperationException($"{reader.Name}, seed {seed}, {mutation}: {e.GetType().Name} instead of a typed exception: {e.Message}", e);
            }
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            // A reader may hold the file, its decoded values (4 bytes per byte) and small fixed buffers; never what a
            // header merely claims.
            long bound = 8 * Math.Max(bytes.Length, decompressed) + (1 << 20);
            if (allocated > bound)
                throw new InvalidOperationException($"{reader.Name}, seed {seed}, {mutation}: allocated {allocated:N0} bytes for a {bytes.Length:N0}-byte file (bound {bound:N0}).");
            if (clock.Elapsed > TimeSpan.FromSeconds(5))
                throw new InvalidOperationException($"{reader.Name}, seed {seed}, {mutation}: took {clock.Elapsed.TotalSeconds:F1} s.");
            string key = outcome == "read" ? "read" : "refused";
            outcomes[key] = outcomes.GetValueOrDefault(key) + 1;
        }
    }

    private static long Decompressed(byte[] gzip)
    {
        using var stream = new GZipStream(new MemoryStream(gzip), CompressionMode.Decompress);
        using var sink = new MemoryStream();
        stream.CopyTo(sink);
        return sink.Length;
    }

    private static readonly long[] Hostile = { 0, -1, 1, int.MaxValue, int.MinValue, uint.MaxValue, 1L << 32, long.MaxValue, long.MinValue, 0x7FFFFFFFFFFFFFF, 3073 * 1_000_000L };

    private static readonly string[] HostileNumbers =
        { "-1", "0", "18446744073709551615", "9223372036854775807", "-9223372036854775808", "4294967296", "2147483648", "1e300", "1.5", "99999999999999999999999" };

    /// <summary>One of seven mutations, chosen by the seed.</summary>
    private static (byte[] Bytes, string Mutation) Mutate(byte[] valid, Random random, Reader reader)
    {
        byte[] bytes = (byte[])valid.Clone();
        int kind = random.Next(reader.Json ? 7 : 6);
        switch (kind)
        {
            case 0:
            {
                int length = random.Next(bytes.Length);
                return (bytes[..length], $"truncated to {length} of {valid.Length} bytes");
            }
            case 1:
            {
                int flips = 1 + random.Next(8);
                for (int i = 0; i < flips; i++) bytes[random.Next(bytes.Length)] ^= (byte)(1 << random.Next(8));
                return (bytes, $"{flips} bits flipped");
            }
            case 2:
            {
                // A hostile integer over a header field: the first 64 bytes, where lengths, dimensions and offsets live.
                int width = random.Next(2) == 0 ? 4 : 8;
                int at = random.Next(Math.Max(1, Math.Min(64, bytes.Length - width)));
                long value = Hostile[random.Next(Hostile.Length)];
                bool big = random.Next(2) == 0;
                Span<byte> target = bytes.AsSpan(at, Math.Min(width, bytes.Length - at));
                Span<byte> encoded = stackalloc byte[8];
                if (big) System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(encoded, value);
                else System.Buffers.Binary.BinaryPrimitives.WriteInt64LittleEndian(encoded, value);
                (big ? encoded[(8 - target.Length)..] : encoded[..target.Length]).CopyTo(target);
                return (bytes, $"{value} written {(big ? "big" : "little")}-endian over bytes [{at}, {at + target.Length})");
            }
            case 3:
            {
                var garbage = new byte[1 + random.Next(100)];
                random.NextBytes(garbage);
                return (bytes.Concat(garbage).ToArray(), $"{garbage.Length} bytes appended");
            }
            case 4:
            {
                random.NextBytes(bytes);
                return (bytes, "replaced by noise");
            }
            case 5:
            {
                int at = random.Next(bytes.Length), length = Math.Min(bytes.Length - at, 1 + random.Next(64));
                Array.Clear(bytes, at, length);
                return (bytes, $"bytes [{at}, {at + length}) zeroed");
            }
            default:
            {
                // A hostile number in the JSON header (a shape, a data offset), the header length fixed up to match.
                long headerLength = BitConverter.ToInt64(bytes, 0);
                string header = Encoding.UTF8.GetString(bytes, 8, (int)headerLength);
                var numbers = Regex.Matches(header, @"(?<=[\[,])\d+");
                Match target = numbers[random.Next(numbers.Count)];
                string replacement = HostileNumbers[random.Next(HostileNumbers.Length)];
                string mutated = header[..target.Index] + replacement + header[(target.Index + target.Length)..];
                byte[] json = Encoding.UTF8.GetBytes(mutated);
                var file = new byte[8 + json.Length + bytes.Length - 8 - headerLength];
                BitConverter.GetBytes((long)json.Length).CopyTo(file, 0);
                json.CopyTo(file, 8);
                bytes.AsSpan(8 + (int)headerLength).CopyTo(file.AsSpan(8 + json.Length));
                return (file, $"header number {target.Value} at {target.Index} replaced by {replacement}");
            }
        }
    }

    /// <summary>Appends a line to the report file named by KILN_FUZZ_REPORT (the figures of docs/reliability.md).</summary>
    internal static void Report(string line)
    {
        if (Environment.GetEnvironmentVariable("KILN_FUZZ_REPORT") is { Length: > 0 } file)
            lock (typeof(ReaderFuzzTests)) File.AppendAllText(file, line + Environment.NewLine);
    }
}
