using System;

namespace Kiln.Training;

/// <summary>Classification metrics over a batch or a dataset.</summary>
public static class Metrics
{
    /// <summary>The share of rows whose predicted class is the label.</summary>
    public static float Accuracy(ReadOnlySpan<int> predicted, ReadOnlySpan<int> labels)
    {
        if (predicted.Length != labels.Length) throw new ArgumentException($"{predicted.Length} predictions for {labels.Length} labels.", nameof(predicted));
        if (labels.Length == 0) return 0f;
        int right = 0;
        for (int i = 0; i < labels.Length; i++) if (predicted[i] == labels[i]) right++;
        return right / (float)labels.Length;
    }

    /// <summary>The share of rows of <paramref name="scores"/> [rows, classes] whose highest score is the label's.</summary>
    public static float Accuracy(ReadOnlySpan<float> scores, ReadOnlySpan<int> labels, int classes) => TopKAccuracy(scores, labels, classes, 1);

    /// <summary>
    /// The share of rows whose label is among the <paramref name="k"/> highest of <paramref name="scores"/> [rows,
    /// classes]: fewer than k classes score strictly higher than the label (ties count for the label, as
    /// <c>torch.topk</c> would place either first).
    /// </summary>
    public static float TopKAccuracy(ReadOnlySpan<float> scores, ReadOnlySpan<int> labels, int classes, int k)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        if (k < 1 || k > classes) throw new ArgumentOutOfRangeException(nameof(k), k, $"k lies in [1, {classes}].");
        Guard.Length(scores.Length, labels.Length, classes, nameof(scores));
        Guard.Labels(labels, classes, nameof(labels));
        if (labels.Length == 0) return 0f;
        int right = 0;
        for (int r = 0; r < labels.Length; r++)
        {
            ReadOnlySpan<float> row = scores.Slice(r * classes, classes);
            float mine = row[labels[r]];
            int higher = 0;
            foreach (float s in row) if (s > mine) higher++;
            if (higher < k) right++;
        }
        return right / (float)labels.Length;
    }

    /// <summary>The share of rows where the highest score and the highest target agree (one-hot or soft targets).</summary>
    public static float ArgMaxAgreement(ReadOnlySpan<float> scores, ReadOnlySpan<float> targets, int classes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(classes);
        Guard.Length(targets.Length, scores.Length / classes, classes, nameof(targets));
        int rows = scores.Length / classes;
        if (rows == 0) return 0f;
        int right = 0;
        for (int r = 0; r < rows; r++)
            if (ArgMax(scores.Slice(r * classes, classes)) == ArgMax(targets.Slice(r * classes, classes))) right++;
        return right / (float)rows;
    }

    private static int ArgMax(ReadOnlySpan<float> row)
    {
        int best = 0;
        for (int i = 1; i < row.Length; i++) if (row[i] > row[best]) best = i;
        return best;
    }
}
