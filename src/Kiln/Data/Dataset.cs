using System;

namespace Kiln.Data;

/// <summary>A data file that cannot be read: the message names the file and what was expected.</summary>
public sealed class DataFormatException(string message, Exception? inner = null) : System.IO.IOException(message, inner);

/// <summary>Samples as one flat float array of [count, features] with an integer label per sample.</summary>
public sealed class Dataset : ITrainingData<int>
{
    public Dataset(float[] features, int[] labels, int featureSize, int classes)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(labels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(featureSize);
        if (features.Length != (long)labels.Length * featureSize)
            throw new ArgumentException($"{features.Length} feature values do not make {labels.Length} samples of {featureSize}.", nameof(features));
        Features = features;
        Labels = labels;
        FeatureSize = featureSize;
        Classes = classes;
    }

    public float[] Features { get; }
    public int[] Labels { get; }
    public int FeatureSize { get; }
    public int Classes { get; }
    public int Count => Labels.Length;

    /// <summary>One label per sample.</summary>
    public int TargetSize => 1;

    /// <summary>The features of one sample.</summary>
    public ReadOnlySpan<float> Sample(int index) => Features.AsSpan(index * FeatureSize, FeatureSize);

    /// <summary>Copies the samples at <paramref name="indices"/> into a batch (no allocation).</summary>
    public void Gather(ReadOnlySpan<int> indices, Span<float> features, Span<int> targets)
    {
        for (int i = 0; i < indices.Length; i++)
        {
            Sample(indices[i]).CopyTo(features.Slice(i * FeatureSize, FeatureSize));
            targets[i] = Labels[indices[i]];
        }
    }

    /// <summary>Samples [start, start + count) as a new dataset.</summary>
    public Dataset Slice(int start, int count) =>
        new(Features.AsSpan(start * FeatureSize, count * FeatureSize).ToArray(), Labels.AsSpan(start, count).ToArray(), FeatureSize, Classes);
}
