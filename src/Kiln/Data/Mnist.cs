using System.IO;

namespace Kiln.Data;

/// <summary>Loads the MNIST IDX files (train-images-idx3-ubyte etc., plain or .gz) from a directory.</summary>
public static class Mnist
{
    public static (Dataset Train, Dataset Test) Load(string directory)
    {
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"MNIST directory '{directory}' does not exist.");
        return (Read(directory, "train"), Read(directory, "t10k"));
    }

    private static Dataset Read(string directory, string prefix)
    {
        var (pixels, count, rows, columns) = Idx.ReadImages(Find(directory, $"{prefix}-images-idx3-ubyte"));
        int[] labels = Idx.ReadLabels(Find(directory, $"{prefix}-labels-idx1-ubyte"));
        if (labels.Length != count)
            throw new DataFormatException($"{directory}: {count} {prefix} images but {labels.Length} labels.");
        foreach (int label in labels)
            if (label > 9) throw new DataFormatException($"{directory}: {prefix} label {label} is not a digit.");
        return new Dataset(pixels, labels, rows * columns, 10);
    }

    private static string Find(string directory, string name)
    {
        foreach (string candidate in new[] { name, name + ".gz", name.Replace("-idx", ".idx"), name.Replace("-idx", ".idx") + ".gz" })
        {
            string path = Path.Combine(directory, candidate);
            if (File.Exists(path)) return path;
        }
        throw new FileNotFoundException($"'{name}' (or '{name}.gz') not found in '{directory}'.", Path.Combine(directory, name));
    }
}
