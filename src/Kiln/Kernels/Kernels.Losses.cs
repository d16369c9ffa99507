using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>Loss functions: forward returns the mean loss; backward writes the gradient of that mean.</summary>
public static class Losses
{
    /// <summary>
    /// Softmax cross-entropy with integer labels: mean over rows of logsumexp(z) − z[label]. Writes the softmax
    /// probabilities to <paramref name="probabilities"/>, which the backward reads.
    /// </summary>
    public static float SoftmaxCrossEntropyForward(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, Span<float> probabilities, int rows, int classes)
    {
        Guard.Length(logits.Length, rows, classes, nameof(logits));
        Guard.Length(probabilities.Length, rows, classes, nameof(probabilities));
        Guard.Length(labels.Length, rows, 1, nameof(labels));
        Guard.Labels(labels, classes, nameof(labels));
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> z = logits.Slice(r * classes, classes);
            float logSumExp = Softmax.Row(z, probabilities.Slice(r * classes, classes));
            total += logSumExp - z[labels[r]];
        }
        return (float)(total / rows);
    }

    /// <summary>dlogits (+)= (p − onehot(label)) / rows.</summary>
    public static void SoftmaxCrossEntropyBackward(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, Span<float> dlogits, int rows, int classes, bool accumulate)
    {
        Guard.Length(probabilities.Length, rows, classes, nameof(probabilities));
        Guard.Length(dlogits.Length, rows, classes, nameof(dlogits));
        Guard.Length(labels.Length, rows, 1, nameof(labels));
        float scale = 1f / rows;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> p = probabilities.Slice(r * classes, classes);
            Span<float> d = dlogits.Slice(r * classes, classes);
            int label = labels[r];
            for (int c = 0; c < classes; c++)
            {
                float g = (p[c] - (c == label ? 1f : 0f)) * scale;
                d[c] = accumulate ? d[c] + g : g;
            }
        }
    }

    /// <summary>Mean squared error over every element: Σ (p − t)² / n.</summary>
    public static float MeanSquaredErrorForward(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets) =>
        MeanSquaredErrorForward(KernelInfo.Best, predictions, targets);

    public static float MeanSquaredErrorForward(KernelIsa isa, ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets)
    {
        Guard.Length(targets.Length, predictions.Length, 1, nameof(targets));
        if (predictions.Length == 0) return 0f;
        ref float p = ref MemoryMarshal.GetReference(predictions);
        ref float t = ref MemoryMarshal.GetReference(targets);
        int n = predictions.Length;
        int i = 0;
        double sum = isa switch
        {
            KernelIsa.Avx512 => SquaredDistance<Vector512<float>, Simd512>(ref p, ref t, n, out i),
            KernelIsa.Avx2 => SquaredDistance<Vector256<float>, Simd256>(ref p, ref t, n, out i),
            _ => 0,
        };
        for (; i < n; i++)
        {
            double d = Unsafe.Add(ref p, i) - Unsafe.Add(ref t, i);
            sum += d * d;
        }
        return (float)(sum / n);
    }

    /// <summary>dp (+)= 2(p − t)/n.</summary>
    public static void MeanSquaredErrorBackward(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> dpredictions, bool accumulate) =>
        MeanSquaredErrorBackward(KernelInfo.Best, predictions, targets, dpredictions, accumulate);

    public static void MeanSquaredErrorBackward(KernelIsa isa, ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> dpredictions, bool accumulate) =>
        ElementWise.Zip(isa, new ScaledDifferenceOp(2f / predictions.Length), predictions, targets, dpredictions, accumulate);

    private static double SquaredDistance<TVec, TSimd>(ref float p, ref float t, int n, out int end)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        // Partial sums in float vectors over blocks of at most 4096 values, added up in double.
        int w = TSimd.Count;
        double total = 0;
        int i = 0;
        while (i + w <= n)
        {
            int blockEnd = Math.Min(n, i + 4096);
            TVec acc = TSimd.Zero;
            for (; i + w <= blockEnd; i += w)
            {
                TVec d = TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref p, i)), TSimd.Load(ref Unsafe.Add(ref t, i)));
                acc = TSimd.MultiplyAdd(d, d, acc);
            }
            total += TSimd.Sum(acc);
        }
        end = i;
        return total;
    }

    public readonly struct ScaledDifferenceOp(float scale) : IBinaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec, TSimd>(TVec p, TVec t) where TVec : struct where TSimd : ISimd<TVec> =>
            TSimd.Multiply(TSimd.Broadcast(scale), TSimd.Subtract(p, t));
    }
}
