using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

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
        int rows, int width, float epsilon) => Forward(KernelInfo.Best, x, weight, bias, y, saved, rows, width, epsilon);

    /// <summary>As <c>Forward</c> on a given instruction set (every supported one is tested). Rows of whole vectors take
    /// one fused loop per pass; other widths a TensorPrimitives call per step.</summary>
    public static void Forward(KernelIsa isa, ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        Span<float> saved, int rows, int width, float epsilon)
    {
        Guard.Length(x.Length, rows, width, nameof(x));
        Guard.Length(y.Length, rows, width, nameof(y));
        Guard.Length(saved.Length, rows, SavedPerRow, nameof(saved));
        CheckAffine(weight, bias, width);
        if (isa == KernelIsa.Avx512 && width % 16 == 0)
        {
            FusedForward<Vector512<float>, Simd512>(x, weight, bias, y, saved, rows, width, epsilon);
            return;
        }
        if (isa != KernelIsa.Portable && width % 8 == 0)
        {
            FusedForward<Vector256<float>, Simd256>(x, weight, bias, y, saved, rows, width, epsilon);
            return;
        }
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
        Span<float> dx, Span<float> dweight, Span<float> dbias, int rows, int width, bool accumulate) =>
        Backward(KernelInfo.Best, x, dy, weight, saved, dx, dweight, dbias, rows, width, accumulate);

    /// <summary>As <c>Backward</c> on a given instruction set; rows of whole vectors take two fused passes.</summary>
    public static void Backward(KernelIsa isa, ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, ReadOnlySpan<float> saved,
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
        if (isa == KernelIsa.Avx512 && width % 16 == 0)
        {
            FusedBackward<Vector512<float>, Simd512>(x, dy, weight, saved, dx, dweight, dbias, rows, width, accumulate);
            return;
        }
        if (isa != KernelIsa.Portable && width % 8 == 0)
        {
            FusedBackward<Vector256<float>, Simd256>(x, dy, weight, saved, dx, dweight, dbias, rows, width, accumulate);
            return;
        }
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

    /// <summary>Per row: the sum; the centred sum of squares; y = (x − mean)·(1/σ·weight) + bias. The row stays in L1.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FusedForward<TVec, TSimd>(ReadOnlySpan<float> x, ReadOnlySpan<float> weight, ReadOnlySpan<float> bias, Span<float> y,
        Span<float> saved, int rows, int width, float epsilon) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        bool scaled = !weight.IsEmpty, shifted = !bias.IsEmpty;
        ref float rw = ref MemoryMarshal.GetReference(weight), rb = ref MemoryMarshal.GetReference(bias);
        for (int r = 0; r < rows; r++)
        {
            ref float rx = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), r * width);
            ref float ry = ref Unsafe.Add(ref MemoryMarshal.GetReference(y), r * width);
            TVec s0 = TSimd.Zero, s1 = TSimd.Zero;
            int i = 0;
            for (; i + 2 * w <= width; i += 2 * w)
            {
                s0 = TSimd.Add(s0, TSimd.Load(ref Unsafe.Add(ref rx, i)));
                s1 = TSimd.Add(s1, TSimd.Load(ref Unsafe.Add(ref rx, i + w)));
            }
            if (i < width) s0 = TSimd.Add(s0, TSimd.Load(ref Unsafe.Add(ref rx, i)));
            float mean = TSimd.Sum(TSimd.Add(s0, s1)) / width;
            // Two passes (centre, then square): no cancellation when the mean is large against the spread.
            TVec m = TSimd.Broadcast(mean);
            TVec q0 = TSimd.Zero, q1 = TSimd.Zero;
            for (i = 0; i + 2 * w <= width; i += 2 * w)
            {
                TVec d0 = TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, i)), m), d1 = TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, i + w)), m);
                q0 = TSimd.MultiplyAdd(d0, d0, q0);
                q1 = TSimd.MultiplyAdd(d1, d1, q1);
            }
            if (i < width)
            {
                TVec d0 = TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, i)), m);
                q0 = TSimd.MultiplyAdd(d0, d0, q0);
            }
            float inverse = 1f / MathF.Sqrt(TSimd.Sum(TSimd.Add(q0, q1)) / width + epsilon);
            saved[2 * r] = mean;
            saved[2 * r + 1] = inverse;
            TVec inv = TSimd.Broadcast(inverse);
            for (i = 0; i < width; i += w)
            {
                TVec factor = scaled ? TSimd.Multiply(inv, TSimd.Load(ref Unsafe.Add(ref rw, i))) : inv;
                TVec centred = TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, i)), m);
                TVec v = shifted ? TSimd.MultiplyAdd(centred, factor, TSimd.Load(ref Unsafe.Add(ref rb, i))) : TSimd.Multiply(centred, factor);
                TSimd.Store(v, ref Unsafe.Add(ref ry, i));
            }
        }
    }

    /// <summary>Per row: x̂ and g = dy⊙weight formed in registers twice (once for Σg, Σg⊙x̂ and the parameter gradients,
    /// once for dx) instead of stored; dweight and dbias (cleared by the caller) gather over the rows.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void FusedBackward<TVec, TSimd>(ReadOnlySpan<float> x, ReadOnlySpan<float> dy, ReadOnlySpan<float> weight, ReadOnlySpan<float> saved,
        Span<float> dx, Span<float> dweight, Span<float> dbias, int rows, int width, bool accumulate) where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count;
        bool scaled = !weight.IsEmpty, wantWeight = !dweight.IsEmpty, wantBias = !dbias.IsEmpty, wantInput = !dx.IsEmpty;
        ref float rw = ref MemoryMarshal.GetReference(weight);
        ref float rdw = ref MemoryMarshal.GetReference(dweight), rdb = ref MemoryMarshal.GetReference(dbias);
        for (int r = 0; r < rows; r++)
        {
            ref float rx = ref Unsafe.Add(ref MemoryMarshal.GetReference(x), r * width);
            ref float rdy = ref Unsafe.Add(ref MemoryMarshal.GetReference(dy), r * width);
            TVec m = TSimd.Broadcast(saved[2 * r]), inv = TSimd.Broadcast(saved[2 * r + 1]);
            TVec sg = TSimd.Zero, sgx = TSimd.Zero;
            for (int i = 0; i < width; i += w)
            {
                TVec d = TSimd.Load(ref Unsafe.Add(ref rdy, i));
                TVec xhat = TSimd.Multiply(TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, i)), m), inv);
                if (wantWeight) TSimd.Store(TSimd.MultiplyAdd(d, xhat, TSimd.Load(ref Unsafe.Add(ref rdw, i))), ref Unsafe.Add(ref rdw, i));
                if (wantBias) TSimd.Store(TSimd.Add(d, TSimd.Load(ref Unsafe.Add(ref rdb, i))), ref Unsafe.Add(ref rdb, i));
                TVec g = scaled ? TSimd.Multiply(d, TSimd.Load(ref Unsafe.Add(ref rw, i))) : d;
                sg = TSimd.Add(sg, g);
                sgx = TSimd.MultiplyAdd(g, xhat, sgx);
            }
            if (!wantInput) continue;
            float inverse = saved[2 * r + 1];
            // dx = inverse·(g − mean(g)) − (inverse·mean(g⊙x̂))·x̂
            TVec shift = TSimd.Broadcast(-inverse * TSimd.Sum(sg) / width), slope = TSimd.Broadcast(-inverse * TSimd.Sum(sgx) / width);
            ref float rdx = ref Unsafe.Add(ref MemoryMarshal.GetReference(dx), r * width);
            for (int i = 0; i < width; i += w)
            {
                TVec d = TSimd.Load(ref Unsafe.Add(ref rdy, i));
                TVec xhat = TSimd.Multiply(TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, i)), m), inv);
                TVec g = scaled ? TSimd.Multiply(d, TSimd.Load(ref Unsafe.Add(ref rw, i))) : d;
                TVec v = TSimd.MultiplyAdd(xhat, slope, TSimd.MultiplyAdd(g, inv, shift));
                if (accumulate) v = TSimd.Add(v, TSimd.Load(ref Unsafe.Add(ref rdx, i)));
                TSimd.Store(v, ref Unsafe.Add(ref rdx, i));
            }
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
