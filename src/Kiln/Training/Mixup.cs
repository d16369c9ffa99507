using System;

namespace Kiln.Training;

/// <summary>A change applied to a batch before the training step (mixup, cutmix): features [rows, FeatureSize] and
/// float targets [rows, TargetSize] in place.</summary>
public interface IBatchTransform
{
    void Apply(Span<float> features, Span<float> targets, int rows);

    /// <summary>The transform's generator (a checkpoint saves its state), or null.</summary>
    KilnRandom? Random { get; }
}

/// <summary>
/// Mixup (Zhang et al.): λ ~ Beta(α, α) per batch, each sample mixed with a random other one of the batch,
/// x ← λx + (1 − λ)x', t ← λt + (1 − λ)t' — soft targets for a soft-target loss. Buffers are allocated once.
/// </summary>
public sealed class Mixup : IBatchTransform
{
    private readonly float[] _features, _targets;
    private readonly int[] _permutation;
    private readonly int _featureSize, _targetSize;

    public Mixup(int batchSize, int featureSize, int targetSize, float alpha = 0.2f, long seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(featureSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetSize);
        if (!(alpha > 0f)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α must be > 0.");
        (_featureSize, _targetSize, Alpha) = (featureSize, targetSize, alpha);
        _features = new float[batchSize * featureSize];
        _targets = new float[batchSize * targetSize];
        _permutation = new int[batchSize];
        Random = new KilnRandom(seed);
    }

    public float Alpha { get; }
    public KilnRandom Random { get; }

    /// <summary>The λ of the last batch.</summary>
    public float LastLambda { get; private set; }

    public void Apply(Span<float> features, Span<float> targets, int rows)
    {
        Check(features, targets, rows, _featureSize, _targetSize, _permutation.Length);
        float lambda = SampleBeta(Random, Alpha);
        LastLambda = lambda;
        Permute(Random, _permutation.AsSpan(0, rows));
        features.Slice(0, rows * _featureSize).CopyTo(_features);
        targets.Slice(0, rows * _targetSize).CopyTo(_targets);
        for (int r = 0; r < rows; r++)
        {
            int o = _permutation[r];
            Mix(features.Slice(r * _featureSize, _featureSize), _features.AsSpan(o * _featureSize, _featureSize), lambda);
            Mix(targets.Slice(r * _targetSize, _targetSize), _targets.AsSpan(o * _targetSize, _targetSize), lambda);
        }
    }

    private static void Mix(Span<float> mine, ReadOnlySpan<float> other, float lambda)
    {
        for (int i = 0; i < mine.Length; i++) mine[i] = lambda * mine[i] + (1 - lambda) * other[i];
    }

    internal static void Check(Span<float> features, Span<float> targets, int rows, int featureSize, int targetSize, int batch)
    {
        if (rows < 0 || rows > batch) throw new ArgumentOutOfRangeException(nameof(rows), rows, $"A batch has at most {batch} rows.");
        if (features.Length < rows * featureSize)
            throw new ArgumentException($"features has {features.Length} values; [{rows}, {featureSize}] needs {rows * featureSize}.", nameof(features));
        if (targets.Length < rows * targetSize)
            throw new ArgumentException($"targets has {targets.Length} values; [{rows}, {targetSize}] needs {rows * targetSize}.", nameof(targets));
    }

    internal static void Permute(KilnRandom random, Span<int> permutation)
    {
        for (int i = 0; i < permutation.Length; i++) permutation[i] = i;
        random.Shuffle(permutation);
    }

    /// <summary>Beta(α, α) as X / (X + Y) with X, Y ~ Gamma(α, 1).</summary>
    internal static float SampleBeta(KilnRandom random, float alpha)
    {
        double x = SampleGamma(random, alpha), y = SampleGamma(random, alpha);
        return x + y == 0 ? 0.5f : (float)(x / (x + y));
    }

    /// <summary>Gamma(a, 1) by Marsaglia and Tsang (a &lt; 1 through Gamma(a + 1)·U^(1/a)).</summary>
    internal static double SampleGamma(KilnRandom random, double a)
    {
        if (a < 1)
        {
            double u = 1.0 - random.NextUInt() / 4294967296.0;
            return SampleGamma(random, a + 1) * Math.Pow(u, 1 / a);
        }
        double d = a - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double z = random.Gaussian(), v = 1 + c * z;
            if (v <= 0) continue;
            v = v * v * v;
            double u = 1.0 - random.NextUInt() / 4294967296.0;
            if (Math.Log(u) < 0.5 * z * z + d - d * v + d * Math.Log(v)) return d * v;
        }
    }
}

/// <summary>
/// CutMix (Yun et al.): λ ~ Beta(α, α); a box of (1 − λ) of each image [channels, height, width] is replaced by the
/// same box of a random other image of the batch, and the targets mixed by the area actually pasted. Buffers are
/// allocated once.
/// </summary>
public sealed class CutMix : IBatchTransform
{
    private readonly float[] _features, _targets;
    private readonly int[] _permutation;
    private readonly int _channels, _height, _width, _targetSize;

    public CutMix(int batchSize, int channels, int height, int width, int targetSize, float alpha = 1f, long seed = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(height);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(targetSize);
        if (!(alpha > 0f)) throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "α must be > 0.");
        (_channels, _height, _width, _targetSize, Alpha) = (channels, height, width, targetSize, alpha);
        _features = new float[batchSize * channels * height * width];
        _targets = new float[batchSize * targetSize];
        _permutation = new int[batchSize];
        Random = new KilnRandom(seed);
    }

    public float Alpha { get; }
    public KilnRandom Random { get; }

    /// <summary>The target weight of the last batch: 1 − (pasted area)/(image area).</summary>
    public float LastLambda { get; private set; }

    public void Apply(Span<float> features, Span<float> targets, int rows)
    {
        int size = _channels * _height * _width;
        Mixup.Check(features, targets, rows, size, _targetSize, _permutation.Length);
        float lambda = Mixup.SampleBeta(Random, Alpha);
        Mixup.Permute(Random, _permutation.AsSpan(0, rows));
        double ratio = Math.Sqrt(1 - lambda);
        int cutH = (int)(_height * ratio), cutW = (int)(_width * ratio);
        int cy = Random.Next(_height), cx = Random.Next(_width);
        int y0 = Math.Clamp(cy - cutH / 2, 0, _height), y1 = Math.Clamp(cy + cutH / 2, 0, _height);
        int x0 = Math.Clamp(cx - cutW / 2, 0, _width), x1 = Math.Clamp(cx + cutW / 2, 0, _width);
        float kept = 1f - (y1 - y0) * (x1 - x0) / (float)(_height * _width);
        LastLambda = kept;
        features.Slice(0, rows * size).CopyTo(_features);
        targets.Slice(0, rows * _targetSize).CopyTo(_targets);
        for (int r = 0; r < rows; r++)
        {
            int o = _permutation[r];
            for (int c = 0; c < _channels; c++)
                for (int y = y0; y < y1; y++)
                {
                    int offset = (c * _height + y) * _width;
                    _features.AsSpan(o * size + offset + x0, x1 - x0).CopyTo(features.Slice(r * size + offset + x0, x1 - x0));
                }
            Span<float> t = targets.Slice(r * _targetSize, _targetSize);
            ReadOnlySpan<float> other = _targets.AsSpan(o * _targetSize, _targetSize);
            for (int i = 0; i < t.Length; i++) t[i] = kept * t[i] + (1 - kept) * other[i];
        }
    }
}
