using System;
using System.Buffers.Binary;
using System.Collections.Generic;
using System.Globalization;
using System.IO;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Kiln.IO;

/// <summary>A checkpoint file that cannot be loaded: the message names the tensor and what was expected.</summary>
public sealed class CheckpointException(string message, Exception? inner = null) : IOException(message, inner);

/// <summary>
/// Reads and writes the safetensors format (8-byte little-endian header length, a JSON header, raw
/// little-endian data), with PyTorch's tensor names and layouts, so a <c>state_dict</c> moves both ways.
/// Writes are atomic (temporary file, then rename); reads validate the whole file before touching the model.
/// </summary>
public static class SafeTensors
{
    /// <summary>Headers larger than this are rejected before they are read.</summary>
    public const int MaxHeaderBytes = 16 << 20;

    /// <summary>Writes every tensor of <paramref name="tensors"/> to <paramref name="path"/> atomically.</summary>
    public static void Save(string path, ParameterSet tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        byte[] header = BuildHeader(tensors, metadata);
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
                Span<float> values = tensors.Span;
                if (!BitConverter.IsLittleEndian) throw new PlatformNotSupportedException("safetensors data is little-endian.");
                stream.Write(MemoryMarshal.AsBytes(values));
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
    internal static Action<string>? BeforeCommit { get; set; }

    /// <summary>
    /// Loads every tensor of <paramref name="tensors"/> from <paramref name="path"/>. The file must hold exactly
    /// those tensors, as F32 with the same shapes; nothing is changed unless the whole file is valid.
    /// </summary>
    public static void Load(string path, ParameterSet tensors)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(tensors);
        byte[] file;
        try { file = File.ReadAllBytes(path); }
        catch (FileNotFoundException e) { throw new CheckpointException($"Checkpoint '{path}' does not exist.", e); }
        Load(file, tensors, path);
    }

    /// <summary>Loads from the bytes of a safetensors file (see <see cref="Load(string, ParameterSet)"/>).</summary>
    public static void Load(ReadOnlySpan<byte> file, ParameterSet tensors, string source = "checkpoint")
    {
        var entries = ReadHeader(file, source, out int dataStart);
        ReadOnlySpan<byte> data = file[dataStart..];

        // Validate everything first, so a bad file changes nothing.
        var plan = new List<(TensorSlice Slice, int Begin)>(tensors.Tensors.Count);
        foreach (TensorSlice slice in tensors.Tensors)
        {
            if (!entries.TryGetValue(slice.Name, out Entry entry))
                throw new CheckpointException($"{source}: tensor '{slice.Name}' [{Join(slice.Shape)}] is missing (the file has: {string.Join(", ", entries.Keys)}).");
            if (entry.DType != "F32")
                throw new CheckpointException($"{source}: tensor '{slice.Name}' has dtype {entry.DType}; expected F32.");
            if (!SameShape(entry.Shape, slice.Shape))
                throw new CheckpointException($"{source}: tensor '{slice.Name}' has shape [{Join(entry.Shape)}]; the model expects [{Join(slice.Shape)}].");
            if (entry.Begin < 0 || entry.End < entry.Begin || entry.End > data.Length)
                throw new CheckpointException($"{source}: tensor '{slice.Name}' has data offsets [{entry.Begin}, {entry.End}] outside the {data.Length} data bytes.");
            if (entry.End - entry.Begin != (long)slice.Length * sizeof(float))
                throw new CheckpointException($"{source}: tensor '{slice.Name}' spans {entry.End - entry.Begin} bytes; shape [{Join(slice.Shape)}] as F32 needs {(long)slice.Length * sizeof(float)}.");
            plan.Add((slice, (int)entry.Begin));
        }
        foreach (string name in entries.Keys)
        {
            if (!tensors.TryFind(name, out _))
                throw new CheckpointException($"{source}: unexpected tensor '{name}'; the model has: {string.Join(", ", Names(tensors))}.");
        }

        foreach ((TensorSlice slice, int begin) in plan)
        {
            ReadOnlySpan<byte> bytes = data.Slice(begin, slice.Length * sizeof(float));
            MemoryMarshal.Cast<byte, float>(bytes).CopyTo(tensors[slice]);
        }
    }

    /// <summary>The names, dtypes and shapes in a file's header (for inspection tools and tests).</summary>
    public static IReadOnlyDictionary<string, (string DType, long[] Shape)> Describe(ReadOnlySpan<byte> file)
    {
        var result = new Dictionary<string, (string, long[])>(StringComparer.Ordinal);
        foreach (var (name, entry) in ReadHeader(file, "checkpoint", out _))
            result[name] = (entry.DType, entry.Shape);
        return result;
    }

    /// <summary>
    /// Every tensor of a safetensors file, as F32 values with its shape: for reading files that are not one model's
    /// parameters (reference values, exports, inspection). The whole file is validated first: dtype F32, offsets
    /// inside the data, byte length matching the shape; a violation is a <see cref="CheckpointException"/> naming the tensor.
    /// </summary>
    public static IReadOnlyDictionary<string, (long[] Shape, float[] Values)> ReadAll(ReadOnlySpan<byte> file, string source = "safetensors file")
    {
        var entries = ReadHeader(file, source, out int dataStart);
        ReadOnlySpan<byte> data = file[dataStart..];
        var result = new Dictionary<string, (long[], float[])>(StringComparer.Ordinal);
        foreach (var (name, entry) in entries)
        {
            if (entry.DType != "F32")
                throw new CheckpointException($"{source}: tensor '{name}' has dtype {entry.DType}; expected F32.");
            // The element count, saturating: a hostile shape must not overflow into a plausible size.
            long limit = data.Length / sizeof(float), count = 1;
            bool zero = false, tooLarge = false;
            foreach (long d in entry.Shape)
            {
                if (d == 0) zero = true;
                else if (!tooLarge && count > limit / d) tooLarge = true;
                else if (!tooLarge) count *= d;
            }
            if (zero) count = 0;
            else if (tooLarge)
                throw new CheckpointException($"{source}: tensor '{name}' has shape [{Join(entry.Shape)}], more values than the file's {data.Length} data bytes hold.");
            if (entry.Begin < 0 || entry.End < entry.Begin || entry.End > data.Length)
                throw new CheckpointException($"{source}: tensor '{name}' has data offsets [{entry.Begin}, {entry.End}] outside the {data.Length} data bytes.");
            if (entry.End - entry.Begin != count * sizeof(float))
                throw new CheckpointException($"{source}: tensor '{name}' spans {entry.End - entry.Begin} bytes; shape [{Join(entry.Shape)}] as F32 needs {count * sizeof(float)}.");
            float[] values = MemoryMarshal.Cast<byte, float>(data.Slice((int)entry.Begin, (int)(entry.End - entry.Begin))).ToArray();
            result[name] = (entry.Shape, values);
        }
        return result;
    }

    /// <summary>Reads a file whole and returns its tensors (see <see cref="ReadAll(ReadOnlySpan{byte}, string)"/>).</summary>
    public static IReadOnlyDictionary<string, (long[] Shape, float[] Values)> ReadAll(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] file;
        try { file = File.ReadAllBytes(path); }
        catch (FileNotFoundException e) { throw new CheckpointException($"'{path}' does not exist.", e); }
        return ReadAll(file, path);
    }

    private readonly record struct Entry(string DType, long[] Shape, long Begin, long End);

    private static Dictionary<string, Entry> ReadHeader(ReadOnlySpan<byte> file, string source, out int dataStart)
    {
        if (file.Length < 8)
            throw new CheckpointException($"{source}: the file has {file.Length} bytes; a safetensors file starts with an 8-byte header length.");
        ulong headerLength = BinaryPrimitives.ReadUInt64LittleEndian(file);
        if (headerLength > MaxHeaderBytes || headerLength > (ulong)(file.Length - 8))
            throw new CheckpointException($"{source}: the header claims {headerLength} bytes but the file has {file.Length - 8} after the length (limit {MaxHeaderBytes}).");
        dataStart = 8 + (int)headerLength;
        var entries = new Dictionary<string, Entry>(StringComparer.Ordinal);
        try
        {
            using JsonDocument document = JsonDocument.Parse(file.Slice(8, (int)headerLength).ToArray(), new JsonDocumentOptions { MaxDepth = 8 });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                throw new CheckpointException($"{source}: the header is not a JSON object.");
            foreach (JsonProperty property in document.RootElement.EnumerateObject())
            {
                if (property.Name == "__metadata__") continue;
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
        return entries;
    }

    private static byte[] BuildHeader(ParameterSet tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteStartObject("__metadata__");
            json.WriteString("format", "pt");
            if (metadata is not null)
                foreach (var (key, value) in metadata) json.WriteString(key, value);
            json.WriteEndObject();
            foreach (TensorSlice slice in tensors.Tensors)
            {
                json.WriteStartObject(slice.Name);
                json.WriteString("dtype", "F32");
                json.WriteStartArray("shape");
                foreach (int d in slice.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue((long)slice.Offset * sizeof(float));
                json.WriteNumberValue((long)(slice.Offset + slice.Length) * sizeof(float));
                json.WriteEndArray();
                json.WriteEndObject();
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

    private static bool SameShape(long[] file, IReadOnlyList<int> model)
    {
        if (file.Length != model.Count) return false;
        for (int i = 0; i < file.Length; i++) if (file[i] != model[i]) return false;
        return true;
    }

    private static string Join<T>(IEnumerable<T> values) => string.Join(", ", values);

    private static IEnumerable<string> Names(ParameterSet tensors)
    {
        foreach (TensorSlice slice in tensors.Tensors) yield return slice.Name;
    }
}
