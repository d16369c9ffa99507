using System;
using System.Numerics.Tensors;

namespace Kiln.Kernels;

/// <summary>Row-wise reductions.</summary>
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
}
