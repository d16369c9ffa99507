using System;
using System.Buffers.Binary;
using System.IO;
using System.IO.Compression;

namespace Kiln.Data;

/// <summary>
/// The IDX format of MNIST (big-endian magic 0x0000TTDD: type 0x08 = unsigned byte, DD dimensions, then one
/// big-endian int32 per dimension, then the data), plain or gzip-compressed.
/// </summary>
public static class Idx
{
    /// <summary>Reads an IDX file of unsigned bytes: its dimensions and its data.</summary>
    public static (int[] Dimensions, byte[] Data) ReadBytes(string path)
    {
        using FileStream file = OpenFile(path);
        Span<byte> probe = stackalloc byte[2];
        int got = file.ReadAtLeast(probe, 2, throwOnEndOfStream: false);
        file.Position = 0;
        bool gzip = got == 2 && probe[0] == 0x1F && probe[1] == 0x8B;
        try
        {
            using Stream stream = gzip ? new GZipStream(file, CompressionMode.Decompress) : file;
            return Read(stream, path, gzip ? null : file.Length);
        }
        catch (InvalidDataException e)
        {
            throw new DataFormatException($"{path}: the gzip stream is corrupt ({e.Message}).", e);
        }
    }

    /// <summary>Reads an image file [count, rows, cols] as floats in [0, 1].</summary>
    public static (float[] Pixels, int Count, int Rows, int Columns) ReadImages(string path)
    {
        var (dims, data) = ReadBytes(path);
        if (dims.Length != 3) throw new DataFormatException($"{path}: an image file has 3 dimensions [count, rows, columns]; this one has {dims.Length}.");
        var pixels = new float[data.Length];
        for (int i = 0; i < data.Length; i++) pixels[i] = data[i] / 255f;
        return (pixels, dims[0], dims[1], dims[2]);
    }

    /// <summary>Reads a label file [count].</summary>
    public static int[] ReadLabels(string path)
    {
        var (dims, data) = ReadBytes(path);
        if (dims.Length != 1) throw new DataFormatException($"{path}: a label file has 1 dimension [count]; this one has {dims.Length}.");
        var labels = new int[data.Length];
        for (int i = 0; i < data.Length; i++) labels[i] = data[i];
        return labels;
    }

    /// <summary>Writes an IDX file of unsigned bytes (used by tests and tools).</summary>
    public static void WriteBytes(string path, int[] dimensions, ReadOnlySpan<byte> data, bool gzip = false)
    {
        long expected = 1;
        foreach (int d in dimensions) expected *= d;
        if (expected != data.Length) throw new ArgumentException($"Dimensions [{string.Join(", ", dimensions)}] need {expected} bytes; got {data.Length}.", nameof(data));
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        using Stream stream = gzip ? new GZipStream(file, CompressionLevel.Fastest) : file;
        Span<byte> header = stackalloc byte[4 + 4 * dimensions.Length];
        BinaryPrimitives.WriteInt32BigEndian(header, 0x0800 | dimensions.Length);
        for (int i = 0; i < dimensions.Length; i++) BinaryPrimitives.WriteInt32BigEndian(header[(4 + 4 * i)..], dimensions[i]);
        stream.Write(header);
        stream.Write(data);
    }

    private static FileStream OpenFile(string path)
    {
        try { return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16); }
        catch (FileNotFoundException e) { throw new DataFormatException($"{path}: file not found.", e); }
    }

    private static (int[], byte[]) Read(Stream stream, string path, long? fileLength)
    {
        Span<byte> magic = stackalloc byte[4];
        if (stream.ReadAtLeast(magic, 4, throwOnEndOfStream: false) != 4)
            throw new DataFormatException($"{path}: truncated before the 4-byte IDX magic number.");
        if (magic[0] != 0 || magic[1] != 0)
            throw new DataFormatException($"{path}: not an IDX file (magic {Convert.ToHexString(magic)}; expected 0000 08 then the dimension count).");
        if (magic[2] != 0x08)
            throw new DataFormatException($"{path}: element type 0x{magic[2]:X2} is not supported; expected 0x08 (unsigned byte).");
        int rank = magic[3];
        if (rank is < 1 or > 4) throw new DataFormatException($"{path}: {rank} dimensions; expected 1 to 4.");
        Span<byte> dimBytes = stackalloc byte[4 * rank];
        if (stream.ReadAtLeast(dimBytes, dimBytes.Length, throwOnEndOfStream: false) != dimBytes.Length)
            throw new DataFormatException($"{path}: truncated inside the {rank} dimension sizes.");
        var dims = new int[rank];
        long count = 1;
        for (int i = 0; i < rank; i++)
        {
            dims[i] = BinaryPrimitives.ReadInt32BigEndian(dimBytes[(4 * i)..]);
            if (dims[i] < 0) throw new DataFormatException($"{path}: dimension {i} is negative ({dims[i]}).");
            count *= dims[i];
            if (count > Array.MaxLength) throw new DataFormatException($"{path}: dimensions [{string.Join(", ", dims)}] are too large.");
        }
        long headerBytes = 4 + 4L * rank;
        if (fileLength is long length && length - headerBytes != count)
            throw new DataFormatException(length - headerBytes < count
                ? $"{path}: truncated: dimensions [{string.Join(", ", dims)}] need {count} data bytes; the file has {length - headerBytes}."
                : $"{path}: dimensions [{string.Join(", ", dims)}] need {count} data bytes; the file has {length - headerBytes} (data past the end).");

        // Read in chunks so a lying header in a compressed file cannot make us allocate more than it holds.
        using var data = new MemoryStream();
        byte[] chunk = new byte[1 << 16];
        long remaining = count;
        while (remaining > 0)
        {
            int read = stream.Read(chunk, 0, (int)Math.Min(chunk.Length, remaining));
            if (read == 0) break;
            data.Write(chunk, 0, read);
            remaining -= read;
        }
        if (remaining > 0)
            throw new DataFormatException($"{path}: truncated: dimensions [{string.Join(", ", dims)}] need {count} data bytes; only {count - remaining} are there.");
        if (stream.Read(chunk, 0, 1) != 0)
            throw new DataFormatException($"{path}: data continues past the {count} bytes the dimensions [{string.Join(", ", dims)}] describe.");
        return (dims, data.ToArray());
    }
}
