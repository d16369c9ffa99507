using System;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Kiln.Kernels;

/// <summary>Row-wise and column-wise reductions.</summary>
public static class Reductions
{
    /// <summary>classes[r] = the index of the largest value of row r of <paramref name="values"/> [rows, width].</summary>
    public static void ArgMaxRows(ReadOnlySpan<float> values, Span<int> classes, int width)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(width);
        Guard.Length(values.Length, classes.Length, width, nameof(values));
        for (int r = 0; r < classes.Length; r++)
            classes[r] = TensorPrimitives.IndexOfMax(values.Slice(r * width, width));
    }

    /// <summary>sums[c] (+)= Σ_r values[r, c] over a row-major [rows, cols] matrix (a bias gradient, a channel's total).</summary>
    public static void ColumnSums(ReadOnlySpan<float> values, int rows, int cols, Span<float> sums, bool accumulate) =>
        ColumnSums(KernelInfo.Best, values, rows, cols, sums, accumulate);

    public static void ColumnSums(KernelIsa isa, ReadOnlySpan<float> values, int rows, int cols, Span<float> sums, bool accumulate)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        Guard.Length(values.Length, rows, cols, nameof(values));
        Guard.Length(sums.Length, cols, 1, nameof(sums));
        ref float v = ref MemoryMarshal.GetReference(values);
        ref float s = ref MemoryMarshal.GetReference(sums);
        int c = isa switch
        {
            KernelIsa.Avx512 => ColumnBlocks<Vector512<float>, Simd512>(ref v, rows, cols, ref s, accumulate),
            KernelIsa.Avx2 => ColumnBlocks<Vector256<float>, Simd256>(ref v, rows, cols, ref s, accumulate),
            _ => 0,
        };
        for (; c < cols; c++)
        {
            float sum = 0;
            for (int r = 0; r < rows; r++) sum += Unsafe.Add(ref v, (nint)r * cols + c);
            Unsafe.Add(ref s, c) = accumulate ? Unsafe.Add(ref s, c) + sum : sum;
        }
    }

    /// <summary>Whole vectors of columns, four at a time in registers down every row; returns the columns done.</summary>
    private static int ColumnBlocks<TVec, TSimd>(ref float values, int rows, int cols, ref float sums, bool accumulate)
        where TVec : struct where TSimd : ISimd<TVec>
    {
        int w = TSimd.Count, c = 0;
        for (; c + 4 * w <= cols; c += 4 * w)
        {
            TVec s0 = TSimd.Zero, s1 = TSimd.Zero, s2 = TSimd.Zero, s3 = TSimd.Zero;
            ref float row = ref Unsafe.Add(ref values, c);
            for (int r = 0; r < rows; r++, row = ref Unsafe.Add(ref row, cols))
            {
                s0 = TSimd.Add(s0, TSimd.Load(ref row));
                s1 = TSimd.Add(s1, TSimd.Load(ref Unsafe.Add(ref row, w)));
                s2 = TSimd.Add(s2, TSimd.Load(ref Unsafe.Add(ref row, 2 * w)));
                s3 = TSimd.Add(s3, TSimd.Load(ref Unsafe.Add(ref row, 3 * w)));
            }
            Finish(s0, ref Unsafe.Add(ref sums, c), accumulate);
            Finish(s1, ref Unsafe.Add(ref sums, c + w), accumulate);
            Finish(s2, ref Unsafe.Add(ref sums, c + 2 * w), accumulate);
            Finish(s3, ref Unsafe.Add(ref sums, c + 3 * w), accumulate);
        }
        for (; c + w <= cols; c += w)
        {
            TVec s0 = TSimd.Zero, s1 = TSimd.Zero;
            ref float row = ref Unsafe.Add(ref values, c);
            int r = 0;
            for (; r + 2 <= rows; r += 2, row = ref Unsafe.Add(ref row, 2 * cols))
            {
                s0 = TSimd.Add(s0, TSimd.Load(ref row));
                s1 = TSimd.Add(s1, TSimd.Load(ref Unsafe.Add(ref row, cols)));
            }
            if (r < rows) s0 = TSimd.Add(s0, TSimd.Load(ref row));
            Finish(TSimd.Add(s0, s1), ref Unsafe.Add(ref sums, c), accumulate);
        }
        return c;

        static void Finish(TVec sum, ref float target, bool accumulate) =>
            TSimd.Store(accumulate ? TSimd.Add(sum, TSimd.Load(ref target)) : sum, ref target);
    }
}
