using System;
using System.Numerics.Tensors;

namespace Kiln.Kernels;

/// <summary>
/// Layer normalization over the last dimension (PyTorch's <c>nn.LayerNorm(width)</c>): each row is centred and scaled
/// to unit variance (the biased variance, as PyTorch), then y = x̂·weight + bias. The forward keeps each row's mean and
/// 1/σ for the backward. Weight and bias may be empty (<c>elementwise_affine=False</c>).
/// </summary>
public static class LayerNorm
{
    /// <summary>Floats kept per row for the backward: the mean and 1/σ.</summary>
    public const int SavedPerRow = 2;

    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y, Span<float> saved,
        int rows, int width, float epsilon)
    {
        Guard.Length(x.Length, rows, width, nameof(x));
        Guard.Length(y.Length, rows, width, nameof(y));
        Guard.Length(saved.Length, rows, SavedPerRow, nameof(saved));
        CheckAffine(weight, bias, width);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = x.Slice(r * width, width);
            Span<float> yr = y.Slice(r * width, width);
            float mean = TensorPrimitives.Sum(xr) / width;
            TensorPrimitives.Subtract(xr, mean, yr);
            // Two passes (centre, then square): no cancellation when the mean is large against the spread.
            float variance = TensorPrimitives.SumOfSquares<float>(yr) / width;
            float inverse = 1f / MathF.Sqrt(variance + epsilon);
            saved[2 * r] = mean;
            saved[2 * r + 1] = inverse;
            TensorPrimitives.Multiply(yr, inverse, yr);
            if (!weight.IsEmpty) TensorPrimitives.Multiply(yr, weight, yr);
            if (!bias.IsEmpty) TensorPrimitives.Add(yr, bias, yr);
        }
    }

    /// <summary>
    /// dx (+)= (1/σ)·(g − mean(g) − x̂·mean(g⊙x̂)) with g = dy⊙weight; dweight = Σ dy⊙x̂ and dbias = Σ dy over the rows
    /// (assigned). <paramref name="dx"/>, <paramref name="dweight"/> and <paramref name="dbias"/> may be empty.
    /// </summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, ReadOnlySpan<float> saved,
        Span<float> dx, Span<float> dweight, Span<float> dbias, int rows, int width, bool accumulate)
    {
        Guard.Length(x.Length, rows, width, nameof(x));
        Guard.Length(dy.Length, rows, width, nameof(dy));
        Guard.Length(saved.Length, rows, SavedPerRow, nameof(saved));
        if (!dx.IsEmpty) Guard.Length(dx.Length, rows, width, nameof(dx));
        if (!dweight.IsEmpty) Guard.Length(dweight.Length, width, 1, nameof(dweight));
        if (!dbias.IsEmpty) Guard.Length(dbias.Length, width, 1, nameof(dbias));
        if (!weight.IsEmpty) Guard.Length(weight.Length, width, 1, nameof(weight));
        dweight.Clear();
        dbias.Clear();
        Span<float> scratch = RowScratch.Get(2 * width);
        Span<float> xhat = scratch.Slice(0, width), g = scratch.Slice(width, width);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> dyr = dy.Slice(r * width, width);
            float mean = saved[2 * r], inverse = saved[2 * r + 1];
            TensorPrimitives.Subtract(x.Slice(r * width, width), mean, xhat);
            TensorPrimitives.Multiply(xhat, inverse, xhat);
            if (!dweight.IsEmpty) TensorPrimitives.MultiplyAdd(dyr, xhat, dweight, dweight);
            if (!dbias.IsEmpty) TensorPrimitives.Add(dyr, dbias, dbias);
            if (dx.IsEmpty) continue;
            if (weight.IsEmpty) dyr.CopyTo(g);
            else TensorPrimitives.Multiply(dyr, weight, g);
            float meanG = TensorPrimitives.Sum<float>(g) / width;
            float meanGx = TensorPrimitives.Dot<float>(g, xhat) / width;
            // dx = inverse·(g − meanG) − (inverse·meanGx)·x̂
            TensorPrimitives.Subtract(g, meanG, g);
            TensorPrimitives.Multiply(g, inverse, g);
            TensorPrimitives.MultiplyAdd(xhat, -inverse * meanGx, g, g);
            Span<float> dxr = dx.Slice(r * width, width);
            if (accumulate) TensorPrimitives.Add(dxr, g, dxr);
            else g.CopyTo(dxr);
        }
    }

    internal static void CheckAffine(ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, int width)
    {
        if (!weight.IsEmpty) Guard.Length(weight.Length, width, 1, nameof(weight));
        if (!bias.IsEmpty) Guard.Length(bias.Length, width, 1, nameof(bias));
    }
}

/// <summary>
/// Root-mean-square normalization over the last dimension (as <c>nn.RMSNorm(width)</c> of later PyTorch versions and
/// LLaMA): y = x / √(mean(x²) + ε) · weight, no centring and no bias. The forward keeps each row's 1/rms.
/// </summary>
public static class RmsNorm
{
    /// <summary>Floats kept per row for the backward: 1/rms.</summary>
    public const int SavedPerRow = 1;

    public static void Forward(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, Span<float> y, Span<float> saved, int rows, int width, float epsilon)
    {
        Guard.Length(x.Length, rows, width, nameof(x));
        Guard.Length(y.Length, rows, width, nameof(y));
        Guard.Length(saved.Length, rows, SavedPerRow, nameof(saved));
        LayerNorm.CheckAffine(weight, default, width);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> xr = x.Slice(r * width, width);
            Span<float> yr = y.Slice(r * width, width);
            float inverse = 1f / MathF.Sqrt(TensorPrimitives.SumOfSquares<float>(xr) / width + epsilon);
            saved[r] = inverse;
            TensorPrimitives.Multiply(xr, inverse, yr);
            if (!weight.IsEmpty) TensorPrimitives.Multiply(yr, weight, yr);
        }
    }

    /// <summary>dx (+)= (1/rms)·(g − x̂·mean(g⊙x̂)) with g = dy⊙weight and x̂ = x/rms; dweight = Σ dy⊙x̂ (assigned).</summary>
    public static void Backward(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, ReadOnlySpan<float> saved,
        Span<float> dx, Span<float> dweight, int rows, int width, bool accumulate)
    {
        Guard.Length(x.Length, rows, width, nameof(x));
        Guard.Length(dy.Length, rows, width, nameof(dy));
        Guard.Length(saved.Length, rows, SavedPerRow, nameof(saved));
        if (!dx.IsEmpty) Guard.Length(dx.Length, rows, width, nameof(dx));
        if (!dweight.IsEmpty) Guard.Length(dweight.Length, width, 1, nameof(dweight));
        if (!weight.IsEmpty) Guard.Length(weight.Length, width, 1, nameof(weight));
        dweight.Clear();
        Span<float> scratch = RowScratch.Get(2 * width);
        Span<float> xhat = scratch.Slice(0, width), g = scratch.Slice(width, width);
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> dyr = dy.Slice(r * width, width);
            float inverse = saved[r];
            TensorPrimitives.Multiply(x.Slice(r * width, width), inverse, xhat);
            if (!dweight.IsEmpty) TensorPrimitives.MultiplyAdd(dyr, xhat, dweight, dweight);
            if (dx.IsEmpty) continue;
            if (weight.IsEmpty) dyr.CopyTo(g);
            else TensorPrimitives.Multiply(dyr, weight, g);
            float meanGx = TensorPrimitives.Dot<float>(g, xhat) / width;
            TensorPrimitives.Multiply(g, inverse, g);
            TensorPrimitives.MultiplyAdd(xhat, -inverse * meanGx, g, g);
            Span<float> dxr = dx.Slice(r * width, width);
            if (accumulate) TensorPrimitives.Add(dxr, g, dxr);
            else g.CopyTo(dxr);
        }
    }
}

/// <summary>A per-thread scratch row for kernels that need a few temporary vectors: allocated once per thread and
/// grown only when a wider row arrives (so steady-state calls allocate nothing).</summary>
internal static class RowScratch
{
    [ThreadStatic] private static float[]? t_row;

    public static Span<float> Get(int floats)
    {
        float[]? row = t_row;
        if (row is null || row.Length < floats) t_row = row = new float[Math.Max(floats, 256)];
        return row.AsSpan(0, floats);
    }
}
