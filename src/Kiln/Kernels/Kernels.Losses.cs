using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>
/// Loss functions, each a forward (returns the loss) and a backward (writes the gradient of that loss), with
/// PyTorch's definitions and reductions: the element-wise losses (MSE, L1, Huber, binary cross-entropy with logits,
/// binary focal) average over every element for <see cref="Reduction.Mean"/>, the classification losses (softmax
/// cross-entropy, focal) over rows; <see cref="Reduction.Sum"/> adds them up. Sums run in double.
/// </summary>
public static class Losses
{
    private static double Scale(Reduction reduction, int count) => reduction == Reduction.Sum || count == 0 ? 1.0 : 1.0 / count;

    // ---- softmax cross-entropy ----

    /// <summary>PyTorch's default <c>ignore_index</c>: a label of −100 is a row that does not count.</summary>
    public const int DefaultIgnoreIndex = -100;

    /// <summary>
    /// Softmax cross-entropy with integer labels: over rows of logsumexp(z) − Σ_c q_c z_c, with the target q the
    /// one-hot label smoothed as PyTorch's <c>label_smoothing</c> (q = (1 − ε)·onehot + ε / C). Rows labelled
    /// <paramref name="ignoreIndex"/> (PyTorch's <c>ignore_index</c>, −100 by default: padded steps of a sequence) add
    /// nothing, and the mean is over the other rows (0 when every row is ignored, where PyTorch gives NaN). Writes the
    /// softmax probabilities to <paramref name="probabilities"/>, which the backward reads.
    /// </summary>
    public static float SoftmaxCrossEntropyForward(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, Span<float> probabilities, int rows, int classes,
        float labelSmoothing = 0f, Reduction reduction = Reduction.Mean, int ignoreIndex = DefaultIgnoreIndex)
    {
        Guard.Length(logits.Length, rows, classes, nameof(logits));
        Guard.Length(probabilities.Length, rows, classes, nameof(probabilities));
        Guard.Length(labels.Length, rows, 1, nameof(labels));
        Guard.Labels(labels, classes, nameof(labels), ignoreIndex);
        double total = 0, off = labelSmoothing / (double)classes;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> z = logits.Slice(r * classes, classes);
            double logSumExp = Softmax.Row(z, probabilities.Slice(r * classes, classes));
            if (labels[r] == ignoreIndex) continue;
            double smoothed = 0;
            if (labelSmoothing != 0f)
                foreach (float v in z) smoothed += v;
            total += logSumExp - (1 - labelSmoothing) * z[labels[r]] - off * smoothed;
        }
        return (float)(total * Scale(reduction, Counted(labels, ignoreIndex)));
    }

    /// <summary>dlogits (+)= (p − q)·scale, q the (smoothed) one-hot target; zero for a row labelled <paramref name="ignoreIndex"/>.</summary>
    public static void SoftmaxCrossEntropyBackward(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, Span<float> dlogits, int rows, int classes, bool accumulate,
        float labelSmoothing = 0f, Reduction reduction = Reduction.Mean, int ignoreIndex = DefaultIgnoreIndex)
    {
        Guard.Length(probabilities.Length, rows, classes, nameof(probabilities));
        Guard.Length(dlogits.Length, rows, classes, nameof(dlogits));
        Guard.Length(labels.Length, rows, 1, nameof(labels));
        float scale = (float)Scale(reduction, Counted(labels, ignoreIndex)), off = labelSmoothing / classes, on = 1f - labelSmoothing + off;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> p = probabilities.Slice(r * classes, classes);
            Span<float> d = dlogits.Slice(r * classes, classes);
            int label = labels[r];
            if (label == ignoreIndex)
            {
                if (!accumulate) d.Clear();
                continue;
            }
            for (int c = 0; c < classes; c++)
            {
                float g = (p[c] - (c == label ? on : off)) * scale;
                d[c] = accumulate ? d[c] + g : g;
            }
        }
    }

    /// <summary>The rows that count: those not labelled <paramref name="ignoreIndex"/>.</summary>
    private static int Counted(ReadOnlySpan<int> labels, int ignoreIndex) => labels.Length - labels.Count(ignoreIndex);

    /// <summary>
    /// Softmax cross-entropy with soft targets (a probability distribution per row, as mixup and cutmix make):
    /// Σ_c t_c·(logsumexp(z) − z_c), the targets smoothed first when <paramref name="labelSmoothing"/> is set.
    /// </summary>
    public static float SoftTargetCrossEntropyForward(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, Span<float> probabilities, int rows, int classes,
        float labelSmoothing = 0f, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(logits.Length, rows, classes, nameof(logits));
        Guard.Length(targets.Length, rows, classes, nameof(targets));
        Guard.Length(probabilities.Length, rows, classes, nameof(probabilities));
        double total = 0, off = labelSmoothing / (double)classes;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> z = logits.Slice(r * classes, classes), t = targets.Slice(r * classes, classes);
            double logSumExp = Softmax.Row(z, probabilities.Slice(r * classes, classes));
            for (int c = 0; c < classes; c++)
            {
                double q = (1 - labelSmoothing) * t[c] + off;
                total += q * (logSumExp - z[c]);
            }
        }
        return (float)(total * Scale(reduction, rows));
    }

    /// <summary>dlogits (+)= (p·Σq − q)·scale.</summary>
    public static void SoftTargetCrossEntropyBackward(ReadOnlySpan<float> probabilities, ReadOnlySpan<float> targets, Span<float> dlogits, int rows, int classes, bool accumulate,
        float labelSmoothing = 0f, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(probabilities.Length, rows, classes, nameof(probabilities));
        Guard.Length(targets.Length, rows, classes, nameof(targets));
        Guard.Length(dlogits.Length, rows, classes, nameof(dlogits));
        double scale = Scale(reduction, rows), off = labelSmoothing / (double)classes;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> p = probabilities.Slice(r * classes, classes), t = targets.Slice(r * classes, classes);
            Span<float> d = dlogits.Slice(r * classes, classes);
            double mass = 0;
            for (int c = 0; c < classes; c++) mass += (1 - labelSmoothing) * t[c] + off;
            for (int c = 0; c < classes; c++)
            {
                float g = (float)((p[c] * mass - ((1 - labelSmoothing) * t[c] + off)) * scale);
                d[c] = accumulate ? d[c] + g : g;
            }
        }
    }

    // ---- focal loss ----

    /// <summary>
    /// Multi-class focal loss with integer labels: over rows of −α·(1 − p_y)^γ·log p_y, p = softmax(z) (γ = 0, α = 1 is
    /// cross-entropy). Writes the probabilities, which the backward reads.
    /// </summary>
    public static float FocalLossForward(ReadOnlySpan<float> logits, ReadOnlySpan<int> labels, Span<float> probabilities, int rows, int classes,
        float gamma, float alpha = 1f, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(logits.Length, rows, classes, nameof(logits));
        Guard.Length(probabilities.Length, rows, classes, nameof(probabilities));
        Guard.Length(labels.Length, rows, 1, nameof(labels));
        Guard.Labels(labels, classes, nameof(labels));
        double total = 0;
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> z = logits.Slice(r * classes, classes);
            Span<float> p = probabilities.Slice(r * classes, classes);
            double logP = z[labels[r]] - (double)Softmax.Row(z, p);
            double py = Math.Exp(logP);
            total += -alpha * Math.Pow(1 - py, gamma) * logP;
        }
        return (float)(total * Scale(reduction, rows));
    }

    /// <summary>
    /// dlogits_c (+)= F·(δ_cy − p_c)·scale with F = α·(γ·(1 − p_y)^(γ−1)·p_y·log p_y − (1 − p_y)^γ): the chain rule through
    /// p_y = softmax(z)_y. The (1 − p_y)^(γ−1) factor is taken by its limit when p_y reaches 1.
    /// </summary>
    public static void FocalLossBackward(ReadOnlySpan<float> probabilities, ReadOnlySpan<int> labels, Span<float> dlogits, int rows, int classes, bool accumulate,
        float gamma, float alpha = 1f, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(probabilities.Length, rows, classes, nameof(probabilities));
        Guard.Length(dlogits.Length, rows, classes, nameof(dlogits));
        Guard.Length(labels.Length, rows, 1, nameof(labels));
        double scale = Scale(reduction, rows);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> p = probabilities.Slice(r * classes, classes);
            Span<float> d = dlogits.Slice(r * classes, classes);
            int y = labels[r];
            double py = Math.Max(p[y], 1e-45), u = 1 - py;
            double modulation = gamma == 0 ? 0 : u > 1e-12 ? gamma * Math.Pow(u, gamma - 1) * py * Math.Log(py) : -gamma * Math.Pow(u, gamma) * py;
            double f = alpha * (modulation - Math.Pow(u, gamma));
            for (int c = 0; c < classes; c++)
            {
                float g = (float)(f * ((c == y ? 1 : 0) - p[c]) * scale);
                d[c] = accumulate ? d[c] + g : g;
            }
        }
    }

    /// <summary>
    /// Binary focal loss on logits (torchvision's <c>sigmoid_focal_loss</c>): per element BCE(x, t)·(1 − p_t)^γ, with
    /// p = σ(x), p_t = p·t + (1 − p)(1 − t), weighted by α_t = α·t + (1 − α)(1 − t) unless <paramref name="alpha"/> &lt; 0.
    /// </summary>
    public static float BinaryFocalLossForward(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, float gamma, float alpha = 0.25f, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(targets.Length, logits.Length, 1, nameof(targets));
        double total = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double x = logits[i], t = targets[i], p = Sigmoid(x);
            double ce = Math.Max(x, 0) - x * t + Math.Log(1 + Math.Exp(-Math.Abs(x)));
            double pt = p * t + (1 - p) * (1 - t);
            double loss = ce * Math.Pow(1 - pt, gamma);
            if (alpha >= 0) loss *= alpha * t + (1 - alpha) * (1 - t);
            total += loss;
        }
        return (float)(total * Scale(reduction, logits.Length));
    }

    /// <summary>dx (+)= α_t·((p − t)·m + ce·dm/dx)·scale, m = (1 − p_t)^γ, dm/dx = −γ(1 − p_t)^(γ−1)·p(1 − p)(2t − 1).</summary>
    public static void BinaryFocalLossBackward(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, Span<float> dlogits, bool accumulate,
        float gamma, float alpha = 0.25f, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(targets.Length, logits.Length, 1, nameof(targets));
        Guard.Length(dlogits.Length, logits.Length, 1, nameof(dlogits));
        double scale = Scale(reduction, logits.Length);
        for (int i = 0; i < logits.Length; i++)
        {
            double x = logits[i], t = targets[i], p = Sigmoid(x);
            double ce = Math.Max(x, 0) - x * t + Math.Log(1 + Math.Exp(-Math.Abs(x)));
            double u = 1 - (p * t + (1 - p) * (1 - t));
            double m = Math.Pow(u, gamma);
            double dm = gamma == 0 ? 0 : -gamma * (u > 1e-12 ? Math.Pow(u, gamma - 1) : 0) * p * (1 - p) * (2 * t - 1);
            double g = (p - t) * m + ce * dm;
            if (alpha >= 0) g *= alpha * t + (1 - alpha) * (1 - t);
            float value = (float)(g * scale);
            dlogits[i] = accumulate ? dlogits[i] + value : value;
        }
    }

    // ---- binary cross-entropy with logits ----

    /// <summary>Binary cross-entropy on logits, per element max(x, 0) − x·t + log(1 + e^−|x|) (PyTorch's stable form).</summary>
    public static float BinaryCrossEntropyWithLogitsForward(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(targets.Length, logits.Length, 1, nameof(targets));
        double total = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double x = logits[i];
            total += Math.Max(x, 0) - x * targets[i] + Math.Log(1 + Math.Exp(-Math.Abs(x)));
        }
        return (float)(total * Scale(reduction, logits.Length));
    }

    /// <summary>dx (+)= (σ(x) − t)·scale.</summary>
    public static void BinaryCrossEntropyWithLogitsBackward(ReadOnlySpan<float> logits, ReadOnlySpan<float> targets, Span<float> dlogits, bool accumulate, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(targets.Length, logits.Length, 1, nameof(targets));
        Guard.Length(dlogits.Length, logits.Length, 1, nameof(dlogits));
        float scale = (float)Scale(reduction, logits.Length);
        for (int i = 0; i < logits.Length; i++)
        {
            float g = ((float)Sigmoid(logits[i]) - targets[i]) * scale;
            dlogits[i] = accumulate ? dlogits[i] + g : g;
        }
    }

    private static double Sigmoid(double x) => x >= 0 ? 1 / (1 + Math.Exp(-x)) : Math.Exp(x) / (1 + Math.Exp(x));

    // ---- regression ----

    /// <summary>L1 loss, per element |p − t|.</summary>
    public static float L1Forward(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(targets.Length, predictions.Length, 1, nameof(targets));
        double total = 0;
        for (int i = 0; i < predictions.Length; i++) total += Math.Abs((double)predictions[i] - targets[i]);
        return (float)(total * Scale(reduction, predictions.Length));
    }

    /// <summary>dp (+)= sign(p − t)·scale (0 where they are equal, as PyTorch).</summary>
    public static void L1Backward(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> dpredictions, bool accumulate, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(targets.Length, predictions.Length, 1, nameof(targets));
        Guard.Length(dpredictions.Length, predictions.Length, 1, nameof(dpredictions));
        float scale = (float)Scale(reduction, predictions.Length);
        for (int i = 0; i < predictions.Length; i++)
        {
            float g = MathF.Sign(predictions[i] - targets[i]) * scale;
            dpredictions[i] = accumulate ? dpredictions[i] + g : g;
        }
    }

    /// <summary>Huber loss, per element ½d² when |d| &lt; δ, else δ(|d| − ½δ), d = p − t.</summary>
    public static float HuberForward(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, float delta = 1f, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(targets.Length, predictions.Length, 1, nameof(targets));
        double total = 0;
        for (int i = 0; i < predictions.Length; i++)
        {
            double d = (double)predictions[i] - targets[i], a = Math.Abs(d);
            total += a < delta ? 0.5 * d * d : delta * (a - 0.5 * delta);
        }
        return (float)(total * Scale(reduction, predictions.Length));
    }

    /// <summary>dp (+)= (d when |d| &lt; δ, else δ·sign(d))·scale.</summary>
    public static void HuberBackward(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> dpredictions, bool accumulate, float delta = 1f, Reduction reduction = Reduction.Mean)
    {
        Guard.Length(targets.Length, predictions.Length, 1, nameof(targets));
        Guard.Length(dpredictions.Length, predictions.Length, 1, nameof(dpredictions));
        float scale = (float)Scale(reduction, predictions.Length);
        for (int i = 0; i < predictions.Length; i++)
        {
            float d = predictions[i] - targets[i];
            float g = (MathF.Abs(d) < delta ? d : delta * MathF.Sign(d)) * scale;
            dpredictions[i] = accumulate ? dpredictions[i] + g : g;
        }
    }

    /// <summary>Mean squared error over every element: Σ (p − t)² / n.</summary>
    public static float MeanSquaredErrorForward(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Reduction reduction = Reduction.Mean) =>
        MeanSquaredErrorForward(KernelInfo.Best, predictions, targets, reduction);

    public static float MeanSquaredErrorForward(KernelIsa isa, ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Reduction reduction = Reduction.Mean)
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
        return (float)(sum * Scale(reduction, n));
    }

    /// <summary>dp (+)= 2(p − t)·scale.</summary>
    public static void MeanSquaredErrorBackward(ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> dpredictions, bool accumulate, Reduction reduction = Reduction.Mean) =>
        MeanSquaredErrorBackward(KernelInfo.Best, predictions, targets, dpredictions, accumulate, reduction);

    public static void MeanSquaredErrorBackward(KernelIsa isa, ReadOnlySpan<float> predictions, ReadOnlySpan<float> targets, Span<float> dpredictions, bool accumulate, Reduction reduction = Reduction.Mean) =>
        ElementWise.Zip(isa, new ScaledDifferenceOp((float)(2 * Scale(reduction, predictions.Length))), predictions, targets, dpredictions, accumulate);

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
