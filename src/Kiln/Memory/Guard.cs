using System;
using System.Runtime.CompilerServices;

namespace Kiln;

/// <summary>Argument checks used by generated code and kernels; the messages name the expected shape. Messages are
/// built only when a check fails, so a passing check allocates nothing.</summary>
public static class Guard
{
    /// <summary>Throws unless <paramref name="length"/> is a positive multiple of <paramref name="rowSize"/>; returns the row count.</summary>
    public static int Rows(int length, int rowSize, string argument, string shape)
    {
        if (length == 0 || length % rowSize != 0)
            ThrowRows(length, rowSize, argument, shape);
        return length / rowSize;
    }

    /// <summary>Throws unless <paramref name="length"/> equals rows × width (the message is built only on failure).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Length(int length, int rows, int width, string argument)
    {
        if (length != rows * width)
            ThrowLength(length, rows * width, argument, width == 1 ? $"[{rows}]" : $"[{rows}, {width}]");
    }

    /// <summary>Throws unless 1 ≤ rows ≤ batch.</summary>
    public static void Batch(int rows, int batch, string argument)
    {
        if (rows < 1 || rows > batch)
            throw new ArgumentException($"'{argument}' holds {rows} samples but this model trains on at most {batch} at a time (its declared Batch).", argument);
    }

    /// <summary>Throws when a model carrying its recurrent state across calls is given more rows than one pass takes:
    /// the rows would run in chunks, and each chunk would start from the state the previous chunk (other sequences) ended in.</summary>
    public static void CarriedRows(int rows, int batch, string argument)
    {
        if (rows > batch)
            throw new InvalidOperationException($"'{argument}' holds {rows} sequences but CarryState is on and one pass takes at most {batch} (the model's Batch): give at most {batch} rows per call, or set CarryState = false.");
    }

    /// <summary>Throws unless every label lies in [0, classes), or is <paramref name="ignoreIndex"/> when one is given (a
    /// row that does not count).</summary>
    public static void Labels(ReadOnlySpan<int> labels, int classes, string argument, int? ignoreIndex = null)
    {
        for (int i = 0; i < labels.Length; i++)
        {
            if ((uint)labels[i] >= (uint)classes && labels[i] != ignoreIndex)
                throw new ArgumentOutOfRangeException(argument, labels[i], $"Label {i} is {labels[i]}; labels must lie in [0, {classes})" +
                    (ignoreIndex is int ignored ? $", or be {ignored} for a row that does not count." : "."));
        }
    }

    private static void ThrowRows(int length, int rowSize, string argument, string shape) =>
        throw new ArgumentException($"'{argument}' has {length} values; expected a whole number of samples of shape {shape} ({rowSize} values each, at least one).", argument);

    private static void ThrowLength(int length, int expected, string argument, string shape) =>
        throw new ArgumentException($"'{argument}' has {length} values; expected {expected} for shape {shape}.", argument);
}
