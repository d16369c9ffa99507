using System;

namespace Kiln.Data;

/// <summary>
/// Mini-batches of a <see cref="Dataset"/>: each epoch a new permutation drawn from the seed and the epoch number
/// (so any point of a run can be reproduced, and a checkpoint needs only <see cref="Epoch"/> and
/// <see cref="Position"/>), copied into the caller's buffers with no allocation per batch.
/// <code>
/// var batches = new BatchIterator(train, batchSize: 64, seed: 1);
/// while (batches.Next(x, y, out int rows)) model.TrainStep(x[..(rows * 784)], y[..rows], adam);  // one epoch
/// </code>
/// </summary>
public sealed class BatchIterator
{
    private readonly Dataset? _data;
    private readonly int _count;
    private readonly int[] _order;
    private readonly long _seed;
    private readonly KilnRandom _random = new(0);
    private int _orderEpoch = -1;

    public BatchIterator(Dataset data, int batchSize, long seed, bool shuffle = true, bool dropLast = false)
        : this((data ?? throw new ArgumentNullException(nameof(data))).Count, batchSize, seed, shuffle, dropLast) => _data = data;

    /// <summary>Batches of indices into any collection of <paramref name="count"/> samples (<see cref="NextIndices"/>).</summary>
    public BatchIterator(int count, int batchSize, long seed, bool shuffle = true, bool dropLast = false)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(batchSize);
        _count = count;
        BatchSize = batchSize;
        _seed = seed;
        Shuffle = shuffle;
        DropLast = dropLast;
        _order = new int[count];
    }

    public int BatchSize { get; }
    public bool Shuffle { get; }
    /// <summary>Whether a short last batch of an epoch is skipped.</summary>
    public bool DropLast { get; }

    /// <summary>The epoch the next batch comes from (0-based).</summary>
    public int Epoch { get; private set; }

    /// <summary>Samples of the current epoch already handed out.</summary>
    public int Position { get; private set; }

    /// <summary>Batches per epoch.</summary>
    public int BatchesPerEpoch => DropLast ? _count / BatchSize : (_count + BatchSize - 1) / BatchSize;

    /// <summary>
    /// Copies the next batch into <paramref name="features"/> ([rows, FeatureSize]) and <paramref name="labels"/>
    /// ([rows]) and returns true; at the end of an epoch returns false (rows = 0) and moves to the next epoch.
    /// </summary>
    public bool Next(Span<float> features, Span<int> labels, out int rows)
    {
        if (_data is null) throw new InvalidOperationException("This iterator was made from a count: take NextIndices() and gather the samples.");
        if (features.Length < BatchSize * _data.FeatureSize)
            throw new ArgumentException($"features has {features.Length} values; a batch needs [{BatchSize}, {_data.FeatureSize}] = {BatchSize * _data.FeatureSize}.", nameof(features));
        if (labels.Length < BatchSize)
            throw new ArgumentException($"labels has {labels.Length} values; a batch needs [{BatchSize}].", nameof(labels));
        int left = _count - Position;
        if (left == 0 || (DropLast && left < BatchSize))
        {
            Epoch++;
            Position = 0;
            rows = 0;
            return false;
        }
        EnsureOrder();
        rows = Math.Min(BatchSize, left);
        _data.Gather(_order.AsSpan(Position, rows), features, labels);
        Position += rows;
        return true;
    }

    /// <summary>The indices of the next batch (without copying), or an empty span at the end of an epoch (which moves on).</summary>
    public ReadOnlySpan<int> NextIndices()
    {
        int left = _count - Position;
        if (left == 0 || (DropLast && left < BatchSize))
        {
            Epoch++;
            Position = 0;
            return ReadOnlySpan<int>.Empty;
        }
        EnsureOrder();
        int rows = Math.Min(BatchSize, left);
        ReadOnlySpan<int> batch = _order.AsSpan(Position, rows);
        Position += rows;
        return batch;
    }

    /// <summary>Continues from a saved point (as a checkpoint records it).</summary>
    public void Restore(int epoch, int position)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        if (position < 0 || position > _count) throw new ArgumentOutOfRangeException(nameof(position), position, $"A position lies in [0, {_count}].");
        Epoch = epoch;
        Position = position;
    }

    private void EnsureOrder()
    {
        if (_orderEpoch == Epoch) return;
        for (int i = 0; i < _order.Length; i++) _order[i] = i;
        if (Shuffle)
        {
            _random.Reseed(_seed * 1_000_003 + Epoch);
            _random.Shuffle(_order);
        }
        _orderEpoch = Epoch;
    }
}
