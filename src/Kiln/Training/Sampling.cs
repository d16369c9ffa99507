using System;
using System.Numerics.Tensors;

namespace Kiln;

/// <summary>Drawing the next token of a generated sequence from a model's logits: softmax at a temperature, optionally
/// restricted to the k most likely tokens (top-k), as language-model samplers do.</summary>
public static class Sampling
{
    [ThreadStatic] private static float[]? t_scratch;

    /// <summary>
    /// A token drawn from softmax(logits / <paramref name="temperature"/>) over the <paramref name="topK"/> largest logits
    /// (0: every token; ties at the k-th value are all kept). Allocates nothing after the first call on a thread.
    /// </summary>
    public static int Sample(ReadOnlySpan<float> logits, float temperature, int topK, KilnRandom random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (logits.IsEmpty) throw new ArgumentException("There are no logits to sample from.", nameof(logits));
        if (!(temperature > 0) || float.IsInfinity(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be a finite number > 0.");
        ArgumentOutOfRangeException.ThrowIfNegative(topK);
        float[] scratch = t_scratch is { } s && s.Length >= 2 * logits.Length ? s : (t_scratch = new float[Math.Max(2 * logits.Length, 256)]);
        Span<float> p = scratch.AsSpan(0, logits.Length);
        TensorPrimitives.Multiply(logits, 1f / temperature, p);
        if (topK > 0 && topK < logits.Length)
        {
            // The k-th largest value: sort a copy (vocabularies are small); everything below it is excluded.
            Span<float> sorted = scratch.AsSpan(logits.Length, logits.Length);
            p.CopyTo(sorted);
            sorted.Sort();
            float threshold = sorted[logits.Length - topK];
            for (int i = 0; i < p.Length; i++)
                if (p[i] < threshold) p[i] = float.NegativeInfinity;
        }
        TensorPrimitives.SoftMax(p, p);
        float u = random.NextFloat(), sum = 0;
        int last = 0;
        for (int i = 0; i < p.Length; i++)
        {
            if (p[i] == 0) continue;
            last = i;
            sum += p[i];
            if (u < sum) return i;
        }
        return last; // rounding left u above the total: the last token with any probability
    }
}
