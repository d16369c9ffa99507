using System;

namespace Kiln.Data;

/// <summary>Samples a trainer can batch: float features and <typeparamref name="TTarget"/> targets per sample.</summary>
public interface ITrainingData<TTarget> where TTarget : unmanaged
{
    int Count { get; }

    int FeatureSize { get; }

    /// <summary>Target values per sample (1 for a class label).</summary>
    int TargetSize { get; }

    /// <summary>Copies the samples at <paramref name="indices"/> into a batch (no allocation).</summary>
    void Gather(ReadOnlySpan<int> indices, Span<float> features, Span<TTarget> targets);
}

/// <summary>Samples with float targets (regression, multi-label, soft targets): [count, features] and [count, targets].</summary>
public sealed class TensorDataset : ITrainingData<float>
{
    public TensorDataset(float[] features, float[] targets, int featureSize, int targetSize)
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(targets);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(featureSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetSize);
        if (features.Length % featureSize != 0 || targets.Length / targetSize != features.Length / featureSize || targets.Length % targetSize != 0)
            throw new ArgumentException($"{features.Length} feature values of {featureSize} and {targets.Length} target values of {targetSize} do not make the same number of samples.", nameof(targets));
        Features = features;
        Targets = targets;
        FeatureSize = featureSize;
        TargetSize = targetSize;
    }

    public float[] Features { get; }
    public float[] Targets { get; }
    public int FeatureSize { get; }
    public int TargetSize { get; }
    public int Count => Features.Length / FeatureSize;

    public void Gather(ReadOnlySpan<int> indices, Span<float> features, Span<float> targets)
    {
        for (int i = 0; i < indices.Length; i++)
        {
            Features.AsSpan(indices[i] * FeatureSize, FeatureSize).CopyTo(features.Slice(i * FeatureSize, FeatureSize));
            Targets.AsSpan(indices[i] * TargetSize, TargetSize).CopyTo(targets.Slice(i * TargetSize, TargetSize));
        }
    }
}

/// <summary>A labelled dataset seen with one-hot float targets (for soft-target losses, mixup and cutmix).</summary>
public sealed class OneHotData(Dataset data) : ITrainingData<float>
{
    private readonly Dataset _data = data ?? throw new ArgumentNullException(nameof(data));

    public int Count => _data.Count;
    public int FeatureSize => _data.FeatureSize;
    public int TargetSize => _data.Classes;

    public void Gather(ReadOnlySpan<int> indices, Span<float> features, Span<float> targets)
    {
        targets.Slice(0, indices.Length * _data.Classes).Clear();
        for (int i = 0; i < indices.Length; i++)
        {
            _data.Sample(indices[i]).CopyTo(features.Slice(i * _data.FeatureSize, _data.FeatureSize));
            targets[i * _data.Classes + _data.Labels[indices[i]]] = 1f;
        }
    }
}
