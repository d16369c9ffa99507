using System;
using System.IO;

namespace Kiln.Data;

/// <summary>
/// Reads CIFAR-10 in its binary format (the "CIFAR-10 binary version" archive: <c>data_batch_1.bin</c> …
/// <c>data_batch_5.bin</c> and <c>test_batch.bin</c>, each a sequence of 3073-byte records — one label byte 0-9,
/// then 1024 red, 1024 green and 1024 blue bytes of a 32×32 image, rows top to bottom). Samples come out
/// channels-first [3, 32, 32] as PyTorch's <c>ToTensor</c> makes them: bytes / 255, optionally normalized per
/// channel with the training set's mean and standard deviation.
/// </summary>
public static class Cifar10
{
    public const int Channels = 3;
    public const int Side = 32;
    public const int ImageSize = Channels * Side * Side;
    public const int RecordSize = 1 + ImageSize;
    public const int Classes = 10;

    /// <summary>The class names, in label order.</summary>
    public static readonly string[] Names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"];

    /// <summary>The training set's per-channel mean and standard deviation (of bytes / 255), the usual normalization.</summary>
    public static readonly float[] Mean = [0.4914f, 0.4822f, 0.4465f];

    /// <inheritdoc cref="Mean"/>
    public static readonly float[] StandardDeviation = [0.2470f, 0.2435f, 0.2616f];

    /// <summary>
    /// Loads the five training batches and the test batch from <paramref name="directory"/> (or from its
    /// <c>cifar-10-batches-bin</c> subdirectory, as the archive unpacks). Training batches that are missing are an
    /// error, so a partial download is not silently trained on.
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">The directory does not exist.</exception>
    /// <exception cref="FileNotFoundException">A batch file is missing.</exception>
    /// <exception cref="DataFormatException">A batch file is not whole 3073-byte records or has a label above 9.</exception>
    public static (Dataset Train, Dataset Test) Load(string directory, bool normalize = true)
    {
        ArgumentNullException.ThrowIfNull(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"CIFAR-10 directory '{directory}' does not exist.");
        string nested = Path.Combine(directory, "cifar-10-batches-bin");
        if (!File.Exists(Path.Combine(directory, "test_batch.bin")) && Directory.Exists(nested)) directory = nested;

        var parts = new Dataset[5];
        for (int i = 0; i < 5; i++) parts[i] = ReadBatch(Find(directory, $"data_batch_{i + 1}.bin"), normalize);
        return (Concatenate(parts), ReadBatch(Find(directory, "test_batch.bin"), normalize));
    }

    /// <summary>Reads one batch file (any number of whole records).</summary>
    public static Dataset ReadBatch(string path, bool normalize = true)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes = File.ReadAllBytes(path);
        if (bytes.Length == 0 || bytes.Length % RecordSize != 0)
            throw new DataFormatException(
                $"'{path}' is {bytes.Length:N0} bytes; a CIFAR-10 batch is whole records of {RecordSize} bytes (a label byte and a 3x32x32 image), " +
                $"10,000 records (30,730,000 bytes) in the official files — the file is truncated or not CIFAR-10 binary.");
        int count = bytes.Length / RecordSize;
        var labels = new int[count];
        var pixels = new float[count * ImageSize];
        for (int i = 0; i < count; i++)
        {
            int record = i * RecordSize;
            int label = bytes[record];
            if (label >= Classes)
                throw new DataFormatException($"'{path}': record {i} (byte offset {record:N0}) has label {label}; CIFAR-10 labels are 0-9.");
            labels[i] = label;
            Span<float> image = pixels.AsSpan(i * ImageSize, ImageSize);
            ReadOnlySpan<byte> source = bytes.AsSpan(record + 1, ImageSize);
            for (int c = 0; c < Channels; c++)
            {
                // As torchvision: ToTensor divides by 255, Normalize subtracts the mean and divides by the deviation.
                float mean = normalize ? Mean[c] : 0f, deviation = normalize ? StandardDeviation[c] : 1f;
                int plane = c * Side * Side;
                for (int p = 0; p < Side * Side; p++) image[plane + p] = (source[plane + p] / 255f - mean) / deviation;
            }
        }
        return new Dataset(pixels, labels, ImageSize, Classes);
    }

    private static Dataset Concatenate(Dataset[] parts)
    {
        int count = 0;
        foreach (Dataset part in parts) count += part.Count;
        var features = new float[count * ImageSize];
        var labels = new int[count];
        int at = 0;
        foreach (Dataset part in parts)
        {
            part.Features.CopyTo(features, at * ImageSize);
            part.Labels.CopyTo(labels, at);
            at += part.Count;
        }
        return new Dataset(features, labels, ImageSize, Classes);
    }

    private static string Find(string directory, string name)
    {
        string path = Path.Combine(directory, name);
        if (!File.Exists(path))
            throw new FileNotFoundException(
                $"'{name}' not found in '{directory}'; CIFAR-10 needs data_batch_1.bin … data_batch_5.bin and test_batch.bin (the binary version, not the Python pickles).", path);
        return path;
    }
}
