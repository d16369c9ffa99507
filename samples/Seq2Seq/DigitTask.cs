using System;

namespace Kiln.Samples.Seq2Seq;

/// <summary>What the encoder-decoder learns to output for a string of digits.</summary>
public enum DigitTaskKind
{
    /// <summary>The digits in reverse order.</summary>
    Reverse,
    /// <summary>The digits in ascending order.</summary>
    Sort,
}

/// <summary>
/// The built-in sequence tasks of the encoder-decoder sample: random strings of <see cref="Length"/> digits, the
/// expected output, the teacher-forced decoder input (a start token, then the output shifted right by one), and greedy
/// decoding, which feeds the model's own digits back one step at a time.
/// </summary>
public static class DigitTask
{
    /// <summary>Digits per string (the model's source and target length).</summary>
    public const int Length = DigitTransformer.SourceSize;

    /// <summary>The decoder's first input, before any output digit: a token that is not a digit.</summary>
    public const int Start = 10;

    /// <summary>The output for one source string.</summary>
    public static void Expected(DigitTaskKind task, ReadOnlySpan<int> source, Span<int> output)
    {
        source.CopyTo(output);
        if (task == DigitTaskKind.Reverse) output.Reverse();
        else output.Sort();
    }

    /// <summary>A batch of <paramref name="rows"/> random strings: sources, teacher-forced decoder inputs and labels.</summary>
    public static void Batch(DigitTaskKind task, KilnRandom random, Span<int> sources, Span<int> targets, Span<int> labels, int rows)
    {
        ArgumentNullException.ThrowIfNull(random);
        for (int r = 0; r < rows; r++)
        {
            Span<int> source = sources.Slice(r * Length, Length), label = labels.Slice(r * Length, Length), target = targets.Slice(r * Length, Length);
            for (int i = 0; i < Length; i++) source[i] = random.Next(10);
            Expected(task, source, label);
            target[0] = Start;
            label.Slice(0, Length - 1).CopyTo(target.Slice(1));
        }
    }

    /// <summary>
    /// Greedy decoding of <paramref name="rows"/> sources: the decoder input starts as the start token, and after each
    /// forward pass the most likely digit at step t becomes its input at step t + 1 (the decoder is causal, so the
    /// steps after t do not change step t). <paramref name="targets"/> [rows, Length] is working space.
    /// </summary>
    public static void Decode(DigitTransformer model, ReadOnlySpan<int> sources, Span<int> targets, Span<float> logits, Span<int> outputs, int rows)
    {
        ArgumentNullException.ThrowIfNull(model);
        const int classes = DigitTransformer.OutputSize / Length;
        targets.Slice(0, rows * Length).Fill(Start);
        for (int t = 0; t < Length; t++)
        {
            model.Forward(sources.Slice(0, rows * Length), targets.Slice(0, rows * Length), logits.Slice(0, rows * DigitTransformer.OutputSize));
            for (int r = 0; r < rows; r++)
            {
                ReadOnlySpan<float> step = logits.Slice((r * Length + t) * classes, classes);
                int digit = System.Numerics.Tensors.TensorPrimitives.IndexOfMax(step);
                outputs[r * Length + t] = digit;
                if (t + 1 < Length) targets[r * Length + t + 1] = digit;
            }
        }
    }

    /// <summary>Greedy-decoded accuracy on <paramref name="count"/> fresh random strings: whole strings right, and digits right.</summary>
    public static (double Strings, double Digits) Accuracy(DigitTransformer model, DigitTaskKind task, int count, KilnRandom random)
    {
        ArgumentNullException.ThrowIfNull(model);
        int batch = DigitTransformer.Batch;
        var sources = new int[batch * Length];
        var targets = new int[batch * Length];
        var labels = new int[batch * Length];
        var outputs = new int[batch * Length];
        var logits = new float[batch * DigitTransformer.OutputSize];
        int strings = 0, digits = 0;
        for (int done = 0; done < count; done += batch)
        {
            int rows = Math.Min(batch, count - done);
            Batch(task, random, sources, targets, labels, rows);
            Decode(model, sources, targets, logits, outputs, rows);
            for (int r = 0; r < rows; r++)
            {
                int right = 0;
                for (int i = 0; i < Length; i++) right += outputs[r * Length + i] == labels[r * Length + i] ? 1 : 0;
                digits += right;
                strings += right == Length ? 1 : 0;
            }
        }
        return (strings / (double)count, digits / (double)(count * Length));
    }
}
