using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using System.Runtime.InteropServices;
using System.Text.Json;

namespace Kiln.IO;

/// <summary>A checkpoint file that cannot be loaded: the message names the tensor and what was expected.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// Reads and writes the safetensors format (8-byte little-endian header length, a JSON header, raw
/// little-endian data), with PyTorch's tensor names and layouts, so a <c>state_dict</c> moves both ways. Files are
/// written as the reference implementation expects them (tensors back to back, no gaps), atomically (temporary file,
/// then rename); reads validate the whole file before anything changes, and allocate no more than the file's size.
/// </summary>
public static class SafeTensors
{
    /// <summary>Headers larger than this are rejected before they are read.</summary>
    public const int MaxHeaderBytes = 16 << 20;

    /// <summary>Returns the values of one tensor to write (called while the file is written).</summary>
    internal delegate ReadOnlySpan<float> TensorData();

    /// <summary>A tensor to write: its name, shape and values (as many as the shape says).</summary>
    internal sealed record TensorEntry(string Name, IReadOnlyList<int> Shape, TensorData Data);

    /// <summary>Writes every tensor of <paramref name="tensors"/> to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, ParameterSet tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Write(path, Entries(tensors, prefix: ""), metadata);
    }

    /// <summary>Writes the parameters, then the buffers (state saved but not trained, e.g. batch norm's running
    /// statistics), to <paramref name="path"/> atomically: together, a PyTorch <c>state_dict</c>.</summary>
    public static void Save(string path, ParameterSet parameters, ParameterSet buffers, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(buffers);
        List<TensorEntry> entries = Entries(parameters, prefix: "");
        entries.AddRange(Entries(buffers, prefix: ""));
        Write(path, entries, metadata);
    }

    /// <summary>The tensors of a set as entries named <paramref name="prefix"/> + name.</summary>
    internal static List<TensorEntry> Entries(ParameterSet tensors, string prefix)
    {
        var entries = new List<TensorEntry>(tensors.Tensors.Count);
        foreach (TensorSlice slice in tensors.Tensors)
        {
            TensorSlice s = slice;
            entries.Add(new TensorEntry(prefix + s.Name, s.Shape, () => tensors.Read(s)));
        }
        return entries;
    }

    /// <summary>Writes <paramref name="entries"/> back to back, in order, to a temporary file that then replaces
    /// <paramref name="path"/>: a crash at any point leaves either the old file or the new one.</summary>
    internal static void Write(string path, IReadOnlyList<TensorEntry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian.");
        byte[] header = BuildHeader(entries, metadata);
        string fullPath = Path.GetFullPath(path);
        string directory = Path.GetDirectoryName(fullPath) ?? ".";
        Directory.CreateDirectory(directory);
        string temporary = Path.Combine(directory, $".{Path.GetFileName(fullPath)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
            {
                Span<byte> length = stackalloc byte[8];
                BinaryPrimitives.WriteUInt64LittleEndian(length, (ulong)header.Length);
                stream.Write(length);
                stream.Write(header);
                foreach (TensorEntry entry in entries)
                {
                    ReadOnlySpan<float> values = entry.Data();
                    if (values.Length != Count(entry.Shape))
                        throw new InvalidOperationException($"Tensor '{entry.Name}' has {values.Length} values for shape [{Join(entry.Shape)}].");
                    stream.Write(MemoryMarshal.AsBytes(values));
                }
                stream.Flush(flushToDisk: true);
            }
            BeforeCommit?.Invoke(temporary);
            File.Move(temporary, fullPath, overwrite: true);
        }
        catch
        {
            try { File.Delete(temporary); } catch (IOException) { } catch (UnauthorizedAccessException) { }
            throw;
        }
    }

    /// <summary>A test hook run between writing the temporary file and renaming it (fault injection).</summary>
    internal static Action<string>? BeforeCommit { get => t_beforeCommit; set => t_beforeCommit = value; }

    // Per thread: a test that simulates a crash must not fail a save another test makes at the same time.
    [ThreadStatic] private static Action<string>? t_beforeCommit;

    /// <summary>
    /// Loads every tensor of <paramref name="tensors"/> from <paramref name="path"/>. The file must hold exactly
    /// those tensors, as F32 with the same shapes (a checkpoint's optimizer state, under <c>optimizer/</c>, is left
    /// alone); nothing is changed unless the whole file is valid.
    /// </summary>
    public static void Load(string path, ParameterSet tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Load(ReadFile(path), tensors, path);
    }

    /// <summary>Loads from the bytes of a safetensors file (see <see cref="Load(string, ParameterSet)"/>).</summary>
    public static void Load(ReadOnlySpan<byte> file, ParameterSet tensors, string source = "checkpoint")
    {
        ArgumentNullException.ThrowIfNull(tensors);
        Header header = ReadHeader(file, source);
        ReadOnlySpan<byte> data = file[header.DataStart..];
        var plan = Plan(header, data.Length, tensors, prefix: "", source);
        RejectUnexpected(header, tensors, null, source);
        Copy(plan, data, tensors);
    }

    /// <summary>
    /// Loads the parameters and the buffers (a PyTorch <c>state_dict</c>): every tensor of both sets must be in the file
    /// with its shape, F32 — a buffer may also be I64, as PyTorch saves <c>num_batches_tracked</c> — and nothing else;
    /// nothing changes unless the whole file is valid.
    /// </summary>
    public static void Load(string path, ParameterSet parameters, ParameterSet buffers)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(buffers);
        byte[] file = ReadFile(path);
        Header header = ReadHeader(file, path);
        ReadOnlySpan<byte> data = file.AsSpan(header.DataStart);
        var plan = Plan(header, data.Length, parameters, prefix: "", path);
        var bufferPlan = Plan(header, data.Length, buffers, prefix: "", path, allowIntegers: true);
        RejectUnexpected(header, parameters, buffers, path);
        Copy(plan, data, parameters);
        Copy(bufferPlan, data, buffers);
    }

    /// <summary>The names, dtypes and shapes in a file's header (for inspection tools and tests).</summary>
    public static IReadOnlyDictionary<string, (string DType, long[] Shape)> Describe(ReadOnlySpan<byte> file)
    {
        var result = new Dictionary<string, (string, long[])>(StringComparer.Ordinal);
        foreach (var (name, entry) in ReadHeader(file, "checkpoint").Entries)
            result[name] = (entry.DType, entry.Shape);
        return result;
    }

    /// <summary>The string metadata of a file's header (<c>__metadata__</c>).</summary>
    public static IReadOnlyDictionary<string, string> ReadMetadata(ReadOnlySpan<byte> file, string source = "safetensors file") =>
        ReadHeader(file, source).Metadata;

    /// <summary>
    /// Every tensor of a safetensors file, as F32 values with its shape: for reading files that are not one model's
    /// parameters (reference values, exports, inspection). The whole file is validated first: dtype F32 or I64 (an
    /// integer tensor such as batch norm's <c>num_batches_tracked</c>, converted to float), offsets inside the data,
    /// byte length matching the shape; a violation is a <see cref="CheckpointException"/> naming the tensor.
    /// </summary>
    public static IReadOnlyDictionary<string, (long[] Shape, float[] Values)> ReadAll(ReadOnlySpan<byte> file, string source = "safetensors file")
    {
        Header header = ReadHeader(file, source);
        ReadOnlySpan<byte> data = file[header.DataStart..];
        foreach (var (name, entry) in header.Entries)
        {
            if (entry.DType is not ("F32" or "I64"))
                throw new CheckpointException($"{source}: tensor '{name}' has dtype {entry.DType}; expected F32 (or I64).");
            CheckEntry(name, entry, ElementCount(name, entry.Shape, data.Length, source), data.Length, source, entry.DType == "I64" ? 8 : 4);
        }
        var result = new Dictionary<string, (long[], float[])>(StringComparer.Ordinal);
        foreach (var (name, entry) in header.Entries)
        {
            ReadOnlySpan<byte> bytes = data.Slice((int)entry.Begin, (int)(entry.End - entry.Begin));
            float[] values = entry.DType == "I64"
                ? Array.ConvertAll(MemoryMarshal.Cast<byte, long>(bytes).ToArray(), v => (float)v)
                : MemoryMarshal.Cast<byte, float>(bytes).ToArray();
            result[name] = (entry.Shape, values);
        }
        return result;
    }

    /// <summary>Reads a file whole and returns its tensors (see <see cref="ReadAll(ReadOnlySpan{byte}, string)"/>).</summary>
    public static IReadOnlyDictionary<string, (long[] Shape, float[] Values)> ReadAll(string path) => ReadAll(ReadFile(path), path);

    // ---- shared by the readers (and Checkpoint) ----

    internal readonly record struct Entry(string DType, long[] Shape, long Begin, long End);

    internal sealed record Header(Dictionary<string, Entry> Entries, Dictionary<string, string> Metadata, int DataStart);

    /// <summary>The whole file: its length bounds every later allocation.</summary>
    internal static byte[] ReadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        try { return File.ReadAllBytes(path); }
        catch (FileNotFoundException e) { throw new CheckpointException($"Checkpoint '{path}' does not exist.", e); }
        catch (DirectoryNotFoundException e) { throw new CheckpointException($"Checkpoint '{path}' does not exist.", e); }
    }

    /// <summary>Checks that the file holds every tensor of <paramref name="tensors"/> (named prefix + name), F32 (or,
    /// with <paramref name="allowIntegers"/>, I64), with the model's shape and offsets inside the data; returns where
    /// each one's bytes begin. Changes nothing.</summary>
    internal static List<(TensorSlice Slice, int Begin)> Plan(Header header, int dataLength, ParameterSet tensors, string prefix, string source, bool allowIntegers = false)
    {
        var plan = new List<(TensorSlice, int)>(tensors.Tensors.Count);
        foreach (TensorSlice slice in tensors.Tensors)
        {
            string name = prefix + slice.Name;
            if (!header.Entries.TryGetValue(name, out Entry entry))
                throw new CheckpointException($"{source}: tensor '{name}' [{Join(slice.Shape)}] is missing (the file has: {string.Join(", ", header.Entries.Keys)}).");
            bool integer = allowIntegers && entry.DType == "I64";
            if (entry.DType != "F32" && !integer)
                throw new CheckpointException($"{source}: tensor '{name}' has dtype {entry.DType}; expected F32{(allowIntegers ? " (or I64)" : "")}.");
            if (!SameShape(entry.Shape, slice.Shape))
                throw new CheckpointException($"{source}: tensor '{name}' has shape [{Join(entry.Shape)}]; the model expects [{Join(slice.Shape)}].");
            CheckEntry(name, entry, slice.Length, dataLength, source, integer ? sizeof(long) : sizeof(float));
            // An I64 tensor is marked by a negative begin (−1 − begin), converted while copying.
            plan.Add((slice, integer ? -1 - (int)entry.Begin : (int)entry.Begin));
        }
        return plan;
    }

    /// <summary>A model file may hold nothing but the model's tensors (and, in a checkpoint, optimizer state).</summary>
    internal static void RejectUnexpected(Header header, ParameterSet tensors, ParameterSet? buffers, string source)
    {
        foreach (string name in header.Entries.Keys)
        {
            if (name.StartsWith(Checkpoint.OptimizerPrefix, StringComparison.Ordinal) || name.StartsWith(Checkpoint.ExtraPrefix, StringComparison.Ordinal)) continue;
            if (!tensors.TryFind(name, out _) && (buffers is null || !buffers.TryFind(name, out _)))
            {
                IEnumerable<string> names = buffers is null ? Names(tensors) : Names(tensors).Concat(Names(buffers));
                throw new CheckpointException($"{source}: unexpected tensor '{name}'; the model has: {string.Join(", ", names)}.");
            }
        }
    }

    internal static void Copy(List<(TensorSlice Slice, int Begin)> plan, ReadOnlySpan<byte> data, ParameterSet target)
    {
        foreach ((TensorSlice slice, int begin) in plan)
        {
            if (begin >= 0)
            {
                MemoryMarshal.Cast<byte, float>(data.Slice(begin, slice.Length * sizeof(float))).CopyTo(target[slice]);
                continue;
            }
            ReadOnlySpan<byte> bytes = data.Slice(-1 - begin, slice.Length * sizeof(long));
            Span<float> values = target[slice];
            for (int i = 0; i < values.Length; i++) values[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes.Slice(i * sizeof(long)));
        }
    }

    internal static void CheckEntry(string name, Entry entry, long count, int dataLength, string source, int elementBytes = sizeof(float))
    {
        if (entry.Begin < 0 || entry.End < entry.Begin || entry.End > dataLength)
            throw new CheckpointException($"{source}: tensor '{name}' has data offsets [{entry.Begin}, {entry.End}] outside the {dataLength} data bytes.");
        if (entry.End - entry.Begin != count * elementBytes)
            throw new CheckpointException($"{source}: tensor '{name}' spans {entry.End - entry.Begin} bytes; shape [{Join(entry.Shape)}] as {(elementBytes == 8 ? "I64" : "F32")} needs {count * elementBytes}.");
    }

    /// <summary>The element count of a file's shape, saturating: a hostile shape must not overflow into a plausible size.</summary>
    internal static long ElementCount(string name, long[] shape, int dataLength, string source)
    {
        foreach (long d in shape)
            if (d == 0) return 0;
        long limit = dataLength / sizeof(float), count = 1;
        foreach (long d in shape)
        {
            if (count > limit / d)
                throw new CheckpointException($"{source}: tensor '{name}' has shape [{Join(shape)}], more values than the file's {dataLength} data bytes hold.");
            count *= d;
        }
        return count;
    }

    internal static Header ReadHeader(ReadOnlySpan<byte> file, string source)
    {
        if (file.Length < 8)
            throw new CheckpointException($"{source}: the file has {file.Length} bytes; a safetensors file starts with an 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > MaxHeaderBytes || headerLength > (ulong)(file.Length - 8))
            throw new CheckpointException($"{source}: the header claims {headerLength} bytes but the file has {file.Length - 8} after the length (limit {MaxHeaderBytes}).");
        int dataStart = 8 + (int)headerLength;
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
        ReadOnlySpan<byte> json = file.Slice(8, (int)headerLength);
        if (!System.Text.Unicode.Utf8.IsValid(json))
            throw new CheckpointException($"{source}: the header is not UTF-8 text (the file is corrupt or not safetensors).");
        try
        {
            using JsonDocument document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{source}: the header is not a JSON object.");
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__")
                {
                    if (property.Value.ValueKind != JsonValueKind.Object)
                        throw new CheckpointException($"{source}: __metadata__ is not a JSON object.");
                    foreach (JsonProperty item in property.Value.EnumerateObject())
                    {
                        if (item.Value.ValueKind != JsonValueKind.String)
                            throw new CheckpointException($"{source}: __metadata__ '{item.Name}' is not a string.");
                        metadata[item.Name] = item.Value.GetString()!;
                    }
                    continue;
                }
                JsonElement value = property.Value;
                if (value.ValueKind != JsonValueKind.Object
                    || !value.TryGetProperty("dtype", out JsonElement dtype) || dtype.ValueKind != JsonValueKind.String
                    || !value.TryGetProperty("shape", out JsonElement shape) || shape.ValueKind != JsonValueKind.Array
                    || !value.TryGetProperty("data_offsets", out JsonElement offsets) || offsets.ValueKind != JsonValueKind.Array
                    || offsets.GetArrayLength() != 2)
                    throw new CheckpointException($"{source}: tensor '{property.Name}' needs dtype, shape and two data_offsets.");
                var dims = new long[shape.GetArrayLength()];
                int d = 0;
                foreach (JsonElement dim in shape.EnumerateArray())
                {
                    if (!dim.TryGetInt64(out dims[d]) || dims[d] < 0)
                        throw new CheckpointException($"{source}: tensor '{property.Name}' has an invalid shape.");
                    d++;
                }
                if (!offsets[0].TryGetInt64(out long begin) || !offsets[1].TryGetInt64(out long end))
                    throw new CheckpointException($"{source}: tensor '{property.Name}' has invalid data offsets.");
                if (!entries.TryAdd(property.Name, new Entry(dtype.GetString()!, dims, begin, end)))
                    throw new CheckpointException($"{source}: tensor '{property.Name}' appears twice.");
            }
        }
        catch (JsonException e)
        {
            throw new CheckpointException($"{source}: the header is not valid JSON ({e.Message}).", e);
        }
        return new Header(entries, metadata, dataStart);
    }

    private static byte[] BuildHeader(IReadOnlyList<TensorEntry> entries, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            if (metadata is not null)
                foreach (var (key, value) in metadata)
                    if (key != "format") json.WriteString(key, value);
            json.WriteEndObject();
            long offset = 0;
            foreach (TensorEntry entry in entries)
            {
                long bytes = Count(entry.Shape) * sizeof(float);
                json.WriteStartObject(entry.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in entry.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + bytes);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += bytes;
            }
            json.WriteEndObject();
        }
        // Pad with spaces so the data starts 8-byte aligned, as the reference implementation does.
        int padded = (buffer.WrittenCount + 7) / 8 * 8;
        byte[] header = new byte[padded];
        buffer.WrittenSpan.CopyTo(header);
        header.AsSpan(buffer.WrittenCount).Fill((byte)' ');
        return header;
    }

    private static long Count(IReadOnlyList<int> shape)
    {
        long count = 1;
        foreach (int d in shape) count *= d;
        return count;
    }

    private static bool SameShape(long[] file, IReadOnlyList<int> model)
    {
        if (file.Length != model.Count) return false;
        for (int i = 0; i < file.Length; i++) if (file[i] != model[i]) return false;
        return true;
    }

    internal static string Join<T>(IEnumerable<T> values) => string.Join(", ", values);

    private static IEnumerable<string> Names(ParameterSet tensors)
    {
        foreach (TensorSlice slice in tensors.Tensors) yield return slice.Name;
    }
}
