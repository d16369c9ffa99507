using System;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>
/// Batch normalization (PyTorch's <c>BatchNorm1d</c>/<c>BatchNorm2d</c>) over [rows, channels]: the rows are the
/// samples (1d) or every pixel of every image (2d, channels-last). In training each channel is normalized with the
/// batch's mean and biased variance, y = γ·(x − μ)/√(σ² + ε) + β, and the running statistics move by
/// <c>momentum</c> towards the batch's mean and unbiased variance; in evaluation the running statistics are used.
/// The forward keeps μ and 1/√(σ² + ε) per channel (<c>saved</c>, 2·channels) for the backward.
/// </summary>
public static class BatchNorm
{
    /// <summary>Training-mode forward. <paramref name="weight"/> (γ) and <paramref name="bias"/> (β) may be empty (no affine part).</summary>
    public static void ForwardTraining(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        Span<float> runningMean, Span<float> runningVariance, Span<float> saved, int rows, int channels, float momentum, float epsilon) =>
        ForwardTraining(KernelInfo.Best, x, weight, bias, y, runningMean, runningVariance, saved, rows, channels, momentum, epsilon);

    public static void ForwardTraining(KernelIsa isa, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        Span<float> runningMean, Span<float> runningVariance, Span<float> saved, int rows, int channels, float momentum, float epsilon)
    {
        Check(x.Length, y.Length, weight.Length, bias.Length, runningMean.Length, runningVariance.Length, saved.Length, rows, channels);
        if (rows < 2)
            throw new ArgumentException($"Batch normalization in training needs more than one value per channel (got {rows} row): use a larger batch or evaluation mode (Training = false).", nameof(x));
        Span<float> mean = saved.Slice(0, channels), invStd = saved.Slice(channels, channels);
        Reductions.ColumnSums(isa, x, rows, channels, mean, accumulate: false);
        System.Numerics.Tensors.TensorPrimitives.Multiply(mean, 1f / rows, mean);
        // Σ (x − μ)² in a second pass: no cancellation from E[x²] − μ².
        ColumnCentredSquares(isa, x, mean, rows, channels, invStd);
        for (int c = 0; c < channels; c++)
        {
            double squares = invStd[c];
            double variance = squares / rows;
            runningMean[c] = (1 - momentum) * runningMean[c] + momentum * mean[c];
            runningVariance[c] = (float)((1 - momentum) * runningVariance[c] + momentum * (squares / (rows - 1)));
            invStd[c] = (float)(1 / Math.Sqrt(variance + epsilon));
        }
        Normalize(isa, x, weight, bias, y, mean, invStd, rows, channels);
    }

    /// <summary>Evaluation-mode forward with the running statistics; fills <paramref name="saved"/> with them for the backward.</summary>
    public static void ForwardEvaluation(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVariance, Span<float> saved, int rows, int channels, float epsilon) =>
        ForwardEvaluation(KernelInfo.Best, x, weight, bias, y, runningMean, runningVariance, saved, rows, channels, epsilon);

    public static void ForwardEvaluation(KernelIsa isa, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        ReadOnlySpan<float> runningMean, ReadOnlySpan<float> runningVariance, Span<float> saved, int rows, int channels, float epsilon)
    {
        Check(x.Length, y.Length, weight.Length, bias.Length, runningMean.Length, runningVariance.Length, saved.Length, rows, channels);
        Span<float> mean = saved.Slice(0, channels), invStd = saved.Slice(channels, channels);
        runningMean.CopyTo(mean);
        for (int c = 0; c < channels; c++) invStd[c] = (float)(1 / Math.Sqrt((double)runningVariance[c] + epsilon));
        Normalize(isa, x, weight, bias, y, mean, invStd, rows, channels);
    }

    /// <summary>
    /// dγ = Σ dy·x̂, dβ = Σ dy (skipped when empty), and dx (+)= γ·s·(dy − (dβ + x̂·dγ)/rows) in training (s = 1/√(σ²+ε),
    /// x̂ = (x − μ)·s, the batch's statistics), or dx (+)= γ·s·dy in evaluation (constant statistics).
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, ReadOnlySpan<float> saved,
        Span<float> dx, Span<float> dweight, Span<float> dbias, int rows, int channels, bool training, bool accumulate) =>
        Backward(KernelInfo.Best, x, dy, weight, saved, dx, dweight, dbias, rows, channels, training, accumulate);

    public static void Backward(KernelIsa isa, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, ReadOnlySpan<float> saved,
        Span<float> dx, Span<float> dweight, Span<float> dbias, int rows, int channels, bool training, bool accumulate)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        Guard.Length(x.Length, rows, channels, nameof(x));
        Guard.Length(dy.Length, rows, channels, nameof(dy));
        Guard.Length(saved.Length, 2, channels, nameof(saved));
        if (!weight.IsEmpty) Guard.Length(weight.Length, channels, 1, nameof(weight));
        if (!dx.IsEmpty) Guard.Length(dx.Length, rows, channels, nameof(dx));
        if (!dweight.IsEmpty) Guard.Length(dweight.Length, channels, 1, nameof(dweight));
        if (!dbias.IsEmpty) Guard.Length(dbias.Length, channels, 1, nameof(dbias));
        ReadOnlySpan<float> mean = saved.Slice(0, channels), invStd = saved.Slice(channels, channels);

        // Σ dy and Σ dy·(x − μ) per channel, one pass.
        Span<float> sums = channels <= 512 ? stackalloc float[2 * channels] : new float[2 * channels];
        Span<float> sumDy = sums.Slice(0, channels), sumDyCentred = sums.Slice(channels, channels);
        Reductions.ColumnSums(isa, dy, rows, channels, sumDy, accumulate: false);
        ColumnCentredProducts(isa, x, dy, mean, rows, channels, sumDyCentred);
        if (!dbias.IsEmpty) sumDy.CopyTo(dbias);
        if (!dweight.IsEmpty)
            for (int c = 0; c < channels; c++) dweight[c] = sumDyCentred[c] * invStd[c];
        if (dx.IsEmpty) return;

        // dx = a·dy + b·x + k per channel: a = γs; in training b = −γs³·Σdy(x−μ)/rows, k = −γs·Σdy/rows − b·μ.
        Span<float> coefficients = channels <= 512 ? stackalloc float[3 * channels] : new float[3 * channels];
        Span<float> a = coefficients.Slice(0, channels), b = coefficients.Slice(channels, channels), k = coefficients.Slice(2 * channels, channels);
        for (int c = 0; c < channels; c++)
        {
            double gamma = weight.IsEmpty ? 1 : weight[c], s = invStd[c];
            a[c] = (float)(gamma * s);
            if (training)
            {
                double bc = -gamma * s * s * s * sumDyCentred[c] / rows;
                b[c] = (float)bc;
                k[c] = (float)(-gamma * s * sumDy[c] / rows - bc * mean[c]);
            }
            else
            {
                b[c] = 0;
                k[c] = 0;
            }
        }
        switch (isa)
        {
            case KernelIsa.Avx512: Affine3<Vector512<float>, Simd512>(dy, x, a, b, k, dx, rows, channels, accumulate); break;
            case KernelIsa.Avx2: Affine3<Vector256<float>, Simd256>(dy, x, a, b, k, dx, rows, channels, accumulate); break;
            default: Affine3<float, SimdScalar>(dy, x, a, b, k, dx, rows, channels, accumulate); break;
        }
    }

    private static void Check(int x, int y, int weight, int bias, int mean, int variance, int saved, int rows, int channels)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(channels);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        Guard.Length(x, rows, channels, "x");
        Guard.Length(y, rows, channels, "y");
        if (weight != 0) Guard.Length(weight, channels, 1, "weight");
        if (bias != 0) Guard.Length(bias, channels, 1, "bias");
        Guard.Length(mean, channels, 1, "runningMean");
        Guard.Length(variance, channels, 1, "runningVariance");
        Guard.Length(saved, 2, channels, "saved");
    }

    /// <summary>y = (x − μ)·s·γ + β, as y = x·scale + shift per channel.</summary>
    private static void Normalize(KernelIsa isa, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        ReadOnlySpan<float> mean, ReadOnlySpan<float> invStd, int rows, int channels)
    {
        Span<float> coefficients = channels <= 512 ? stackalloc float[3 * channels] : new float[3 * channels];
        Span<float> scale = coefficients.Slice(0, channels), zero = coefficients.Slice(channels, channels), shift = coefficients.Slice(2 * channels, channels);
        for (int c = 0; c < channels; c++)
        {
            scale[c] = (weight.IsEmpty ? 1f : weight[c]) * invStd[c];
            shift[c] = (bias.IsEmpty ? 0f : bias[c]) - mean[c] * scale[c];
            zero[c] = 0f;
        }
        switch (isa)
        {
            case KernelIsa.Avx512: Affine3<Vector512<float>, Simd512>(x, x, scale, zero, shift, y, rows, channels, false); break;
            case KernelIsa.Avx2: Affine3<Vector256<float>, Simd256>(x, x, scale, zero, shift, y, rows, channels, false); break;
            default: Affine3<float, SimdScalar>(x, x, scale, zero, shift, y, rows, channels, false); break;
        }
    }

    /// <summary>out[r, c] (+)= a[c]·p[r, c] + b[c]·q[r, c] + k[c], channel vectors inner.</summary>
    private static void Affine3<TVec, TSimd>(ReadOnlySpan<float> p, ReadOnlySpan<float> q, ReadOnlySpan<float> a, ReadOnlySpan<float> b, ReadOnlySpan<float> k,
        Span<float> output, int rows, int channels, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count, vectorEnd = channels / w * w;
        ref float rp = ref MemoryMarshal.GetReference(p);
        ref float rq = ref MemoryMarshal.GetReference(q);
        ref float ra = ref MemoryMarshal.GetReference(a);
        ref float rb = ref MemoryMarshal.GetReference(b);
        ref float rk = ref MemoryMarshal.GetReference(k);
        ref float ro = ref MemoryMarshal.GetReference(output);
        for (int r = 0; r < rows; r++)
        {
            nint row = (nint)r * channels;
            for (int c = 0; c < vectorEnd; c += w)
            {
                TVec v = TSimd.MultiplyAdd(TSimd.Load(ref Unsafe.Add(ref ra, c)), TSimd.Load(ref Unsafe.Add(ref rp, row + c)), TSimd.Load(ref Unsafe.Add(ref rk, c)));
                v = TSimd.MultiplyAdd(TSimd.Load(ref Unsafe.Add(ref rb, c)), TSimd.Load(ref Unsafe.Add(ref rq, row + c)), v);
                ref float target = ref Unsafe.Add(ref ro, row + c);
                TSimd.Store(accumulate ? TSimd.Add(v, TSimd.Load(ref target)) : v, ref target);
            }
            for (int c = vectorEnd; c < channels; c++)
            {
                float v = MathF.FusedMultiplyAdd(Unsafe.Add(ref rb, c), Unsafe.Add(ref rq, row + c),
                    MathF.FusedMultiplyAdd(Unsafe.Add(ref ra, c), Unsafe.Add(ref rp, row + c), Unsafe.Add(ref rk, c)));
                ref float target = ref Unsafe.Add(ref ro, row + c);
                target = accumulate ? target + v : v;
            }
        }
    }

    /// <summary>sums[c] = Σ_r (x[r, c] − μ[c])².</summary>
    private static void ColumnCentredSquares(KernelIsa isa, ReadOnlySpan<float> x, ReadOnlySpan<float> mean, int rows, int channels, Span<float> sums) =>
        ColumnCentred(isa, x, x, mean, rows, channels, sums);

    /// <summary>sums[c] = Σ_r dy[r, c]·(x[r, c] − μ[c]).</summary>
    private static void ColumnCentredProducts(KernelIsa isa, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> mean, int rows, int channels, Span<float> sums) =>
        ColumnCentred(isa, x, dy, mean, rows, channels, sums);

    /// <summary>sums[c] = Σ_r (x[r, c] − μ[c])·w[r, c], column blocks of up to 4 vectors held in registers down every row.</summary>
    private static void ColumnCentred(KernelIsa isa, ReadOnlySpan<float> x, ReadOnlySpan<float> weights, ReadOnlySpan<float> mean, int rows, int channels, Span<float> sums)
    {
        int c = isa switch
        {
            KernelIsa.Avx512 => CentredBlocks<Vector512<float>, Simd512>(x, weights, mean, rows, channels, sums),
            KernelIsa.Avx2 => CentredBlocks<Vector256<float>, Simd256>(x, weights, mean, rows, channels, sums),
            _ => 0,
        };
        for (; c < channels; c++)
        {
            double sum = 0;
            for (int r = 0; r < rows; r++) sum += (double)(x[r * channels + c] - mean[c]) * weights[r * channels + c];
            sums[c] = (float)sum;
        }
    }

    private static int CentredBlocks<TVec, TSimd>(ReadOnlySpan<float> x, ReadOnlySpan<float> weights, ReadOnlySpan<float> mean, int rows, int channels, Span<float> sums)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count, c = 0;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float rw = ref MemoryMarshal.GetReference(weights);
        ref float rm = ref MemoryMarshal.GetReference(mean);
        ref float rs = ref MemoryMarshal.GetReference(sums);
        for (; c + w <= channels;)
        {
            int vectors = Math.Min(4, (channels - c) / w);
            TVec m0 = TSimd.Load(ref Unsafe.Add(ref rm, c));
            TVec m1 = vectors > 1 ? TSimd.Load(ref Unsafe.Add(ref rm, c + w)) : default;
            TVec m2 = vectors > 2 ? TSimd.Load(ref Unsafe.Add(ref rm, c + 2 * w)) : default;
            TVec m3 = vectors > 3 ? TSimd.Load(ref Unsafe.Add(ref rm, c + 3 * w)) : default;
            TVec s0 = TSimd.Zero, s1 = TSimd.Zero, s2 = TSimd.Zero, s3 = TSimd.Zero;
            for (int r = 0; r < rows; r++)
            {
                nint at = (nint)r * channels + c;
                s0 = TSimd.MultiplyAdd(TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, at)), m0), TSimd.Load(ref Unsafe.Add(ref rw, at)), s0);
                if (vectors > 1) s1 = TSimd.MultiplyAdd(TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, at + w)), m1), TSimd.Load(ref Unsafe.Add(ref rw, at + w)), s1);
                if (vectors > 2) s2 = TSimd.MultiplyAdd(TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, at + 2 * w)), m2), TSimd.Load(ref Unsafe.Add(ref rw, at + 2 * w)), s2);
                if (vectors > 3) s3 = TSimd.MultiplyAdd(TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, at + 3 * w)), m3), TSimd.Load(ref Unsafe.Add(ref rw, at + 3 * w)), s3);
            }
            TSimd.Store(s0, ref Unsafe.Add(ref rs, c));
            if (vectors > 1) TSimd.Store(s1, ref Unsafe.Add(ref rs, c + w));
            if (vectors > 2) TSimd.Store(s2, ref Unsafe.Add(ref rs, c + 2 * w));
            if (vectors > 3) TSimd.Store(s3, ref Unsafe.Add(ref rs, c + 3 * w));
            c += vectors * w;
        }
        return c;
    }
}
