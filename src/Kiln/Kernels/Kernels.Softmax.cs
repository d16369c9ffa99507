using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>Softmax over the last dimension of [rows, width] and its backward.</summary>
public static class Softmax
{
    /// <summary>y = softmax(x) row by row (max subtracted first, so large logits do not overflow).</summary>
    public static void Forward(ReadOnlySpan<float> x, Span<float> y, int rows, int width)
    {
        Guard.Length(x.Length, rows, width, nameof(x));
        Guard.Length(y.Length, rows, width, nameof(y));
        for (int r = 0; r < rows; r++)
            Row(x.Slice(r * width, width), y.Slice(r * width, width));
    }

    /// <summary>
    /// One row: y = exp(x − max)/Σ; returns log Σ exp(x) (the log-sum-exp). Three passes in registers (the maximum; the
    /// exponentials, stored and summed; the scaling) with <see cref="FastMath.Exp{TVec, TSimd}"/>: attention and the
    /// classifiers run it on short rows (T_k ≤ 64 keys, 65 classes), where four TensorPrimitives calls a row cost more
    /// than the arithmetic (measured on Z5's attention: the masked softmax was the largest part of a head's forward).
    /// </summary>
    internal static float Row(ReadOnlySpan<float> x, Span<float> y)
    {
        if (y.Length != x.Length) throw new ArgumentException($"Span lengths differ: expected {x.Length} values, got {y.Length}.", nameof(y));
        return KernelInfo.Best switch
        {
            KernelIsa.Avx512 => Row<Vector512<float>, Simd512>(x, y),
            KernelIsa.Avx2 => Row<Vector256<float>, Simd256>(x, y),
            _ => Row<float, SimdScalar>(x, y),
        };
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Row<TVec, TSimd>(ReadOnlySpan<float> x, Span<float> y) where TVec : struct where TSimd : ISimd<TVec>
    {
        int n = x.Length, w = TSimd.Count, full = n - n % w;
        ref float rx = ref MemoryMarshal.GetReference(x);
        ref float ry = ref MemoryMarshal.GetReference(y);
        float max = float.NegativeInfinity;
        if (full > 0)
        {
            TVec m = TSimd.Load(ref rx);
            for (int i = w; i < full; i += w) m = TSimd.Max(m, TSimd.Load(ref Unsafe.Add(ref rx, i)));
            max = TSimd.MaxAcross(m);
        }
        for (int i = full; i < n; i++) max = MathF.Max(max, Unsafe.Add(ref rx, i));
        TVec shift = TSimd.Broadcast(max), total = TSimd.Zero;
        for (int i = 0; i < full; i += w)
        {
            TVec e = FastMath.Exp<TVec, TSimd>(TSimd.Subtract(TSimd.Load(ref Unsafe.Add(ref rx, i)), shift));
            total = TSimd.Add(total, e);
            TSimd.Store(e, ref Unsafe.Add(ref ry, i));
        }
        float sum = full > 0 ? TSimd.Sum(total) : 0f;
        if (full < n)
        {
            // The tail as one vector under a mask (a scalar exponential per value cost 4× the whole row); its lanes
            // past the row are never stored, and the sum takes the stored values only.
            TSimd.StoreFirst(FastMath.Exp<TVec, TSimd>(TSimd.Subtract(TSimd.LoadFirst(ref Unsafe.Add(ref rx, full), n - full), shift)), ref Unsafe.Add(ref ry, full), n - full);
            for (int i = full; i < n; i++) sum += Unsafe.Add(ref ry, i);
        }
        float inverse = 1f / sum;
        TVec scale = TSimd.Broadcast(inverse);
        for (int i = 0; i < full; i += w) TSimd.Store(TSimd.Multiply(TSimd.Load(ref Unsafe.Add(ref ry, i)), scale), ref Unsafe.Add(ref ry, i));
        for (int i = full; i < n; i++) Unsafe.Add(ref ry, i) *= inverse;
        return max + MathF.Log(sum);
    }

    /// <summary>dx (+)= y ⊙ (dy − Σ dy⊙y), row by row.</summary>
    public static void Backward(ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int width, bool accumulate) =>
        Backward(KernelInfo.Best, y, dy, dx, rows, width, accumulate);

    public static void Backward(KernelIsa isa, ReadOnlySpan<float> y, ReadOnlySpan<float> dy, Span<float> dx, int rows, int width, bool accumulate)
    {
        Guard.Length(y.Length, rows, width, nameof(y));
        Guard.Length(dy.Length, rows, width, nameof(dy));
        Guard.Length(dx.Length, rows, width, nameof(dx));
        for (int r = 0; r < rows; r++)
        {
            ReadOnlySpan<float> yr = y.Slice(r * width, width), dyr = dy.Slice(r * width, width);
            float dot = TensorPrimitives.Dot(yr, dyr);
            ElementWise.Zip(isa, new SoftmaxGradOp(dot), yr, dyr, dx.Slice(r * width, width), accumulate);
        }
    }

    public readonly struct SoftmaxGradOp(float dot) : IBinaryOperator
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public TVec Invoke<TVec, TSimd>(TVec y, TVec dy) where TVec : struct where TSimd : ISimd<TVec> =>
            TSimd.Multiply(y, TSimd.Subtract(dy, TSimd.Broadcast(dot)));
    }
}
